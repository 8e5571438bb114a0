//! The header: the station, how many runs are running, the approvals waiting (how many, and
//! for whom) and the agents a live worker serves.

use std::collections::BTreeMap;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::App;
use crate::engine::RunStatus;

/// The header's height, borders included.
pub const HEIGHT: u16 = 5;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let header = &app.header;
    let running = app
        .runs
        .iter()
        .filter(|r| r.status == Some(RunStatus::Running))
        .count();
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    for request in &header.approvals {
        *waiting.entry(request.approver.as_str()).or_default() += 1;
    }
    let approvals = if waiting.is_empty() {
        Span::raw("none")
    } else {
        Span::styled(
            format!(
                "{} ({})",
                header.approvals.len(),
                waiting
                    .iter()
                    .map(|(who, n)| format!("{who} ×{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )
    };
    let oldest = header.approvals.first().map(|a| {
        format!(
            "  oldest: {} of {} for {}",
            a.task_ref,
            a.run_id,
            super::duration((app.now - a.requested_at).num_seconds())
        )
    });
    let live: Vec<Span> = if header.agents.is_empty() {
        vec![Span::raw("none")]
    } else {
        header
            .agents
            .iter()
            .flat_map(|a| {
                let (mark, style) = if a.live {
                    ("●", Style::new().fg(Color::Green))
                } else {
                    ("○", Style::new().add_modifier(Modifier::DIM))
                };
                [
                    Span::styled(format!("{mark} {}", a.name), style),
                    Span::raw("  "),
                ]
            })
            .collect()
    };
    let live_count = header.agents.iter().filter(|a| a.live).count();
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut first = vec![
        Span::styled("station ", bold),
        Span::raw(header.station.clone()),
        Span::raw(format!(
            "   runs {} ({running} running)   {}",
            app.runs.len(),
            app.now.format("%H:%M:%S UTC")
        )),
    ];
    if app.read_only {
        first.push(Span::styled(
            "   READ-ONLY",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    let mut second = vec![Span::styled("approvals waiting ", bold), approvals];
    second.extend(oldest.map(Span::raw));
    let mut third = vec![Span::styled(format!("agents ({live_count} live) "), bold)];
    third.extend(live);
    let lines = vec![Line::from(first), Line::from(second), Line::from(third)];
    let block = Block::new().borders(Borders::ALL).title(" 3ox top ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
