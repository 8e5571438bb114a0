//! The README's main job: the inventory-validation template with the repository's demo agents
//! (real Python processes started by 3ox from their agent.yaml `command`).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestEnv, files_in, journal_records, output_within, stderr, stdout};

/// Copies a folder, leaving out mailbox contents (a developer's earlier demo runs).
fn copy_tree(from: &Path, to: &Path) {
    let is_mailbox = |e: &walkdir::DirEntry| {
        e.depth() > 1 && matches!(e.file_name().to_str(), Some("1N.3OX" | "0UT.3OX"))
    };
    for entry in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_entry(|e| !is_mailbox(e))
    {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_inventory_validation_demo_validates_in_parallel_retries_and_reports() {
    let env = TestEnv::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["agents", "stations", "templates"] {
        copy_tree(&repo.join(dir), &env.root().join(dir));
    }
    let args = [
        "run",
        "templates/inventory-validation.workflow.yaml",
        "--input",
        "station_root=stations/sample",
        "--input",
        "folders=[inventory-clean, inventory-broken, inventory-flaky]",
        "--json",
    ];
    let out = output_within(env.cmd(&args), Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["retries"], 1, "the flaky folder is retried once");
    let output = &result["output"];
    assert_eq!(output["problem_count"], 3, "{output}");
    let problems: Vec<String> = output["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["folder"].as_str().unwrap(),
                p["check"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            "inventory-broken/manifest_files",
            "inventory-broken/naming",
            "inventory-broken/yaml"
        ]
    );

    // The report names the broken folder's problems.
    let report = output["report_if_problems"]
        .as_str()
        .expect("the problem report was written");
    let text = env.read(report);
    assert!(
        text.contains("problems found")
            && text.contains("switches.yaml")
            && text.contains("Audit Notes.txt"),
        "{text}"
    );

    // The three folders were in flight together, and the flaky one failed once then passed.
    let records = journal_records(&env);
    let scheduled: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["event"] == "task_scheduled"
                && r["task_ref"]
                    .as_str()
                    .unwrap()
                    .starts_with("_validate_folder_")
        })
        .collect();
    assert_eq!(
        scheduled
            .iter()
            .take(3)
            .map(|r| r["attempt"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 1, 1]
    );
    let first_reply = records
        .iter()
        .position(|r| {
            (r["event"] == "task_completed" || r["event"] == "task_failed")
                && r["task_ref"]
                    .as_str()
                    .unwrap()
                    .starts_with("_validate_folder_")
        })
        .unwrap();
    let third_scheduled = records
        .iter()
        .filter(|r| r["event"] == "task_scheduled")
        .nth(2)
        .map(|r| r["seq"].as_u64().unwrap())
        .unwrap();
    assert!(
        third_scheduled < records[first_reply]["seq"].as_u64().unwrap(),
        "all three folders were delivered before any reply"
    );
    let failure = records
        .iter()
        .find(|r| r["event"] == "task_failed")
        .expect("the transient failure is journaled");
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("simulated transient failure"),
        "{failure}"
    );
    assert!(failure["retry_at"].is_string());

    // The managed agents' mailboxes are left tidy and their logs exist.
    assert!(
        files_in(&env, "agents/inventory-checker/1N.3OX")
            .iter()
            .all(|f| f.starts_with('.'))
    );
    assert!(
        files_in(&env, "agents/inventory-checker/0UT.3OX")
            .iter()
            .all(|f| f.starts_with('.'))
    );
    assert_eq!(
        files_in(&env, "agents/inventory-checker/0UT.3OX/done").len(),
        4
    );
    assert!(env.root().join(".3ox/logs/inventory-checker.log").exists());
}

#[test]
fn init_example_makes_a_station_whose_demo_runs_and_approval_gate_has_its_approver() {
    let env = TestEnv::new();
    let out = env.run(&["init", "--example", "demo"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3ox run templates/inventory-validation.workflow.yaml"),
        "{}",
        stdout(&out)
    );
    let station = env.root().join("demo");
    assert!(
        station.join("agents/commander/agent.yaml").is_file(),
        "HUMAN tasks have their approver"
    );
    // Every file the repository's demo has is in the example (no drift from the repo).
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["agents", "stations", "templates"] {
        for entry in walkdir::WalkDir::new(repo.join(dir)).into_iter().flatten() {
            let rel = entry.path().strip_prefix(repo).unwrap();
            let in_mailbox = rel
                .components()
                .any(|c| matches!(c.as_os_str().to_str(), Some("1N.3OX" | "0UT.3OX")));
            if entry.file_type().is_file() && !in_mailbox {
                assert_eq!(
                    std::fs::read(station.join(rel)).ok(),
                    Some(std::fs::read(entry.path()).unwrap()),
                    "{} is in the example as in the repository",
                    rel.display()
                );
            }
        }
    }
    let out = output_within(
        {
            let mut cmd = env.cmd(&[
                "run",
                "templates/inventory-validation.workflow.yaml",
                "--input",
                "station_root=stations/sample",
                "--input",
                "folders=[inventory-clean, inventory-broken, inventory-flaky]",
                "--json",
            ]);
            cmd.current_dir(&station);
            cmd
        },
        Duration::from_secs(120),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"]["problem_count"], 3, "{result}");
    // Validate finds the approval-gate template served (commander is there).
    let out = env.run(&[
        "--station",
        station.to_str().unwrap(),
        "validate",
        station.join("templates").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
