//! The dashboard in a real browser: runs `tests/browser/dashboard.py` (Playwright for Python
//! driving the system Chromium) against the binary under test. It loads each page and saves
//! screenshots under `target/browser-shots/`, approves a HUMAN task from the page and sees the
//! run complete, watches a running task turn green without a reload, and checks a wrong Host,
//! a wrong Origin and a missing token. It fails, saying what to install, when Chromium or
//! Playwright is missing (`.ci/run` installs both).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{output_within, stderr, stdout};

#[test]
fn the_dashboard_works_in_a_real_browser() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "the browser tests need Chromium at /usr/bin/chromium\nhint: apt-get install -y chromium (.ci/run does)"
    );
    let probe = Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .output()
        .expect("python3 runs");
    assert!(
        probe.status.success(),
        "the browser tests need Playwright for Python: {}\nhint: pip install playwright (the package only; the system Chromium is used, so no `playwright install`)",
        String::from_utf8_lossy(&probe.stderr)
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_3ox"));
    // target/<profile>/3ox -> target/browser-shots
    let shots = bin
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in target/<profile>/")
        .join("browser-shots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .env("THREEOX_BIN", bin)
        .env("THREEOX_SHOTS", &shots)
        .env_remove("THREEOX_STATION");
    let out = output_within(cmd, Duration::from_secs(180));
    assert!(
        out.status.success(),
        "the browser checks failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("every browser check passed"),
        "{}",
        stdout(&out)
    );
    for shot in [
        "runs",
        "run",
        "run-live",
        "task",
        "approvals",
        "agents",
        "workflows",
        "workflow",
    ] {
        let file = shots.join(format!("{shot}.png"));
        let len = std::fs::metadata(&file).map_or(0, |m| m.len());
        assert!(len > 1000, "no screenshot {}", file.display());
    }
}

/// The workflow editor in a real browser (`tests/browser/editor.py`): type an error and see
/// its diagnostic with its line (listed and marked in the gutter), fix it and see the diagram,
/// save and find the file written; an invalid save writes nothing; no script or CSP error.
#[test]
fn the_workflow_editor_works_in_a_real_browser() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium at /usr/bin/chromium\nhint: apt-get install -y chromium (.ci/run does)"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_3ox"));
    let shots = bin
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in target/<profile>/")
        .join("browser-shots");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/editor.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .env("THREEOX_BIN", bin)
        .env("THREEOX_SHOTS", &shots)
        .env_remove("THREEOX_STATION");
    let out = output_within(cmd, Duration::from_secs(120));
    assert!(
        out.status.success() && stdout(&out).contains("every editor check passed"),
        "the editor's browser checks failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    for shot in ["editor-error", "editor"] {
        let file = shots.join(format!("{shot}.png"));
        let len = std::fs::metadata(&file).map_or(0, |m| m.len());
        assert!(len > 1000, "no screenshot {}", file.display());
    }
}
