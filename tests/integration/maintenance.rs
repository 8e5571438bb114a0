//! `3ox doctor` and `3ox gc` on stations with real runs, whose journals are then cut, flipped
//! or aged by rewriting their records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use threeox::journal::{self, Record};

use crate::fake_agent::{Answer, FakeAgent, put, reply};
use crate::support::{TestEnv, files_in, output_within, stderr, stdout};

const FLOW: &str = r#"
name: two_steps
inputParameters: [fail]
tasks:
  - {name: step, taskReferenceName: first, inputParameters: {fail: "${workflow.input.fail}"}}
  - {name: step, taskReferenceName: second}
"#;

/// A station with an agent that completes each task, or fails it for good when the run's
/// input says `fail=true`.
fn station() -> (TestEnv, FakeAgent) {
    let env = TestEnv::new();
    let agent = FakeAgent::start(&env, "worker", &["step"], 2, |message| {
        if message["input"]["fail"] == json!(true) {
            Answer::Terminal("asked to fail".into())
        } else {
            Answer::Completed(json!({"ok": true}))
        }
    });
    env.write("flow.yaml", FLOW);
    (env, agent)
}

/// Runs the flow to its end; returns the run id.
fn run(env: &TestEnv, fail: bool) -> String {
    let (code, result, _) = env.run_flow("flow.yaml", &["--input", &format!("fail={fail}")]);
    assert_eq!(code, if fail { 1 } else { 0 }, "{result}");
    result["run_id"].as_str().unwrap().to_string()
}

fn journal_path(env: &TestEnv, run_id: &str) -> PathBuf {
    env.root().join(format!(".3ox/runs/{run_id}.journal.yaml"))
}

fn records(env: &TestEnv, run_id: &str) -> Vec<Record> {
    journal::read(&journal_path(env, run_id)).unwrap().records
}

fn encode_all(records: &[Record]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for record in records {
        journal::encode(record, &mut bytes);
    }
    bytes
}

/// Rewrites a run's journal with every record `days` earlier, the last record dropped when
/// `drop_last` (so a finished run becomes one still RUNNING; its snapshot entry's `last_seq`
/// follows, or doctor would rightly report a journal that lost its tail). Returns the new end
/// time.
fn age(env: &TestEnv, run_id: &str, days: i64, drop_last: bool) -> chrono::DateTime<chrono::Utc> {
    let mut records = records(env, run_id);
    if drop_last {
        records.pop();
        let path = entry_path(env, run_id);
        let mut entry: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        entry["last_seq"] = json!(records.last().unwrap().seq);
        std::fs::write(path, serde_yaml::to_string(&entry).unwrap()).unwrap();
    }
    for record in &mut records {
        record.at -= chrono::TimeDelta::days(days);
    }
    std::fs::write(journal_path(env, run_id), encode_all(&records)).unwrap();
    records.last().unwrap().at
}

fn json_of(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let out = env.run(args);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}):\n{}\n{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), value)
}

/// Run `run_id`'s snapshot entry file.
fn entry_path(env: &TestEnv, run_id: &str) -> PathBuf {
    env.root().join(format!(".3ox/state/{run_id}.state.yaml"))
}

/// Every snapshot entry, by run id, without the time each was written.
fn snapshot_runs(env: &TestEnv) -> Value {
    let mut runs = serde_json::Map::new();
    for entry in std::fs::read_dir(env.root().join(".3ox/state")).unwrap() {
        let path = entry.unwrap().path();
        let mut value: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        value.as_object_mut().unwrap().remove("updated_at");
        let run_id = value["run_id"].as_str().unwrap().to_string();
        runs.insert(run_id, value);
    }
    Value::Object(runs)
}

/// Every snapshot entry file's bytes, by name.
fn snapshot_files(env: &TestEnv) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(env.root().join(".3ox/state"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn set_age(path: &Path, days: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(days * 24 * 3600))
        .unwrap();
}

/// Every file below `.3ox/` and `agents/` with its bytes.
fn tree(env: &TestEnv) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for top in [".3ox", "agents"] {
        for entry in walkdir::WalkDir::new(env.root().join(top))
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
        {
            let rel = entry
                .path()
                .strip_prefix(env.root())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(rel, std::fs::read(entry.path()).unwrap());
        }
    }
    files
}

