//! A run drawn over its workflow's graph: each node gets the state of its task
//! ([`NodeRun`]), each edge whether the run went along it, a FORK_JOIN_DYNAMIC the tasks it
//! forked (at most `max_dynamic`, then one "+N more" node), a DO_WHILE its iteration count and
//! a sub-workflow task the id of its child run. The result is an ordinary [`Graph`]: the same
//! [`super::layout`] and renderers draw it, and they colour nodes by state when it is set.
//!
//! Tasks of a DO_WHILE body run as `<ref>__<iteration>`; a node of the body shows its latest
//! iteration. Reads only the [`RunState`], so it is a pure function of the journal.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::model::{Block, Edge, Graph, Group, Node, NodeRun, Shape, build};
use crate::definition::{TaskKind, WorkflowDef};
use crate::engine::{RunState, TaskState};

/// The `state` of a node whose task the run has not reached (or did not take).
pub const NOT_STARTED: &str = "NOT_STARTED";
/// The `state` of a "+N more" node whose tasks are not all in the same state.
pub const MIXED: &str = "MIXED";
/// The `state` of a task of an inline sub-workflow whose child run has started: it runs in
/// the child run (`3ox graph CHILD` draws that run).
pub const CHILD_RUN: &str = "CHILD_RUN";
/// How many forked tasks of a dynamic fork are drawn by default (`3ox graph --max-dynamic`).
pub const DEFAULT_MAX_DYNAMIC: usize = 20;

/// The graph of `def` (the run's workflow, `state.workflow`) with the run `state` drawn on
/// it; a dynamic fork shows at most `max_dynamic` of its forked tasks.
pub fn overlay(def: &WorkflowDef, state: &RunState, max_dynamic: usize) -> Graph {
    let mut graph = build(def);
    graph.title = format!(
        "{} v{} · run {} {}",
        def.name, def.version, state.run_id, state.status
    );
    let runs = Runs::of(state);
    let mut ids: HashSet<String> = graph.nodes.iter().map(|n| n.id.clone()).collect();
    // Each node's task as the run has it (by its reference as run: `x__3` in a loop).
    let mut actual: Vec<Option<String>> = graph
        .nodes
        .iter()
        .map(|n| runs.actual(&n.task_ref).map(str::to_owned))
        .collect();
    // Dynamic forks: their forked tasks as nodes.
    let mut root = std::mem::take(&mut graph.root);
    let root_for_children = root.clone();
    expand(
        &mut root,
        &mut graph,
        &mut actual,
        &mut ids,
        state,
        max_dynamic,
    );
    mark_child_runs(&root_for_children, &mut graph, &actual, state);
    graph.root = root;
    for (node, actual) in graph.nodes.iter_mut().zip(&actual) {
        if node.run.is_some() {
            continue;
        }
        let task = actual.as_ref().and_then(|r| state.tasks.get(r));
        node.run = Some(NodeRun {
            state: task.map_or_else(|| NOT_STARTED.to_string(), |t| t.status.to_string()),
            note: task.and_then(|t| note(state, t)),
        });
    }
    let started: Vec<bool> = graph
        .nodes
        .iter()
        .zip(&actual)
        .map(|(n, a)| {
            a.as_ref().is_some_and(|r| state.tasks.contains_key(r))
                || n.run.as_ref().is_some_and(|r| r.state != NOT_STARTED)
        })
        .collect();
    let taken: Vec<bool> = graph
        .edges
        .iter()
        .map(|e| {
            if !(started[e.from] && started[e.to]) {
                return false;
            }
            let from = actual[e.from].as_ref().and_then(|r| state.tasks.get(r));
            if e.back {
                // The loop ran its body again.
                let looped = actual[e.to]
                    .as_ref()
                    .and_then(|r| state.tasks.get(r))
                    .and_then(|t| iterations(state, t));
                return looped.is_some_and(|n| n > 1);
            }
            match (from, &e.label) {
                (Some(task), Some(label)) if is_switch(state, task) => {
                    switch_case(state, task).as_deref() == Some(label.as_str())
                }
                _ => true,
            }
        })
        .collect();
    for (edge, taken) in graph.edges.iter_mut().zip(taken) {
        edge.taken = Some(taken);
    }
    graph
}

