//! The command line: one file per subcommand. `main` parses with clap and calls [`run()`].

pub mod agent;
pub mod approve;
pub mod control;
pub mod doctor;
pub mod gc;
pub mod history;
pub mod init;
pub mod keygen;
pub mod list;
pub mod log;
pub mod pause;
pub mod reject;
pub mod rerun;
pub mod restart;
pub mod resume;
pub mod retry;
pub mod run;
pub mod skip;
pub mod start;
pub mod status;
pub mod terminate;
pub mod up;
pub mod validate;

pub mod complete;

pub mod out;
pub mod table;

pub mod jq_sandbox;

pub mod export;
pub mod follow;
pub mod import;
pub mod schema;

pub mod test;

pub mod template;

pub mod schedule;

pub mod conductor;
pub mod mcp;
pub mod new;

pub mod approvals;
pub mod completions;
pub mod graph;
pub mod man;
pub mod serve;
pub mod top;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit code: the command did what was asked (a run COMPLETED, a file is valid).
pub const EXIT_OK: u8 = 0;
/// Exit code: a run ended FAILED.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: a foreground run was interrupted (Ctrl-C) before it ended.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code: bad usage, an invalid workflow, or an error before anything ran.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "3ox", version, about = "Durable Conductor-style workflows over a filesystem mailbox", long_about = None)]
pub struct Cli {
    /// The station to work in (default: the nearest folder at or above the current one with
    /// `.3ox/` or `agents/`).
    #[arg(long, global = true, env = "THREEOX_STATION", value_name = "DIR")]
    pub station: Option<PathBuf>,

    /// How log lines on stderr look: `text` for people, `json` (one object a line) for
    /// machines. What is logged is set with `RUST_LOG` (default `warn`).
    #[arg(
        long,
        global = true,
        env = "THREEOX_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The form of the log lines on stderr (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, with the event's fields (`run`, `task`, `agent`, `path`).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a station: agents/, stations/, templates/ and .3ox/.
    Init(init::Args),
    /// Check workflow files and report every problem with file:line:col and a hint.
    Validate(validate::Args),
    /// Start a run of a workflow in this station and drive it to the end.
    Run(run::Args),
    /// Submit a run and print its id at once; `3ox up` (or `3ox resume`) drives it.
    Start(start::Args),
    /// Drive every submitted or orphaned run of the station until stopped.
    Up(up::Args),
    /// Resume runs after a crash (one run, or every run nobody drives) in the foreground;
    /// unpauses a paused run first.
    Resume(resume::Args),
    /// Pause a run: nothing new is delivered until `3ox resume RUN`.
    Pause(pause::Args),
    /// End a run now: TERMINATED, with a reason.
    Terminate(terminate::Args),
    /// Retry an ended run from its failed or canceled task(s), keeping completed work.
    Retry(retry::Args),
    /// Start an ended run again from the top, under the same run id (as Conductor).
    Restart(restart::Args),
    /// Run an ended run again from a task (it and what follows it).
    Rerun(rerun::Args),
    /// Skip a pending or failed task: SKIPPED with an empty output; the run goes on.
    Skip(skip::Args),
    /// Show one run (default: the newest): status, tasks, attempts, agents, output.
    Status(status::Args),
    /// List the station's runs, filtered by status or workflow.
    List(list::Args),
    /// A run's journal as a readable timeline of tasks and attempts.
    Log(log::Args),
    /// Finished runs, newest first.
    History(history::Args),
    /// Check the station: verify every journal, rebuild and compare the state snapshot.
    Doctor(doctor::Args),
    /// Archive or delete finished runs and old handled mail.
    Gc(gc::Args),
    /// Approve a HUMAN task's open request (writes the approval file).
    Approve(approve::Args),
    /// Reject a HUMAN task's open request (writes the approval file).
    Reject(reject::Args),
    /// List the approval requests waiting, and for whom.
    Approvals(approvals::Args),
    /// Make a signing key for approvals; prints the station.yaml lines that require it.
    Keygen(keygen::Args),
    /// Agent commands.
    #[command(subcommand)]
    Agent(agent::AgentCommand),

    /// Complete (or fail) a waiting task from outside: a WAIT, or an attempt in flight.
    Complete(complete::Args),
    /// The child process JSON_JQ_TRANSFORM programs run in (internal).
    #[command(name = "jq-sandbox", hide = true)]
    JqSandbox(jq_sandbox::Args),

