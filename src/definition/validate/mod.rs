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
//!
//! Layout: this file holds the `Validator`, the walk over the task lists and the shared
//! helpers and field lists; each concern has its own file (`workflow`, `task` for what every
//! task has, one file per task family such as `switch` or `fork_join`, `references` for the
//! rules across the workflow), each an `impl Validator` block with its unit tests beside it.

use serde_json::{Map, Value};

use super::TaskKind;
use super::conductor::{CONDUCTOR_TASK_FIELDS, CONDUCTOR_WORKFLOW_FIELDS};
use super::diagnostic::Diagnostic;
use super::source::{Source, push_pointer};
use crate::expr::mapping;

mod do_while;
mod fork_join;
mod human;
mod inputs;
mod io;
mod misc;
mod not_a_workflow;
mod references;
pub(crate) use references::conductor_only_field;
mod script;
mod sub_workflow;
mod switch;
mod task;
mod timers;
mod workflow;

/// Top-level fields of a workflow: Conductor's (plus what Orkes adds), then 3ox's typed
/// `inputs:` declaration.
const WORKFLOW_FIELDS: &[&str] = &concat::<
    { CONDUCTOR_WORKFLOW_FIELDS.len() + WORKFLOW_FIELDS_BEYOND_CONDUCTOR.len() },
>(CONDUCTOR_WORKFLOW_FIELDS, WORKFLOW_FIELDS_BEYOND_CONDUCTOR);

/// Workflow fields that are 3ox additions (see docs/workflow-language.md).
const WORKFLOW_FIELDS_BEYOND_CONDUCTOR: &[&str] = &["inputs"];

/// Fields of a task: Conductor's workflow-task fields, then what 3ox reads on the task
/// besides ([`TASK_FIELDS_BEYOND_CONDUCTOR`]).
const TASK_FIELDS: &[&str] = &concat::<
    { CONDUCTOR_TASK_FIELDS.len() + TASK_FIELDS_BEYOND_CONDUCTOR.len() },
>(CONDUCTOR_TASK_FIELDS, TASK_FIELDS_BEYOND_CONDUCTOR);

/// Task fields that are not Conductor workflow-task fields: Conductor's task-definition
/// fields, which 3ox also reads on the task itself, and the 3ox additions.
const TASK_FIELDS_BEYOND_CONDUCTOR: &[&str] = &[
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
    // Task-level defaults (see docs/workflow-language.md).
    "inputTemplate",
    // DO_WHILE: `keepLastN` beside `loopCondition` (3ox; Conductor reads it from
    // inputParameters, which works too).
    "keepLastN",
];

/// `a` followed by `b`, as one array (`N` is their total length).
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

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
const EVALUATORS: &[&str] = crate::expr::script::EVALUATORS;

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
        self.declared_inputs(root);
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

    /// Reports a value of the wrong kind: "{subject} must be {expected}, not {what it is}".
    fn must_be(
        &mut self,
        pointer: &str,
        subject: &str,
        expected: &str,
        found: &Value,
        hint: Option<String>,
    ) {
        self.error(
            pointer,
            format!("{subject} must be {expected}, not {}", describe(found)),
            hint,
        );
    }

    /// Reports that `field` of the task holds a value of the wrong kind: "`field` of task `t`
    /// must be {expected}, not {what it is}", at the field's value.
    fn field_must_be(
        &mut self,
        site: &Site<'_>,
        field: &str,
        expected: &str,
        found: &Value,
        hint: Option<String>,
    ) {
        let subject = format!("`{field}` of {}", site.label());
        self.must_be(&site.field_pointer(field), &subject, expected, found, hint);
    }

    /// The task's `evaluatorType`, `default` when absent; reports one that is not text (with
    /// `hint`) and gives `None`.
    fn evaluator_type<'s>(
        &mut self,
        site: &'s Site<'_>,
        default: &'static str,
        hint: &str,
    ) -> Option<&'s str> {
        match site.task.get("evaluatorType") {
            None | Some(Value::Null) => Some(default),
            Some(Value::String(e)) => Some(e.as_str()),
            Some(other) => {
                let pointer = site.field_pointer("evaluatorType");
                self.must_be(
                    &pointer,
                    "`evaluatorType`",
                    "text",
                    other,
                    Some(hint.into()),
                );
                None
            }
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
            let hint = suggest(
                key,
                known.iter().copied(),
                format!("see docs/workflow-language.md for the fields a {what} takes"),
            );
            self.error_at_key(
                &push_pointer(pointer, key),
                format!("unknown field `{key}` in {owner}"),
                Some(hint),
            );
        }
    }
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
    describe_value(value)
}

/// What a value is, for messages: "the text `x`", "a list", ...
pub(crate) fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_string(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the text `{s}`"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

/// "did you mean `x`?" for the candidate closest to `word`, or `otherwise`.
fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    otherwise: String,
) -> String {
    match nearest(word, candidates) {
        Some(best) => format!("did you mean `{best}`?"),
        None => otherwise,
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

    pub(super) fn diagnostics(text: &str) -> Vec<Diagnostic> {
        let src = Source::parse(text, "w.yaml").unwrap_or_else(|d| panic!("{}", d.render()));
        check(&src)
    }

    /// `(line, column, message)` of each diagnostic.
    pub(super) fn found(text: &str) -> Vec<(usize, usize, String)> {
        diagnostics(text)
            .into_iter()
            .map(|d| (d.line, d.column, d.message))
            .collect()
    }

    pub(super) fn one(text: &str) -> Diagnostic {
        let mut all = diagnostics(text);
        assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
        all.remove(0)
    }

    pub(super) const VALID: &str = "\
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
    fn each_task_field_is_listed_once() {
        let mut fields = TASK_FIELDS.to_vec();
        fields.sort_unstable();
        fields.dedup();
        assert_eq!(fields.len(), TASK_FIELDS.len());
        assert_eq!(
            &TASK_FIELDS[..CONDUCTOR_TASK_FIELDS.len()],
            CONDUCTOR_TASK_FIELDS
        );
    }

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
    fn every_problem_is_reported_in_file_order() {
        let text = "name: x\nowner: me\ntasks:\n  - name: a\n    taskReferenceName: a\n    type: WAYT\n  - name: b\n    taskReferenceName: a\n    inputParameters: {x: \"${zz.output}\"}\n";
        let lines: Vec<usize> = found(text).iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![2, 6, 8, 9]);
    }

    #[test]
    fn a_valid_tree_deserializes_into_the_model() {
        let def = super::super::parse_str(VALID, std::path::Path::new("w.yaml")).unwrap();
        assert_eq!(def.tasks.len(), 4);
        assert_eq!(def.tasks[0].effective_retry().count, 3);
    }

    pub(super) fn task_yaml(body: &str) -> String {
        format!("name: x\ntasks:\n  - name: t\n    taskReferenceName: t\n{body}")
    }
}
