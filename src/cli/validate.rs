//! `3ox validate <file|dir>...` (skeleton; the validator session fills it in).

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workflow files, or folders searched for *.yaml, *.yml and *.json.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut ok = true;
    for path in &args.paths {
        if let Err(e) = crate::definition::load_file(path) {
            println!("{e}");
            ok = false;
        }
    }
    Ok(if ok { super::EXIT_OK } else { super::EXIT_USAGE })
}
