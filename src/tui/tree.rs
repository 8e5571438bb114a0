//! The selected run's task tree: the workflow's tasks in definition order, nested as they run
//! (fork branches, switch cases, loop iterations, dynamic forks, child runs), each with its
//! state from the journal. [`rows`] builds it from a [`RunState`]; [`render`] draws it.
//!
//! A task of the definition that has not started is listed too (without a state), so the tree
//! shows what is still ahead. A DO_WHILE shows one group per iteration that has started
//! (`ref__N`); a dynamic fork the tasks it expanded to (at most [`FORK_CAP`], then "+N
//! more"); a SUB_WORKFLOW its child runs, with their own tasks below when the child's state is
//! given by `child`. Tasks of the state the definition does not place are listed at the end.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Row, Table, TableState};

use super::style;
use crate::definition::{TaskDef, TaskKind};
use crate::engine::{ApprovalStatus, RunState, TaskStatus};

/// The most tasks of one dynamic fork listed.
pub const FORK_CAP: usize = 50;

/// How deep child runs are opened inside their parent's tree.
pub const CHILD_DEPTH: usize = 3;

/// One line of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeRow {
    /// Indentation level.
    pub depth: usize,
    /// The task reference, or a group's label (`branch 1`, `case approved`, `iteration 2`,
    /// `run 01J... (child, COMPLETED)`).
    pub label: String,
    /// The task's state; `None` for a group line.
    pub task: Option<TaskCell>,
}

/// What the tree shows of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCell {
    /// The run the task belongs to (a child run's id for tasks of a child).
    pub run_id: String,
    pub task_ref: String,
    pub type_name: String,
    /// `None`: not started yet.
    pub status: Option<TaskStatus>,
    pub attempt: u32,
    pub agent: Option<String>,
    pub started: Option<DateTime<Utc>>,
    /// When it ended (or was last updated, when it has not ended).
    pub updated: Option<DateTime<Utc>>,
    /// The approver an open approval request waits for.
    pub waits_for: Option<String>,
    /// A reason (of a failure), or what a HUMAN task waits for.
    pub note: Option<String>,
}

impl TaskCell {
    /// Whether the task has an open approval request (it can be approved or rejected).
    pub fn is_waiting_approval(&self) -> bool {
        self.waits_for.is_some()
    }
}

/// The tree of run `state`; `child` gives a child run's state by its id, when it can be read.
pub fn rows(state: &RunState, child: &dyn Fn(&str) -> Option<RunState>) -> Vec<TreeRow> {
    let mut out = Vec::new();
    run_rows(state, 0, child, &mut out);
    out
}

fn run_rows(
    state: &RunState,
    depth: usize,
    child: &dyn Fn(&str) -> Option<RunState>,
    out: &mut Vec<TreeRow>,
) {
    let mut walker = Walker {
        state,
        child,
        placed: HashSet::new(),
        out,
    };
    walker.sequence(&state.workflow.tasks, depth, "");
    let leftover: Vec<String> = state
        .tasks
        .keys()
        .filter(|r| !walker.placed.contains(*r))
        .cloned()
        .collect();
    for task_ref in leftover {
        walker.task_row(&task_ref, None, depth);
    }
}

struct Walker<'a, 'o> {
    state: &'a RunState,
    child: &'a dyn Fn(&str) -> Option<RunState>,
    placed: HashSet<String>,
    out: &'o mut Vec<TreeRow>,
}

impl Walker<'_, '_> {
    fn group(&mut self, depth: usize, label: String) {
        self.out.push(TreeRow {
            depth,
            label,
            task: None,
        });
    }

    fn sequence(&mut self, tasks: &[TaskDef], depth: usize, suffix: &str) {
        for def in tasks {
            self.task(def, depth, suffix);
        }
    }