#[test]
fn doctor_finds_a_healthy_station_in_order_and_leaves_the_snapshot_alone() {
    let (env, _agent) = station();
    let done = run(&env, false);
    let failed = run(&env, true);
    let before = snapshot_files(&env);

    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("doctor: all good"),
        "{}",
        stdout(&out)
    );

    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["problems"], 0);
    let verdicts: Vec<(String, String, String)> = report["journals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["run_id"].as_str().unwrap().into(),
                j["state"].as_str().unwrap().into(),
                j["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (done.clone(), "OK".into(), "COMPLETED".into()),
            (failed, "OK".into(), "FAILED".into())
        ]
    );
    assert_eq!(report["snapshot"]["found"], "present");
    assert_eq!(report["snapshot"]["differences"], json!([]));
    assert_eq!(report["snapshot"]["rewritten"], false);
    assert_eq!(report["stuck_mail"], json!([]));
    assert_eq!(
        snapshot_files(&env),
        before,
        "an equal snapshot is not rewritten"
    );
}

#[test]
fn deleting_the_snapshot_loses_nothing_doctor_rebuilds_it() {
    let (env, _agent) = station();
    let done = run(&env, false);
    let failed = run(&env, true);
    let runs = snapshot_runs(&env);
    assert_eq!(runs[&done]["status"], "COMPLETED");
    assert_eq!(runs[&failed]["status"], "FAILED");

    std::fs::remove_dir_all(env.root().join(".3ox/state")).unwrap();
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["snapshot"]["found"], "missing");
    assert_eq!(report["snapshot"]["rewritten"], true);
    assert_eq!(report["snapshot"]["runs"], 2);
    assert_eq!(
        snapshot_runs(&env),
        runs,
        "the rebuilt snapshot has the same runs, statuses and tasks"
    );

    // A snapshot that disagrees is corrected, each difference reported.
    let path = entry_path(&env, &failed);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("status: FAILED", "status: RUNNING", 1)).unwrap();
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["snapshot"]["differences"],
        json!([{"kind": "run_status", "run_id": failed, "snapshot": "RUNNING", "journal": "FAILED"}])
    );
    assert_eq!(snapshot_runs(&env), runs);
}

#[test]
fn each_run_has_its_own_snapshot_entry_and_a_new_run_leaves_the_others_untouched() {
    let (env, _agent) = station();
    let done = run(&env, false);
    let before = std::fs::read(entry_path(&env, &done)).unwrap();
    let modified = std::fs::metadata(entry_path(&env, &done))
        .unwrap()
        .modified()
        .unwrap();

    // Submitting and finishing another run writes that run's entry only.
    let failed = run(&env, true);
    assert_eq!(std::fs::read(entry_path(&env, &done)).unwrap(), before);
    assert_eq!(
        std::fs::metadata(entry_path(&env, &done))
            .unwrap()
            .modified()
            .unwrap(),
        modified,
        "the first run's entry was not rewritten"
    );
    let runs = snapshot_runs(&env);
    assert_eq!(runs.as_object().unwrap().len(), 2);
    assert_eq!(runs[&failed]["status"], "FAILED");

    // A version 1 snapshot left by an older 3ox, an entry that does not parse and an entry
    // of a run with no journal: doctor reports each, rewrites and removes.
    env.write(".3ox/workflow.state.yaml", "version: 1\nruns: {}\n");
    std::fs::write(entry_path(&env, &done), "version: [").unwrap();
    std::fs::write(entry_path(&env, "01GHOST"), "version: 2\n").unwrap();
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["snapshot"]["differences"],
        json!([
            {"kind": "unreadable_run", "run_id": done},
            {"kind": "extra_run", "run_id": "01GHOST", "status": null},
        ])
    );
    assert_eq!(report["snapshot"]["rewritten"], true);
    assert!(!env.root().join(".3ox/workflow.state.yaml").exists());
    assert!(!entry_path(&env, "01GHOST").exists());
    assert_eq!(snapshot_runs(&env), runs);
}

