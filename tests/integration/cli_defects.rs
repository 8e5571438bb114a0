//! Regression tests for the crashes, hangs and friction of issue 9 (items 14 to 23), each
//! named after its item, through the real binary in a temporary station.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestEnv, files_in, stderr, stdout, wait_for};

/// A workflow that ends at once without any agent.
const TINY: &str = "name: tiny\ntasks:\n  - name: set\n    taskReferenceName: set\n    type: SET_VARIABLE\n    inputParameters:\n      x: 1\n";

/// A workflow whose one task waits for the Commander's approval.
const GATE: &str = "name: gate\ntasks:\n  - name: gate\n    taskReferenceName: gate\n    type: HUMAN\n    approver: commander\n";

/// Runs `cmd` with its stdout a pipe whose reading end is already closed: every write to it
/// fails with EPIPE, as when `| head -1` has gone.
fn with_closed_stdout(mut cmd: Command) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn 3ox");
    let out = child.wait_with_output().expect("wait for 3ox");
    drop(cmd);
    out
}

fn assert_quiet_success(what: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{what}: {err}"
    );
    assert_eq!(out.status.code(), Some(0), "{what}: {err}");
}

#[test]
fn broken_pipe_is_not_an_error() {
    let env = TestEnv::new();
    env.write("flow.yaml", TINY);
    env.write("gate.yaml", GATE);
    env.write("agents/commander/agent.yaml", "version: 1\n");
    env.write(
        "agents/worker/agent.yaml",
        "version: 1\ncapabilities: [a, b, c]\n",
    );
    // One finished run, so the listings have lines to print.
    let (code, _, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0);

    for args in [
        &["run", "flow.yaml", "--no-agents"][..],
        &["run", "flow.yaml", "--json", "--no-agents"],
        &["start", "flow.yaml"],
        &["gc", "--older-than", "1s", "--dry-run"],
        &["doctor"],
        &["doctor", "--json"],
        &["agent", "list"],
        &["list"],
        &["status"],
        &["history"],
        &["validate", "flow.yaml"],
        &["init", "."],
        &["schema"],
    ] {
        let out = with_closed_stdout(env.cmd(args));
        assert_quiet_success(&format!("3ox {}", args.join(" ")), &out);
    }

    // `approve` prints what it wrote: a run waits at the gate first.
    let mut run = env
        .cmd(&["run", "gate.yaml", "--json", "--no-agents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = wait_for(Duration::from_secs(30), || {
        files_in(&env, "agents/commander/1N.3OX")
            .into_iter()
            .find(|n| n.ends_with(".approval-request.yaml"))
            .map(|n| {
                let text = env.read(&format!("agents/commander/1N.3OX/{n}"));
                let request: Value = serde_yaml::from_str(&text).unwrap();
                request["run_id"].as_str().unwrap().to_string()
            })
    })
    .expect("an approval request");
    let out = with_closed_stdout(env.cmd(&["approve", &run_id, "gate"]));
    assert_quiet_success("3ox approve", &out);
    let done = crate::support::output_within_child(&mut run, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let result: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED", "{result}");
}

#[test]
fn import_to_a_bare_file_name() {
    let env = TestEnv::new();
    env.write(
        "conductor.json",
        r#"{"name": "bare", "version": 1, "schemaVersion": 2,
            "tasks": [{"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE",
                       "inputParameters": {"x": 1}}]}"#,
    );
    // The parent of `a.yaml` is the empty path; the file and its folder sync must use `.`.
    let out = env.run(&["import", "conductor.json", "-o", "a.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("wrote a.yaml"), "{}", stderr(&out));
    assert!(env.read("a.yaml").contains("name: bare"));
    // The same for `export`, which writes the same way.
    let out = env.run(&["export", "a.yaml", "-o", "b.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let exported: Value = serde_json::from_str(&env.read("b.json")).unwrap();
    assert_eq!(exported["name"], "bare");
    // No temporary file is left beside them.
    let left: Vec<String> = files_in(&env, ".")
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn table_cells_wider_than_u16_do_not_panic() {
    let env = TestEnv::new();
    // An agent with 10,000 capabilities (agent.yaml accepts them).
    let capabilities: Vec<String> = (0..10_000).map(|i| format!("capability_{i}")).collect();
    env.write(
        "agents/wide/agent.yaml",
        &format!("version: 1\ncapabilities: [{}]\n", capabilities.join(", ")),
    );
    let out = env.run(&["agent", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let row = text
        .lines()
        .find(|l| l.starts_with("wide"))
        .expect("the agent's row");
    assert!(row.contains("capability_0,capability_1"), "{row}");
    assert!(row.contains("more)"), "{row}");
    assert!(row.chars().count() < 200, "{row}");
    // The JSON keeps them all.
    let out = env.run(&["agent", "list", "--json"]);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["capabilities"].as_array().unwrap().len(), 10_000);

    // A 70,000-character workflow name is refused at validate (and so at run and start).
    let long = "w".repeat(70_000);
    env.write(
        "long.yaml",
        &TINY.replace("name: tiny", &format!("name: {long}")),
    );
    for args in [&["validate", "long.yaml"][..], &["start", "long.yaml"]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("the limit is 128") || stdout(&out).contains("the limit is 128"),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn set_variable_without_input_parameters_is_a_warning() {
    let env = TestEnv::new();
    // As Conductor's Python SDK writes it: no inputParameters at all.
    env.write(
        "sdk.json",
        r#"{"name": "sdk", "version": 1, "tasks": [
            {"name": "set", "taskReferenceName": "set", "type": "SET_VARIABLE"}]}"#,
    );
    let out = env.run(&["validate", "sdk.json"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: SET_VARIABLE task `set` sets nothing"),
        "{text}"
    );
    let (code, result, _) = env.run_flow("sdk.json", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["status"], "COMPLETED");
}

/// Compares `generated` with the committed `docs/<rel>`; with `UPDATE_SNAPSHOTS=1` writes it.
fn check_committed(rel: &str, generated: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(rel);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/{rel} differs from what the binary generates; run scripts/regenerate-cli-docs \
         (or UPDATE_SNAPSHOTS=1 cargo test --test integration completions) and commit it"
    );
}

#[test]
fn completions_and_man_page_are_generated_and_match_the_committed_copies() {
    let env = TestEnv::new();
    for (shell, rel) in [
        ("bash", "completions/3ox.bash"),
        ("zsh", "completions/_3ox"),
        ("fish", "completions/3ox.fish"),
    ] {
        let out = env.run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let script = stdout(&out);
        // `completions` is a command of its own; `complete` (which finishes tasks) is another.
        assert!(script.contains("completions"), "{shell}");
        assert!(script.contains("complete"), "{shell}");
        // The internal child-process command is not offered.
        assert!(!script.contains("jq-sandbox"), "{shell}");
        check_committed(rel, &script);
    }
    // The singular is accepted too, instead of a hint towards `complete`.
    let out = env.run(&["completion", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = env.run(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH 3ox 1"), "{page}");
    assert!(page.contains("completions"), "{page}");
    check_committed("man/3ox.1", &page);

    // `--dir` writes a page per subcommand.
    let out = env.run(&["man", "--dir", "pages"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pages = files_in(&env, "pages");
    for page in ["3ox.1", "3ox-run.1", "3ox-complete.1", "3ox-agent-run.1"] {
        assert!(pages.contains(&page.to_string()), "{pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("jq-sandbox")), "{pages:?}");
}
