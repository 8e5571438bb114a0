//! The test harness: a temporary station and the real `3ox` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary station, removed when dropped.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    /// A fresh station made by `3ox init`.
    pub fn new() -> TestEnv {
        let env = TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let out = env.cmd(&["init", "."]).output().expect("run 3ox init");
        assert!(
            out.status.success(),
            "3ox init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `3ox <args>` with the station as working folder.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_3ox"));
        cmd.args(args)
            .current_dir(self.root())
            .env_remove("THREEOX_STATION")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `3ox <args>` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run 3ox")
    }

    /// Writes a file below the station root, making folders as needed.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A child process (a `3ox agent run` worker, say) killed and reaped when dropped.
pub struct ChildGuard(pub std::process::Child);

impl ChildGuard {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Calls `check` every 20 ms until it returns `Some`, for at most `timeout`.
pub fn wait_for<T>(
    timeout: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Reads every record of every journal in the station, in order, as plain values.
pub fn journal_records(env: &TestEnv) -> Vec<serde_json::Value> {
    let dir = env.root().join(".3ox/runs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".journal.yaml"))
        .collect();
    paths.sort();
    let mut records = Vec::new();
    for path in paths {
        let contents = threeox::journal::read(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            contents.torn_tail.is_none(),
            "journal {} has a torn tail",
            path.display()
        );
        for record in contents.records {
            records.push(serde_json::to_value(&record).unwrap());
        }
    }
    records
}

/// The `event` names of the records, in order.
pub fn events(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Files directly inside `rel` (below the station), sorted.
pub fn files_in(env: &TestEnv, rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.root().join(rel))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs a command to its end, killing it (and failing the test) after `limit`. Its stdout and
/// stderr are read while it runs (a command that writes more than a pipe holds would
/// otherwise block on the full pipe).
pub fn output_within(mut cmd: Command, limit: std::time::Duration) -> Output {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn 3ox");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out_reader = drain(Box::new(child.stdout.take().expect("stdout")));
    let err_reader = drain(Box::new(child.stderr.take().expect("stderr")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let out = Output {
        status: status.unwrap_or_else(|| child.wait().expect("wait")),
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    };
    if status.is_none() {
        panic!(
            "3ox did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
            stdout(&out),
            stderr(&out)
        );
    }
    out
}

impl TestEnv {
    /// `3ox run <flow> --json --no-agents <extra>` to its end; returns the exit code and the
    /// parsed JSON result.
    pub fn run_flow(&self, flow: &str, extra: &[&str]) -> (i32, serde_json::Value, Output) {
        let mut args = vec!["run", flow, "--json", "--no-agents"];
        args.extend_from_slice(extra);
        let out = output_within(self.cmd(&args), std::time::Duration::from_secs(60));
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON result ({e})\nstdout:\n{}\nstderr:\n{}",
                stdout(&out),
                stderr(&out)
            )
        });
        (out.status.code().unwrap_or(-1), json, out)
    }
}

/// Waits for a spawned child (stdout and stderr piped), killing it after `limit`.
pub fn output_within_child(child: &mut std::process::Child, limit: std::time::Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("3ox did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut out = Output {
        status: child.wait().expect("wait"),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read as _;
    if let Some(mut s) = child.stdout.take() {
        s.read_to_end(&mut out.stdout).unwrap();
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_end(&mut out.stderr).unwrap();
    }
    out
}

/// The Conductor corpus folder (`../shared/corpus/conductor` beside the repository, or
/// `THREEOX_CONDUCTOR_CORPUS`); fails the test with where it was looked for when absent.
pub fn conductor_corpus() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tried = Vec::new();
    if let Ok(dir) = std::env::var("THREEOX_CONDUCTOR_CORPUS") {
        tried.push(std::path::PathBuf::from(dir));
    }
    // `shared/` beside the checkout, or beside the folder of a git worktree.
    tried.extend(
        manifest
            .ancestors()
            .skip(1)
            .take(2)
            .map(|dir| dir.join("shared/corpus/conductor")),
    );
    if let Some(dir) = tried.iter().find(|dir| dir.join("SOURCES.md").is_file()) {
        return dir.clone();
    }
    panic!(
        "the Conductor corpus is absent: looked in {}. It lives in shared/corpus/conductor beside the \
         repository (CI has it there); set THREEOX_CONDUCTOR_CORPUS to its folder to run these tests elsewhere",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}
