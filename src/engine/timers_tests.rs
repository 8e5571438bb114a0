//! The timers with a fake clock ("paused time"): WAIT, startDelay, every timeout and policy,
//! the workflow's timeout, `3ox complete`, optional and permissive, and retry delays. Each
//! test also checks that replaying the journal rebuilds the live state.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::engine::complete::{Completion, CompletionStatus};
use crate::engine::control::{self, Action};
use crate::engine::testkit::{self, Driver};
use crate::engine::timeouts::TimeoutKind;
use crate::engine::{Change, Input, RunStatus, TaskStatus};
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::station::AgentDirectory;

/// One agent, `a`, serving `caps`.
fn agents(caps: &[&str], concurrency: usize) -> AgentDirectory {
    testkit::agents(&[("a", caps, concurrency)])
}

/// The run these tests drive by hand, with their helpers.
type Sim = testkit::Sim<Timers>;
struct Timers;

impl Sim {
    fn start(flow: &str, caps: &[&str]) -> Sim {
        Sim::start_with(flow, agents(caps, 4))
    }

    fn start_with(flow: &str, agents: AgentDirectory) -> Sim {
        let input = json!({"approver": "ann"});
        Sim::new(Driver::start(testkit::workflow(flow), input, agents))
    }

    /// The time `secs` after the start.
    fn at(&self, secs: i64) -> DateTime<Utc> {
        testkit::t0() + Duration::seconds(secs)
    }

    /// Moves the clock to `secs` after the start and ticks.
    fn tick_at(&mut self, secs: i64) -> Vec<Change> {
        self.now = self.at(secs);
        self.input(Input::Tick)
    }

    fn command(
        &mut self,
        action: Action,
        task: &str,
        completion: Option<Completion>,
    ) -> Result<Vec<Change>, control::ControlError> {
        let cmd = control::Command {
            uid: Some(1000),
            reason: Some("checked by hand".into()),
            task: Some(task.into()),
            completion,
            ..testkit::command(action, "ann")
        };
        Driver::command(self, cmd)
    }

    fn task_id(&self, task_ref: &str) -> String {
        self.state.tasks[task_ref].task_id.clone().unwrap()
    }

    fn reply(&mut self, task_ref: &str, status: ReplyStatus) -> Vec<Change> {
        let task_id = self.task_id(task_ref);
        self.reply_to(&task_id, status)
    }

    fn reply_to(&mut self, task_id: &str, status: ReplyStatus) -> Vec<Change> {
        let token = self.token_of(task_id);
        let reply = Reply {
            reason: Some("because".into()),
            token,
            ..testkit::reply(task_id, status, json!({"from": task_id}))
        };
        self.input(Input::Reply {
            agent: "a".into(),
            file: format!("{task_id}.yaml"),
            reply,
        })
    }

    fn scheduled(&self, task_ref: &str) -> usize {
        self.log
            .iter()
            .filter(
                |(c, _)| matches!(c, Change::TaskScheduled { task_ref: r, .. } if r == task_ref),
            )
            .count()
    }
}

fn has(changes: &[Change], pred: impl Fn(&Change) -> bool) -> bool {
    changes.iter().any(pred)
}

// ---- WAIT ----

#[test]
fn wait_for_a_duration_completes_when_due_and_not_before() {
    let flow = r#"
name: w
tasks:
  - {name: pause, taskReferenceName: pause, type: WAIT, inputParameters: {duration: "1 minutes 30 seconds"}}
  - {name: after, taskReferenceName: after}
"#;
    let mut sim = Sim::start(flow, &["after"]);
    let until = sim.at(90);
    assert!(
        sim.log
            .iter()
            .any(|(c, _)| matches!(c, Change::WaitStarted { until: Some(u), .. } if *u == until)),
        "the due time is journaled when the WAIT starts"
    );
    assert_eq!(sim.state.tasks["pause"].status, TaskStatus::InProgress);
    assert_eq!(sim.state.next_wakeup(), Some(until));
    assert!(sim.tick_at(89).is_empty(), "nothing before the due time");
    let changes = sim.tick_at(90);
    assert!(has(
        &changes,
        |c| matches!(c, Change::TaskCompleted { task_ref, .. } if task_ref == "pause")
    ));
    assert_eq!(
        sim.scheduled("after"),
        1,
        "the next task starts when the wait ends"
    );
    sim.assert_replays();
}

