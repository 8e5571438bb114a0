//! The engine with plain values: no files, no clock, no processes.

use chrono::Duration;
use serde_json::{Value, json};

use super::testkit::{self, Driver, agents, workflow};
use super::*;
use crate::mailbox::approval::{Approval, Decision};
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::station::AgentDirectory;

/// The run these tests drive by hand, with their helpers.
type Sim = testkit::Sim<Engine>;
struct Engine;

impl Sim {
    fn start(flow: &str, input: Value, agents: AgentDirectory) -> Sim {
        Sim::new(Driver::start(workflow(flow), input, agents))
    }

    /// Tasks waiting for a reply: (reference, task id, attempt, agent).
    fn in_flight(&self) -> Vec<(String, String, u32, String)> {
        self.state
            .tasks
            .values()
            .filter(|t| t.status.is_in_flight())
            .map(|t| {
                (
                    t.task_ref.clone(),
                    t.task_id.clone().unwrap(),
                    t.attempt,
                    t.agent.clone().unwrap(),
                )
            })
            .collect()
    }

    fn reply(&mut self, task_ref: &str, status: ReplyStatus, output: Value) -> Vec<Change> {
        let (_, task_id, _, agent) = self
            .in_flight()
            .into_iter()
            .find(|t| t.0 == task_ref)
            .unwrap_or_else(|| panic!("{task_ref} is not in flight"));
        self.reply_as(&agent, &task_id, status, output)
    }

    fn reply_as(
        &mut self,
        agent: &str,
        task_id: &str,
        status: ReplyStatus,
        output: Value,
    ) -> Vec<Change> {
        let token = self.token_of(task_id);
        self.reply_with_token(agent, task_id, token, status, output)
    }

    fn reply_with_token(
        &mut self,
        agent: &str,
        task_id: &str,
        token: Option<String>,
        status: ReplyStatus,
        output: Value,
    ) -> Vec<Change> {
        let reply = Reply {
            reason: Some("because".into()),
            token,
            ..testkit::reply(task_id, status, output)
        };
        self.input(Input::Reply {
            agent: agent.into(),
            file: format!("{task_id}.yaml"),
            reply,
        })
    }

    fn heartbeat_with_note(&mut self, task_ref: &str, note: &str) -> Vec<Change> {
        let (_, task_id, _, agent) = self
            .in_flight()
            .into_iter()
            .find(|t| t.0 == task_ref)
            .unwrap_or_else(|| panic!("{task_ref} is not in flight"));
        let reply = Reply {
            reason: Some(note.into()),
            token: self.token_of(&task_id),
            ..testkit::reply(&task_id, ReplyStatus::InProgress, json!({}))
        };
        self.input(Input::Reply {
            agent,
            file: format!("{task_id}.yaml"),
            reply,
        })
    }
}

const FLOW: &str = r#"
name: everything
tasks:
  - {name: prepare, taskReferenceName: prepare, retry: {count: 2, logic: LINEAR_BACKOFF, delay: 2s}}
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: work, taskReferenceName: left}]
      - [{name: work, taskReferenceName: right}]
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [left, right]}
  - name: many
    taskReferenceName: many
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: work, forkTaskInputs: "${prepare.output.items}"}
  - {name: join, taskReferenceName: join_many, type: JOIN}
  - name: choose
    taskReferenceName: choose
    type: SWITCH
    evaluatorType: expression
    expression: "count > 2"
    inputParameters: {count: "${prepare.output.count}"}
    decisionCases:
      "true": [{name: work, taskReferenceName: big}]
    defaultCase: [{name: work, taskReferenceName: small}]
outputParameters:
  joined: "${join.output}"
  chosen: "${choose.output.selectedCase}"
"#;