#[test]
fn a_torn_last_record_is_reported_at_its_offset_and_cut_away_with_repair() {
    let (env, _agent) = station();
    let run_id = run(&env, false);
    let path = journal_path(&env, &run_id);
    let whole = std::fs::read(&path).unwrap();
    let all = records(&env, &run_id);
    let valid = encode_all(&all[..all.len() - 1]);
    let torn_at = valid.len();
    assert_eq!(&whole[..torn_at], &valid[..]);

    for cut in [
        torn_at + 1,
        torn_at + (whole.len() - torn_at) / 2,
        whole.len() - 1,
    ] {
        std::fs::write(&path, &whole[..cut]).unwrap();
        let (code, report) = json_of(&env, &["doctor", "--json"]);
        assert_eq!(code, 1, "cut at {cut}: {report:#}");
        let check = &report["journals"][0];
        assert_eq!(check["state"], "TORN_TAIL", "cut at {cut}");
        assert_eq!(check["offset"], torn_at as u64, "cut at {cut}");
        assert_eq!(check["records"], all.len() - 1);
        assert_eq!(
            check["status"], "RUNNING",
            "the run_completed record was the torn one"
        );
        assert_eq!(check["repaired"], false);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            &whole[..cut],
            "without --repair the file is left as it was"
        );

        let (code, report) = json_of(&env, &["doctor", "--repair", "--json"]);
        assert_eq!(code, 0, "cut at {cut}: {report:#}");
        assert_eq!(report["journals"][0]["repaired"], true);
        assert_eq!(report["repaired"], 1);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            valid,
            "cut at {cut}: truncated to the valid records"
        );

        let (code, report) = json_of(&env, &["doctor", "--json"]);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["journals"][0]["state"], "OK");
        assert_eq!(
            snapshot_runs(&env)[&run_id]["status"],
            "RUNNING",
            "the snapshot follows the journal"
        );
    }
}

#[test]
fn a_flipped_byte_in_the_middle_is_corruption_with_record_and_offset_and_is_never_touched() {
    let (env, _agent) = station();
    let run_id = run(&env, false);
    let path = journal_path(&env, &run_id);
    let all = records(&env, &run_id);
    let second_at = encode_all(&all[..1]).len();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[second_at + 40] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let snapshot_before = snapshot_files(&env);

    let out = env.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "CORRUPT    .3ox/runs/{run_id}.journal.yaml record 2 at byte {second_at}"
        )),
        "{text}"
    );

    for args in [&["doctor", "--json"][..], &["doctor", "--repair", "--json"]] {
        let (code, report) = json_of(&env, args);
        assert_eq!(code, 1, "{report:#}");
        let check = &report["journals"][0];
        assert_eq!(check["state"], "CORRUPT");
        assert_eq!(check["record"], 2);
        assert_eq!(check["offset"], second_at as u64);
        assert!(
            check["problem"].as_str().unwrap().contains("checksum"),
            "{check}"
        );
        assert_eq!(report["snapshot"]["unverified"], json!([run_id]));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "a corrupt journal is never changed"
        );
    }
    assert_eq!(
        snapshot_files(&env),
        snapshot_before,
        "the corrupt run's entry is kept as it was"
    );

    // gc does not collect what it cannot read either.
    let (code, report) = json_of(&env, &["gc", "--older-than", "0s", "--json"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["runs"], json!([]));
    assert!(path.exists());
}