#[test]
fn wait_until_a_time_and_a_past_time_completes_at_once() {
    let flow = r#"
name: w
tasks:
  - {name: w1, taskReferenceName: w1, type: WAIT, inputParameters: {until: "2026-01-01 02:00 UTC"}}
  - {name: w2, taskReferenceName: w2, type: WAIT, inputParameters: {until: "${workflow.input.past}"}}
"#;
    let mut sim = Sim::start(flow, &[]);
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(7200)));
    sim.tick_at(3600);
    assert!(sim.state.tasks["w1"].status.is_in_flight());
    let changes = sim.tick_at(7200);
    // w2's `until` resolves to null (no such input): it waits to be completed from outside.
    assert!(has(
        &changes,
        |c| matches!(c, Change::TaskCompleted { task_ref, .. } if task_ref == "w1")
    ));
    assert_eq!(sim.state.next_wakeup(), None);
    assert!(sim.state.tasks["w2"].status.is_in_flight());
    sim.assert_replays();

    let flow = "name: w\ntasks:\n  - {name: w, taskReferenceName: w, type: WAIT, inputParameters: {until: '2025-06-01T00:00:00Z'}}\n";
    let sim = Sim::start(flow, &[]);
    assert_eq!(
        sim.state.status,
        RunStatus::Completed,
        "an `until` in the past is due at once"
    );
}

#[test]
fn a_wait_without_inputs_waits_for_complete_with_its_output() {
    let flow = r#"
name: w
tasks:
  - {name: approval, taskReferenceName: approval, type: WAIT}
  - {name: ship, taskReferenceName: ship, inputParameters: {ok: "${approval.output.approved}"}}
"#;
    let mut sim = Sim::start(flow, &["ship"]);
    assert_eq!(
        sim.state.next_wakeup(),
        None,
        "no timer: it waits for a person"
    );
    assert!(sim.tick_at(86_400).is_empty());
    let not_a_mapping = Completion {
        status: CompletionStatus::Completed,
        output: json!("yes"),
    };
    let refused = sim
        .command(Action::Complete, "approval", Some(not_a_mapping))
        .unwrap_err();
    assert!(matches!(refused, control::ControlError::BadOutput { .. }));
    let refused = sim.command(Action::Complete, "ship", None).unwrap_err();
    assert!(matches!(
        refused,
        control::ControlError::NotCompletable { status: None, .. }
    ));
    let completion = Completion {
        status: CompletionStatus::Completed,
        output: json!({"approved": true}),
    };
    let changes = sim
        .command(Action::Complete, "approval", Some(completion.clone()))
        .unwrap();
    assert!(matches!(
        &changes[0],
        Change::TaskUpdatedBy { by, uid: Some(1000), status: CompletionStatus::Completed, .. } if by == "ann"
    ));
    assert_eq!(
        sim.state.tasks["approval"].output,
        json!({"approved": true})
    );
    assert_eq!(sim.state.tasks["ship"].input, json!({"ok": true}));
    let again = sim
        .command(Action::Complete, "approval", Some(completion))
        .unwrap_err();
    assert!(matches!(
        again,
        control::ControlError::NotCompletable {
            status: Some(TaskStatus::Completed),
            ..
        }
    ));
    sim.assert_replays();
}

#[test]
fn complete_failed_follows_the_retry_policy_and_terminal_never_retries() {
    let flow = r#"
name: w
tasks:
  - {name: gate, taskReferenceName: gate, type: WAIT, retryCount: 1}
"#;
    let mut sim = Sim::start(flow, &[]);
    let fail = |status| Completion {
        status,
        output: Value::Null,
    };
    let changes = sim
        .command(
            Action::Complete,
            "gate",
            Some(fail(CompletionStatus::Failed)),
        )
        .unwrap();
    assert!(has(&changes, |c| matches!(
        c,
        Change::TaskFailed {
            retry_at: Some(_),
            ..
        }
    )));
    // The retry is a new wait with its own id.
    assert!(has(&changes, |c| matches!(c, Change::WaitStarted { .. })));
    assert_eq!(sim.state.tasks["gate"].attempt, 2);
    let changes = sim
        .command(
            Action::Complete,
            "gate",
            Some(fail(CompletionStatus::FailedWithTerminalError)),
        )
        .unwrap();
    assert!(has(&changes, |c| matches!(c, Change::RunFailed { .. })));
    assert_eq!(
        sim.state.tasks["gate"].status,
        TaskStatus::FailedWithTerminalError
    );
    let ended = sim.command(Action::Complete, "gate", None).unwrap_err();
    assert!(matches!(ended, control::ControlError::Ended { .. }));
    sim.assert_replays();
}

#[test]
fn complete_settles_an_agent_attempt_and_its_late_reply_is_refused() {
    let flow = "name: w\ntasks:\n  - {name: slow, taskReferenceName: slow}\n";
    let mut sim = Sim::start(flow, &["slow"]);
    let task_id = sim.task_id("slow");
    sim.command(
        Action::Complete,
        "slow",
        Some(Completion {
            status: CompletionStatus::Completed,
            output: json!({"x": 1}),
        }),
    )
    .unwrap();
    assert_eq!(sim.state.status, RunStatus::Completed);
    let late = sim.reply_to(&task_id, ReplyStatus::Completed);
    assert!(has(&late, |c| matches!(c, Change::ReplyRejected { .. })));
    sim.assert_replays();
}

