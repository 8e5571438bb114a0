//! The station's template library: the workflow files in `templates/` (their mocks in
//! `templates/tests/`), found by workflow name or file name, and what each one needs.
//!
//! - [`list`] reads every template of a station (a file that does not load is listed with
//!   its problem, so `3ox template list` shows it instead of hiding it);
//! - [`find`] is how `3ox run NAME`, `3ox template show NAME` and `--from NAME` find one: by
//!   workflow `name:` (`inventory_validation`), or by file name with or without
//!   `.workflow` (`inventory-validation`), `-` and `_` alike;
//! - [`agents_needed`] says which capability or type each agent-served task needs and which
//!   agents of the station serve it;
//! - [`renamed`] is the text of a template with its `name:` changed (`3ox template new`);
//! - [`source`] fetches a template from a folder, a `.tar.gz` or a git repository at a ref,
//!   [`install`] checks it (valid, every mocks file passes in a dry run) and copies it in,
//!   [`lock`] is `templates.lock` (source, commit, sha256 of each file) and `verify`,
//!   [`catalogue`] reads a catalogue's `index.yaml` for `3ox template search`.
//!
//! The command line is in `cli/template/`, one file per subcommand.

pub mod catalogue;
pub mod install;
pub mod lock;
pub mod source;

use std::path::{Path, PathBuf};

use crate::definition::{self, TaskDef, TaskKind, WorkflowDef};
use crate::station::{AgentDirectory, Station};

/// The folder of a station that holds its templates.
pub const FOLDER: &str = "templates";

/// One template of a station.
#[derive(Debug)]
pub struct Template {
    pub path: PathBuf,
    /// The file name without `.workflow.yaml` / `.yaml` / `.yml` / `.json`.
    pub stem: String,
    /// The definition, or why it does not load.
    pub def: Result<WorkflowDef, String>,
}

impl Template {
    /// The workflow's name, else the file's stem.
    pub fn name(&self) -> &str {
        self.def
            .as_ref()
            .map_or(self.stem.as_str(), |d| d.name.as_str())
    }

    /// The mocks files of this template: `tests/<stem>.mocks.yaml` and
    /// `tests/<stem>.<case>.mocks.yaml`, sorted.
    pub fn mocks(&self) -> Vec<PathBuf> {
        let Some(folder) = self.path.parent().map(|p| p.join("tests")) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".mocks.yaml"))
                    .is_some_and(|n| n.split('.').next() == Some(self.stem.as_str()))
            })
            .collect();
        found.sort();
        found
    }
}

/// The stem of a workflow file name, or `None` when it is not one.
pub fn stem_of(file: &str) -> Option<&str> {
    if file.starts_with('.') || file.ends_with(".mocks.yaml") {
        return None;
    }
    let stem = [".workflow.yaml", ".workflow.yml", ".yaml", ".yml", ".json"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))?;
    Some(stem)
}

/// Every template of `station`, sorted by file name.
pub fn list(station: &Station) -> Vec<Template> {
    list_in(&station.root.join(FOLDER))
}

/// Every template in `folder` (not its sub-folders), sorted by file name.
pub fn list_in(folder: &Path) -> Vec<Template> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let file = path.file_name()?.to_str()?;
            let stem = stem_of(file)?.to_string();
            let def = definition::load_file(&path).map_err(|e| match &e {
                definition::LoadError::Invalid { .. } => {
                    crate::orchestrator::children::problems(&e)
                }
                other => other.to_string(),
            });
            Some(Template { path, stem, def })
        })
        .collect()
}

fn same(a: &str, b: &str) -> bool {
    a.replace('-', "_") == b.replace('-', "_")
}

/// The template of `station` called `name`: by workflow name first, then by file stem.
pub fn find(station: &Station, name: &str) -> Option<Template> {
    let mut all = list(station);
    let by_name = all
        .iter()
        .position(|t| t.def.as_ref().is_ok_and(|d| same(&d.name, name)));
    let at = by_name.or_else(|| {
        let stem = stem_of(name).unwrap_or(name);
        all.iter().position(|t| same(&t.stem, stem))
    })?;
    Some(all.swap_remove(at))
}

/// The names of the station's templates closest to `name` (for "did you mean").
pub fn closest(station: &Station, name: &str) -> Vec<String> {
    let mut names: Vec<(f64, String)> = list(station)
        .iter()
        .map(|t| {
            let n = t.name().to_string();
            (strsim::jaro_winkler(&n, &name.replace('-', "_")), n)
        })
        .filter(|(score, n)| *score > 0.8 || n.contains(name))
        .collect();
    names.sort_by(|a, b| b.0.total_cmp(&a.0));
    names.into_iter().take(5).map(|(_, n)| n).collect()
}

/// What one task needs from the station's agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// The capability (task name, or agent-served type) an agent must list; or the agent
    /// the task names with `agent:`, or the approver of a HUMAN task.
    pub capability: String,
    /// `capability`, `agent` (named with `agent:`) or `approver`.
    pub how: &'static str,
    /// The tasks (references) that need it.
    pub tasks: Vec<String>,
    /// The station's agents that serve it (empty: none does).
    pub served_by: Vec<String>,
}

