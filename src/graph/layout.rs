//! A top-down layout of nested boxes: a sequence stacks its blocks, a split (fork, switch)
//! puts its groups side by side under its node, a loop or sub-workflow puts its body under
//! its node. Every group is a cluster box around its blocks. All output formats read the
//! same [`Layout`]; Mermaid and DOT use its clusters and edges, SVG also its coordinates.

use super::model::{Block, Graph, Group};

/// Width of a node box.
pub const NODE_W: f64 = 190.0;
/// Height of a node box.
pub const NODE_H: f64 = 40.0;
const H_GAP: f64 = 24.0;
const V_GAP: f64 = 36.0;
const PAD: f64 = 12.0;
const LABEL_H: f64 = 18.0;
/// Room on the right of a loop body for its back edge.
const BACK_ROOM: f64 = 18.0;
/// Margin around the whole drawing.
pub const MARGIN: f64 = 16.0;
/// Forked tasks of a dynamic fork per row.
const FAN_COLUMNS: usize = 5;

/// A placed node: the top-left corner of its box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
}

/// A placed cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub id: String,
    pub label: String,
    /// The enclosing cluster (index into [`Layout::clusters`]), none at the top level.
    pub parent: Option<usize>,
    /// The nodes directly in it (indexes into [`Graph::nodes`]).
    pub nodes: Vec<usize>,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A laid-out graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub graph: Graph,
    /// One entry per node of the graph, in the same order.
    pub nodes: Vec<Placed>,
    /// Parents come before their children.
    pub clusters: Vec<Cluster>,
    /// The nodes at the top level.
    pub top: Vec<usize>,
    pub width: f64,
    pub height: f64,
}

/// Lays a graph out.
pub fn layout(graph: Graph) -> Layout {
    let mut out = Layout {
        nodes: vec![Placed { x: 0.0, y: 0.0 }; graph.nodes.len()],
        clusters: Vec::new(),
        top: Vec::new(),
        width: 0.0,
        height: 0.0,
        graph,
    };
    let root = out.graph.root.clone();
    let (w, h) = seq_size(&root);
    let mut top = Vec::new();
    place_seq(&mut out, &root, MARGIN, MARGIN, w, None, &mut top);
    out.top = top;
    out.width = w + 2.0 * MARGIN;
    out.height = h + 2.0 * MARGIN;
    out
}

fn seq_size(blocks: &[Block]) -> (f64, f64) {
    let mut w: f64 = 0.0;
    let mut h: f64 = 0.0;
    for (i, b) in blocks.iter().enumerate() {
        let (bw, bh) = block_size(b);
        w = w.max(bw);
        h += bh + if i > 0 { V_GAP } else { 0.0 };
    }
    (w, h)
}

fn group_size(g: &Group, back: bool) -> (f64, f64) {
    let (w, h) = seq_size(&g.blocks);
    let extra = if back { BACK_ROOM } else { 0.0 };
    (
        (w + 2.0 * PAD + extra).max(NODE_W * 0.6),
        h + 2.0 * PAD + LABEL_H,
    )
}

fn block_size(b: &Block) -> (f64, f64) {
    match b {
        Block::Task(_) => (NODE_W, NODE_H),
        Block::Split { groups, .. } => {
            if groups.is_empty() {
                return (NODE_W, NODE_H);
            }
            let mut w = 0.0;
            let mut h: f64 = 0.0;
            for (i, g) in groups.iter().enumerate() {
                let (gw, gh) = group_size(g, false);
                w += gw + if i > 0 { H_GAP } else { 0.0 };
                h = h.max(gh);
            }
            (f64::max(w, NODE_W), NODE_H + V_GAP + h)
        }
        Block::Loop { body, .. } => {
            let (gw, gh) = group_size(body, true);
            (gw.max(NODE_W), NODE_H + V_GAP + gh)
        }
        Block::Sub { body, .. } => {
            let (gw, gh) = group_size(body, false);
            (gw.max(NODE_W), NODE_H + V_GAP + gh)
        }
        Block::Dynamic { body, .. } => {
            let (gw, gh) = fan_size(body);
            (gw.max(NODE_W), NODE_H + V_GAP + gh)
        }
    }
}

