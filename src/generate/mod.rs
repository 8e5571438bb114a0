//! `3ox new "<request>"`: a workflow written from a request by a bridge agent, checked by 3ox.
//!
//! Each round is a real run of a one-task workflow, `workflow_generate`, driven by the
//! orchestrator like any other ([`crate::orchestrator::run_workflow`]): its SIMPLE task
//! `workflow.generate` goes through the mailbox to an agent with that capability (or the one
//! named with `--agent`), and is in the station's journal like every run. The task's input
//! ([`request_input`]) carries the request, the JSON Schema of the workflow format, the
//! station's agents and their capabilities, a few of the station's templates as examples, and,
//! from the second round on, the previous answer and its diagnostics; plus `instructions` and
//! `prompt`, the same composed as text, so that the built-in LLM agent serves the task as an
//! ordinary chat completion.
//!
//! What comes back ([`answer_text`]: `output.workflow`, YAML text or a mapping, else the LLM
//! agent's `output.result` with any Markdown fence removed) is checked with the validator of
//! `3ox validate` (with the station's agents), then dry-run over every SWITCH path
//! ([`dry_run`]). Diagnostics that are errors go back to the bridge in the next round, at most
//! `rounds` rounds. The caller writes the file only for [`Generated::Valid`].

pub mod dry_run;

use std::path::Path;

use serde_json::{Value, json};

use crate::definition::source::Source;
use crate::definition::{Diagnostic, Severity, WorkflowDef};
use crate::orchestrator::{self, Control, OrchestratorError, RunOptions, progress};
use crate::station::Station;

/// The capability a bridge agent serves.
pub const CAPABILITY: &str = "workflow.generate";
/// The name of the workflow each round runs.
pub const WORKFLOW: &str = "workflow_generate";
/// How many of the station's templates go with the request as examples.
pub const EXAMPLES: usize = 3;

/// What `3ox new` asks for.
#[derive(Debug, Clone)]
pub struct Request {
    pub request: String,
    /// The bridge agent; `None`: any agent with [`CAPABILITY`].
    pub agent: Option<String>,
    pub rounds: u32,
    /// Where the workflow is to be written (children are looked up around it; diagnostics
    /// name it).
    pub target: std::path::PathBuf,
}

