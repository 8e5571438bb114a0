//! The dashboard's state, and what changes it: new data from the station ([`App::set_runs`],
//! [`App::set_detail`]), keys ([`super::keys`]) and the outcome of an operation
//! ([`App::done`]). Nothing here reads a file or the clock: the terminal loop
//! ([`super::terminal`]) feeds it and performs the [`Action`]s it returns.

use chrono::{DateTime, Utc};

use super::source::{Detail, Header};
use super::tree::TaskCell;
use crate::engine::RunStatus;
use crate::query::RunLine;

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Runs,
    Tree,
    Events,
}

/// An operation that asks before it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Approve { run_id: String, task_ref: String },
    Reject { run_id: String, task_ref: String },
    Terminate { run_id: String },
}

impl Pending {
    /// The confirmation question.
    pub fn question(&self) -> String {
        match self {
            Pending::Approve { run_id, task_ref } => {
                format!("Approve task `{task_ref}` of run {run_id}?")
            }
            Pending::Reject { run_id, task_ref } => {
                format!("Reject task `{task_ref}` of run {run_id}?")
            }
            Pending::Terminate { run_id } => format!("Terminate run {run_id}?"),
        }
    }

    /// What the text prompt after the confirmation asks for, if any.
    pub fn prompt(&self) -> Option<&'static str> {
        match self {
            Pending::Approve { .. } => Some("Comment (optional)"),
            Pending::Reject { .. } => Some("Reason (required)"),
            Pending::Terminate { .. } => None,
        }
    }
}

/// What the keys go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The help overlay.
    Help,
    /// Typing the search text (`/`).
    Search,
    /// A yes/no question before an operation.
    Confirm(Pending),
    /// Typing the comment or reason of a confirmed decision.
    Prompt {
        pending: Pending,
        text: String,
    },
}

/// What the terminal loop is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    Approve {
        run_id: String,
        task_ref: String,
        comment: String,
    },
    Reject {
        run_id: String,
        task_ref: String,
        reason: String,
    },
    Retry {
        run_id: String,
    },
    Pause {
        run_id: String,
    },
    Resume {
        run_id: String,
    },
    Terminate {
        run_id: String,
    },
}

/// Which runs the runs pane lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<RunStatus>,
    pub workflow: Option<String>,
    /// Text the run id or workflow name must contain (case-insensitive).
    pub search: String,
}

impl Filter {
    pub fn admits(&self, run: &RunLine) -> bool {
        let search = self.search.to_lowercase();
        self.status.is_none_or(|s| run.status == Some(s))
            && self
                .workflow
                .as_ref()
                .is_none_or(|w| run.workflow.as_ref() == Some(w))
            && (search.is_empty()
                || run.run_id.to_lowercase().contains(&search)
                || run
                    .workflow
                    .as_ref()
                    .is_some_and(|w| w.to_lowercase().contains(&search)))
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// `status=RUNNING workflow=x /text`, or empty.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(format!("status={status}"));
        }
        if let Some(workflow) = &self.workflow {
            parts.push(format!("workflow={workflow}"));
        }
        if !self.search.is_empty() {
            parts.push(format!("/{}", self.search));
        }
        parts.join(" ")
    }
}

/// The whole dashboard.
#[derive(Debug, Clone)]
pub struct App {
    /// Operations are refused (`--read-only`).
    pub read_only: bool,
    /// Every run of the station, newest first.
    pub runs: Vec<RunLine>,
    pub header: Header,
    /// The run under the cursor, as last read.
    pub detail: Option<Detail>,
    pub filter: Filter,
    pub focus: Pane,
    pub mode: Mode,
    /// The run under the cursor (kept by id across refreshes).
    pub selected: Option<String>,
    pub tree_cursor: usize,
    /// How many lines the event tail is scrolled up from its end.
    pub events_scroll: usize,
    /// The last outcome or refusal, shown in the footer.
    pub message: Option<String>,
    /// Why the station could not be read, when it could not.
    pub problem: Option<String>,
    pub now: DateTime<Utc>,
    pub quit: bool,
}

