//! A run's timeline as an SVG: one row per task (a page of them), one bar per attempt
//! (coloured by its outcome), the retry backoff between attempts as a dashed gap, a WAIT's
//! wait and a HUMAN task's approval request (asked until decided) as bars of their own, and a
//! tick for what the engine decided at once (SWITCH, JOIN, ...). Positions are SVG
//! attributes and colours classes of the stylesheet, so nothing needs inline style (the
//! dashboard's Content-Security-Policy forbids it). Every text is escaped.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::took;
use crate::engine::{Change, RunState};
use crate::journal::Record;
use crate::query::{RunLog, TaskLog};

const WIDTH: f64 = 960.0;
const LABEL_W: f64 = 190.0;
const ROW_H: f64 = 22.0;
const AXIS_H: f64 = 22.0;

/// Text safe in XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A span on one row, in milliseconds since the run started.
struct Span {
    from: i64,
    to: i64,
    class: String,
    title: String,
    dashed: bool,
}

/// Each HUMAN task's approval requests: asked (ms), closed (ms, while open `None`), what
/// happened.
type Asked = HashMap<String, Vec<(i64, Option<i64>, String)>>;

/// When each WAIT started, and each approval request's span, from the records.
struct Marks {
    waits: HashMap<String, i64>,
    approvals: Asked,
}

fn marks(records: &[Record], start: DateTime<Utc>) -> Marks {
    let ms = |at: DateTime<Utc>| (at - start).num_milliseconds();
    let mut waits = HashMap::new();
    let mut approvals: Asked = HashMap::new();
    let mut requests: HashMap<String, String> = HashMap::new();
    for r in records {
        match &r.change {
            Change::WaitStarted { task_ref, .. } => {
                waits.insert(task_ref.clone(), ms(r.at));
            }
            Change::ApprovalRequested {
                task_ref,
                request_id,
                approver,
                ..
            } => {
                requests.insert(request_id.clone(), task_ref.clone());
                approvals.entry(task_ref.clone()).or_default().push((
                    ms(r.at),
                    None,
                    format!("approval asked of {approver}"),
                ));
            }
            Change::ApprovalDecided {
                request_id,
                decision,
                by,
                comment,
                ..
            } => {
                let text = format!(
                    "; {decision:?} by {by}{}",
                    comment
                        .as_deref()
                        .filter(|c| !c.is_empty())
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                );
                close(&mut approvals, &requests, request_id, ms(r.at), &text);
            }
            Change::ApprovalExpired { request_id, .. } => {
                close(
                    &mut approvals,
                    &requests,
                    request_id,
                    ms(r.at),
                    "; the deadline passed",
                );
            }
            _ => {}
        }
    }
    Marks { waits, approvals }
}

/// Ends the open span of request `request_id` at `at`, adding `text` to its title.
fn close(
    approvals: &mut Asked,
    requests: &HashMap<String, String>,
    request_id: &str,
    at: i64,
    text: &str,
) {
    let Some(task_ref) = requests.get(request_id) else {
        return;
    };
    if let Some(open) = approvals
        .get_mut(task_ref)
        .and_then(|v| v.iter_mut().rev().find(|a| a.1.is_none()))
    {
        open.1 = Some(at);
        open.2.push_str(text);
    }
}

