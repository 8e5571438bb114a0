//! Workflow definitions: the typed model of a workflow file, and loading it.
//!
//! A workflow file is YAML (JSON is YAML too) with Conductor's field names. Loading goes
//! through three steps, each in its own file:
//!
//! - [`source`] parses the text into a [`serde_json::Value`] and remembers where every node
//!   stands in the file (line and column), so later checks can point at it;
//! - [`validate`] checks the tree against the language (known fields, known types, required
//!   fields, references between tasks) and collects every problem as a [`Diagnostic`];
//! - only a tree without errors is turned into the typed [`WorkflowDef`] with serde.
//!
//! Conductor fields that 3ox parses but does not act on yet are kept in each struct's
//! `extra` map, so nothing a Conductor user wrote is dropped on the way through.

pub mod conductor;
pub mod diagnostic;
pub mod inputs;
pub mod schema;
pub mod source;
pub mod validate;

use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use diagnostic::{Diagnostic, Severity};

/// A whole workflow definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "default_version")]
    pub version: u32,
    /// Names of the inputs the workflow expects (documentation, as in Conductor).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_parameters: Vec<String>,
    /// 3ox: the declared inputs (type, default, description, required), by name; a run's
    /// input is checked against them before it starts (see [`inputs`]).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, inputs::InputSpec>,
    /// Output of the run, mapped with `${...}` expressions when the run completes.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub output_parameters: IndexMap<String, Value>,
    pub tasks: Vec<TaskDef>,
    /// Conductor fields kept as they are (schemaVersion, ownerEmail, timeoutSeconds, ...).
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

fn default_version() -> u32 {
    1
}

/// One task of a workflow, as written. Which fields matter depends on `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDef {
    pub name: String,
    pub task_reference_name: String,
    /// Conductor's task type; SIMPLE when absent, as in Conductor.
    #[serde(rename = "type", default = "default_type")]
    pub type_name: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub input_parameters: IndexMap<String, Value>,
    /// A failed optional task does not fail the run: it ends COMPLETED_WITH_ERRORS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,

    // ---- 3ox additions ----
    /// The agent that serves this SIMPLE task. Without it, any agent whose capabilities list
    /// the task's `name` may serve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Inline retry policy (3ox); Conductor's `retryCount` / `taskDefinition` also work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,

    // ---- SWITCH ----
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub decision_cases: IndexMap<String, Vec<TaskDef>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_case: Vec<TaskDef>,

    // ---- FORK_JOIN / JOIN ----
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fork_tasks: Vec<Vec<TaskDef>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub join_on: Vec<String>,

    // ---- FORK_JOIN_DYNAMIC ----
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_tasks_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_fork_tasks_input_param_name: Option<String>,

    // ---- HUMAN (3ox, see docs/human-tasks.md) ----
    /// Who may decide: the agent (mailbox) name of the Commander; `commander` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// How long the request stays open (from when it is made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DurationSpec>,
    /// What happens at the deadline; REJECT when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deadline: Option<DeadlinePolicy>,
    /// Who is asked next when `onDeadline: ESCALATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<String>,
    /// A rejection fails the task (instead of completing it with `decision: rejected`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_on_reject: bool,

    /// The condition evaluated after each iteration (with `evaluatorType`, JavaScript by
    /// default as in Conductor); another iteration runs while it is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_condition: Option<String>,
    /// The tasks of one iteration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loop_over: Vec<TaskDef>,
    /// Keep only the last N iterations' task states and outputs (Conductor reads it from
    /// `inputParameters.keepLastN`, which works too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last_n: Option<u32>,
    /// A list (or a `${...}` naming one) to iterate over, one iteration per item (Conductor
    /// OSS writes it here, Orkes in `inputParameters.items`; both work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Value>,

    /// DECISION (legacy SWITCH): the input parameter whose value is the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_value_param: Option<String>,
    /// DECISION (legacy SWITCH): JavaScript whose value is the case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_expression: Option<String>,
    /// LAMBDA (legacy INLINE): the body of a JavaScript function over `$`; Conductor also
    /// reads it from `inputParameters.scriptExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_expression: Option<String>,

    /// EVENT: where the message goes (`agent:<name>`, `conductor[:<queue>]`, `3ox:<topic>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sink: Option<String>,

    /// DYNAMIC: the input whose value names the task to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_task_name_param: Option<String>,
    /// EXCLUSIVE_JOIN: the tasks whose output it takes when none of `joinOn` ran, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_exclusive_join_task: Vec<String>,
    /// Default inputs, merged under `inputParameters` (3ox accepts it on the task as well as
    /// in Conductor's `taskDefinition.inputTemplate`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub input_template: IndexMap<String, Value>,
    /// Orkes: the whole input computed from an expression (`{type: JSON_PATH, expression}`)
    /// instead of `inputParameters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_expression: Option<Value>,

    /// Conductor fields kept as they are (taskDefinition, rateLimited, ...).
    #[serde(flatten)]
    pub extra: IndexMap<String, Value>,
}

