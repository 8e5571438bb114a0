//! The misc area's engine tests (NOOP, SET_VARIABLE, TERMINATE, EXCLUSIVE_JOIN, DYNAMIC and
//! the mapping rules), with plain values and a fixed clock; and the validator's checks of
//! those types. Every test also checks that replaying the journaled changes rebuilds the
//! live state.

use serde_json::{Value, json};

use crate::definition::{Diagnostic, LoadError, WorkflowDef};
use crate::engine::control::{self, Action};
use crate::engine::state::{ApprovalStatus, RunState, RunStatus, TaskStatus};
use crate::engine::testkit::{self, Driver};
use crate::engine::{Change, Input};
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::station::AgentDirectory;

/// Agents with these capabilities, four tasks at a time each.
fn agents(list: &[(&str, &[&str])]) -> AgentDirectory {
    let list: Vec<_> = list.iter().map(|(name, caps)| (*name, *caps, 4)).collect();
    testkit::agents(&list)
}

fn parse(yaml: &str) -> Result<WorkflowDef, Vec<Diagnostic>> {
    crate::definition::parse_str(yaml, std::path::Path::new("test.yaml")).map_err(|e| match e {
        LoadError::Invalid { diagnostics, .. } => diagnostics,
        other => panic!("{other}"),
    })
}

/// The messages of every error in `yaml`, with line and column.
fn errors(yaml: &str) -> Vec<(usize, usize, String, Option<String>)> {
    match parse(yaml) {
        Ok(_) => Vec::new(),
        Err(d) => d
            .into_iter()
            .map(|d| (d.line, d.column, d.message, d.hint))
            .collect(),
    }
}

/// The run these tests drive by hand, with their helpers.
type Sim = testkit::Sim<Misc>;
struct Misc;

impl RunState {
    fn images_in_flight(&self) -> usize {
        self.in_flight.get("images").copied().unwrap_or(0)
    }
}

impl Sim {
    fn start(flow: &str, input: Value, agents: AgentDirectory) -> Sim {
        Sim::new(Driver::start(testkit::workflow(flow), input, agents))
    }