/// One round: what the bridge answered and what 3ox found in it.
#[derive(Debug, Clone)]
pub struct Round {
    pub run_id: String,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// How the generation ended.
#[derive(Debug)]
pub enum Generated {
    /// A valid workflow: its text and definition; `rounds` holds every round, the last one
    /// valid (its diagnostics at most warnings).
    Valid {
        text: String,
        def: Box<WorkflowDef>,
        rounds: Vec<Round>,
    },
    /// No round gave a valid workflow; the last round's diagnostics say why.
    Refused { rounds: Vec<Round> },
}

/// Why generation could not go on at all.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "no agent of this station serves `{CAPABILITY}`{0}\nhint: add `{CAPABILITY}` to an agent's capabilities (the built-in LLM agent, agents/llm, can serve it), or name one with --agent"
    )]
    NoBridge(String),
    #[error("no agent `{0}` in this station (agents/{0}/agent.yaml)")]
    NoSuchAgent(String),
    #[error("the bridge run {run_id} ended {status}: {reason}")]
    BridgeFailed {
        run_id: String,
        status: String,
        reason: String,
    },
    #[error("the bridge run was interrupted; it is {run_id} in the journal")]
    Interrupted { run_id: String },
    #[error(transparent)]
    Orchestrator(#[from] OrchestratorError),
    #[error(transparent)]
    Station(#[from] crate::station::StationError),
}

/// Runs up to `request.rounds` rounds with the bridge. `say` is told what happens (one line
/// each: a round asked, a round's verdict).
pub async fn generate(
    station: &Station,
    request: &Request,
    options: RunOptions,
    mut say: impl FnMut(&str),
) -> Result<Generated, GenerateError> {
    let agents = station.agents()?;
    match &request.agent {
        Some(name) if agents.get(name).is_none() => {
            return Err(GenerateError::NoSuchAgent(name.clone()));
        }
        None if agents.serving(CAPABILITY).next().is_none() => {
            return Err(GenerateError::NoBridge(String::new()));
        }
        _ => {}
    }
    let shown = request.target.display().to_string();
    let examples = examples(station);
    let mut rounds: Vec<Round> = Vec::new();
    for round in 1..=request.rounds.max(1) {
        let previous = rounds.last();
        let input = request_input(request, &agents, &examples, round, previous);
        say(&format!(
            "round {round}/{}: asking {} for a workflow",
            request.rounds.max(1),
            request.agent.as_deref().map_or_else(
                || format!("an agent with `{CAPABILITY}`"),
                |a| format!("agent `{a}`")
            )
        ));
        let (run_id, output) =
            ask(station, request.agent.as_deref(), input, options.clone()).await?;
        let text = answer_text(&output);
        let diagnostics = check(&request.target, &shown, &text, &agents);
        let errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if errors == 0 {
            let def = crate::definition::parse_str(&text, Path::new(&shown))
                .expect("checked: the workflow loads");
            say(&format!("round {round}: valid (run {run_id})"));
            rounds.push(Round {
                run_id,
                text: text.clone(),
                diagnostics,
            });
            return Ok(Generated::Valid {
                text,
                def: Box::new(def),
                rounds,
            });
        }
        say(&format!(
            "round {round}: {errors} error{} (run {run_id})",
            if errors == 1 { "" } else { "s" }
        ));
        rounds.push(Round {
            run_id,
            text,
            diagnostics,
        });
    }
    Ok(Generated::Refused { rounds })
}

/// The validator of `3ox validate` (with the station's agents), then, when it finds no
/// error, the dry run over every SWITCH path.
pub fn check(
    target: &Path,
    shown: &str,
    text: &str,
    agents: &crate::station::AgentDirectory,
) -> Vec<Diagnostic> {
    if text.trim().is_empty() {
        return vec![Diagnostic::at(
            shown,
            "",
            crate::definition::source::Position::START,
            "the bridge answered no workflow",
            Some(
                "answer with `output.workflow` (the YAML text, or the workflow as a mapping)"
                    .to_string(),
            ),
        )];
    }
    let mut diagnostics = crate::cli::validate::check_text(target, shown, text, Some(agents));
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return diagnostics;
    }
    if let Ok(src) = Source::parse(text, shown) {
        diagnostics.extend(dry_run::check(&src));
    }
    diagnostics
}

/// Runs one round's `workflow_generate` run; its run id and the task's output.
async fn ask(
    station: &Station,
    agent: Option<&str>,
    input: Value,
    options: RunOptions,
) -> Result<(String, Value), GenerateError> {
    let def = bridge_workflow(agent);
    // The run ends by itself; nobody sends it anything (Ctrl-C ends the process).
    let (_keep, control) = tokio::sync::mpsc::channel::<Control>(1);
    let outcome = orchestrator::run_workflow(
        station,
        def,
        format!("(3ox new: {WORKFLOW})"),
        input,
        options,
        control,
    )
    .await;
    let outcome = match outcome {
        Err(OrchestratorError::Refused(reason)) => {
            return Err(GenerateError::NoBridge(format!(": {reason}")));
        }
        other => other?,
    };
    if outcome.interrupted {
        return Err(GenerateError::Interrupted {
            run_id: outcome.run_id,
        });
    }
    if outcome.status != crate::engine::RunStatus::Completed {
        return Err(GenerateError::BridgeFailed {
            run_id: outcome.run_id,
            status: outcome.status.to_string(),
            reason: outcome
                .failure
                .map_or_else(|| "no reason given".to_string(), |f| f.reason),
        });
    }
    Ok((outcome.run_id, outcome.output.unwrap_or(Value::Null)))
}

