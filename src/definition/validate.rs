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
use crate::expr::{condition, mapping};

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
    // 3ox additions.
    "agent",
    "retry",
    // 3ox HUMAN task fields (see docs/human-tasks.md).
    "approver",
    "deadline",
    "onDeadline",
    "escalateTo",
    "failOnReject",
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
const CURRENT_TASK_ID: &str = "CPEWF_TASK_ID";

/// SWITCH evaluators 3ox runs.
const EVALUATORS: &[&str] = &["value-param", "expression"];

/// SWITCH evaluators Conductor has that 3ox does not run yet.
const EVALUATORS_NOT_YET: &[&str] = &["javascript", "graaljs"];

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
        }
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
        match site.kind() {
            Some(TaskKind::Switch) => self.switch(site),
            Some(TaskKind::ForkJoin) => self.fork_join(site),
            Some(TaskKind::ForkJoinDynamic) => self.fork_join_dynamic(site),
            Some(TaskKind::Join) => self.join_on_shape(site),
            Some(TaskKind::Human) => self.human(site),
            // ---- DO_WHILE (loop) ----

            // ---- SUB_WORKFLOW / START_WORKFLOW (subflow) ----
            Some(TaskKind::SubWorkflow) => self.sub_workflow(site),
            Some(TaskKind::StartWorkflow) => self.start_workflow(site),

            // ---- WAIT, timeouts (timers) ----

            // ---- INLINE / LAMBDA / JSON_JQ_TRANSFORM / DECISION (script) ----

            // ---- HTTP / EVENT / agent-served (io) ----

            // ---- SET_VARIABLE / TERMINATE / EXCLUSIVE_JOIN / DYNAMIC (misc) ----
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
            ("approver", "HUMAN", TaskKind::Human),
            ("deadline", "HUMAN", TaskKind::Human),
            ("onDeadline", "HUMAN", TaskKind::Human),
            ("escalateTo", "HUMAN", TaskKind::Human),
            ("failOnReject", "HUMAN", TaskKind::Human),
        ] {
            if kind == owner_kind {
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
            if !empty {
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
        self.switch_evaluator(site);
        self.switch_cases(site);
    }

    fn switch_evaluator(&mut self, site: &Site<'_>) {
        let evaluator_hint = "use `evaluatorType: value-param` (the expression names an input) or `evaluatorType: expression` (a condition such as `count > 0`)";
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
            Some(e) if EVALUATORS_NOT_YET.contains(&e) => self.error(
                &pointer,
                format!("evaluator `{e}` is not supported yet"),
                Some("use `evaluatorType: expression` with 3ox's condition language (e.g. `count > 0`), or `value-param`".into()),
            ),
            Some(e) => {
                let all = EVALUATORS.iter().chain(EVALUATORS_NOT_YET).copied();
                let hint = match nearest(e, all) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => evaluator_hint.to_string(),
                };
                self.error(&pointer, format!("unknown evaluator `{e}` in {}", site.label()), Some(hint));
            }
            None => {}
        }
    }

    /// `value-param`: the expression names one of the task's inputs.
    fn value_param(&mut self, site: &Site<'_>, name: &str) {
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
            &site.field_pointer("expression"),
            format!(
                "SWITCH {} switches on input `{name}`, which is not in its inputParameters",
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
            if !has_input("forkTaskName") {
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
        let mut places: Vec<(String, &Value)> = Vec::new();
        if let Some(output) = root.get("outputParameters") {
            places.push(("/outputParameters".to_string(), output));
        }
        for site in sites {
            if let Some(inputs) = site.task.get("inputParameters") {
                places.push((site.field_pointer("inputParameters"), inputs));
            }
        }
        for (pointer, value) in places {
            let mut strings = Vec::new();
            string_leaves(value, pointer, &mut strings);
            for (pointer, text) in strings {
                for reference in mapping::references(&Value::String(text.to_string())) {
                    let root = reference.root.as_str();
                    if root == CURRENT_TASK_ID {
                        self.current_task_id(&pointer, &reference);
                        continue;
                    }
                    let defined = root == "workflow"
                        || known.contains(&root)
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

    /// Conductor's `${CPEWF_TASK_ID}` (the id of the task being scheduled) is not filled in
    /// by 3ox yet: it resolves to null. A warning, so Conductor definitions still load.
    fn current_task_id(&mut self, pointer: &str, reference: &mapping::Reference) {
        let written = format!("${{{}}}", reference.text);
        let mut diagnostic = Diagnostic::at(
            &self.src.file,
            &self.src.text,
            self.reference_position(pointer, &written),
            format!(
                "`{written}` (Conductor's id of the current task) is not filled in by 3ox yet; it resolves to null"
            ),
            Some("pass what the task needs through its inputParameters instead".into()),
        );
        diagnostic.severity = Severity::Warning;
        self.out.push(diagnostic);
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

    // ---- (subflow) ----

    /// `failureWorkflow`: the name of a workflow of the station.
    fn failure_workflow_field(&mut self, root: &Map<String, Value>) {
        match root.get("failureWorkflow") {
            None | Some(Value::Null) => {}
            Some(Value::String(name))
                if !name.contains("${") && crate::mailbox::name_problem(name).is_none() => {}
            Some(other) => self.error(
                "/failureWorkflow",
                format!(
                    "`failureWorkflow` must be the name of a workflow (plain text), not {}",
                    describe(other)
                ),
                Some("name a workflow of the station's templates/ or workflows/, e.g. `failureWorkflow: undo_order`".into()),
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

    // ---- (script) ----

    // ---- (io) ----

    // ---- (misc) ----

    // ---- (interop) ----

    // ---- (mock) ----
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
    fn conductor_current_task_id_is_a_warning() {
        let d = one(
            "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputParameters: {id: \"${CPEWF_TASK_ID}\"}\n",
        );
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!((d.line, d.column), (5, 28));
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
    fn javascript_switches_are_not_supported_yet() {
        let d = one(&switch("javascript", "\"$.kind\""));
        assert_eq!(d.message, "evaluator `javascript` is not supported yet");
        assert_eq!((d.line, d.column), (6, 20));
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
}