    /// A Conductor workflow definition (JSON) as readable 3ox YAML.
    Import(import::Args),
    /// A 3ox workflow as Conductor JSON; what Conductor cannot say is reported.
    Export(export::Args),
    /// Print the JSON Schema of the workflow format (for editors).
    Schema(schema::Args),
    /// Run a workflow with mocked task outcomes (no agents, no station) and print its path.
    Test(test::Args),
    /// Draw a workflow as a diagram: Mermaid, Graphviz DOT or SVG.
    Graph(graph::Args),
    /// A live terminal dashboard: runs, task trees, events, approvals; approve and steer.
    Top(top::Args),
    /// The station's template library: list, show, new, add, verify, update, search.
    #[command(subcommand)]
    Template(template::TemplateCommand),
    /// The station's schedules (schedules/*.yaml, fired by `3ox up`): list, pause, resume,
    /// trigger, next, import, export.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Write a workflow from a request: a bridge agent (capability `workflow.generate`) drafts
    /// it, 3ox validates and dry-runs it, asks for repairs, and writes it only when valid.
    New(new::Args),
    /// Serve an agent's tasks to a model as an MCP server over stdio (list, get, claim,
    /// heartbeat, reply).
    Mcp(mcp::Args),
    /// Scale out onto a Conductor cluster: register the station's workflows, serve its
    /// task queues with the station's agents.
    #[command(subcommand)]
    Conductor(conductor::ConductorCommand),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(alias = "completion")]
    Completions(completions::Args),
    /// Print the manual page (roff): `3ox man | man -l -`.
    Man(man::Args),
    /// Serve the local web dashboard: runs, diagrams, timelines, approvals, agents.
    Serve(serve::Args),
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Validate(args) => validate::run(cli.station.as_deref(), args),
        Command::Run(args) => run::run(cli.station.as_deref(), args),
        Command::Start(args) => start::run(cli.station.as_deref(), args),
        Command::Up(args) => up::run(cli.station.as_deref(), args),
        Command::Resume(args) => resume::run(cli.station.as_deref(), args),
        Command::Pause(args) => pause::run(cli.station.as_deref(), args),
        Command::Terminate(args) => terminate::run(cli.station.as_deref(), args),
        Command::Retry(args) => retry::run(cli.station.as_deref(), args),
        Command::Restart(args) => restart::run(cli.station.as_deref(), args),
        Command::Rerun(args) => rerun::run(cli.station.as_deref(), args),
        Command::Skip(args) => skip::run(cli.station.as_deref(), args),
        Command::Status(args) => status::run(cli.station.as_deref(), args),
        Command::List(args) => list::run(cli.station.as_deref(), args),
        Command::Log(args) => log::run(cli.station.as_deref(), args),
        Command::History(args) => history::run(cli.station.as_deref(), args),
        Command::Doctor(args) => doctor::run(cli.station.as_deref(), args),
        Command::Gc(args) => gc::run(cli.station.as_deref(), args),
        Command::Approve(args) => approve::run(cli.station.as_deref(), args),
        Command::Reject(args) => reject::run(cli.station.as_deref(), args),
        Command::Approvals(args) => approvals::run(cli.station.as_deref(), args),
        Command::Keygen(args) => keygen::run(args),
        Command::Agent(cmd) => agent::run(cli.station.as_deref(), cmd),

        Command::Complete(args) => complete::run(cli.station.as_deref(), args),
        Command::JqSandbox(args) => jq_sandbox::run(args),

        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Test(args) => test::run(args),
        Command::Graph(args) => graph::run(cli.station.as_deref(), args),
        Command::Top(args) => top::run(cli.station.as_deref(), args),
        Command::Template(cmd) => template::run(cli.station.as_deref(), cmd),
        Command::Schedule(cmd) => schedule::run(cli.station.as_deref(), cmd),
        Command::Mcp(args) => mcp::run(cli.station.as_deref(), args),
        Command::New(args) => new::run(cli.station.as_deref(), args),
        Command::Conductor(cmd) => conductor::run(cli.station.as_deref(), cmd),

        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Serve(args) => serve::run(cli.station.as_deref(), args),
    }
}

/// The station to work in: `--station`, or found from the current folder.
pub fn station(flag: Option<&std::path::Path>) -> anyhow::Result<crate::station::Station> {
    use anyhow::Context as _;
    let found = match flag {
        Some(dir) => crate::station::Station::at(dir),
        None => crate::station::Station::discover(
            &std::env::current_dir().context("cannot read the current folder")?,
        ),
    };
    found.map_err(|e| match e.hint() {
        Some(hint) => anyhow::anyhow!("{e}\nhint: {hint}"),
        None => anyhow::anyhow!(e),
    })
}