/// The one-task workflow each round runs.
pub fn bridge_workflow(agent: Option<&str>) -> WorkflowDef {
    let fields = [
        "request",
        "round",
        "schema",
        "agents",
        "examples",
        "previous",
        "diagnostics",
        "instructions",
        "prompt",
    ];
    let mut task = json!({
        "name": CAPABILITY,
        "taskReferenceName": "generate",
        "type": "SIMPLE",
        "inputParameters": fields
            .iter()
            .map(|f| (f.to_string(), json!(format!("${{workflow.input.{f}}}"))))
            .collect::<serde_json::Map<_, _>>(),
    });
    if let Some(agent) = agent {
        task["agent"] = json!(agent);
    }
    let def = json!({
        "name": WORKFLOW,
        "version": 1,
        "description": "3ox new: one round of writing a workflow from a request",
        "tasks": [task],
    });
    serde_json::from_value(def).expect("the bridge workflow is a workflow")
}

/// A template given as an example.
#[derive(Debug, Clone)]
struct Example {
    name: String,
    text: String,
}

/// The station's smallest valid templates, at most [`EXAMPLES`].
fn examples(station: &Station) -> Vec<Example> {
    let mut found: Vec<Example> = crate::templates::list(station)
        .into_iter()
        .filter(|t| t.def.is_ok())
        .filter_map(|t| {
            let text = std::fs::read_to_string(&t.path).ok()?;
            Some(Example {
                name: t.name().to_string(),
                text,
            })
        })
        .collect();
    found.sort_by_key(|e| (e.text.len(), e.name.clone()));
    found.truncate(EXAMPLES);
    found
}

/// The input of one round's task.
fn request_input(
    request: &Request,
    agents: &crate::station::AgentDirectory,
    examples: &[Example],
    round: u32,
    previous: Option<&Round>,
) -> Value {
    let schema: Value = serde_json::from_str(&crate::definition::schema::workflow_schema_text())
        .unwrap_or_default();
    let agent_list: Vec<Value> = agents
        .agents
        .iter()
        .map(|(name, a)| {
            json!({
                "name": name,
                "description": a.description,
                "capabilities": a.capabilities,
            })
        })
        .collect();
    let example_list: Vec<Value> = examples
        .iter()
        .map(|e| json!({"name": e.name, "yaml": e.text}))
        .collect();
    let diagnostics: Vec<String> = previous
        .map(|p| {
            p.diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(one_line)
                .collect()
        })
        .unwrap_or_default();
    let previous_text = previous.map(|p| p.text.clone());
    let prompt = prompt(
        &request.request,
        &agent_list,
        examples,
        previous_text.as_deref(),
        &diagnostics,
        &schema,
    );
    json!({
        "request": request.request,
        "round": round,
        "schema": schema,
        "agents": agent_list,
        "examples": example_list,
        "previous": previous_text,
        "diagnostics": diagnostics,
        "instructions": INSTRUCTIONS,
        "prompt": prompt,
    })
}

/// A diagnostic as one line: `file:line:col: message (hint: ...)`.
pub fn one_line(d: &Diagnostic) -> String {
    let hint = d
        .hint
        .as_deref()
        .map(|h| format!(" (hint: {h})"))
        .unwrap_or_default();
    format!("{}:{}:{}: {}{hint}", d.file, d.line, d.column, d.message)
}

const INSTRUCTIONS: &str = "You write workflows for 3ox, a Conductor-style workflow engine. \
Answer with one workflow definition in YAML and nothing else (no explanation). Use only task \
types and fields of the JSON Schema given, and, for SIMPLE tasks, task names that the \
station's agents list among their capabilities (or name the agent with `agent:`).";

