//! `3ox template add`: check the templates a source holds and copy them into the station.
//!
//! A source holds workflow files at its top (or in its `templates/` folder) and their mocks
//! in `tests/` beside them (`<stem>.mocks.yaml`, `<stem>.<case>.mocks.yaml`). Each template
//! must load without errors and have at least one mocks file, and each mocks file must pass
//! in a dry run (the `3ox test` simulation: no agents, nothing runs outside 3ox), with
//! children looked up among the station's templates and the source's. A template that fails
//! any of this is refused with the reasons, and nothing at all is installed then. Symbolic
//! links are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use super::lock::{self, Entry, Lock};
use super::source::{Fetched, Source};
use super::{FOLDER, stem_of};
use crate::definition::{self, WorkflowDef};
use crate::station::Station;
use crate::testing::{MockFile, Simulation};

/// One template found in a source, checked.
#[derive(Debug)]
pub struct Candidate {
    pub name: String,
    pub stem: String,
    pub workflow: PathBuf,
    pub mocks: Vec<PathBuf>,
    /// Why it cannot be installed (empty: it can).
    pub problems: Vec<String>,
}

/// What `add` did.
#[derive(Debug)]
pub struct Installed {
    pub name: String,
    pub files: Vec<String>,
}

/// The folder of `fetched` that holds the templates.
fn template_folder(fetched: &Fetched) -> PathBuf {
    let inner = fetched.root.join(FOLDER);
    if inner.is_dir() {
        inner
    } else {
        fetched.root.clone()
    }
}

/// Every template of the source (only `only` when given), checked; `Err` when there is
/// none to look at.
pub fn candidates(
    station: &Station,
    fetched: &Fetched,
    only: Option<&str>,
) -> Result<Vec<Candidate>, String> {
    let folder = template_folder(fetched);
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("cannot read {}: {e}", folder.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let Some(stem) = path.file_name().and_then(|n| n.to_str()).and_then(stem_of) else {
            continue;
        };
        if path.is_dir() || stem == "index" {
            continue;
        }
        let stem = stem.to_string();
        let mut problems = Vec::new();
        if path.is_symlink() {
            problems.push(format!("{} is a symbolic link", rel(&folder, &path)));
        }
        let def = match definition::load_file(&path) {
            Ok(def) => Some(def),
            Err(e) => {
                problems.push(format!(
                    "{} is not a valid workflow: {}",
                    rel(&folder, &path),
                    crate::orchestrator::children::problems(&e)
                ));
                None
            }
        };
        let name = def.as_ref().map_or(stem.clone(), |d| d.name.clone());
        if only.is_some_and(|o| o.replace('-', "_") != name.replace('-', "_") && o != stem) {
            continue;
        }
        let template = super::Template {
            path: path.clone(),
            stem: stem.clone(),
            def: Err(String::new()),
        };
        let mocks = template.mocks();
        if mocks.is_empty() {
            problems.push(format!(
                "{name} has no mocks to dry-run: add tests/{stem}.mocks.yaml beside it"
            ));
        }
        for m in &mocks {
            if m.is_symlink() {
                problems.push(format!("{} is a symbolic link", rel(&folder, m)));
            }
        }
        if let Some(def) = &def
            && problems.is_empty()
        {
            for m in &mocks {
                if let Err(reason) = dry_run(station, &folder, def, &path, m) {
                    problems.push(format!("{}: {reason}", rel(&folder, m)));
                }
            }
        }
        found.push(Candidate {
            name,
            stem,
            workflow: path,
            mocks,
            problems,
        });
    }
    if found.is_empty() {
        return Err(match only {
            Some(o) => format!("the source has no template `{o}`"),
            None => format!(
                "the source has no workflow files (*.workflow.yaml, *.yaml, *.json) in {}",
                folder.display()
            ),
        });
    }
    Ok(found)
}