#[test]
fn a_wait_that_cannot_read_its_input_fails_and_optional_lets_the_run_go_on() {
    let flow = r#"
name: w
tasks:
  - {name: w, taskReferenceName: w, type: WAIT, inputParameters: {duration: "${workflow.input.approver}"}}
"#;
    let sim = Sim::start(flow, &[]);
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(
        sim.state.tasks["w"].status,
        TaskStatus::FailedWithTerminalError
    );
    assert!(sim.failure_reason().contains("not a duration"));

    let flow = r#"
name: w
tasks:
  - {name: w, taskReferenceName: w, type: WAIT, optional: true, inputParameters: {duration: "1s", until: "${workflow.input.approver}"}}
  - {name: next, taskReferenceName: next, type: WAIT, inputParameters: {duration: 1}}
"#;
    let mut sim = Sim::start(flow, &[]);
    assert_eq!(sim.state.tasks["w"].status, TaskStatus::CompletedWithErrors);
    assert!(
        sim.state.tasks["w"]
            .reason
            .as_ref()
            .unwrap()
            .contains("both")
    );
    sim.tick_at(1);
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn optional_covers_system_task_failures() {
    // A system task that fails (an unknown agent named for a SIMPLE task is refused the same
    // way): optional turns the failure into COMPLETED_WITH_ERRORS and the run completes.
    let flow = r#"
name: w
tasks:
  - {name: x, taskReferenceName: x, agent: nobody, optional: true}
  - {name: w, taskReferenceName: w, type: WAIT, optional: true, inputParameters: {until: "${workflow.input.approver}"}}
"#;
    let sim = Sim::start(flow, &[]);
    assert_eq!(sim.state.tasks["x"].status, TaskStatus::CompletedWithErrors);
    assert_eq!(sim.state.tasks["w"].status, TaskStatus::CompletedWithErrors);
    assert_eq!(sim.state.status, RunStatus::Completed);
}

#[test]
fn a_paused_run_does_not_end_its_waits_until_resumed() {
    let flow = "name: w\ntasks:\n  - {name: w, taskReferenceName: w, type: WAIT, inputParameters: {duration: 5s}}\n";
    let mut sim = Sim::start(flow, &[]);
    sim.command(Action::Pause, "w", None).unwrap();
    assert_eq!(sim.state.next_wakeup(), None);
    sim.tick_at(10);
    assert!(sim.state.tasks["w"].status.is_in_flight());
    sim.command(Action::Resume, "w", None).unwrap();
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

// ---- startDelay ----

#[test]
fn start_delay_schedules_the_task_only_when_due() {
    let flow = r#"
name: d
tasks:
  - {name: first, taskReferenceName: first}
  - {name: later, taskReferenceName: later, startDelay: 30}
"#;
    let mut sim = Sim::start(flow, &["first", "later"]);
    sim.now = sim.at(10);
    let changes = sim.reply("first", ReplyStatus::Completed);
    assert!(has(
        &changes,
        |c| matches!(c, Change::TaskDelayed { due, .. } if *due == sim.at(40))
    ));
    assert_eq!(sim.scheduled("later"), 0);
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(40)));
    sim.tick_at(39);
    assert_eq!(sim.scheduled("later"), 0);
    sim.tick_at(40);
    assert_eq!(sim.scheduled("later"), 1);
    assert_eq!(sim.state.next_wakeup(), None);
    sim.assert_replays();
}

// ---- timeouts ----

#[test]
fn a_response_timeout_retries_with_a_new_id_and_the_late_reply_is_stale() {
    let flow = r#"
name: t
tasks:
  - {name: slow, taskReferenceName: slow, responseTimeoutSeconds: 10, retryCount: 1, retryDelaySeconds: 2}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    let first = sim.task_id("slow");
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(10)));
    // A heartbeat moves the response deadline.
    sim.now = sim.at(8);
    sim.reply("slow", ReplyStatus::InProgress);
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(18)));
    assert!(sim.tick_at(17).is_empty());
    let changes = sim.tick_at(18);
    assert!(has(&changes, |c| matches!(
        c,
        Change::TaskTimedOut {
            kind: TimeoutKind::Response,
            ..
        }
    )));
    assert!(has(
        &changes,
        |c| matches!(c, Change::TaskFailed { retry_at: Some(at), outcome: TaskStatus::RetryWait, .. } if *at == sim.at(20))
    ));
    sim.tick_at(20);
    let second = sim.task_id("slow");
    assert_ne!(first, second, "the retry is a new attempt with its own id");
    assert_eq!(sim.state.tasks["slow"].attempt, 2);
    let late = sim.reply_to(&first, ReplyStatus::Completed);
    assert!(has(
        &late,
        |c| matches!(c, Change::ReplyRejected { reason, .. } if reason.contains("stale"))
    ));
    // The second attempt times out too: no retry left; as in Conductor the task and the run
    // end TIMED_OUT (issue 12 row 6).
    sim.tick_at(30);
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::TimedOut);
    assert_eq!(sim.state.status, RunStatus::TimedOut);
    assert!(sim.failure_reason().contains("responseTimeoutSeconds"));
    sim.assert_replays();
}

