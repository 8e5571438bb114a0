//! FORK_JOIN, FORK_JOIN_DYNAMIC, JOIN and EXCLUSIVE_JOIN: the branches, what to fork, a
//! JOIN right after each fork and the tasks a join waits on.

use serde_json::Value;

use super::{Site, TaskList, Validator, collect_lists, describe, nearest, suggest};
use crate::definition::TaskKind;
use crate::definition::source::push_pointer;

impl Validator<'_> {
    pub(super) fn fork_join(&mut self, site: &Site<'_>) {
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
                        other => self.must_be(
                            &at,
                            &format!("branch {} of FORK_JOIN {}", i + 1, site.label()),
                            "a list of tasks",
                            other,
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
            Some(other) => self.must_be(
                &pointer,
                &format!("`forkTasks` of {}", site.label()),
                "a list of branches",
                other,
                Some(hint.into()),
            ),
        }
    }

    pub(super) fn fork_join_dynamic(&mut self, site: &Site<'_>) {
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
                    let hint = suggest(
                        name,
                        known.iter().copied(),
                        format!("add `{name}: ${{...}}` to the task's inputParameters"),
                    );
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

    /// `field` of the task, when written, is a list of task reference names.
    pub(super) fn reference_name_list(&mut self, site: &Site<'_>, field: &str) {
        let pointer = site.field_pointer(field);
        match site.task.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        self.must_be(
                            &push_pointer(&pointer, &i.to_string()),
                            &format!("`{field}` entries"),
                            "task reference names",
                            item,
                            None,
                        );
                    }
                }
            }
            Some(other) => self.must_be(
                &pointer,
                &format!("`{field}` of {}", site.label()),
                "a list of task reference names",
                other,
                None,
            ),
        }
    }

    /// In each list of tasks, a fork is followed by a JOIN, a JOIN follows a fork, and the
    /// JOIN of a FORK_JOIN waits only on tasks of that fork's branches.
    pub(super) fn forks_and_joins(&mut self, list: &TaskList<'_>) {
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

    /// Each `joinOn` entry of the JOIN after `fork` names a task inside the fork's branches;
    /// a JOIN with none does not wait (as in Conductor), which is worth a warning.
    fn join_targets(&mut self, fork: &Site<'_>, join: &Site<'_>) {
        let join_on = match join.task.get("joinOn") {
            Some(Value::Array(list)) => list.as_slice(),
            None | Some(Value::Null) => &[],
            Some(_) => return,
        };
        let lasts: Vec<&str> = fork
            .task
            .get("forkTasks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|b| b.as_array()?.last()?.get("taskReferenceName")?.as_str())
            .collect();
        if join_on.is_empty() && !lasts.is_empty() {
            self.out.push(crate::definition::Diagnostic::warning(
                self.src,
                &join.pointer,
                format!(
                    "JOIN {} has no `joinOn`: as in Conductor, it does not wait for the branches of {}, and the tasks after it start at once",
                    join.label(),
                    fork.label()
                ),
                Some(format!(
                    "to wait for the branches, list their last tasks: `joinOn: [{}]`",
                    lasts.join(", ")
                )),
            ));
        }
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

    /// EXCLUSIVE_JOIN on its own: `joinOn` and `defaultExclusiveJoinTask` are lists of names.
    pub(super) fn exclusive_join_shape(&mut self, site: &Site<'_>) {
        self.reference_name_list(site, "joinOn");
        self.reference_name_list(site, "defaultExclusiveJoinTask");
    }

    /// In each list, an EXCLUSIVE_JOIN directly follows a SWITCH (or DECISION); its `joinOn`
    /// names tasks inside that SWITCH's cases, and `defaultExclusiveJoinTask` names tasks of
    /// the workflow.
    pub(super) fn exclusive_joins(&mut self, list: &TaskList<'_>, refs: &[(String, String)]) {
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
                    let hint = suggest(
                        name,
                        allowed.iter().copied(),
                        format!("{listed}: {}", allowed.join(", ")),
                    );
                    self.error(
                        &push_pointer(&site.field_pointer(field), &n.to_string()),
                        message,
                        Some(hint),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one};
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
    fn join_with_empty_or_no_join_on_does_not_wait_and_validate_warns() {
        for join_on in ["", "    joinOn: []\n"] {
            let text =
                format!("{FORK}  - name: j\n    taskReferenceName: j\n    type: JOIN\n{join_on}");
            let d = one(&text);
            assert_eq!(d.severity, crate::definition::Severity::Warning);
            assert_eq!(d.line, 11);
            assert!(
                d.message.contains("does not wait for the branches"),
                "{}",
                d.message
            );
            assert_eq!(
                d.hint.as_deref(),
                Some("to wait for the branches, list their last tasks: `joinOn: [a, b]`")
            );
        }
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
}