fn prompt(
    request: &str,
    agents: &[Value],
    examples: &[Example],
    previous: Option<&str>,
    diagnostics: &[String],
    schema: &Value,
) -> String {
    let mut text = format!("Request: {request}\n\nThe station's agents:\n");
    for agent in agents {
        text.push_str(&format!(
            "- {} ({}): capabilities {}\n",
            agent["name"].as_str().unwrap_or_default(),
            agent["description"].as_str().unwrap_or("no description"),
            agent["capabilities"]
        ));
    }
    for example in examples {
        text.push_str(&format!(
            "\nExample workflow `{}`:\n```yaml\n{}\n```\n",
            example.name,
            example.text.trim_end()
        ));
    }
    if let Some(previous) = previous {
        text.push_str(&format!(
            "\nYour previous answer:\n```yaml\n{}\n```\nIt was refused with these problems; fix them all:\n",
            previous.trim_end()
        ));
        for d in diagnostics {
            text.push_str(&format!("- {d}\n"));
        }
    }
    text.push_str(&format!(
        "\nThe JSON Schema of the workflow format:\n{}\n",
        serde_json::to_string(schema).unwrap_or_default()
    ));
    text
}

/// The workflow text in a bridge's output: `workflow` (text, or a mapping written out as
/// YAML), else `result` (the LLM agent's answer) without a Markdown code fence around it.
pub fn answer_text(output: &Value) -> String {
    match output.get("workflow") {
        Some(Value::String(text)) => return unfence(text),
        Some(value @ Value::Object(_)) => {
            return serde_yaml::to_string(value).unwrap_or_default();
        }
        _ => {}
    }
    match output.get("result") {
        Some(Value::String(text)) => unfence(text),
        Some(value @ Value::Object(_)) => serde_yaml::to_string(value).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The inside of the first ```` ``` ```` fence of `text`, or `text` when it has none.
fn unfence(text: &str) -> String {
    let Some(start) = text.find("```") else {
        return text.to_string();
    };
    let after = &text[start + 3..];
    let body = after.split_once('\n').map_or("", |(_, body)| body);
    let body = body.find("```").map_or(body, |end| &body[..end]);
    body.to_string()
}

/// The default progress of a round's run: quiet (3ox new says what happens itself).
pub fn quiet_options(start_agents: bool) -> RunOptions {
    RunOptions {
        progress: progress::Mode::Quiet,
        start_agents,
        ..RunOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_taken_from_workflow_or_from_a_fenced_result() {
        assert_eq!(answer_text(&json!({"workflow": "name: a\n"})), "name: a\n");
        assert_eq!(
            answer_text(&json!({"result": "Here:\n```yaml\nname: b\ntasks: []\n```\nbye"})),
            "name: b\ntasks: []\n"
        );
        assert_eq!(
            answer_text(&json!({"workflow": {"name": "c"}})),
            "name: c\n"
        );
        assert_eq!(answer_text(&json!({})), "");
    }

    #[test]
    fn the_bridge_workflow_maps_every_field_and_names_the_agent() {
        let def = bridge_workflow(Some("writer"));
        assert_eq!(def.tasks[0].agent.as_deref(), Some("writer"));
        assert_eq!(def.tasks[0].name, CAPABILITY);
        assert_eq!(
            def.tasks[0].input_parameters["request"],
            json!("${workflow.input.request}")
        );
    }

    fn dry(text: &str) -> Vec<Diagnostic> {
        let src = Source::parse(text, "flow.yaml").unwrap();
        dry_run::check(&src)
    }

    #[test]
    fn the_dry_run_finds_a_switch_case_that_fails_and_passes_a_terminate() {
        let bad = "name: s\nversion: 1\ntasks:\n  - name: pick\n    taskReferenceName: pick\n    type: SWITCH\n    evaluatorType: value-param\n    expression: kind\n    inputParameters: {kind: a}\n    decisionCases:\n      a: [{name: ok, taskReferenceName: ok, type: NOOP}]\n      b:\n        - name: broken\n          taskReferenceName: broken\n          type: INLINE\n          inputParameters: {evaluatorType: javascript, expression: \"throw new Error('boom')\"}\n    defaultCase:\n      - {name: stop, taskReferenceName: stop, type: TERMINATE, inputParameters: {terminationStatus: FAILED}}\n";
        let found = dry(bad);
        let errors: Vec<&Diagnostic> = found
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{found:#?}");
        assert!(
            errors[0].message.contains("case `b`"),
            "{}",
            errors[0].message
        );
        assert_eq!(errors[0].line, 4);
    }
}
