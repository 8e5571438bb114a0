//! `3ox template list [--json]`: the station's templates with their description and inputs.

use std::path::Path;

use serde_json::{Value, json};

use crate::cli::out::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print `{templates: [{name, file, description, version, inputs, mocks, problem}]}`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let templates = crate::templates::list(&station);
    if args.json {
        let items: Vec<Value> = templates
            .iter()
            .map(|t| {
                let def = t.def.as_ref().ok();
                json!({
                    "name": t.name(),
                    "file": station.relative(&t.path),
                    "description": def.and_then(|d| d.description.clone()),
                    "version": def.map(|d| d.version),
                    "inputs": def.map(|d| serde_json::to_value(&d.inputs).unwrap_or(Value::Null)),
                    "mocks": t.mocks().iter().map(|m| station.relative(m)).collect::<Vec<_>>(),
                    "problem": t.def.as_ref().err(),
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "templates": items }))?
        )?;
        return Ok(crate::cli::EXIT_OK);
    }
    if templates.is_empty() {
        outln!(
            "no templates in {}",
            station.relative(&station.root.join("templates"))
        )?;
        return Ok(crate::cli::EXIT_OK);
    }
    for t in &templates {
        match &t.def {
            Ok(def) => {
                outln!(
                    "{}  {}",
                    def.name,
                    def.description.as_deref().unwrap_or("(no description)")
                )?;
                let names: Vec<String> = def
                    .inputs
                    .iter()
                    .map(|(name, spec)| {
                        let mut s = name.clone();
                        if let Some(ty) = spec.type_name {
                            s.push_str(&format!(": {ty}"));
                        }
                        if spec.required {
                            s.push_str(" (required)");
                        } else if let Some(default) = &spec.default {
                            s.push_str(&format!(" = {default}"));
                        }
                        s
                    })
                    .collect();
                let shown = if names.is_empty() {
                    def.input_parameters.join(", ")
                } else {
                    names.join(", ")
                };
                if !shown.is_empty() {
                    outln!("    inputs: {shown}")?;
                }
            }
            Err(problem) => {
                outln!(
                    "{}  INVALID: {}",
                    t.stem,
                    problem.lines().next().unwrap_or("")
                )?;
            }
        }
    }
    Ok(crate::cli::EXIT_OK)
}