    fn task(&mut self, def: &TaskDef, depth: usize, suffix: &str) {
        let task_ref = format!("{}{suffix}", def.task_reference_name);
        self.task_row(&task_ref, Some(def), depth);
        match def.kind() {
            TaskKind::Switch => {
                for (case, tasks) in &def.decision_cases {
                    self.group(depth + 1, format!("case {case}"));
                    self.sequence(tasks, depth + 2, suffix);
                }
                if !def.default_case.is_empty() {
                    self.group(depth + 1, "default".to_string());
                    self.sequence(&def.default_case, depth + 2, suffix);
                }
            }
            TaskKind::ForkJoin => {
                for (i, branch) in def.fork_tasks.iter().enumerate() {
                    self.group(depth + 1, format!("branch {}", i + 1));
                    self.sequence(branch, depth + 2, suffix);
                }
            }
            TaskKind::ForkJoinDynamic => {
                if let Some(forked) = self.state.forks.get(&task_ref).cloned() {
                    for def in forked.iter().take(FORK_CAP) {
                        self.task(def, depth + 1, "");
                    }
                    if forked.len() > FORK_CAP {
                        self.group(depth + 1, format!("+{} more", forked.len() - FORK_CAP));
                        for def in &forked[FORK_CAP..] {
                            self.placed.insert(def.task_reference_name.clone());
                        }
                    }
                }
            }
            TaskKind::DoWhile => {
                let iterations = self.iterations(&def.loop_over);
                if iterations.is_empty() {
                    self.sequence(&def.loop_over, depth + 1, suffix);
                }
                for n in iterations {
                    self.group(depth + 1, format!("iteration {n}"));
                    self.sequence(&def.loop_over, depth + 2, &format!("__{n}"));
                }
            }
            TaskKind::SubWorkflow | TaskKind::StartWorkflow => {
                let children: Vec<_> = self
                    .state
                    .children
                    .values()
                    .filter(|c| c.task_ref.as_deref() == Some(task_ref.as_str()))
                    .cloned()
                    .collect();
                for link in children {
                    let child = (depth < CHILD_DEPTH)
                        .then(|| (self.child)(&link.run_id))
                        .flatten();
                    let status = child.as_ref().map_or(link.status, |c| c.status);
                    self.group(
                        depth + 1,
                        format!("run {} ({}, {status})", link.run_id, link.name),
                    );
                    if let Some(child_state) = child {
                        run_rows(&child_state, depth + 2, self.child, self.out);
                    }
                }
            }
            _ => {}
        }
    }

    /// The iterations of a loop with body `body` that have started: the `N` of the state's
    /// `<member>__N` tasks.
    fn iterations(&self, body: &[TaskDef]) -> BTreeSet<u32> {
        let mut members = Vec::new();
        collect_refs(body, &mut members);
        self.state
            .tasks
            .keys()
            .filter_map(|key| {
                let (member, n) = key.rsplit_once("__")?;
                members
                    .iter()
                    .any(|m| m == member)
                    .then(|| n.parse().ok())
                    .flatten()
            })
            .collect()
    }

    fn task_row(&mut self, task_ref: &str, def: Option<&TaskDef>, depth: usize) {
        self.placed.insert(task_ref.to_string());
        let state = self.state;
        let task = state.tasks.get(task_ref);
        let open = state
            .approvals
            .values()
            .rev()
            .find(|a| a.task_ref == task_ref && a.status == ApprovalStatus::Open);
        let type_name = task
            .map(|t| t.type_name.clone())
            .or_else(|| def.map(|d| d.type_name.clone()))
            .unwrap_or_default();
        let note = match (open, task) {
            (Some(open), _) => Some(match open.deadline {
                Some(deadline) => format!(
                    "waits for {} (deadline {})",
                    open.approver,
                    deadline.format("%H:%M:%S")
                ),
                None => format!("waits for {}", open.approver),
            }),
            (None, Some(t)) => t.reason.clone().or_else(|| {
                state
                    .timers
                    .waits
                    .get(task_ref)
                    .copied()
                    .flatten()
                    .filter(|_| t.status.is_in_flight())
                    .map(|until| format!("waits until {}", until.format("%H:%M:%S")))
            }),
            (None, None) => None,
        };
        self.out.push(TreeRow {
            depth,
            label: task_ref.to_string(),
            task: Some(TaskCell {
                run_id: state.run_id.clone(),
                task_ref: task_ref.to_string(),
                type_name,
                status: task.map(|t| t.status),
                attempt: task.map_or(0, |t| t.attempt),
                agent: task.and_then(|t| t.agent.clone()),
                started: task.map(|t| t.first_at),
                updated: task.map(|t| t.updated_at),
                waits_for: open.map(|a| a.approver.clone()),
                note,
            }),
        });
    }
}

