//! Keys, in the k9s style: `?` help, `/` search, Esc back, arrows or `j`/`k`, Enter to open
//! a run, Tab between panes, `q` quit; `s` and `w` cycle the status and workflow filters;
//! `a`/`x` approve or reject a waiting HUMAN task (asked first, then a comment or reason),
//! `R` retry, `p` pause or resume, `T` terminate (asked first). A key changes the [`App`] and
//! may return an [`Action`] for the terminal loop to perform.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, Mode, Pane, Pending};
use crate::engine::RunStatus;

/// The statuses `s` cycles through (after "any").
const STATUSES: [RunStatus; 5] = [
    RunStatus::Running,
    RunStatus::Completed,
    RunStatus::Failed,
    RunStatus::Terminated,
    RunStatus::TimedOut,
];

impl App {
    /// Handles one key.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return Some(Action::Quit);
        }
        match self.mode.clone() {
            Mode::Help => {
                if matches!(
                    key.code,
                    KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter
                ) {
                    self.mode = Mode::Normal;
                }
                None
            }
            Mode::Search => {
                match key.code {
                    KeyCode::Esc => {
                        self.filter.search.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Backspace => {
                        self.filter.search.pop();
                    }
                    KeyCode::Char(c) => self.filter.search.push(c),
                    _ => {}
                }
                self.keep_selection();
                None
            }
            Mode::Confirm(pending) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    if pending.prompt().is_some() {
                        self.mode = Mode::Prompt {
                            pending,
                            text: String::new(),
                        };
                        None
                    } else {
                        self.mode = Mode::Normal;
                        Some(perform(pending, String::new()))
                    }
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    self.mode = Mode::Normal;
                    self.message = Some("canceled".to_string());
                    None
                }
                _ => None,
            },
            Mode::Prompt { pending, mut text } => match key.code {
                KeyCode::Esc => {
                    self.mode = Mode::Normal;
                    self.message = Some("canceled".to_string());
                    None
                }
                KeyCode::Enter => {
                    if matches!(pending, Pending::Reject { .. }) && text.trim().is_empty() {
                        self.message = Some("a rejection needs a reason".to_string());
                        return None;
                    }
                    self.mode = Mode::Normal;
                    self.message = Some("sending...".to_string());
                    Some(perform(pending, text))
                }
                KeyCode::Backspace => {
                    text.pop();
                    self.mode = Mode::Prompt { pending, text };
                    None
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.mode = Mode::Prompt { pending, text };
                    None
                }
                _ => None,
            },
            Mode::Normal => self.normal_key(key),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Char('q') => {
                self.quit = true;
                return Some(Action::Quit);
            }
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('/') => {
                self.mode = Mode::Search;
                self.focus = Pane::Runs;
            }
            KeyCode::Esc => {
                if self.focus != Pane::Runs {
                    self.focus = Pane::Runs;
                } else if !self.filter.is_empty() {
                    self.filter = Default::default();
                    self.keep_selection();
                }
                self.message = None;
            }
            KeyCode::Tab => self.focus = next(self.focus),
            KeyCode::BackTab => self.focus = next(next(self.focus)),
            KeyCode::Up | KeyCode::Char('k') => self.move_cursor(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(1),
            KeyCode::PageUp => self.move_cursor(-10),
            KeyCode::PageDown => self.move_cursor(10),
            KeyCode::Home | KeyCode::Char('g') => self.move_cursor(-1_000_000),
            KeyCode::End | KeyCode::Char('G') => self.move_cursor(1_000_000),
            KeyCode::Enter if self.focus == Pane::Runs && self.selected.is_some() => {
                self.focus = Pane::Tree;
                if let Some(at) = self.current().and_then(|d| {
                    d.tree
                        .iter()
                        .position(|r| r.task.as_ref().is_some_and(|c| c.is_waiting_approval()))
                }) {
                    self.tree_cursor = at;
                }
            }
            KeyCode::Char('s') => {
                let at = self
                    .filter
                    .status
                    .and_then(|s| STATUSES.iter().position(|x| *x == s));
                self.filter.status = match at {
                    None => Some(STATUSES[0]),
                    Some(i) => STATUSES.get(i + 1).copied(),
                };
                self.keep_selection();
            }
            KeyCode::Char('w') => {
                let mut workflows: Vec<String> = self
                    .runs
                    .iter()
                    .filter_map(|r| r.workflow.clone())
                    .collect();
                workflows.sort();
                workflows.dedup();
                let at = self
                    .filter
                    .workflow
                    .as_ref()
                    .and_then(|w| workflows.iter().position(|x| x == w));
                self.filter.workflow = match at {
                    None => workflows.first().cloned(),
                    Some(i) => workflows.get(i + 1).cloned(),
                };
                self.keep_selection();
            }
            KeyCode::Char(c @ ('a' | 'x' | 'R' | 'p' | 'T')) => return self.operation(c),
            _ => {}
        }
        None
    }

    fn move_cursor(&mut self, by: isize) {
        match self.focus {
            Pane::Runs => self.move_run(by),
            Pane::Tree => {
                let rows = self.current().map_or(0, |d| d.tree.len());
                let to = (self.tree_cursor as isize + by).clamp(0, rows.max(1) as isize - 1);
                self.tree_cursor = to as usize;
            }
            Pane::Events => {
                let lines = self.current().map_or(0, |d| d.events.len());
                // Up scrolls back in time.
                let to = (self.events_scroll as isize - by).clamp(0, lines.max(1) as isize - 1);
                self.events_scroll = to as usize;
            }
        }
    }

    /// `a`, `x`, `R`, `p`, `T`.
    fn operation(&mut self, key: char) -> Option<Action> {
        let what = match key {
            'a' => "approve",
            'x' => "reject",
            'R' => "retry",
            'p' => "pause/resume",
            _ => "terminate",
        };
        if self.read_only {
            self.message = Some(format!("read-only: {what} is disabled (--read-only)"));
            return None;
        }
        let Some(run_id) = self.selected.clone() else {
            self.message = Some(format!("no run selected to {what}"));
            return None;
        };
        match key {
            'a' | 'x' => {
                let Some(cell) = self.approval_target() else {
                    self.message = Some(format!("no task of run {run_id} waits for a decision"));
                    return None;
                };
                let (run_id, task_ref) = (cell.run_id.clone(), cell.task_ref.clone());
                self.mode = Mode::Confirm(if key == 'a' {
                    Pending::Approve { run_id, task_ref }
                } else {
                    Pending::Reject { run_id, task_ref }
                });
                None
            }
            'T' => {
                self.mode = Mode::Confirm(Pending::Terminate { run_id });
                None
            }
            'R' => {
                self.message = Some(format!("retrying run {run_id}..."));
                Some(Action::Retry { run_id })
            }
            _ => {
                let paused = self.current().is_some_and(|d| d.paused);
                self.message = Some(format!(
                    "{} run {run_id}...",
                    if paused { "resuming" } else { "pausing" }
                ));
                Some(if paused {
                    Action::Resume { run_id }
                } else {
                    Action::Pause { run_id }
                })
            }
        }
    }
}

fn next(pane: Pane) -> Pane {
    match pane {
        Pane::Runs => Pane::Tree,
        Pane::Tree => Pane::Events,
        Pane::Events => Pane::Runs,
    }
}

fn perform(pending: Pending, text: String) -> Action {
    match pending {
        Pending::Approve { run_id, task_ref } => Action::Approve {
            run_id,
            task_ref,
            comment: text,
        },
        Pending::Reject { run_id, task_ref } => Action::Reject {
            run_id,
            task_ref,
            reason: text,
        },
        Pending::Terminate { run_id } => Action::Terminate { run_id },
    }
}
