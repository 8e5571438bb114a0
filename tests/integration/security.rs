//! Issue 9, security items 1-4: who may decide a HUMAN task, which control requests and
//! approval files a driver believes, what `3ox` takes as a run id, and the modes of the
//! folders `3ox init` makes. Each test drives the real binary in a temporary station.

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{
    TestEnv, events, journal_records, output_within_child, stderr, stdout, wait_for,
};

const GATE: &str = "name: gate\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, inputParameters: {question: ship?}}\n  - name: route\n    taskReferenceName: route\n    type: SWITCH\n    evaluatorType: value-param\n    expression: decision\n    inputParameters: {decision: \"${gate.output.decision}\"}\n    decisionCases:\n      approved: [{name: shipped, taskReferenceName: shipped, type: SET_VARIABLE, inputParameters: {shipped: true}}]\n";

/// A station whose commander must sign approvals, with the gate workflow driven by `3ox run`;
/// returns the driver and the run id once the approval is requested.
fn signed_gate(env: &TestEnv) -> (Child, String) {
    env.write("agents/commander/agent.yaml", "version: 1\n");
    let out = env.run(&["keygen", "--out", "keys/commander.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let public = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("public key: ").map(str::to_string))
        .expect("the public key is printed");
    env.write(
        "station.yaml",
        &format!("version: 1\napprovers:\n  commander:\n    key: {public}\n"),
    );
    env.write("gate.yaml", GATE);
    let driver = env
        .cmd(&["run", "gate.yaml", "--json", "--no-agents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = wait_for(Duration::from_secs(60), || {
        let records = journal_records(env);
        events(&records)
            .iter()
            .any(|e| e == "approval_requested")
            .then(|| records[0]["run_id"].as_str().map(str::to_string))
            .flatten()
    })
    .expect("the HUMAN task asks for approval");
    (driver, run_id)
}

fn gate_completed(env: &TestEnv) -> bool {
    journal_records(env)
        .iter()
        .any(|r| r["event"] == "task_completed" && r["task_ref"] == "gate")
}

#[test]
fn item_1_complete_cannot_decide_a_human_task_whose_approver_must_sign() {
    let env = TestEnv::new();
    let (mut driver, run_id) = signed_gate(&env);
    let out = env.run(&[
        "complete",
        &run_id,
        "gate",
        "--output",
        r#"{"decision": "approved"}"#,
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("must be signed"), "{said}");
    assert!(
        said.contains("3ox approve"),
        "the hint names the way: {said}"
    );
    assert!(!gate_completed(&env), "the HUMAN task is still open");
    // The approver's way still works.
    let out = env.run(&["approve", &run_id, "gate", "--key", "keys/commander.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = output_within_child(&mut driver, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let doc: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(doc["status"], "COMPLETED");
}

#[test]
fn item_1_a_control_request_others_could_have_written_is_refused() {
    let env = TestEnv::new();
    let (mut driver, run_id) = signed_gate(&env);
    let folder = env.root().join(".3ox/control").join(&run_id);
    std::fs::create_dir_all(&folder).unwrap();
    let request = format!(
        "version: 1\naction: terminate\nby: mallory\nreason: because\nat: {}\n",
        chrono::Utc::now().to_rfc3339()
    );
    // Written group- and world-writable, then renamed in as agents must.
    let tmp = folder.join(".evil.tmp");
    std::fs::write(&tmp, request).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::rename(&tmp, folder.join("evil.yaml")).unwrap();
    let result = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(folder.join("done/evil.result.yaml")).ok()
    })
    .expect("the driver answers the request");
    assert!(result.contains("outcome: refused"), "{result}");
    assert!(result.contains("writable"), "{result}");
    assert!(
        !journal_records(&env)
            .iter()
            .any(|r| r["event"] == "run_terminated"),
        "the run was not terminated"
    );
    let out = env.run(&["terminate", &run_id, "--reason", "done testing"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    output_within_child(&mut driver, Duration::from_secs(60));
}

#[test]
fn item_2_an_approval_that_is_a_symlink_or_group_writable_is_refused() {
    let env = TestEnv::new();
    env.write("agents/commander/agent.yaml", "version: 1\n");
    env.write("gate.yaml", GATE);
    let mut driver = env
        .cmd(&["run", "gate.yaml", "--json", "--no-agents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request: Value = wait_for(Duration::from_secs(60), || {
        let inbox = env.root().join("agents/commander/1N.3OX");
        std::fs::read_dir(inbox).ok()?.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            (name.ends_with(".approval-request.yaml"))
                .then(|| serde_yaml::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
                .flatten()
        })
    })
    .expect("an approval request");
    let form = &request["reply"]["form"];
    let mut approval = form.clone();
    approval["decision"] = "approve".into();
    let text = serde_yaml::to_string(&approval).unwrap();
    let outbox = env.root().join("agents/commander/0UT.3OX");
    // A symlink to a file elsewhere: refused, never followed.
    let elsewhere = env.root().join("elsewhere.yaml");
    std::fs::write(&elsewhere, &text).unwrap();
    std::os::unix::fs::symlink(&elsewhere, outbox.join("linked.approval.yaml")).unwrap();
    let note = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(outbox.join("rejected/linked.approval.yaml.why.yaml")).ok()
    })
    .expect("the symlink is refused");
    assert!(
        note.contains("symlink") || note.contains("not a plain file"),
        "{note}"
    );
    // A group-writable one: refused too.
    let tmp = outbox.join(".open.tmp");
    std::fs::write(&tmp, &text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o664)).unwrap();
    std::fs::rename(&tmp, outbox.join("open.approval.yaml")).unwrap();
    let note = wait_for(Duration::from_secs(30), || {
        std::fs::read_to_string(outbox.join("rejected/open.approval.yaml.why.yaml")).ok()
    })
    .expect("the group-writable file is refused");
    assert!(note.contains("writable"), "{note}");
    assert!(!gate_completed(&env));
    let out = env.run(&["approve", request["run_id"].as_str().unwrap(), "gate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = output_within_child(&mut driver, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
}

#[test]
fn item_3_a_path_is_never_taken_for_a_run_id() {
    let env = TestEnv::new();
    let outside = tempfile::tempdir().unwrap();
    let journal = outside.path().join("notes.journal.yaml");
    let bytes = b"--- # 3ox journal record\nnot really\n".to_vec();
    std::fs::write(&journal, &bytes).unwrap();
    let given = outside.path().join("notes").display().to_string();
    let relative = format!("../../../..{given}");
    for args in [
        vec!["resume", relative.as_str()],
        vec!["resume", given.as_str()],
        vec!["status", relative.as_str()],
        vec!["log", relative.as_str()],
        vec!["terminate", relative.as_str(), "--reason", "x"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a run id") || stderr(&out).contains("no run matches"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        bytes,
        "the outside file is untouched"
    );
    assert!(!outside.path().join("notes.lock").exists());
}

#[test]
fn item_4_init_makes_mail_folders_others_cannot_write_and_doctor_warns_when_they_can() {
    let env = TestEnv::new();
    let station = env.root().join("fresh");
    let bin = env.cmd(&["--version"]).get_program().to_owned();
    let under_umask_002 = |args: &[&str]| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 002; cd \"$1\" && shift && exec \"$@\"")
            .arg("sh")
            .arg(&station)
            .arg(&bin)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    };
    std::fs::create_dir_all(&station).unwrap();
    under_umask_002(&["init"]);
    std::fs::create_dir_all(station.join("agents/w")).unwrap();
    std::fs::write(station.join("agents/w/agent.yaml"), "version: 1\n").unwrap();
    // Reading the agents makes their mailboxes.
    under_umask_002(&["agent", "list"]);
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(&station) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type().is_dir()
            && (name == "0UT.3OX" || name == "1N.3OX" || name == "control")
        {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o022, 0, "{} is {mode:o}", entry.path().display());
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "control, 1N.3OX and 0UT.3OX were checked");
    let out = env.run(&["--station", station.to_str().unwrap(), "doctor"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let outbox = walkdir::WalkDir::new(&station)
        .into_iter()
        .flatten()
        .find(|e| e.file_name() == "0UT.3OX")
        .unwrap()
        .into_path();
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.run(&["--station", station.to_str().unwrap(), "doctor"]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("writable"), "doctor warns: {said}");
}
