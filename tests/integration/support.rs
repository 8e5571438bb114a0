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
        let env = TestEnv { dir: tempfile::tempdir().expect("temp dir") };
        let out = env.cmd(&["init", "."]).output().expect("run 3ox init");
        assert!(out.status.success(), "3ox init failed: {}", String::from_utf8_lossy(&out.stderr));
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `3ox <args>` with the station as working folder.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_3ox"));
        cmd.args(args).current_dir(self.root()).env_remove("THREEOX_STATION").env("NO_COLOR", "1");
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
pub fn wait_for<T>(timeout: std::time::Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
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