/// What a HUMAN task does when its approval request is still open at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeadlinePolicy {
    /// The task completes with `decision: rejected`, decided by `3ox (deadline)`.
    #[default]
    Reject,
    /// The task fails (and with it the run, unless the task is optional).
    Fail,
    /// A new request goes to `escalateTo`, with a new deadline of the same length.
    Escalate,
}

impl std::fmt::Display for DeadlinePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeadlinePolicy::Reject => "REJECT",
            DeadlinePolicy::Fail => "FAIL",
            DeadlinePolicy::Escalate => "ESCALATE",
        })
    }
}

/// The approver of a HUMAN task that names none.
pub const DEFAULT_APPROVER: &str = "commander";

fn default_type() -> String {
    "SIMPLE".to_string()
}

/// The task types 3ox knows by name. Every Conductor type is listed: the ones the engine runs
/// itself, and the system types (LLM, Kafka, JDBC, ...) that agents of the station serve
/// through the mailbox. Conductor's legacy DECISION and LAMBDA are SWITCH and INLINE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKind {
    Simple,
    /// SWITCH, and Conductor's older DECISION (`caseValueParam` / `caseExpression`).
    Switch,
    ForkJoin,
    ForkJoinDynamic,
    Join,
    Human,
    DoWhile,
    SubWorkflow,
    StartWorkflow,
    Wait,
    Terminate,
    SetVariable,
    Noop,
    /// INLINE, and Conductor's older LAMBDA (`scriptExpression`).
    Inline,
    JsonJqTransform,
    ExclusiveJoin,
    Dynamic,
    Event,
    Http,
    /// A Conductor system type that 3ox does not run itself: an agent of the station that
    /// lists the type among its capabilities serves it through the mailbox, like SIMPLE.
    AgentServed(&'static str),
}

/// Types the engine runs itself (besides SIMPLE, which agents serve).
pub const SUPPORTED_TYPES: &[&str] = &[
    "SIMPLE",
    "SWITCH",
    "DECISION",
    "FORK_JOIN",
    "FORK_JOIN_DYNAMIC",
    "JOIN",
    "EXCLUSIVE_JOIN",
    "HUMAN",
    "DO_WHILE",
    "SUB_WORKFLOW",
    "START_WORKFLOW",
    "WAIT",
    "TERMINATE",
    "SET_VARIABLE",
    "NOOP",
    "INLINE",
    "LAMBDA",
    "JSON_JQ_TRANSFORM",
    "DYNAMIC",
    "EVENT",
    "HTTP",
];

/// Conductor system types that agents serve: an agent lists the type name among its
/// capabilities (an LLM agent lists `LLM_CHAT_COMPLETE`) and receives those tasks like
/// SIMPLE ones.
pub const AGENT_SERVED_TYPES: &[&str] = &[
    "HTTP_POLL",
    "KAFKA_PUBLISH",
    "JDBC",
    "BUSINESS_RULE",
    "WAIT_FOR_WEBHOOK",
    "PULL_WORKFLOW_MESSAGES",
    "LLM_CHAT_COMPLETE",
    "LLM_TEXT_COMPLETE",
    "LLM_GENERATE_EMBEDDINGS",
    "LLM_GET_EMBEDDINGS",
    "LLM_INDEX_TEXT",
    "LLM_INDEX_DOCUMENT",
    "LLM_SEARCH_INDEX",
    "LLM_STORE_EMBEDDINGS",
    "LLM_SEARCH_EMBEDDINGS",
    "GET_DOCUMENT",
    "CALL_MCP_TOOL",
    "LIST_MCP_TOOLS",
    "UPDATE_SECRET",
    "GET_SIGNED_JWT",
    "QUERY_PROCESSOR",
    "OPS_GENIE",
    "UPDATE_TASK",
    "GET_WORKFLOW",
];

