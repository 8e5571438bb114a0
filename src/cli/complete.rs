//! `3ox complete RUN TASK [--output JSON] [--set KEY=VALUE]... [--failed | --terminal]
//! [--reason TEXT]`: completes a task from outside. It is how a WAIT task with neither
//! `duration` nor `until` ends (Conductor's "complete task"), and it also settles a WAIT
//! still waiting or an agent's attempt in flight (whose late reply is then refused).
//!
//! `--output` takes a JSON object; each `--set key=value` adds one key (the value read as
//! JSON when it is JSON, else as text). `--failed` fails the task instead (its retry policy
//! applies), `--terminal` fails it with FAILED_WITH_TERMINAL_ERROR (never retried).
//!
//! Journaled with who asked (`task_updated_by`); works while a driver drives the run (see
//! [`crate::orchestrator::control`]). Exit 0 applied, 2 refused, 1 queued (see
//! [`super::control`]).

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use super::control::{self, ControlArgs};
use crate::engine::complete::{Completion, CompletionStatus};
use crate::engine::control::Action;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id or a unique prefix of it.
    pub run: String,
    /// The task to complete (its taskReferenceName).
    pub task: String,
    /// The task's output, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub output: Option<String>,
    /// One output key (repeatable); the value is JSON when it reads as JSON, else text.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Fail the task instead of completing it (its retry policy applies).
    #[arg(long, conflicts_with = "terminal")]
    pub failed: bool,
    /// Fail the task with FAILED_WITH_TERMINAL_ERROR: never retried.
    #[arg(long)]
    pub terminal: bool,
    /// Why (recorded in the journal; the failure's reason with --failed).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub control: ControlArgs,
}

/// The output `--output` and `--set` describe.
pub fn output(json: Option<&str>, set: &[String]) -> anyhow::Result<Value> {
    let mut map = match json {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text).context("--output is not JSON")? {
            Value::Object(map) => map,
            other => bail!("--output must be a JSON object, not {other}"),
        },
    };
    for pair in set {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--set {pair}: write KEY=VALUE");
        };
        if key.trim().is_empty() {
            bail!("--set {pair}: the key is empty");
        }
        let value =
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
        map.insert(key.trim().to_string(), value);
    }
    Ok(Value::Object(map))
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let output = match output(args.output.as_deref(), &args.set) {
        Ok(output) => output,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(super::EXIT_USAGE);
        }
    };
    let status = if args.terminal {
        CompletionStatus::FailedWithTerminalError
    } else if args.failed {
        CompletionStatus::Failed
    } else {
        CompletionStatus::Completed
    };
    let done = control::send_with(
        station_flag,
        &args.run,
        Action::Complete,
        Some(args.task),
        args.reason,
        Some(Completion { status, output }),
        &args.control,
    )?;
    Ok(control::code(done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_from_json_and_set() {
        let set = vec![
            "ok=true".to_string(),
            "by=ann".to_string(),
            "n=3".to_string(),
        ];
        assert_eq!(
            output(Some(r#"{"a": 1}"#), &set).unwrap(),
            json!({"a": 1, "ok": true, "by": "ann", "n": 3})
        );
        assert_eq!(output(None, &[]).unwrap(), json!({}));
        assert!(output(Some("[1]"), &[]).is_err());
        assert!(output(Some("{"), &[]).is_err());
        assert!(output(None, &["novalue".to_string()]).is_err());
    }
}