#[test]
fn a_poll_timeout_fires_only_when_nobody_claimed_the_message() {
    let flow = r#"
name: t
tasks:
  - {name: a, taskReferenceName: a, pollTimeoutSeconds: 5, timeoutPolicy: RETRY, retryCount: 1}
  - {name: b, taskReferenceName: b, taskDefinition: {pollTimeoutSeconds: 5, timeoutPolicy: RETRY}}
"#;
    let mut sim = Sim::start(flow, &["a", "b"]);
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(5)));
    assert_eq!(
        crate::engine::timeouts::polls_due(&sim.state, sim.at(4)),
        vec![]
    );
    let due = crate::engine::timeouts::polls_due(&sim.state, sim.at(5));
    assert_eq!(due.len(), 1);
    // Nobody claimed it: the attempt times out and is retried.
    let changes = sim.tick_at(5);
    assert!(has(&changes, |c| matches!(
        c,
        Change::TaskTimedOut {
            kind: TimeoutKind::Poll,
            ..
        }
    )));
    assert_eq!(
        sim.state.tasks["a"].attempt, 2,
        "retried at once (no delay)"
    );
    // The second attempt was claimed: the driver says so when the deadline falls due.
    sim.now = sim.at(10);
    let claimed = sim.task_id("a");
    let changes = sim.input(Input::Claimed {
        task_ids: vec![claimed.clone()],
    });
    assert!(matches!(&changes[0], Change::TaskClaimed { task_id, .. } if *task_id == claimed));
    assert!(!has(&changes, |c| matches!(c, Change::TaskTimedOut { .. })));
    assert_eq!(sim.state.next_wakeup(), None);
    sim.reply("a", ReplyStatus::Completed);
    // b reads its timeout from its taskDefinition.
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(15)));
    sim.assert_replays();
}

#[test]
fn an_attempt_timeout_under_time_out_wf_ends_the_run_timed_out() {
    let flow = r#"
name: t
tasks:
  - {name: slow, taskReferenceName: slow, timeoutSeconds: 60, retryCount: 3}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    let task_id = sim.task_id("slow");
    sim.now = sim.at(30);
    sim.reply("slow", ReplyStatus::InProgress);
    assert_eq!(
        sim.state.next_wakeup(),
        Some(sim.at(60)),
        "heartbeats do not move timeoutSeconds"
    );
    let changes = sim.tick_at(60);
    assert!(
        matches!(changes.last(), Some(Change::RunTimedOut { task_ref: Some(r), .. }) if r == "slow")
    );
    assert_eq!(sim.state.status, RunStatus::TimedOut);
    assert_eq!(
        sim.state.tasks["slow"].attempt, 1,
        "TIME_OUT_WF does not retry"
    );
    assert_eq!(sim.state.next_wakeup(), None);
    let late = sim.reply_to(&task_id, ReplyStatus::Completed);
    assert!(has(
        &late,
        |c| matches!(c, Change::ReplyRejected { reason, .. } if reason.contains("TIMED_OUT"))
    ));
    sim.assert_replays();
}

#[test]
fn alert_only_journals_one_alert_and_keeps_waiting() {
    let flow = r#"
name: t
tasks:
  - {name: slow, taskReferenceName: slow, timeoutSeconds: 60, timeoutPolicy: ALERT_ONLY}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    let changes = sim.tick_at(60);
    assert!(matches!(
        changes.as_slice(),
        [Change::TimeoutAlert { kind: TimeoutKind::Attempt, task_ref: Some(r), .. }] if r == "slow"
    ));
    assert_eq!(sim.state.next_wakeup(), None, "the alert fires once");
    assert!(sim.tick_at(120).is_empty());
    sim.reply("slow", ReplyStatus::Completed);
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn an_attempt_timeout_under_retry_is_retried_by_the_retry_policy() {
    let flow = r#"
name: t
tasks:
  - name: slow
    taskReferenceName: slow
    taskDefinition: {timeoutSeconds: 10, timeoutPolicy: RETRY, retryCount: 1, retryDelaySeconds: 5}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    sim.tick_at(10);
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::RetryWait);
    sim.tick_at(15);
    assert_eq!(sim.state.tasks["slow"].attempt, 2);
    assert_eq!(
        sim.state.next_wakeup(),
        Some(sim.at(25)),
        "the new attempt has its own clock"
    );
    sim.tick_at(25);
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::TimedOut);
    assert_eq!(sim.state.status, RunStatus::TimedOut);
    sim.assert_replays();
}