#[test]
fn replaying_the_changes_rebuilds_exactly_the_live_state() {
    let mut sim = Sim::start(FLOW, json!({}), agents(&[("a", &["prepare", "work"], 2)]));
    // prepare fails once, then succeeds after its linear backoff.
    sim.reply("prepare", ReplyStatus::Failed, json!({}));
    assert_eq!(
        sim.state.next_wakeup(),
        Some(sim.now + Duration::seconds(2))
    );
    assert!(sim.input(Input::Tick).is_empty(), "nothing is due yet");
    sim.now += Duration::seconds(2);
    sim.input(Input::Tick);
    assert_eq!(sim.in_flight()[0].2, 2, "attempt 2 is scheduled when due");
    sim.reply(
        "prepare",
        ReplyStatus::Completed,
        json!({"items": [1, 2, 3], "count": 3}),
    );
    // Both branches are in flight together.
    let refs: Vec<String> = sim.in_flight().into_iter().map(|t| t.0).collect();
    assert_eq!(refs, ["left", "right"]);
    sim.reply("left", ReplyStatus::Completed, json!({"side": "L"}));
    sim.reply("right", ReplyStatus::Completed, json!({"side": "R"}));
    // Three forks but a concurrency of 2: the third waits for a free slot.
    assert_eq!(sim.in_flight().len(), 2);
    sim.reply("_work_0", ReplyStatus::Completed, json!({"n": 0}));
    assert_eq!(
        sim.in_flight()
            .iter()
            .map(|t| t.0.as_str())
            .collect::<Vec<_>>(),
        ["_work_1", "_work_2"]
    );
    sim.reply("_work_1", ReplyStatus::Completed, json!({"n": 1}));
    sim.reply("_work_2", ReplyStatus::Completed, json!({"n": 2}));
    sim.reply("big", ReplyStatus::Completed, json!({"done": true}));

    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(
        sim.state.output,
        Some(json!({"joined": {"left": {"side": "L"}, "right": {"side": "R"}}, "chosen": "true"}))
    );
    assert_eq!(
        sim.state.tasks["_work_1"].input,
        json!({"item": 2, "__index": 1})
    );
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn late_stale_and_misdirected_replies_are_refused_not_applied() {
    let mut sim = Sim::start(
        FLOW,
        json!({}),
        agents(&[("a", &["prepare", "work"], 2), ("b", &[], 1)]),
    );
    let (_, first_id, _, _) = sim.in_flight()[0].clone();
    sim.reply("prepare", ReplyStatus::Failed, json!({}));
    sim.now += Duration::seconds(2);
    sim.input(Input::Tick);

    let stale = sim.reply_as("a", &first_id, ReplyStatus::Completed, json!({}));
    assert!(
        matches!(&stale[..], [Change::ReplyRejected { reason, .. }] if reason.contains("stale")),
        "{stale:?}"
    );

    let (_, second_id, _, _) = sim.in_flight()[0].clone();
    let forged = sim.reply_with_token(
        "a",
        &second_id,
        Some("guessed".into()),
        ReplyStatus::Completed,
        json!({}),
    );
    assert!(
        matches!(&forged[..], [Change::ReplyRejected { reason, .. }] if reason.contains("wrong token")),
        "{forged:?}"
    );
    let tokenless = sim.reply_with_token("a", &second_id, None, ReplyStatus::Completed, json!({}));
    assert!(
        matches!(&tokenless[..], [Change::ReplyRejected { reason, .. }] if reason.contains("no `token`")),
        "{tokenless:?}"
    );
    let elsewhere = sim.reply_as("b", &second_id, ReplyStatus::Completed, json!({}));
    assert!(
        matches!(&elsewhere[..], [Change::ReplyRejected { reason, .. }] if reason.contains("was sent to agent `a`")),
        "{elsewhere:?}"
    );

    sim.reply_as(
        "a",
        &second_id,
        ReplyStatus::Completed,
        json!({"items": [], "count": 0}),
    );
    let again = sim.reply_as("a", &second_id, ReplyStatus::Completed, json!({}));
    assert!(
        matches!(&again[..], [Change::ReplyRejected { reason, .. }] if reason.contains("duplicate")),
        "{again:?}"
    );
    assert_eq!(
        sim.state.tasks["prepare"].output,
        json!({"items": [], "count": 0}),
        "the first reply stands"
    );
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_heartbeat_keeps_the_task_in_flight_and_an_exhausted_retry_fails_the_run() {
    let flow = "name: hb\ntasks:\n  - {name: slow, taskReferenceName: slow, retry: {count: 1, delay: 1s}}\n";
    let mut sim = Sim::start(flow, json!({}), agents(&[("a", &["slow"], 1)]));
    sim.reply("slow", ReplyStatus::InProgress, json!({}));
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::InProgress);
    sim.reply("slow", ReplyStatus::Failed, json!({}));
    sim.now += Duration::seconds(1);
    sim.input(Input::Tick);
    let end = sim.reply("slow", ReplyStatus::Failed, json!({}));
    assert!(
        matches!(end.last(), Some(Change::RunFailed { task_ref: Some(r), .. }) if r == "slow"),
        "{end:?}"
    );
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn retry_delays_follow_the_policy() {
    use crate::definition::{DurationSpec, RetryLogic, RetryPolicy};
    let policy = |logic, scale| RetryPolicy {
        count: 5,
        logic,
        delay: DurationSpec(std::time::Duration::from_secs(1)),
        max_delay: Some(DurationSpec(std::time::Duration::from_secs(5))),
        jitter: DurationSpec::default(),
        backoff_scale: scale,
    };
    let secs = |p: &RetryPolicy| {
        (1..=4)
            .map(|r| p.delay_before(r).as_secs_f64())
            .collect::<Vec<_>>()
    };
    assert_eq!(secs(&policy(RetryLogic::Fixed, 2.0)), [1.0, 1.0, 1.0, 1.0]);
    assert_eq!(
        secs(&policy(RetryLogic::LinearBackoff, 2.0)),
        [1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(
        secs(&policy(RetryLogic::ExponentialBackoff, 2.0)),
        [1.0, 2.0, 4.0, 5.0],
        "capped at maxDelay"
    );
    assert_eq!(
        secs(&policy(RetryLogic::ExponentialBackoff, 3.0)),
        [1.0, 3.0, 5.0, 5.0]
    );
}

const GATE: &str = r#"
name: gated
tasks:
  - {name: prepare, taskReferenceName: prepare}
  - name: gate
    taskReferenceName: gate
    type: HUMAN
    deadline: 30m
    onDeadline: REJECT
    inputParameters: {question: "Ship ${prepare.output.what}?", why: "it is Friday", size: "${prepare.output.size}"}
  - name: route
    taskReferenceName: route
    type: SWITCH
    expression: decision
    inputParameters: {decision: "${gate.output.decision}"}
    decisionCases:
      approved: [{name: ship, taskReferenceName: ship}]
    defaultCase: [{name: note, taskReferenceName: note}]
"#;

impl Sim {
    fn open_request(&self, task_ref: &str) -> ApprovalState {
        self.state
            .open_approval(task_ref)
            .cloned()
            .unwrap_or_else(|| panic!("{task_ref} has no open request"))
    }

    fn approval(&mut self, agent: &str, approval: Approval) -> Vec<Change> {
        self.input(Input::Approval {
            agent: agent.into(),
            file: format!("{}.approval.yaml", approval.request_id),
            approval,
        })
    }
}

fn decision(request: &ApprovalState, decision: Decision) -> Approval {
    Approval {
        version: 1,
        kind: "approval".into(),
        request_id: request.request_id.clone(),
        token: Some(request.token.clone()),
        decision,
        by: Some("Ada".into()),
        comment: Some("fine".into()),
        reason: (decision == Decision::Reject).then(|| "not today".to_string()),
        run_id: None,
        signature: None,
    }
}

fn refused(changes: &[Change], needle: &str) -> bool {
    matches!(changes, [Change::ReplyRejected { reason, .. }] if reason.contains(needle))
}

fn gate_agents() -> AgentDirectory {
    agents(&[
        ("a", &["prepare", "ship", "note"], 2),
        ("commander", &[], 1),
        ("boss", &[], 1),
    ])
}

#[test]
fn a_human_task_asks_once_waits_and_completes_on_approval() {
    let mut sim = Sim::start(GATE, json!({}), gate_agents());
    let asked = sim.reply(
        "prepare",
        ReplyStatus::Completed,
        json!({"what": "v2", "size": 3}),
    );
    let request = sim.open_request("gate");
    assert!(
        matches!(
            &asked[1..],
            [Change::ApprovalRequested { approver, input, deadline: Some(d), .. }]
                if approver == "commander"
                    && input == &json!({"question": "Ship v2?", "why": "it is Friday", "size": 3})
                    && *d == sim.now + Duration::minutes(30)
        ),
        "{asked:?}"
    );
    assert_eq!(
        sim.state.next_wakeup(),
        request.deadline,
        "the deadline is the timer"
    );
    assert!(
        sim.input(Input::Tick).is_empty(),
        "waiting costs nothing and asks nothing again"
    );

    let wrong_token = Approval {
        token: Some("guessed".into()),
        ..decision(&request, Decision::Approve)
    };
    assert!(refused(
        &sim.approval("commander", wrong_token),
        "wrong token"
    ));
    let elsewhere = sim.approval("a", decision(&request, Decision::Approve));
    assert!(
        refused(&elsewhere, "is for approver `commander`"),
        "{elsewhere:?}"
    );
    let unknown = Approval {
        request_id: "01OLDREQUEST".into(),
        ..decision(&request, Decision::Approve)
    };
    assert!(refused(
        &sim.approval("commander", unknown),
        "no approval request"
    ));

    sim.now += Duration::minutes(5);
    let decided = sim.approval("commander", decision(&request, Decision::Approve));
    assert!(
        matches!(
            &decided[..2],
            [Change::ApprovalDecided { decision: Decision::Approve, by, .. }, Change::TaskCompleted { output, .. }]
                if by == "Ada" && output["approved"] == json!(true) && output["decision"] == "approved"
        ),
        "{decided:?}"
    );
    assert_eq!(
        sim.in_flight()[0].0,
        "ship",
        "the SWITCH routes on the decision"
    );
    let again = sim.approval("commander", decision(&request, Decision::Reject));
    assert!(refused(&again, "already decided"), "{again:?}");
    assert_eq!(
        sim.state.tasks["gate"].output["decision"], "approved",
        "the first decision stands"
    );
    assert_eq!(sim.state.next_wakeup(), None);
    sim.reply("ship", ReplyStatus::Completed, json!({}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_rejection_completes_the_task_unless_fail_on_reject() {
    let mut sim = Sim::start(GATE, json!({}), gate_agents());
    sim.reply("prepare", ReplyStatus::Completed, json!({"what": "x"}));
    let request = sim.open_request("gate");
    let no_reason = Approval {
        reason: None,
        ..decision(&request, Decision::Reject)
    };
    assert!(refused(
        &sim.approval("commander", no_reason),
        "needs a `reason`"
    ));
    sim.approval("commander", decision(&request, Decision::Reject));
    assert_eq!(sim.state.tasks["gate"].output["decision"], "rejected");
    assert_eq!(sim.state.tasks["gate"].output["reason"], "not today");
    assert_eq!(sim.in_flight()[0].0, "note");
    assert_eq!(sim.replayed(), sim.state);

    let strict = "name: s\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, failOnReject: true}\n";
    let mut sim = Sim::start(strict, json!({}), gate_agents());
    let request = sim.open_request("gate");
    assert_eq!(request.deadline, None);
    assert_eq!(sim.state.next_wakeup(), None, "no deadline, no timer");
    sim.approval("commander", decision(&request, Decision::Reject));
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert!(sim.failure_reason().contains("rejected by Ada: not today"));
    assert_eq!(sim.replayed(), sim.state);
}

fn deadline_flow(policy: &str) -> String {
    format!(
        "name: d\ntasks:\n  - {{name: gate, taskReferenceName: gate, type: HUMAN, deadline: 10s, onDeadline: {policy}, escalateTo: boss, inputParameters: {{question: ok?}}}}\n"
    )
}

#[test]
fn deadline_policies_reject_fail_or_escalate_and_a_late_decision_is_told_so() {
    // REJECT: completed as rejected by 3ox; the late approval is refused and says so.
    let mut sim = Sim::start(&deadline_flow("REJECT"), json!({}), gate_agents());
    let request = sim.open_request("gate");
    sim.now += Duration::seconds(10);
    let late = sim.approval("commander", decision(&request, Decision::Approve));
    assert!(
        matches!(&late[0], Change::ApprovalExpired { .. }),
        "{late:?}"
    );
    assert!(
        late.iter()
            .any(|c| matches!(c, Change::ReplyRejected { reason, .. }
            if reason.contains("deadline") && reason.contains("rejected by 3ox (deadline)"))),
        "{late:?}"
    );
    assert_eq!(sim.state.tasks["gate"].output["by"], "3ox (deadline)");
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.replayed(), sim.state);

    // FAIL: the run fails.
    let mut sim = Sim::start(&deadline_flow("FAIL"), json!({}), gate_agents());
    sim.now += Duration::seconds(11);
    sim.input(Input::Tick);
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(sim.replayed(), sim.state);

    // ESCALATE: a new request to `boss`; the old one is closed; the escalated one expires
    // as a rejection.
    let mut sim = Sim::start(&deadline_flow("ESCALATE"), json!({}), gate_agents());
    let first = sim.open_request("gate");
    sim.now += Duration::seconds(10);
    sim.input(Input::Tick);
    let second = sim.open_request("gate");
    assert_eq!(second.approver, "boss");
    assert_eq!(
        second.escalated_from.as_deref(),
        Some(first.request_id.as_str())
    );
    assert_eq!(second.deadline, Some(sim.now + Duration::seconds(10)));
    let old = sim.approval("commander", decision(&first, Decision::Approve));
    assert!(refused(&old, "escalated to `boss`"), "{old:?}");
    sim.approval("boss", decision(&second, Decision::Approve));
    assert_eq!(sim.state.tasks["gate"].output["approved"], true);
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.replayed(), sim.state);
}

const CHAIN: &str = r#"
name: chain
tasks:
  - {name: work, taskReferenceName: a}
  - {name: work, taskReferenceName: b}
  - {name: work, taskReferenceName: c}
"#;

fn by(action: control::Action, task: Option<&str>) -> control::Command {
    control::Command {
        uid: Some(1000),
        reason: Some("because".into()),
        task: task.map(str::to_owned),
        ..testkit::command(action, "alice")
    }
}

impl Sim {
    fn in_flight_refs(&self) -> Vec<String> {
        self.in_flight().into_iter().map(|t| t.0).collect()
    }
}

#[test]
fn a_paused_run_schedules_nothing_until_resumed_and_replies_still_apply() {
    use control::Action::*;
    let mut sim = Sim::start(CHAIN, json!({}), agents(&[("w", &["work"], 1)]));
    let changes = sim.command(by(Pause, None)).unwrap();
    assert!(
        matches!(&changes[..], [Change::RunPaused { by, uid: Some(1000), .. }] if by == "alice")
    );
    assert!(matches!(
        sim.command(by(Pause, None)),
        Err(control::ControlError::AlreadyPaused { .. })
    ));
    // The reply to what was in flight applies, but nothing new is scheduled.
    let changes = sim.reply("a", ReplyStatus::Completed, json!({}));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(sim.in_flight().is_empty());
    assert_eq!(sim.state.next_wakeup(), None);
    assert!(sim.input(Input::Tick).is_empty());
    let changes = sim.command(by(Resume, None)).unwrap();
    assert!(
        matches!(&changes[..], [Change::RunResumed { .. }, Change::TaskScheduled { task_ref, .. }] if task_ref == "b")
    );
    assert!(matches!(
        sim.command(by(Resume, None)),
        Err(control::ControlError::NotPaused { .. })
    ));
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn terminate_ends_the_run_with_the_reason_and_later_commands_are_refused() {
    use control::Action::*;
    let mut sim = Sim::start(CHAIN, json!({}), agents(&[("w", &["work"], 1)]));
    sim.command(by(Pause, None)).unwrap();
    let (_, task_id, _, agent) = sim.in_flight().remove(0);
    sim.command(by(Terminate, None)).unwrap();
    assert_eq!(sim.state.status, RunStatus::Terminated);
    assert!(!sim.state.paused);
    assert_eq!(sim.failure_reason(), "because");
    assert_eq!(sim.state.tasks["a"].status, TaskStatus::Canceled);
    // A reply after the end is refused as too late.
    assert!(refused(
        &sim.reply_as(&agent, &task_id, ReplyStatus::Completed, json!({})),
        "already ended"
    ));
    for action in [Pause, Resume, Terminate] {
        let error = sim.command(by(action, None)).unwrap_err();
        assert!(
            matches!(error, control::ControlError::Ended { .. }),
            "{error}"
        );
        assert!(!error.hint().is_empty());
    }
    // As Conductor: a TERMINATED run's canceled task runs again on a retry.
    let retried = sim.command(by(Retry, None)).unwrap();
    assert!(
        matches!(&retried[0], Change::RunRetried { tasks, .. } if tasks == &["a"]),
        "{retried:?}"
    );
    assert_eq!(sim.state.status, RunStatus::Running);
    assert_eq!(sim.in_flight()[0].0, "a");
    assert_eq!(sim.in_flight()[0].2, 2);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn retry_runs_the_failed_task_again_as_a_new_attempt_and_keeps_completed_work() {
    use control::Action::*;
    let mut sim = Sim::start(CHAIN, json!({}), agents(&[("w", &["work"], 1)]));
    assert!(matches!(
        sim.command(by(Retry, None)),
        Err(control::ControlError::NotFailed { .. })
    ));
    sim.reply("a", ReplyStatus::Completed, json!({"x": 1}));
    let first = sim.in_flight()[0].clone();
    sim.reply("b", ReplyStatus::Failed, json!({}));
    assert_eq!(sim.state.status, RunStatus::Failed);
    let changes = sim.command(by(Retry, None)).unwrap();
    assert!(matches!(&changes[0], Change::RunRetried { tasks, .. } if tasks == &["b"]));
    assert_eq!(sim.state.status, RunStatus::Running);
    let again = sim.in_flight()[0].clone();
    assert_eq!((again.0.as_str(), again.2), ("b", 2));
    assert_ne!(again.1, first.1, "a new task id");
    assert_eq!(sim.state.tasks["a"].output, json!({"x": 1}));
    // The old attempt's late reply is stale.
    assert!(refused(
        &sim.reply_as("w", &first.1, ReplyStatus::Completed, json!({})),
        "stale"
    ));
    sim.reply("b", ReplyStatus::Completed, json!({}));
    sim.reply("c", ReplyStatus::Completed, json!({}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn skip_completes_a_pending_or_failed_task_empty_and_the_run_goes_on() {
    use control::Action::*;
    let mut sim = Sim::start(CHAIN, json!({}), agents(&[("w", &["work"], 1)]));
    let error = sim.command(by(Skip, Some("nope"))).unwrap_err();
    assert!(matches!(error, control::ControlError::UnknownTask { .. }));
    assert!(error.hint().contains("a, b, c"), "{}", error.hint());
    // Skip the task in flight: its slot frees, b is scheduled, a's late reply is refused.
    let a = sim.in_flight()[0].clone();
    sim.command(by(Skip, Some("a"))).unwrap();
    assert_eq!(sim.state.tasks["a"].status, TaskStatus::Skipped);
    assert_eq!(sim.in_flight_refs(), ["b"]);
    assert!(refused(
        &sim.reply_as("w", &a.1, ReplyStatus::Completed, json!({})),
        "already settled"
    ));
    assert!(matches!(
        sim.command(by(Skip, Some("a"))),
        Err(control::ControlError::NotSkippable { .. })
    ));
    // Skip a task not started yet, and a failed task of a FAILED run (which goes on).
    sim.command(by(Skip, Some("c"))).unwrap();
    sim.reply("b", ReplyStatus::FailedWithTerminalError, json!({}));
    assert_eq!(sim.state.status, RunStatus::Failed);
    sim.command(by(Skip, Some("b"))).unwrap();
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.state.tasks["b"].output, json!({}));
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn rerun_from_a_task_runs_it_and_what_follows_again_but_not_what_came_before() {
    use control::Action::*;
    let mut sim = Sim::start(CHAIN, json!({}), agents(&[("w", &["work"], 1)]));
    assert!(matches!(
        sim.command(by(RerunFrom, Some("b"))),
        Err(control::ControlError::StillRunning { .. })
    ));
    for task in ["a", "b", "c"] {
        sim.reply(task, ReplyStatus::Completed, json!({"from": task}));
    }
    assert_eq!(sim.state.status, RunStatus::Completed);
    let changes = sim.command(by(RerunFrom, Some("b"))).unwrap();
    assert!(matches!(&changes[0], Change::RunRerunFrom { tasks, .. } if tasks == &["b", "c"]));
    assert_eq!(sim.in_flight()[0].0, "b");
    assert_eq!(sim.in_flight()[0].2, 2);
    assert_eq!(sim.state.tasks["a"].status, TaskStatus::Completed);
    sim.reply("b", ReplyStatus::Completed, json!({"again": "b"}));
    sim.reply("c", ReplyStatus::Completed, json!({"again": "c"}));
    assert_eq!(sim.state.output, Some(json!({"again": "c"})));
    // Restart needs an ended run and records the new run; this run's state is untouched.
    let before = sim.state.clone();
    let mut restart = by(Restart, None);
    restart.new_run_id = Some("NEW".into());
    let changes = sim.command(restart).unwrap();
    assert!(
        matches!(&changes[..], [Change::RunRestarted { new_run_id, .. }] if new_run_id == "NEW")
    );
    assert_eq!(sim.state, before);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn row_14_restart_starts_the_same_run_again_from_the_top() {
    use control::Action::*;
    let mut sim = Sim::start(CHAIN, json!({}), agents(&[("w", &["work"], 1)]));
    let (_, first_a, _, agent) = sim.in_flight().remove(0);
    for task in ["a", "b", "c"] {
        sim.reply(task, ReplyStatus::Completed, json!({"from": task}));
    }
    assert_eq!(sim.state.status, RunStatus::Completed);
    let run_id = sim.state.run_id.clone();
    let changes = sim.command(by(Restart, None)).unwrap();
    assert!(
        matches!(&changes[0], Change::RunRestarted { new_run_id, .. } if *new_run_id == run_id),
        "{changes:?}"
    );
    // The same run, from the top: only the first task again, as a new first attempt.
    assert_eq!(sim.state.run_id, run_id);
    assert_eq!(sim.state.status, RunStatus::Running);
    assert_eq!(sim.state.output, None);
    let in_flight = sim.in_flight();
    assert_eq!(in_flight.len(), 1);
    assert_eq!((in_flight[0].0.as_str(), in_flight[0].2), ("a", 1));
    assert_ne!(in_flight[0].1, first_a);
    assert!(!sim.state.tasks.contains_key("b"));
    // A late reply to the earlier attempt's task is refused.
    let late = sim.reply_as(&agent, &first_a, ReplyStatus::Completed, json!({}));
    assert!(refused(&late, "no task with id"), "{late:?}");
    for task in ["a", "b", "c"] {
        sim.reply(task, ReplyStatus::Completed, json!({"again": task}));
    }
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.state.output, Some(json!({"again": "c"})));
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn restartable_false_keeps_a_completed_run_from_restarting_as_conductor() {
    use control::Action::*;
    let flow = format!("{CHAIN}restartable: false\n");
    let mut sim = Sim::start(&flow, json!({}), agents(&[("w", &["work"], 1)]));
    for task in ["a", "b", "c"] {
        sim.reply(task, ReplyStatus::Completed, json!({}));
    }
    let error = sim.command(by(Restart, None)).unwrap_err();
    assert!(
        matches!(error, control::ControlError::NotRestartable { .. }),
        "{error}"
    );
    assert!(!error.hint().is_empty());
}

#[test]
fn skipping_a_human_task_withdraws_its_request_so_no_decision_or_deadline_acts_on_it() {
    use control::Action::*;
    let flow = format!(
        "{}  - {{name: ship, taskReferenceName: ship}}\n",
        deadline_flow("FAIL")
    );
    let mut sim = Sim::start(&flow, json!({}), gate_agents());
    let request = sim.open_request("gate");
    sim.command(by(Skip, Some("gate"))).unwrap();
    assert_eq!(sim.in_flight()[0].0, "ship");
    assert_eq!(
        sim.state.approvals[&request.request_id].status,
        ApprovalStatus::Withdrawn
    );
    // Past the deadline: nothing expires, and a decision is refused as withdrawn.
    sim.now += Duration::seconds(60);
    assert!(sim.input(Input::Tick).is_empty());
    let late = sim.approval("commander", decision(&request, Decision::Approve));
    assert!(refused(&late, "withdrawn"), "{late:?}");
    assert_eq!(sim.replayed(), sim.state);
}

mod control_replay {
    use proptest::prelude::*;

    use super::*;

    const REFS: &[&str] = &[
        "prepare",
        "fan",
        "left",
        "right",
        "join",
        "many",
        "_work_0",
        "join_many",
        "choose",
        "big",
        "small",
        "nope",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever people do to a run between its replies and timers, replaying its changes
        /// rebuilds exactly the live state, and a refused command changes nothing.
        #[test]
        fn any_mix_of_replies_timers_and_commands_replays_to_the_live_state(
            ops in prop::collection::vec((0u8..11, 0usize..12), 0..40)
        ) {
            use control::Action::*;
            let mut sim = Sim::start(FLOW, json!({}), agents(&[("a", &["prepare", "work"], 2)]));
            for (op, index) in ops {
                let task = REFS[index];
                let first = sim.in_flight().first().map(|t| t.0.clone());
                match (op, first) {
                    (0, Some(t)) => {
                        sim.reply(&t, ReplyStatus::Completed, json!({"items": [1, 2], "count": 3}));
                    }
                    (1, Some(t)) => {
                        sim.reply(&t, ReplyStatus::Failed, json!({}));
                    }
                    (2, Some(t)) => {
                        sim.reply(&t, ReplyStatus::FailedWithTerminalError, json!({}));
                    }
                    (0..=3, _) => {
                        sim.now += Duration::seconds(5);
                        sim.input(Input::Tick);
                    }
                    _ => {
                        let action = [Pause, Resume, Terminate, Retry, Skip, RerunFrom, Restart]
                            [usize::from(op - 4)]
                        .clone();
                        let mut command = by(action, Some(task));
                        command.new_run_id = Some("NEW".into());
                        let before = sim.state.clone();
                        if sim.command(command).is_err() {
                            prop_assert_eq!(&sim.state, &before);
                        }
                    }
                }
                prop_assert_eq!(sim.replayed(), sim.state.clone());
                let in_flight: usize = sim.state.in_flight.values().sum();
                prop_assert_eq!(in_flight, sim.in_flight().len(), "agent slots match the tasks in flight");
            }
        }
    }
}

#[test]
fn a_dynamic_fork_by_type_alone_sends_each_item_to_an_agent_serving_the_type() {
    let flow = "name: mcp\ntasks:\n  - name: fan\n    taskReferenceName: fan\n    type: FORK_JOIN_DYNAMIC\n    inputParameters:\n      forkTaskType: CALL_MCP_TOOL\n      forkTaskInputs: ${workflow.input.calls}\n  - {name: gather, taskReferenceName: gather, type: JOIN}\n";
    let mut sim = Sim::start(
        flow,
        json!({"calls": [{"tool": "search"}, {"tool": "fetch"}]}),
        agents(&[("bridge", &["CALL_MCP_TOOL"], 4)]),
    );
    let flying = sim.in_flight();
    assert_eq!(flying.len(), 2, "{flying:?}");
    assert!(flying.iter().all(|t| t.3 == "bridge"), "{flying:?}");
    assert_eq!(
        sim.state.tasks["_CALL_MCP_TOOL_0"].type_name,
        "CALL_MCP_TOOL"
    );
    assert_eq!(
        sim.state.tasks["_CALL_MCP_TOOL_1"].input,
        json!({"tool": "fetch", "__index": 1})
    );
    sim.reply(
        "_CALL_MCP_TOOL_0",
        ReplyStatus::Completed,
        json!({"hits": 3}),
    );
    sim.reply(
        "_CALL_MCP_TOOL_1",
        ReplyStatus::Completed,
        json!({"page": "x"}),
    );
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(
        sim.state.output,
        Some(json!({"_CALL_MCP_TOOL_0": {"hits": 3}, "_CALL_MCP_TOOL_1": {"page": "x"}}))
    );
}

#[test]
fn join_output_leaves_out_tasks_with_empty_output() {
    let flow = "name: j\ntasks:\n  - name: fan\n    taskReferenceName: fan\n    type: FORK_JOIN\n    forkTasks:\n      - [{name: work, taskReferenceName: a}]\n      - [{name: work, taskReferenceName: b}]\n  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [a, b]}\noutputParameters:\n  joined: ${join.output}\n";
    let mut sim = Sim::start(flow, json!({}), agents(&[("w", &["work"], 2)]));
    sim.reply("a", ReplyStatus::Completed, json!({}));
    sim.reply("b", ReplyStatus::Completed, json!({"side": "B"}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(
        sim.state.output,
        Some(json!({"joined": {"b": {"side": "B"}}})),
        "as Conductor's Join, `a: {{}}` is left out"
    );
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn agents_cannot_grow_a_journal_without_limit_through_heartbeats() {
    // responseTimeoutSeconds 10: at most one journaled heartbeat per second per attempt.
    let flow =
        "name: hb\ntasks:\n  - {name: slow, taskReferenceName: slow, responseTimeoutSeconds: 10}\n";
    let mut sim = Sim::start(flow, json!({}), agents(&[("a", &["slow"], 1)]));
    let beats = |changes: &[Change]| {
        changes
            .iter()
            .filter(|c| matches!(c, Change::TaskHeartbeat { .. }))
            .count()
    };
    // The first heartbeat starts the task (SCHEDULED to IN_PROGRESS) and is journaled.
    assert_eq!(
        beats(&sim.reply("slow", ReplyStatus::InProgress, json!({}))),
        1
    );
    // 1,000 more within 100 ms: taken, nothing journaled.
    let mut journaled = 0;
    for _ in 0..1000 {
        sim.now += Duration::microseconds(100);
        journaled += beats(&sim.reply("slow", ReplyStatus::InProgress, json!({})));
    }
    assert_eq!(journaled, 0);
    // One that says something new is journaled at once.
    let mut noted = sim.heartbeat_with_note("slow", "half way");
    assert_eq!(beats(&noted), 1);
    noted = sim.heartbeat_with_note("slow", "half way");
    assert_eq!(beats(&noted), 0, "the same note again is redundant");
    // After the interval a plain heartbeat is journaled again, and it moves the deadline:
    // beating every 1.5 s for 30 s (three response timeouts) keeps the task alive.
    let mut journaled = 0;
    for _ in 0..20 {
        sim.now += Duration::milliseconds(1500);
        sim.input(Input::Tick);
        journaled += beats(&sim.reply("slow", ReplyStatus::InProgress, json!({})));
    }
    assert_eq!(journaled, 20);
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::InProgress);
    assert_eq!(sim.state.tasks["slow"].attempt, 1);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn the_journal_keeps_a_bounded_part_of_what_a_refused_file_says() {
    let flow = "name: r\ntasks:\n  - {name: t, taskReferenceName: t}\n";
    let mut sim = Sim::start(flow, json!({}), agents(&[("a", &["t"], 1)]));
    let changes = sim.input(Input::BadReply {
        agent: "a".into(),
        file: "x".repeat(4000),
        reason: "é".repeat(100_000),
    });
    let Some(Change::ReplyRejected { file, reason, .. }) = changes.first() else {
        panic!("{changes:?}");
    };
    assert!(file.len() <= REFUSAL_TEXT_MAX && file.ends_with("..."));
    assert!(reason.len() <= REFUSAL_TEXT_MAX && reason.ends_with("..."));
}
