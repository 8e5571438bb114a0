//! DO_WHILE: `loopOver`, `loopCondition`, `keepLastN`, `items`, and no loop in a loop.

use serde_json::Value;

use super::{Site, Validator, suggest};
use crate::definition::TaskKind;
use crate::definition::source::push_pointer;

impl Validator<'_> {
    /// DO_WHILE: `loopOver` a non-empty list of tasks with no DO_WHILE inside, a
    /// `loopCondition` (unless it iterates over `items`) for a known evaluator, `keepLastN` a
    /// whole number of at least 1, `items` a list or a `${...}`.
    pub(super) fn do_while(&mut self, site: &Site<'_>) {
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
            Some(other) => self.field_must_be(
                site,
                "loopOver",
                "a list of tasks",
                other,
                Some(hint.into()),
            ),
        }
        let inputs = site.input_parameters();
        let has_items = site.task.get("items").is_some_and(|v| !v.is_null())
            || inputs.is_some_and(|m| m.contains_key("items") || m.contains_key("_items"));
        self.loop_condition(site, has_items);
        self.endless_loop(site, has_items);
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
        for key in ["items", "_items"] {
            if let Some(items) = inputs.and_then(|m| m.get(key)) {
                let pointer = push_pointer(&site.field_pointer("inputParameters"), key);
                self.loop_items(&pointer, items);
            }
        }
    }

    /// A loopCondition that is always true, with no list to iterate over and no TERMINATE
    /// in `loopOver`, never ends: a warning, not an error, as Conductor accepts it and
    /// `3ox terminate` still ends such a run (the run only grows its journal until then).
    fn endless_loop(&mut self, site: &Site<'_>, has_items: bool) {
        let Some(Value::String(condition)) = site.task.get("loopCondition") else {
            return;
        };
        let constant = condition.trim().trim_end_matches(';').trim();
        let always = matches!(constant, "true" | "1" | "(true)" | "!false");
        let terminates = site.task.get("loopOver").is_some_and(has_terminate);
        if always && !has_items && !terminates {
            self.out.push(crate::definition::Diagnostic::warning(
                self.src,
                &site.field_pointer("loopCondition"),
                format!(
                    "the loopCondition of DO_WHILE {} is always true and it has no `items`: the loop never ends",
                    site.label()
                ),
                Some(format!(
                    "iterate over a list with `items:` (or `inputParameters._items`), or bound the loop, e.g. `$.{}['iteration'] < 10`",
                    site.reference().unwrap_or("loop")
                )),
            ));
        }
    }

    fn loop_condition(&mut self, site: &Site<'_>, has_items: bool) {
        let hint = "use `javascript` (Conductor's default) or `expression`";
        let Some(evaluator) = self.evaluator_type(site, "javascript", hint) else {
            return;
        };
        const LOOP_EVALUATORS: &[&str] = &["javascript", "graaljs", "expression", "value-param"];
        if !LOOP_EVALUATORS.contains(&evaluator) {
            let hint = suggest(
                evaluator,
                LOOP_EVALUATORS.iter().copied(),
                format!("use one of: {}", LOOP_EVALUATORS.join(", ")),
            );
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
                self.field_must_be(
                    site,
                    "loopCondition",
                    "text",
                    other,
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
            self.must_be(
                pointer,
                "`keepLastN`",
                "a whole number of at least 1",
                keep,
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
            self.must_be(
                pointer,
                "`items`",
                "a list or a `${...}` naming one",
                items,
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
    pub(super) fn loop_members<'s>(sites: &[&'s Site<'_>]) -> Vec<&'s str> {
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
}

/// Whether a TERMINATE task is anywhere in `value` (tasks, SWITCH cases, fork branches).
fn has_terminate(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(has_terminate),
        Value::Object(map) => {
            map.get("type").and_then(Value::as_str) == Some("TERMINATE")
                || ["loopOver", "decisionCases", "defaultCase", "forkTasks"]
                    .iter()
                    .filter_map(|k| map.get(*k))
                    .any(|v| match v {
                        Value::Object(cases) => cases.values().any(has_terminate),
                        other => has_terminate(other),
                    })
        }
        _ => false,
    }
}
