//! The dashboard on ratatui's `TestBackend`: a snapshot of each pane, of the help and of a
//! question, and what the keys do. The run shown is driven by the engine's test driver, so
//! its tree and events are those a real journal gives.

use chrono::{DateTime, Duration, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use serde_json::json;

use super::app::{Action, App, Mode, Pane, Pending};
use super::source::{AgentLive, Detail, Header, Waiting, open_approvals};
use super::{events, tree};
use crate::engine::testkit::{self, Driver};
use crate::engine::{Input, RunState, RunStatus};
use crate::journal::Record;
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::query::RunLine;

const FLOW: &str = "
name: nested
tasks:
  - name: prepare
    taskReferenceName: prepare
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - - {name: left, taskReferenceName: left}
      - - {name: right, taskReferenceName: right}
  - name: join
    taskReferenceName: join
    type: JOIN
    joinOn: [left, right]
  - name: repeat
    taskReferenceName: repeat
    type: DO_WHILE
    evaluatorType: expression
    loopCondition: repeat.iteration < 2
    loopOver:
      - {name: step, taskReferenceName: step}
  - name: ask
    taskReferenceName: gate
    type: HUMAN
    approver: commander
    inputParameters: {question: Ship it?}
  - name: route
    taskReferenceName: route
    type: SWITCH
    evaluatorType: value-param
    expression: decision
    inputParameters: {decision: '${gate.output.decision}'}
    decisionCases:
      approved:
        - {name: ship, taskReferenceName: ship}
    defaultCase:
      - {name: note, taskReferenceName: note}
";

fn complete(driver: &mut Driver, task_ref: &str) {
    driver.now += Duration::seconds(3);
    let task = driver.state.tasks[task_ref].clone();
    let reply = Reply {
        token: task.token.clone(),
        ..testkit::reply(
            task.task_id.clone().unwrap(),
            ReplyStatus::Completed,
            json!({}),
        )
    };
    driver.input(Input::Reply {
        agent: task.agent.clone().unwrap(),
        file: "r.yaml".into(),
        reply,
    });
}

/// A run of [`FLOW`] that waits for the Commander at `gate`, and its journal.
fn waiting_run() -> (RunState, Vec<Record>) {
    let agents = testkit::agents(&[("worker", &["prepare", "left", "right", "step"], 4)]);
    let mut driver = Driver::start(testkit::workflow(FLOW), json!({}), agents);
    for task in ["prepare", "left", "right", "step__1", "step__2"] {
        complete(&mut driver, task);
    }
    let records = driver
        .log
        .iter()
        .enumerate()
        .map(|(i, (change, at))| Record {
            version: 1,
            seq: i as u64 + 1,
            at: *at,
            run: "RUN".into(),
            change: change.clone(),
        })
        .collect();
    (driver.state.clone(), records)
}

fn now() -> DateTime<Utc> {
    testkit::t0() + Duration::seconds(40)
}

fn line(id: &str, workflow: &str, status: RunStatus, done: usize, total: usize) -> RunLine {
    RunLine {
        run_id: id.into(),
        workflow: Some(workflow.into()),
        status: Some(status),
        started_at: Some(testkit::t0()),
        elapsed_ms: None,
        tasks_done: done,
        tasks_total: total,
        failed_task: None,
        problem: None,
    }
}

/// A dashboard with three runs, the first of them the waiting run, selected.
fn app() -> App {
    let (state, records) = waiting_run();
    let mut app = App::new(false, now());
    let header = Header {
        station: "/srv/station".into(),
        approvals: open_approvals(&state),
        agents: vec![
            AgentLive {
                name: "commander".into(),
                live: false,
            },
            AgentLive {
                name: "worker".into(),
                live: true,
            },
        ],
    };
    app.set_runs(
        vec![
            line("RUN", "nested", RunStatus::Running, 6, 8),
            line("01OLDERFAILEDRUN0000000000", "etl", RunStatus::Failed, 2, 3),
            line(
                "01OLDESTDONERUN00000000000",
                "nested",
                RunStatus::Completed,
                9,
                9,
            ),
        ],
        header,
    );
    app.set_detail(Some(Detail {
        run_id: "RUN".into(),
        workflow: "nested".into(),
        status: state.status,
        paused: false,
        driven: true,
        tree: tree::rows(&state, &|_| None),
        events: events::tail(&records),
    }));
    app
}

fn screen(app: &App, width: u16, height: u16, draw: impl Fn(&mut ratatui::Frame, &App)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn whole(app: &App) -> String {
    screen(app, 150, 40, super::ui::draw)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, keys: &str) -> Option<Action> {
    let mut last = None;
    for c in keys.chars() {
        last = app.on_key(key(KeyCode::Char(c)));
    }
    last
}

fn area(width: u16, height: u16) -> Rect {
    Rect::new(0, 0, width, height)
}

#[test]
fn the_tree_nests_fork_branches_loop_iterations_and_switch_cases() {
    let (state, _) = waiting_run();
    let rows: Vec<String> = tree::rows(&state, &|_| None)
        .iter()
        .map(|r| {
            format!(
                "{}{} {}",
                "  ".repeat(r.depth),
                r.label,
                r.task
                    .as_ref()
                    .map(|c| c.status.map_or("-".to_string(), |s| s.to_string()))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "prepare COMPLETED",
            "fan COMPLETED",
            "  branch 1 ",
            "    left COMPLETED",
            "  branch 2 ",
            "    right COMPLETED",
            "join COMPLETED",
            "repeat COMPLETED",
            "  iteration 1 ",
            "    step__1 COMPLETED",
            "  iteration 2 ",
            "    step__2 COMPLETED",
            "gate SCHEDULED",
            "route -",
            "  case approved ",
            "    ship -",
            "  default ",
            "    note -",
        ]
    );
    let gate = tree::rows(&state, &|_| None)
        .into_iter()
        .find_map(|r| r.task.filter(|c| c.task_ref == "gate"))
        .unwrap();
    assert_eq!(gate.waits_for.as_deref(), Some("commander"));
}

#[test]
fn snapshot_whole_screen() {
    insta::assert_snapshot!(whole(&app()));
}

#[test]
fn snapshot_runs_pane_filtered() {
    let mut app = app();
    press(&mut app, "s");
    let text = screen(&app, 70, 8, |frame, app| {
        super::runs::render(
            frame,
            area(70, 8),
            ratatui::widgets::Block::bordered(),
            app,
            true,
        )
    });
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_tree_pane() {
    let app = app();
    let rows = &app.current().unwrap().tree;
    let text = screen(&app, 110, 22, |frame, app| {
        tree::render(
            frame,
            area(110, 22),
            ratatui::widgets::Block::bordered(),
            rows,
            Some(12),
            app.now,
        )
    });
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_event_tail() {
    let app = app();
    let lines = &app.current().unwrap().events;
    let text = screen(&app, 110, 10, |frame, _| {
        events::render(
            frame,
            area(110, 10),
            ratatui::widgets::Block::bordered(),
            lines,
            0,
        )
    });
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_header() {
    let text = screen(&app(), 120, 5, |frame, app| {
        super::header::render(frame, area(120, 5), app)
    });
    insta::assert_snapshot!(text);
}

#[test]
fn snapshot_help() {
    let mut app = app();
    press(&mut app, "?");
    assert_eq!(app.mode, Mode::Help);
    insta::assert_snapshot!(whole(&app));
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn snapshot_comment_prompt() {
    let mut app = app();
    press(&mut app, "ay");
    press(&mut app, "ok");
    insta::assert_snapshot!(whole(&app));
}

#[test]
fn approving_asks_then_takes_a_comment() {
    let mut app = app();
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.focus, Pane::Tree);
    assert_eq!(
        app.cursor_task().map(|c| c.task_ref.as_str()),
        Some("gate"),
        "Enter puts the cursor on the waiting task"
    );
    assert_eq!(press(&mut app, "a"), None);
    assert_eq!(
        app.mode,
        Mode::Confirm(Pending::Approve {
            run_id: "RUN".into(),
            task_ref: "gate".into()
        })
    );
    assert_eq!(press(&mut app, "y"), None);
    assert!(matches!(app.mode, Mode::Prompt { .. }));
    press(&mut app, "fine by me");
    app.on_key(key(KeyCode::Backspace));
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Action::Approve {
            run_id: "RUN".into(),
            task_ref: "gate".into(),
            comment: "fine by m".into()
        })
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn a_rejection_needs_a_reason_and_esc_cancels() {
    let mut app = app();
    press(&mut app, "xy");
    assert_eq!(app.on_key(key(KeyCode::Enter)), None, "no reason yet");
    assert_eq!(app.message.as_deref(), Some("a rejection needs a reason"));
    press(&mut app, "too risky");
    assert_eq!(
        app.on_key(key(KeyCode::Enter)),
        Some(Action::Reject {
            run_id: "RUN".into(),
            task_ref: "gate".into(),
            reason: "too risky".into()
        })
    );
    press(&mut app, "x");
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.message.as_deref(), Some("canceled"));
}

#[test]
fn terminate_asks_first_retry_and_pause_do_not() {
    let mut app = app();
    assert_eq!(press(&mut app, "T"), None);
    assert_eq!(press(&mut app, "n"), None);
    assert_eq!(app.mode, Mode::Normal);
    press(&mut app, "T");
    assert_eq!(
        press(&mut app, "y"),
        Some(Action::Terminate {
            run_id: "RUN".into()
        })
    );
    assert_eq!(
        press(&mut app, "R"),
        Some(Action::Retry {
            run_id: "RUN".into()
        })
    );
    assert_eq!(
        press(&mut app, "p"),
        Some(Action::Pause {
            run_id: "RUN".into()
        })
    );
    let mut paused = app.current().unwrap().clone();
    paused.paused = true;
    app.set_detail(Some(paused));
    assert_eq!(
        press(&mut app, "p"),
        Some(Action::Resume {
            run_id: "RUN".into()
        })
    );
}

#[test]
fn read_only_refuses_every_operation_and_says_so() {
    let mut app = app();
    app.read_only = true;
    for (c, what) in [
        ('a', "approve"),
        ('x', "reject"),
        ('R', "retry"),
        ('p', "pause/resume"),
        ('T', "terminate"),
    ] {
        assert_eq!(app.on_key(key(KeyCode::Char(c))), None);
        assert_eq!(app.mode, Mode::Normal);
        assert_eq!(
            app.message,
            Some(format!("read-only: {what} is disabled (--read-only)"))
        );
    }
}

#[test]
fn approve_without_a_waiting_task_says_so() {
    let mut app = app();
    app.on_key(key(KeyCode::Down));
    assert_eq!(app.selected.as_deref(), Some("01OLDERFAILEDRUN0000000000"));
    // The detail is still of the first run: nothing to approve in the selected one.
    press(&mut app, "a");
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.message
            .unwrap()
            .contains("no task of run 01OLDERFAILEDRUN")
    );
}

#[test]
fn filters_search_and_selection() {
    let mut app = app();
    press(&mut app, "s");
    assert_eq!(app.filter.status, Some(RunStatus::Running));
    press(&mut app, "s");
    assert_eq!(app.filter.status, Some(RunStatus::Completed));
    assert_eq!(
        app.selected.as_deref(),
        Some("01OLDESTDONERUN00000000000"),
        "the selection moves to a run the filter admits"
    );
    app.on_key(key(KeyCode::Esc));
    assert!(
        app.filter.is_empty(),
        "Esc on the runs pane clears the filters"
    );
    press(&mut app, "w");
    assert_eq!(app.filter.workflow.as_deref(), Some("etl"));
    assert_eq!(app.visible().len(), 1);
    press(&mut app, "ww");
    assert_eq!(app.filter.workflow, None, "after the last workflow: any");
    press(&mut app, "/");
    assert_eq!(app.mode, Mode::Search);
    press(&mut app, "older");
    app.on_key(key(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.filter.search, "older");
    assert_eq!(
        app.visible()
            .iter()
            .map(|r| r.run_id.as_str())
            .collect::<Vec<_>>(),
        ["01OLDERFAILEDRUN0000000000"]
    );
    assert_eq!(app.selected.as_deref(), Some("01OLDERFAILEDRUN0000000000"));
    press(&mut app, "/");
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.filter.search, "", "Esc in the search clears it");
}

#[test]
fn tab_moves_between_panes_and_esc_goes_back() {
    let mut app = app();
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Tree);
    press(&mut app, "jj");
    assert_eq!(app.tree_cursor, 2);
    app.on_key(key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Events);
    app.on_key(key(KeyCode::Up));
    assert_eq!(app.events_scroll, 1, "up scrolls the tail back");
    app.on_key(key(KeyCode::BackTab));
    assert_eq!(app.focus, Pane::Tree);
    app.on_key(key(KeyCode::Esc));
    assert_eq!(app.focus, Pane::Runs);
    assert_eq!(press(&mut app, "q"), Some(Action::Quit));
    assert!(app.quit);
}

#[test]
fn the_selection_stays_on_its_run_when_the_list_changes() {
    let mut app = app();
    app.on_key(key(KeyCode::Down));
    let mut runs = app.runs.clone();
    runs.insert(
        0,
        line(
            "01NEWESTRUN000000000000000",
            "etl",
            RunStatus::Running,
            0,
            1,
        ),
    );
    let header = app.header.clone();
    app.set_runs(runs, header);
    assert_eq!(app.selected.as_deref(), Some("01OLDERFAILEDRUN0000000000"));
    assert_eq!(app.run_cursor(), Some(2));
}

#[test]
fn the_header_counts_approvals_by_approver() {
    let mut app = app();
    app.header.approvals.push(Waiting {
        run_id: "01OTHER".into(),
        task_ref: "sign_off".into(),
        approver: "lead".into(),
        requested_at: testkit::t0(),
    });
    let text = screen(&app, 120, 5, |frame, app| {
        super::header::render(frame, area(120, 5), app)
    });
    assert!(
        text.contains("approvals waiting 2 (commander ×1, lead ×1)"),
        "{text}"
    );
}

#[test]
fn a_child_run_is_listed_under_its_task_with_its_own_tasks() {
    const PARENT: &str = "
name: parent
tasks:
  - name: sub
    taskReferenceName: sub
    type: SUB_WORKFLOW
    subWorkflowParam:
      name: child
      workflowDefinition:
        name: child
        tasks:
          - {name: inner, taskReferenceName: inner, type: HUMAN}
";
    const CHILD: &str = "
name: child
tasks:
  - {name: inner, taskReferenceName: inner, type: HUMAN}
";
    let parent = Driver::start(testkit::workflow(PARENT), json!({}), testkit::agents(&[]));
    let child_id = parent
        .state
        .children
        .keys()
        .next()
        .expect("the parent started a child run")
        .clone();
    let child = Driver::start(testkit::workflow(CHILD), json!({}), testkit::agents(&[])).state;
    let rows = tree::rows(&parent.state, &|id| (id == child_id).then(|| child.clone()));
    let lines: Vec<(usize, String)> = rows.iter().map(|r| (r.depth, r.label.clone())).collect();
    assert_eq!(
        lines,
        [
            (0, "sub".to_string()),
            (1, format!("run {child_id} (child, RUNNING)")),
            (2, "inner".to_string()),
        ]
    );
    let inner = rows[2].task.as_ref().unwrap();
    assert_eq!(
        inner.run_id, "RUN",
        "the child's own run id, as its state has it"
    );
    assert!(
        inner.is_waiting_approval(),
        "an approval goes to the child run"
    );
}
