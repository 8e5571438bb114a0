//! HUMAN: who approves, who is escalated to, and the deadline.

use serde_json::Value;

use super::{DEADLINE_POLICIES, Site, Validator, describe};
use crate::definition::DurationSpec;

impl Validator<'_> {
    pub(super) fn human(&mut self, site: &Site<'_>) {
        for field in ["approver", "escalateTo"] {
            match site.task.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(name)) if !name.trim().is_empty() => {
                    self.plain_name(site, field, name);
                }
                Some(other) => self.must_be(
                    &site.field_pointer(field),
                    &format!("`{field}` of {}", site.label()),
                    "the name of an agent (the Commander's mailbox)",
                    other,
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
            self.field_must_be(site, "failOnReject", "true or false", flag, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::diagnostics;
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
}