#[test]
fn doctor_reports_mail_of_ended_runs_and_moves_it_only_with_repair() {
    let (env, _agent) = station();
    let run_id = run(&env, false);
    // As if the run's archiving had been cut short: a message back in claimed/, and a late
    // duplicate reply in the outbox.
    let done = env.root().join("agents/worker/1N.3OX/done");
    let name = files_in(&env, "agents/worker/1N.3OX/done")[0].clone();
    std::fs::create_dir_all(env.root().join("agents/worker/1N.3OX/claimed")).unwrap();
    std::fs::rename(
        done.join(&name),
        env.root().join("agents/worker/1N.3OX/claimed").join(&name),
    )
    .unwrap();
    let message: Value =
        serde_yaml::from_str(&env.read(&format!("agents/worker/1N.3OX/claimed/{name}"))).unwrap();
    put(
        &env.root().join("agents/worker/0UT.3OX"),
        "late.reply.yaml",
        &reply(&message, "COMPLETED", json!({}), ""),
    );
    let before = tree(&env);

    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 1, "{report:#}");
    let stuck: Vec<(String, String)> = report["stuck_mail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().into(),
                m["file"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        stuck,
        [
            (
                "task_message".into(),
                format!("agents/worker/1N.3OX/claimed/{name}")
            ),
            (
                "reply".into(),
                "agents/worker/0UT.3OX/late.reply.yaml".into()
            )
        ]
    );
    assert!(
        report["stuck_mail"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["run_id"] == json!(run_id) && m["run_status"] == "COMPLETED")
    );
    assert_eq!(tree(&env), before, "without --repair nothing moves");

    let (code, report) = json_of(&env, &["doctor", "--repair", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["stuck_mail"][0]["moved_to"],
        format!("agents/worker/1N.3OX/done/{name}")
    );
    assert_eq!(
        report["stuck_mail"][1]["moved_to"],
        "agents/worker/0UT.3OX/rejected/late.reply.yaml"
    );
    assert!(files_in(&env, "agents/worker/1N.3OX/claimed").is_empty());
    assert_eq!(
        files_in(&env, "agents/worker/0UT.3OX/rejected"),
        ["late.reply.yaml", "late.reply.yaml.why.yaml"]
    );
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!((code, &report["stuck_mail"]), (0, &json!([])));
}

#[test]
fn gc_archives_only_finished_runs_that_ended_before_the_limit() {
    let (env, _agent) = station();
    let old_done = run(&env, false);
    let old_failed = run(&env, true);
    let young = run(&env, false);
    let old_running = run(&env, false);
    let done_end = age(&env, &old_done, 40, false);
    let failed_end = age(&env, &old_failed, 45, false);
    age(&env, &old_running, 60, true);
    // File times do not count: only the journal's end time does.
    set_age(&journal_path(&env, &young), 100);
    set_age(&journal_path(&env, &old_done), 0);
    let before = tree(&env);

    let (code, report) = json_of(&env, &["gc", "--older-than", "30d", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["dry_run"], true);
    let listed: Vec<&str> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [old_done.as_str(), old_failed.as_str()]);
    assert_eq!(report["kept"], json!({"running": 1, "young": 1}));
    assert_eq!(report["summary"]["runs_archived"], 2);
    assert_eq!(tree(&env), before, "--dry-run changes nothing");

    let out = env.run(&["gc", "--older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("runs 2 archived, 0 deleted; mail 0 removed"),
        "{}",
        stdout(&out)
    );

    for (run_id, end, status) in [
        (&old_done, done_end, "COMPLETED"),
        (&old_failed, failed_end, "FAILED"),
    ] {
        let archived = env.root().join(format!(
            ".3ox/archive/{}/{run_id}.journal.yaml",
            end.format("%Y-%m")
        ));
        let contents = journal::read(&archived).unwrap_or_else(|e| panic!("{e}"));
        assert!(contents.torn_tail.is_none());
        assert_eq!(
            serde_json::to_value(&contents.records.last().unwrap().change).unwrap()["event"],
            if status == "COMPLETED" {
                "run_completed"
            } else {
                "run_failed"
            }
        );
        assert!(!journal_path(&env, run_id).exists());
    }
    assert!(journal_path(&env, &young).exists());
    assert!(
        journal_path(&env, &old_running).exists(),
        "a RUNNING run is never collected, however old"
    );
    let runs = snapshot_runs(&env);
    let mut in_snapshot: Vec<&String> = runs.as_object().unwrap().keys().collect();
    in_snapshot.sort();
    let mut expected = vec![&young, &old_running];
    expected.sort();
    assert_eq!(in_snapshot, expected, "collected runs leave the snapshot");

    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        report["snapshot"]["differences"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["kind"] != "extra_run"),
        "{report:#}"
    );
}

#[test]
fn gc_delete_removes_old_journals_and_old_handled_mail_and_keeps_the_young() {
    let (env, _agent) = station();
    let old = run(&env, false);
    let journal_bytes = std::fs::metadata(journal_path(&env, &old)).unwrap().len();
    age(&env, &old, 10, false);
    let journal_bytes_aged = std::fs::metadata(journal_path(&env, &old)).unwrap().len();
    assert_eq!(journal_bytes, journal_bytes_aged);

    let inbox_done = files_in(&env, "agents/worker/1N.3OX/done");
    let outbox_done = files_in(&env, "agents/worker/0UT.3OX/done");
    assert_eq!((inbox_done.len(), outbox_done.len()), (2, 2));
    set_age(
        &env.root()
            .join("agents/worker/1N.3OX/done")
            .join(&inbox_done[0]),
        8,
    );
    set_age(
        &env.root()
            .join("agents/worker/0UT.3OX/done")
            .join(&outbox_done[1]),
        8,
    );
    let rejected = env.root().join("agents/worker/0UT.3OX/rejected");
    env.write("agents/worker/0UT.3OX/rejected/bad.yaml", "not: [a reply");
    env.write(
        "agents/worker/0UT.3OX/rejected/bad.yaml.why.yaml",
        "reason: not YAML\n",
    );
    env.write("agents/worker/0UT.3OX/rejected/recent.yaml", "{}");
    set_age(&rejected.join("bad.yaml"), 30);
    let old_mail_bytes: u64 = [
        env.root()
            .join("agents/worker/1N.3OX/done")
            .join(&inbox_done[0]),
        env.root()
            .join("agents/worker/0UT.3OX/done")
            .join(&outbox_done[1]),
        rejected.join("bad.yaml"),
        rejected.join("bad.yaml.why.yaml"),
    ]
    .iter()
    .map(|p| std::fs::metadata(p).unwrap().len())
    .sum();

    let (code, report) = json_of(&env, &["gc", "--older-than", "7d", "--delete", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["runs"][0]["archived_to"], Value::Null);
    assert_eq!(
        report["summary"],
        json!({"runs_archived": 0, "runs_deleted": 1, "files_removed": 4, "bytes_freed": journal_bytes + old_mail_bytes})
    );
    assert!(!journal_path(&env, &old).exists());
    assert!(
        !env.root().join(".3ox/archive").exists(),
        "--delete archives nothing"
    );
    assert_eq!(
        files_in(&env, "agents/worker/1N.3OX/done"),
        [inbox_done[1].clone()]
    );
    assert_eq!(
        files_in(&env, "agents/worker/0UT.3OX/done"),
        [outbox_done[0].clone()]
    );
    assert_eq!(
        files_in(&env, "agents/worker/0UT.3OX/rejected"),
        ["recent.yaml"],
        "a refused reply goes with its note"
    );
    assert!(snapshot_runs(&env).get(&old).is_none());
}

#[test]
fn gc_leaves_a_run_whose_ownership_lock_is_held_and_removes_the_lock_file_once_it_collects() {
    let (env, _agent) = station();
    let run_id = run(&env, false);
    age(&env, &run_id, 3, false);
    let lock_path = env.root().join(format!(".3ox/runs/{run_id}.lock"));
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();

    let (code, report) = json_of(&env, &["gc", "--older-than", "1d", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["runs"], json!([]));
    assert_eq!(report["skipped"][0]["run_id"], json!(run_id));
    assert!(journal_path(&env, &run_id).exists());

    drop(lock);
    let (code, report) = json_of(&env, &["gc", "--older-than", "1d", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["runs"][0]["run_id"], json!(run_id));
    assert!(!journal_path(&env, &run_id).exists());
    assert!(!lock_path.exists(), "the collected run's lock file is gone");
}

#[test]
fn gc_refuses_a_bad_duration_and_both_dispositions() {
    let env = TestEnv::new();
    assert_eq!(
        env.run(&["gc", "--older-than", "soon"]).status.code(),
        Some(2)
    );
    assert_eq!(
        env.run(&["gc", "--older-than", "1d", "--archive", "--delete"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(env.run(&["gc"]).status.code(), Some(2));
}

#[test]
fn doctor_and_gc_find_nothing_to_do_in_a_fresh_station() {
    let env = TestEnv::new();
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        (&report["journals"], &report["problems"]),
        (&json!([]), &json!(0))
    );
    let (code, report) = json_of(&env, &["gc", "--older-than", "0s", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["summary"],
        json!({"runs_archived": 0, "runs_deleted": 0, "files_removed": 0, "bytes_freed": 0})
    );
}

#[test]
fn up_tidies_the_mail_a_crash_right_after_a_run_ended_left_behind() {
    let (env, _agent) = station();
    run(&env, false);
    // As if the process had died between journaling the run's end and archiving its mail.
    let name = files_in(&env, "agents/worker/1N.3OX/done")[0].clone();
    std::fs::rename(
        env.root().join("agents/worker/1N.3OX/done").join(&name),
        env.root().join("agents/worker/1N.3OX").join(&name),
    )
    .unwrap();
    let (code, _) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 1, "doctor sees the leftover message");

    let out = output_within(
        env.cmd(&["up", "--until-idle", "--no-agents"]),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tidied 1 leftover mail file(s) of ended runs"),
        "{}",
        stderr(&out)
    );
    assert!(
        files_in(&env, "agents/worker/1N.3OX/done").contains(&name),
        "the message is archived"
    );
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!((code, &report["stuck_mail"]), (0, &json!([])), "{report:#}");
}

#[test]
fn replies_that_no_run_can_take_are_reported_by_doctor_and_refused_once_old() {
    let (env, _agent) = station();
    run(&env, false);
    let outbox = env.root().join("agents/worker/0UT.3OX");
    // One names a run that never existed here; one names no run and answers no known task.
    let mut stray: Value = serde_yaml::from_str(&reply(
        &json!({"task_id": "01JDNOSUCHTASK0000000000AA", "token": "t"}),
        "COMPLETED",
        json!({}),
        "",
    ))
    .unwrap();
    stray["run_id"] = json!("01JDNOSUCHRUN00000000000AA");
    put(
        &outbox,
        "stray.yaml",
        &serde_yaml::to_string(&stray).unwrap(),
    );
    put(
        &outbox,
        "nobody.yaml",
        &reply(
            &json!({"task_id": "01JDNOSUCHTASK0000000000BB", "token": "t"}),
            "COMPLETED",
            json!({}),
            "",
        ),
    );

    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!(code, 1, "{report:#}");
    let mut files: Vec<&str> = report["orphan_replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "agents/worker/0UT.3OX/nobody.yaml",
            "agents/worker/0UT.3OX/stray.yaml"
        ]
    );

    // Young ones are left for a run that may be starting.
    let (code, report) = json_of(&env, &["doctor", "--repair", "--json"]);
    assert_eq!(code, 1, "{report:#}");
    assert!(outbox.join("stray.yaml").exists());

    // Older than the grace period: refused with a note the sender can read.
    let old = SystemTime::now() - Duration::from_secs(3600);
    for name in ["stray.yaml", "nobody.yaml"] {
        std::fs::File::options()
            .write(true)
            .open(outbox.join(name))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let (code, report) = json_of(&env, &["doctor", "--repair", "--json"]);
    assert_eq!(code, 0, "{report:#}");
    let note = env.read("agents/worker/0UT.3OX/rejected/stray.yaml.why.yaml");
    assert!(
        note.contains("no run `01JDNOSUCHRUN00000000000AA`"),
        "{note}"
    );
    let note = env.read("agents/worker/0UT.3OX/rejected/nobody.yaml.why.yaml");
    assert!(
        note.contains("no run on this station has a task with id"),
        "{note}"
    );
    let (code, report) = json_of(&env, &["doctor", "--json"]);
    assert_eq!((code, &report["orphan_replies"]), (0, &json!([])));
}
