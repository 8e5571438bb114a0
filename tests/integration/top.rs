//! `3ox top` in a real terminal, through tmux: a run driven by another process waits for
//! the Commander; the dashboard shows it live, approves it (confirmation, comment) and shows
//! the run finish; a resize redraws; `q` restores the terminal. tmux is required: the test
//! fails, not skips, without it (`.ci/run` installs it).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{ChildGuard, TestEnv, events, journal_records, output_within, stdout};

const FLOW: &str = "
name: ship_gate
version: 1
tasks:
  - name: ask
    taskReferenceName: gate
    type: HUMAN
    approver: commander
    inputParameters:
      question: Ship it?
  - name: after
    taskReferenceName: shipped
    type: NOOP
";

/// A tmux server of its own (a private socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached 160x45 session.
    fn start(command: &str) -> Tmux {
        let socket = format!("3ox-top-test-{}-{}", std::process::id(), fastrand::u64(..));
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "160", "-y", "45", command])
            .env_remove("TMUX")
            .status()
            .expect("tmux is required for this test (apt-get install tmux); .ci/run installs it");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        stdout(&self.tmux(&["capture-pane", "-p"]))
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    fn text(&self, text: &str) {
        assert!(self.tmux(&["send-keys", "-l", text]).status.success());
    }

    /// Polls the screen every 100 ms until `check` holds, for at most 30 s.
    fn wait(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn top_approves_a_human_task_and_shows_the_run_finish() {
    let env = TestEnv::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    env.write("flow.yaml", FLOW);
    env.write(
        "agents/commander/agent.yaml",
        &std::fs::read_to_string(repo.join("agents/commander/agent.yaml")).unwrap(),
    );
    // Another process drives the run.
    let driver = ChildGuard(
        env.cmd(&["run", "flow.yaml", "--json", "--no-agents"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn 3ox run"),
    );
    let errors = env.root().join("top.stderr");
    let tmux = Tmux::start(&format!(
        "env -u THREEOX_STATION {} --station {} top 2>{}; echo \"top exited $?\"; sleep 60",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_3ox"))),
        shell_quote(env.root()),
        shell_quote(&errors),
    ));
    let screen = tmux.wait("the waiting HUMAN task", |s| {
        s.contains("WAITING") && s.contains("approvals waiting 1 (commander ×1)")
    });
    assert!(screen.contains("ship_gate"), "{screen}");
    assert!(screen.contains("approval_requested"), "{screen}");

    tmux.keys(&["Enter"]);
    tmux.keys(&["a"]);
    tmux.wait("the confirmation", |s| {
        s.contains("Approve task `gate` of run")
    });
    tmux.keys(&["y"]);
    tmux.wait("the comment prompt", |s| s.contains("Comment (optional):"));
    tmux.text("ship it");
    tmux.wait("the comment typed", |s| {
        s.contains("Comment (optional): ship it")
    });
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("the run completed", |s| {
        s.contains("approved task `gate`") && s.contains("run_completed") && s.contains("shipped")
    });
    assert!(screen.contains("COMPLETED"), "{screen}");
    assert!(screen.contains("approvals waiting none"), "{screen}");

    // The driver finished the run, as `3ox status` says too.
    let mut driver = driver;
    let out = crate::support::output_within_child(&mut driver.0, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = output_within(env.cmd(&["status"]), Duration::from_secs(30));
    assert!(stdout(&status).contains("COMPLETED"), "{}", stdout(&status));
    let records = journal_records(&env);
    let decided = records
        .iter()
        .find(|r| r["event"] == "approval_decided")
        .expect("an approval_decided record");
    assert_eq!(decided["decision"], "approve");
    assert_eq!(decided["comment"], "ship it");
    assert_eq!(events(&records).last().unwrap(), "run_completed");

    // A resize redraws at the new size.
    assert!(
        tmux.tmux(&["resize-window", "-x", "110", "-y", "35"])
            .status
            .success()
    );
    tmux.wait("the frame redrawn 110 wide", |s| {
        s.lines().next().is_some_and(|top| {
            top.starts_with("┌ 3ox top") && top.trim_end().chars().count() == 110
        })
    });

    // `q` quits and gives the terminal back (the shell's line shows on the normal screen).
    tmux.keys(&["q"]);
    let screen = tmux.wait("top's exit", |s| s.contains("top exited"));
    assert!(
        screen.contains("top exited 0"),
        "{screen}\n{}",
        std::fs::read_to_string(&errors).unwrap_or_default()
    );
    assert!(
        !screen.contains("┌ 3ox top"),
        "the alternate screen is left:\n{screen}"
    );
}

#[test]
fn top_read_only_refuses_to_approve_and_says_so() {
    let env = TestEnv::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    env.write("flow.yaml", FLOW);
    env.write(
        "agents/commander/agent.yaml",
        &std::fs::read_to_string(repo.join("agents/commander/agent.yaml")).unwrap(),
    );
    let out = env.run(&["start", "flow.yaml"]);
    assert!(out.status.success());
    let tmux = Tmux::start(&format!(
        "env -u THREEOX_STATION {} --station {} top --read-only; sleep 60",
        shell_quote(Path::new(env!("CARGO_BIN_EXE_3ox"))),
        shell_quote(env.root()),
    ));
    tmux.wait("the run", |s| {
        s.contains("ship_gate") && s.contains("READ-ONLY")
    });
    tmux.keys(&["a"]);
    tmux.wait("the refusal", |s| {
        s.contains("read-only: approve is disabled (--read-only)")
    });
    tmux.keys(&["q"]);
}

#[test]
fn top_without_a_terminal_says_what_to_use_instead() {
    let env = TestEnv::new();
    let out = env.run(&["top"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3ox top needs a terminal"), "{err}");
    assert!(err.contains("3ox approvals"), "{err}");
}
