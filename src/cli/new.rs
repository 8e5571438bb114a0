//! `3ox new "<request>" [-o FILE] [--agent NAME] [--rounds 3]`: a workflow written from a
//! request by a bridge agent (capability `workflow.generate`), validated and dry-run by 3ox,
//! written only when valid. The logic is [`crate::generate`].
//!
//! Exit code 0: the file is written and its Mermaid diagram printed on stdout. 1: no round
//! gave a valid workflow (the last diagnostics are printed; nothing is written). 2: bad usage,
//! no bridge agent, or the bridge run failed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::out::outln;
use crate::generate::{self, GenerateError, Generated, Request};
use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What the workflow is to do, in words.
    pub request: String,
    /// Where to write the workflow (default: workflows/<name>.yaml in the station).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The bridge agent to ask (default: any agent with capability `workflow.generate`).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// At most this many rounds: an answer, then repairs of its diagnostics.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// Replace the output file when it exists.
    #[arg(long)]
    pub force: bool,
    /// Do not start the station's managed agents (their `command`); someone else runs them.
    #[arg(long)]
    pub no_agents: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    if let Some(output) = &args.output
        && output.exists()
        && !args.force
    {
        eprintln!(
            "error: {} exists; nothing was asked\n  = hint: give another --output, or --force to replace it",
            output.display()
        );
        return Ok(super::EXIT_USAGE);
    }
    // Diagnostics name the file as it will be; children are looked up around it.
    let target = args
        .output
        .clone()
        .unwrap_or_else(|| station.root.join("workflows").join("new.yaml"));
    let request = Request {
        request: args.request.clone(),
        agent: args.agent.clone(),
        rounds: args.rounds,
        target: target.clone(),
    };
    let (runtime, _stop) = super::run::runtime_with_stop(false)?;
    let result = runtime.block_on(generate::generate(
        &station,
        &request,
        generate::quiet_options(!args.no_agents),
        |line| eprintln!("{line}"),
    ));
    runtime.shutdown_background();
    let generated = match result {
        Ok(generated) => generated,
        Err(e @ (GenerateError::NoBridge(_) | GenerateError::NoSuchAgent(_))) => {
            eprintln!("error: {e}");
            return Ok(super::EXIT_USAGE);
        }
        Err(e) => {
            eprintln!("error: {e}; nothing was written");
            return Ok(super::EXIT_USAGE);
        }
    };
    match generated {
        Generated::Valid { text, def, rounds } => {
            let path = match &args.output {
                Some(path) => path.clone(),
                None => station
                    .root
                    .join("workflows")
                    .join(format!("{}.yaml", file_stem(&def.name))),
            };
            if args.output.is_none() && path.exists() && !args.force {
                eprintln!(
                    "error: {} exists; nothing was written\n  = hint: give --output, or --force to replace it",
                    path.display()
                );
                return Ok(super::EXIT_USAGE);
            }
            for d in rounds
                .last()
                .map(|r| r.diagnostics.as_slice())
                .unwrap_or_default()
            {
                eprintln!("{}", d.render());
            }
            let path = if path.parent().is_some_and(|p| p.as_os_str().is_empty()) {
                Path::new(".").join(path)
            } else {
                path
            };
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)
                    .with_context(|| format!("cannot create {}", folder.display()))?;
            }
            let mut text = text;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            atomic::write(&path, text.as_bytes(), Durability::Durable)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} (workflow `{}`, valid after {} round{})",
                path.display(),
                def.name,
                rounds.len(),
                if rounds.len() == 1 { "" } else { "s" }
            );
            let diagram =
                crate::graph::mermaid::render(&crate::graph::layout(crate::graph::build(&def)));
            outln!("{}", diagram.trim_end())?;
            Ok(super::EXIT_OK)
        }
        Generated::Refused { rounds } => {
            if let Some(last) = rounds.last() {
                for d in &last.diagnostics {
                    eprintln!("{}", d.render());
                }
            }
            eprintln!(
                "error: no valid workflow after {} round{}; nothing was written",
                rounds.len(),
                if rounds.len() == 1 { "" } else { "s" }
            );
            Ok(super::EXIT_FAILED)
        }
    }
}

/// A workflow name as a file name: letters, digits, `-` and `_`; others become `-`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if stem.is_empty() {
        "new".to_string()
    } else {
        stem
    }
}
