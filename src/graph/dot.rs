//! A laid-out graph as Graphviz DOT, clusters as nested `subgraph cluster_N`.

use std::fmt::Write as _;

use super::layout::Layout;
use super::model::{Shape, caption};
use super::overlay::{colours, state_of};

/// Writes the DOT text.
pub fn render(layout: &Layout) -> String {
    let g = &layout.graph;
    let mut out = String::new();
    out.push_str("digraph workflow {\n");
    let _ = writeln!(out, "    label=\"{}\";", text(&g.title));
    out.push_str("    labelloc=t;\n    rankdir=TB;\n    node [fontname=\"sans-serif\", style=filled, fillcolor=\"#f5f7fa\"];\n    edge [fontname=\"sans-serif\"];\n");
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
        let mut attrs = Vec::new();
        if let Some(label) = &e.label {
            attrs.push(format!("label=\"{}\"", text(label)));
        }
        match e.taken {
            Some(true) => attrs.push("style=bold".to_string()),
            Some(false) => attrs.push("style=dashed, color=\"#9aa3ad\"".to_string()),
            None if e.back => attrs.push("style=dashed".to_string()),
            None => {}
        }
        if e.back {
            attrs.push("constraint=false".to_string());
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "    {from} -> {to};");
        } else {
            let _ = writeln!(out, "    {from} -> {to} [{}];", attrs.join(", "));
        }
    }
    out.push_str("}\n");
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

fn node(out: &mut String, layout: &Layout, n: usize, depth: usize) {
    let node = &layout.graph.nodes[n];
    let shape = match node.shape {
        Shape::Task => "box",
        Shape::Decision => "diamond",
        Shape::Fork => "trapezium",
        Shape::Loop => "hexagon",
        Shape::Human => "house",
        Shape::Wait => "cylinder",
        Shape::Sub => "component",
        Shape::Terminal => "doublecircle",
    };
    indent(out, depth);
    let colour = match state_of(node) {
        Some(state) => {
            let (fill, stroke) = colours(state);
            format!(", fillcolor=\"{fill}\", color=\"{stroke}\", class=\"state-{state}\"")
        }
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "{} [label=\"{}\", shape={shape}{colour}];",
        node.id,
        text(&caption(node))
    );
}

fn cluster(out: &mut String, layout: &Layout, i: usize, depth: usize) {
    let c = &layout.clusters[i];
    indent(out, depth);
    let _ = writeln!(out, "subgraph {} {{", c.id);
    indent(out, depth + 1);
    let _ = writeln!(out, "label=\"{}\";", text(&c.label));
    for &n in &c.nodes {
        node(out, layout, n, depth + 1);
    }
    for (j, child) in layout.clusters.iter().enumerate() {
        if child.parent == Some(i) {
            cluster(out, layout, j, depth + 1);
        }
    }
    indent(out, depth);
    out.push_str("}\n");
}

/// Text safe inside a DOT double-quoted string.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
