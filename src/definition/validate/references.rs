//! Rules across the workflow: unique reference names and `${...}` references that name
//! defined tasks (in inputs, outputs and Orkes' `inputExpression`).

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
                        })
                        || fork_names
                            .iter()
                            .any(|prefix| root.starts_with(prefix.as_str()));
                    if !defined {
                        self.unknown_reference(&pointer, &reference, &known);
                    }
                }
            }
        }
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
