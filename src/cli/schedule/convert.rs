//! `3ox schedule import FILE.json` and `3ox schedule export NAME`: Conductor's schedule JSON
//! (see `crate::schedule::conductor` for the mapping). What does not carry over is said on
//! stderr as a note.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use crate::cli::out::outln;
use crate::mailbox::atomic::{self, Durability};
use crate::schedule::conductor;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A Conductor schedule JSON file (one schedule, or an array of them).
    pub file: PathBuf,
    /// Print the YAML on stdout instead of writing schedules/<name>.yaml.
    #[arg(long)]
    pub stdout: bool,
    /// Replace a schedule file that exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The schedule (its file name without `.yaml`).
    pub name: String,
}

pub fn import(station_flag: Option<&Path>, args: ImportArgs) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let doc: Value = match serde_json::from_str(&text) {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("error: {} is not JSON: {e}", args.file.display());
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let docs = match doc {
        Value::Array(docs) => docs,
        one => vec![one],
    };
    let station = if args.stdout {
        None
    } else {
        Some(crate::cli::station(station_flag)?)
    };
    let mut code = crate::cli::EXIT_OK;
    for doc in &docs {
        let imported = match conductor::import(doc) {
            Ok(imported) => imported,
            Err(why) => {
                eprintln!("error: {}: {why}", args.file.display());
                code = crate::cli::EXIT_USAGE;
                continue;
            }
        };
        for note in &imported.notes {
            eprintln!("note: schedule `{}`: {note}", imported.name);
        }
        let yaml = crate::mailbox::yaml::to_string(&imported.file).map_err(anyhow::Error::msg)?;
        let Some(station) = &station else {
            if docs.len() > 1 {
                outln!("---")?;
            }
            outln!("# schedules/{}.yaml\n{}", imported.name, yaml.trim_end())?;
            continue;
        };
        let dir = station.root.join(crate::schedule::file::SCHEDULES_DIR);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{}.yaml", imported.name));
        if path.exists() && !args.force {
            eprintln!(
                "error: {} exists; nothing was written (--force replaces it)",
                station.relative(&path)
            );
            code = crate::cli::EXIT_USAGE;
            continue;
        }
        if let Err(e) = crate::schedule::file::check(station, &path, imported.file.clone()) {
            eprintln!("warning: {e}");
        }
        atomic::write(&path, yaml.as_bytes(), Durability::Durable)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", station.relative(&path));
    }
    Ok(code)
}

pub fn export(station_flag: Option<&Path>, args: ExportArgs) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let path = match super::path_or_explain(&station, &args.name) {
        Ok(path) => path,
        Err(code) => return Ok(code),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let file: crate::schedule::ScheduleFile = match serde_yaml::from_str(&text) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("error: {}: not a schedule: {e}", station.relative(&path));
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    // The workflow's own name and version, when the station has it.
    let workflow = crate::schedule::file::resolve_workflow(&station, &file.workflow)
        .ok()
        .and_then(|p| crate::definition::load_file(&p).ok())
        .map(|def| (def.name.clone(), def.version));
    if workflow.is_none() {
        eprintln!(
            "note: workflow `{}` is not in this station; exported with version 1",
            file.workflow
        );
    }
    let (doc, notes) = conductor::export(&args.name, &file, workflow);
    for note in &notes {
        eprintln!("note: {note}");
    }
    outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    Ok(crate::cli::EXIT_OK)
}
