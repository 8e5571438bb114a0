//! HUMAN tasks through the real binary: approval requests, approval files written by hand or
//! by `3ox approve` / `3ox reject`, deadlines racing decisions, forgeries refused, and a run
//! killed while it waits.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{
    TestEnv, events, files_in, journal_records, output_within, output_within_child, stderr, stdout,
    wait_for,
};

const INBOX: &str = "agents/commander/1N.3OX";
const OUTBOX: &str = "agents/commander/0UT.3OX";

/// A station with the repo's approval-gate template, the Commander (an agent without
/// capabilities or command) and a worker for the template's SIMPLE tasks.
fn gate_station() -> (TestEnv, FakeAgent) {
    let env = TestEnv::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    env.write(
        "flow.yaml",
        &std::fs::read_to_string(repo.join("templates/approval-gate.workflow.yaml")).unwrap(),
    );
    env.write(
        "agents/commander/agent.yaml",
        &std::fs::read_to_string(repo.join("agents/commander/agent.yaml")).unwrap(),
    );
    let worker = FakeAgent::start(
        &env,
        "worker",
        &["prepare_change", "apply_change", "write_note"],
        2,
        |m: &Value| {
            Answer::Completed(
                json!({"summary": "two files", "task": m["task"], "input": m["input"]}),
            )
        },
    );
    (env, worker)
}

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn 3ox")
}

/// `3ox run flow.yaml --json --no-agents --input change=CHANGE`, in the background.
fn run_flow(env: &TestEnv, change: &str) -> Child {
    spawn(
        env,
        &[
            "run",
            "flow.yaml",
            "--json",
            "--no-agents",
            "--input",
            &format!("change={change}"),
        ],
    )
}

/// Waits for the one approval request file in the Commander's inbox other than `except`.
fn wait_request(env: &TestEnv, except: &[String]) -> (String, Value) {
    // Generous: on a loaded 2-core machine `3ox run` can take many seconds to get this far.
    wait_for(Duration::from_secs(90), || {
        files_in(env, INBOX)
            .into_iter()
            .find(|n| n.ends_with(".approval-request.yaml") && !except.contains(n))
            .map(|n| {
                let text = env.read(&format!("{INBOX}/{n}"));
                (n, serde_yaml::from_str::<Value>(&text).unwrap())
            })
    })
    .expect("an approval request in the Commander's inbox")
}