impl TaskKind {
    /// The kind for a type name, or `None` when no Conductor type has that name.
    pub fn parse(name: &str) -> Option<TaskKind> {
        Some(match name {
            "SIMPLE" => TaskKind::Simple,
            "SWITCH" | "DECISION" => TaskKind::Switch,
            "FORK_JOIN" => TaskKind::ForkJoin,
            "FORK_JOIN_DYNAMIC" => TaskKind::ForkJoinDynamic,
            "JOIN" => TaskKind::Join,
            "HUMAN" => TaskKind::Human,
            "DO_WHILE" => TaskKind::DoWhile,
            "SUB_WORKFLOW" => TaskKind::SubWorkflow,
            "START_WORKFLOW" => TaskKind::StartWorkflow,
            "WAIT" => TaskKind::Wait,
            "TERMINATE" => TaskKind::Terminate,
            "SET_VARIABLE" => TaskKind::SetVariable,
            "NOOP" => TaskKind::Noop,
            "INLINE" | "LAMBDA" => TaskKind::Inline,
            "JSON_JQ_TRANSFORM" => TaskKind::JsonJqTransform,
            "EXCLUSIVE_JOIN" => TaskKind::ExclusiveJoin,
            "DYNAMIC" => TaskKind::Dynamic,
            "EVENT" => TaskKind::Event,
            "HTTP" => TaskKind::Http,
            other => TaskKind::AgentServed(AGENT_SERVED_TYPES.iter().find(|t| **t == other)?),
        })
    }
}

impl TaskDef {
    /// The task's kind. Definitions are validated before use, so an unknown name here is a
    /// bug in the validator; such a task is treated as agent-served (and finds no agent)
    /// rather than panicking.
    pub fn kind(&self) -> TaskKind {
        TaskKind::parse(&self.type_name).unwrap_or(TaskKind::AgentServed("UNKNOWN"))
    }

    /// The approver of a HUMAN task: `approver`, or [`DEFAULT_APPROVER`].
    pub fn approver(&self) -> &str {
        self.approver.as_deref().unwrap_or(DEFAULT_APPROVER)
    }

    /// Every task nested directly inside this one (switch cases, fork branches), in order.
    pub fn children(&self) -> impl Iterator<Item = &TaskDef> {
        self.decision_cases
            .values()
            .flatten()
            .chain(self.default_case.iter())
            .chain(self.fork_tasks.iter().flatten())
            .chain(self.loop_over.iter())
    }

    /// The retry policy in force: the inline `retry:` policy, else Conductor's fields
    /// (`retryCount` on the task or in `taskDefinition`), else no retry.
    pub fn effective_retry(&self) -> RetryPolicy {
        if let Some(policy) = &self.retry {
            return policy.clone();
        }
        let task_def = self.extra.get("taskDefinition");
        let field = |name: &str| {
            self.extra
                .get(name)
                .or_else(|| task_def.and_then(|d| d.get(name)))
                .cloned()
        };
        let mut policy = RetryPolicy::default();
        if let Some(count) = field("retryCount").and_then(|v| v.as_u64()) {
            policy.count = u32::try_from(count).unwrap_or(u32::MAX);
        }
        if let Some(logic) = field("retryLogic").and_then(|v| v.as_str().map(str::to_owned)) {
            policy.logic = match logic.as_str() {
                "EXPONENTIAL_BACKOFF" => RetryLogic::ExponentialBackoff,
                "LINEAR_BACKOFF" => RetryLogic::LinearBackoff,
                _ => RetryLogic::Fixed,
            };
        }
        if let Some(secs) = field("retryDelaySeconds").and_then(|v| v.as_f64()) {
            policy.delay = DurationSpec(Duration::from_secs_f64(secs.max(0.0)));
        }
        if let Some(secs) = field("maxRetryDelaySeconds").and_then(|v| v.as_f64()) {
            policy.max_delay = Some(DurationSpec(Duration::from_secs_f64(secs.max(0.0))));
        }
        if let Some(ms) = field("backoffJitterMs").and_then(|v| v.as_u64()) {
            policy.jitter = DurationSpec(Duration::from_millis(ms));
        }
        // Conductor's backoffScaleFactor scales LINEAR_BACKOFF only (delay * factor * retry);
        // its EXPONENTIAL_BACKOFF always doubles. Definitions exported from Conductor carry
        // `backoffScaleFactor: 1`, which must not flatten an exponential backoff.
        if let Some(scale) = field("backoffScaleFactor").and_then(|v| v.as_f64())
            && policy.logic == RetryLogic::LinearBackoff
        {
            policy.delay = DurationSpec(policy.delay.0.mul_f64(scale.clamp(0.0, 1.0e6)));
        }
        policy
    }
}