#[test]
fn the_total_timeout_bounds_all_attempts_and_the_waits_between() {
    let flow = r#"
name: t
tasks:
  - {name: flaky, taskReferenceName: flaky, totalTimeoutSeconds: 20, timeoutPolicy: RETRY, retry: {count: 10, delay: 8s}}
"#;
    let mut sim = Sim::start(flow, &["flaky"]);
    sim.now = sim.at(5);
    sim.reply("flaky", ReplyStatus::Failed);
    sim.tick_at(13);
    assert_eq!(sim.state.tasks["flaky"].attempt, 2);
    sim.now = sim.at(15);
    sim.reply("flaky", ReplyStatus::Failed);
    assert_eq!(sim.state.tasks["flaky"].status, TaskStatus::RetryWait);
    // The retry would be at 23, the total deadline is at 20.
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(20)));
    let changes = sim.tick_at(20);
    assert!(has(&changes, |c| matches!(
        c,
        Change::TaskTimedOut {
            kind: TimeoutKind::Total,
            ..
        }
    )));
    assert_eq!(sim.state.tasks["flaky"].status, TaskStatus::TimedOut);
    assert_eq!(sim.state.status, RunStatus::TimedOut);
    assert_eq!(sim.scheduled("flaky"), 2);
    sim.assert_replays();
}

#[test]
fn the_workflow_timeout_ends_the_run_or_alerts() {
    let flow = r#"
name: t
timeoutSeconds: 100
tasks:
  - {name: slow, taskReferenceName: slow}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(100)));
    let changes = sim.tick_at(100);
    assert!(matches!(
        changes.as_slice(),
        [
            Change::TaskCanceled { task_ref, .. },
            Change::RunTimedOut { task_ref: None, .. }
        ] if task_ref == "slow"
    ));
    assert_eq!(sim.state.status, RunStatus::TimedOut);
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::Canceled);
    sim.assert_replays();

    let flow = r#"
name: t
timeoutSeconds: 100
timeoutPolicy: ALERT_ONLY
tasks:
  - {name: slow, taskReferenceName: slow}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    let changes = sim.tick_at(100);
    assert!(matches!(
        changes.as_slice(),
        [Change::TimeoutAlert {
            task_ref: None,
            kind: TimeoutKind::Workflow,
            ..
        }]
    ));
    assert_eq!(sim.state.next_wakeup(), None);
    sim.reply("slow", ReplyStatus::Completed);
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn a_timeout_of_an_optional_task_under_retry_lets_the_run_complete() {
    let flow = r#"
name: t
tasks:
  - {name: slow, taskReferenceName: slow, optional: true, timeoutSeconds: 5, timeoutPolicy: RETRY}
  - {name: next, taskReferenceName: next}
"#;
    let mut sim = Sim::start(flow, &["slow", "next"]);
    sim.tick_at(5);
    assert_eq!(
        sim.state.tasks["slow"].status,
        TaskStatus::CompletedWithErrors
    );
    assert_eq!(sim.scheduled("next"), 1);
    sim.assert_replays();
}

// ---- permissive ----

#[test]
fn a_permissive_failure_lets_the_run_go_on_and_end_failed() {
    let flow = r#"
name: p
tasks:
  - {name: t1, taskReferenceName: t1, permissive: true}
  - {name: t2, taskReferenceName: t2}
"#;
    let mut sim = Sim::start(flow, &["t1", "t2"]);
    let changes = sim.reply("t1", ReplyStatus::Failed);
    assert!(!has(&changes, |c| matches!(c, Change::RunFailed { .. })));
    assert_eq!(
        sim.scheduled("t2"),
        1,
        "the run went on past the failed task"
    );
    let end = sim.reply("t2", ReplyStatus::Completed);
    assert!(matches!(end.last(), Some(Change::RunFailed { task_ref: Some(r), .. }) if r == "t1"));
    assert_eq!(sim.state.status, RunStatus::Failed);
    sim.assert_replays();
}

#[test]
fn a_permissive_branch_failure_lets_the_fork_and_join_finish() {
    let flow = r#"
name: p
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: t1, taskReferenceName: t1, permissive: true}]
      - [{name: t2, taskReferenceName: t2, permissive: true}]
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [t1, t2]}
  - {name: t3, taskReferenceName: t3}
"#;
    let mut sim = Sim::start(flow, &["t1", "t2", "t3"]);
    sim.reply("t1", ReplyStatus::FailedWithTerminalError);
    assert!(
        sim.state.tasks["t2"].status.is_in_flight(),
        "the other branch goes on"
    );
    sim.reply("t2", ReplyStatus::Completed);
    assert_eq!(sim.state.tasks["join"].status, TaskStatus::Completed);
    sim.reply("t3", ReplyStatus::Completed);
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(
        sim.state.failure.as_ref().unwrap().task_ref.as_deref(),
        Some("t1")
    );
    sim.assert_replays();
}

#[test]
fn a_non_permissive_failure_still_stops_the_run_at_once() {
    let flow = "name: p\ntasks:\n  - {name: t1, taskReferenceName: t1}\n  - {name: t2, taskReferenceName: t2}\n";
    let mut sim = Sim::start(flow, &["t1", "t2"]);
    sim.reply("t1", ReplyStatus::Failed);
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(sim.scheduled("t2"), 0);
}

// ---- retries ----

