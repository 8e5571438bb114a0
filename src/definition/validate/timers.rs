//! Timers: task timeouts and their policies, the workflow's timeout, and WAIT.

use serde_json::{Map, Value};

use super::{Site, Validator, describe, nearest};
use crate::definition::DurationSpec;
use crate::definition::source::push_pointer;

impl Validator<'_> {
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
    pub(super) fn task_timers(&mut self, site: &Site<'_>) {
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
            self.must_be(
                &site.field_pointer("permissive"),
                &format!("`permissive` of {label}"),
                "true or false",
                flag,
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
    pub(super) fn workflow_timeout(&mut self, root: &Map<String, Value>) {
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
    pub(super) fn wait(&mut self, site: &Site<'_>) {
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
}