/// How a failed task is retried (3ox's inline `retry:` block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// How many retries after the first attempt.
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub logic: RetryLogic,
    /// Base delay: a number of seconds or a duration such as `500ms`, `2s`, `1m`.
    #[serde(default)]
    pub delay: DurationSpec,
    /// Upper bound of any one delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<DurationSpec>,
    /// A random extra delay between zero and this, added to each delay.
    #[serde(default)]
    pub jitter: DurationSpec,
    /// Factor for EXPONENTIAL_BACKOFF (delay * scale^(retry-1)) and LINEAR_BACKOFF
    /// (delay * scale * retry). Defaults to 2 and 1 as in Conductor... see [`RetryPolicy::delay_before`].
    #[serde(default = "default_scale")]
    pub backoff_scale: f64,
}

fn default_scale() -> f64 {
    2.0
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            count: 0,
            logic: RetryLogic::Fixed,
            delay: DurationSpec::default(),
            max_delay: None,
            jitter: DurationSpec::default(),
            backoff_scale: default_scale(),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry), without jitter.
    pub fn delay_before(&self, retry: u32) -> Duration {
        let base = self.delay.0.as_secs_f64();
        let retry = f64::from(retry.max(1));
        let secs = match self.logic {
            RetryLogic::Fixed => base,
            RetryLogic::LinearBackoff => base * retry * self.linear_scale(),
            RetryLogic::ExponentialBackoff => base * self.backoff_scale.max(1.0).powf(retry - 1.0),
        };
        let mut delay = Duration::from_secs_f64(secs.clamp(0.0, 365.0 * 24.0 * 3600.0));
        if let Some(max) = &self.max_delay {
            delay = delay.min(max.0);
        }
        delay
    }

    /// LINEAR_BACKOFF grows by `delay * retry` unless a scale other than the default is set.
    fn linear_scale(&self) -> f64 {
        if self.backoff_scale == default_scale() {
            1.0
        } else {
            self.backoff_scale.max(0.0)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryLogic {
    #[default]
    Fixed,
    ExponentialBackoff,
    LinearBackoff,
}

/// A duration written as seconds (`2`, `0.5`) or with a unit (`500ms`, `2s`, `1m 30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DurationSpec(pub Duration);

impl Serialize for DurationSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        DurationSpec::from_value(&value).map_err(serde::de::Error::custom)
    }
}

impl DurationSpec {
    /// Reads a duration from a number of seconds or a string with units.
    pub fn from_value(value: &Value) -> Result<DurationSpec, String> {
        match value {
            Value::Number(n) => {
                let secs = n.as_f64().unwrap_or(-1.0);
                if secs.is_finite() && secs >= 0.0 {
                    Ok(DurationSpec(Duration::from_secs_f64(secs)))
                } else {
                    Err(format!("`{n}` is not a duration: use seconds >= 0 or a text such as `500ms`"))
                }
            }
            Value::String(s) => humantime::parse_duration(s.trim())
                .map(DurationSpec)
                .or_else(|_| s.trim().parse::<f64>().ok().filter(|v| *v >= 0.0).map(|v| DurationSpec(Duration::from_secs_f64(v))).ok_or(()))
                .map_err(|()| format!("`{s}` is not a duration: write seconds (`2`) or a text such as `500ms`, `2s`, `1m`")),
            other => Err(format!("`{other}` is not a duration: write seconds (`2`) or a text such as `500ms`")),
        }
    }
}

/// Why a workflow file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{} in {path}", plural(.diagnostics.iter().filter(|d| d.severity == Severity::Error).count(), "error"))]
    Invalid {
        path: String,
        diagnostics: Vec<Diagnostic>,
    },
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Loads and validates a workflow file. Every problem found is in the error.
pub fn load_file(path: &Path) -> Result<WorkflowDef, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_str(&text, path)
}

/// Parses and validates workflow text; `origin` names the file in diagnostics.
pub fn parse_str(text: &str, origin: &Path) -> Result<WorkflowDef, LoadError> {
    let path = origin.display().to_string();
    let src = source::Source::parse(text, &path).map_err(|d| LoadError::Invalid {
        path: path.clone(),
        diagnostics: vec![d],
    })?;
    let diagnostics = validate::check(&src);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(LoadError::Invalid { path, diagnostics });
    }
    serde_json::from_value(src.value.clone()).map_err(|e| LoadError::Invalid {
        path: path.clone(),
        diagnostics: vec![Diagnostic::error(
            &src,
            "",
            format!("the definition does not fit the workflow format: {e}"),
            None,
        )],
    })
}