/// The retry delays (in ms after each failure) of a task failing `n` times.
fn retry_delays(flow: &str, n: usize) -> Vec<i64> {
    let mut sim = Sim::start(flow, &["x"]);
    let mut delays = Vec::new();
    let mut ids = vec![sim.task_id("x")];
    for _ in 0..n {
        let changes = sim.reply("x", ReplyStatus::Failed);
        let Some(at) = changes.iter().find_map(|c| match c {
            Change::TaskFailed { retry_at, .. } => *retry_at,
            _ => None,
        }) else {
            break;
        };
        delays.push((at - sim.now).num_milliseconds());
        sim.now = at;
        sim.input(Input::Tick);
        ids.push(sim.task_id("x"));
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "every attempt has its own id");
    sim.assert_replays();
    delays
}

#[test]
fn conductor_retry_fields_fixed_linear_exponential_with_cap() {
    let fixed = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retryCount: 3, retryLogic: FIXED, retryDelaySeconds: 2}\n";
    assert_eq!(retry_delays(fixed, 5), [2000, 2000, 2000]);
    let linear = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, taskDefinition: {retryCount: 4, retryLogic: LINEAR_BACKOFF, retryDelaySeconds: 1, backoffScaleFactor: 2, maxRetryDelaySeconds: 7}}\n";
    assert_eq!(retry_delays(linear, 5), [2000, 4000, 6000, 7000]);
    // Conductor's exponential backoff doubles; its usual `backoffScaleFactor: 1` does not
    // flatten it.
    let exponential = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retryCount: 5, retryLogic: EXPONENTIAL_BACKOFF, retryDelaySeconds: 1, backoffScaleFactor: 1, maxRetryDelaySeconds: 10}\n";
    assert_eq!(
        retry_delays(exponential, 6),
        [1000, 2000, 4000, 8000, 10000]
    );
}

#[test]
fn inline_retry_maps_onto_the_same_rules() {
    let fixed =
        "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retry: {count: 2, delay: 500ms}}\n";
    assert_eq!(retry_delays(fixed, 3), [500, 500]);
    let linear = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retry: {count: 3, logic: LINEAR_BACKOFF, delay: 1s}}\n";
    assert_eq!(retry_delays(linear, 4), [1000, 2000, 3000]);
    let exponential = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retry: {count: 4, logic: EXPONENTIAL_BACKOFF, delay: 1s, maxDelay: 5s}}\n";
    assert_eq!(retry_delays(exponential, 5), [1000, 2000, 4000, 5000]);
}

#[test]
fn jitter_adds_at_most_its_bound_and_is_journaled() {
    let flow = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retryCount: 20, retryDelaySeconds: 1, backoffJitterMs: 250}\n";
    let delays = retry_delays(flow, 20);
    assert_eq!(delays.len(), 20);
    assert!(
        delays.iter().all(|d| (1000..=1250).contains(d)),
        "{delays:?}"
    );
    assert!(
        delays.iter().any(|d| *d != delays[0]),
        "jitter varies: {delays:?}"
    );
    let inline = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retry: {count: 10, delay: 1s, jitter: 100ms}}\n";
    assert!(
        retry_delays(inline, 10)
            .iter()
            .all(|d| (1000..=1100).contains(d))
    );
}

#[test]
fn failed_with_terminal_error_is_never_retried() {
    let flow = "name: r\ntasks:\n  - {name: x, taskReferenceName: x, retryCount: 5}\n";
    let mut sim = Sim::start(flow, &["x"]);
    let changes = sim.reply("x", ReplyStatus::FailedWithTerminalError);
    assert!(has(&changes, |c| matches!(
        c,
        Change::TaskFailed {
            retry_at: None,
            outcome: TaskStatus::FailedWithTerminalError,
            ..
        }
    )));
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(sim.scheduled("x"), 1);
}

// ---- validation ----

