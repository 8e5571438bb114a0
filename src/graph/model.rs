//! The graph of a workflow definition: one node per task, edges in the order tasks run, and
//! nested structure as a tree of [`Block`]s that the layout turns into clusters.

use crate::definition::{TaskDef, TaskKind, WorkflowDef};

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A task that does work (SIMPLE, HTTP, INLINE, ...).
    Task,
    /// A branching point: SWITCH / DECISION.
    Decision,
    /// FORK_JOIN, FORK_JOIN_DYNAMIC, JOIN, EXCLUSIVE_JOIN.
    Fork,
    /// DO_WHILE.
    Loop,
    /// HUMAN: waits for a person.
    Human,
    /// WAIT.
    Wait,
    /// SUB_WORKFLOW / START_WORKFLOW.
    Sub,
    /// TERMINATE.
    Terminal,
}

/// One task as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// A stable id made of the task reference, safe in every output format.
    pub id: String,
    /// The task reference name.
    pub task_ref: String,
    /// The task's Conductor type.
    pub type_name: String,
    pub shape: Shape,
    /// How the task stands in a run; only in a run's graph (see [`super::overlay`]).
    pub run: Option<NodeRun>,
}

/// A node's part in a run: its state, and a short note (the loop's iterations, the child
/// run, the attempt, the tasks a "+N more" node stands for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRun {
    /// The task's status (`COMPLETED`, `IN_PROGRESS`, ...), `NOT_STARTED` for a task the run
    /// has not reached (or did not take), or `MIXED` for a "+N more" node whose tasks differ.
    pub state: String,
    pub note: Option<String>,
}

/// Nested structure of a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Task(usize),
    /// A node followed by groups side by side (fork branches, switch cases).
    Split {
        node: usize,
        groups: Vec<Group>,
    },
    /// A DO_WHILE: its node, then the body that repeats.
    Loop {
        node: usize,
        body: Group,
    },
    /// A SUB_WORKFLOW with its definition inline: its node, then the child's tasks.
    Sub {
        node: usize,
        body: Group,
    },
    /// A FORK_JOIN_DYNAMIC of a run with the tasks it forked (capped, with a "+N more" node):
    /// its node, then the forked tasks side by side in rows (the body holds only
    /// [`Block::Task`]s).
    Dynamic {
        node: usize,
        body: Group,
    },
}

/// A cluster: a labelled sequence of blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub label: String,
    pub blocks: Vec<Block>,
}

/// An edge between two nodes (indexes into [`Graph::nodes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// A switch case's value, `default`, or `loop` for a DO_WHILE's back edge.
    pub label: Option<String>,
    /// The back edge of a DO_WHILE (drawn dashed).
    pub back: bool,
    /// In a run's graph: whether the run went along this edge (drawn bold; others dashed).
    /// `None` in a definition's graph.
    pub taken: Option<bool>,
}

/// A workflow definition as a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The top-level sequence.
    pub root: Vec<Block>,
}

/// Builds the graph of a definition.
pub fn build(def: &WorkflowDef) -> Graph {
    let mut b = Builder::default();
    let (root, _, _) = b.sequence(&def.tasks, &mut Vec::new());
    Graph {
        title: format!("{} v{}", def.name, def.version),
        nodes: b.nodes,
        edges: b.edges,
        root,
    }
}

/// Where a block can be left from: a node, with the label of the edge that leaves it.
type Exits = Vec<(usize, Option<String>)>;

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    groups: usize,
}

impl Builder {
    fn node(&mut self, task: &TaskDef) -> usize {
        let shape = match task.kind() {
            TaskKind::Switch => Shape::Decision,
            TaskKind::ForkJoin
            | TaskKind::ForkJoinDynamic
            | TaskKind::Join
            | TaskKind::ExclusiveJoin => Shape::Fork,
            TaskKind::DoWhile => Shape::Loop,
            TaskKind::Human => Shape::Human,
            TaskKind::Wait => Shape::Wait,
            TaskKind::SubWorkflow | TaskKind::StartWorkflow => Shape::Sub,
            TaskKind::Terminate => Shape::Terminal,
            _ => Shape::Task,
        };
        let mut id: String = task
            .task_reference_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        id.insert_str(0, "t_");
        while self.nodes.iter().any(|n| n.id == id) {
            id.push('_');
        }
        self.nodes.push(Node {
            id,
            task_ref: task.task_reference_name.clone(),
            type_name: task.type_name.clone(),
            shape,
            run: None,
        });
        self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, label: Option<String>) {
        self.edges.push(Edge {
            from,
            to,
            label,
            back: false,
            taken: None,
        });
    }

    fn group(
        &mut self,
        label: String,
        tasks: &[TaskDef],
        path: &mut Vec<String>,
    ) -> (Group, Option<usize>, Exits) {
        self.groups += 1;
        let id = format!("cluster_{}", self.groups);
        let (blocks, entry, exits) = self.sequence(tasks, path);
        (Group { id, label, blocks }, entry, exits)
    }

