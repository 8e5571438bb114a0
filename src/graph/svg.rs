//! A laid-out graph as a standalone SVG: node boxes by shape, clusters as labelled boxes,
//! edges as curves with arrow heads (a DO_WHILE's back edge dashed, up the right side of its
//! body). Colours are presentation attributes, not a stylesheet, so the file also shows under
//! a strict Content-Security-Policy.

use std::fmt::Write as _;

use super::layout::{Layout, NODE_H, NODE_W};
use super::model::{Shape, caption};
use super::overlay::{colours, state_of};

/// Longest caption drawn in a node before it is cut (the whole text is in its `<title>`).
const MAX_CHARS: usize = 26;

/// Writes the SVG document.
pub fn render(layout: &Layout) -> String {
    let g = &layout.graph;
    let title_h = 24.0;
    let (w, h) = (layout.width, layout.height + title_h);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, "<title>{}</title>", xml(&g.title));
    out.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##);
    out.push('\n');
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="18" font-size="14" font-weight="bold" fill="#222">{}</text>"##,
        super::layout::MARGIN,
        xml(&g.title)
    );
    let _ = writeln!(out, r#"<g transform="translate(0,{title_h:.0})">"#);
    for (depth, c) in layout
        .clusters
        .iter()
        .map(|c| (depth_of(layout, c.parent), c))
    {
        let fill = if depth % 2 == 0 { "#f3f6fb" } else { "#e9eef6" };
        let _ = writeln!(
            out,
            r##"<g class="cluster" id="{}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" fill="{fill}" stroke="#9aa9bf" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#46556b" font-style="italic">{}</text></g>"##,
            c.id,
            c.x,
            c.y,
            c.w,
            c.h,
            c.x + 8.0,
            c.y + 15.0,
            xml(&c.label)
        );
    }
    for e in &g.edges {
        let (a, b) = (layout.nodes[e.from], layout.nodes[e.to]);
        if e.back {
            // From the bottom of the body's last node, right past the body, up to the loop
            // node's right side.
            let body_right = layout
                .clusters
                .iter()
                .filter(|c| {
                    c.x <= a.x
                        && a.x + NODE_W <= c.x + c.w
                        && c.y <= a.y
                        && a.y <= c.y + c.h
                        && c.y > b.y
                })
                .map(|c| c.x + c.w)
                .fold(a.x + NODE_W, f64::max);
            let (sx, sy) = (a.x + NODE_W, a.y + NODE_H / 2.0);
            let rx = body_right - 6.0;
            let (tx, ty) = (b.x + NODE_W, b.y + NODE_H / 2.0);
            let rx = rx.max(tx + 12.0);
            let style = match e.taken {
                Some(true) => r##"stroke="#333" stroke-width="2.5""##,
                _ => r##"stroke="#777" stroke-dasharray="5 4""##,
            };
            let _ = writeln!(
                out,
                r##"<path d="M{sx:.1},{sy:.1} L{rx:.1},{sy:.1} L{rx:.1},{ty:.1} L{tx:.1},{ty:.1}" fill="none" {style} marker-end="url(#arrow)"/>"##
            );
            if let Some(label) = &e.label {
                let _ = writeln!(
                    out,
                    r##"<text x="{:.1}" y="{:.1}" fill="#777" font-size="10">{}</text>"##,
                    rx + 3.0,
                    (sy + ty) / 2.0,
                    xml(label)
                );
            }
            continue;
        }
        let (sx, sy) = (a.x + NODE_W / 2.0, a.y + NODE_H);
        let (tx, ty) = (b.x + NODE_W / 2.0, b.y);
        let my = if ty > sy { sy + 18.0 } else { (sy + ty) / 2.0 };
        let style = match e.taken {
            Some(true) => r##"stroke="#333" stroke-width="2.5""##,
            Some(false) => r##"stroke="#9aa3ad" stroke-dasharray="5 4""##,
            None => r##"stroke="#555""##,
        };
        let _ = writeln!(
            out,
            r##"<path d="M{sx:.1},{sy:.1} C{sx:.1},{my:.1} {tx:.1},{:.1} {tx:.1},{ty:.1}" fill="none" {style} marker-end="url(#arrow)"/>"##,
            ty - 18.0
        );
        if let Some(label) = &e.label {
            let (lx, ly) = if (tx - sx).abs() < 1.0 {
                (sx + 6.0, sy + 16.0)
            } else {
                (sx + (tx - sx) * 0.35 + 4.0, sy + 14.0)
            };
            let _ = writeln!(
                out,
                r##"<text x="{lx:.1}" y="{ly:.1}" fill="#2f5d9a" font-size="10">{}</text>"##,
                xml(&cut(label, 18))
            );
        }
    }
    for (node, p) in g.nodes.iter().zip(&layout.nodes) {
        let (fill, stroke) = match state_of(node) {
            Some(state) => colours(state),
            None => match node.shape {
                Shape::Task => ("#ffffff", "#4a6fa5"),
                Shape::Decision => ("#fff6e0", "#c58b00"),
                Shape::Fork => ("#eef3ff", "#4a6fa5"),
                Shape::Loop => ("#f1ecff", "#6b4fbb"),
                Shape::Human => ("#e9f8ef", "#2e8b57"),
                Shape::Wait => ("#f4f4f4", "#777777"),
                Shape::Sub => ("#eaf6fb", "#2b7a9b"),
                Shape::Terminal => ("#fdecec", "#b03a3a"),
            },
        };
        let (x, y) = (p.x, p.y);
        let full = caption(node);
        let class = match state_of(node) {
            Some(state) => format!("node state-{state}"),
            None => "node".to_string(),
        };
        // A "+N more" node stands for no one task.
        let data_ref = if node.type_name.is_empty() {
            String::new()
        } else {
            format!(r#" data-ref="{}""#, xml(&node.task_ref))
        };
        let _ = write!(
            out,
            r#"<g class="{class}" id="{}" data-task="{}"{data_ref}><title>{}</title>"#,
            node.id,
            xml(&node.task_ref),
            xml(&full)
        );
        let shape = match node.shape {
            Shape::Decision | Shape::Loop => {
                let i = 14.0;
                format!(
                    r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"#,
                    x + i,
                    y,
                    x + NODE_W - i,
                    y,
                    x + NODE_W,
                    y + NODE_H / 2.0,
                    x + NODE_W - i,
                    y + NODE_H,
                    x + i,
                    y + NODE_H,
                    x,
                    y + NODE_H / 2.0
                )
            }
            Shape::Fork => {
                let i = 12.0;
                format!(
                    r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"#,
                    x + i,
                    y,
                    x + NODE_W - i,
                    y,
                    x + NODE_W,
                    y + NODE_H,
                    x,
                    y + NODE_H
                )
            }
            Shape::Human | Shape::Terminal => format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{NODE_W:.1}" height="{NODE_H:.1}" rx="20" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"#
            ),
            Shape::Sub => format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{NODE_W:.1}" height="{NODE_H:.1}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/><rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{NODE_H:.1}" fill="none" stroke="{stroke}"/>"#,
                x + 6.0,
                NODE_W - 12.0
            ),
            Shape::Task | Shape::Wait => format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{NODE_W:.1}" height="{NODE_H:.1}" rx="4" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"#
            ),
        };
        out.push_str(&shape);
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#1d2633">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#6b7a90" font-size="10">{}</text></g>"##,
            x + NODE_W / 2.0,
            y + 17.0,
            xml(&cut(&node.task_ref, MAX_CHARS)),
            x + NODE_W / 2.0,
            y + 31.0,
            xml(&cut(&second_line(node), MAX_CHARS))
        );
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// The small line under a node's reference: its type, and in a run its note.
fn second_line(node: &super::model::Node) -> String {
    match (
        node.type_name.as_str(),
        node.run.as_ref().and_then(|r| r.note.as_ref()),
    ) {
        ("", Some(note)) => note.clone(),
        (t, Some(note)) => format!("{t} · {note}"),
        (t, None) => t.to_string(),
    }
}

fn depth_of(layout: &Layout, mut parent: Option<usize>) -> usize {
    let mut d = 0;
    while let Some(p) = parent {
        d += 1;
        parent = layout.clusters[p].parent;
    }
    d
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

/// Text safe in XML content and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
