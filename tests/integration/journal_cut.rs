//! A journal cut at a record boundary (issue 9, item 5): every record left is whole, so no
//! torn tail shows; the snapshot's `last_seq` and the archived replies tell. And `3ox doctor`
//! on a full disk (issue 9, item 12).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use threeox::journal::{self, Record};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, events, journal_records, output_within, stderr, stdout};

const FLOW: &str = r#"
name: two_steps
tasks:
  - {name: step, taskReferenceName: first}
  - {name: step, taskReferenceName: second}
"#;

/// A station whose agent completes every task (and remembers each message it ran), and a
/// run of the flow to its end: returns the run id.
fn completed_run() -> (TestEnv, FakeAgent, String) {
    let env = TestEnv::new();
    let agent = FakeAgent::start(&env, "worker", &["step"], 2, |_| {
        Answer::Completed(json!({"ok": true}))
    });
    env.write("flow.yaml", FLOW);
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    let run_id = result["run_id"].as_str().unwrap().to_string();
    (env, agent, run_id)
}

fn journal_path(env: &TestEnv, run_id: &str) -> PathBuf {
    env.root().join(format!(".3ox/runs/{run_id}.journal.yaml"))
}

/// Cuts the run's journal after its record `keep` (at the boundary between two records).
fn cut_after(env: &TestEnv, run_id: &str, keep: usize) -> Vec<Record> {
    let path = journal_path(env, run_id);
    let records = journal::read(&path).unwrap().records;
    let mut bytes = Vec::new();
    for record in &records[..keep] {
        journal::encode(record, &mut bytes);
    }
    std::fs::write(&path, bytes).unwrap();
    records
}

fn doctor_json(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\n{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

/// How many times the agent was given each task (by reference).
fn executions(agent: &FakeAgent) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for message in agent.messages() {
        *counts
            .entry(message["task_ref"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts.into_iter().collect()
}

#[test]
fn row_5_a_journal_cut_at_a_record_boundary_is_reported_by_doctor() {
    let (env, agent, run_id) = completed_run();
    let records = cut_after(&env, &run_id, 4);
    assert_eq!(
        events(&journal_records(&env))[3..],
        ["task_scheduled"],
        "cut right after the second task was scheduled"
    );
    assert_eq!(records.len(), 6, "the run had 6 records");

    // The cut passes as a healthy journal; the snapshot and the archived reply tell.
    let (code, report) = doctor_json(&env, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["journals"][0]["state"], "OK");
    let tail = &report["lost_tails"][0];
    assert_eq!(tail["run_id"], run_id.as_str());
    assert_eq!(tail["journal_seq"], 4);
    assert_eq!(tail["snapshot_seq"], 6);
    assert_eq!(tail["archived_replies"][0]["task_ref"], "second");
    assert_eq!(tail["archived_replies"][0]["agent"], "worker");
    assert_eq!(tail["repaired"], false);
    // Reported again: the snapshot entry is kept as the evidence.
    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("LOST TAIL  .3ox/runs/{run_id}.journal.yaml"))
            && text.contains("cut at a record boundary after seq 4, the snapshot saw seq 6")
            && text.contains("`3ox doctor --repair` or `3ox resume"),
        "{text}"
    );

    // --repair journals the archived reply as resume would; resume finishes the run without
    // giving the agent anything again.
    let (code, report) = doctor_json(&env, &["--repair"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["lost_tails"][0]["repaired"], true);
    assert_eq!(
        events(&journal_records(&env))[4..],
        ["task_completed"],
        "the archived reply of `second` was journaled again"
    );
    let (code, report) = doctor_json(&env, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["lost_tails"], json!([]));
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        events(&journal_records(&env)).last().map(String::as_str),
        Some("run_completed")
    );
    assert_eq!(
        executions(&agent),
        [("first".to_string(), 1), ("second".to_string(), 1)]
    );

    // A cut that no archived reply makes up for (only the end record lost) is reported from
    // the snapshot alone; --repair accepts the loss once.
    let other = run_id.clone();
    let records = journal::read(&journal_path(&env, &other)).unwrap().records;
    cut_after(&env, &other, records.len() - 1);
    let (code, report) = doctor_json(&env, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["lost_tails"][0]["archived_replies"], json!([]));
    assert_eq!(
        report["lost_tails"][0]["snapshot_seq"],
        records.len() as u64
    );
    let (code, report) = doctor_json(&env, &["--repair"]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        report["lost_tails"][0]["left_because"]
            .as_str()
            .unwrap()
            .contains("what the lost records said is gone"),
        "{report:#}"
    );
    let (code, report) = doctor_json(&env, &[]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn row_5_resume_applies_archived_replies_instead_of_running_the_task_again() {
    let (env, agent, run_id) = completed_run();
    cut_after(&env, &run_id, 4);
    assert_eq!(
        executions(&agent),
        [("first".to_string(), 1), ("second".to_string(), 1)]
    );

    // Without the archived reply, resume would wait forever for `second` (its message is in
    // `done/`, so it is not delivered again).
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "run {run_id}: the journal lost its last records (a cut at a record boundary); 1 archived reply was applied again"
        )),
        "{}",
        stderr(&out)
    );
    let records = journal_records(&env);
    assert_eq!(
        events(&records)[4..],
        ["task_completed", "run_completed"],
        "the archived reply was journaled again, then the run ended"
    );
    assert_eq!(
        executions(&agent),
        [("first".to_string(), 1), ("second".to_string(), 1)],
        "the agent ran each task exactly once"
    );
    let (code, report) = doctor_json(&env, &[]);
    assert_eq!(code, 0, "{report:#}");
}

/// A tmpfs of 512 KiB mounted at a temporary folder, unmounted when dropped.
struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    /// `None` (with the reason printed) when mounting is not allowed here.
    fn mount() -> Option<TinyDisk> {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(TinyDisk { dir }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount ({e})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn row_12_doctor_reports_a_full_disk_as_a_finding_instead_of_failing() {
    let Some(disk) = TinyDisk::mount() else {
        return;
    };
    let (env, _agent, run_id) = completed_run();
    // The station, copied onto the tiny disk without its snapshot, which doctor must write.
    let status = Command::new("cp")
        .arg("-a")
        .arg(env.root().join(".3ox"))
        .arg(env.root().join("agents"))
        .arg(disk.path())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(disk.path().join(".3ox/state")).unwrap();
    // Fill the disk.
    let mut filler = std::fs::File::create(disk.path().join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    drop(filler);

    let out = Command::new(env!("CARGO_BIN_EXE_3ox"))
        .args(["doctor", "--json"])
        .current_dir(disk.path())
        .env_remove("THREEOX_STATION")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(report["journals"][0]["run_id"], run_id.as_str());
    assert_eq!(report["journals"][0]["state"], "OK");
    assert_eq!(report["disk"][0]["kind"], "StorageFull", "{report:#}");
    assert!(
        report["disk"][0]["error"]
            .as_str()
            .unwrap()
            .contains(".3ox/state"),
        "{report:#}"
    );
    assert!(
        report["disk"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("free space"),
        "{report:#}"
    );
    assert_eq!(report["snapshot"]["rewritten"], false);

    let out = Command::new(env!("CARGO_BIN_EXE_3ox"))
        .arg("doctor")
        .current_dir(disk.path())
        .env_remove("THREEOX_STATION")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("DISK       cannot write")
            && text.contains("hint: the disk is full: free space"),
        "{text}"
    );

    // Space freed: doctor writes the snapshot and is content.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_3ox"))
        .arg("doctor")
        .current_dir(disk.path())
        .env_remove("THREEOX_STATION")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
