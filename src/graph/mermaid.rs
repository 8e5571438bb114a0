//! A laid-out graph as Mermaid (`flowchart TD`), clusters as nested `subgraph`s.

use std::fmt::Write as _;

use super::layout::Layout;
use super::model::{Shape, caption};
use super::overlay::{colours, state_of};

/// Writes the Mermaid text.
pub fn render(layout: &Layout) -> String {
    let g = &layout.graph;
    let mut out = String::new();
    let _ = writeln!(out, "---\ntitle: {}\n---", text(&g.title));
    out.push_str("flowchart TD\n");
    for &n in &layout.top {
        node(&mut out, layout, n, 1);
    }
    for (i, c) in layout.clusters.iter().enumerate() {
        if c.parent.is_none() {
            cluster(&mut out, layout, i, 1);
        }
    }
    for e in &g.edges {
        let (from, to) = (&g.nodes[e.from].id, &g.nodes[e.to].id);
        let arrow = match e.taken {
            Some(true) => "==>",
            Some(false) => "-.->",
            None if e.back => "-.->",
            None => "-->",
        };
        match &e.label {
            Some(label) => {
                let _ = writeln!(out, "    {from} {arrow}|\"{}\"| {to}", text(label));
            }
            None => {
                let _ = writeln!(out, "    {from} {arrow} {to}");
            }
        }
    }
    // A run: one class per state, and the nodes in each.
    let mut states: Vec<(&str, Vec<&str>)> = Vec::new();
    for node in &g.nodes {
        if let Some(state) = state_of(node) {
            match states.iter_mut().find(|(s, _)| *s == state) {
                Some((_, ids)) => ids.push(&node.id),
                None => states.push((state, vec![&node.id])),
            }
        }
    }
    for (state, ids) in &states {
        let (fill, stroke) = colours(state);
        let _ = writeln!(out, "    classDef {state} fill:{fill},stroke:{stroke}");
        let _ = writeln!(out, "    class {} {state}", ids.join(","));
    }
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

fn node(out: &mut String, layout: &Layout, n: usize, depth: usize) {
    let node = &layout.graph.nodes[n];
    let label = text(&caption(node));
    let (open, close) = match node.shape {
        Shape::Task => ("[\"", "\"]"),
        Shape::Decision => ("{\"", "\"}"),
        Shape::Fork => ("[/\"", "\"\\]"),
        Shape::Loop => ("{{\"", "\"}}"),
        Shape::Human => ("([\"", "\"])"),
        Shape::Wait => ("[(\"", "\")]"),
        Shape::Sub => ("[[\"", "\"]]"),
        Shape::Terminal => ("((\"", "\"))"),
    };
    indent(out, depth);
    let _ = writeln!(out, "{}{open}{label}{close}", node.id);
}

fn cluster(out: &mut String, layout: &Layout, i: usize, depth: usize) {
    let c = &layout.clusters[i];
    indent(out, depth);
    let _ = writeln!(out, "subgraph {}[\"{}\"]", c.id, text(&c.label));
    for &n in &c.nodes {
        node(out, layout, n, depth + 1);
    }
    for (j, child) in layout.clusters.iter().enumerate() {
        if child.parent == Some(i) {
            cluster(out, layout, j, depth + 1);
        }
    }
    indent(out, depth);
    out.push_str("end\n");
}

/// Text safe inside Mermaid's quoted labels (its entity codes for quotes and brackets).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '#' => out.push_str("#35;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