/// The state of a node: the CSS-safe name the renderers colour by.
pub fn state_of(node: &Node) -> Option<&str> {
    node.run.as_ref().map(|r| r.state.as_str())
}

/// Fill and stroke colours of a state.
pub fn colours(state: &str) -> (&'static str, &'static str) {
    match state {
        "COMPLETED" => ("#d4f4dd", "#2e8b57"),
        "SCHEDULED" | "IN_PROGRESS" => ("#dbe9ff", "#2f6fd0"),
        "RETRY_WAIT" => ("#fff1c2", "#b88700"),
        "COMPLETED_WITH_ERRORS" => ("#ffe3c4", "#c0661a"),
        "FAILED" | "FAILED_WITH_TERMINAL_ERROR" | "TIMED_OUT" => ("#f9d2d2", "#b03a3a"),
        "SKIPPED" | "CANCELED" => ("#e6e6e6", "#808080"),
        MIXED => ("#eee8f8", "#6b4fbb"),
        CHILD_RUN => ("#eaf6fb", "#2b7a9b"),
        _ => ("#ffffff", "#a0a8b4"),
    }
}

/// The run's task states by the reference as written: a task of a loop body by its latest
/// iteration (`x__3`).
struct Runs<'a> {
    state: &'a RunState,
    latest: HashMap<&'a str, (u32, &'a str)>,
}

impl<'a> Runs<'a> {
    fn of(state: &'a RunState) -> Runs<'a> {
        let mut latest: HashMap<&str, (u32, &str)> = HashMap::new();
        for key in state.tasks.keys() {
            if let Some((base, n)) = key.rsplit_once("__")
                && let Ok(n) = n.parse::<u32>()
            {
                let entry = latest.entry(base).or_insert((n, key));
                if n > entry.0 {
                    *entry = (n, key);
                }
            }
        }
        Runs { state, latest }
    }

    fn actual(&self, task_ref: &str) -> Option<&'a str> {
        if let Some((key, _)) = self.state.tasks.get_key_value(task_ref) {
            return Some(key.as_str());
        }
        self.latest.get(task_ref).map(|(_, key)| *key)
    }
}

