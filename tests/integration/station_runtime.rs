//! One station runtime per process: `3ox up` drives hundreds of runs at once through one
//! watcher, polls where it cannot watch, and never silently abandons a run.

use std::time::Duration;

use crate::support::{TestEnv, output_within, stderr, stdout, wait_for};

const FLOW: &str = "name: three-steps
tasks:
  - {name: step-a, taskReferenceName: a}
  - {name: step-b, taskReferenceName: b, inputParameters: {previous: \"${a.output}\"}}
  - {name: step-c, taskReferenceName: c}
";

/// A station whose 8 agents are served by `3ox agent run` with `true` as the command (`up`
/// starts them: they have a `command`).
fn station_of_eight_agents() -> TestEnv {
    let env = TestEnv::new();
    for i in 0..8 {
        // Each step type is served by every agent; 3ox picks one per task.
        env.write(
            &format!("agents/worker-{i}/agent.yaml"),
            "version: 1\ncapabilities: [step-a, step-b, step-c]\nconcurrency: 4\ncommand: \"true\"\n",
        );
    }
    env.write("flow.yaml", FLOW);
    env
}

fn submit(env: &TestEnv) -> String {
    let out = env.run(&["start", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn up_until_idle_completes_300_submitted_runs_with_one_watcher() {
    let env = station_of_eight_agents();
    let runs: Vec<String> = (0..300).map(|_| submit(&env)).collect();
    let out = output_within(env.cmd(&["up", "--until-idle"]), Duration::from_secs(300));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("cannot be driven"),
        "a run was left undriven:\n{err}"
    );
    for run in &runs {
        assert!(
            err.contains(&format!("run {run} COMPLETED (3 tasks)")),
            "run {run} did not complete:\n{}",
            err.lines()
                .filter(|l| l.contains(run.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let list = env.run(&["list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).expect("list --json");
    let completed = listed["runs"]
        .as_array()
        .expect("a list of runs")
        .iter()
        .filter(|r| r["status"] == "COMPLETED")
        .count();
    assert_eq!(completed, 300, "{listed}");
    // The runs spread their 900 tasks over the 8 agents that serve them: each run alone sees
    // every agent idle, so without the station-wide count every task went to worker-0.
    for i in 0..8 {
        let served = std::fs::read_dir(env.root().join(format!("agents/worker-{i}/1N.3OX/done")))
            .map_or(0, Iterator::count);
        assert!(
            (900 / 8 / 2..=900 / 8 * 2).contains(&served),
            "worker-{i} served {served} of 900 tasks"
        );
    }
}

#[test]
fn up_drives_more_runs_than_it_may_hold_open_files_for_by_taking_them_in_turn() {
    let env = station_of_eight_agents();
    let runs: Vec<String> = (0..150).map(|_| submit(&env)).collect();
    // A hard limit of 128 open files (the shell's `ulimit -n` sets both limits): 150 runs
    // driven at once would need about 300. `up` drives as many as fit, the rest in turn.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" up --until-idle")
        .arg(env!("CARGO_BIN_EXE_3ox"))
        .current_dir(env.root())
        .env_remove("THREEOX_STATION");
    let out = output_within(cmd, Duration::from_secs(300));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("cannot be driven"), "{err}");
    assert!(!err.contains("Too many open files"), "{err}");
    for run in &runs {
        assert!(
            err.contains(&format!("run {run} COMPLETED (3 tasks)")),
            "run {run} did not complete:\n{err}"
        );
    }
}

#[test]
fn up_until_idle_exits_1_and_names_a_run_whose_journal_cannot_be_read() {
    let env = station_of_eight_agents();
    let good = submit(&env);
    let broken = submit(&env);
    // The broken run's journal: its only record cut in half by hand (not a torn tail after a
    // crash: garbage follows).
    let path = env.root().join(format!(".3ox/runs/{broken}.journal.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!(
            "{}\n%%% not yaml\n{}",
            &text[..text.len() / 2],
            &text[text.len() / 2..]
        ),
    )
    .unwrap();
    let out = output_within(env.cmd(&["up", "--until-idle"]), Duration::from_secs(60));
    let err = stderr(&out);
    assert!(err.contains(&format!("run {good} COMPLETED")), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("run(s) were left undriven") && err.contains(&format!("  {broken}: ")),
        "{err}"
    );
}

#[test]
fn a_station_forced_to_poll_drives_its_runs_without_native_watching() {
    let env = station_of_eight_agents();
    let mut cmd = env.cmd(&["run", "flow.yaml"]);
    cmd.env("THREEOX_WATCH", "poll");
    let out = output_within(cmd, Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("polling the station's folders every 250 ms (THREEOX_WATCH=poll)"),
        "{err}"
    );
}

#[test]
fn run_warns_when_a_task_waits_for_an_agent_no_worker_serves_and_goes_on_once_one_does() {
    let env = TestEnv::new();
    // No `command:`: nobody starts a worker for it.
    env.write(
        "agents/scanner/agent.yaml",
        "version: 1\ncapabilities: [scan]\n",
    );
    env.write(
        "flow.yaml",
        "name: scan\ntasks:\n  - {name: scan, taskReferenceName: s}\n",
    );
    let log = env.root().join("run.stderr");
    let mut cmd = env.cmd(&["run", "flow.yaml"]);
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let mut run = crate::support::ChildGuard(cmd.spawn().unwrap());
    let warning = wait_for(Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines()
            .find(|l| l.contains("no worker serves agent scanner"))
            .map(str::to_owned)
    })
    .unwrap_or_else(|| {
        panic!(
            "no warning; stderr:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    assert!(
        warning.contains("task s has waited") && warning.contains("`3ox agent run scanner`"),
        "{warning}"
    );
    // A worker comes: the task is served and the run completes.
    let mut worker = env.cmd(&["agent", "run", "scanner", "--", "true"]);
    worker.stderr(std::process::Stdio::null());
    let _worker = crate::support::ChildGuard(worker.spawn().unwrap());
    let status = wait_for(Duration::from_secs(30), || run.0.try_wait().unwrap())
        .expect("the run did not end once a worker served it");
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // Said once, not at every look.
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("no worker serves agent scanner").count(),
        1,
        "{text}"
    );
}

#[test]
fn list_reads_a_journal_again_only_when_it_changed() {
    let env = station_of_eight_agents();
    let out = output_within(env.cmd(&["run", "flow.yaml"]), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = |env: &TestEnv| -> serde_json::Value {
        let out = env.run(&["list", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["runs"][0].clone()
    };
    assert_eq!(listed(&env)["status"], "COMPLETED");
    assert!(env.root().join(".3ox/runs.index.json").is_file());
    // The journal is overwritten with text of the same length and its time put back: `list`
    // takes the run's line from the index and does not read the journal.
    let journal = std::fs::read_dir(env.root().join(".3ox/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".journal.yaml"))
        .unwrap();
    let meta = std::fs::metadata(&journal).unwrap();
    let len = meta.len() as usize;
    std::fs::write(&journal, "%".repeat(len)).unwrap();
    let file = std::fs::File::options().write(true).open(&journal).unwrap();
    file.set_modified(meta.modified().unwrap()).unwrap();
    drop(file);
    assert_eq!(
        listed(&env)["status"],
        "COMPLETED",
        "the journal was read again"
    );
    // One byte more: read again, and what it holds now (no run_started: not a run yet) is
    // what shows.
    std::fs::write(&journal, "%".repeat(len + 1)).unwrap();
    let line = listed(&env);
    assert!(
        line.is_null(),
        "the index was used for a changed journal: {line}"
    );
}

/// The pids of the `3ox agent run` workers serving the station at `root`.
fn workers_of(root: &std::path::Path) -> Vec<u32> {
    let needle = format!("{}\0agent\0run", root.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

#[test]
fn managed_agents_stop_when_their_orchestrator_is_killed() {
    let env = station_of_eight_agents();
    submit(&env);
    let mut up = env.cmd(&["up"]);
    up.stderr(std::process::Stdio::null());
    let mut up = crate::support::ChildGuard(up.spawn().unwrap());
    let root = std::fs::canonicalize(env.root()).unwrap();
    let started = wait_for(Duration::from_secs(30), || {
        let pids = workers_of(&root);
        (pids.len() == 8).then_some(pids)
    })
    .expect("up did not start its 8 managed agents");
    // SIGKILL: up cannot stop them itself.
    up.0.kill().unwrap();
    up.0.wait().unwrap();
    let left = wait_for(Duration::from_secs(30), || {
        let alive: Vec<u32> = started
            .iter()
            .copied()
            .filter(|pid| {
                std::path::Path::new(&format!("/proc/{pid}")).exists()
                    && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| s.contains(") Z "))
            })
            .collect();
        alive.is_empty().then_some(())
    });
    assert!(
        left.is_some(),
        "managed agents outlived their orchestrator: {:?}",
        workers_of(&root)
    );
}

#[test]
fn log_follow_and_status_watch_follow_a_run_live_and_end_with_it() {
    let env = station_of_eight_agents();
    let run = submit(&env);
    let spawn_to = |args: &[&str], file: &str| {
        let path = env.root().join(file);
        let mut cmd = env.cmd(args);
        cmd.stdout(std::fs::File::create(&path).unwrap());
        (crate::support::ChildGuard(cmd.spawn().unwrap()), path)
    };
    let (mut log, log_out) = spawn_to(&["log", "--follow", &run], "log.out");
    let (mut status, status_out) = spawn_to(&["status", "--watch", &run], "status.out");
    // Both have shown the run as it is before anything drives it.
    for path in [&log_out, &status_out] {
        wait_for(Duration::from_secs(30), || {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .contains("RUNNING")
                .then_some(())
        })
        .unwrap_or_else(|| panic!("{} shows nothing", path.display()));
    }
    let out = output_within(env.cmd(&["up", "--until-idle"]), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // They end by themselves once the run has ended.
    for (child, path) in [(&mut log, &log_out), (&mut status, &status_out)] {
        let code = wait_for(Duration::from_secs(30), || child.0.try_wait().unwrap())
            .unwrap_or_else(|| panic!("{} did not end with the run", path.display()));
        assert_eq!(code.code(), Some(0));
    }
    let log_text = std::fs::read_to_string(&log_out).unwrap();
    // The first line as it was, then the run's end appended, not the whole timeline again.
    assert!(
        log_text.starts_with(&format!("run {run} of three-steps")),
        "{log_text}"
    );
    assert!(log_text.contains("COMPLETED"), "{log_text}");
    assert_eq!(
        log_text.matches("run started, input").count(),
        1,
        "{log_text}"
    );
    let status_text = std::fs::read_to_string(&status_out).unwrap();
    assert!(status_text.matches("--- ").count() >= 2, "{status_text}");
    let last = status_text.rsplit("--- ").next().unwrap();
    assert!(last.contains("COMPLETED"), "{status_text}");
}
