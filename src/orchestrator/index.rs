//! The run index of a long-lived orchestrator: which of the station's runs are RUNNING,
//! reading a journal only when it changed.
//!
//! `3ox up` looks for runs to drive when a journal appears and at every rescan. A journal's
//! status is cached with the file's length and modification time; a journal whose length and
//! time are unchanged is not read again, so finished runs cost one `stat` per rescan however
//! long their journals are, and the runs this process drives (named by the caller) are not
//! read at all. A run is named by its journal's file name (`<run_id>.journal.yaml`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::engine::{RunState, RunStatus};
use crate::journal;

/// What the index knows of one journal.
#[derive(Debug, Clone)]
struct Entry {
    len: u64,
    modified: Option<SystemTime>,
    /// `Err`: the journal cannot be read (why).
    status: Result<RunStatus, String>,
}

/// The station's runs, by run id.
#[derive(Debug, Default)]
pub struct RunIndex {
    entries: HashMap<String, Entry>,
    /// How many journals were read (parsed and replayed) since the index was made.
    pub reads: u64,
}

/// One look at the runs folder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// RUNNING runs not in the caller's skip set, oldest first.
    pub running: Vec<String>,
    /// Runs whose journal cannot be read, with why.
    pub unreadable: Vec<(String, String)>,
}

impl RunIndex {
    /// Looks at every journal in `runs_dir`; `skip` names runs not to read (this process
    /// drives them).
    pub fn look(&mut self, runs_dir: &Path, skip: impl Fn(&str) -> bool) -> std::io::Result<Look> {
        let entries = match std::fs::read_dir(runs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Look::default()),
            Err(e) => return Err(e),
        };
        let mut journals: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let run_id = name.strip_suffix(".journal.yaml")?.to_string();
                (!run_id.starts_with('.')).then(|| (run_id, e.path()))
            })
            .collect();
        // Run ids are ULIDs: in name order, oldest first.
        journals.sort();
        let mut look = Look::default();
        let mut present = std::collections::HashSet::with_capacity(journals.len());
        for (run_id, path) in journals {
            present.insert(run_id.clone());
            if skip(&run_id) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let (len, modified) = (meta.len(), meta.modified().ok());
            // An empty journal is one being submitted: its run_started record follows at once
            // (the submitter then hints a look), it is not an unreadable one.
            if len == 0 {
                continue;
            }
            let fresh = self
                .entries
                .get(&run_id)
                .is_some_and(|e| e.len == len && e.modified == modified);
            if !fresh {
                self.reads += 1;
                let status = read_status(&path, &run_id);
                self.entries.insert(
                    run_id.clone(),
                    Entry {
                        len,
                        modified,
                        status,
                    },
                );
            }
            match &self.entries[&run_id].status {
                Ok(RunStatus::Running) => look.running.push(run_id),
                Ok(_) => {}
                Err(why) => look.unreadable.push((run_id, why.clone())),
            }
        }
        self.entries.retain(|run_id, _| present.contains(run_id));
        Ok(look)
    }
}

fn read_status(path: &Path, run_id: &str) -> Result<RunStatus, String> {
    let contents = journal::read(path).map_err(|e| e.to_string())?;
    let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    if state.run_id.is_empty() {
        return Err("the journal holds no run_started record".into());
    }
    if state.run_id != run_id {
        return Err(format!(
            "the journal's run_started names run {}, not {run_id}",
            state.run_id
        ));
    }
    Ok(state.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Change;
    use crate::journal::Journal;
    use crate::mailbox::atomic::Durability;

    fn started(runs_dir: &Path, run_id: &str) -> Journal {
        let workflow = crate::definition::parse_str(
            "name: w\ntasks:\n  - {name: t, taskReferenceName: t}\n",
            Path::new("w.yaml"),
        )
        .unwrap();
        let mut journal =
            Journal::create(&Journal::path_for(runs_dir, run_id), Durability::Relaxed).unwrap();
        let change = Change::RunStarted {
            run_id: run_id.into(),
            source: "w.yaml".into(),
            workflow: Box::new(workflow),
            input: serde_json::json!({}),
        };
        journal
            .append(run_id, chrono::Utc::now(), vec![change])
            .unwrap();
        journal
    }

    #[test]
    fn a_journal_is_read_again_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = started(dir.path(), "01AAAAAAAAAAAAAAAAAAAAAAAA");
        started(dir.path(), "01BBBBBBBBBBBBBBBBBBBBBBBB");
        let mut index = RunIndex::default();
        let look = index.look(dir.path(), |_| false).unwrap();
        assert_eq!(look.running.len(), 2);
        assert_eq!(index.reads, 2);
        // Nothing changed: nothing is read.
        index.look(dir.path(), |_| false).unwrap();
        assert_eq!(index.reads, 2);
        // Run A ends: only its journal is read again.
        a.append(
            "01AAAAAAAAAAAAAAAAAAAAAAAA",
            chrono::Utc::now(),
            vec![Change::RunTerminated {
                by: "test".into(),
                uid: None,
                reason: "test".into(),
            }],
        )
        .unwrap();
        let look = index.look(dir.path(), |_| false).unwrap();
        assert_eq!(index.reads, 3);
        assert_eq!(look.running, vec!["01BBBBBBBBBBBBBBBBBBBBBBBB".to_string()]);
        // A run the caller drives is not read at all.
        index
            .look(dir.path(), |run| run.starts_with("01B"))
            .unwrap();
        assert_eq!(index.reads, 3);
    }

    #[test]
    fn a_journal_that_cannot_be_read_is_reported_with_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("01CCCCCCCCCCCCCCCCCCCCCCCC.journal.yaml"),
            "%%% not a journal\n",
        )
        .unwrap();
        let look = RunIndex::default().look(dir.path(), |_| false).unwrap();
        assert!(look.running.is_empty());
        assert_eq!(look.unreadable.len(), 1, "{look:?}");
    }
}