/// Writes `text` into the Commander's outbox as a person would: a dot name, then a rename.
fn drop_file(env: &TestEnv, name: &str, text: &str, mode: u32) {
    let tmp = env.write(&format!("{OUTBOX}/.{name}.tmp"), text);
    set_mode(&tmp, mode);
    std::fs::rename(&tmp, env.root().join(OUTBOX).join(name)).unwrap();
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

/// The approval a person writes from the request's `reply.form`, with `decision`.
fn by_hand(request: &Value, decision: &str, extra: &str) -> String {
    let form = &request["reply"]["form"];
    format!(
        "version: 1\nkind: approval\nrequest_id: {}\ntoken: {}\ndecision: {decision}\nby: Ada\ncomment: checked by hand\n{extra}",
        form["request_id"].as_str().unwrap(),
        form["token"].as_str().unwrap()
    )
}

fn finish(child: &mut Child) -> Value {
    let out = output_within_child(child, Duration::from_secs(60));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON result ({e})\n{}\n{}", stdout(&out), stderr(&out)))
}

fn rejected_notes(env: &TestEnv) -> Vec<String> {
    files_in(env, &format!("{OUTBOX}/rejected"))
        .into_iter()
        .filter(|n| n.ends_with(".why.yaml"))
        .map(|n| env.read(&format!("{OUTBOX}/rejected/{n}")))
        .collect()
}

#[test]
fn an_approval_written_by_hand_completes_the_gate_and_the_switch_applies_the_change() {
    let (env, worker) = gate_station();
    let mut run = run_flow(&env, "c42");
    let (name, request) = wait_request(&env, &[]);
    assert_eq!(request["version"], 1);
    assert_eq!(request["kind"], "approval_request");
    assert_eq!(request["task_ref"], "gate");
    assert_eq!(request["workflow"], "approval_gate");
    assert_eq!(request["approver"], "commander");
    assert_eq!(request["question"], "Apply the change c42?");
    assert_eq!(request["why"], "two files");
    assert_eq!(request["on_deadline"], "REJECT");
    assert!(request["deadline"].is_string());
    assert_eq!(request["reply"]["folder"], OUTBOX);
    assert_eq!(request["reply"]["form"]["kind"], "approval");
    assert_eq!(request["reply"]["form"]["run_id"], request["run_id"]);

    drop_file(&env, "mine.yaml", &by_hand(&request, "approve", ""), 0o644);
    let result = finish(&mut run);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(
        result["output"],
        json!({"decision": "approved", "by": "Ada"})
    );
    let tasks: Vec<String> = worker
        .messages()
        .iter()
        .map(|m| m["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tasks, ["prepare_change", "apply_change"]);
    assert_eq!(
        files_in(&env, &format!("{INBOX}/done")),
        [name],
        "the request is archived"
    );
    assert_eq!(files_in(&env, &format!("{OUTBOX}/done")), ["mine.yaml"]);
    let records = journal_records(&env);
    let decided = records
        .iter()
        .find(|r| r["event"] == "approval_decided")
        .expect("approval_decided");
    assert_eq!(decided["decision"], "approve");
    assert_eq!(decided["by"], "Ada");
    assert_eq!(decided["comment"], "checked by hand");
    assert!(events(&records).contains(&"approval_requested".to_string()));
}

#[test]
fn approve_and_reject_commands_write_the_file_and_the_switch_routes_on_the_decision() {
    let (env, worker) = gate_station();
    let out = env.run(&["approve", "01NOSUCHRUN", "gate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let mut run = run_flow(&env, "c1");
    let (first, request) = wait_request(&env, &[]);
    let run_id = request["run_id"].as_str().unwrap().to_string();
    let out = env.run(&["approve", &run_id, "prepare"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a task without a request: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("no open approval request"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&[
        "reject",
        &run_id[..20],
        "gate",
        "--reason",
        "not on a Friday",
        "--by",
        "Ada",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(OUTBOX), "{}", stdout(&out));
    let result = finish(&mut run);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(
        result["output"],
        json!({"decision": "rejected", "by": "Ada"})
    );
    let last = worker.messages().last().cloned().unwrap();
    assert_eq!(last["task"], "write_note");
    assert_eq!(last["input"]["decision"], "rejected");
    let out = env.run(&["approve", &run_id, "gate"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "decided already: {}",
        stderr(&out)
    );

    let mut run = run_flow(&env, "c2");
    let (_, request) = wait_request(&env, &[first]);
    let run_id = request["run_id"].as_str().unwrap().to_string();
    let out = env.run(&["approve", &run_id, "gate", "--comment", "go"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = finish(&mut run);
    assert_eq!(result["output"]["decision"], "approved", "{result}");
    assert_eq!(worker.messages().last().unwrap()["task"], "apply_change");
}

#[test]
fn forged_misplaced_and_replayed_approvals_are_refused_and_the_run_goes_on() {
    let (env, _worker) = gate_station();
    let mut run = run_flow(&env, "c7");
    let (_, request) = wait_request(&env, &[]);
    let good = by_hand(&request, "approve", "");
    let refusals = |n: usize| {
        wait_for(Duration::from_secs(20), || {
            let notes = rejected_notes(&env);
            (notes.len() >= n).then_some(notes)
        })
        .unwrap_or_else(|| panic!("{n} refusals: {:?}", rejected_notes(&env)))
    };
    let mut expected = Vec::new();
    #[cfg(unix)]
    {
        drop_file(&env, "open.yaml", &good, 0o666);
        expected.push("writable by group or others");
        let target = env.write("elsewhere/real.yaml", &good);
        std::os::unix::fs::symlink(&target, env.root().join(OUTBOX).join("link.yaml")).unwrap();
        expected.push("symlink");
        use std::os::unix::fs::MetadataExt as _;
        let me = std::fs::metadata(env.root()).unwrap().uid();
        env.write(
            "station.yaml",
            &format!(
                "version: 1\napprovers:\n  commander:\n    users: [{}]\n",
                me + 1
            ),
        );
        drop_file(&env, "notyours.yaml", &good, 0o644);
        expected.push("may not approve");
        refusals(expected.len());
        std::fs::remove_file(env.root().join("station.yaml")).unwrap();
    }
    drop_file(
        &env,
        "guess.yaml",
        &good.replace("token: ", "token: x"),
        0o644,
    );
    expected.push("wrong token");
    env.write("agents/worker/0UT.3OX/.misplaced.tmp", &good);
    std::fs::rename(
        env.root().join("agents/worker/0UT.3OX/.misplaced.tmp"),
        env.root().join("agents/worker/0UT.3OX/misplaced.yaml"),
    )
    .unwrap();
    drop_file(
        &env,
        "old.yaml",
        &good.replace("request_id: ", "request_id: 01OLD"),
        0o644,
    );
    expected.push("no approval request");
    refusals(expected.len());
    assert!(
        wait_for(Duration::from_secs(20), || {
            env.root()
                .join("agents/worker/0UT.3OX/rejected/misplaced.yaml.why.yaml")
                .exists()
                .then_some(())
        })
        .is_some(),
        "the approval in another agent's outbox is refused"
    );
    let misplaced = env.read("agents/worker/0UT.3OX/rejected/misplaced.yaml.why.yaml");
    assert!(
        misplaced.contains("is for approver `commander`"),
        "{misplaced}"
    );

    drop_file(&env, "real.yaml", &good, 0o644);
    let result = finish(&mut run);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["decision"], "approved");
    let notes = rejected_notes(&env).join("\n---\n");
    for reason in &expected {
        assert!(notes.contains(reason), "{reason}: {notes}");
    }
    let records = journal_records(&env);
    let refused = records
        .iter()
        .filter(|r| r["event"] == "reply_rejected")
        .count();
    assert_eq!(refused, expected.len() + 1, "each refusal is journaled");

    // The same approval replayed later, into another run's time: refused, not applied.
    let mut second = run_flow(&env, "c8");
    let (_, request2) = wait_request(&env, &files_in(&env, &format!("{INBOX}/done")));
    drop_file(&env, "replayed.yaml", &good, 0o644);
    let replay_note = wait_for(Duration::from_secs(20), || {
        env.root()
            .join(OUTBOX)
            .join("rejected/replayed.yaml.why.yaml")
            .exists()
            .then(|| env.read(&format!("{OUTBOX}/rejected/replayed.yaml.why.yaml")))
    })
    .expect("the replayed approval is refused");
    assert!(
        replay_note.contains("too late") || replay_note.contains("no approval request"),
        "{replay_note}"
    );
    drop_file(
        &env,
        "second.yaml",
        &by_hand(&request2, "approve", ""),
        0o644,
    );
    assert_eq!(finish(&mut second)["status"], "COMPLETED");
}

#[test]
fn a_decision_and_its_deadline_at_the_same_moment_have_exactly_one_outcome() {
    let env = TestEnv::new();
    env.write("agents/commander/agent.yaml", "version: 1\n");
    env.write(
        "race.yaml",
        "name: race\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, deadline: 300ms, onDeadline: REJECT, inputParameters: {question: now?}}\n",
    );
    let mut seen = Vec::new();
    let (mut approved, mut expired) = (0, 0);
    for round in 0..20i64 {
        let mut run = spawn(&env, &["run", "race.yaml", "--json", "--no-agents"]);
        let (name, request) = wait_request(&env, &seen);
        seen.push(name);
        let deadline: chrono::DateTime<chrono::Utc> =
            request["deadline"].as_str().unwrap().parse().unwrap();
        // Around the deadline: from 40 ms before to 35 ms after it.
        let at = deadline + chrono::Duration::milliseconds(round * 4 - 40);
        if let Ok(wait) = (at - chrono::Utc::now()).to_std() {
            std::thread::sleep(wait);
        }
        let file = format!("round{round}.yaml");
        drop_file(&env, &file, &by_hand(&request, "approve", ""), 0o644);
        let result = finish(&mut run);
        assert_eq!(result["status"], "COMPLETED", "{result}");
        let run_id = result["run_id"].as_str().unwrap();
        let records: Vec<Value> = journal_records(&env)
            .into_iter()
            .filter(|r| r["run"] == run_id)
            .collect();
        let kinds = events(&records);
        let decided = kinds.iter().filter(|k| *k == "approval_decided").count();
        let timed_out = kinds.iter().filter(|k| *k == "approval_expired").count();
        assert_eq!(
            decided + timed_out,
            1,
            "round {round}: exactly one outcome: {kinds:?}"
        );
        let outcome = records
            .iter()
            .find(|r| r["event"] == "task_completed")
            .unwrap();
        if decided == 1 {
            approved += 1;
            assert_eq!(outcome["output"]["decision"], "approved");
            // The deadline did not fire afterwards: no second outcome (checked above).
        } else {
            expired += 1;
            assert_eq!(outcome["output"]["by"], "3ox (deadline)");
            // The approval file, if the run saw it, was refused with a note that says why.
            let note = format!("{OUTBOX}/rejected/{file}.why.yaml");
            if let Some(text) = wait_for(Duration::from_millis(300), || {
                env.root().join(&note).exists().then(|| env.read(&note))
            }) {
                assert!(
                    text.contains("deadline") && text.contains("rejected by 3ox (deadline)"),
                    "{text}"
                );
            } else {
                // The run ended before it read the file; the file is left for nobody: it was
                // never applied (the journal says so).
                assert!(
                    env.root().join(OUTBOX).join(&file).exists()
                        || env
                            .root()
                            .join(OUTBOX)
                            .join("rejected")
                            .join(&file)
                            .exists()
                );
            }
        }
    }
    eprintln!("race: {approved} approved, {expired} expired");
}

#[test]
fn a_run_killed_while_waiting_for_approval_still_waits_after_resume_and_completes() {
    let (env, _worker) = gate_station();
    let out = env.run(&["start", "flow.yaml", "--input", "change=c9", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = spawn(&env, &["resume", &run_id, "--no-agents"]);
    let (name, _) = wait_request(&env, &[]);
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = spawn(&env, &["resume", &run_id, "--no-agents", "--json"]);
    std::thread::sleep(Duration::from_millis(700));
    let requests: Vec<String> = files_in(&env, INBOX)
        .into_iter()
        .filter(|n| n.ends_with(".approval-request.yaml"))
        .collect();
    assert_eq!(requests, [name], "the request is not written twice");
    assert!(
        second.try_wait().unwrap().is_none(),
        "the resumed run still waits"
    );
    let records = journal_records(&env);
    assert_eq!(
        events(&records)
            .iter()
            .filter(|k| *k == "approval_requested")
            .count(),
        1
    );

    let out = env.run(&["approve", &run_id, "gate", "--comment", "after the crash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = finish(&mut second);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["decision"], "approved");
}

#[test]
fn a_human_task_needs_its_approver_in_the_station_and_the_template_validates() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: x\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, approver: nobody}\n",
    );
    let out = output_within(
        env.cmd(&["run", "flow.yaml", "--no-agents"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("approver `nobody`"),
        "{}",
        stderr(&out)
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = env.run(&[
        "validate",
        repo.join("templates/approval-gate.workflow.yaml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// The private key in a key file `3ox keygen` wrote.
fn key_in(env: &TestEnv, rel: &str) -> ed25519_dalek::SigningKey {
    use base64::Engine as _;
    let file: Value = serde_yaml::from_str(&env.read(rel)).unwrap();
    assert_eq!(file["version"], 1);
    assert_eq!(file["kind"], "signing-key");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file["private_key"].as_str().unwrap())
        .unwrap();
    ed25519_dalek::SigningKey::from_bytes(&bytes.try_into().unwrap())
}

/// [`by_hand`] (an approval) signed as docs/human-tasks.md tells a person to, with `key`.
fn signed_by_hand(request: &Value, key: &ed25519_dalek::SigningKey) -> String {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let form = &request["reply"]["form"];
    let mut canonical = String::new();
    for (name, value) in [
        ("version", "1"),
        ("kind", "approval"),
        ("request_id", form["request_id"].as_str().unwrap()),
        ("token", form["token"].as_str().unwrap()),
        ("decision", "approve"),
        ("by", "Ada"),
        ("comment", "checked by hand"),
    ] {
        canonical.push_str(&format!("{name}={}:{value}\n", value.len()));
    }
    let signature =
        base64::engine::general_purpose::STANDARD.encode(key.sign(canonical.as_bytes()).to_bytes());
    by_hand(request, "approve", &format!("signature: {signature}\n"))
}

#[test]
fn a_station_with_a_key_takes_only_approvals_signed_with_it() {
    let (env, _worker) = gate_station();
    let out = env.run(&["keygen", "--out", "keys/commander.key"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(env.root().join("keys/commander.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let printed = stdout(&out);
    let public = printed
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .expect("the public key is printed")
        .to_string();
    assert!(printed.contains(&format!("    key: {public}")), "{printed}");
    let again = env.run(&["keygen", "--out", "keys/commander.key"]);
    assert_eq!(again.status.code(), Some(2), "a key is never overwritten");
    assert!(
        env.run(&["keygen", "--out", "keys/other.key"])
            .status
            .success()
    );
    let (mine, other) = (
        key_in(&env, "keys/commander.key"),
        key_in(&env, "keys/other.key"),
    );
    env.write(
        "station.yaml",
        &format!("version: 1\napprovers:\n  commander:\n    key: {public}\n"),
    );

    let mut run = run_flow(&env, "c1");
    let (_, request) = wait_request(&env, &[]);
    let run_id = request["run_id"].as_str().unwrap();
    let unsigned = env.run(&["approve", run_id, "gate"]);
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(stderr(&unsigned).contains("--key"), "{}", stderr(&unsigned));
    let wrong = env.run(&["approve", run_id, "gate", "--key", "keys/other.key"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("is not the key"),
        "{}",
        stderr(&wrong)
    );

    drop_file(
        &env,
        "unsigned.yaml",
        &by_hand(&request, "approve", ""),
        0o644,
    );
    drop_file(&env, "other.yaml", &signed_by_hand(&request, &other), 0o644);
    let changed = signed_by_hand(&request, &mine).replace("by: Ada", "by: Eve");
    drop_file(&env, "changed.yaml", &changed, 0o644);
    wait_for(Duration::from_secs(20), || {
        (rejected_notes(&env).len() == 3).then_some(())
    })
    .expect("the three forgeries are refused");
    let notes = rejected_notes(&env).join("\n---\n");
    assert!(notes.contains("the approval is not signed"), "{notes}");
    assert_eq!(notes.matches("does not verify").count(), 2, "{notes}");
    assert!(still_waiting(&mut run), "refusals leave the run waiting");

    let out = env.run(&[
        "approve",
        run_id,
        "gate",
        "--key",
        "keys/commander.key",
        "--comment",
        "signed",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = env.read(&format!(
        "{OUTBOX}/{}",
        request["reply"]["file"].as_str().unwrap()
    ));
    assert!(written.contains("signature: "), "{written}");
    let result = finish(&mut run);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["decision"], "approved");
    assert_eq!(result["output"]["by"], "commander");

    // A person's own signature (the documented form) counts, and so does a rejection signed
    // through THREEOX_SIGNING_KEY.
    let mut second = run_flow(&env, "c2");
    let (_, request2) = wait_request(&env, &files_in(&env, &format!("{INBOX}/done")));
    drop_file(&env, "mine.yaml", &signed_by_hand(&request2, &mine), 0o644);
    let result = finish(&mut second);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["by"], "Ada");

    let mut third = run_flow(&env, "c3");
    let (_, request3) = wait_request(&env, &files_in(&env, &format!("{INBOX}/done")));
    let out = env
        .cmd(&[
            "reject",
            request3["run_id"].as_str().unwrap(),
            "gate",
            "--reason",
            "not today",
        ])
        .env("THREEOX_SIGNING_KEY", env.root().join("keys/commander.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = finish(&mut third);
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["decision"], "rejected");
}

/// Whether the run `child` still waits (has not ended).
fn still_waiting(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}