/// The box of a dynamic fork's forked tasks: rows of [`FAN_COLUMNS`].
fn fan_size(g: &Group) -> (f64, f64) {
    let n = g.blocks.len().max(1);
    let cols = n.min(FAN_COLUMNS) as f64;
    let rows = n.div_ceil(FAN_COLUMNS) as f64;
    (
        cols * NODE_W + (cols - 1.0) * H_GAP + 2.0 * PAD,
        rows * NODE_H + (rows - 1.0) * V_GAP + 2.0 * PAD + LABEL_H,
    )
}

/// Places a sequence in a column of width `w` starting at (x, y); its nodes go in `members`.
fn place_seq(
    out: &mut Layout,
    blocks: &[Block],
    x: f64,
    mut y: f64,
    w: f64,
    cluster: Option<usize>,
    members: &mut Vec<usize>,
) {
    for b in blocks {
        let (bw, bh) = block_size(b);
        place_block(out, b, x + (w - bw) / 2.0, y, bw, cluster, members);
        y += bh + V_GAP;
    }
}

fn place_node(out: &mut Layout, node: usize, x: f64, y: f64, w: f64, members: &mut Vec<usize>) {
    out.nodes[node] = Placed {
        x: x + (w - NODE_W) / 2.0,
        y,
    };
    members.push(node);
}

fn place_block(
    out: &mut Layout,
    b: &Block,
    x: f64,
    y: f64,
    w: f64,
    cluster: Option<usize>,
    members: &mut Vec<usize>,
) {
    match b {
        Block::Task(n) => place_node(out, *n, x, y, w, members),
        Block::Split { node, groups } => {
            place_node(out, *node, x, y, w, members);
            let total: f64 = groups.iter().map(|g| group_size(g, false).0).sum::<f64>()
                + H_GAP * groups.len().saturating_sub(1) as f64;
            let mut gx = x + (w - total) / 2.0;
            for g in groups {
                let (gw, _) = group_size(g, false);
                place_group(out, g, gx, y + NODE_H + V_GAP, gw, false, cluster);
                gx += gw + H_GAP;
            }
        }
        Block::Loop { node, body } => {
            place_node(out, *node, x, y, w, members);
            let (gw, _) = group_size(body, true);
            place_group(
                out,
                body,
                x + (w - gw) / 2.0,
                y + NODE_H + V_GAP,
                gw,
                true,
                cluster,
            );
        }
        Block::Dynamic { node, body } => {
            place_node(out, *node, x, y, w, members);
            let (gw, gh) = fan_size(body);
            let (gx, gy) = (x + (w - gw) / 2.0, y + NODE_H + V_GAP);
            let index = out.clusters.len();
            out.clusters.push(Cluster {
                id: body.id.clone(),
                label: body.label.clone(),
                parent: cluster,
                nodes: Vec::new(),
                x: gx,
                y: gy,
                w: gw,
                h: gh,
            });
            let mut fanned = Vec::new();
            for (i, b) in body.blocks.iter().enumerate() {
                if let Block::Task(n) = b {
                    let (col, row) = ((i % FAN_COLUMNS) as f64, (i / FAN_COLUMNS) as f64);
                    out.nodes[*n] = Placed {
                        x: gx + PAD + col * (NODE_W + H_GAP),
                        y: gy + PAD + LABEL_H + row * (NODE_H + V_GAP),
                    };
                    fanned.push(*n);
                }
            }
            out.clusters[index].nodes = fanned;
        }
        Block::Sub { node, body } => {
            place_node(out, *node, x, y, w, members);
            let (gw, _) = group_size(body, false);
            place_group(
                out,
                body,
                x + (w - gw) / 2.0,
                y + NODE_H + V_GAP,
                gw,
                false,
                cluster,
            );
        }
    }
}

fn place_group(
    out: &mut Layout,
    g: &Group,
    x: f64,
    y: f64,
    w: f64,
    back: bool,
    parent: Option<usize>,
) {
    let (_, h) = group_size(g, back);
    let index = out.clusters.len();
    out.clusters.push(Cluster {
        id: g.id.clone(),
        label: g.label.clone(),
        parent,
        nodes: Vec::new(),
        x,
        y,
        w,
        h,
    });
    let inner_w = w - 2.0 * PAD - if back { BACK_ROOM } else { 0.0 };
    let mut members = Vec::new();
    place_seq(
        out,
        &g.blocks,
        x + PAD,
        y + PAD + LABEL_H,
        inner_w,
        Some(index),
        &mut members,
    );
    out.clusters[index].nodes = members;
}
