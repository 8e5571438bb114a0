//! The example station `3ox init --example` writes: the repository's own demo, so a new
//! user has something that runs at once. The inventory-validation workflow and its mocks, the
//! approval-gate template, the `commander` approver, the two Python demo agents, the built-in
//! LLM agent (`agents/llm`, served by 3ox itself) and the sample
//! inventory folders, all built into the binary from the repository's files.

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
    example!("agents/commander/README.md"),
    example!("agents/commander/agent.yaml"),
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
    example!("templates/inventory-validation.workflow.yaml"),
    example!("templates/tests/approval-gate.deadline.mocks.yaml"),
    example!("templates/tests/approval-gate.mocks.yaml"),
    example!("templates/tests/inventory-validation.mocks.yaml"),
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
