//! Operators' defects (issue 9): what a release build carries, and machine-readable logs of a
//! real run.

use std::time::Duration;

use serde_json::Value;

use crate::support::{TestEnv, output_within, stderr, stdout};

/// Issue 9, item 19: the default release build carried full debug info (`debug = 1`), which
/// made the installed binary several times larger. Line tables (for backtraces) are fine;
/// variables and types are not.
#[test]
fn release_profile_does_not_carry_full_debug_info() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let doc: toml_edit::DocumentMut = manifest.parse().expect("Cargo.toml parses");
    let release = doc
        .get("profile")
        .and_then(|p| p.get("release"))
        .expect("Cargo.toml has [profile.release]");
    let stripped = release
        .get("strip")
        .and_then(|s| s.as_str())
        .is_some_and(|s| s == "debuginfo" || s == "symbols")
        || release.get("strip").and_then(|s| s.as_bool()) == Some(true);
    let debug = release.get("debug");
    let light = match debug {
        None => true,
        Some(item) => {
            item.as_bool() == Some(false)
                || item.as_integer() == Some(0)
                || item.as_str().is_some_and(|s| {
                    ["none", "line-tables-only", "line-directives-only"].contains(&s)
                })
        }
    };
    assert!(
        stripped || light,
        "[profile.release] carries full debug info: debug = {:?}",
        debug.map(ToString::to_string)
    );
}

/// Issue 9, item 21: `--log-format json` with `RUST_LOG=threeox=debug` writes one JSON object
/// per line on stderr, with events for the delivery of a task message, the reply applied and
/// the journal appends, each naming the run.
#[test]
fn log_format_json_writes_debug_events_with_the_run_id() {
    let env = TestEnv::new();
    env.write(
        "agents/shell/agent.yaml",
        "version: 1\ncapabilities: [shout]\ncommand: [sh, -c, 'cat >/dev/null; echo \"{\\\"ok\\\": true}\"']\n",
    );
    env.write(
        "flow.yaml",
        "name: logged\ntasks:\n  - {name: shout, taskReferenceName: shout}\n",
    );
    let mut cmd = env.cmd(&["run", "flow.yaml", "--json", "--log-format", "json"]);
    cmd.env("RUST_LOG", "threeox=debug");
    let out = output_within(cmd, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    let run = result["run_id"]
        .as_str()
        .or_else(|| result["runId"].as_str())
        .unwrap_or_else(|| panic!("no run id in {result}"))
        .to_string();
    let lines: Vec<Value> = stderr(&out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let find = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} event in:\n{}", stderr(&out)))
    };
    let delivered = find("task message delivered");
    assert_eq!(delivered["run"], run.as_str());
    assert_eq!(delivered["agent"], "shell");
    assert_eq!(delivered["task"], "shout");
    assert!(
        delivered["path"]
            .as_str()
            .is_some_and(|p| p.contains("agents/shell/1N.3OX")),
        "{delivered}"
    );
    let applied = find("reply applied");
    assert_eq!(applied["run"], run.as_str());
    assert_eq!(applied["agent"], "shell");
    let append = find("journal append");
    assert_eq!(append["run"], run.as_str());
    assert_eq!(append["level"], "DEBUG");
}
