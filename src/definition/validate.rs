//! Checks a parsed workflow against the language and reports every problem it finds.
//!
//! The checks work on the generic value tree of a [`Source`], not on the typed model, so one
//! pass can report many mistakes (serde would stop at the first). Each check is a small
//! function with one concern; each problem gets a location and a hint. A tree that passes
//! these checks deserializes into [`super::WorkflowDef`] without error.
//!
//! Order of work: the top-level fields; then every task, found recursively through
//! `decisionCases`, `defaultCase`, `forkTasks` and `loopOver`; then the rules between tasks
//! (unique reference names, a JOIN right after each fork, `${...}` references that name
//! defined tasks).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::diagnostic::{Diagnostic, Severity};
use super::source::{Position, Source, push_pointer};
use super::{AGENT_SERVED_TYPES, DurationSpec, SUPPORTED_TYPES, TaskKind};
use crate::expr::{condition, jq, mapping, script};

/// Top-level fields of a Conductor workflow definition (plus what Orkes adds).
const WORKFLOW_FIELDS: &[&str] = &[
    "name",
    "description",
    "version",
    "tasks",
    "inputParameters",
    "outputParameters",
    "failureWorkflow",
    "schemaVersion",
    "restartable",
    "workflowStatusListenerEnabled",
    "workflowStatusListenerSink",
    "ownerEmail",
    "ownerApp",
    "createTime",
    "updateTime",
    "createdBy",
    "updatedBy",
    "timeoutPolicy",
    "timeoutSeconds",
    "variables",
    "inputTemplate",
    "inputSchema",
    "outputSchema",
    "enforceSchema",
    "rateLimitConfig",
    "metadata",
    "maskedFields",
    "tags",
    "accessPolicy",
];

/// Fields of a Conductor workflow task, Conductor's retry fields (which 3ox also reads on the
/// task itself), and the 3ox additions `agent` and `retry`.
const TASK_FIELDS: &[&str] = &[
    "name",
    "taskReferenceName",
    "description",
    "inputParameters",
    "type",
    "dynamicTaskNameParam",
    "caseValueParam",
    "caseExpression",
    "scriptExpression",
    "decisionCases",
    "dynamicForkJoinTasksParam",
    "dynamicForkTasksParam",
    "dynamicForkTasksInputParamName",
    "defaultCase",
    "forkTasks",
    "startDelay",
    "subWorkflowParam",
    "joinOn",
    "sink",
    "optional",
    "taskDefinition",
    "rateLimited",
    "defaultExclusiveJoinTask",
    "asyncComplete",
    "loopCondition",
    "loopOver",
    "retryCount",
    "evaluatorType",
    "expression",
    "onStateChange",
    "permissive",
    "callbackFromWorker",
    "joinMode",
    "joinStatus",
    "cacheConfig",
    // Conductor's task-definition retry fields, accepted on the task as well.
    "retryLogic",
    "retryDelaySeconds",
    "maxRetryDelaySeconds",
    "backoffJitterMs",
    "backoffScaleFactor",
    // Conductor's task-definition timeout fields, accepted on the task as well, and 3ox's
    // total across attempts (see engine/timeouts.rs).
    "timeoutSeconds",
    "responseTimeoutSeconds",
    "pollTimeoutSeconds",
    "timeoutPolicy",
    "totalTimeoutSeconds",
    // 3ox additions.
    "agent",
    "retry",
    // 3ox HUMAN task fields (see docs/human-tasks.md).
    "approver",
    "deadline",
    "onDeadline",
    "escalateTo",
    "failOnReject",
    // Task-level defaults and Orkes' computed input (see docs/workflow-language.md).
    "inputTemplate",
    "inputExpression",
    // DO_WHILE: Conductor OSS's `items`, and `keepLastN` beside `loopCondition` (3ox; Conductor
    // reads it from inputParameters, which works too).
    "items",
    "keepLastN",
];

/// Values of a HUMAN task's `onDeadline`.
const DEADLINE_POLICIES: &[&str] = &["REJECT", "FAIL", "ESCALATE"];

/// Fields of the inline `retry:` policy.
const RETRY_FIELDS: &[&str] = &[
    "count",
    "logic",
    "delay",
    "maxDelay",
    "jitter",
    "backoffScale",
];

/// Values of `retry.logic` and of Conductor's `retryLogic`.
const RETRY_LOGICS: &[&str] = &["FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"];

/// Conductor's built-in reference to the id of the task being scheduled.
const CURRENT_TASK_ID: &str = mapping::CURRENT_TASK_ID;

/// SWITCH evaluators 3ox runs.
const EVALUATORS: &[&str] = script::EVALUATORS;

/// Checks the workflow in `src`; returns every problem found, in the order of the file.
pub fn check(src: &Source) -> Vec<Diagnostic> {
    let mut v = Validator {
        src,
        out: Vec::new(),
    };
    v.run();
    let mut out = v.out;
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// The validator's lists, read by the JSON Schema (`definition::schema`) so the two cannot
/// drift apart.
pub(crate) mod lists {
    pub(crate) const WORKFLOW_FIELDS: &[&str] = super::WORKFLOW_FIELDS;
    pub(crate) const TASK_FIELDS: &[&str] = super::TASK_FIELDS;
    pub(crate) const DEADLINE_POLICIES: &[&str] = super::DEADLINE_POLICIES;
    pub(crate) const RETRY_FIELDS: &[&str] = super::RETRY_FIELDS;
    pub(crate) const RETRY_LOGICS: &[&str] = super::RETRY_LOGICS;
}

/// A task as found in the tree: where it is and what it holds.
struct Site<'a> {
    pointer: String,
    task: &'a Map<String, Value>,
}

impl Site<'_> {
    fn str_field(&self, field: &str) -> Option<&str> {
        self.task.get(field).and_then(Value::as_str)
    }

    fn reference(&self) -> Option<&str> {
        self.str_field("taskReferenceName")
    }

    /// The task's type as written; SIMPLE when absent.
    fn type_name(&self) -> Option<&str> {
        match self.task.get("type") {
            None => Some("SIMPLE"),
            Some(v) => v.as_str(),
        }
    }

    fn kind(&self) -> Option<TaskKind> {
        self.type_name().and_then(TaskKind::parse)
    }

    /// How the task is named in messages.
    fn label(&self) -> String {
        match self.reference().or_else(|| self.str_field("name")) {
            Some(name) => format!("task `{}`", name.escape_debug()),
            None => "this task".to_string(),
        }
    }

    fn field_pointer(&self, field: &str) -> String {
        push_pointer(&self.pointer, field)
    }

    fn input_parameters(&self) -> Option<&Map<String, Value>> {
        self.task.get("inputParameters").and_then(Value::as_object)
    }
}

/// A list of tasks that run one after the other (the workflow's, a case's, a branch's).
struct TaskList<'a> {
    items: Vec<Site<'a>>,
    /// Items that are not mappings, with their pointers.
    not_tasks: Vec<(String, &'a Value)>,
}

