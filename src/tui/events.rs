//! The event tail: the latest journal records of the selected run, one readable line each
//! (`10:04:05  #12 task_scheduled  check #2 → checker`).
//!
//! A line is made from the record's change as journaled: its event name, its task reference,
//! then the fields a person looks for (attempt, agent, approver, decision, who, comment,
//! reason, status, child run), so a new kind of change is shown without code here.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use serde_json::Value;

use super::style;
use crate::journal::Record;

/// How many records the tail keeps.
pub const TAIL: usize = 200;

/// One record as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLine {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The change's event name (`task_completed`).
    pub event: String,
    /// The rest: task, then `key=value` pairs.
    pub text: String,
}

/// The fields shown after the task reference, in this order, with how they are written.
const FIELDS: &[(&str, &str)] = &[
    ("attempt", "#"),
    ("agent", "→ "),
    ("approver", "asks "),
    ("decision", ""),
    ("outcome", ""),
    ("status", ""),
    ("by", "by "),
    ("comment", "comment: "),
    ("reason", "reason: "),
    ("child_run_id", "child "),
    ("new_run_id", "new run "),
    ("iteration", "iteration "),
    ("retry_at", "retry at "),
    ("until", "until "),
    ("due", "due "),
    ("file", "file "),
];

/// The longest value shown of one field.
const VALUE_MAX: usize = 60;

/// The tail of `records`: the last [`TAIL`], oldest first.
pub fn tail(records: &[Record]) -> Vec<EventLine> {
    records[records.len().saturating_sub(TAIL)..]
        .iter()
        .map(line)
        .collect()
}

/// One record as a line.
pub fn line(record: &Record) -> EventLine {
    let value = serde_json::to_value(&record.change).unwrap_or(Value::Null);
    let event = value["event"].as_str().unwrap_or("?").to_string();
    let mut parts = Vec::new();
    if let Some(task) = value.get("task_ref").and_then(Value::as_str) {
        parts.push(task.to_string());
    }
    for (key, prefix) in FIELDS {
        let Some(field) = value.get(*key) else {
            continue;
        };
        let text = match field {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        parts.push(format!("{prefix}{}", cut(&text, VALUE_MAX)));
    }
    EventLine {
        seq: record.seq,
        at: record.at,
        event,
        text: parts.join("  "),
    }
}

fn cut(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let head: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

/// Draws the tail: the newest lines that fit, `scroll` lines up from the end.
pub fn render(frame: &mut Frame, area: Rect, block: Block, events: &[EventLine], scroll: usize) {
    let height = block.inner(area).height as usize;
    let end = events.len().saturating_sub(scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = events[start..end]
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::raw(format!("{} #{:<4} ", e.at.format("%H:%M:%S"), e.seq)),
                Span::styled(format!("{:<22} ", e.event), style::event(&e.event)),
                Span::raw(e.text.clone()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
