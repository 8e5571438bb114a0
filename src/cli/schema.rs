//! `3ox schema`: prints the JSON Schema of the workflow format, for editors' YAML extensions
//! (`docs/workflow.schema.json` is this output, committed).

use std::io::Write as _;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    let text = crate::definition::schema::workflow_schema_text();
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    Ok(super::EXIT_OK)
}
