//! Rules across the workflow: unique reference names and `${...}` references that name
//! defined tasks (in inputs, outputs and Orkes' `inputExpression`), with a field that exists
//! (`${workflow.inptu.x}`, `${a.outptu.z}` are typos), closed (`${b.output.w` is left as
//! text), and of a task that can have run before the task that reads it (see [`order`]).

use serde_json::{Map, Value};
use std::collections::HashMap;

use super::{CURRENT_TASK_ID, Site, Validator, nearest, string_leaves, suggest};
use crate::definition::TaskKind;
use crate::definition::diagnostic::Diagnostic;
use crate::definition::source::{Position, push_pointer};
use crate::expr::mapping;

impl Validator<'_> {
    /// Reference names are unique in the whole workflow. Returns each name with the pointer
    /// of its first task, in the order of the file.
    pub(super) fn unique_references(&mut self, sites: &[&Site<'_>]) -> Vec<(String, String)> {
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
    pub(super) fn references(
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
        // The `forkTaskName` form names its forks `_<forkTaskName>_<i>` (Conductor's naming);
        // with a name given by `${...}` any `_...` reference may be one of them.
        let fork_names: Vec<String> = sites
            .iter()
            .filter(|s| s.kind() == Some(TaskKind::ForkJoinDynamic))
            .filter_map(|s| {
                let inputs = s.input_parameters()?;
                let name = inputs
                    .get("forkTaskName")
                    .or_else(|| inputs.get("forkTaskType"))?
                    .as_str()?;
                Some(if name.contains("${") {
                    "_".to_string()
                } else {
                    format!("_{name}_")
                })
            })
            .collect();
        self.colliding_dynamic_forks(sites);
        let loop_members = Self::loop_members(sites);
        let mut places: Vec<(String, &Value, Option<&Site<'_>>)> = Vec::new();
        if let Some(output) = root.get("outputParameters") {
            places.push(("/outputParameters".to_string(), output, None));
        }
        for site in sites {
            for field in ["inputParameters", "inputTemplate"] {
                if let Some(inputs) = site.task.get(field) {
                    places.push((site.field_pointer(field), inputs, Some(*site)));
                }
            }
        }
        for (pointer, value, reader) in places {
            let mut strings = Vec::new();
            string_leaves(value, pointer, &mut strings);
            for (pointer, text) in strings {
                if let Some(unclosed) = mapping::unclosed_reference(text) {
                    self.unclosed(&pointer, unclosed);
                }
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
                        })
                        || fork_names
                            .iter()
                            .any(|prefix| root.starts_with(prefix.as_str()));
                    if !defined {
                        self.unknown_reference(&pointer, &reference, &known);
                        continue;
                    }
                    self.reference_field(&pointer, &reference);
                    if let (Some(reader), Some((_, task_pointer))) =
                        (reader, refs.iter().find(|(name, _)| name == root))
                    {
                        self.reference_order(&pointer, &reference, reader, task_pointer, root);
                    }
                }
            }
        }
    }

    /// A `${` with no `}` after it: left as text at run time.
    fn unclosed(&mut self, pointer: &str, unclosed: &str) {
        let position = self.reference_position(pointer, unclosed);
        self.out.push(Diagnostic::at(
            &self.src.file,
            &self.src.text,
            position,
            format!("`{unclosed}` is not closed: it is passed on as this text, not as a value"),
            Some(format!("close it with `}}`: `{unclosed}}}`")),
        ));
    }

    /// The field after the root: `${workflow.<field>...}` is one of the run's fields,
    /// `${task.<field>...}` one of the task's. A field that is never there is an error (with
    /// the nearest as a hint); one Conductor has but 3ox does not keep is a warning.
    fn reference_field(&mut self, pointer: &str, reference: &mapping::Reference) {
        let rest = &reference.text[reference.root.len()..];
        let Some(field) = rest.strip_prefix('.') else {
            return;
        };
        let field = &field[..field.find(['.', '[']).unwrap_or(field.len())];
        let (known, conductor_only, what) = if reference.root == "workflow" {
            (WORKFLOW_DOC, WORKFLOW_DOC_CONDUCTOR, "the run")
        } else {
            (TASK_DOC, TASK_DOC_CONDUCTOR, "a task")
        };
        if field.is_empty() || field.contains("${") || known.contains(&field) {
            return;
        }
        let written = format!("${{{}}}", reference.text);
        let position = self.reference_position(pointer, &written);
        let diagnostic = if conductor_only.contains(&field) {
            Diagnostic::at(
                &self.src.file,
                &self.src.text,
                position,
                format!("`{written}`: 3ox does not keep `{field}` of {what}, so it is null here (Conductor fills it)"),
                Some(format!("fields 3ox maps: {}", known.join(", "))),
            )
            .as_warning()
        } else {
            let hint = match nearest(field, known.iter().copied()) {
                Some(best) => format!(
                    "did you mean `{best}`? fields of {what}: {}",
                    known.join(", ")
                ),
                None => format!("fields of {what}: {}", known.join(", ")),
            };
            Diagnostic::at(
                &self.src.file,
                &self.src.text,
                position,
                format!(
                    "`{written}` reads `{field}`, which {what} does not have: it is always null"
                ),
                Some(hint),
            )
        };
        self.out.push(diagnostic);
    }

    /// A reference from `reader`'s input to task `name` (at `task_pointer`) that cannot have
    /// run before `reader` starts: one later in the same list, or in another case of the same
    /// SWITCH (an error: it is always null; a warning inside a DO_WHILE, where an earlier
    /// iteration may have run it), or in another branch of the same fork (a warning: it may
    /// not have run yet).
    fn reference_order(
        &mut self,
        pointer: &str,
        reference: &mapping::Reference,
        reader: &Site<'_>,
        task_pointer: &str,
        name: &str,
    ) {
        let (Some(from), Some(to)) = (placement(&reader.pointer), placement(task_pointer)) else {
            return;
        };
        let Some((order, in_loop)) = order(&from, &to) else {
            return;
        };
        let written = format!("${{{}}}", reference.text);
        let position = self.reference_position(pointer, &written);
        let reader_label = reader.label();
        let (message, hint, error) = match order {
            Order::Later => (
                format!(
                    "`{written}` refers to task `{name}`, which runs after {reader_label}: {}",
                    if in_loop {
                        "it is null in the first iteration of the loop"
                    } else {
                        "it is always null here"
                    }
                ),
                format!(
                    "move `{name}` before {reader_label}, or refer to a task that runs earlier"
                ),
                !in_loop,
            ),
            Order::OtherCase => (
                format!(
                    "`{written}` refers to task `{name}`, which is in another case of the same SWITCH as {reader_label}: {}",
                    if in_loop {
                        "it is null unless an earlier iteration took that case"
                    } else {
                        "it never runs in a run where this one does, so it is always null"
                    }
                ),
                "refer to a task that runs before the SWITCH, or to one in the same case"
                    .to_string(),
                !in_loop,
            ),
            Order::OtherBranch => (
                format!(
                    "`{written}` refers to task `{name}`, which runs in another branch of the same fork as {reader_label}: it may not have run yet (then it is null)"
                ),
                "read it after the JOIN (with `joinOn` naming it), not from a parallel branch"
                    .to_string(),
                false,
            ),
        };
        let diagnostic = Diagnostic::at(
            &self.src.file,
            &self.src.text,
            position,
            message,
            Some(hint),
        );
        self.out.push(if error {
            diagnostic
        } else {
            diagnostic.as_warning()
        });
    }

    /// Two FORK_JOIN_DYNAMIC tasks of the `forkTaskName` form that fork the same task name
    /// give their forks the same references (`_<name>_0`, ...), on Conductor as in 3ox: a
    /// warning (Conductor accepts it); at run time 3ox fails the second fork with the reason.
    fn colliding_dynamic_forks(&mut self, sites: &[&Site<'_>]) {
        let mut first: HashMap<String, String> = HashMap::new();
        for site in sites {
            if site.kind() != Some(TaskKind::ForkJoinDynamic) {
                continue;
            }
            let Some(name) = site.input_parameters().and_then(|inputs| {
                inputs
                    .get("forkTaskName")
                    .or_else(|| inputs.get("forkTaskType"))
                    .and_then(Value::as_str)
            }) else {
                continue;
            };
            if name.contains("${") {
                continue;
            }
            let label = site.label();
            if let Some(earlier) = first.get(name) {
                self.out.push(Diagnostic::warning(
                    self.src,
                    &site.field_pointer("inputParameters"),
                    format!(
                        "FORK_JOIN_DYNAMIC {label} forks `{name}` as {earlier} does: both name their forks `_{name}_0`, `_{name}_1`, ..., so the references collide (on Conductor too)"
                    ),
                    Some(
                        "if both forks run in one run, the second fails; fork one of them through a task with another name, or use `dynamicForkTasksParam` with references of your own"
                            .into(),
                    ),
                ));
            } else {
                first.insert(name.to_string(), label);
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

    /// An `inputExpression` path reads `workflow` or a task of the workflow.
    pub(super) fn input_expression_roots(
        &mut self,
        sites: &[&Site<'_>],
        refs: &[(String, String)],
    ) {
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
            let hint = suggest(
                root,
                known.iter().copied(),
                "start the path with `$.workflow` or `$.<taskReferenceName>`".to_string(),
            );
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
}

/// The fields of `${workflow...}` that 3ox maps (see `RunState::workflow_doc`), and those only
/// Conductor has.
const WORKFLOW_DOC: &[&str] = &[
    "input",
    "workflowId",
    "workflowType",
    "name",
    "version",
    "status",
    "variables",
    "env",
    "secrets",
];
const WORKFLOW_DOC_CONDUCTOR: &[&str] = &[
    "output",
    "correlationId",
    "parentWorkflowId",
    "parentWorkflowTaskId",
    "reasonForIncompletion",
    "createTime",
    "updateTime",
    "startTime",
    "endTime",
    "taskToDomain",
    "schemaVersion",
    "priority",
    "ownerApp",
    "createdBy",
    "event",
    "failedReferenceTaskNames",
];

/// The fields of `${<task>...}` that 3ox maps (see `RunState::task_doc`), and those only
/// Conductor has.
const TASK_DOC: &[&str] = &[
    "input",
    "output",
    "status",
    "taskId",
    "attempt",
    "reasonForIncompletion",
    "referenceTaskName",
    "taskType",
    "taskDefName",
    "retryCount",
    "scheduledTime",
    "startTime",
    "endTime",
    "updateTime",
    "workflowInstanceId",
    "workflowType",
    "correlationId",
    "pollCount",
    "callbackAfterSeconds",
    "workerId",
    "iteration",
];
const TASK_DOC_CONDUCTOR: &[&str] = &[
    "seq",
    "domain",
    "parentTaskId",
    "retriedTaskId",
    "subWorkflowId",
    "executed",
    "retried",
    "responseTimeoutSeconds",
    "rateLimitPerFrequency",
    "rateLimitFrequencyInSeconds",
    "isolationGroupId",
    "executionNameSpace",
    "firstStartTime",
];

/// The field a reference reads that Conductor fills and 3ox does not keep (null in 3ox),
/// if it reads one.
pub(crate) fn conductor_only_field(reference: &mapping::Reference) -> Option<&str> {
    let field = reference.text[reference.root.len()..].strip_prefix('.')?;
    let field = &field[..field.find(['.', '[']).unwrap_or(field.len())];
    let conductor_only = if reference.root == "workflow" {
        WORKFLOW_DOC_CONDUCTOR
    } else {
        TASK_DOC_CONDUCTOR
    };
    conductor_only.contains(&field).then_some(field)
}

/// What kind of list holds a task.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListKind {
    Workflow,
    Branch,
    Case,
    Loop,
}

/// Where a task stands, from the workflow's list inward: each enclosing list's pointer, the
/// task's index in it, and the list's kind. `None` for a place this does not follow (a task
/// of an inline sub-workflow).
fn placement(pointer: &str) -> Option<Vec<(String, usize, ListKind)>> {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let mut out = Vec::new();
    let mut prefix = String::new();
    let mut i = 0;
    while i < segments.len() {
        let (width, kind) = match segments[i] {
            "tasks" if i == 0 => (1, ListKind::Workflow),
            "loopOver" => (1, ListKind::Loop),
            "defaultCase" => (1, ListKind::Case),
            "forkTasks" => (2, ListKind::Branch),
            "decisionCases" => (2, ListKind::Case),
            _ => return None,
        };
        for segment in segments.get(i..i + width)? {
            prefix.push('/');
            prefix.push_str(segment);
        }
        let index: usize = segments.get(i + width)?.parse().ok()?;
        out.push((prefix.clone(), index, kind));
        prefix.push('/');
        prefix.push_str(segments[i + width]);
        i += width + 1;
    }
    Some(out)
}

/// How a referenced task stands to the task that reads it, when it cannot have run before.
#[derive(Debug, PartialEq)]
enum Order {
    Later,
    OtherCase,
    OtherBranch,
}

/// The problem, if any, of reading `to` from `from`'s input, and whether a DO_WHILE encloses
/// both (an earlier iteration may have run it). A task inside the other (a container and its
/// tasks) is no problem.
fn order(
    from: &[(String, usize, ListKind)],
    to: &[(String, usize, ListKind)],
) -> Option<(Order, bool)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let (a, b) = (from.get(common)?, to.get(common)?);
    let in_loop = from[..=common].iter().any(|l| l.2 == ListKind::Loop);
    if a.0 == b.0 {
        return (b.1 > a.1).then_some((Order::Later, in_loop));
    }
    match a.2 {
        ListKind::Branch => Some((Order::OtherBranch, in_loop)),
        ListKind::Case => Some((Order::OtherCase, in_loop)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{diagnostics, one};
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

    use crate::definition::Severity;

    /// Two tasks `a` then `b`; `{x}` is the value of `a`'s input `x`.
    fn reading(x: &str) -> String {
        format!(
            "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputParameters:\n      x: \"{x}\"\n  - name: b\n    taskReferenceName: b\n"
        )
    }

    #[test]
    fn validate_did_you_mean_for_typos_of_reserved_words() {
        let d = one(&reading("${workflow.inptu.x}"));
        assert_eq!(d.severity, Severity::Error);
        assert_eq!((d.line, d.column), (6, 11));
        assert_eq!(
            d.message,
            "`${workflow.inptu.x}` reads `inptu`, which the run does not have: it is always null"
        );
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean `input`?"),
            "{d:?}"
        );
        let text = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n  - name: b\n    taskReferenceName: b\n    inputParameters:\n      x: \"${a.outptu.z}\"\n";
        let d = one(text);
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(d.line, 8);
        assert!(
            d.message
                .contains("reads `outptu`, which a task does not have"),
            "{d:?}"
        );
        assert!(
            d.hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean `output`?"),
            "{d:?}"
        );
    }

    #[test]
    fn validate_reports_an_unclosed_reference() {
        let d = one(&reading("at ${workflow.input.w"));
        assert_eq!(d.severity, Severity::Error);
        assert_eq!((d.line, d.column), (6, 14));
        assert!(
            d.message.contains("`${workflow.input.w` is not closed"),
            "{d:?}"
        );
        assert_eq!(
            d.hint.as_deref(),
            Some("close it with `}`: `${workflow.input.w}`")
        );
    }

    #[test]
    fn validate_reports_a_reference_to_a_task_that_runs_later() {
        let d = one(&reading("${b.output.w}"));
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(
            d.message,
            "`${b.output.w}` refers to task `b`, which runs after task `a`: it is always null here"
        );
        // Inside a DO_WHILE an earlier iteration may have run it: a warning.
        let looped = "name: x\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    loopCondition: \"false\"\n    loopOver:\n      - {name: a, taskReferenceName: a, inputParameters: {x: \"${b.output}\"}}\n      - {name: b, taskReferenceName: b}\n";
        let d = one(looped);
        assert_eq!(d.severity, Severity::Warning);
        assert!(d.message.contains("null in the first iteration"), "{d:?}");
        // In a parallel branch it may not have run yet: a warning.
        let forked = "name: x\ntasks:\n  - name: f\n    taskReferenceName: f\n    type: FORK_JOIN\n    forkTasks:\n      - [{name: a, taskReferenceName: a, inputParameters: {x: \"${b.output}\"}}]\n      - [{name: b, taskReferenceName: b}]\n  - {name: j, taskReferenceName: j, type: JOIN, joinOn: [a, b]}\n";
        let d = one(forked);
        assert_eq!(d.severity, Severity::Warning);
        assert!(
            d.message.contains("another branch of the same fork"),
            "{d:?}"
        );
        // Another case of the same SWITCH never runs with it: an error.
        let cases = "name: x\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    evaluatorType: value-param\n    expression: k\n    inputParameters: {k: 1}\n    decisionCases:\n      one: [{name: b, taskReferenceName: b}]\n    defaultCase: [{name: a, taskReferenceName: a, inputParameters: {x: \"${b.output}\"}}]\n";
        let d = one(cases);
        assert_eq!(d.severity, Severity::Error);
        assert!(
            d.message.contains("another case of the same SWITCH"),
            "{d:?}"
        );
        // An earlier task, the task's own container, and the run's output are fine.
        let fine = "name: x\ntasks:\n  - {name: a, taskReferenceName: a}\n  - {name: b, taskReferenceName: b, inputParameters: {x: \"${a.output}\"}}\noutputParameters:\n  r: ${b.output}\n";
        assert_eq!(diagnostics(fine), Vec::new());
    }

    #[test]
    fn row_10_validate_checks_references_nested_in_a_path() {
        let d = one(&reading("${workflow.input.list[${chek.output.i}]}"));
        assert_eq!(
            d.message,
            "`${chek.output.i}` refers to task `chek`, which is not defined"
        );
        assert_eq!(
            diagnostics(&reading("${workflow.input.list[${workflow.input.i}]}")),
            Vec::new()
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
        let text = "name: x\ntasks:\n  - name: f\n    taskReferenceName: fan\n    type: FORK_JOIN_DYNAMIC\n    inputParameters: {forkTaskName: w, forkTaskInputs: [1, 2]}\n  - name: j\n    taskReferenceName: j\n    type: JOIN\noutputParameters:\n  a: ${fan_1.output}\n  c: ${_w_1.output}\n  b: ${fanx.output}\n";
        let d = one(text);
        assert_eq!(d.line, 13);
    }
}