struct Validator<'a> {
    src: &'a Source,
    out: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn run(&mut self) {
        if self.not_a_workflow() {
            return;
        }
        let Some(root) = self.src.value.as_object() else {
            let what = describe(&self.src.value);
            self.error(
                "",
                format!(
                    "a workflow file is a mapping with name and tasks, but this file holds {what}"
                ),
                Some("start the file with `name: my_workflow` and a `tasks:` list".to_string()),
            );
            return;
        };
        self.workflow_fields(root);
        self.workflow_timeout(root);
        self.failure_workflow_field(root);
        let lists = match root.get("tasks").and_then(Value::as_array) {
            Some(tasks) => {
                let mut lists = Vec::new();
                collect_lists(tasks, "/tasks", &mut lists);
                lists
            }
            None => Vec::new(),
        };
        for (pointer, item) in lists.iter().flat_map(|l| l.not_tasks.iter()) {
            self.error(
                pointer,
                format!(
                    "a task is a mapping with name, taskReferenceName and type, not {}",
                    describe(item)
                ),
                Some("start each task with `- name: ...` and indent its fields under it".into()),
            );
        }
        let sites: Vec<&Site<'_>> = lists.iter().flat_map(|l| l.items.iter()).collect();
        for site in &sites {
            self.task(site);
        }
        let refs = self.unique_references(&sites);
        for list in &lists {
            self.forks_and_joins(list);
            self.exclusive_joins(list, &refs);
        }
        self.workflow_defaults(root);
        self.input_expression_roots(&sites, &refs);
        self.references(root, &sites, &refs);
    }

    fn error(&mut self, pointer: &str, message: impl Into<String>, hint: Option<String>) {
        self.out
            .push(Diagnostic::error(self.src, pointer, message, hint));
    }

    fn error_at_key(&mut self, pointer: &str, message: impl Into<String>, hint: Option<String>) {
        self.out
            .push(Diagnostic::error_at_key(self.src, pointer, message, hint));
    }

    // ---- the workflow's own fields ----

    fn workflow_fields(&mut self, root: &Map<String, Value>) {
        self.unknown_fields(root, "", WORKFLOW_FIELDS, "the workflow", "workflow");
        match root.get("name") {
            None => self.error(
                "",
                "the workflow has no `name`",
                Some("add `name: my_workflow` at the top".into()),
            ),
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(other) => self.error(
                "/name",
                format!(
                    "the workflow's `name` must be non-empty text, not {}",
                    describe(other)
                ),
                None,
            ),
        }
        match root.get("tasks") {
            None => self.error(
                "",
                "the workflow has no `tasks`",
                Some("add a `tasks:` list with at least one task".into()),
            ),
            Some(Value::Array(tasks)) if tasks.is_empty() => {
                self.error(
                    "/tasks",
                    "the workflow's `tasks` list is empty",
                    Some("add at least one task".into()),
                );
            }
            Some(Value::Array(_)) => {}
            Some(other) => self.error(
                "/tasks",
                format!(
                    "the workflow's `tasks` must be a list of tasks, not {}",
                    describe(other)
                ),
                Some("write each task as a list item starting with `- name: ...`".into()),
            ),
        }
        if let Some(version) = root.get("version")
            && version
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .is_none()
        {
            self.error(
                "/version",
                format!(
                    "the workflow's `version` must be a whole number, not {}",
                    describe(version)
                ),
                Some("write `version: 1`".into()),
            );
        }
        if let Some(description) = root.get("description")
            && !matches!(description, Value::String(_) | Value::Null)
        {
            self.error(
                "/description",
                format!(
                    "the workflow's `description` must be text, not {}",
                    describe(description)
                ),
                None,
            );
        }
        self.input_parameter_names(root);
        if let Some(output) = root.get("outputParameters")
            && !output.is_object()
        {
            self.error(
                "/outputParameters",
                format!(
                    "the workflow's `outputParameters` must be a mapping, not {}",
                    describe(output)
                ),
                Some(
                    "write one `key: value` per output, e.g. `report: ${report.output.text}`"
                        .into(),
                ),
            );
        }
    }

    /// The workflow's `inputParameters` is a list of input names (documentation, as in Conductor).
    fn input_parameter_names(&mut self, root: &Map<String, Value>) {
        let Some(inputs) = root.get("inputParameters") else {
            return;
        };
        let hint = Some(
            "list the names of the workflow's inputs, e.g. `inputParameters: [folder, strict]`"
                .to_string(),
        );
        match inputs {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        let pointer = format!("/inputParameters/{i}");
                        self.error(
                            &pointer,
                            format!("a workflow input name must be text, not {}", describe(item)),
                            hint.clone(),
                        );
                    }
                }
            }
            other => self.error(
                "/inputParameters",
                format!(
                    "the workflow's `inputParameters` must be a list of input names, not {}",
                    describe(other)
                ),
                hint,
            ),
        }
    }

    /// Reports each field of `map` that is not in `known`, with the nearest known spelling.
    fn unknown_fields(
        &mut self,
        map: &Map<String, Value>,
        pointer: &str,
        known: &[&str],
        owner: &str,
        what: &str,
    ) {
        for key in map.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let hint = match nearest(key, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("see docs/workflow-language.md for the fields a {what} takes"),
            };
            self.error_at_key(
                &push_pointer(pointer, key),
                format!("unknown field `{key}` in {owner}"),
                Some(hint),
            );
        }
    }

    // ---- one task ----

    fn task(&mut self, site: &Site<'_>) {
        self.task_fields(site);
        self.task_names(site);
        self.task_type(site);
        self.task_options(site);
        self.inline_retry(site);
        self.conductor_retry(site);
        self.misplaced_fields(site);
        self.input_defaults(site);
        self.task_timers(site);
        self.misplaced_sink(site); // (io)
        match site.kind() {
            Some(TaskKind::Switch) => self.switch(site),
            Some(TaskKind::ForkJoin) => self.fork_join(site),
            Some(TaskKind::ForkJoinDynamic) => self.fork_join_dynamic(site),
            Some(TaskKind::Join) => self.join_on_shape(site),
            Some(TaskKind::Human) => self.human(site),
            // ---- DO_WHILE (loop) ----
            Some(TaskKind::DoWhile) => self.do_while(site),

            // ---- SUB_WORKFLOW / START_WORKFLOW (subflow) ----
            Some(TaskKind::SubWorkflow) => self.sub_workflow(site),
            Some(TaskKind::StartWorkflow) => self.start_workflow(site),

            // ---- WAIT, timeouts (timers) ----
            Some(TaskKind::Wait) => self.wait(site),

            // ---- INLINE / LAMBDA / JSON_JQ_TRANSFORM / DECISION (script) ----
            Some(TaskKind::Inline) => self.inline(site),
            Some(TaskKind::JsonJqTransform) => self.jq_transform(site),

            // ---- HTTP / EVENT / agent-served (io) ----
            Some(TaskKind::Http) => self.http(site),
            Some(TaskKind::Event) => self.event(site),

            // ---- SET_VARIABLE / TERMINATE / EXCLUSIVE_JOIN / DYNAMIC (misc) ----
            Some(TaskKind::Terminate) => self.terminate(site),
            Some(TaskKind::SetVariable) => self.set_variable(site),
            Some(TaskKind::ExclusiveJoin) => self.exclusive_join_shape(site),
            Some(TaskKind::Dynamic) => self.dynamic(site),
            _ => {}
        }
    }

    // ---- HUMAN ----

    fn human(&mut self, site: &Site<'_>) {
        for field in ["approver", "escalateTo"] {
            match site.task.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(name)) if !name.trim().is_empty() => {
                    self.plain_name(site, field, name);
                }
                Some(other) => self.error(
                    &site.field_pointer(field),
                    format!(
                        "`{field}` of {} must be the name of an agent (the Commander's mailbox), not {}",
                        site.label(),
                        describe(other)
                    ),
                    Some("write the folder name under agents/, e.g. `commander`".into()),
                ),
            }
        }
        if let Some(deadline) = site.task.get("deadline")
            && let Err(problem) = DurationSpec::from_value(deadline)
        {
            self.error(
                &site.field_pointer("deadline"),
                format!("`deadline` of {}: {problem}", site.label()),
                Some("for example `deadline: 30m`".into()),
            );
        }
        let policy = site.task.get("onDeadline");
        match policy {
            None | Some(Value::Null) => {}
            Some(Value::String(p)) if DEADLINE_POLICIES.contains(&p.as_str()) => {}
            Some(other) => self.error(
                &site.field_pointer("onDeadline"),
                format!(
                    "`onDeadline` of {} must be one of {}, not {}",
                    site.label(),
                    DEADLINE_POLICIES.join(", "),
                    describe(other)
                ),
                None,
            ),
        }
        let escalates = matches!(policy, Some(Value::String(p)) if p == "ESCALATE");
        let has_target = matches!(site.task.get("escalateTo"), Some(Value::String(_)));
        if escalates && !has_target {
            self.error(
                &site.field_pointer("onDeadline"),
                format!(
                    "{} escalates at its deadline but names no `escalateTo`",
                    site.label()
                ),
                Some("add `escalateTo: <agent>`, the approver asked next".into()),
            );
        }
        if policy.is_some_and(|p| !p.is_null()) && site.task.get("deadline").is_none() {
            self.error(
                &site.field_pointer("onDeadline"),
                format!("{} has `onDeadline` but no `deadline`", site.label()),
                Some("add `deadline: 30m` (or remove `onDeadline`)".into()),
            );
        }
        if let Some(flag) = site.task.get("failOnReject")
            && !flag.is_boolean()
        {
            self.error(
                &site.field_pointer("failOnReject"),
                format!(
                    "`failOnReject` of {} must be true or false, not {}",
                    site.label(),
                    describe(flag)
                ),
                None,
            );
        }
    }

    fn task_fields(&mut self, site: &Site<'_>) {
        self.unknown_fields(site.task, &site.pointer, TASK_FIELDS, &site.label(), "task");
    }

    fn task_names(&mut self, site: &Site<'_>) {
        for (field, hint) in [
            (
                "name",
                "add `name:`; for a SIMPLE task it is the capability an agent serves",
            ),
            (
                "taskReferenceName",
                "add `taskReferenceName:`, a name unique in the workflow that other tasks use to read this task's output",
            ),
        ] {
            match site.task.get(field) {
                None => self.error(
                    &site.pointer,
                    format!("{} has no `{field}`", site.label()),
                    Some(hint.to_string()),
                ),
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    if field == "taskReferenceName" {
                        self.plain_name(site, field, s);
                    }
                }
                Some(other) => self.error(
                    &site.field_pointer(field),
                    format!(
                        "`{field}` of {} must be non-empty text, not {}",
                        site.label(),
                        describe(other)
                    ),
                    Some(hint.to_string()),
                ),
            }
        }
    }

    fn task_type(&mut self, site: &Site<'_>) {
        let pointer = site.field_pointer("type");
        let Some(type_value) = site.task.get("type") else {
            return;
        };
        let Some(name) = type_value.as_str() else {
            self.error(
                &pointer,
                format!(
                    "`type` of {} must be text, not {}",
                    site.label(),
                    describe(type_value)
                ),
                Some(format!("use one of {}", SUPPORTED_TYPES.join(", "))),
            );
            return;
        };
        if TaskKind::parse(name).is_none() {
            let all = SUPPORTED_TYPES.iter().chain(AGENT_SERVED_TYPES).copied();
            let hint = match nearest(name, all) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("3ox runs {}", SUPPORTED_TYPES.join(", ")),
            };
            self.error(
                &pointer,
                format!("unknown task type `{name}` in {}", site.label()),
                Some(hint),
            );
        }
    }

    fn task_options(&mut self, site: &Site<'_>) {
        if let Some(optional) = site.task.get("optional")
            && !optional.is_boolean()
        {
            self.error(
                &site.field_pointer("optional"),
                format!(
                    "`optional` of {} must be true or false, not {}",
                    site.label(),
                    describe(optional)
                ),
                None,
            );
        }
        if let Some(agent) = site.task.get("agent")
            && !matches!(agent, Value::String(s) if !s.trim().is_empty())
            && !agent.is_null()
        {
            self.error(
                &site.field_pointer("agent"),
                format!(
                    "`agent` of {} must be the name of an agent, not {}",
                    site.label(),
                    describe(agent)
                ),
                Some(
                    "write the folder name of the agent under agents/, e.g. `agent: checker`"
                        .into(),
                ),
            );
        }
        if let Some(Value::String(agent)) = site.task.get("agent")
            && !agent.trim().is_empty()
        {
            self.plain_name(site, "agent", agent);
        }
        if let Some(description) = site.task.get("description")
            && !matches!(description, Value::String(_) | Value::Null)
        {
            self.error(
                &site.field_pointer("description"),
                format!(
                    "`description` of {} must be text, not {}",
                    site.label(),
                    describe(description)
                ),
                None,
            );
        }
        if let Some(inputs) = site.task.get("inputParameters")
            && !inputs.is_object()
        {
            self.error(
                &site.field_pointer("inputParameters"),
                format!(
                    "`inputParameters` of {} must be a mapping, not {}",
                    site.label(),
                    describe(inputs)
                ),
                Some(
                    "write one `key: value` per input, e.g. `folder: ${workflow.input.folder}`"
                        .into(),
                ),
            );
        }
    }

    /// An agent name is a folder under `agents/`, and a task reference names the task in
    /// messages, journals and terminals: both must be plain names (see
    /// [`crate::mailbox::name_problem`]), so none can leave the station or garble a line.
    fn plain_name(&mut self, site: &Site<'_>, field: &str, name: &str) {
        if let Some(problem) = crate::mailbox::name_problem(name) {
            let shown: String = name.escape_debug().collect();
            self.error(
                &site.field_pointer(field),
                format!("`{field}: {shown}` is not usable as a name: {problem}"),
                Some("use letters, digits, `-` and `_`, e.g. `check_folder`".into()),
            );
        }
    }

    /// The 3ox `retry:` block.
    fn inline_retry(&mut self, site: &Site<'_>) {
        let pointer = site.field_pointer("retry");
        let Some(retry) = site.task.get("retry") else {
            return;
        };
        let Some(retry) = retry.as_object() else {
            if !retry.is_null() {
                self.error(
                    &pointer,
                    format!(
                        "`retry` of {} must be a mapping, not {}",
                        site.label(),
                        describe(retry)
                    ),
                    Some(
                        "write e.g. `retry: {count: 3, logic: EXPONENTIAL_BACKOFF, delay: 2s}`"
                            .into(),
                    ),
                );
            }
            return;
        };
        self.unknown_fields(
            retry,
            &pointer,
            RETRY_FIELDS,
            &format!("the retry policy of {}", site.label()),
            "retry policy",
        );
        let field = |name: &str| push_pointer(&pointer, name);
        if let Some(count) = retry.get("count")
            && count.as_u64().and_then(|c| u32::try_from(c).ok()).is_none()
        {
            self.error(
                &field("count"),
                format!(
                    "`retry.count` must be a whole number of retries, not {}",
                    describe(count)
                ),
                Some("write e.g. `count: 3` (retries after the first attempt)".into()),
            );
        }
        if let Some(logic) = retry.get("logic") {
            self.retry_logic(&field("logic"), "retry.logic", logic);
        }
        for name in ["delay", "maxDelay", "jitter"] {
            let Some(value) = retry.get(name) else {
                continue;
            };
            if name == "maxDelay" && value.is_null() {
                continue;
            }
            if let Err(e) = DurationSpec::from_value(value) {
                self.error(&field(name), format!("`retry.{name}` of {}: {e}", site.label()), Some(
                    "durations are seconds (`2`, `0.5`) or text with a unit (`500ms`, `2s`, `1m 30s`)".into(),
                ));
            }
        }
        if let Some(scale) = retry.get("backoffScale")
            && !scale.as_f64().is_some_and(|s| s.is_finite() && s > 0.0)
        {
            self.error(
                &field("backoffScale"),
                format!(
                    "`retry.backoffScale` must be a number above 0, not {}",
                    describe(scale)
                ),
                Some(
                    "EXPONENTIAL_BACKOFF multiplies the delay by it at each retry; 2 doubles it"
                        .into(),
                ),
            );
        }
    }

    fn retry_logic(&mut self, pointer: &str, field: &str, logic: &Value) {
        let ok = logic.as_str().is_some_and(|l| RETRY_LOGICS.contains(&l));
        if !ok {
            let hint = match logic
                .as_str()
                .and_then(|l| nearest(l, RETRY_LOGICS.iter().copied()))
            {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("use one of {}", RETRY_LOGICS.join(", ")),
            };
            self.error(
                pointer,
                format!(
                    "`{field}` must be one of {}, not {}",
                    RETRY_LOGICS.join(", "),
                    describe(logic)
                ),
                Some(hint),
            );
        }
    }

    /// Conductor's retry fields, on the task or in its `taskDefinition`.
    fn conductor_retry(&mut self, site: &Site<'_>) {
        let mut places = vec![(site.pointer.clone(), site.task)];
        if let Some(def) = site.task.get("taskDefinition") {
            match def.as_object() {
                Some(def) => places.push((site.field_pointer("taskDefinition"), def)),
                None if def.is_null() => {}
                None => self.error(
                    &site.field_pointer("taskDefinition"),
                    format!(
                        "`taskDefinition` of {} must be a mapping, not {}",
                        site.label(),
                        describe(def)
                    ),
                    None,
                ),
            }
        }
        for (pointer, map) in places {
            let at = |name: &str| push_pointer(&pointer, name);
            for name in ["retryCount", "backoffJitterMs"] {
                if let Some(value) = map.get(name)
                    && !value.is_u64()
                {
                    self.error(
                        &at(name),
                        format!(
                            "`{name}` of {} must be a whole number, not {}",
                            site.label(),
                            describe(value)
                        ),
                        None,
                    );
                }
            }
            for name in [
                "retryDelaySeconds",
                "maxRetryDelaySeconds",
                "backoffScaleFactor",
            ] {
                if let Some(value) = map.get(name)
                    && !value.as_f64().is_some_and(|v| v.is_finite() && v >= 0.0)
                {
                    self.error(
                        &at(name),
                        format!(
                            "`{name}` of {} must be a number of 0 or more, not {}",
                            site.label(),
                            describe(value)
                        ),
                        None,
                    );
                }
            }
            if let Some(logic) = map.get("retryLogic") {
                self.retry_logic(&at("retryLogic"), "retryLogic", logic);
            }
        }
    }

    /// Fields that hold tasks or joins only make sense on their own type; elsewhere they are a
    /// mistake in the type (or the field) that would otherwise be silently ignored.
    fn misplaced_fields(&mut self, site: &Site<'_>) {
        let Some(kind) = site.kind() else { return };
        let type_name = site.type_name().unwrap_or("SIMPLE");
        for (field, owner, owner_kind) in [
            ("decisionCases", "SWITCH", TaskKind::Switch),
            ("defaultCase", "SWITCH", TaskKind::Switch),
            ("forkTasks", "FORK_JOIN", TaskKind::ForkJoin),
            ("joinOn", "JOIN", TaskKind::Join),
            (
                "defaultExclusiveJoinTask",
                "EXCLUSIVE_JOIN",
                TaskKind::ExclusiveJoin,
            ),
            ("dynamicTaskNameParam", "DYNAMIC", TaskKind::Dynamic),
            ("approver", "HUMAN", TaskKind::Human),
            ("deadline", "HUMAN", TaskKind::Human),
            ("onDeadline", "HUMAN", TaskKind::Human),
            ("escalateTo", "HUMAN", TaskKind::Human),
            ("failOnReject", "HUMAN", TaskKind::Human),
            ("loopCondition", "DO_WHILE", TaskKind::DoWhile),
            ("loopOver", "DO_WHILE", TaskKind::DoWhile),
            ("keepLastN", "DO_WHILE", TaskKind::DoWhile),
            ("items", "DO_WHILE", TaskKind::DoWhile),
        ] {
            if kind == owner_kind || (field == "joinOn" && kind == TaskKind::ExclusiveJoin) {
                continue;
            }
            let Some(value) = site.task.get(field) else {
                continue;
            };
            let empty = match value {
                Value::Array(a) => a.is_empty(),
                Value::Object(m) => m.is_empty(),
                Value::Null => true,
                _ => false,
            };
            // Conductor accepts (and ignores) `joinOn` on a FORK_JOIN; its own exports have it.
            let conductor_ignores = field == "joinOn" && kind == TaskKind::ForkJoin;
            if !empty && !conductor_ignores {
                self.error_at_key(
                    &site.field_pointer(field),
                    format!(
                        "`{field}` only applies to {owner} tasks, but {} is {type_name}",
                        site.label()
                    ),
                    Some(format!("set `type: {owner}`, or remove `{field}`")),
                );
            }
        }
    }

    // ---- SWITCH ----

    fn switch(&mut self, site: &Site<'_>) {
        if site.type_name() == Some("DECISION") {
            self.decision(site);
        } else {
            self.switch_evaluator(site);
        }
        self.switch_cases(site);
    }

    fn switch_evaluator(&mut self, site: &Site<'_>) {
        let evaluator_hint = "use `evaluatorType: value-param` (the expression names an input), `evaluatorType: expression` (a condition such as `count > 0`) or `evaluatorType: javascript` (`$.count > 0`)";
        // Conductor's default, and the engine's.
        let evaluator = match site.task.get("evaluatorType") {
            None | Some(Value::Null) => Some("value-param"),
            Some(Value::String(e)) => Some(e.as_str()),
            Some(other) => {
                self.error(
                    &site.field_pointer("evaluatorType"),
                    format!("`evaluatorType` must be text, not {}", describe(other)),
                    Some(evaluator_hint.into()),
                );
                None
            }
        };
        let expression = match site.task.get("expression") {
            None | Some(Value::Null) => {
                self.error(&site.pointer, format!("SWITCH {} has no `expression`", site.label()), Some(
                    "add `expression:` naming an input (value-param) or a condition (expression)".into(),
                ));
                None
            }
            Some(Value::String(e)) => Some(e.as_str()),
            Some(other) => {
                self.error(
                    &site.field_pointer("expression"),
                    format!(
                        "`expression` of {} must be text, not {}",
                        site.label(),
                        describe(other)
                    ),
                    None,
                );
                None
            }
        };
        let pointer = site.field_pointer("evaluatorType");
        match evaluator {
            Some("value-param") => {
                if let Some(name) = expression {
                    self.value_param(site, name);
                }
            }
            Some("expression") => {
                if let Some(expr) = expression
                    && let Err(e) = condition::check(expr)
                {
                    self.error(&site.field_pointer("expression"), format!("the condition of {} does not compile: {e}", site.label()), Some(
                        "write a minijinja expression over the task's inputParameters, e.g. `problem_count > 0`".into(),
                    ));
                }
            }
            Some(e) if script::is_javascript(e) => {
                if let Some(source) = expression {
                    self.javascript(
                        site,
                        &site.field_pointer("expression"),
                        source,
                        source,
                        "the expression",
                        0,
                    );
                }
            }
            Some(e) => {
                let all = EVALUATORS.iter().copied();
                let hint = match nearest(e, all) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => evaluator_hint.to_string(),
                };
                self.error(&pointer, unknown_evaluator(e, &site.label()), Some(hint));
            }
            None => {}
        }
    }

    /// `value-param`: the expression names one of the task's inputs.
    fn value_param(&mut self, site: &Site<'_>, name: &str) {
        self.names_an_input(site, "expression", name);
    }

    /// `field` (SWITCH's `expression`, DECISION's `caseValueParam`) names one of the task's
    /// inputs.
    fn names_an_input(&mut self, site: &Site<'_>, field: &str, name: &str) {
        let inputs: Vec<&str> = site
            .input_parameters()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if inputs.contains(&name) {
            return;
        }
        let hint = match nearest(name, inputs.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if inputs.is_empty() => {
                format!("add `{name}: ${{...}}` to the task's inputParameters")
            }
            None => format!(
                "add `{name}` to inputParameters, or name one of: {}",
                inputs.join(", ")
            ),
        };
        self.error(
            &site.field_pointer(field),
            format!(
                "{} {} switches on input `{name}`, which is not in its inputParameters",
                site.type_name().unwrap_or("SWITCH"),
                site.label()
            ),
            Some(hint),
        );
    }

    fn switch_cases(&mut self, site: &Site<'_>) {
        let hint = "write `decisionCases:` as a mapping from each case value to a list of tasks";
        match site.task.get("decisionCases") {
            None | Some(Value::Null) => {}
            Some(Value::Object(cases)) => {
                for (case, tasks) in cases {
                    if !tasks.is_array() {
                        let pointer = push_pointer(&site.field_pointer("decisionCases"), case);
                        self.error(
                            &pointer,
                            format!(
                                "case `{case}` of {} must be a list of tasks, not {}",
                                site.label(),
                                describe(tasks)
                            ),
                            Some(hint.into()),
                        );
                    }
                }
            }
            Some(other) => self.error(
                &site.field_pointer("decisionCases"),
                format!(
                    "`decisionCases` of {} must be a mapping, not {}",
                    site.label(),
                    describe(other)
                ),
                Some(hint.into()),
            ),
        }
        if let Some(default) = site.task.get("defaultCase")
            && !matches!(default, Value::Array(_) | Value::Null)
        {
            self.error(
                &site.field_pointer("defaultCase"),
                format!(
                    "`defaultCase` of {} must be a list of tasks, not {}",
                    site.label(),
                    describe(default)
                ),
                None,
            );
        }
    }

    // ---- FORK_JOIN, FORK_JOIN_DYNAMIC, JOIN ----

    fn fork_join(&mut self, site: &Site<'_>) {
        let pointer = site.field_pointer("forkTasks");
        let hint =
            "write `forkTasks:` as a list of branches, each a list of tasks: `- - name: a ...`";
        match site.task.get("forkTasks") {
            Some(Value::Array(branches)) if !branches.is_empty() => {
                for (i, branch) in branches.iter().enumerate() {
                    let at = push_pointer(&pointer, &i.to_string());
                    match branch {
                        Value::Array(tasks) if !tasks.is_empty() => {}
                        Value::Array(_) => {
                            self.error(
                                &at,
                                format!("branch {} of FORK_JOIN {} is empty", i + 1, site.label()),
                                Some("add tasks to it or remove it".into()),
                            );
                        }
                        other => self.error(
                            &at,
                            format!(
                                "branch {} of FORK_JOIN {} must be a list of tasks, not {}",
                                i + 1,
                                site.label(),
                                describe(other)
                            ),
                            Some(hint.into()),
                        ),
                    }
                }
            }
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("FORK_JOIN {} has no `forkTasks`", site.label()),
                Some(hint.into()),
            ),
            Some(Value::Array(_)) => self.error(
                &pointer,
                format!("FORK_JOIN {} has no branches", site.label()),
                Some(hint.into()),
            ),
            Some(other) => self.error(
                &pointer,
                format!(
                    "`forkTasks` of {} must be a list of branches, not {}",
                    site.label(),
                    describe(other)
                ),
                Some(hint.into()),
            ),
        }
    }

    fn fork_join_dynamic(&mut self, site: &Site<'_>) {
        let inputs = site.input_parameters();
        let has_input = |name: &str| inputs.is_some_and(|m| m.contains_key(name));
        let tasks_param = site
            .task
            .get("dynamicForkTasksParam")
            .filter(|v| !v.is_null());
        let inputs_param = site
            .task
            .get("dynamicForkTasksInputParamName")
            .filter(|v| !v.is_null());
        let hint = "set `inputParameters.forkTaskName` and `inputParameters.forkTaskInputs` (a list), \
                    or `dynamicForkTasksParam` and `dynamicForkTasksInputParamName` naming two inputs";
        if tasks_param.is_none() && inputs_param.is_none() {
            if !has_input("forkTaskName") && !has_input("forkTaskType") {
                self.error(
                    &site.pointer,
                    format!(
                        "FORK_JOIN_DYNAMIC {} does not say what to fork",
                        site.label()
                    ),
                    Some(hint.into()),
                );
            } else if !has_input("forkTaskInputs") {
                self.error(
                    &site.field_pointer("inputParameters"),
                    format!("FORK_JOIN_DYNAMIC {} has `forkTaskName` but no `forkTaskInputs`", site.label()),
                    Some("add `forkTaskInputs:`, a list with one item per fork, e.g. `${workflow.input.folders}`".into()),
                );
            }
            return;
        }
        for (field, value) in [
            ("dynamicForkTasksParam", tasks_param),
            ("dynamicForkTasksInputParamName", inputs_param),
        ] {
            let pointer = site.field_pointer(field);
            match value {
                None => self.error(
                    &site.pointer,
                    format!("FORK_JOIN_DYNAMIC {} has no `{field}`", site.label()),
                    Some(hint.into()),
                ),
                Some(Value::String(name)) if has_input(name) => {}
                Some(Value::String(name)) => {
                    let known: Vec<&str> = inputs
                        .map(|m| m.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let hint = match nearest(name, known.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("add `{name}: ${{...}}` to the task's inputParameters"),
                    };
                    self.error(&pointer, format!("`{field}` of {} names input `{name}`, which is not in its inputParameters", site.label()), Some(hint));
                }
                Some(other) => self.error(
                    &pointer,
                    format!(
                        "`{field}` of {} must name an input, not {}",
                        site.label(),
                        describe(other)
                    ),
                    None,
                ),
            }
        }
    }

    fn join_on_shape(&mut self, site: &Site<'_>) {
        let pointer = site.field_pointer("joinOn");
        match site.task.get("joinOn") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        self.error(
                            &push_pointer(&pointer, &i.to_string()),
                            format!(
                                "`joinOn` entries must be task reference names, not {}",
                                describe(item)
                            ),
                            None,
                        );
                    }
                }
            }
            Some(other) => self.error(
                &pointer,
                format!(
                    "`joinOn` of {} must be a list of task reference names, not {}",
                    site.label(),
                    describe(other)
                ),
                None,
            ),
        }
    }

    /// In each list of tasks, a fork is followed by a JOIN, a JOIN follows a fork, and the
    /// JOIN of a FORK_JOIN waits only on tasks of that fork's branches.
    fn forks_and_joins(&mut self, list: &TaskList<'_>) {
        for (i, site) in list.items.iter().enumerate() {
            let next = list.items.get(i + 1);
            let previous = i.checked_sub(1).and_then(|p| list.items.get(p));
            match site.kind() {
                Some(kind @ (TaskKind::ForkJoin | TaskKind::ForkJoinDynamic)) => {
                    let type_name = if kind == TaskKind::ForkJoin {
                        "FORK_JOIN"
                    } else {
                        "FORK_JOIN_DYNAMIC"
                    };
                    match next {
                        Some(join) if join.kind() == Some(TaskKind::Join) => {
                            if kind == TaskKind::ForkJoin {
                                self.join_targets(site, join);
                            }
                        }
                        _ => self.error(
                            &site.field_pointer("type"),
                            format!("{type_name} {} must be followed by a JOIN", site.label()),
                            Some(format!(
                                "add a task with `type: JOIN` right after {}; it waits for the branches to finish",
                                site.label()
                            )),
                        ),
                    }
                }
                Some(TaskKind::Join) => {
                    let after_fork = previous.and_then(Site::kind).is_some_and(|k| {
                        matches!(k, TaskKind::ForkJoin | TaskKind::ForkJoinDynamic)
                    });
                    if !after_fork {
                        self.error(
                            &site.field_pointer("type"),
                            format!(
                                "JOIN {} does not directly follow a FORK_JOIN or FORK_JOIN_DYNAMIC",
                                site.label()
                            ),
                            Some("move it right after the fork it waits for, or remove it".into()),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// Each `joinOn` entry of the JOIN after `fork` names a task inside the fork's branches.
    fn join_targets(&mut self, fork: &Site<'_>, join: &Site<'_>) {
        let Some(join_on) = join.task.get("joinOn").and_then(Value::as_array) else {
            return;
        };
        let mut inside = Vec::new();
        if let Some(branches) = fork.task.get("forkTasks").and_then(Value::as_array) {
            let mut lists = Vec::new();
            for branch in branches.iter().filter_map(Value::as_array) {
                collect_lists(branch, "", &mut lists);
            }
            inside.extend(
                lists
                    .iter()
                    .flat_map(|l| l.items.iter())
                    .filter_map(|s| s.reference().map(str::to_owned)),
            );
        }
        for (i, entry) in join_on.iter().enumerate() {
            let Some(name) = entry.as_str() else { continue };
            if inside.iter().any(|r| r == name) {
                continue;
            }
            let hint = match nearest(name, inside.iter().map(String::as_str)) {
                Some(best) => format!(
                    "did you mean `{best}`? tasks in the branches: {}",
                    inside.join(", ")
                ),
                None => format!(
                    "name tasks of the branches, usually the last of each: {}",
                    inside.join(", ")
                ),
            };
            self.error(
                &push_pointer(&join.field_pointer("joinOn"), &i.to_string()),
                format!(
                    "JOIN {} waits on `{name}`, which is not in the branches of {}",
                    join.label(),
                    fork.label()
                ),
                Some(hint),
            );
        }
    }

    // ---- rules across the workflow ----

    /// Reference names are unique in the whole workflow. Returns each name with the pointer
    /// of its first task, in the order of the file.
    fn unique_references(&mut self, sites: &[&Site<'_>]) -> Vec<(String, String)> {
        let mut first: HashMap<&str, &str> = HashMap::new();
        let mut names = Vec::new();
        for site in sites {
            let Some(name) = site.reference() else {
                continue;
            };
            match first.get(name) {
                Some(earlier) => {
                    let (line, column) = self
                        .src
                        .location(&push_pointer(earlier, "taskReferenceName"));
                    self.error(
                        &site.field_pointer("taskReferenceName"),
                        format!("task reference name `{name}` is already used by the task at line {line}, column {column}"),
                        Some("give each task its own taskReferenceName".into()),
                    );
                }
                None => {
                    first.insert(name, &site.pointer);
                    names.push((name.to_string(), site.pointer.clone()));
                }
            }
        }
        names
    }

    /// Every `${root...}` in inputParameters and the workflow's outputParameters names
    /// `workflow`, a defined task, or a task forked by a FORK_JOIN_DYNAMIC (`<forkRef>_<n>`).
    fn references(
        &mut self,
        root: &Map<String, Value>,
        sites: &[&Site<'_>],
        refs: &[(String, String)],
    ) {
        let known: Vec<&str> = refs.iter().map(|(name, _)| name.as_str()).collect();
        let dynamic_forks: Vec<&str> = sites
            .iter()
            .filter(|s| s.kind() == Some(TaskKind::ForkJoinDynamic))
            .filter_map(|s| s.reference())
            .collect();
        let loop_members = Self::loop_members(sites);
        let mut places: Vec<(String, &Value)> = Vec::new();
        if let Some(output) = root.get("outputParameters") {
            places.push(("/outputParameters".to_string(), output));
        }
        for site in sites {
            for field in ["inputParameters", "inputTemplate"] {
                if let Some(inputs) = site.task.get(field) {
                    places.push((site.field_pointer(field), inputs));
                }
            }
        }
        for (pointer, value) in places {
            let mut strings = Vec::new();
            string_leaves(value, pointer, &mut strings);
            for (pointer, text) in strings {
                for reference in mapping::references(&Value::String(text.to_string())) {
                    let root = reference.root.as_str();
                    if root == CURRENT_TASK_ID {
                        // The id of the task being scheduled (see expr::mapping::TaskScope).
                        continue;
                    }
                    let defined = root == "workflow"
                        || known.contains(&root)
                        || loop_members.iter().any(|member| {
                            root.strip_prefix(member)
                                .and_then(|rest| rest.strip_prefix("__"))
                                .is_some_and(|n| n.parse::<u32>().is_ok())
                        })
                        || dynamic_forks.iter().any(|fork| {
                            root.strip_prefix(fork)
                                .is_some_and(|rest| rest.starts_with('_'))
                        });
                    if !defined {
                        self.unknown_reference(&pointer, &reference, &known);
                    }
                }
            }
        }
    }

    /// The position of `written` (a `${...}` text) in the string at `pointer`, when it stands
    /// on the line where the string starts; else the string's position.
    fn reference_position(&self, pointer: &str, written: &str) -> Position {
        let mut position = self.src.position(pointer);
        let line = self.src.line_text(position.line);
        let from: usize = line
            .char_indices()
            .nth(position.column.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i);
        if let Some(offset) = line[from..].find(written) {
            position.column += line[from..from + offset].chars().count();
            position.width = written.chars().count();
        }
        position
    }

    fn unknown_reference(&mut self, pointer: &str, reference: &mapping::Reference, known: &[&str]) {
        let written = format!("${{{}}}", reference.text);
        let position = self.reference_position(pointer, &written);
        let listed = if known.len() > 12 {
            format!("{}, ...", known[..12].join(", "))
        } else {
            known.join(", ")
        };
        let (message, hint) = if reference.root.is_empty() {
            (
                format!("`{written}` does not name anything"),
                "write `${workflow.input.name}` or `${taskRef.output.field}`".to_string(),
            )
        } else {
            let hint = match nearest(&reference.root, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`? known tasks: {listed}"),
                None if known.is_empty() => {
                    "use `${workflow.input.<name>}` or the taskReferenceName of a task".to_string()
                }
                None => format!("use `workflow` or one of the known tasks: {listed}"),
            };
            (
                format!(
                    "`{written}` refers to task `{}`, which is not defined",
                    reference.root
                ),
                hint,
            )
        };
        self.out.push(Diagnostic::at(
            &self.src.file,
            &self.src.text,
            position,
            message,
            Some(hint),
        ));
    }
    // ---- (loop) ----

    /// DO_WHILE: `loopOver` a non-empty list of tasks with no DO_WHILE inside, a
    /// `loopCondition` (unless it iterates over `items`) for a known evaluator, `keepLastN` a
    /// whole number of at least 1, `items` a list or a `${...}`.
    fn do_while(&mut self, site: &Site<'_>) {
        let hint = "write `loopOver:` as a list of the tasks of one iteration";
        match site.task.get("loopOver") {
            Some(Value::Array(tasks)) if !tasks.is_empty() => {
                self.no_nested_loop(site, tasks, &site.field_pointer("loopOver"));
            }
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("DO_WHILE {} has no `loopOver`", site.label()),
                Some(hint.into()),
            ),
            Some(Value::Array(_)) => self.error(
                &site.field_pointer("loopOver"),
                format!("DO_WHILE {} has no tasks in `loopOver`", site.label()),
                Some(hint.into()),
            ),
            Some(other) => self.error(
                &site.field_pointer("loopOver"),
                format!(
                    "`loopOver` of {} must be a list of tasks, not {}",
                    site.label(),
                    describe(other)
                ),
                Some(hint.into()),
            ),
        }
        let inputs = site.input_parameters();
        let has_items = site.task.get("items").is_some_and(|v| !v.is_null())
            || inputs.is_some_and(|m| m.contains_key("items"));
        self.loop_condition(site, has_items);
        if let Some(keep) = site.task.get("keepLastN") {
            self.keep_last_n(&site.field_pointer("keepLastN"), keep, false);
        }
        if let Some(keep) = inputs.and_then(|m| m.get("keepLastN")) {
            let pointer = push_pointer(&site.field_pointer("inputParameters"), "keepLastN");
            self.keep_last_n(&pointer, keep, true);
        }
        if let Some(items) = site.task.get("items") {
            self.loop_items(&site.field_pointer("items"), items);
        }
        if let Some(items) = inputs.and_then(|m| m.get("items")) {
            let pointer = push_pointer(&site.field_pointer("inputParameters"), "items");
            self.loop_items(&pointer, items);
        }
    }

    fn loop_condition(&mut self, site: &Site<'_>, has_items: bool) {
        let evaluator = match site.task.get("evaluatorType") {
            None | Some(Value::Null) => "javascript",
            Some(Value::String(e)) => e.as_str(),
            Some(other) => {
                self.error(
                    &site.field_pointer("evaluatorType"),
                    format!("`evaluatorType` must be text, not {}", describe(other)),
                    Some("use `javascript` (Conductor's default) or `expression`".into()),
                );
                return;
            }
        };
        const LOOP_EVALUATORS: &[&str] = &["javascript", "graaljs", "expression", "value-param"];
        if !LOOP_EVALUATORS.contains(&evaluator) {
            let hint = match nearest(evaluator, LOOP_EVALUATORS.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("use one of: {}", LOOP_EVALUATORS.join(", ")),
            };
            self.error(
                &site.field_pointer("evaluatorType"),
                format!("unknown evaluator `{evaluator}` in {}", site.label()),
                Some(hint),
            );
            return;
        }
        let condition = match site.task.get("loopCondition") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if c.trim().is_empty() => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(other) => {
                self.error(
                    &site.field_pointer("loopCondition"),
                    format!(
                        "`loopCondition` of {} must be text, not {}",
                        site.label(),
                        describe(other)
                    ),
                    Some("write the condition as text, e.g. `$.loop['iteration'] < 3`".into()),
                );
                return;
            }
        };
        let Some(condition) = condition else {
            if !has_items {
                self.error(
                    &site.pointer,
                    format!("DO_WHILE {} has no `loopCondition`", site.label()),
                    Some(format!(
                        "add `loopCondition:`, e.g. `$.{}['iteration'] < 3`, or iterate over a list with `items:`",
                        site.reference().unwrap_or("loop")
                    )),
                );
            }
            return;
        };
        let reference = site.reference().unwrap_or("loop");
        match evaluator {
            "javascript" | "graaljs" => {
                // With the position of the mistake inside the script.
                let pointer = site.field_pointer("loopCondition");
                self.javascript(site, &pointer, condition, condition, "the loopCondition", 0);
            }
            "expression" => {
                if let Err(e) = crate::expr::script::check(evaluator, condition) {
                    self.error(
                        &site.field_pointer("loopCondition"),
                        format!("the loopCondition of {} does not compile: {e}", site.label()),
                        Some(format!(
                            "write a minijinja expression over the inputs and the loop, e.g. `{reference}.iteration < 3`"
                        )),
                    );
                }
            }
            "value-param" => {
                let known = site
                    .input_parameters()
                    .is_some_and(|m| m.contains_key(condition));
                if !known {
                    self.error(
                        &site.field_pointer("loopCondition"),
                        format!(
                            "with `evaluatorType: value-param` the loopCondition names an input, but {} has no input `{condition}`",
                            site.label()
                        ),
                        Some(format!("add `{condition}: ${{...}}` to its inputParameters")),
                    );
                }
            }
            _ => {}
        }
    }

    fn keep_last_n(&mut self, pointer: &str, keep: &Value, mapped: bool) {
        let whole = keep
            .as_u64()
            .is_some_and(|n| n >= 1 && n <= u64::from(u32::MAX));
        let expression = mapped && keep.as_str().is_some_and(|s| s.contains("${"));
        if !whole && !expression {
            self.error(
                pointer,
                format!(
                    "`keepLastN` must be a whole number of at least 1, not {}",
                    describe(keep)
                ),
                Some("keep the last N iterations, e.g. `keepLastN: 5`".into()),
            );
        }
    }

    fn loop_items(&mut self, pointer: &str, items: &Value) {
        let ok = match items {
            Value::Array(_) => true,
            Value::String(s) => s.contains("${"),
            _ => false,
        };
        if !ok {
            self.error(
                pointer,
                format!(
                    "`items` must be a list or a `${{...}}` naming one, not {}",
                    describe(items)
                ),
                Some("e.g. `items: ${workflow.input.files}`".into()),
            );
        }
    }

    /// Conductor does not run a DO_WHILE inside another; neither does 3ox.
    fn no_nested_loop(&mut self, outer: &Site<'_>, tasks: &[Value], pointer: &str) {
        for (i, task) in tasks.iter().enumerate() {
            let Some(map) = task.as_object() else {
                continue;
            };
            let at = push_pointer(pointer, &i.to_string());
            if map.get("type").and_then(Value::as_str) == Some("DO_WHILE") {
                let inner = map
                    .get("taskReferenceName")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                self.error(
                    &push_pointer(&at, "type"),
                    format!(
                        "DO_WHILE `{inner}` is inside DO_WHILE {}; a loop inside a loop is not supported (nor in Conductor)",
                        outer.label()
                    ),
                    Some("move the inner loop into a workflow of its own and call it with SUB_WORKFLOW".into()),
                );
            }
            let mut nested: Vec<(String, &Vec<Value>)> = Vec::new();
            if let Some(cases) = map.get("decisionCases").and_then(Value::as_object) {
                for (case, list) in cases {
                    if let Some(list) = list.as_array() {
                        let cases_at = push_pointer(&at, "decisionCases");
                        nested.push((push_pointer(&cases_at, case), list));
                    }
                }
            }
            for field in ["defaultCase", "loopOver"] {
                if let Some(list) = map.get(field).and_then(Value::as_array) {
                    nested.push((push_pointer(&at, field), list));
                }
            }
            if let Some(branches) = map.get("forkTasks").and_then(Value::as_array) {
                for (b, branch) in branches.iter().enumerate() {
                    if let Some(list) = branch.as_array() {
                        let fork_at = push_pointer(&at, "forkTasks");
                        nested.push((push_pointer(&fork_at, &b.to_string()), list));
                    }
                }
            }
            for (p, list) in nested {
                self.no_nested_loop(outer, list, &p);
            }
        }
    }

    /// The reference names of every task inside a DO_WHILE (their iterations are
    /// `<ref>__<n>`).
    fn loop_members<'s>(sites: &[&'s Site<'_>]) -> Vec<&'s str> {
        let mut out = Vec::new();
        for site in sites.iter().filter(|s| s.kind() == Some(TaskKind::DoWhile)) {
            let mut stack: Vec<&Value> = site
                .task
                .get("loopOver")
                .and_then(Value::as_array)
                .map(|l| l.iter().collect())
                .unwrap_or_default();
            while let Some(task) = stack.pop() {
                let Some(map) = task.as_object() else {
                    continue;
                };
                if let Some(r) = map.get("taskReferenceName").and_then(Value::as_str) {
                    out.push(r);
                }
                for field in ["defaultCase", "loopOver"] {
                    if let Some(list) = map.get(field).and_then(Value::as_array) {
                        stack.extend(list);
                    }
                }
                if let Some(cases) = map.get("decisionCases").and_then(Value::as_object) {
                    stack.extend(cases.values().filter_map(Value::as_array).flatten());
                }
                if let Some(branches) = map.get("forkTasks").and_then(Value::as_array) {
                    stack.extend(branches.iter().filter_map(Value::as_array).flatten());
                }
            }
        }
        out
    }

    // ---- (subflow) ----

    /// `failureWorkflow`: the name of a workflow of the station.
    fn failure_workflow_field(&mut self, root: &Map<String, Value>) {
        match root.get("failureWorkflow") {
            None | Some(Value::Null) => {}
            // Conductor writes `""` for none.
            Some(Value::String(name)) if name.trim().is_empty() => {}
            // Chosen by the run's input: Conductor's `$workflow.input.<key>`, or `${...}`.
            Some(Value::String(name))
                if name.starts_with("$workflow.input.") || name.starts_with("${") => {}
            Some(Value::String(name))
                if !name.contains('$') && crate::mailbox::name_problem(name).is_none() => {}
            Some(other) => self.error(
                "/failureWorkflow",
                format!(
                    "`failureWorkflow` must be the name of a workflow (plain text), not {}",
                    describe(other)
                ),
                Some("name a workflow of the station's templates/ or workflows/, e.g. `failureWorkflow: undo_order`, or let the input choose it: `failureWorkflow: $workflow.input.onFailure`".into()),
            ),
        }
    }

    /// SUB_WORKFLOW: `subWorkflowParam` with `name` (and `version`) or `workflowDefinition`.
    fn sub_workflow(&mut self, site: &Site<'_>) {
        let pointer = site.field_pointer("subWorkflowParam");
        match site.task.get("subWorkflowParam") {
            Some(Value::Object(param)) => self.workflow_param(site, &pointer, param, "subWorkflowParam"),
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("{} is a SUB_WORKFLOW without `subWorkflowParam`", site.label()),
                Some("add `subWorkflowParam: {name: other_workflow, version: 1}` (or an inline `workflowDefinition`)".into()),
            ),
            Some(other) => self.error(
                &pointer,
                format!(
                    "`subWorkflowParam` of {} must be a mapping, not {}",
                    site.label(),
                    describe(other)
                ),
                Some("write `subWorkflowParam: {name: other_workflow, version: 1}`".into()),
            ),
        }
    }

    /// START_WORKFLOW: `inputParameters.startWorkflow` with `name` (or `workflowDefinition`),
    /// `version`, `input`, `correlationId`; or a `${...}` that gives all of it at run time.
    fn start_workflow(&mut self, site: &Site<'_>) {
        let pointer = push_pointer(&site.field_pointer("inputParameters"), "startWorkflow");
        let request = site.input_parameters().and_then(|p| p.get("startWorkflow"));
        match request {
            Some(Value::Object(request)) => {
                self.workflow_param(site, &pointer, request, "startWorkflow");
                match request.get("input") {
                    None | Some(Value::Null | Value::Object(_)) => {}
                    Some(Value::String(s)) if s.contains("${") => {}
                    Some(other) => self.error(
                        &push_pointer(&pointer, "input"),
                        format!(
                            "`startWorkflow.input` of {} must be a mapping (the new run's input), not {}",
                            site.label(),
                            describe(other)
                        ),
                        None,
                    ),
                }
            }
            Some(Value::String(s)) if s.contains("${") => {}
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("{} is a START_WORKFLOW without `inputParameters.startWorkflow`", site.label()),
                Some("add `inputParameters: {startWorkflow: {name: other_workflow, input: {...}}}`".into()),
            ),
            Some(other) => self.error(
                &pointer,
                format!(
                    "`startWorkflow` of {} must be a mapping with `name`, `version`, `input`, `correlationId`, not {}",
                    site.label(),
                    describe(other)
                ),
                None,
            ),
        }
    }

    /// The `{name, version, workflowDefinition}` shared by both.
    fn workflow_param(
        &mut self,
        site: &Site<'_>,
        pointer: &str,
        param: &Map<String, Value>,
        field: &str,
    ) {
        let inline = param.get("workflowDefinition");
        match inline {
            None | Some(Value::Null) => {}
            Some(def @ Value::Object(_)) => {
                // A whole workflow: checked as a file of its own (children of children too).
                let text = serde_json::to_string_pretty(def).unwrap_or_default();
                let inner = match Source::parse(&text, "workflowDefinition") {
                    Ok(src) => check(&src),
                    Err(diagnostic) => vec![diagnostic],
                };
                for problem in inner.into_iter().filter(|d| d.severity == Severity::Error) {
                    self.error(
                        &push_pointer(pointer, "workflowDefinition"),
                        format!(
                            "the inline `workflowDefinition` of {}: {}",
                            site.label(),
                            problem.message
                        ),
                        problem.hint,
                    );
                }
            }
            Some(other) => self.error(
                &push_pointer(pointer, "workflowDefinition"),
                format!(
                    "`{field}.workflowDefinition` of {} must be a workflow definition (a mapping), not {}",
                    site.label(),
                    describe(other)
                ),
                None,
            ),
        }
        match param.get("name") {
            Some(Value::String(name)) if !name.contains("${") => {
                if let Some(problem) = crate::mailbox::name_problem(name) {
                    self.error(
                        &push_pointer(pointer, "name"),
                        format!(
                            "`{field}.name` of {}: `{}` is not usable as a workflow name: {problem}",
                            site.label(),
                            name.escape_debug()
                        ),
                        Some("name a workflow of the station's templates/ or workflows/ by its `name:`".into()),
                    );
                }
            }
            Some(Value::String(_)) => {}
            None | Some(Value::Null) if matches!(inline, Some(Value::Object(_))) => {}
            None | Some(Value::Null) => self.error(
                pointer,
                format!("`{field}` of {} names no workflow", site.label()),
                Some("add `name: other_workflow` (a workflow of the station's templates/ or workflows/), or an inline `workflowDefinition`".into()),
            ),
            Some(other) => self.error(
                &push_pointer(pointer, "name"),
                format!(
                    "`{field}.name` of {} must be a workflow's name, not {}",
                    site.label(),
                    describe(other)
                ),
                None,
            ),
        }
        match param.get("version") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)) => {}
            Some(Value::String(s)) if s.contains("${") || s.trim().parse::<u32>().is_ok() => {}
            Some(other) => self.error(
                &push_pointer(pointer, "version"),
                format!(
                    "`{field}.version` of {} must be a whole number, not {}",
                    site.label(),
                    describe(other)
                ),
                Some("write `version: 1`, or leave it out for the highest version".into()),
            ),
        }
    }

    // ---- (timers) ----

    /// A number of seconds >= 0, or a duration text (`30s`, `2m`).
    fn seconds_field(&mut self, pointer: &str, owner: &str, field: &str, value: &Value) {
        if value.is_null() {
            return;
        }
        if let Err(problem) = DurationSpec::from_value(value) {
            self.error(
                pointer,
                format!("`{field}` of {owner}: {problem}"),
                Some(format!(
                    "write seconds, e.g. `{field}: 30` (0 means no limit)"
                )),
            );
        }
    }

    fn timeout_policy(&mut self, pointer: &str, owner: &str, value: &Value, allowed: &[&str]) {
        if value.is_null() || value.as_str().is_some_and(|p| allowed.contains(&p)) {
            return;
        }
        let hint = match value
            .as_str()
            .and_then(|p| nearest(p, allowed.iter().copied()))
        {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("use one of {}", allowed.join(", ")),
        };
        self.error(
            pointer,
            format!(
                "`timeoutPolicy` of {owner} must be one of {}, not {}",
                allowed.join(", "),
                describe(value)
            ),
            Some(hint),
        );
    }

    /// `startDelay`, `permissive`, and the timeout fields (on the task or in its
    /// `taskDefinition`).
    fn task_timers(&mut self, site: &Site<'_>) {
        let label = site.label();
        if let Some(delay) = site.task.get("startDelay") {
            self.seconds_field(
                &site.field_pointer("startDelay"),
                &label,
                "startDelay",
                delay,
            );
        }
        if let Some(flag) = site.task.get("permissive")
            && !flag.is_boolean()
            && !flag.is_null()
        {
            self.error(
                &site.field_pointer("permissive"),
                format!(
                    "`permissive` of {label} must be true or false, not {}",
                    describe(flag)
                ),
                None,
            );
        }
        let mut places = vec![(site.pointer.clone(), site.task)];
        if let Some(def) = site.task.get("taskDefinition").and_then(Value::as_object) {
            places.push((site.field_pointer("taskDefinition"), def));
        }
        for (pointer, map) in places {
            for field in crate::engine::timeouts::TASK_TIMEOUT_FIELDS {
                if let Some(value) = map.get(*field) {
                    self.seconds_field(&push_pointer(&pointer, field), &label, field, value);
                }
            }
            if let Some(policy) = map.get("timeoutPolicy") {
                self.timeout_policy(
                    &push_pointer(&pointer, "timeoutPolicy"),
                    &label,
                    policy,
                    crate::engine::timeouts::TimeoutPolicy::NAMES,
                );
            }
        }
    }

    /// The workflow's `timeoutSeconds` and `timeoutPolicy` (TIME_OUT_WF or ALERT_ONLY).
    fn workflow_timeout(&mut self, root: &Map<String, Value>) {
        if let Some(limit) = root.get("timeoutSeconds") {
            self.seconds_field("/timeoutSeconds", "the workflow", "timeoutSeconds", limit);
        }
        if let Some(policy) = root.get("timeoutPolicy") {
            self.timeout_policy(
                "/timeoutPolicy",
                "the workflow",
                policy,
                &["TIME_OUT_WF", "ALERT_ONLY"],
            );
        }
    }

    /// WAIT: `duration` or `until` (not both); literal values must read.
    fn wait(&mut self, site: &Site<'_>) {
        let Some(inputs) = site.input_parameters() else {
            return;
        };
        let pointer = site.field_pointer("inputParameters");
        let given = |f: &str| inputs.get(f).filter(|v| !v.is_null());
        let literal = |v: &Value| !v.as_str().is_some_and(|s| s.contains("${"));
        // An expression may resolve to null at run time, which leaves the other one.
        if given("duration").is_some_and(literal) && given("until").is_some_and(literal) {
            self.error(
                &push_pointer(&pointer, "until"),
                format!("{} has both `duration` and `until`", site.label()),
                Some("keep one: `duration` waits that long, `until` waits until that time".into()),
            );
        }
        if let Some(duration) = given("duration").filter(|v| literal(v)) {
            let problem = match duration {
                Value::String(text) => crate::engine::tasks::wait::parse_duration(text).err(),
                Value::Number(n) if n.as_f64().is_some_and(|s| s >= 0.0) => None,
                other => Some(format!(
                    "`duration` must be a text such as `10s` or `1 days 2 hours`, not {}",
                    describe(other)
                )),
            };
            if let Some(problem) = problem {
                self.error(
                    &push_pointer(&pointer, "duration"),
                    format!("{}: {problem}", site.label()),
                    Some("Conductor's forms: `30s`, `10 minutes`, `1 days 2 hours`".into()),
                );
            }
        }
        if let Some(until) = given("until").filter(|v| literal(v)) {
            let problem = match until {
                Value::String(text) => crate::engine::tasks::wait::parse_until(text).err(),
                other => Some(format!(
                    "`until` must be a date-time text, not {}",
                    describe(other)
                )),
            };
            if let Some(problem) = problem {
                self.error(
                    &push_pointer(&pointer, "until"),
                    format!("{}: {problem}", site.label()),
                    Some("e.g. `2026-01-31 17:00 UTC` or `2026-01-31T17:00:00Z`".into()),
                );
            }
        }
    }

    // ---- (script) ----

    /// DECISION (legacy SWITCH): `caseValueParam` names an input, or `caseExpression` is
    /// JavaScript that parses.
    fn decision(&mut self, site: &Site<'_>) {
        if let Some((_, name)) = self.script_text(site, "caseValueParam", false) {
            self.names_an_input(site, "caseValueParam", name);
        } else if let Some((pointer, source)) = self.script_text(site, "caseExpression", false) {
            self.javascript(site, &pointer, source, source, "the caseExpression", 0);
        } else if !site.task.contains_key("caseValueParam")
            && !site.task.contains_key("caseExpression")
        {
            self.error(
                &site.pointer,
                format!("DECISION {} has neither `caseValueParam` nor `caseExpression`", site.label()),
                Some("add `caseValueParam:` naming an input, or `caseExpression:` with JavaScript over `$` (or use SWITCH)".into()),
            );
        }
    }

    /// INLINE: an `expression` (in inputParameters, as Conductor has it, or on the task)
    /// that compiles for its `evaluatorType`; LAMBDA: a `scriptExpression` that parses.
    fn inline(&mut self, site: &Site<'_>) {
        if site.type_name() == Some("LAMBDA") {
            match self.script_text(site, "scriptExpression", true) {
                Some((pointer, source)) if !source.contains("${") => {
                    let wrapped = script::lambda_source(source);
                    self.javascript(
                        site,
                        &pointer,
                        &wrapped,
                        source,
                        "the scriptExpression",
                        script::LAMBDA_PREFIX.len(),
                    );
                }
                Some(_) => {}
                None if !has_script_field(site, "scriptExpression") => self.error(
                    &site.pointer,
                    format!("LAMBDA {} has no `scriptExpression`", site.label()),
                    Some("add `scriptExpression:` to inputParameters: the body of a JavaScript function over `$`, e.g. `return {doubled: $.n * 2}`".into()),
                ),
                None => {}
            }
            return;
        }
        let evaluator = match self.script_text(site, "evaluatorType", true) {
            Some((pointer, e)) if !EVALUATORS.contains(&e) && !e.contains("${") => {
                let hint = match nearest(e, EVALUATORS.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "use `evaluatorType: javascript` (or graaljs), or `expression` for 3ox's condition language".into(),
                };
                self.error(&pointer, unknown_evaluator(e, &site.label()), Some(hint));
                return;
            }
            Some((_, e)) => e,
            None if has_script_field(site, "evaluatorType") => return,
            None => "javascript",
        };
        match self.script_text(site, "expression", true) {
            Some((pointer, source)) if !source.contains("${") => {
                if script::is_javascript(evaluator) {
                    self.javascript(site, &pointer, source, source, "the expression", 0);
                } else if let Err(e) = script::check(evaluator, source) {
                    self.error(
                        &pointer,
                        format!("the expression of {} does not compile: {e}", site.label()),
                        Some("write a minijinja expression over the task's inputParameters, e.g. `count * 2`".into()),
                    );
                }
            }
            Some(_) => {}
            None if has_script_field(site, "expression") => {}
            None => self.error(
                &site.pointer,
                format!("INLINE {} has no `expression`", site.label()),
                Some("add `evaluatorType: javascript` and `expression:` to its inputParameters, e.g. `expression: \"$.n * 2\"`".into()),
            ),
        }
    }

    /// JSON_JQ_TRANSFORM: `inputParameters.queryExpression` is a jq program that compiles.
    fn jq_transform(&mut self, site: &Site<'_>) {
        let Some(params) = site.input_parameters() else {
            self.error(
                &site.pointer,
                format!(
                    "JSON_JQ_TRANSFORM {} has no `queryExpression` in its inputParameters",
                    site.label()
                ),
                Some(
                    "add `inputParameters: {queryExpression: \".a + .b\", a: ..., b: ...}`".into(),
                ),
            );
            return;
        };
        let pointer = push_pointer(&site.field_pointer("inputParameters"), "queryExpression");
        match params.get("queryExpression") {
            Some(Value::String(program)) => {
                if program.contains("${") {
                    return;
                }
                if let Err(e) = jq::check(program) {
                    let position = self.position_in_text(&pointer, program, e.position);
                    self.out.push(Diagnostic::at(
                        &self.src.file,
                        &self.src.text,
                        position,
                        format!("the jq program of {} does not compile: {e}", site.label()),
                        Some("write a jq program over the task's inputParameters, e.g. `.items | map(.name)`".into()),
                    ));
                }
            }
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("JSON_JQ_TRANSFORM {} has no `queryExpression` in its inputParameters", site.label()),
                Some("add `queryExpression:` (a jq program over the inputParameters) to inputParameters".into()),
            ),
            Some(other) => self.error(
                &pointer,
                format!("`queryExpression` of {} must be text, not {}", site.label(), describe(other)),
                None,
            ),
        }
    }

    /// The text of `field`, from inputParameters (when `in_inputs`) or else the task, with
    /// its pointer; a value that is not text is reported and gives `None`.
    fn script_text<'t>(
        &mut self,
        site: &'t Site<'t>,
        field: &str,
        in_inputs: bool,
    ) -> Option<(String, &'t str)> {
        let from_inputs = in_inputs
            .then(|| site.input_parameters().and_then(|m| m.get(field)))
            .flatten()
            .map(|v| {
                (
                    push_pointer(&site.field_pointer("inputParameters"), field),
                    v,
                )
            });
        let (pointer, value) =
            from_inputs.or_else(|| site.task.get(field).map(|v| (site.field_pointer(field), v)))?;
        match value {
            Value::String(text) => Some((pointer, text.as_str())),
            Value::Null => None,
            other => {
                self.error(
                    &pointer,
                    format!(
                        "`{field}` of {} must be text, not {}",
                        site.label(),
                        describe(other)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// Reports JavaScript `source` (at `pointer`, `written` as such in the file) that does
    /// not parse, at the offending place when the script stands as written in the file.
    /// `prefix` characters were put before the script's first line (LAMBDA's wrapper).
    fn javascript(
        &mut self,
        site: &Site<'_>,
        pointer: &str,
        source: &str,
        written: &str,
        what: &str,
        prefix: usize,
    ) {
        let Err(mut e) = script::check("javascript", source) else {
            return;
        };
        if let Some((1, column)) = e.position {
            e.position = Some((1, column.saturating_sub(prefix).max(1)));
        }
        // Past the script's end (the wrapper's closing line): the end of the script.
        let lines = written.lines().count().max(1);
        if e.position.is_some_and(|(line, _)| line > lines) {
            let last = written.lines().last().unwrap_or("");
            e.position = Some((lines, last.chars().count() + 1));
        }
        let position = self.position_in_text(pointer, written, e.position);
        self.out.push(Diagnostic::at(
            &self.src.file,
            &self.src.text,
            position,
            format!("{what} of {} is not valid JavaScript: {e}", site.label()),
            Some("write JavaScript as Conductor runs it: `$` is the task's inputParameters, e.g. `$.count > 1 ? 'many' : 'few'`".into()),
        ));
    }

    /// Where `at` (line and column inside `text`, the scalar at `pointer`) is in the file:
    /// exact for a one-line plain or quoted scalar and for a block scalar (`|`), else the
    /// scalar's own position.
    fn position_in_text(&self, pointer: &str, text: &str, at: Option<(usize, usize)>) -> Position {
        let node = self.src.position(pointer);
        let Some((line, column)) = at else {
            return node;
        };
        let Some(script_line) = text.lines().nth(line.saturating_sub(1)) else {
            return node;
        };
        let written: String = self
            .src
            .line_text(node.line)
            .chars()
            .skip(node.column.saturating_sub(1))
            .collect();
        if line == 1 && !text.contains('\n') {
            let offset = if written.starts_with(script_line) {
                Some(0)
            } else if written.starts_with(['"', '\'']) && written[1..].starts_with(script_line) {
                Some(1)
            } else {
                None
            };
            if let Some(offset) = offset {
                return Position {
                    line: node.line,
                    column: node.column + offset + column - 1,
                    width: 1,
                };
            }
        }
        // A block scalar (`|`): its node starts at the indicator or at the first line.
        let first_line = if written.starts_with(['|', '>']) {
            Some(node.line + 1)
        } else if text
            .lines()
            .next()
            .is_some_and(|l| !l.trim().is_empty() && written.trim() == l.trim())
        {
            Some(node.line)
        } else {
            None
        };
        if let Some(first_line) = first_line {
            let file_line = self.src.line_text(first_line + line - 1);
            let indent = file_line.len() - file_line.trim_start().len();
            if file_line.trim() == script_line.trim() && !script_line.trim().is_empty() {
                let script_indent = script_line.len() - script_line.trim_start().len();
                return Position {
                    line: first_line + line - 1,
                    column: indent + column.saturating_sub(script_indent),
                    width: 1,
                };
            }
        }
        node
    }

    // ---- (io) ----

    /// HTTP: the request, nested in `inputParameters.http_request` or flat in
    /// `inputParameters`: an absolute uri, a method 3ox sends, headers as a mapping, timeouts
    /// in whole milliseconds. Values written as `${...}` are checked when the task runs.
    fn http(&mut self, site: &Site<'_>) {
        use crate::engine::tasks::http::{
            IGNORED_REQUEST_FIELDS, METHODS, REQUEST_FIELDS, check_uri, millis,
        };
        self.io_common(site, "HTTP");
        let dynamic = |v: &Value| matches!(v, Value::String(s) if s.contains("${"));
        let Some(inputs) = site.input_parameters() else {
            self.error(
                &site.pointer,
                format!(
                    "HTTP {} has no `inputParameters` with the request",
                    site.label()
                ),
                Some(
                    "write `inputParameters: {http_request: {uri: https://..., method: GET}}`"
                        .into(),
                ),
            );
            return;
        };
        let inputs_pointer = site.field_pointer("inputParameters");
        let (spec, pointer) = match inputs.get("http_request") {
            Some(v) if dynamic(v) => return,
            Some(Value::Object(spec)) => (spec, push_pointer(&inputs_pointer, "http_request")),
            Some(other) => {
                self.error(
                    &push_pointer(&inputs_pointer, "http_request"),
                    format!(
                        "`http_request` of {} must be a mapping with uri and method, not {}",
                        site.label(),
                        describe(other)
                    ),
                    Some("write `http_request: {uri: https://..., method: GET}`".into()),
                );
                return;
            }
            None => (inputs, inputs_pointer.clone()),
        };
        if inputs.contains_key("http_request") {
            let known: Vec<&str> = REQUEST_FIELDS
                .iter()
                .chain(IGNORED_REQUEST_FIELDS)
                .copied()
                .collect();
            self.unknown_fields(
                spec,
                &pointer,
                &known,
                &format!("the HTTP request of {}", site.label()),
                "HTTP request",
            );
        }
        let at = |field: &str| push_pointer(&pointer, field);
        match spec.get("uri") {
            None => self.error(
                &pointer,
                format!("the HTTP request of {} has no `uri`", site.label()),
                Some("add `uri: https://...` (the address to call)".into()),
            ),
            Some(v) if dynamic(v) => {}
            Some(Value::String(uri)) => {
                if let Err(problem) = check_uri(uri.trim()) {
                    self.error(
                        &at("uri"),
                        problem,
                        Some("for example `uri: https://api.example.com/orders`".into()),
                    );
                }
            }
            Some(other) => self.error(
                &at("uri"),
                format!(
                    "`uri` of {} must be text, not {}",
                    site.label(),
                    describe(other)
                ),
                None,
            ),
        }
        match spec.get("method") {
            None | Some(Value::Null) => {}
            Some(v) if dynamic(v) => {}
            Some(Value::String(method))
                if METHODS.contains(&method.trim().to_ascii_uppercase().as_str()) => {}
            Some(other) => {
                let hint = match other
                    .as_str()
                    .and_then(|m| nearest(&m.to_ascii_uppercase(), METHODS.iter().copied()))
                {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("use one of {}", METHODS.join(", ")),
                };
                self.error(
                    &at("method"),
                    format!(
                        "`method` of {} must be one of {}, not {}",
                        site.label(),
                        METHODS.join(", "),
                        describe(other)
                    ),
                    Some(hint),
                );
            }
        }
        if let Some(headers) = spec.get("headers")
            && !headers.is_object()
            && !headers.is_null()
            && !dynamic(headers)
        {
            self.error(
                &at("headers"),
                format!(
                    "`headers` of {} must be a mapping of header names to values, not {}",
                    site.label(),
                    describe(headers)
                ),
                Some("write e.g. `headers: {Authorization: Bearer ...}`".into()),
            );
        }
        if let Some(Value::Object(headers)) = spec.get("headers") {
            for name in headers.keys() {
                if !crate::engine::tasks::http::is_header_name(name) {
                    self.error_at_key(
                        &push_pointer(&at("headers"), name),
                        format!(
                            "`{}` in the headers of {} is not a valid header name",
                            name.escape_debug(),
                            site.label()
                        ),
                        Some("header names are letters, digits and `-` (e.g. `X-Request-Id`), without spaces or `:`".into()),
                    );
                }
            }
        }
        for field in ["connectionTimeOut", "readTimeOut"] {
            if let Some(value) = spec.get(field)
                && !dynamic(value)
                && let Err(problem) = millis(Some(value), 0)
            {
                self.error(
                    &at(field),
                    format!("`{field}` of {} {problem}", site.label()),
                    Some(
                        "timeouts are milliseconds, e.g. `readTimeOut: 30000`; 0 means no limit"
                            .into(),
                    ),
                );
            }
        }
        for field in ["contentType", "accept"] {
            if let Some(value) = spec.get(field)
                && !matches!(value, Value::String(_) | Value::Null)
            {
                self.error(
                    &at(field),
                    format!(
                        "`{field}` of {} must be text, not {}",
                        site.label(),
                        describe(value)
                    ),
                    Some("for example `application/json`".into()),
                );
            }
        }
    }

    /// EVENT: a sink 3ox can publish to.
    fn event(&mut self, site: &Site<'_>) {
        self.io_common(site, "EVENT");
        let pointer = site.field_pointer("sink");
        let hint = "write `sink: agent:<name>` (an agent's inbox), `sink: conductor:<queue>` or `sink: 3ox:<topic>` (a station event folder under .3ox/events/)";
        match site.task.get("sink") {
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("EVENT {} has no `sink`", site.label()),
                Some(hint.into()),
            ),
            Some(Value::String(sink)) => {
                let workflow = self
                    .src
                    .value
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("workflow");
                let task_ref = site.reference().unwrap_or("task");
                if let Err(problem) =
                    crate::engine::tasks::event::parse_sink(sink, workflow, task_ref)
                {
                    self.error(&pointer, problem, Some(hint.into()));
                }
            }
            Some(other) => self.error(
                &pointer,
                format!(
                    "`sink` of {} must be text, not {}",
                    site.label(),
                    describe(other)
                ),
                Some(hint.into()),
            ),
        }
    }

    /// What HTTP and EVENT tasks share: 3ox completes them itself, so `asyncComplete: true`
    /// (completion from outside, which 3ox has no API for) is refused.
    fn io_common(&mut self, site: &Site<'_>, type_name: &str) {
        if let Some(flag) = site.task.get("asyncComplete")
            && flag.as_bool() == Some(true)
        {
            self.error(
                &site.field_pointer("asyncComplete"),
                format!(
                    "{} is {type_name} with `asyncComplete: true`; 3ox completes {type_name} tasks itself and has no API to complete them from outside",
                    site.label()
                ),
                Some("remove `asyncComplete` (or set it to false), and wait for the outside with a WAIT or HUMAN task".into()),
            );
        }
    }

    /// `sink` only means something on an EVENT task.
    fn misplaced_sink(&mut self, site: &Site<'_>) {
        if site.kind() == Some(TaskKind::Event) {
            return;
        }
        if let Some(sink) = site.task.get("sink")
            && !sink.is_null()
            && sink.as_str().is_none_or(|s| !s.is_empty())
        {
            self.error_at_key(
                &site.field_pointer("sink"),
                format!(
                    "`sink` only applies to EVENT tasks, but {} is {}",
                    site.label(),
                    site.type_name().unwrap_or("SIMPLE")
                ),
                Some("set `type: EVENT`, or remove `sink`".into()),
            );
        }
    }

    // ---- (misc) ----

    /// Task-level `inputTemplate` (a mapping of defaults) and Orkes' `inputExpression`
    /// (`{type: JSON_PATH, expression: $.<root>...}`, instead of inputParameters).
    fn input_defaults(&mut self, site: &Site<'_>) {
        if let Some(template) = site.task.get("inputTemplate")
            && !matches!(template, Value::Object(_) | Value::Null)
        {
            self.error(
                &site.field_pointer("inputTemplate"),
                format!(
                    "`inputTemplate` of {} must be a mapping of default inputs, not {}",
                    site.label(),
                    describe(template)
                ),
                Some("write one `key: default` per input; inputParameters override them".into()),
            );
        }
        let Some(expression) = site.task.get("inputExpression") else {
            return;
        };
        let pointer = site.field_pointer("inputExpression");
        let hint = "write `inputExpression: {type: JSON_PATH, expression: $.workflow.input}`";
        let Some(map) = expression.as_object() else {
            if !expression.is_null() {
                self.error(
                    &pointer,
                    format!(
                        "`inputExpression` of {} must be a mapping with `type` and `expression`, not {}",
                        site.label(),
                        describe(expression)
                    ),
                    Some(hint.into()),
                );
            }
            return;
        };
        match map.get("type") {
            Some(Value::String(t)) if mapping::INPUT_EXPRESSION_TYPES.contains(&t.as_str()) => {}
            Some(other) => self.error(
                &push_pointer(&pointer, "type"),
                format!(
                    "`inputExpression.type` of {} must be {}, not {}",
                    site.label(),
                    mapping::INPUT_EXPRESSION_TYPES.join(", "),
                    describe(other)
                ),
                Some(hint.into()),
            ),
            None => self.error(
                &pointer,
                format!("`inputExpression` of {} has no `type`", site.label()),
                Some(hint.into()),
            ),
        }
        match map.get("expression") {
            Some(Value::String(path)) => {
                if let Some(problem) = mapping::input_expression_problem(path) {
                    self.error(
                        &push_pointer(&pointer, "expression"),
                        format!("`inputExpression` of {}: {problem}", site.label()),
                        Some(hint.into()),
                    );
                }
            }
            other => self.error(
                &pointer,
                format!(
                    "`inputExpression` of {} needs an `expression` (a JSON path), not {}",
                    site.label(),
                    other.map_or_else(|| "none".to_string(), describe)
                ),
                Some(hint.into()),
            ),
        }
        if site.input_parameters().is_some_and(|m| !m.is_empty()) {
            self.error_at_key(
                &pointer,
                format!(
                    "{} has both `inputExpression` and `inputParameters`; the expression gives the whole input",
                    site.label()
                ),
                Some("keep one of the two".into()),
            );
        }
    }

    /// An `inputExpression` path reads `workflow` or a task of the workflow.
    fn input_expression_roots(&mut self, sites: &[&Site<'_>], refs: &[(String, String)]) {
        let known: Vec<&str> = refs.iter().map(|(name, _)| name.as_str()).collect();
        for site in sites {
            let Some(path) = site
                .task
                .get("inputExpression")
                .and_then(|e| e.get("expression"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let Some(root) = mapping::input_expression_root(path) else {
                continue;
            };
            if root.is_empty() || root == "workflow" || known.contains(&root) {
                continue;
            }
            let hint = match nearest(root, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "start the path with `$.workflow` or `$.<taskReferenceName>`".to_string(),
            };
            self.error(
                &push_pointer(&site.field_pointer("inputExpression"), "expression"),
                format!(
                    "`inputExpression` of {} reads `{root}`, which is not `workflow` or a task of this workflow",
                    site.label()
                ),
                Some(hint),
            );
        }
    }

    /// The workflow's `variables` (initial values) and `inputTemplate` (input defaults) are
    /// mappings.
    fn workflow_defaults(&mut self, root: &Map<String, Value>) {
        for (field, what) in [
            (
                "variables",
                "initial values of `${workflow.variables.<name>}`",
            ),
            ("inputTemplate", "default values of the workflow's input"),
        ] {
            if let Some(value) = root.get(field)
                && !matches!(value, Value::Object(_) | Value::Null)
            {
                self.error(
                    &push_pointer("", field),
                    format!(
                        "the workflow's `{field}` must be a mapping ({what}), not {}",
                        describe(value)
                    ),
                    Some(format!("write `{field}:` with one `name: value` per line")),
                );
            }
        }
    }

    /// TERMINATE: `terminationStatus` is given, and when written as it is, one of the three.
    fn terminate(&mut self, site: &Site<'_>) {
        let statuses = crate::engine::tasks::terminate::STATUSES;
        let hint = format!(
            "add `terminationStatus: FAILED` (one of {}) to its inputParameters",
            statuses.join(", ")
        );
        let Some(status) = site
            .input_parameters()
            .and_then(|m| m.get("terminationStatus"))
        else {
            if site.task.get("inputExpression").is_none() {
                self.error(
                    &site.pointer,
                    format!(
                        "TERMINATE {} has no `terminationStatus` input",
                        site.label()
                    ),
                    Some(hint),
                );
            }
            return;
        };
        let pointer = push_pointer(&site.field_pointer("inputParameters"), "terminationStatus");
        match status {
            Value::String(s) if s.contains("${") => {}
            Value::String(s) if statuses.contains(&s.as_str()) => {}
            other => {
                let suggestion = other
                    .as_str()
                    .and_then(|s| nearest(&s.to_uppercase(), statuses.iter().copied()))
                    .map_or(hint, |best| format!("did you mean `{best}`?"));
                self.error(
                    &pointer,
                    format!(
                        "`terminationStatus` of {} must be one of {}, not {}",
                        site.label(),
                        statuses.join(", "),
                        describe(other)
                    ),
                    Some(suggestion),
                );
            }
        }
        for field in ["terminationReason"] {
            if let Some(value) = site.input_parameters().and_then(|m| m.get(field))
                && !matches!(value, Value::String(_) | Value::Null)
            {
                self.error(
                    &push_pointer(&site.field_pointer("inputParameters"), field),
                    format!(
                        "`{field}` of {} must be text, not {}",
                        site.label(),
                        describe(value)
                    ),
                    None,
                );
            }
        }
    }

    /// SET_VARIABLE: its inputParameters are the variables, so it needs some.
    fn set_variable(&mut self, site: &Site<'_>) {
        let has_input = site.input_parameters().is_some_and(|m| !m.is_empty())
            || site.task.get("inputExpression").is_some();
        if !has_input {
            self.error(
                &site.pointer,
                format!(
                    "SET_VARIABLE {} sets nothing: it has no inputParameters",
                    site.label()
                ),
                Some("add `inputParameters:` with the variables to set, e.g. `count: ${step.output.count}`".into()),
            );
        }
    }

    /// EXCLUSIVE_JOIN on its own: `joinOn` and `defaultExclusiveJoinTask` are lists of names.
    fn exclusive_join_shape(&mut self, site: &Site<'_>) {
        self.join_on_shape(site);
        let pointer = site.field_pointer("defaultExclusiveJoinTask");
        match site.task.get("defaultExclusiveJoinTask") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        self.error(
                            &push_pointer(&pointer, &i.to_string()),
                            format!(
                                "`defaultExclusiveJoinTask` entries must be task reference names, not {}",
                                describe(item)
                            ),
                            None,
                        );
                    }
                }
            }
            Some(other) => self.error(
                &pointer,
                format!(
                    "`defaultExclusiveJoinTask` of {} must be a list of task reference names, not {}",
                    site.label(),
                    describe(other)
                ),
                None,
            ),
        }
    }

    /// In each list, an EXCLUSIVE_JOIN directly follows a SWITCH (or DECISION); its `joinOn`
    /// names tasks inside that SWITCH's cases, and `defaultExclusiveJoinTask` names tasks of
    /// the workflow.
    fn exclusive_joins(&mut self, list: &TaskList<'_>, refs: &[(String, String)]) {
        for (i, site) in list.items.iter().enumerate() {
            if site.kind() != Some(TaskKind::ExclusiveJoin) {
                continue;
            }
            let switch = i
                .checked_sub(1)
                .and_then(|p| list.items.get(p))
                .filter(|p| p.kind() == Some(TaskKind::Switch));
            let Some(switch) = switch else {
                self.error(
                    &site.field_pointer("type"),
                    format!(
                        "EXCLUSIVE_JOIN {} does not directly follow a SWITCH or DECISION",
                        site.label()
                    ),
                    Some("move it right after the SWITCH whose branches it joins".into()),
                );
                continue;
            };
            let mut inside = Vec::new();
            let mut lists = Vec::new();
            if let Some(cases) = switch.task.get("decisionCases").and_then(Value::as_object) {
                for case in cases.values().filter_map(Value::as_array) {
                    collect_lists(case, "", &mut lists);
                }
            }
            if let Some(default) = switch.task.get("defaultCase").and_then(Value::as_array) {
                collect_lists(default, "", &mut lists);
            }
            inside.extend(
                lists
                    .iter()
                    .flat_map(|l| l.items.iter())
                    .filter_map(|s| s.reference().map(str::to_owned)),
            );
            let known: Vec<&str> = refs.iter().map(|(name, _)| name.as_str()).collect();
            let targets = [
                (
                    "joinOn",
                    inside.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
                ("defaultExclusiveJoinTask", known),
            ];
            for (field, allowed) in targets {
                let Some(entries) = site.task.get(field).and_then(Value::as_array) else {
                    continue;
                };
                for (n, entry) in entries.iter().enumerate() {
                    let Some(name) = entry.as_str() else { continue };
                    if allowed.contains(&name) {
                        continue;
                    }
                    let (message, listed) = if field == "joinOn" {
                        (
                            format!(
                                "EXCLUSIVE_JOIN {} waits on `{name}`, which is not in the cases of {}",
                                site.label(),
                                switch.label()
                            ),
                            "tasks in the cases",
                        )
                    } else {
                        (
                            format!(
                                "`defaultExclusiveJoinTask` of {} names `{name}`, which is not a task of this workflow",
                                site.label()
                            ),
                            "tasks",
                        )
                    };
                    let hint = match nearest(name, allowed.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("{listed}: {}", allowed.join(", ")),
                    };
                    self.error(
                        &push_pointer(&site.field_pointer(field), &n.to_string()),
                        message,
                        Some(hint),
                    );
                }
            }
        }
    }

    /// DYNAMIC: `dynamicTaskNameParam` names one of its inputs.
    fn dynamic(&mut self, site: &Site<'_>) {
        let hint = "add `dynamicTaskNameParam: taskToRun` and `taskToRun: ${workflow.input.task}` in inputParameters";
        match site.task.get("dynamicTaskNameParam") {
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("DYNAMIC {} has no `dynamicTaskNameParam`", site.label()),
                Some(hint.into()),
            ),
            Some(Value::String(name)) if !name.trim().is_empty() => {
                let inputs: Vec<&str> = site
                    .input_parameters()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if !inputs.contains(&name.as_str()) && site.task.get("inputExpression").is_none() {
                    let hint = match nearest(name, inputs.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("add `{name}: ${{...}}` to the task's inputParameters"),
                    };
                    self.error(
                        &site.field_pointer("dynamicTaskNameParam"),
                        format!(
                            "DYNAMIC {} takes its task name from input `{name}`, which is not in its inputParameters",
                            site.label()
                        ),
                        Some(hint),
                    );
                }
            }
            Some(other) => self.error(
                &site.field_pointer("dynamicTaskNameParam"),
                format!(
                    "`dynamicTaskNameParam` of {} must be the name of an input, not {}",
                    site.label(),
                    describe(other)
                ),
                Some(hint.into()),
            ),
        }
    }

    // ---- (interop) ----
    /// A Conductor file that is not a workflow definition (a start request, an event
    /// handler, a schedule, task definitions) is named for what it is, with one error.
    fn not_a_workflow(&mut self) -> bool {
        let Some(found) = super::conductor::recognise(&self.src.value) else {
            return false;
        };
        self.error("", found.message, Some(found.hint));
        true
    }

    // ---- (mock) ----
}

/// The message for an `evaluatorType` 3ox does not run: Conductor's own ones are named as
/// such.
fn unknown_evaluator(evaluator: &str, label: &str) -> String {
    match evaluator {
        "python" => format!(
            "evaluator `python` of {label} is not supported: 3ox runs no Python (Conductor's Jython evaluator)"
        ),
        _ => format!("unknown evaluator `{evaluator}` in {label}"),
    }
}

/// Whether `field` is written on the task or in its inputParameters (even if not as text).
fn has_script_field(site: &Site<'_>, field: &str) -> bool {
    site.task.contains_key(field)
        || site
            .input_parameters()
            .is_some_and(|m| m.contains_key(field))
}

/// Collects `tasks` and, recursively, every list of tasks nested in them.
fn collect_lists<'v>(tasks: &'v [Value], pointer: &str, lists: &mut Vec<TaskList<'v>>) {
    let mut items = Vec::new();
    let mut not_tasks = Vec::new();
    let mut nested: Vec<(String, &'v [Value])> = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let at = push_pointer(pointer, &i.to_string());
        let Some(map) = task.as_object() else {
            not_tasks.push((at, task));
            continue;
        };
        if let Some(cases) = map.get("decisionCases").and_then(Value::as_object) {
            let cases_at = push_pointer(&at, "decisionCases");
            for (case, list) in cases {
                if let Some(list) = list.as_array() {
                    nested.push((push_pointer(&cases_at, case), list));
                }
            }
        }
        for field in ["defaultCase", "loopOver"] {
            if let Some(list) = map.get(field).and_then(Value::as_array) {
                nested.push((push_pointer(&at, field), list));
            }
        }
        if let Some(branches) = map.get("forkTasks").and_then(Value::as_array) {
            let fork_at = push_pointer(&at, "forkTasks");
            for (b, branch) in branches.iter().enumerate() {
                if let Some(branch) = branch.as_array() {
                    nested.push((push_pointer(&fork_at, &b.to_string()), branch));
                }
            }
        }
        items.push(Site {
            pointer: at,
            task: map,
        });
    }
    lists.push(TaskList { items, not_tasks });
    for (pointer, list) in nested {
        collect_lists(list, &pointer, lists);
    }
}

/// Every string in `value`, with its pointer.
fn string_leaves<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v str)>) {
    match value {
        Value::String(s) => out.push((pointer, s)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, push_pointer(&pointer, &i.to_string()), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                string_leaves(item, push_pointer(&pointer, key), out);
            }
        }
        _ => {}
    }
}

/// Names a value's kind in messages ("a list", "the text `x`").
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the text `{s}`"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

/// The candidate closest to `word`, if one is close enough to be a likely misspelling.
fn nearest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(&word, &c.to_lowercase())))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostics(text: &str) -> Vec<Diagnostic> {
        let src = Source::parse(text, "w.yaml").unwrap_or_else(|d| panic!("{}", d.render()));
        check(&src)
    }

    /// `(line, column, message)` of each diagnostic.
    fn found(text: &str) -> Vec<(usize, usize, String)> {
        diagnostics(text)
            .into_iter()
            .map(|d| (d.line, d.column, d.message))
            .collect()
    }

    fn one(text: &str) -> Diagnostic {
        let mut all = diagnostics(text);
        assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
        all.remove(0)
    }

    const VALID: &str = "\
name: inventory
version: 2
inputParameters: [folders]
tasks:
  - name: list_folders
    taskReferenceName: list
    agent: lister
    retry: {count: 3, logic: EXPONENTIAL_BACKOFF, delay: 2s, maxDelay: 30, jitter: 500ms}
    inputParameters:
      root: ${workflow.input.folders}
  - name: fan_out
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters:
      forkTaskName: validate_folder
      forkTaskInputs: ${list.output.folders}
  - name: wait
    taskReferenceName: fan_join
    type: JOIN
  - name: decide
    taskReferenceName: decide
    type: SWITCH
    evaluatorType: expression
    expression: problems > 0
    inputParameters:
      problems: ${fan_join.output.fan_0.count}
    decisionCases:
      \"true\":
        - name: report
          taskReferenceName: report
    defaultCase: []
outputParameters:
  first: ${fan_0.output}
  decided: ${decide.output.selectedCase}
";

    #[test]
    fn a_valid_workflow_has_no_diagnostics() {
        assert_eq!(found(VALID), vec![]);
    }

    #[test]
    fn the_top_level_must_be_a_mapping() {
        let d = one("- a\n- b\n");
        assert!(
            d.message
                .starts_with("a workflow file is a mapping with name and tasks"),
            "{}",
            d.message
        );
    }

    #[test]
    fn name_and_tasks_are_required() {
        let all = found("description: x\n");
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].2.contains("no `name`"));
        assert!(all[1].2.contains("no `tasks`"));
        assert!(
            one("name: x\ntasks: []\n")
                .message
                .contains("`tasks` list is empty")
        );
    }

    #[test]
    fn workflow_field_types_are_checked() {
        let all = found(
            "name: x\nversion: one\ninputParameters: {a: 1}\noutputParameters: [a]\ntasks:\n  - name: a\n    taskReferenceName: a\n",
        );
        let lines: Vec<usize> = all.iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![2, 3, 4], "{all:?}");
    }

    #[test]
    fn unknown_workflow_field_points_at_the_key_and_suggests() {
        let d =
            one("name: x\noutputParamters: {}\ntasks:\n  - name: a\n    taskReferenceName: a\n");
        assert_eq!((d.line, d.column, d.width), (2, 1, "outputParamters".len()));
        assert_eq!(d.hint.as_deref(), Some("did you mean `outputParameters`?"));
    }

    #[test]
    fn unknown_task_field_names_the_task() {
        let d =
            one("name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputParameter: {}\n");
        assert_eq!((d.line, d.column), (5, 5));
        assert_eq!(d.message, "unknown field `inputParameter` in task `a`");
        assert_eq!(d.hint.as_deref(), Some("did you mean `inputParameters`?"));
    }

    #[test]
    fn task_names_are_required_text() {
        let all = found("name: x\ntasks:\n  - name: a\n  - taskReferenceName: 3\n");
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(
            (all[0].0, all[0].2.as_str()),
            (3, "task `a` has no `taskReferenceName`")
        );
        assert!(all[1].2.contains("has no `name`"));
        assert!(all[2].2.contains("must be non-empty text"));
    }

    #[test]
    fn non_mapping_tasks_are_reported() {
        let d = one("name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n  - just text\n");
        assert_eq!(d.line, 5);
        assert!(d.message.starts_with("a task is a mapping"));
    }

    #[test]
    fn unknown_type_suggests_the_nearest() {
        let d = one("name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    type: SIMPEL\n");
        assert_eq!((d.line, d.column), (5, 11));
        assert_eq!(d.hint.as_deref(), Some("did you mean `SIMPLE`?"));
    }

    #[test]
    fn duplicate_reference_names_say_where_the_first_is() {
        let d = one(
            "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n  - name: b\n    taskReferenceName: a\n",
        );
        assert_eq!((d.line, d.column), (6, 24));
        assert_eq!(
            d.message,
            "task reference name `a` is already used by the task at line 4, column 24"
        );
    }

    #[test]
    fn duplicates_are_found_inside_nested_tasks() {
        let text = "name: x\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    evaluatorType: value-param\n    expression: k\n    inputParameters: {k: 1}\n    decisionCases:\n      a:\n        - name: a\n          taskReferenceName: s\n";
        let d = one(text);
        assert_eq!(d.line, 12);
    }

    #[test]
    fn unknown_references_point_at_the_reference_and_suggest() {
        let text = "name: x\ntasks:\n  - name: a\n    taskReferenceName: check\n  - name: b\n    taskReferenceName: b\n    inputParameters:\n      x: \"count: ${chek.output.x}\"\n";
        let d = one(text);
        assert_eq!(
            d.message,
            "`${chek.output.x}` refers to task `chek`, which is not defined"
        );
        assert_eq!(
            (d.line, d.column, d.width),
            (8, 18, "${chek.output.x}".len())
        );
        assert_eq!(
            d.hint.as_deref(),
            Some("did you mean `check`? known tasks: check, b")
        );
    }

    #[test]
    fn workflow_output_references_are_checked() {
        let d = one(
            "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\noutputParameters:\n  r: ${nope.output}\n",
        );
        assert_eq!((d.line, d.column), (6, 6));
    }

    #[test]
    fn conductor_current_task_id_is_accepted() {
        let text = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputParameters: {id: \"${CPEWF_TASK_ID}\"}\n";
        assert_eq!(diagnostics(text), Vec::new());
    }

    #[test]
    fn dynamic_fork_children_may_be_referenced() {
        let text = "name: x\ntasks:\n  - name: f\n    taskReferenceName: fan\n    type: FORK_JOIN_DYNAMIC\n    inputParameters: {forkTaskName: w, forkTaskInputs: [1, 2]}\n  - name: j\n    taskReferenceName: j\n    type: JOIN\noutputParameters:\n  a: ${fan_1.output}\n  b: ${fanx.output}\n";
        let d = one(text);
        assert_eq!(d.line, 12);
    }

    #[test]
    fn retry_policy_is_checked() {
        let text = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    retry:\n      count: -1\n      logic: EXPONENTIAL\n      delay: soon\n      backof: 2\n";
        let all = found(text);
        let lines: Vec<usize> = all.iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![6, 7, 8, 9], "{all:?}");
        let hints: Vec<Option<String>> = diagnostics(text).into_iter().map(|d| d.hint).collect();
        assert_eq!(
            hints[1].as_deref(),
            Some("did you mean `EXPONENTIAL_BACKOFF`?")
        );
        assert_eq!(hints[3].as_deref(), Some("did you mean `backoffScale`?"));
    }

    #[test]
    fn conductor_retry_fields_are_checked() {
        let text = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    retryCount: many\n    taskDefinition:\n      retryLogic: RANDOM\n";
        let lines: Vec<usize> = found(text).iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![5, 7]);
    }

    #[test]
    fn agent_names_and_references_must_be_plain_names() {
        for (bad, problem) in [
            ("../x", "path separator"),
            ("'..'", "starts with `.`"),
            ("a/b", "path separator"),
            ("/etc", "path separator"),
            ("\"a\\x1bb\"", "control character"),
            ("\"a\\nb\"", "control character"),
            ("'C:x'", "`:`"),
        ] {
            let text = format!(
                "name: x\ntasks:\n  - name: a\n    taskReferenceName: {bad}\n    agent: {bad}\n"
            );
            let found = found(&text);
            assert_eq!(found.len(), 2, "{bad}: {found:?}");
            assert_eq!((found[0].0, found[1].0), (4, 5), "{bad}: {found:?}");
            for (_, _, message) in &found {
                assert!(
                    message.contains("is not usable as a name") && message.contains(problem),
                    "{bad}: {message}"
                );
                assert!(
                    !message.chars().any(char::is_control),
                    "the message stays on one line: {message:?}"
                );
            }
        }
        assert_eq!(
            found(
                "name: x\ntasks:\n  - {name: a, taskReferenceName: check-1_b, agent: checker.v2}\n"
            ),
            vec![]
        );
    }

    #[test]
    fn optional_and_agent_types_are_checked() {
        let text = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    optional: yes please\n    agent: [a]\n";
        let lines: Vec<usize> = found(text).iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![5, 6]);
    }

    fn switch(evaluator: &str, expression: &str) -> String {
        format!(
            "name: x\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    evaluatorType: {evaluator}\n    expression: {expression}\n    inputParameters:\n      kind: ${{workflow.input.kind}}\n    decisionCases:\n      a: []\n"
        )
    }

    #[test]
    fn switch_value_param_must_name_an_input() {
        assert_eq!(found(&switch("value-param", "kind")), vec![]);
        let d = one(&switch("value-param", "knd"));
        assert_eq!((d.line, d.column), (7, 17));
        assert_eq!(d.hint.as_deref(), Some("did you mean `kind`?"));
    }

    #[test]
    fn switch_expression_must_compile() {
        assert_eq!(found(&switch("expression", "\"kind == 'a'\"")), vec![]);
        let d = one(&switch("expression", "\"kind ==\""));
        assert!(d.message.contains("does not compile"), "{}", d.message);
    }

    #[test]
    fn javascript_switches_must_parse() {
        assert_eq!(found(&switch("javascript", "\"$.kind\"")), vec![]);
        assert_eq!(
            found(&switch("graaljs", "\"$.kind == 'a' ? 'a' : 'b'\"")),
            vec![]
        );
        let d = one(&switch("javascript", "\"$.kind ==\""));
        assert!(
            d.message.contains("is not valid JavaScript"),
            "{}",
            d.message
        );
        // Line 7 is `    expression: "$.kind =="`; the script ends at column 27.
        assert_eq!((d.line, d.column), (7, 27));
        assert!(
            one(&switch("value-parm", "kind"))
                .hint
                .unwrap()
                .contains("value-param")
        );
    }

    #[test]
    fn switch_needs_an_expression_and_case_lists() {
        let text = "name: x\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    decisionCases:\n      a: {}\n";
        let all = found(text);
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all.iter().any(|d| d.2.contains("no `expression`")));
        assert!(
            all.iter()
                .any(|d| d.0 == 7 && d.2.contains("must be a list of tasks"))
        );
    }

    const FORK: &str = "name: x\ntasks:\n  - name: f\n    taskReferenceName: f\n    type: FORK_JOIN\n    forkTasks:\n      - - name: a\n          taskReferenceName: a\n      - - name: b\n          taskReferenceName: b\n";

    #[test]
    fn fork_join_needs_a_join_right_after() {
        let d = one(FORK);
        assert_eq!(d.message, "FORK_JOIN task `f` must be followed by a JOIN");
        assert_eq!(d.line, 5);
        let joined = format!(
            "{FORK}  - name: j\n    taskReferenceName: j\n    type: JOIN\n    joinOn: [a, b]\n"
        );
        assert_eq!(found(&joined), vec![]);
    }

    #[test]
    fn join_on_must_name_tasks_of_the_fork() {
        let text = format!(
            "{FORK}  - name: j\n    taskReferenceName: j\n    type: JOIN\n    joinOn: [a, c]\n"
        );
        let d = one(&text);
        assert_eq!((d.line, d.column), (14, 17));
        assert_eq!(
            d.message,
            "JOIN task `j` waits on `c`, which is not in the branches of task `f`"
        );
    }

    #[test]
    fn fork_branches_must_not_be_empty() {
        let text = "name: x\ntasks:\n  - name: f\n    taskReferenceName: f\n    type: FORK_JOIN\n    forkTasks: [[]]\n  - name: j\n    taskReferenceName: j\n    type: JOIN\n";
        assert!(
            one(text)
                .message
                .contains("branch 1 of FORK_JOIN task `f` is empty")
        );
    }

    #[test]
    fn join_must_follow_a_fork() {
        let d = one(
            "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n  - name: j\n    taskReferenceName: j\n    type: JOIN\n",
        );
        assert_eq!(d.line, 7);
        assert!(d.message.contains("does not directly follow a FORK_JOIN"));
    }

    #[test]
    fn dynamic_fork_must_say_what_to_fork() {
        let base =
            "name: x\ntasks:\n  - name: f\n    taskReferenceName: f\n    type: FORK_JOIN_DYNAMIC\n";
        let join = "  - name: j\n    taskReferenceName: j\n    type: JOIN\n";
        assert!(
            one(&format!("{base}{join}"))
                .message
                .contains("does not say what to fork")
        );
        let no_inputs = format!("{base}    inputParameters: {{forkTaskName: w}}\n{join}");
        assert!(one(&no_inputs).message.contains("no `forkTaskInputs`"));
        let classic = format!(
            "{base}    dynamicForkTasksParam: tasks\n    dynamicForkTasksInputParamName: inputz\n    inputParameters: {{tasks: [], inputs: {{}}}}\n{join}"
        );
        let d = one(&classic);
        assert_eq!(d.line, 7);
        assert_eq!(d.hint.as_deref(), Some("did you mean `inputs`?"));
        assert!(
            one(&format!(
                "{base}    inputParameters: {{forkTaskName: w, forkTaskInputs: []}}\n"
            ))
            .message
            .contains("must be followed by a JOIN")
        );
    }

    #[test]
    fn fields_of_other_types_are_reported() {
        let d = one(
            "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    forkTasks: [[{name: b, taskReferenceName: b}]]\n",
        );
        assert_eq!(
            d.message,
            "`forkTasks` only applies to FORK_JOIN tasks, but task `a` is SIMPLE"
        );
        assert_eq!((d.line, d.column), (5, 5));
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = "name: x\nowner: me\ntasks:\n  - name: a\n    taskReferenceName: a\n    type: WAYT\n  - name: b\n    taskReferenceName: a\n    inputParameters: {x: \"${zz.output}\"}\n";
        let lines: Vec<usize> = found(text).iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![2, 6, 8, 9]);
    }

    #[test]
    fn human_tasks_are_checked() {
        let ok = "name: x\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, approver: boss, deadline: 30m, onDeadline: ESCALATE, escalateTo: chief, failOnReject: true, inputParameters: {question: ok?}}\n";
        assert!(diagnostics(ok).is_empty(), "{:?}", diagnostics(ok));
        let bad = "name: x\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, approver: ../x, deadline: soon, onDeadline: ESCALATE, failOnReject: 1}\n  - {name: s, taskReferenceName: s, approver: boss}\n";
        let messages: Vec<String> = diagnostics(bad).into_iter().map(|d| d.message).collect();
        for expected in [
            "`approver: ../x` is not usable as a name",
            "`deadline` of task `gate`",
            "names no `escalateTo`",
            "`failOnReject` of task `gate` must be true or false",
            "`approver` only applies to HUMAN tasks, but task `s` is SIMPLE",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "{expected}: {messages:?}"
            );
        }
    }

    #[test]
    fn a_valid_tree_deserializes_into_the_model() {
        let def = super::super::parse_str(VALID, std::path::Path::new("w.yaml")).unwrap();
        assert_eq!(def.tasks.len(), 4);
        assert_eq!(def.tasks[0].effective_retry().count, 3);
    }

    // ---- (script) ----

    fn task_yaml(body: &str) -> String {
        format!("name: x\ntasks:\n  - name: t\n    taskReferenceName: t\n{body}")
    }

    #[test]
    fn inline_needs_an_expression_that_parses() {
        let ok = task_yaml(
            "    type: INLINE\n    inputParameters:\n      evaluatorType: graaljs\n      expression: \"function e() { return $.n } e();\"\n      n: 1\n",
        );
        assert_eq!(found(&ok), vec![]);
        let safe = task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: expression, expression: n * 2, n: 1}\n",
        );
        assert_eq!(found(&safe), vec![]);
        let missing = one(&task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: javascript}\n",
        ));
        assert_eq!(missing.message, "INLINE task `t` has no `expression`");
        let broken = one(&task_yaml(
            "    type: INLINE\n    inputParameters:\n      evaluatorType: javascript\n      expression: |\n        var a = 1;\n        a +* 2;\n",
        ));
        assert!(
            broken.message.contains("is not valid JavaScript"),
            "{}",
            broken.message
        );
        assert!(broken.message.contains("line 2"), "{}", broken.message);
        assert_eq!(broken.line, 10, "the script's second line, in the file");
        let python = one(&task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: python, expression: '1'}\n",
        ));
        assert!(
            python
                .message
                .contains("`python` of task `t` is not supported"),
            "{}",
            python.message
        );
        let unknown = one(&task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: javascrpt, expression: '1'}\n",
        ));
        assert_eq!(unknown.hint.as_deref(), Some("did you mean `javascript`?"));
    }

    #[test]
    fn lambda_needs_a_script_expression_that_parses() {
        let ok = task_yaml(
            "    type: LAMBDA\n    inputParameters:\n      scriptExpression: \"if ($.a == 1) { return 1 } else { return 2 }\"\n",
        );
        assert_eq!(found(&ok), vec![]);
        let on_task = task_yaml("    type: LAMBDA\n    scriptExpression: return 1\n");
        assert_eq!(found(&on_task), vec![]);
        let missing = one(&task_yaml(
            "    type: LAMBDA\n    inputParameters: {a: 1}\n",
        ));
        assert_eq!(missing.message, "LAMBDA task `t` has no `scriptExpression`");
        let broken = one(&task_yaml(
            "    type: LAMBDA\n    scriptExpression: return 1 +\n",
        ));
        assert!(
            broken.message.contains("(line 1, column 11)"),
            "{}",
            broken.message
        );
        assert_eq!((broken.line, broken.column), (6, 33));
    }

    #[test]
    fn decision_needs_a_case_value_param_or_expression() {
        let cases = "    decisionCases:\n      a: []\n";
        let by_param = task_yaml(&format!(
            "    type: DECISION\n    caseValueParam: kind\n    inputParameters: {{kind: a}}\n{cases}"
        ));
        assert_eq!(found(&by_param), vec![]);
        let typo = one(&task_yaml(&format!(
            "    type: DECISION\n    caseValueParam: knd\n    inputParameters: {{kind: a}}\n{cases}"
        )));
        assert_eq!(typo.hint.as_deref(), Some("did you mean `kind`?"));
        assert_eq!(typo.line, 6);
        let by_script = task_yaml(&format!(
            "    type: DECISION\n    caseExpression: \"$.kind == 'a' ? 'a' : 'b'\"\n{cases}"
        ));
        assert_eq!(found(&by_script), vec![]);
        let broken = one(&task_yaml(&format!(
            "    type: DECISION\n    caseExpression: \"if ($.kind) {{\"\n{cases}"
        )));
        assert!(
            broken.message.contains("caseExpression"),
            "{}",
            broken.message
        );
        let neither = one(&task_yaml(&format!("    type: DECISION\n{cases}")));
        assert!(
            neither
                .message
                .contains("neither `caseValueParam` nor `caseExpression`")
        );
    }

    #[test]
    fn jq_programs_must_compile() {
        let ok = task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters:\n      queryExpression: \".a + .b | map(.x)\"\n",
        );
        assert_eq!(found(&ok), vec![]);
        let undefined = one(&task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters:\n      queryExpression: .a | frobnicate\n",
        ));
        assert!(
            undefined.message.contains("undefined filter `frobnicate`"),
            "{}",
            undefined.message
        );
        assert_eq!((undefined.line, undefined.column), (7, 29));
        let missing = one(&task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters: {a: 1}\n",
        ));
        assert!(missing.message.contains("no `queryExpression`"));
        let not_text = one(&task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters: {queryExpression: 3}\n",
        ));
        assert!(not_text.message.contains("must be text"));
    }
}
