//! What every task has in common: its fields, names and type, `optional`, the agent, the
//! retry policy (3ox's `retry` and Conductor's fields), fields that belong to another type,
//! and the task-level input defaults. `task` is the per-task dispatch to each type's checks.

use serde_json::Value;

use super::{RETRY_FIELDS, RETRY_LOGICS, Site, TASK_FIELDS, Validator, describe, nearest, suggest};
use crate::definition::source::push_pointer;
use crate::definition::{AGENT_SERVED_TYPES, DurationSpec, SUPPORTED_TYPES, TaskKind};
use crate::expr::mapping;

impl Validator<'_> {
    pub(super) fn task(&mut self, site: &Site<'_>) {
        self.task_fields(site);
        self.task_names(site);
        self.task_type(site);
        self.task_options(site);
        self.inline_retry(site);
        self.conductor_retry(site);
        self.misplaced_fields(site);
        self.input_defaults(site);
        self.task_timers(site);
        self.misplaced_sink(site);
        match site.kind() {
            Some(TaskKind::Switch) => self.switch(site),
            Some(TaskKind::ForkJoin) => self.fork_join(site),
            Some(TaskKind::ForkJoinDynamic) => self.fork_join_dynamic(site),
            Some(TaskKind::Join) => self.reference_name_list(site, "joinOn"),
            Some(TaskKind::Human) => self.human(site),
            Some(TaskKind::DoWhile) => self.do_while(site),
            Some(TaskKind::SubWorkflow) => self.sub_workflow(site),
            Some(TaskKind::StartWorkflow) => self.start_workflow(site),
            Some(TaskKind::Wait) => self.wait(site),
            Some(TaskKind::Inline) => self.inline(site),
            Some(TaskKind::JsonJqTransform) => self.jq_transform(site),
            Some(TaskKind::Http) => self.http(site),
            Some(TaskKind::Event) => self.event(site),
            Some(TaskKind::Terminate) => self.terminate(site),
            Some(TaskKind::SetVariable) => self.set_variable(site),
            Some(TaskKind::ExclusiveJoin) => self.exclusive_join_shape(site),
            Some(TaskKind::Dynamic) => self.dynamic(site),
            _ => {}
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
                Some(other) => self.must_be(
                    &site.field_pointer(field),
                    &format!("`{field}` of {}", site.label()),
                    "non-empty text",
                    other,
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
            self.must_be(
                &pointer,
                &format!("`type` of {}", site.label()),
                "text",
                type_value,
                Some(format!("use one of {}", SUPPORTED_TYPES.join(", "))),
            );
            return;
        };
        if TaskKind::parse(name).is_none() {
            let all = SUPPORTED_TYPES.iter().chain(AGENT_SERVED_TYPES).copied();
            let hint = suggest(
                name,
                all,
                format!("3ox runs {}", SUPPORTED_TYPES.join(", ")),
            );
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
            self.field_must_be(site, "optional", "true or false", optional, None);
        }
        if let Some(agent) = site.task.get("agent")
            && !matches!(agent, Value::String(s) if !s.trim().is_empty())
            && !agent.is_null()
        {
            self.field_must_be(
                site,
                "agent",
                "the name of an agent",
                agent,
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
            self.field_must_be(site, "description", "text", description, None);
        }
        if let Some(inputs) = site.task.get("inputParameters")
            && !inputs.is_object()
        {
            self.field_must_be(
                site,
                "inputParameters",
                "a mapping",
                inputs,
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
    pub(super) fn plain_name(&mut self, site: &Site<'_>, field: &str, name: &str) {
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
                self.must_be(
                    &pointer,
                    &format!("`retry` of {}", site.label()),
                    "a mapping",
                    retry,
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
            self.must_be(
                &field("count"),
                "`retry.count`",
                "a whole number of retries",
                count,
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
            self.must_be(
                &field("backoffScale"),
                "`retry.backoffScale`",
                "a number above 0",
                scale,
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
                None => self.field_must_be(site, "taskDefinition", "a mapping", def, None),
            }
        }
        for (pointer, map) in places {
            let at = |name: &str| push_pointer(&pointer, name);
            for name in ["retryCount", "backoffJitterMs"] {
                if let Some(value) = map.get(name)
                    && !value.is_u64()
                {
                    self.must_be(
                        &at(name),
                        &format!("`{name}` of {}", site.label()),
                        "a whole number",
                        value,
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
                    self.must_be(
                        &at(name),
                        &format!("`{name}` of {}", site.label()),
                        "a number of 0 or more",
                        value,
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

    /// Task-level `inputTemplate` (a mapping of defaults) and Orkes' `inputExpression`
    /// (`{type: JSON_PATH, expression: $.<root>...}`, instead of inputParameters).
    fn input_defaults(&mut self, site: &Site<'_>) {
        if let Some(template) = site.task.get("inputTemplate")
            && !matches!(template, Value::Object(_) | Value::Null)
        {
            self.field_must_be(
                site,
                "inputTemplate",
                "a mapping of default inputs",
                template,
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
                self.must_be(
                    &pointer,
                    &format!("`inputExpression` of {}", site.label()),
                    "a mapping with `type` and `expression`",
                    expression,
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::{diagnostics, found, one};
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
}