    /// A person's operation on the run (checked first, like the CLI does).
    fn control(&mut self, command: control::Command) -> Vec<Change> {
        self.command(command).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Completes the in-flight task `task_ref` with `output`.
    fn complete(&mut self, task_ref: &str, output: Value) -> Vec<Change> {
        self.answer(task_ref, ReplyStatus::Completed, output)
    }

    /// Replies `status` with `output` to the in-flight task `task_ref`.
    fn answer(&mut self, task_ref: &str, status: ReplyStatus, output: Value) -> Vec<Change> {
        let task = &self.state.tasks[task_ref];
        assert!(
            task.status.is_in_flight() || task.status == TaskStatus::Canceled,
            "{task_ref} is not in flight"
        );
        let reply = Reply {
            token: task.token.clone(),
            ..testkit::reply(task.task_id.clone().unwrap(), status, output)
        };
        let agent = task.agent.clone().unwrap();
        self.input(Input::Reply {
            agent,
            file: "reply.yaml".into(),
            reply,
        })
    }

    fn in_flight(&self) -> Vec<&str> {
        self.state
            .tasks
            .values()
            .filter(|t| t.status.is_in_flight())
            .map(|t| t.task_ref.as_str())
            .collect()
    }

    fn events(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|(c, _)| {
                serde_json::to_value(c).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
}

// ---- NOOP ----

#[test]
fn noop_completes_at_once_with_an_empty_output() {
    let flow = r#"
name: n
tasks:
  - {name: nothing, taskReferenceName: nothing, type: NOOP}
  - {name: work, taskReferenceName: after, inputParameters: {x: "${nothing.output}"}}
"#;
    let sim = Sim::start(flow, json!({}), agents(&[("w", &["work"])]));
    assert_eq!(sim.state.tasks["nothing"].status, TaskStatus::Completed);
    assert_eq!(sim.state.tasks["nothing"].output, json!({}));
    assert_eq!(sim.in_flight(), ["after"]);
    assert_eq!(sim.state.tasks["after"].input, json!({"x": {}}));
    sim.assert_replays();
}

// ---- JOIN (issue 12 rows 1 and 2) ----

/// A fork of a one-task branch and a two-task branch; `{join_on}` is the JOIN's field.
fn forked(join_on: &str) -> String {
    format!(
        r#"
name: j
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{{name: work, taskReferenceName: a}}]
      - [{{name: work, taskReferenceName: b1}}, {{name: work, taskReferenceName: b2}}]
  - {{name: join, taskReferenceName: join, type: JOIN{join_on}}}
  - {{name: work, taskReferenceName: after, inputParameters: {{joined: "${{join.output}}"}}}}
"#
    )
}

#[test]
fn join_with_subset_join_on_moves_on_when_listed_tasks_are_done() {
    let flow = forked(", joinOn: [a]");
    let mut sim = Sim::start(&flow, json!({}), agents(&[("w", &["work"])]));
    assert_eq!(sim.in_flight(), ["a", "b1"]);
    sim.complete("a", json!({"n": 1}));
    // The JOIN waited for `a` only: `after` runs beside the branch it did not wait for.
    assert_eq!(sim.state.tasks["join"].status, TaskStatus::Completed);
    assert_eq!(sim.state.tasks["join"].output, json!({"a": {"n": 1}}));
    assert_eq!(sim.in_flight(), ["b1", "after"]);
    assert_eq!(
        sim.state.tasks["after"].input,
        json!({"joined": {"a": {"n": 1}}})
    );
    sim.complete("after", json!({}));
    // The run ends only when the other branch has ended too.
    assert_eq!(sim.state.status, RunStatus::Running);
    sim.complete("b1", json!({}));
    assert_eq!(sim.in_flight(), ["b2"]);
    sim.complete("b2", json!({}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn join_is_completed_with_errors_when_an_optional_joined_task_failed() {
    let flow = forked(", joinOn: [a, b2]").replace(
        "{name: work, taskReferenceName: a}",
        "{name: work, taskReferenceName: a, optional: true}",
    );
    let mut sim = Sim::start(&flow, json!({}), agents(&[("w", &["work"])]));
    sim.answer("a", ReplyStatus::Failed, json!({}));
    sim.complete("b1", json!({}));
    sim.complete("b2", json!({"k": 2}));
    let join = &sim.state.tasks["join"];
    assert_eq!(join.status, TaskStatus::CompletedWithErrors);
    assert_eq!(join.reason.as_deref(), Some("`a` completed with errors"));
    assert_eq!(join.output, json!({"b2": {"k": 2}}));
    sim.complete("after", json!({}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn join_with_empty_or_no_join_on_does_not_wait() {
    for join_on in ["", ", joinOn: []"] {
        let flow = forked(join_on);
        let mut sim = Sim::start(&flow, json!({}), agents(&[("w", &["work"])]));
        assert_eq!(sim.state.tasks["join"].status, TaskStatus::Completed);
        assert_eq!(sim.state.tasks["join"].output, json!({}));
        assert_eq!(sim.in_flight(), ["a", "b1", "after"], "{join_on:?}");
        for task in ["a", "after", "b1"] {
            sim.complete(task, json!({}));
            assert_eq!(sim.state.status, RunStatus::Running);
        }
        sim.complete("b2", json!({}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        sim.assert_replays();
    }
    // A fork held back by its startDelay has not started: its JOIN does not complete before.
    let delayed = forked("").replace("type: FORK_JOIN\n", "type: FORK_JOIN\n    startDelay: 5\n");
    let sim = Sim::start(&delayed, json!({}), agents(&[("w", &["work"])]));
    assert!(
        !sim.state.tasks.contains_key("join"),
        "{:?}",
        sim.state.tasks.keys()
    );
}

#[test]
fn join_with_subset_join_on_fails_the_run_when_a_branch_it_did_not_wait_for_fails() {
    // As Conductor: any task failing with no retry left fails the workflow, even one of a
    // branch the JOIN has already moved past.
    let flow = forked(", joinOn: [a]");
    let mut sim = Sim::start(&flow, json!({}), agents(&[("w", &["work"])]));
    sim.complete("a", json!({}));
    assert_eq!(sim.in_flight(), ["b1", "after"]);
    sim.answer("b1", ReplyStatus::Failed, json!({}));
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(
        sim.state.failure.as_ref().unwrap().task_ref.as_deref(),
        Some("b1")
    );
    sim.assert_replays();
}

// ---- CANCELED (issue 12 row 7) ----

const CANCEL_FLOW: &str = r#"
name: c
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: work, taskReferenceName: slow}]
      - [{name: hold, taskReferenceName: hold, type: WAIT}]
      - [{name: ask, taskReferenceName: ask, type: HUMAN}]
      - [{name: work, taskReferenceName: flaky, retryCount: 1, retryDelaySeconds: 60}]
      - [{name: work, taskReferenceName: bad}]
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [slow, hold, ask, flaky, bad]}
"#;

#[test]
fn tasks_in_flight_become_canceled_when_the_run_fails_and_a_retry_runs_them_again() {
    let mut sim = Sim::start(
        CANCEL_FLOW,
        json!({}),
        agents(&[("w", &["work"]), ("commander", &[])]),
    );
    sim.answer("flaky", ReplyStatus::Failed, json!({}));
    assert_eq!(sim.state.tasks["flaky"].status, TaskStatus::RetryWait);
    let changes = sim.answer("bad", ReplyStatus::Failed, json!({}));
    assert_eq!(sim.state.status, RunStatus::Failed);
    // Scheduled, waiting, asking and waiting for a retry: each CANCELED, journaled right
    // before the run's end, as Conductor's cancelNonTerminalTasks.
    let canceled: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::TaskCanceled { task_ref, .. } => Some(task_ref.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(canceled, ["slow", "hold", "ask", "flaky"]);
    assert!(matches!(changes.last(), Some(Change::RunFailed { .. })));
    for task in canceled {
        assert_eq!(sim.state.tasks[task].status, TaskStatus::Canceled, "{task}");
        assert_eq!(
            sim.state.tasks[task].reason.as_deref(),
            Some("canceled: the run ended FAILED before it finished")
        );
    }
    assert_eq!(sim.state.in_flight.get("w").copied(), Some(0));
    assert!(
        sim.state
            .approvals
            .values()
            .all(|a| a.status == ApprovalStatus::Withdrawn)
    );
    // A late reply to a canceled task is refused as too late.
    let late = sim.complete("slow", json!({}));
    assert!(
        matches!(&late[..], [Change::ReplyRejected { reason, .. }] if reason.contains("was canceled") && reason.contains("too late")),
        "{late:?}"
    );
    sim.assert_replays();
    // A retry runs the failed task and every canceled one again.
    let retried = sim.control(control::Command {
        action: Action::Retry,
        by: "ann".into(),
        uid: None,
        reason: None,
        task: None,
        new_run_id: None,
        completion: None,
    });
    match &retried[0] {
        Change::RunRetried { tasks, .. } => {
            assert_eq!(tasks, &["slow", "hold", "ask", "flaky", "bad"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.state.status, RunStatus::Running);
    let mut again = sim.in_flight();
    again.sort_unstable();
    assert_eq!(again, ["ask", "bad", "flaky", "hold", "slow"]);
    sim.assert_replays();
}

#[test]
fn skipping_the_failed_task_also_runs_the_canceled_tasks_again() {
    let flow = forked(", joinOn: [a, b2]");
    let mut sim = Sim::start(&flow, json!({}), agents(&[("w", &["work"])]));
    sim.answer("b1", ReplyStatus::Failed, json!({}));
    assert_eq!(sim.state.tasks["a"].status, TaskStatus::Canceled);
    sim.control(control::Command {
        action: Action::Skip,
        by: "ann".into(),
        uid: None,
        reason: None,
        task: Some("b1".into()),
        new_run_id: None,
        completion: None,
    });
    assert_eq!(sim.state.status, RunStatus::Running);
    assert_eq!(sim.in_flight(), ["a", "b2"]);
    assert_eq!(sim.state.tasks["a"].attempt, 2);
    for task in ["a", "b2", "after"] {
        sim.complete(task, json!({}));
    }
    assert_eq!(sim.state.status, RunStatus::Completed);
    sim.assert_replays();
}

#[test]
fn a_rerun_from_a_task_also_runs_the_canceled_tasks_again() {
    let mut sim = Sim::start(
        CANCEL_FLOW,
        json!({}),
        agents(&[("w", &["work"]), ("commander", &[])]),
    );
    sim.answer("bad", ReplyStatus::Failed, json!({}));
    assert_eq!(sim.state.status, RunStatus::Failed);
    let rerun = sim.control(control::Command {
        action: Action::RerunFrom,
        by: "ann".into(),
        uid: None,
        reason: None,
        task: Some("bad".into()),
        new_run_id: None,
        completion: None,
    });
    match &rerun[0] {
        Change::RunRerunFrom { tasks, .. } => {
            assert_eq!(tasks, &["slow", "hold", "ask", "flaky", "bad"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        sim.state
            .tasks
            .values()
            .all(|t| t.status != TaskStatus::Canceled)
    );
    sim.assert_replays();
}

// ---- SET_VARIABLE ----

#[test]
fn set_variable_merges_into_the_variables_tasks_read() {
    let flow = r#"
name: v
variables: {count: 0, keep: kept}
tasks:
  - {name: work, taskReferenceName: a, inputParameters: {seen: "${workflow.variables}"}}
  - name: set
    taskReferenceName: set1
    type: SET_VARIABLE
    inputParameters: {count: "${a.output.n}", who: "${workflow.input.who}"}
  - {name: work, taskReferenceName: b, inputParameters: {count: "${workflow.variables.count}", text: "by ${workflow.variables.who}"}}
  - {name: set, taskReferenceName: set2, type: SET_VARIABLE, inputParameters: {count: 9}}
outputParameters:
  variables: "${workflow.variables}"
"#;
    let mut sim = Sim::start(flow, json!({"who": "ana"}), agents(&[("w", &["work"])]));
    assert_eq!(
        sim.state.tasks["a"].input,
        json!({"seen": {"count": 0, "keep": "kept"}}),
        "the workflow's variables are the initial values"
    );
    sim.complete("a", json!({"n": 3}));
    assert_eq!(sim.state.tasks["set1"].output, json!({}));
    assert_eq!(
        sim.state.tasks["b"].input,
        json!({"count": 3, "text": "by ana"})
    );
    sim.assert_replays();
    sim.complete("b", json!({}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(
        sim.state.output,
        Some(json!({"variables": {"count": 9, "keep": "kept", "who": "ana"}}))
    );
    let set: Vec<&Value> = sim
        .log
        .iter()
        .filter_map(|(c, _)| match c {
            Change::VariablesSet { variables, .. } => Some(variables),
            _ => None,
        })
        .collect();
    assert_eq!(
        set,
        [&json!({"count": 3, "who": "ana"}), &json!({"count": 9})]
    );
    sim.assert_replays();
}

// ---- TERMINATE ----

const TERMINATE_FLOW: &str = r#"
name: t
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: work, taskReferenceName: slow}]
      - - {name: work, taskReferenceName: first}
        - name: stop
          taskReferenceName: stop
          type: TERMINATE
          inputParameters:
            terminationStatus: "${workflow.input.status}"
            terminationReason: "${first.output.why}"
            workflowOutput: "${first.output.result}"
        - {name: work, taskReferenceName: never}
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [slow, never]}
  - {name: work, taskReferenceName: after}
"#;

fn terminated_with(status: &str, result: Value) -> Sim {
    let mut sim = Sim::start(
        TERMINATE_FLOW,
        json!({"status": status}),
        agents(&[("w", &["work"])]),
    );
    assert_eq!(sim.in_flight(), ["slow", "first"]);
    sim.complete("first", json!({"why": "enough", "result": result}));
    sim
}

#[test]
fn terminate_completed_ends_the_run_with_the_workflow_output() {
    let sim = terminated_with("COMPLETED", json!({"total": 5}));
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.state.output, Some(json!({"total": 5})));
    assert_eq!(sim.state.tasks["stop"].output, json!({"total": 5}));
    assert!(
        !sim.state.tasks.contains_key("never"),
        "nothing after it runs"
    );
    assert!(!sim.state.tasks.contains_key("after"));
    // As Conductor's cancelNonTerminalTasks: the branch still in flight is CANCELED.
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::Canceled);
    let tail: Vec<String> = sim.events().into_iter().rev().take(4).collect();
    assert_eq!(
        tail,
        [
            "run_completed",
            "task_canceled",
            "run_ended_by_task",
            "task_completed"
        ]
    );
    sim.assert_replays();
}

#[test]
fn terminate_failed_ends_in_run_failed_with_the_reason_and_task() {
    let sim = terminated_with("FAILED", json!("just text"));
    assert_eq!(sim.state.status, RunStatus::Failed);
    let failure = sim.state.failure.clone().unwrap();
    assert_eq!(failure.reason, "enough");
    assert_eq!(failure.task_ref.as_deref(), Some("stop"));
    assert_eq!(
        sim.state.output,
        Some(json!({"output": "just text"})),
        "a workflowOutput that is not a mapping is given as {{output: value}}"
    );
    assert!(matches!(
        sim.log.last().unwrap().0,
        Change::RunFailed { .. }
    ));
    sim.assert_replays();
}

#[test]
fn terminate_terminated_withdraws_what_is_in_flight() {
    let mut sim = terminated_with("TERMINATED", Value::Null);
    assert_eq!(sim.state.status, RunStatus::Terminated);
    assert_eq!(sim.state.output, Some(json!({})));
    match &sim.log.last().unwrap().0 {
        Change::RunTerminated { by, reason, .. } => {
            assert_eq!(by, "TERMINATE task `stop`");
            assert_eq!(reason, "enough");
        }
        other => panic!("{other:?}"),
    }
    // The task that was still in flight is CANCELED, and its reply comes too late.
    assert_eq!(sim.state.tasks["slow"].status, TaskStatus::Canceled);
    let changes = sim.complete("slow", json!({}));
    match &changes[0] {
        Change::ReplyRejected { reason, .. } => {
            assert!(reason.contains("task `slow` was canceled"), "{reason}");
            assert!(reason.contains("too late"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.state.status, RunStatus::Terminated);
    sim.assert_replays();
}

#[test]
fn terminate_withdraws_open_approval_requests() {
    let flow = r#"
name: t
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: ask, taskReferenceName: ask, type: HUMAN}]
      - [{name: stop, taskReferenceName: stop, type: TERMINATE, inputParameters: {terminationStatus: FAILED}}]
  - {name: join, taskReferenceName: join, type: JOIN}
"#;
    let sim = Sim::start(flow, json!({}), agents(&[("commander", &[])]));
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(sim.failure_reason(), "ended by TERMINATE task `stop`");
    assert!(
        sim.state
            .approvals
            .values()
            .all(|a| a.status == ApprovalStatus::Withdrawn)
    );
    sim.assert_replays();
}

#[test]
fn a_bad_termination_status_at_run_time_fails_the_task() {
    let flow = r#"
name: t
tasks:
  - {name: stop, taskReferenceName: stop, type: TERMINATE, inputParameters: {terminationStatus: "${workflow.input.s}"}}
"#;
    let sim = Sim::start(flow, json!({"s": "DONE"}), agents(&[]));
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert!(
        sim.failure_reason()
            .contains("terminationStatus `DONE` is not one of COMPLETED, FAILED, TERMINATED")
    );
    sim.assert_replays();
}

// ---- EXCLUSIVE_JOIN ----

const EXCLUSIVE_FLOW: &str = r#"
name: x
tasks:
  - {name: work, taskReferenceName: task1}
  - name: decide
    taskReferenceName: decision1
    type: SWITCH
    expression: d1
    inputParameters: {d1: "${workflow.input.d1}"}
    decisionCases:
      "true":
        - {name: work, taskReferenceName: task2}
        - name: decide
          taskReferenceName: decision2
          type: SWITCH
          expression: d2
          inputParameters: {d2: "${workflow.input.d2}"}
          decisionCases:
            "true": [{name: work, taskReferenceName: task3}]
      "false":
        - {name: work, taskReferenceName: task4}
  - name: join
    taskReferenceName: joined
    type: EXCLUSIVE_JOIN
    joinOn: [task3, task4]
    defaultExclusiveJoinTask: [task2, task1]
"#;

fn exclusive(input: Value, steps: &[&str]) -> Sim {
    let mut sim = Sim::start(EXCLUSIVE_FLOW, input, agents(&[("w", &["work"])]));
    for task in steps {
        sim.complete(task, json!({"from": task}));
    }
    sim
}

#[test]
fn exclusive_join_takes_the_output_of_the_join_on_task_that_ran() {
    let sim = exclusive(
        json!({"d1": true, "d2": true}),
        &["task1", "task2", "task3"],
    );
    assert_eq!(sim.state.status, RunStatus::Completed);
    assert_eq!(sim.state.tasks["joined"].output, json!({"from": "task3"}));
    let sim = exclusive(json!({"d1": false}), &["task1", "task4"]);
    assert_eq!(sim.state.tasks["joined"].output, json!({"from": "task4"}));
    sim.assert_replays();
}

#[test]
fn exclusive_join_falls_back_to_the_default_tasks_in_order() {
    let sim = exclusive(json!({"d1": true, "d2": false}), &["task1", "task2"]);
    assert_eq!(sim.state.tasks["joined"].output, json!({"from": "task2"}));
    assert_eq!(sim.state.output, Some(json!({"from": "task2"})));
    let sim = exclusive(json!({"d1": "neither"}), &["task1"]);
    assert_eq!(sim.state.tasks["joined"].output, json!({"from": "task1"}));
    sim.assert_replays();
}

#[test]
fn exclusive_join_passes_over_a_skipped_task() {
    let mut sim = exclusive(json!({"d1": true, "d2": true}), &["task1", "task2"]);
    let command = control::Command {
        task: Some("task3".into()),
        ..testkit::command(Action::Skip, "ana")
    };
    sim.control(command);
    assert_eq!(sim.state.tasks["task3"].status, TaskStatus::Skipped);
    assert_eq!(sim.state.tasks["joined"].output, json!({"from": "task2"}));
    sim.assert_replays();
}

#[test]
fn exclusive_join_waits_for_the_branch() {
    let sim = exclusive(json!({"d1": true, "d2": true}), &["task1", "task2"]);
    assert!(!sim.state.tasks.contains_key("joined"));
    assert_eq!(sim.in_flight(), ["task3"]);
}

// ---- DYNAMIC ----

const DYNAMIC_FLOW: &str = r#"
name: d
tasks:
  - name: pick
    taskReferenceName: pick
    type: DYNAMIC
    dynamicTaskNameParam: taskToExecute
    inputParameters: {taskToExecute: "${workflow.input.which}", n: 2}
    retry: {count: 1}
  - {name: after, taskReferenceName: after, inputParameters: {got: "${pick.output.done}"}}
"#;

#[test]
fn dynamic_runs_the_chosen_task_once_chosen_and_journaled() {
    let mut sim = Sim::start(
        DYNAMIC_FLOW,
        json!({"which": "resize"}),
        agents(&[("images", &["resize"]), ("w", &["after"])]),
    );
    let chosen = sim.log.iter().find_map(|(c, _)| match c {
        Change::DynamicTaskChosen { task_name, .. } => Some(task_name.clone()),
        _ => None,
    });
    assert_eq!(chosen.as_deref(), Some("resize"));
    let task = &sim.state.tasks["pick"];
    assert_eq!(task.agent.as_deref(), Some("images"));
    assert_eq!(task.name, "resize");
    assert_eq!(sim.state.def("pick").unwrap().name, "resize");
    assert_eq!(task.input, json!({"taskToExecute": "resize", "n": 2}));
    sim.assert_replays();

    // A retry runs the same chosen task, and nothing chooses again.
    let task_id = task.task_id.clone().unwrap();
    let reply = Reply {
        reason: Some("busy".into()),
        token: task.token.clone(),
        ..testkit::reply(task_id, ReplyStatus::Failed, json!({}))
    };
    sim.input(Input::Reply {
        agent: "images".into(),
        file: "r.yaml".into(),
        reply,
    });
    sim.now += chrono::Duration::seconds(5);
    sim.input(Input::Tick);
    assert_eq!(sim.state.tasks["pick"].attempt, 2);
    assert_eq!(sim.state.tasks["pick"].agent.as_deref(), Some("images"));
    let choices = sim
        .log
        .iter()
        .filter(|(c, _)| matches!(c, Change::DynamicTaskChosen { .. }))
        .count();
    assert_eq!(choices, 1);
    sim.complete("pick", json!({"done": true}));
    assert_eq!(sim.state.tasks["after"].input, json!({"got": true}));
    sim.assert_replays();
}

#[test]
fn retrying_a_run_whose_dynamic_task_failed_runs_the_chosen_task_again() {
    let mut sim = Sim::start(
        DYNAMIC_FLOW,
        json!({"which": "resize"}),
        agents(&[("images", &["resize"]), ("w", &["after"])]),
    );
    for attempt in 1..=2 {
        let task = sim.state.tasks["pick"].clone();
        assert_eq!(task.attempt, attempt);
        let reply = Reply {
            reason: Some("broken".into()),
            token: task.token.clone(),
            ..testkit::reply(
                task.task_id.clone().unwrap(),
                ReplyStatus::Failed,
                json!({}),
            )
        };
        sim.input(Input::Reply {
            agent: "images".into(),
            file: "r.yaml".into(),
            reply,
        });
        sim.now += chrono::Duration::seconds(1);
        sim.input(Input::Tick);
    }
    assert_eq!(sim.state.status, RunStatus::Failed);
    assert_eq!(sim.state.images_in_flight(), 0);
    let command = testkit::command(Action::Retry, "ana");
    sim.control(command);
    let task = &sim.state.tasks["pick"];
    assert_eq!(task.attempt, 3, "the next attempt, not a fresh task");
    assert_eq!(task.agent.as_deref(), Some("images"));
    assert_eq!(sim.state.images_in_flight(), 1);
    sim.assert_replays();
}

#[test]
fn dynamic_refuses_engine_types_and_missing_names() {
    for (which, expected) in [
        (json!("SWITCH"), "a task type the engine runs itself"),
        (Value::Null, "is missing"),
        (json!(7), "must be a task name"),
    ] {
        let sim = Sim::start(DYNAMIC_FLOW, json!({"which": which}), agents(&[]));
        assert_eq!(sim.state.status, RunStatus::Failed);
        let reason = &sim.failure_reason();
        assert!(reason.contains(expected), "{reason}");
        sim.assert_replays();
    }
}

#[test]
fn dynamic_with_no_agent_for_the_chosen_name_fails_with_the_reason() {
    let sim = Sim::start(DYNAMIC_FLOW, json!({"which": "paint"}), agents(&[]));
    assert_eq!(sim.state.status, RunStatus::Failed);
    let reason = &sim.failure_reason();
    assert!(
        reason.contains("no agent of this station serves task `paint`"),
        "{reason}"
    );
}

// ---- mapping ----

#[test]
fn input_templates_give_defaults_under_input_parameters() {
    let flow = r#"
name: m
inputTemplate: {region: eu, size: 1}
tasks:
  - name: work
    taskReferenceName: a
    taskDefinition: {inputTemplate: {retries: 3, region: "from-taskdef", level: low}}
    inputTemplate: {level: "${workflow.input.size}", extra: [1]}
    inputParameters: {region: "${workflow.input.region}"}
"#;
    let sim = Sim::start(flow, json!({"size": 5}), agents(&[("w", &["work"])]));
    assert_eq!(sim.state.input, json!({"region": "eu", "size": 5}));
    assert_eq!(
        sim.state.tasks["a"].input,
        json!({"retries": 3, "region": "eu", "level": 5, "extra": [1]})
    );
    sim.assert_replays();
}

#[test]
fn cpewf_task_id_is_the_id_of_the_attempt_being_scheduled() {
    let flow = r#"
name: m
tasks:
  - name: work
    taskReferenceName: a
    retry: {count: 1}
    inputParameters: {id: "${CPEWF_TASK_ID}", text: "task ${CPEWF_TASK_ID}", lit: "$${CPEWF_TASK_ID}"}
  - {name: stop, taskReferenceName: stop, type: NOOP, inputParameters: {id: "${CPEWF_TASK_ID}"}}
"#;
    let mut sim = Sim::start(flow, json!({}), agents(&[("w", &["work"])]));
    let task = sim.state.tasks["a"].clone();
    let id = task.task_id.clone().unwrap();
    assert_eq!(
        task.input,
        json!({"id": id, "text": format!("task {id}"), "lit": "${CPEWF_TASK_ID}"})
    );
    let reply = Reply {
        token: task.token.clone(),
        ..testkit::reply(id.clone(), ReplyStatus::Failed, json!({}))
    };
    sim.input(Input::Reply {
        agent: "w".into(),
        file: "r.yaml".into(),
        reply,
    });
    let retried = &sim.state.tasks["a"];
    let new_id = retried.task_id.clone().unwrap();
    assert_ne!(new_id, id);
    assert_eq!(
        retried.input["id"],
        json!(new_id),
        "each attempt has its own id"
    );
    sim.complete("a", json!({}));
    assert_eq!(
        sim.state.tasks["stop"].input,
        json!({"id": null}),
        "a task the engine decides has no id"
    );
    sim.assert_replays();
}

#[test]
fn input_expression_gives_the_whole_input() {
    let flow = r#"
name: m
tasks:
  - {name: work, taskReferenceName: a}
  - name: work
    taskReferenceName: b
    inputExpression: {type: JSON_PATH, expression: "$.a.output.payload"}
  - name: work
    taskReferenceName: c
    inputExpression: {type: JSON_PATH, expression: "$.a.output.payload.items[0]"}
"#;
    let mut sim = Sim::start(flow, json!({}), agents(&[("w", &["work"])]));
    sim.complete("a", json!({"payload": {"items": ["x", "y"], "n": 2}}));
    assert_eq!(
        sim.state.tasks["b"].input,
        json!({"items": ["x", "y"], "n": 2})
    );
    sim.complete("b", json!({}));
    assert_eq!(sim.state.tasks["c"].input, json!({"result": "x"}));
    sim.assert_replays();
}

#[test]
fn without_output_parameters_the_run_output_is_the_last_tasks_output() {
    let flow = r#"
name: m
tasks:
  - {name: work, taskReferenceName: a}
  - {name: work, taskReferenceName: b}
"#;
    let mut sim = Sim::start(flow, json!({}), agents(&[("w", &["work"])]));
    sim.complete("a", json!({"first": 1}));
    sim.complete("b", json!({"second": 2}));
    assert_eq!(sim.state.output, Some(json!({"second": 2})));
}

// ---- validation ----

fn has(errors: &[(usize, usize, String, Option<String>)], line: usize, column: usize, text: &str) {
    assert!(
        errors
            .iter()
            .any(|(l, c, m, _)| *l == line && *c == column && m.contains(text)),
        "no error at {line}:{column} containing `{text}` in {errors:#?}"
    );
}

#[test]
fn terminate_status_is_checked_with_a_hint() {
    let errs = errors(
        "name: x\ntasks:\n  - name: t\n    taskReferenceName: t\n    type: TERMINATE\n    inputParameters: {terminationStatus: FAILD}\n",
    );
    has(&errs, 6, 42, "must be one of COMPLETED, FAILED, TERMINATED");
    assert_eq!(errs[0].3.as_deref(), Some("did you mean `FAILED`?"));
    let errs = errors("name: x\ntasks:\n  - {name: t, taskReferenceName: t, type: TERMINATE}\n");
    has(&errs, 3, 5, "has no `terminationStatus` input");
    assert!(errors("name: x\ntasks:\n  - {name: t, taskReferenceName: t, type: TERMINATE, inputParameters: {terminationStatus: \"${workflow.input.s}\"}}\n").is_empty());
}

#[test]
fn set_variable_without_input_parameters_is_a_warning() {
    // Conductor accepts it (its Python SDK writes it): valid, and the task sets nothing.
    let flow = "name: x\ntasks:\n  - {name: s, taskReferenceName: s, type: SET_VARIABLE}\n";
    assert!(errors(flow).is_empty(), "{:?}", errors(flow));
    let src = crate::definition::source::Source::parse(flow, "x.yaml").unwrap();
    let found = crate::definition::validate::check(&src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].severity, crate::definition::Severity::Warning);
    assert!(found[0].message.contains("sets nothing"), "{found:?}");
    assert_eq!((found[0].line, found[0].column), (3, 5));
    let sim = Sim::start(flow, json!({}), agents(&[]));
    assert_eq!(sim.state.status, RunStatus::Completed);
}

#[test]
fn exclusive_join_is_checked_against_its_switch() {
    let base = EXCLUSIVE_FLOW.trim_start();
    assert!(errors(base).is_empty(), "{:?}", errors(base));
    let wrong = base.replace("joinOn: [task3, task4]", "joinOn: [task3, tsk4, task1]");
    let errs = errors(&wrong);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0]
            .2
            .contains("waits on `tsk4`, which is not in the cases of task `decision1`")
    );
    assert_eq!(errs[0].3.as_deref(), Some("did you mean `task4`?"));
    assert!(errs[1].2.contains("waits on `task1`"));
    let wrong = base.replace("[task2, task1]", "[task2, ghost]");
    let errs = errors(&wrong);
    assert!(
        errs[0]
            .2
            .contains("names `ghost`, which is not a task of this workflow")
    );
    let alone = "name: x\ntasks:\n  - {name: a, taskReferenceName: a}\n  - {name: j, taskReferenceName: j, type: EXCLUSIVE_JOIN, joinOn: [a]}\n";
    has(
        &errors(alone),
        4,
        43,
        "does not directly follow a SWITCH or DECISION",
    );
    let misplaced =
        "name: x\ntasks:\n  - {name: a, taskReferenceName: a, defaultExclusiveJoinTask: [a]}\n";
    has(
        &errors(misplaced),
        3,
        37,
        "only applies to EXCLUSIVE_JOIN tasks",
    );
}

#[test]
fn dynamic_needs_its_name_param_among_its_inputs() {
    let errs = errors("name: x\ntasks:\n  - {name: d, taskReferenceName: d, type: DYNAMIC}\n");
    has(&errs, 3, 5, "has no `dynamicTaskNameParam`");
    let errs = errors(
        "name: x\ntasks:\n  - name: d\n    taskReferenceName: d\n    type: DYNAMIC\n    dynamicTaskNameParam: taskToExecute\n    inputParameters: {taskToExecut: x}\n",
    );
    has(
        &errs,
        6,
        27,
        "takes its task name from input `taskToExecute`",
    );
    assert_eq!(errs[0].3.as_deref(), Some("did you mean `taskToExecut`?"));
}

#[test]
fn mapping_fields_are_checked() {
    let errs = errors(
        "name: x\ninputTemplate: [1]\nvariables: 3\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputTemplate: {x: \"${ghost.output}\"}\n    inputExpression: {type: JQ, expression: workflow.input}\n",
    );
    has(&errs, 2, 16, "`inputTemplate` must be a mapping");
    has(&errs, 3, 12, "`variables` must be a mapping");
    has(&errs, 7, 25, "refers to task `ghost`");
    has(&errs, 8, 29, "must be JSON_PATH");
    has(&errs, 8, 45, "is not a JSON path from the run's root");
    let both = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputParameters: {x: 1}\n    inputExpression: {type: JSON_PATH, expression: $.workflow.input}\n";
    has(
        &errors(both),
        6,
        5,
        "both `inputExpression` and `inputParameters`",
    );
    let ghost = "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    inputExpression: {type: JSON_PATH, expression: $.mkae.output}\n  - {name: make, taskReferenceName: make}\n";
    let errs = errors(ghost);
    has(
        &errs,
        5,
        52,
        "reads `mkae`, which is not `workflow` or a task",
    );
    assert_eq!(errs[0].3.as_deref(), Some("did you mean `make`?"));
}

#[test]
fn the_conductor_corpus_files_of_these_types_load() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/conductor");
    for name in [
        "set_variable_workflow_integration_test",
        "switch_and_terminate_integration_test",
        "terminate_task_failed_workflow_integration",
        "simple_workflow_1_input_template_integration_test",
        "cpewf_task_id_dyn_fork_wf",
    ] {
        let path = dir.join(format!("{name}.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            // The corpus sits beside the worktrees; a checkout elsewhere skips this test.
            return;
        };
        let def =
            crate::definition::parse_str(&text, &path).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!def.tasks.is_empty());
    }
}

// ---- issue 12: Conductor's mapping ----

#[test]
fn row_11_input_template_default_is_used_for_a_key_mapped_to_null() {
    let flow = r#"
name: m
tasks:
  - name: work
    taskReferenceName: a
    taskDefinition: {inputTemplate: {region: eu, size: 2}}
    inputTemplate: {level: low}
    inputParameters: {region: "${workflow.input.nope}", size: "${workflow.input.size}", level: null, other: "${workflow.input.nope}"}
"#;
    let sim = Sim::start(flow, json!({"size": 5}), agents(&[("w", &["work"])]));
    assert_eq!(
        sim.state.tasks["a"].input,
        json!({"region": "eu", "size": 5, "level": "low", "other": null})
    );
    sim.assert_replays();
}

#[test]
fn row_12_task_fields_conductor_maps_are_mapped() {
    let flow = r#"
name: m
tasks:
  - name: work
    taskReferenceName: a
  - name: after
    taskReferenceName: b
    inputParameters:
      ref: "${a.referenceTaskName}"
      retryCount: "${a.retryCount}"
      type: "${a.taskType}"
      status: "${a.status}"
      taskId: "${a.taskId}"
      start: "${a.startTime}"
      end: "${a.endTime}"
      scheduled: "${a.scheduledTime}"
      run: "${a.workflowInstanceId}"
      reason: "${a.reasonForIncompletion}"
      polls: "${a.pollCount}"
      defName: "${a.taskDefName}"
      correlationId: "${a.correlationId}"
      callback: "${a.callbackAfterSeconds}"
      worker: "${a.workerId}"
      iteration: "${a.iteration}"
"#;
    let mut sim = Sim::start(flow, json!({}), agents(&[("w", &["work", "after"])]));
    sim.complete("a", json!({"x": 1}));
    let a = sim.state.tasks["a"].clone();
    let input = &sim.state.tasks["b"].input;
    assert_eq!(input["ref"], json!("a"));
    assert_eq!(input["retryCount"], json!(0));
    assert_eq!(input["type"], json!("SIMPLE"));
    assert_eq!(input["status"], json!("COMPLETED"));
    assert_eq!(input["taskId"], json!(a.task_id.unwrap()));
    assert_eq!(input["start"], json!(a.first_at.timestamp_millis()));
    assert_eq!(input["scheduled"], json!(a.first_at.timestamp_millis()));
    assert_eq!(input["end"], json!(a.updated_at.timestamp_millis()));
    assert_eq!(input["run"], json!(sim.state.run_id));
    assert_eq!(input["reason"], Value::Null);
    assert_eq!(input["polls"], json!(1));
    assert_eq!(input["defName"], json!("work"));
    assert_eq!(input["correlationId"], Value::Null);
    assert_eq!(input["callback"], json!(0));
    assert_eq!(input["worker"], json!("w"));
    assert_eq!(input["iteration"], json!(0));
    sim.assert_replays();
}