fn collect_refs(tasks: &[TaskDef], out: &mut Vec<String>) {
    for def in tasks {
        out.push(def.task_reference_name.clone());
        let nested: Vec<TaskDef> = def.children().cloned().collect();
        collect_refs(&nested, out);
    }
}

/// How long a task ran (ended) or has been running (in flight), as `1m05s`.
pub fn took(cell: &TaskCell, now: DateTime<Utc>) -> String {
    let (Some(start), Some(status)) = (cell.started, cell.status) else {
        return String::new();
    };
    let end = if status.is_in_flight() || status == TaskStatus::RetryWait {
        now
    } else {
        cell.updated.unwrap_or(now)
    };
    super::duration((end - start).num_seconds())
}

/// The tree's columns: header, width, and the narrowest pane (inside its borders) that shows
/// it; TASK, STATE, TOOK and NOTE are always shown.
const COLUMNS: [(&str, Constraint, u16); 8] = [
    ("TASK", Constraint::Min(16), 0),
    ("TYPE", Constraint::Length(10), 96),
    ("STATE", Constraint::Length(10), 0),
    ("#", Constraint::Length(3), 60),
    ("AGENT", Constraint::Length(10), 72),
    ("STARTED", Constraint::Length(8), 96),
    ("TOOK", Constraint::Length(7), 0),
    ("NOTE", Constraint::Fill(2), 0),
];

/// Draws the tree of the selected run, with as many columns as fit.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    tree: &[TreeRow],
    cursor: Option<usize>,
    now: DateTime<Utc>,
) {
    let width = block.inner(area).width;
    let shown: Vec<bool> = COLUMNS.iter().map(|(_, _, min)| width >= *min).collect();
    let pick = |cells: Vec<String>| -> Vec<String> {
        cells
            .into_iter()
            .zip(&shown)
            .filter(|(_, shown)| **shown)
            .map(|(cell, _)| cell)
            .collect()
    };
    let rows = tree.iter().map(|row| {
        let indent = "  ".repeat(row.depth);
        match &row.task {
            None => Row::new(vec![format!("{indent}▸ {}", row.label)])
                .style(Style::new().add_modifier(Modifier::DIM)),
            Some(cell) => {
                let status = if cell.is_waiting_approval() {
                    "WAITING".to_string()
                } else {
                    cell.status
                        .map_or_else(|| "·".to_string(), |s| s.to_string())
                };
                Row::new(pick(vec![
                    format!("{indent}{}", row.label),
                    cell.type_name.clone(),
                    status,
                    if cell.attempt > 0 {
                        format!("#{}", cell.attempt)
                    } else {
                        String::new()
                    },
                    cell.agent.clone().unwrap_or_default(),
                    cell.started
                        .map(|t| t.format("%H:%M:%S").to_string())
                        .unwrap_or_default(),
                    took(cell, now),
                    cell.note.clone().unwrap_or_default(),
                ]))
                .style(style::task(cell))
            }
        }
    });
    let widths: Vec<Constraint> = COLUMNS
        .iter()
        .zip(&shown)
        .filter(|(_, shown)| **shown)
        .map(|((_, width, _), _)| *width)
        .collect();
    let header = pick(
        COLUMNS
            .iter()
            .map(|(name, _, _)| name.to_string())
            .collect(),
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block)
        .row_highlight_style(style::selected());
    let mut state = TableState::default().with_selected(cursor.filter(|_| !tree.is_empty()));
    frame.render_stateful_widget(table, area, &mut state);
}