/// Which agents the template's tasks need, in the order they first appear, with who serves
/// each in `agents`. SUB_WORKFLOW children are not followed (show them by their own name).
pub fn agents_needed(def: &WorkflowDef, agents: &AgentDirectory) -> Vec<Need> {
    let mut needs: Vec<Need> = Vec::new();
    let mut add = |capability: String, how: &'static str, task: &str| {
        if let Some(need) = needs
            .iter_mut()
            .find(|n| n.capability == capability && n.how == how)
        {
            need.tasks.push(task.to_string());
            return;
        }
        let served_by = match how {
            "capability" => agents
                .serving(&capability)
                .map(|(n, _)| n.clone())
                .collect(),
            _ => agents
                .get(&capability)
                .map(|_| vec![capability.clone()])
                .unwrap_or_default(),
        };
        needs.push(Need {
            capability,
            how,
            tasks: vec![task.to_string()],
            served_by,
        });
    };
    fn walk(tasks: &[TaskDef], add: &mut dyn FnMut(String, &'static str, &str)) {
        for task in tasks {
            let r = task.task_reference_name.as_str();
            match (task.kind(), &task.agent) {
                (TaskKind::Simple | TaskKind::AgentServed(_), Some(agent)) => {
                    add(agent.clone(), "agent", r)
                }
                (TaskKind::Simple, None) => add(task.name.clone(), "capability", r),
                (TaskKind::AgentServed(ty), None) => add(ty.to_string(), "capability", r),
                (TaskKind::Human, _) => add(task.approver().to_string(), "approver", r),
                (TaskKind::ForkJoinDynamic, agent) => {
                    let input = |k: &str| {
                        task.input_parameters
                            .get(k)
                            .and_then(|v| v.as_str())
                            .filter(|s| !s.contains("${"))
                    };
                    let ty = input("forkTaskType").filter(|t| *t != "SIMPLE");
                    let forked = ty.or(input("forkTaskName"));
                    match (agent, forked) {
                        (Some(agent), Some(_)) => add(agent.clone(), "agent", r),
                        (None, Some(capability)) => add(capability.to_string(), "capability", r),
                        _ => {}
                    }
                }
                _ => {}
            }
            let children: Vec<TaskDef> = task.children().cloned().collect();
            walk(&children, add);
        }
    }
    walk(&def.tasks, &mut add);
    needs
}

/// `text` (a workflow file) with its top-level `name:` set to `name`, the rest unchanged
/// (comments and layout kept). `None` when the file has no top-level `name:` line.
pub fn renamed(text: &str, name: &str) -> Option<String> {
    let mut done = false;
    let mut out = String::with_capacity(text.len() + name.len());
    for line in text.split_inclusive('\n') {
        if !done && line.starts_with("name:") {
            let ending = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            out.push_str(&format!("name: {name}{ending}"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    done.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_renaming() {
        assert_eq!(stem_of("a-b.workflow.yaml"), Some("a-b"));
        assert_eq!(stem_of("a.json"), Some("a"));
        assert_eq!(stem_of("a.mocks.yaml"), None);
        assert_eq!(stem_of(".hidden.yaml"), None);
        assert_eq!(stem_of("README.md"), None);
        let text = "# header\nname: old\n# name: in a comment\ntasks: []\n";
        assert_eq!(
            renamed(text, "new").as_deref(),
            Some("# header\nname: new\n# name: in a comment\ntasks: []\n")
        );
        assert_eq!(renamed("tasks: []\n", "x"), None);
    }

    #[test]
    fn needs_name_capabilities_agents_and_approvers() {
        let text = "name: w\ntasks:\n  - {name: a, taskReferenceName: a}\n  - {name: b, taskReferenceName: b, agent: bob}\n  - {name: h, taskReferenceName: h, type: HUMAN}\n  - {name: f, taskReferenceName: f, type: FORK_JOIN_DYNAMIC, inputParameters: {forkTaskName: c, forkTaskType: LLM_CHAT_COMPLETE, forkTaskInputs: []}}\n  - {name: j, taskReferenceName: j, type: JOIN}\n  - {name: a, taskReferenceName: a2}\n";
        let def = definition::parse_str(text, Path::new("w.yaml")).unwrap();
        let needs = agents_needed(&def, &AgentDirectory::default());
        let got: Vec<(&str, &str, Vec<String>)> = needs
            .iter()
            .map(|n| (n.capability.as_str(), n.how, n.tasks.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "capability", vec!["a".to_string(), "a2".to_string()]),
                ("bob", "agent", vec!["b".to_string()]),
                ("commander", "approver", vec!["h".to_string()]),
                ("LLM_CHAT_COMPLETE", "capability", vec!["f".to_string()]),
            ]
        );
    }
}