fn problems(yaml: &str) -> Vec<(usize, String)> {
    match crate::definition::parse_str(yaml, std::path::Path::new("v.yaml")) {
        Ok(_) => Vec::new(),
        Err(crate::definition::LoadError::Invalid { diagnostics, .. }) => diagnostics
            .into_iter()
            .filter(|d| d.severity == crate::definition::Severity::Error)
            .map(|d| (d.line, d.message))
            .collect(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn validation_reads_durations_until_timeouts_and_policies() {
    let good = r#"
name: v
timeoutSeconds: 3600
timeoutPolicy: ALERT_ONLY
tasks:
  - {name: a, taskReferenceName: a, type: WAIT, inputParameters: {duration: "1 days 2 hours"}}
  - {name: b, taskReferenceName: b, type: WAIT, inputParameters: {until: "2026-01-31 17:00 UTC"}}
  - {name: c, taskReferenceName: c, type: WAIT, inputParameters: {duration: "${workflow.input.d}", until: "${workflow.input.u}"}}
  - {name: d, taskReferenceName: d, startDelay: 5, permissive: true, pollTimeoutSeconds: 10, responseTimeoutSeconds: 20, timeoutSeconds: 30, totalTimeoutSeconds: 90, timeoutPolicy: RETRY}
  - {name: e, taskReferenceName: e, taskDefinition: {responseTimeoutSeconds: 3600, timeoutSeconds: 0, timeoutPolicy: TIME_OUT_WF}}
"#;
    assert_eq!(problems(good), vec![]);
    let bad = r#"
name: v
timeoutSeconds: soon
timeoutPolicy: RETRY
tasks:
  - {name: a, taskReferenceName: a, type: WAIT, inputParameters: {duration: "10 parsecs"}}
  - {name: b, taskReferenceName: b, type: WAIT, inputParameters: {until: "next tuesday"}}
  - {name: c, taskReferenceName: c, type: WAIT, inputParameters: {duration: 5s, until: "2026-01-31"}}
  - {name: d, taskReferenceName: d, startDelay: -1, permissive: "yes", timeoutPolicy: RETRI}
  - {name: e, taskReferenceName: e, taskDefinition: {responseTimeoutSeconds: true}}
"#;
    let found = problems(bad);
    let has =
        |line: usize, needle: &str| found.iter().any(|(l, m)| *l == line && m.contains(needle));
    assert!(has(3, "timeoutSeconds"), "{found:#?}");
    assert!(has(4, "TIME_OUT_WF, ALERT_ONLY"), "{found:#?}");
    assert!(has(6, "10 parsecs"), "{found:#?}");
    assert!(has(7, "next tuesday"), "{found:#?}");
    assert!(has(8, "both `duration` and `until`"), "{found:#?}");
    assert!(has(9, "startDelay"), "{found:#?}");
    assert!(has(9, "permissive"), "{found:#?}");
    assert!(has(9, "RETRY, TIME_OUT_WF, ALERT_ONLY"), "{found:#?}");
    assert!(has(10, "responseTimeoutSeconds"), "{found:#?}");
    assert_eq!(found.len(), 9, "{found:#?}");
}

#[test]
fn a_timed_out_run_can_be_retried_and_its_clock_starts_again() {
    let flow = r#"
name: t
timeoutSeconds: 100
tasks:
  - {name: slow, taskReferenceName: slow}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    let first = sim.task_id("slow");
    sim.tick_at(100);
    assert_eq!(sim.state.status, RunStatus::TimedOut);
    sim.now = sim.at(500);
    let changes = sim.command(Action::Retry, "slow", None).unwrap();
    assert!(has(
        &changes,
        |c| matches!(c, Change::RunRetried { tasks, .. } if tasks == &["slow"])
    ));
    assert_eq!(sim.state.status, RunStatus::Running);
    assert_ne!(sim.task_id("slow"), first, "a new attempt");
    assert_eq!(
        sim.state.next_wakeup(),
        Some(sim.at(600)),
        "100 s from the retry"
    );
    sim.reply("slow", ReplyStatus::Completed);
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn a_delayed_task_waiting_for_a_free_agent_sets_no_timer() {
    // One slot: `first` holds it when `later`'s delay ends.
    let flow = r#"
name: d
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: first, taskReferenceName: first}]
      - [{name: later, taskReferenceName: later, startDelay: 5}]
  - {name: join, taskReferenceName: join, type: JOIN}
"#;
    let mut sim = Sim::start_with(flow, agents(&["first", "later"], 1));
    assert_eq!(sim.scheduled("first"), 1);
    assert_eq!(sim.state.next_wakeup(), Some(sim.at(5)));
    let changes = sim.tick_at(5);
    assert!(has(&changes, |c| matches!(
        c,
        Change::TaskDelayEnded { .. }
    )));
    assert_eq!(sim.scheduled("later"), 0, "no free slot yet");
    assert_eq!(
        sim.state.next_wakeup(),
        None,
        "nothing to wake up for: a reply frees the slot"
    );
    sim.now = sim.at(7);
    sim.reply("first", ReplyStatus::Completed);
    assert_eq!(sim.scheduled("later"), 1);
    sim.reply("later", ReplyStatus::Completed);
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn timers_that_fell_due_together_all_act_on_one_input() {
    let flow = r#"
name: t
tasks:
  - {name: slow, taskReferenceName: slow, pollTimeoutSeconds: 5, timeoutSeconds: 10, totalTimeoutSeconds: 20, timeoutPolicy: ALERT_ONLY}
"#;
    let mut sim = Sim::start(flow, &["slow"]);
    // Nobody drove the run for a minute: one input acts on all three, in order.
    let changes = sim.tick_at(60);
    let kinds: Vec<TimeoutKind> = changes
        .iter()
        .filter_map(|c| match c {
            Change::TimeoutAlert { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [TimeoutKind::Poll, TimeoutKind::Attempt, TimeoutKind::Total]
    );
    assert_eq!(sim.state.next_wakeup(), None);
    assert!(sim.state.tasks["slow"].status.is_in_flight());
    sim.assert_replays();
}

#[test]
fn a_due_retry_without_a_free_slot_is_not_a_wakeup_after_an_idle_walk() {
    let flow = r#"
name: slots
tasks:
  - name: both
    taskReferenceName: both
    type: FORK_JOIN
    forkTasks:
      - - {name: x, taskReferenceName: a, retryCount: 1, retryDelaySeconds: 1}
      - - {name: x, taskReferenceName: b, responseTimeoutSeconds: 60}
  - {name: j, taskReferenceName: j, type: JOIN, joinOn: [a, b]}
"#;
    let mut sim = Sim::start_with(flow, agents(&["x"], 1));
    assert_eq!(sim.scheduled("a"), 1);
    assert_eq!(sim.scheduled("b"), 0, "one slot: b waits");
    sim.reply("a", ReplyStatus::Failed);
    assert_eq!(sim.state.tasks["a"].status, TaskStatus::RetryWait);
    assert_eq!(sim.scheduled("b"), 1, "a's slot went to b");
    // a's retry falls due while b holds the only slot: the walk changes nothing.
    assert!(sim.tick_at(2).is_empty());
    assert_eq!(
        sim.state.next_wakeup(),
        Some(sim.at(1)),
        "still due, in the past"
    );
    // After that idle walk the driver asks for what comes later: b's response timeout, not
    // the past retry again (that would spin until b replies).
    assert_eq!(
        sim.state.next_wakeup_after(Some(sim.at(2))),
        Some(sim.at(60))
    );
    // b's reply frees the slot and the walk it causes schedules a's retry.
    sim.reply("b", ReplyStatus::Completed);
    assert_eq!(sim.scheduled("a"), 2);
    sim.assert_replays();
}

#[test]
fn complete_ends_a_human_task_with_its_output_and_withdraws_the_request() {
    let flow = r#"
name: h
tasks:
  - {name: decide, taskReferenceName: decide, type: HUMAN, deadline: 1h}
  - {name: ship, taskReferenceName: ship, inputParameters: {ok: "${decide.output.approved}", who: "${decide.output.approver}"}}
"#;
    let mut sim = Sim::start(flow, &["ship"]);
    let request = sim
        .state
        .open_approval("decide")
        .unwrap()
        .request_id
        .clone();
    let completion = Completion {
        status: CompletionStatus::Completed,
        output: json!({"approved": true, "approver": "ann"}),
    };
    sim.command(Action::Complete, "decide", Some(completion))
        .unwrap();
    assert_eq!(sim.state.tasks["decide"].status, TaskStatus::Completed);
    assert_eq!(
        sim.state.tasks["ship"].input,
        json!({"ok": true, "who": "ann"})
    );
    assert_eq!(
        sim.state.approvals[&request].status,
        crate::engine::ApprovalStatus::Withdrawn,
        "no decision or deadline acts on it any more"
    );
    assert_eq!(sim.state.next_wakeup(), None, "the deadline is gone");
    sim.assert_replays();
}

#[test]
fn row_6_a_timeout_with_no_retry_left_ends_the_task_and_the_run_timed_out() {
    // Conductor: a response timeout (always retried) with the retries used up, RETRY with the
    // retries used up, and TIME_OUT_WF all end the task TIMED_OUT and the workflow TIMED_OUT;
    // ALERT_ONLY changes nothing.
    for (task, policy) in [
        ("responseTimeoutSeconds: 10, retryCount: 0", "response"),
        (
            "timeoutSeconds: 10, timeoutPolicy: RETRY, retryCount: 0",
            "RETRY",
        ),
        (
            "timeoutSeconds: 10, timeoutPolicy: TIME_OUT_WF, retryCount: 2",
            "TIME_OUT_WF",
        ),
    ] {
        let flow =
            format!("name: t\ntasks:\n  - {{name: slow, taskReferenceName: slow, {task}}}\n");
        let mut sim = Sim::start(&flow, &["slow"]);
        let changes = sim.tick_at(10);
        assert!(
            has(&changes, |c| matches!(
                c,
                Change::TaskFailed {
                    outcome: TaskStatus::TimedOut,
                    retry_at: None,
                    ..
                }
            )),
            "{policy}: {changes:?}"
        );
        assert!(
            matches!(changes.last(), Some(Change::RunTimedOut { task_ref: Some(r), .. }) if r == "slow"),
            "{policy}: {changes:?}"
        );
        assert_eq!(
            sim.state.tasks["slow"].status,
            TaskStatus::TimedOut,
            "{policy}"
        );
        assert_eq!(sim.state.status, RunStatus::TimedOut, "{policy}");
        assert_eq!(sim.scheduled("slow"), 1, "{policy}");
        sim.assert_replays();
    }
    let flow = "name: t\ntasks:\n  - {name: slow, taskReferenceName: slow, timeoutSeconds: 10, timeoutPolicy: ALERT_ONLY}\n";
    let mut sim = Sim::start(flow, &["slow"]);
    sim.tick_at(10);
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::Scheduled);
    assert_eq!(sim.state.status, RunStatus::Running);
}