fn spans(task: Option<&TaskLog>, task_ref: &str, marks: &Marks, now: i64) -> Vec<Span> {
    let mut spans = Vec::new();
    if let Some(list) = marks.approvals.get(task_ref) {
        for (from, to, title) in list {
            spans.push(Span {
                from: *from,
                to: to.unwrap_or(now),
                class: "approval".into(),
                title: title.clone(),
                dashed: to.is_none(),
            });
        }
    }
    if let Some(from) = marks.waits.get(task_ref) {
        let to = task
            .and_then(|t| t.decided.as_ref())
            .map(|d| d.at.offset_ms);
        spans.push(Span {
            from: *from,
            to: to.unwrap_or(now),
            class: "wait".into(),
            title: match to {
                Some(to) => format!("waited {}", took(to - from)),
                None => "waiting".into(),
            },
            dashed: to.is_none(),
        });
    }
    let Some(task) = task else { return spans };
    for (i, a) in task.attempts.iter().enumerate() {
        let to = a.ended.map_or(now, |e| e.offset_ms);
        spans.push(Span {
            from: a.scheduled.offset_ms,
            to,
            class: format!("state-{}", a.outcome),
            title: format!(
                "attempt {} on {}: {}{}{}",
                a.attempt,
                a.agent,
                a.outcome,
                a.took_ms
                    .map(|t| format!(" in {}", took(t)))
                    .unwrap_or_default(),
                a.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            dashed: false,
        });
        // The backoff before the next attempt (or until the retry time, if none yet).
        if let Some(ended) = a.ended {
            let next = task.attempts.get(i + 1).map(|n| n.scheduled.offset_ms);
            if let Some(until) = next.or(a.retry_at.map(|r| r.offset_ms)) {
                spans.push(Span {
                    from: ended.offset_ms,
                    to: until,
                    class: "backoff".into(),
                    title: format!("retry backoff {}", took(until - ended.offset_ms)),
                    dashed: true,
                });
            }
        }
    }
    if task.attempts.is_empty()
        && !marks.waits.contains_key(task_ref)
        && let Some(d) = &task.decided
    {
        spans.push(Span {
            from: d.at.offset_ms,
            to: d.at.offset_ms,
            class: format!("state-{}", d.outcome),
            title: format!(
                "{}{}",
                d.outcome,
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            dashed: false,
        });
    }
    spans
}

/// The SVG of the tasks `refs` (a page of the run's tasks) of `log`.
pub fn render(
    log: &RunLog,
    state: &RunState,
    records: &[Record],
    refs: &[String],
    now: DateTime<Utc>,
) -> String {
    let start = log.started.at.at;
    let end = state.ended_at.unwrap_or(now);
    let now_ms = (end - start).num_milliseconds().max(1);
    let marks = marks(records, start);
    let by_ref: HashMap<&str, &TaskLog> =
        log.tasks.iter().map(|t| (t.task_ref.as_str(), t)).collect();
    let rows: Vec<(&String, Vec<Span>)> = refs
        .iter()
        .map(|r| (r, spans(by_ref.get(r.as_str()).copied(), r, &marks, now_ms)))
        .collect();
    let span_ms = rows
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.to))
        .chain([now_ms])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let chart_w = WIDTH - LABEL_W - 10.0;
    let x = |ms: i64| LABEL_W + (ms.max(0) as f64 / span_ms) * chart_w;
    let height = AXIS_H + ROW_H * rows.len() as f64 + 4.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH:.0}" height="{height:.0}" viewBox="0 0 {WIDTH:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    for i in 0..=4 {
        let ms = (span_ms * f64::from(i) / 4.0) as i64;
        let tx = x(ms);
        let _ = write!(
            out,
            r##"<line class="tick" x1="{tx:.1}" y1="{AXIS_H:.1}" x2="{tx:.1}" y2="{height:.1}" stroke="#dde3ec"/><text x="{tx:.1}" y="14" text-anchor="{}" fill="#6b7a90">{}</text>"##,
            if i == 4 { "end" } else { "middle" },
            esc(&took(ms))
        );
    }
    for (row, (task_ref, spans)) in rows.iter().enumerate() {
        let y = AXIS_H + ROW_H * row as f64;
        let _ = write!(
            out,
            r##"<g class="row" data-ref="{}"><text x="4" y="{:.1}" fill="#1d2633">{}</text>"##,
            esc(task_ref),
            y + 15.0,
            esc(&cut(task_ref, 28))
        );
        for s in spans {
            let (x1, x2) = (x(s.from), x(s.to).max(x(s.from) + 3.0));
            if s.dashed && s.class == "backoff" {
                let _ = write!(
                    out,
                    r##"<line class="backoff" x1="{x1:.1}" y1="{:.1}" x2="{x2:.1}" y2="{:.1}" stroke="#c58b00" stroke-dasharray="4 3"><title>{}</title></line>"##,
                    y + 11.0,
                    y + 11.0,
                    esc(&s.title)
                );
                continue;
            }
            let _ = write!(
                out,
                r#"<rect class="bar {}{}" x="{x1:.1}" y="{:.1}" width="{:.1}" height="14" rx="2"><title>{}</title></rect>"#,
                esc(&s.class),
                if s.dashed { " open" } else { "" },
                y + 4.0,
                x2 - x1,
                esc(&s.title)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a\u{1b}b"), "a b", "control characters become spaces");
    }
}
