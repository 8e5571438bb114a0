//! `3ox conductor register|worker URL`: move a station's workflows and agents onto a
//! Conductor cluster (see `crate::conductor` and docs/conductor.md).

use std::path::Path;
use std::time::Duration;

use crate::conductor::auth::Auth;
use crate::conductor::client::{Client, Retry};
use crate::conductor::{register, worker};

#[derive(Debug, clap::Subcommand)]
pub enum ConductorCommand {
    /// Put the station's workflows and their task definitions on a Conductor server.
    Register(RegisterArgs),
    /// Serve the server's task queues with the station's agents (until stopped).
    Worker(WorkerArgs),
}

/// How to reach and authenticate to the server.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The server, e.g. `http://localhost:8080` (the REST API is under `/api`).
    pub url: String,
    /// Application key id, exchanged with --secret for a token at /api/token.
    #[arg(long, env = "CONDUCTOR_AUTH_KEY", value_name = "KEY")]
    pub key: Option<String>,
    /// Application key secret.
    #[arg(long, env = "CONDUCTOR_AUTH_SECRET", value_name = "SECRET")]
    pub secret: Option<String>,
    /// A token sent as `X-Authorization` as is.
    #[arg(long, env = "CONDUCTOR_AUTH_TOKEN", value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print the task definitions and workflows that would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse (exit 2, nothing sent) when a workflow would mean something else on the cluster.
    #[arg(long)]
    pub strict: bool,
    /// `ownerEmail` for the workflows and task definitions (servers may require one).
    #[arg(long, value_name = "EMAIL")]
    pub owner_email: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Serve only this agent (repeatable; default: every agent with capabilities).
    #[arg(long, value_name = "NAME")]
    pub agent: Vec<String>,
    /// How long the server holds each poll open, and how often outboxes are rescanned.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// `callbackAfterSeconds` sent with an IN_PROGRESS heartbeat.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub callback_after: u64,
    /// The `workerid` sent to the server (default: 3ox@<host>).
    #[arg(long, value_name = "ID")]
    pub worker_id: Option<String>,
}

pub fn run(station_flag: Option<&Path>, cmd: ConductorCommand) -> anyhow::Result<u8> {
    match cmd {
        ConductorCommand::Register(args) => run_register(station_flag, args),
        ConductorCommand::Worker(args) => run_worker(station_flag, args),
    }
}

fn auth(server: &ServerArgs) -> anyhow::Result<Auth> {
    Auth::from_flags(
        server.key.clone(),
        server.secret.clone(),
        server.token.clone(),
    )
    .map_err(anyhow::Error::msg)
}

fn run_register(station_flag: Option<&Path>, args: RegisterArgs) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let auth = match auth(&args.server) {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(super::EXIT_USAGE);
        }
    };
    let plan = register::plan(&station, args.strict, args.owner_email.as_deref());
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    if !plan.errors.is_empty() {
        for error in &plan.errors {
            eprintln!("error: {error}");
        }
        eprintln!("nothing registered");
        return Ok(super::EXIT_USAGE);
    }
    if args.dry_run {
        println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        return Ok(super::EXIT_OK);
    }
    let client = Client::new(
        &args.server.url,
        auth,
        Duration::from_secs(30),
        Retry {
            first: Duration::from_millis(500),
            max_tries: Some(5),
        },
    );
    if let Err(e) = register::send(&client, &plan) {
        eprintln!("error: {e}");
        return Ok(super::EXIT_FAILED);
    }
    eprintln!(
        "registered {} workflow(s) and {} task definition(s) at {}",
        plan.workflows.len(),
        plan.task_defs.len(),
        client.base()
    );
    Ok(super::EXIT_OK)
}

fn run_worker(station_flag: Option<&Path>, args: WorkerArgs) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let auth = match auth(&args.server) {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(super::EXIT_USAGE);
        }
    };
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let config = worker::WorkerConfig {
        agents: args.agent,
        poll_interval: args.poll_interval,
        worker_id: args.worker_id.unwrap_or_else(|| format!("3ox@{host}")),
        callback_after: args.callback_after,
    };
    let client = Client::new(
        &args.server.url,
        auth,
        args.poll_interval + Duration::from_secs(30),
        Retry {
            first: Duration::from_millis(200),
            max_tries: None,
        },
    );
    match worker::run(&station, client, config) {
        Ok(()) => Ok(super::EXIT_OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(super::EXIT_USAGE)
        }
    }
}
