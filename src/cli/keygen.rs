//! `3ox keygen [--out FILE]`: make a Commander's signing key.
//!
//! Writes a new Ed25519 private key file (mode 0o600; by default
//! `$XDG_CONFIG_HOME/3ox/<approver>.key`, else `~/.config/3ox/<approver>.key`) and prints its
//! public key with the `station.yaml` lines that make the station require approvals signed
//! with it. Never overwrites a key unless `--force`. Format: [`crate::mailbox::signing`].

use super::out::outln;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::signing;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the private key (default: ~/.config/3ox/APPROVER.key).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The approver (agent) the key is for, used in the printed station.yaml lines and the
    /// default file name.
    #[arg(long, default_value = "commander", value_name = "NAME")]
    pub approver: String,
    /// Replace an existing key file (approvals signed with the old key stop counting once
    /// station.yaml names the new one).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if crate::mailbox::name_problem(&args.approver).is_some() {
        eprintln!("error: `{}` is not an agent name", args.approver);
        return Ok(super::EXIT_USAGE);
    }
    let path = match args.out {
        Some(path) => path,
        None => match config_dir() {
            Some(dir) => dir.join("3ox").join(format!("{}.key", args.approver)),
            None => {
                eprintln!("error: neither XDG_CONFIG_HOME nor HOME is set\nhint: pass --out FILE");
                return Ok(super::EXIT_USAGE);
            }
        },
    };
    if std::fs::symlink_metadata(&path).is_ok() && !args.force {
        eprintln!(
            "error: {} already exists; keep it, or pass --force to replace it",
            path.display()
        );
        return Ok(super::EXIT_USAGE);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        make_private_dir(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    }
    let key = signing::generate().map_err(anyhow::Error::msg)?;
    atomic::write_with_mode(
        &path,
        signing::key_file_text(&key).as_bytes(),
        Durability::Durable,
        Some(0o600),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    let public = signing::public_key_text(&key.verifying_key());
    outln!(
        "wrote the private key to {} (mode 600): keep it secret",
        path.display()
    )?;
    outln!("public key: {public}")?;
    outln!()?;
    outln!("To accept only approvals signed with it, add to the station's station.yaml:")?;
    outln!()?;
    outln!("version: 1")?;
    outln!("approvers:")?;
    outln!("  {}:", args.approver)?;
    if let Some(uid) = owner_uid(&path) {
        outln!("    users: [{uid}]")?;
    }
    outln!("    key: {public}")?;
    outln!()?;
    outln!(
        "Then sign: 3ox approve <RUN> <TASK> --key {} (or set THREEOX_SIGNING_KEY)",
        path.display()
    )?;
    Ok(super::EXIT_OK)
}

/// `$XDG_CONFIG_HOME`, or else `$HOME/.config`.
fn config_dir() -> Option<PathBuf> {
    let set = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".config")))
}

/// Makes `dir` and its missing parents; the ones it makes are private (mode 0o700).
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(unix)]
fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn owner_uid(_path: &Path) -> Option<u32> {
    None
}