    /// Lays down a sequence; returns its blocks, its first node and its exits.
    fn sequence(
        &mut self,
        tasks: &[TaskDef],
        path: &mut Vec<String>,
    ) -> (Vec<Block>, Option<usize>, Exits) {
        let mut blocks = Vec::new();
        let mut entry = None;
        let mut exits: Exits = Vec::new();
        let mut previous: Option<(&TaskDef, usize)> = None;
        for task in tasks {
            let (block, first, out) = self.block(task, path);
            if let Some((fork, fork_node)) = previous
                && fork.kind() == TaskKind::ForkJoin
                && task.kind() == TaskKind::Join
            {
                // A JOIN waits only for the branches holding a task of its `joinOn`: the
                // others go on beside what follows, with no edge into it.
                let waited = waited_refs(fork, &task.join_on);
                exits.retain(|(from, _)| waited.contains(&self.nodes[*from].task_ref));
                if exits.is_empty() {
                    exits.push((fork_node, None));
                }
            }
            for (from, label) in exits.drain(..) {
                self.edge(from, first, label);
            }
            entry.get_or_insert(first);
            exits = out;
            blocks.push(block);
            previous = Some((task, first));
        }
        (blocks, entry, exits)
    }

    fn block(&mut self, task: &TaskDef, path: &mut Vec<String>) -> (Block, usize, Exits) {
        let node = self.node(task);
        match task.kind() {
            TaskKind::Switch => {
                let mut groups = Vec::new();
                let mut exits = Vec::new();
                let cases = task
                    .decision_cases
                    .iter()
                    .map(|(k, v)| (k.clone(), v))
                    .chain(std::iter::once(("default".to_string(), &task.default_case)));
                for (case, tasks) in cases {
                    if tasks.is_empty() {
                        exits.push((node, Some(case)));
                        continue;
                    }
                    let (group, entry, out) = self.group(case.clone(), tasks, path);
                    if let Some(entry) = entry {
                        self.edge(node, entry, Some(case));
                    }
                    exits.extend(out);
                    groups.push(group);
                }
                (Block::Split { node, groups }, node, exits)
            }
            TaskKind::ForkJoin => {
                let mut groups = Vec::new();
                let mut exits = Vec::new();
                for (i, branch) in task.fork_tasks.iter().enumerate() {
                    if branch.is_empty() {
                        exits.push((node, None));
                        continue;
                    }
                    let (group, entry, out) = self.group(format!("branch {}", i + 1), branch, path);
                    if let Some(entry) = entry {
                        self.edge(node, entry, None);
                    }
                    exits.extend(out);
                    groups.push(group);
                }
                if groups.is_empty() {
                    exits = vec![(node, None)];
                }
                (Block::Split { node, groups }, node, exits)
            }
            TaskKind::DoWhile if !task.loop_over.is_empty() => {
                let (body, entry, out) = self.group("loop body".to_string(), &task.loop_over, path);
                if let Some(entry) = entry {
                    self.edge(node, entry, None);
                }
                for (from, _) in &out {
                    self.edges.push(Edge {
                        from: *from,
                        to: node,
                        label: Some("loop".to_string()),
                        back: true,
                        taken: None,
                    });
                }
                (Block::Loop { node, body }, node, out)
            }
            TaskKind::SubWorkflow => match inline_definition(task) {
                Some(child) if !path.contains(&child.name) && !child.tasks.is_empty() => {
                    path.push(child.name.clone());
                    let (body, entry, out) =
                        self.group(format!("sub-workflow {}", child.name), &child.tasks, path);
                    path.pop();
                    if let Some(entry) = entry {
                        self.edge(node, entry, None);
                    }
                    (Block::Sub { node, body }, node, out)
                }
                _ => (Block::Task(node), node, vec![(node, None)]),
            },
            _ => (Block::Task(node), node, vec![(node, None)]),
        }
    }
}

/// A SUB_WORKFLOW's inline definition (`subWorkflowParam.workflowDefinition`), if it has one
/// that reads as a workflow.
fn inline_definition(task: &TaskDef) -> Option<WorkflowDef> {
    let param = task.extra.get("subWorkflowParam")?;
    let def = param.get("workflowDefinition")?;
    serde_json::from_value(def.clone()).ok()
}

/// A short caption for a node: its type where that says something, and in a run its note.
pub fn caption(node: &Node) -> String {
    let mut text = match node.type_name.as_str() {
        "SIMPLE" | "" => node.task_ref.clone(),
        t => format!("{} ({})", node.task_ref, t),
    };
    if let Some(note) = node.run.as_ref().and_then(|r| r.note.as_ref()) {
        text.push_str(": ");
        text.push_str(note);
    }
    text
}

/// Every task reference inside the branches of `fork` that hold a task of `join_on`.
fn waited_refs(fork: &TaskDef, join_on: &[String]) -> Vec<String> {
    fn all(tasks: &[TaskDef], out: &mut Vec<String>) {
        for task in tasks {
            out.push(task.task_reference_name.clone());
            let children: Vec<TaskDef> = task.children().cloned().collect();
            all(&children, out);
        }
    }
    let mut waited = Vec::new();
    for branch in &fork.fork_tasks {
        let mut refs = Vec::new();
        all(branch, &mut refs);
        if refs.iter().any(|r| join_on.contains(r)) {
            waited.extend(refs);
        }
    }
    waited
}