impl App {
    pub fn new(read_only: bool, now: DateTime<Utc>) -> App {
        App {
            read_only,
            runs: Vec::new(),
            header: Header::default(),
            detail: None,
            filter: Filter::default(),
            focus: Pane::Runs,
            mode: Mode::Normal,
            selected: None,
            tree_cursor: 0,
            events_scroll: 0,
            message: None,
            problem: None,
            now,
            quit: false,
        }
    }

    /// The runs the filter admits, in list order.
    pub fn visible(&self) -> Vec<&RunLine> {
        self.runs.iter().filter(|r| self.filter.admits(r)).collect()
    }

    /// The index of the selected run among the visible ones.
    pub fn run_cursor(&self) -> Option<usize> {
        let visible = self.visible();
        let selected = self.selected.as_ref()?;
        visible.iter().position(|r| &r.run_id == selected)
    }

    /// A new run list: the selection stays on its run while that run is listed, else it
    /// moves to the first visible run.
    pub fn set_runs(&mut self, runs: Vec<RunLine>, header: Header) {
        self.runs = runs;
        self.header = header;
        self.keep_selection();
    }

    /// Makes sure the selection is a visible run (the first, when it is not).
    pub fn keep_selection(&mut self) {
        if self.run_cursor().is_none() {
            let first = self.visible().first().map(|r| r.run_id.clone());
            self.select(first);
        }
    }

    fn select(&mut self, run_id: Option<String>) {
        if run_id != self.selected {
            self.selected = run_id;
            self.tree_cursor = 0;
            self.events_scroll = 0;
        }
    }

    /// Moves the run cursor by `by` among the visible runs.
    pub fn move_run(&mut self, by: isize) {
        let ids: Vec<String> = self.visible().iter().map(|r| r.run_id.clone()).collect();
        if ids.is_empty() {
            self.select(None);
            return;
        }
        let at = self.run_cursor().unwrap_or(0) as isize;
        let to = (at + by).clamp(0, ids.len() as isize - 1) as usize;
        self.select(Some(ids[to].clone()));
    }

    /// The selected run's detail, read again. Ignored when it is not of the selected run
    /// (the selection moved on meanwhile).
    pub fn set_detail(&mut self, detail: Option<Detail>) {
        if detail.as_ref().map(|d| &d.run_id) != self.selected.as_ref() && detail.is_some() {
            return;
        }
        self.detail = detail;
        let rows = self.detail.as_ref().map_or(0, |d| d.tree.len());
        self.tree_cursor = self.tree_cursor.min(rows.saturating_sub(1));
        let events = self.detail.as_ref().map_or(0, |d| d.events.len());
        self.events_scroll = self.events_scroll.min(events.saturating_sub(1));
    }

    /// The detail, when it is of the selected run.
    pub fn current(&self) -> Option<&Detail> {
        self.detail
            .as_ref()
            .filter(|d| Some(&d.run_id) == self.selected.as_ref())
    }

    /// The task under the tree cursor.
    pub fn cursor_task(&self) -> Option<&TaskCell> {
        self.current()?.tree.get(self.tree_cursor)?.task.as_ref()
    }

    /// The task an approve or reject goes to: the one under the tree cursor when it waits
    /// for a decision, else the selected run's first task that does.
    pub fn approval_target(&self) -> Option<&TaskCell> {
        if self.focus == Pane::Tree
            && let Some(cell) = self.cursor_task().filter(|c| c.is_waiting_approval())
        {
            return Some(cell);
        }
        self.current()?
            .tree
            .iter()
            .filter_map(|row| row.task.as_ref())
            .find(|c| c.is_waiting_approval())
    }

    /// An operation's outcome (or why it was refused), for the footer.
    pub fn done(&mut self, message: String) {
        self.message = Some(message);
    }
}