/// Replaces each FORK_JOIN_DYNAMIC the run expanded with a [`Block::Dynamic`] of its forked
/// tasks, rewiring its outgoing edges to leave from them.
fn expand(
    blocks: &mut [Block],
    graph: &mut Graph,
    actual: &mut Vec<Option<String>>,
    ids: &mut HashSet<String>,
    state: &RunState,
    max: usize,
) {
    for block in blocks.iter_mut() {
        match block {
            Block::Task(n) => {
                let n = *n;
                if graph.nodes[n].type_name != "FORK_JOIN_DYNAMIC" {
                    continue;
                }
                let Some(forked) = actual[n].as_ref().and_then(|r| state.forks.get(r)) else {
                    continue;
                };
                let shown = forked.len().min(max);
                let mut fanned = Vec::new();
                for task in &forked[..shown] {
                    let r = &task.task_reference_name;
                    let node = Node {
                        id: unique_id(ids, r),
                        task_ref: r.clone(),
                        type_name: task.type_name.clone(),
                        shape: Shape::Task,
                        run: None,
                    };
                    graph.nodes.push(node);
                    actual.push(Some(r.clone()));
                    fanned.push(graph.nodes.len() - 1);
                }
                let hidden = &forked[shown..];
                if !hidden.is_empty() {
                    let mut counts: Vec<(String, usize)> = Vec::new();
                    for task in hidden {
                        let s = state
                            .tasks
                            .get(&task.task_reference_name)
                            .map_or_else(|| NOT_STARTED.to_string(), |t| t.status.to_string());
                        match counts.iter_mut().find(|(k, _)| *k == s) {
                            Some((_, c)) => *c += 1,
                            None => counts.push((s, 1)),
                        }
                    }
                    let note = counts
                        .iter()
                        .map(|(s, c)| format!("{c} {s}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let more_state = if counts.len() == 1 {
                        counts[0].0.clone()
                    } else {
                        MIXED.to_string()
                    };
                    let label = format!("+{} more", hidden.len());
                    graph.nodes.push(Node {
                        id: unique_id(ids, &format!("{}_more", graph.nodes[n].task_ref)),
                        task_ref: label,
                        type_name: String::new(),
                        shape: Shape::Task,
                        run: Some(NodeRun {
                            state: more_state,
                            note: Some(note),
                        }),
                    });
                    actual.push(None);
                    fanned.push(graph.nodes.len() - 1);
                }
                // What followed the fork now follows each forked task.
                let after: Vec<Edge> = graph
                    .edges
                    .iter()
                    .filter(|e| e.from == n && !e.back)
                    .cloned()
                    .collect();
                graph.edges.retain(|e| e.from != n || e.back);
                for &f in &fanned {
                    graph.edges.push(Edge {
                        from: n,
                        to: f,
                        label: None,
                        back: false,
                        taken: None,
                    });
                    for e in &after {
                        graph.edges.push(Edge {
                            from: f,
                            ..e.clone()
                        });
                    }
                }
                let body = Group {
                    id: format!("cluster_{}_forked", graph.nodes[n].id),
                    label: format!("forked {} tasks", forked.len()),
                    blocks: fanned.into_iter().map(Block::Task).collect(),
                };
                *block = Block::Dynamic { node: n, body };
            }
            Block::Split { groups, .. } => {
                for g in groups {
                    expand(&mut g.blocks, graph, actual, ids, state, max);
                }
            }
            Block::Loop { body, .. } | Block::Sub { body, .. } | Block::Dynamic { body, .. } => {
                expand(&mut body.blocks, graph, actual, ids, state, max);
            }
        }
    }
}

/// Marks the tasks of each inline sub-workflow whose child run started as [`CHILD_RUN`].
fn mark_child_runs(
    blocks: &[Block],
    graph: &mut Graph,
    actual: &[Option<String>],
    state: &RunState,
) {
    fn members(blocks: &[Block], out: &mut Vec<usize>) {
        for b in blocks {
            match b {
                Block::Task(n) => out.push(*n),
                Block::Split { node, groups } => {
                    out.push(*node);
                    for g in groups {
                        members(&g.blocks, out);
                    }
                }
                Block::Loop { node, body }
                | Block::Sub { node, body }
                | Block::Dynamic { node, body } => {
                    out.push(*node);
                    members(&body.blocks, out);
                }
            }
        }
    }
    for b in blocks {
        match b {
            Block::Task(_) => {}
            Block::Split { groups, .. } => {
                for g in groups {
                    mark_child_runs(&g.blocks, graph, actual, state);
                }
            }
            Block::Loop { body, .. } | Block::Dynamic { body, .. } => {
                mark_child_runs(&body.blocks, graph, actual, state);
            }
            Block::Sub { node, body } => {
                let started = actual[*node].as_ref().is_some_and(|r| {
                    state
                        .children
                        .values()
                        .any(|c| c.task_ref.as_deref() == Some(r.as_str()))
                });
                if started {
                    let mut inside = Vec::new();
                    members(&body.blocks, &mut inside);
                    for n in inside {
                        graph.nodes[n].run = Some(NodeRun {
                            state: CHILD_RUN.to_string(),
                            note: None,
                        });
                    }
                }
            }
        }
    }
}

fn unique_id(ids: &mut HashSet<String>, task_ref: &str) -> String {
    let mut id: String = task_ref
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    id.insert_str(0, "t_");
    while ids.contains(&id) {
        id.push('_');
    }
    ids.insert(id.clone());
    id
}

fn is_switch(state: &RunState, task: &TaskState) -> bool {
    state
        .def(&task.task_ref)
        .is_some_and(|d| d.kind() == TaskKind::Switch)
}

/// The case a SWITCH took: its `selectedCase`, or `default` when no decision case matched.
fn switch_case(state: &RunState, task: &TaskState) -> Option<String> {
    let def = state.def(&task.task_ref)?;
    if !task.status.is_done() {
        return None;
    }
    let case = task.output.get("selectedCase").and_then(Value::as_str);
    Some(match case {
        Some(c) if def.decision_cases.contains_key(c) => c.to_string(),
        _ => "default".to_string(),
    })
}

/// A DO_WHILE's iteration count.
fn iterations(state: &RunState, task: &TaskState) -> Option<u32> {
    if let Some(n) = task.output.get("iteration").and_then(Value::as_u64) {
        return u32::try_from(n).ok();
    }
    state.loops.get(&task.task_ref).map(|l| l.iteration)
}

/// What a node says besides its state.
fn note(state: &RunState, task: &TaskState) -> Option<String> {
    let def = state.def(&task.task_ref);
    let kind = def.map(|d| d.kind());
    match kind {
        Some(TaskKind::DoWhile) => {
            return iterations(state, task).map(|n| match n {
                1 => "1 iteration".to_string(),
                n => format!("{n} iterations"),
            });
        }
        Some(TaskKind::SubWorkflow | TaskKind::StartWorkflow) => {
            if let Some(child) = state
                .children
                .values()
                .rev()
                .find(|c| c.task_ref.as_deref() == Some(task.task_ref.as_str()))
            {
                return Some(format!("child run {} {}", child.run_id, child.status));
            }
        }
        Some(TaskKind::Switch) => {
            if let Some(case) = switch_case(state, task) {
                return Some(format!("case {case}"));
            }
        }
        _ => {}
    }
    (task.attempt > 1).then(|| format!("attempt {}", task.attempt))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::driver::simulate;
    use crate::testing::mocks::MockFile;

    /// A finished run of a dynamic fork over `n` items, simulated.
    fn fork_run(n: usize) -> RunState {
        let def: WorkflowDef = serde_json::from_value(serde_json::json!({
            "name": "fan", "version": 1,
            "tasks": [
                {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN_DYNAMIC",
                 "inputParameters": {"forkTaskName": "work", "forkTaskInputs": "${workflow.input.items}"}},
                {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
            ]
        }))
        .unwrap();
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let mocks = MockFile::parse(
            &format!(
                "version: 1\ninput: {{items: [{}]}}\ntasks:\n  work: {{output: {{}}}}\n",
                items.join(", ")
            ),
            "fan.mocks.yaml",
        )
        .unwrap();
        let run = simulate(Arc::new(def), "fan.yaml", &mocks).unwrap();
        assert_eq!(run.state.tasks.len(), n + 2, "{:?}", run.stuck);
        run.state
    }

    /// [`fork_run`] of two, grown to `n` forked tasks (simulating 10,000 takes a minute in a
    /// debug build).
    fn big_fork_run(n: usize) -> RunState {
        let mut state = fork_run(2);
        let (def, task) = (
            state.forks["fan"][0].clone(),
            state.tasks["_work_0"].clone(),
        );
        let mut forked = Vec::with_capacity(n);
        for i in 0..n {
            let r = format!("_work_{i}");
            let mut d = def.clone();
            d.task_reference_name = r.clone();
            forked.push(d);
            let mut t = task.clone();
            t.task_ref = r.clone();
            state.tasks.insert(r, t);
        }
        state.forks.insert("fan".to_string(), Arc::new(forked));
        state
    }

    #[test]
    fn a_ten_thousand_task_fork_draws_capped_and_quickly() {
        let state = big_fork_run(10_000);
        let started = std::time::Instant::now();
        let laid = super::super::layout(overlay(&state.workflow, &state, DEFAULT_MAX_DYNAMIC));
        let svg = super::super::svg::render(&laid);
        let mermaid = super::super::mermaid::render(&laid);
        let took = started.elapsed();
        // fan, join, 20 forked tasks and "+9980 more".
        assert_eq!(laid.graph.nodes.len(), 2 + DEFAULT_MAX_DYNAMIC + 1);
        assert!(mermaid.contains("+9980 more: 9980 COMPLETED"), "{mermaid}");
        assert_eq!(svg.matches("<g class=\"node state-COMPLETED\"").count(), 23);
        // Generous for a debug build on a busy machine; a drawing that walked every forked
        // task for each node would take far longer.
        assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn a_fork_under_the_cap_draws_every_task_and_no_more_node() {
        let state = fork_run(3);
        let graph = overlay(&state.workflow, &state, DEFAULT_MAX_DYNAMIC);
        let refs: Vec<&str> = graph.nodes.iter().map(|n| n.task_ref.as_str()).collect();
        assert_eq!(refs, ["fan", "join", "_work_0", "_work_1", "_work_2"]);
        assert!(graph.edges.iter().all(|e| e.taken == Some(true)));
    }
}
