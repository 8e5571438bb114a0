//! `3ox template show NAME [--json]`: one template: its inputs, the agents it needs (and who
//! serves them in this station), its mocks, and its diagram in Mermaid (`crate::graph`).

use std::path::Path;

use serde_json::json;

use crate::cli::out::{out, outln};
use crate::definition::inputs;
use crate::graph;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The template: its workflow name (`inventory_validation`) or file name
    /// (`inventory-validation`).
    pub name: String,
    /// Print `{name, file, description, inputs, agents, mocks, mermaid}` as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let template = match super::find_or_explain(&station, &args.name) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let file = station.relative(&template.path);
    let def = match &template.def {
        Ok(def) => def,
        Err(problem) => {
            eprintln!("error: {file} is not a valid workflow:\n{problem}");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let agents = station.agents().map_err(|e| anyhow::anyhow!(e))?;
    let needs = crate::templates::agents_needed(def, &agents);
    let mocks: Vec<String> = template
        .mocks()
        .iter()
        .map(|m| station.relative(m))
        .collect();
    let mermaid = graph::mermaid::render(&graph::layout(graph::build(def)));
    if args.json {
        let needs: Vec<_> = needs
            .iter()
            .map(|n| json!({"needs": n.capability, "as": n.how, "tasks": n.tasks, "served_by": n.served_by}))
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": def.name,
                "file": file,
                "description": def.description,
                "version": def.version,
                "inputs": def.inputs,
                "input_parameters": def.input_parameters,
                "agents": needs,
                "mocks": mocks,
                "mermaid": mermaid,
            }))?
        )?;
        return Ok(crate::cli::EXIT_OK);
    }
    outln!("{} (version {}, {file})", def.name, def.version)?;
    if let Some(d) = &def.description {
        outln!("{d}")?;
    }
    outln!()?;
    outln!("inputs:")?;
    if def.inputs.is_empty() && def.input_parameters.is_empty() {
        outln!("  (none declared)")?;
    }
    for line in inputs::describe(&def.inputs) {
        outln!("  {line}")?;
    }
    for name in def
        .input_parameters
        .iter()
        .filter(|n| !def.inputs.contains_key(*n))
    {
        outln!("  {name} (not typed)")?;
    }
    outln!()?;
    outln!("agents needed:")?;
    if needs.is_empty() {
        outln!("  none: the engine runs every task itself")?;
    }
    for need in &needs {
        let what = match need.how {
            "agent" => format!("agent `{}`", need.capability),
            "approver" => format!("approver `{}`", need.capability),
            _ => format!("`{}`", need.capability),
        };
        let served = if need.served_by.is_empty() {
            "NOT SERVED in this station".to_string()
        } else {
            format!("served by {}", need.served_by.join(", "))
        };
        outln!("  {what} for {}: {served}", need.tasks.join(", "))?;
    }
    if let Some(failure) = def
        .extra
        .get("failureWorkflow")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        outln!(
            "  on failure it starts `{failure}` (show its agents with `3ox template show {failure}`)"
        )?;
    }
    outln!()?;
    outln!("mocks:")?;
    if mocks.is_empty() {
        outln!("  none (add templates/tests/<name>.mocks.yaml; see `3ox test`)")?;
    }
    for m in &mocks {
        outln!("  {m}")?;
    }
    outln!()?;
    outln!("diagram (Mermaid):")?;
    out!("{mermaid}")?;
    Ok(crate::cli::EXIT_OK)
}
