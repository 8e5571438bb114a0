//! `3ox template verify [--json]`: every file recorded in templates.lock still has its
//! sha256. Exit 0 when all do, 1 when a file changed or is missing.

use std::path::Path;

use serde_json::json;

use crate::cli::out::outln;
use crate::templates::lock::{self, Lock};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print `{ok, templates, changed: [{template, file, how}]}`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let lock = match Lock::read(&station) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let changed = lock::verify(&station, &lock);
    if args.json {
        let items: Vec<_> = changed
            .iter()
            .map(|c| json!({"template": c.template, "file": c.file, "how": c.how}))
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "ok": changed.is_empty(),
                "templates": lock.templates.len(),
                "changed": items,
            }))?
        )?;
    } else if changed.is_empty() {
        outln!(
            "ok: {} template{} in {} match their sha256",
            lock.templates.len(),
            if lock.templates.len() == 1 { "" } else { "s" },
            lock::FILE
        )?;
    } else {
        for c in &changed {
            outln!("{}: {} {} since it was added", c.template, c.file, c.how)?;
        }
        eprintln!(
            "error: {} file{} differ from {}; `3ox template update NAME` puts the recorded version back",
            changed.len(),
            if changed.len() == 1 { "" } else { "s" },
            lock::FILE
        );
    }
    Ok(if changed.is_empty() {
        crate::cli::EXIT_OK
    } else {
        crate::cli::EXIT_FAILED
    })
}