fn rel(folder: &Path, path: &Path) -> String {
    path.strip_prefix(folder)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs `mocks` against `def` in the simulation; children are looked up in a staging
/// station holding the station's templates and the source's.
fn dry_run(
    station: &Station,
    source_folder: &Path,
    def: &WorkflowDef,
    workflow: &Path,
    mocks_path: &Path,
) -> Result<(), String> {
    let mut mocks = MockFile::load(mocks_path).map_err(|e| match e {
        crate::testing::MocksError::Invalid { diagnostics, .. } => diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    })?;
    let problems = definition::inputs::check_run_input(def, &mut mocks.input);
    if !problems.is_empty() {
        return Err(problems
            .iter()
            .map(|p| p.message.clone())
            .collect::<Vec<_>>()
            .join("; "));
    }
    mocks
        .expect
        .status
        .get_or_insert(crate::engine::RunStatus::Completed);
    let staging = staging_station(station, source_folder)?;
    let run = Simulation::new(&mocks)
        .station(Some(Station::at(&staging.0).map_err(|e| e.to_string())?))
        .run(Arc::new(def.clone()), &workflow.display().to_string());
    if let Some(error) = &run.error {
        return Err(error.to_string());
    }
    let mut mismatches = Vec::new();
    if let Some(stuck) = &run.stuck {
        mismatches.push(format!("the run did not end: {stuck}"));
    }
    mismatches.extend(mocks.expect.check(&run.state));
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(format!("the dry run failed: {}", mismatches.join("; ")))
    }
}

/// A removed-on-drop folder.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn staging_station(station: &Station, source_folder: &Path) -> Result<Staging, String> {
    let root = station
        .root
        .join(".3ox/tmp")
        .join(format!("staging-{}", ulid::Ulid::new()));
    let templates = root.join(FOLDER);
    std::fs::create_dir_all(&templates).map_err(|e| e.to_string())?;
    let staging = Staging(root);
    for folder in [station.root.join(FOLDER), source_folder.to_path_buf()] {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_file()
                && !path.is_symlink()
                && let Some(name) = path.file_name()
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(stem_of)
                    .is_some()
            {
                std::fs::copy(&path, templates.join(name)).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(staging)
}

/// Installs every candidate (all must be free of problems) into the station and records
/// them in the lock. A station file that exists with other content is replaced only with
/// `force`.
pub fn install(
    station: &Station,
    source: &Source,
    fetched: &Fetched,
    candidates: &[Candidate],
    force: bool,
) -> Result<Vec<Installed>, Vec<String>> {
    let refused: Vec<String> = candidates
        .iter()
        .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.name)))
        .collect();
    if !refused.is_empty() {
        return Err(refused);
    }
    let mut lock = Lock::read(station).map_err(|e| vec![e])?;
    // What goes where: (source file, station-relative target).
    let mut plan: Vec<(String, Vec<(PathBuf, String)>)> = Vec::new();
    let mut conflicts = Vec::new();
    for c in candidates {
        let mut files = vec![(
            c.workflow.clone(),
            format!("{FOLDER}/{}.workflow.yaml", c.stem),
        )];
        for m in &c.mocks {
            let name = m.file_name().unwrap_or_default().to_string_lossy();
            files.push((m.clone(), format!("{FOLDER}/tests/{name}")));
        }
        if let Some(existing) = super::find(station, &c.name)
            && station.relative(&existing.path) != files[0].1
            && !force
        {
            conflicts.push(format!(
                "{}: the station already has a workflow of that name in {}",
                c.name,
                station.relative(&existing.path)
            ));
        }
        for (from, to) in &files {
            let target = station.root.join(to);
            if !force
                && target.exists()
                && std::fs::read(&target).ok() != std::fs::read(from).ok()
                && !lock.templates.contains_key(&c.name)
            {
                conflicts.push(format!("{}: {to} exists with other content", c.name));
            }
        }
        plan.push((c.name.clone(), files));
    }
    if !conflicts.is_empty() {
        conflicts.push("give --force to replace them".into());
        return Err(conflicts);
    }
    let mut installed = Vec::new();
    for (name, files) in plan {
        let mut digests = IndexMap::new();
        for (from, to) in &files {
            let bytes = std::fs::read(from)
                .map_err(|e| vec![format!("cannot read {}: {e}", from.display())])?;
            let target = station.root.join(to);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| vec![e.to_string()])?;
            }
            crate::mailbox::atomic::write(
                &target,
                &bytes,
                crate::mailbox::atomic::Durability::Durable,
            )
            .map_err(|e| vec![format!("cannot write {to}: {e}")])?;
            digests.insert(to.clone(), lock::sha256_hex(&bytes));
        }
        lock.templates.insert(
            name.clone(),
            Entry {
                source: source.describe(),
                kind: source.kind().to_string(),
                commit: fetched.commit.clone(),
                sha256: lock::content_digest(&digests),
                files: digests.clone(),
            },
        );
        installed.push(Installed {
            name,
            files: digests.keys().cloned().collect(),
        });
    }
    lock.write(station).map_err(|e| vec![e])?;
    Ok(installed)
}
