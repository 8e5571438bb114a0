//! The example station `3ox init --example` writes: the repository's own demo, so a new
//! user has something that runs at once. The template library (templates/ and its mocks in
//! templates/tests/, see docs/templates.md), the `commander` approver, the Python demo agents,
//! the built-in LLM agent (`agents/llm`, served by 3ox itself) and the sample inventory
//! folders, all built into the binary from the repository's files.

use std::path::{Path, PathBuf};

/// One file of the example: its path in the station and its bytes.
macro_rules! example {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)).as_slice(),
        )
    };
}

/// Every file of the example station, by path relative to the station root.
pub const FILES: &[(&str, &[u8])] = &[
    example!("agents/change-agent/README.md"),
    example!("agents/change-agent/agent.yaml"),
    example!("agents/change-agent/change.py"),
    example!("agents/commander/README.md"),
    example!("agents/commander/agent.yaml"),
    example!("agents/deployer/README.md"),
    example!("agents/deployer/agent.yaml"),
    example!("agents/deployer/deploy.py"),
    example!("agents/inventory-checker/README.md"),
    example!("agents/inventory-checker/agent.yaml"),
    example!("agents/inventory-checker/check_folder.py"),
    example!("agents/inventory-reporter/README.md"),
    example!("agents/inventory-reporter/agent.yaml"),
    example!("agents/inventory-reporter/report.py"),
    example!("agents/llm/README.md"),
    example!("agents/llm/agent.yaml"),
    example!("agents/llm/prompts/summarise.txt"),
    example!("stations/sample/README.md"),
    example!("stations/sample/inventory-broken/Audit Notes.txt"),
    example!("stations/sample/inventory-broken/MANIFEST.yaml"),
    example!("stations/sample/inventory-broken/servers.yaml"),
    example!("stations/sample/inventory-clean/MANIFEST.yaml"),
    example!("stations/sample/inventory-clean/cables.yml"),
    example!("stations/sample/inventory-clean/notes.txt"),
    example!("stations/sample/inventory-clean/racks.yaml"),
    example!("stations/sample/inventory-flaky/.transient-failure"),
    example!("stations/sample/inventory-flaky/MANIFEST.yaml"),
    example!("stations/sample/inventory-flaky/power.yaml"),
    example!("templates/approval-gate.workflow.yaml"),
    example!("templates/backup-and-verify.workflow.yaml"),
    example!("templates/batch-validation.workflow.yaml"),
    example!("templates/code-review.workflow.yaml"),
    example!("templates/deploy-with-rollback.workflow.yaml"),
    example!("templates/etl-with-retries.workflow.yaml"),
    example!("templates/incident-triage.workflow.yaml"),
    example!("templates/inventory-validation.workflow.yaml"),
    example!("templates/llm-document-pipeline.workflow.yaml"),
    example!("templates/nightly-report.workflow.yaml"),
    example!("templates/release-checklist.workflow.yaml"),
    example!("templates/research-fanout.workflow.yaml"),
    example!("templates/rollback-deploy.workflow.yaml"),
    example!("templates/station-sync.workflow.yaml"),
    example!("templates/tests/approval-gate.deadline.mocks.yaml"),
    example!("templates/tests/approval-gate.mocks.yaml"),
    example!("templates/tests/backup-and-verify.mismatch.mocks.yaml"),
    example!("templates/tests/backup-and-verify.mocks.yaml"),
    example!("templates/tests/batch-validation.mocks.yaml"),
    example!("templates/tests/code-review.mocks.yaml"),
    example!("templates/tests/code-review.rejected.mocks.yaml"),
    example!("templates/tests/deploy-with-rollback.mocks.yaml"),
    example!("templates/tests/deploy-with-rollback.rejected.mocks.yaml"),
    example!("templates/tests/etl-with-retries.mocks.yaml"),
    example!("templates/tests/etl-with-retries.short.mocks.yaml"),
    example!("templates/tests/incident-triage.mocks.yaml"),
    example!("templates/tests/incident-triage.unknown.mocks.yaml"),
    example!("templates/tests/inventory-validation.mocks.yaml"),
    example!("templates/tests/llm-document-pipeline.mocks.yaml"),
    example!("templates/tests/nightly-report.mocks.yaml"),
    example!("templates/tests/release-checklist.failing.mocks.yaml"),
    example!("templates/tests/release-checklist.mocks.yaml"),
    example!("templates/tests/research-fanout.mocks.yaml"),
    example!("templates/tests/rollback-deploy.mocks.yaml"),
    example!("templates/tests/rollback-deploy.nothing-deployed.mocks.yaml"),
    example!("templates/tests/station-sync.dry-run.mocks.yaml"),
    example!("templates/tests/station-sync.mocks.yaml"),
];

/// The command that runs the example's main workflow, for `init` to print.
pub const RUN_HINT: &str = "3ox run templates/inventory-validation.workflow.yaml --input station_root=stations/sample --input 'folders=[inventory-clean, inventory-broken, inventory-flaky]'";

/// Writes the example into the station at `root`; a file that already exists is left as it
/// is (and not listed). Returns the files written.
pub fn write(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (rel, bytes) in FILES {
        let path = root.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        crate::mailbox::atomic::write(&path, bytes, crate::mailbox::atomic::Durability::Durable)?;
        written.push(path);
    }
    Ok(written)
}
