//! Conductor interop: recognising Conductor files that are not workflow definitions, and
//! converting workflow definitions between Conductor JSON and 3ox YAML.
//!
//! - [`recognise`] tells a start-workflow request, an event handler, a schedule or a list of
//!   task definitions from a workflow definition, so `3ox validate` can say what a file is
//!   instead of listing the fields a workflow does not have.
//! - [`import`] turns Conductor JSON into block-style YAML with the fields in Conductor's
//!   order. It changes no value: the YAML parses back to exactly the JSON value it came from
//!   (checked on every import), so import -> export -> import is lossless.
//! - [`export`] turns a 3ox workflow into Conductor JSON. Fields 3ox adds are mapped onto
//!   their Conductor equivalents where one exists (the inline `retry:` becomes Conductor's
//!   retry fields in `taskDefinition`, duration texts become seconds); the others are left
//!   out and listed as [`Note`]s, naming the task and the field.
//!
//! Both work on the value tree, not on the typed model, so a field is carried through as the
//! user wrote it even when 3ox does not act on it.

use serde_json::{Map, Value};

use super::diagnostic::{Diagnostic, Severity};
use super::source::Source;
use super::{DurationSpec, RetryLogic, RetryPolicy, validate};

/// Top-level fields of a Conductor workflow definition, in Conductor's order.
pub const CONDUCTOR_WORKFLOW_FIELDS: &[&str] = &[
    "name",
    "description",
    "version",
    "tasks",
    "inputParameters",
    "outputParameters",
    "failureWorkflow",
    "schemaVersion",
    "restartable",
    "workflowStatusListenerEnabled",
    "workflowStatusListenerSink",
    "ownerEmail",
    "ownerApp",
    "createTime",
    "updateTime",
    "createdBy",
    "updatedBy",
    "timeoutPolicy",
    "timeoutSeconds",
    "variables",
    "inputTemplate",
    "inputSchema",
    "outputSchema",
    "enforceSchema",
    "rateLimitConfig",
    "metadata",
    "maskedFields",
    "tags",
    "accessPolicy",
];

/// Fields of a Conductor workflow task, in Conductor's order.
pub const CONDUCTOR_TASK_FIELDS: &[&str] = &[
    "name",
    "taskReferenceName",
    "description",
    "inputParameters",
    "type",
    "dynamicTaskNameParam",
    "caseValueParam",
    "caseExpression",
    "scriptExpression",
    "decisionCases",
    "dynamicForkJoinTasksParam",
    "dynamicForkTasksParam",
    "dynamicForkTasksInputParamName",
    "defaultCase",
    "forkTasks",
    "startDelay",
    "subWorkflowParam",
    "joinOn",
    "sink",
    "optional",
    "taskDefinition",
    "rateLimited",
    "defaultExclusiveJoinTask",
    "asyncComplete",
    "loopCondition",
    "loopOver",
    "retryCount",
    "evaluatorType",
    "expression",
    "onStateChange",
    "permissive",
    "callbackFromWorker",
    "joinMode",
    "joinStatus",
    "cacheConfig",
    // DO_WHILE's list to iterate (Conductor OSS) and Orkes' computed input.
    "items",
    "inputExpression",
];

/// Conductor's task-definition fields that 3ox also reads on the workflow task itself (the
/// retry fields, and the timeouts): on export they move into `taskDefinition`, where
/// Conductor reads them.
const TASK_DEFINITION_FIELDS_ON_TASK: &[&str] = &[
    "retryLogic",
    "retryDelaySeconds",
    "maxRetryDelaySeconds",
    "backoffJitterMs",
    "backoffScaleFactor",
    "timeoutPolicy",
    "timeoutSeconds",
    "responseTimeoutSeconds",
    "pollTimeoutSeconds",
    "totalTimeoutSeconds",
    "concurrentExecLimit",
    "rateLimitPerFrequency",
    "rateLimitFrequencyInSeconds",
    "inputTemplate",
];

/// Conductor fields that hold whole seconds; 3ox also accepts a duration text there.
const SECONDS_FIELDS: &[&str] = &[
    "timeoutSeconds",
    "startDelay",
    "responseTimeoutSeconds",
    "pollTimeoutSeconds",
    "totalTimeoutSeconds",
    "retryDelaySeconds",
    "maxRetryDelaySeconds",
];

/// Fields of a Conductor task definition (`/api/metadata/taskdefs`) that a workflow task
/// does not have: what tells a task-definition list from a list of tasks.
const TASK_DEFINITION_MARKERS: &[&str] = &[
    "retryCount",
    "retryLogic",
    "retryDelaySeconds",
    "responseTimeoutSeconds",
    "pollTimeoutSeconds",
    "timeoutPolicy",
    "timeoutSeconds",
    "concurrentExecLimit",
    "inputKeys",
    "outputKeys",
    "rateLimitPerFrequency",
    "rateLimitFrequencyInSeconds",
    "ownerEmail",
];

/// What a Conductor file is when it is not a workflow definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAWorkflow {
    /// A short name of the kind, as the corpus verdicts use it (`start-workflow request`, ...).
    pub kind: &'static str,
    /// "this is a Conductor ..., not a workflow definition".
    pub message: String,
    /// What to do with it instead.
    pub hint: String,
}

fn is_object_with(value: &Value, fields: &[&str]) -> bool {
    value
        .as_object()
        .is_some_and(|m| fields.iter().all(|f| m.contains_key(*f)))
}

/// Tells what a Conductor file is when it is not a workflow definition; `None` for anything
/// that may be a workflow (the validator then says what is wrong with it).
pub fn recognise(value: &Value) -> Option<NotAWorkflow> {
    if let Some(items) = value.as_array() {
        return recognise_list(items);
    }
    let map = value.as_object()?;
    if map.contains_key("tasks") {
        return None;
    }
    let name = map.get("name").and_then(Value::as_str);
    if map.get("workflowDef").is_some_and(Value::is_object)
        || (name.is_some()
            && (map.contains_key("input")
                || map.contains_key("correlationId")
                || map.contains_key("taskToDomain")))
    {
        let hint = if map.contains_key("workflowDef") {
            "its `workflowDef` holds the workflow: save that part alone (e.g. `jq .workflowDef FILE > workflow.json`) and validate or import it; its `input` is what `3ox run --input-file` takes".to_string()
        } else {
            format!(
                "it starts the workflow `{}`; validate that workflow's definition, and give this `input` to `3ox run --input-file`",
                name.unwrap_or("?")
            )
        };
        return Some(NotAWorkflow {
            kind: "start-workflow request",
            message: "this is a Conductor start-workflow request, not a workflow definition".into(),
            hint,
        });
    }
    if map.contains_key("$schema") {
        return Some(NotAWorkflow {
            kind: "JSON Schema",
            message: "this is a JSON Schema (such as docs/workflow.schema.json), not a workflow definition".into(),
            hint: "point your editor's YAML extension at it (see the README); validate the workflow files themselves".into(),
        });
    }
    if map.contains_key("event") && map.contains_key("actions") {
        return Some(NotAWorkflow {
            kind: "event handler",
            message: "this is a Conductor event handler, not a workflow definition".into(),
            hint: "3ox does not load event handlers; validate the workflows it starts or completes, and let an agent complete the WAIT or HUMAN task through the mailbox".into(),
        });
    }
    if map.contains_key("cronExpression") || map.contains_key("startWorkflowRequest") {
        let workflow = map
            .get("startWorkflowRequest")
            .and_then(|r| r.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("the workflow");
        return Some(NotAWorkflow {
            kind: "schedule",
            message: "this is a Conductor schedule, not a workflow definition".into(),
            hint: format!(
                "3ox does not schedule runs itself: start `{workflow}` from cron or a systemd timer with `3ox start`, and validate its definition instead"
            ),
        });
    }
    if name.is_some()
        && !map.contains_key("taskReferenceName")
        && TASK_DEFINITION_MARKERS.iter().any(|f| map.contains_key(*f))
    {
        return Some(NotAWorkflow {
            kind: "task definition",
            message: "this is a Conductor task definition, not a workflow definition".into(),
            hint: "3ox needs no registered task definitions: put its retry and timeout fields in the workflow task's `taskDefinition:` (or use `retry:`)".into(),
        });
    }
    if map.contains_key("taskReferenceName") {
        return Some(NotAWorkflow {
            kind: "workflow task",
            message: "this is a single Conductor workflow task, not a workflow definition".into(),
            hint: "put it in the `tasks:` list of a workflow with a `name`".into(),
        });
    }
    None
}

fn recognise_list(items: &[Value]) -> Option<NotAWorkflow> {
    if items.is_empty() || !items.iter().all(Value::is_object) {
        return None;
    }
    if items.iter().all(|i| is_object_with(i, &["name", "tasks"])) {
        return Some(NotAWorkflow {
            kind: "workflow definitions",
            message: "this is a list of Conductor workflow definitions, not a workflow definition"
                .into(),
            hint: "save each workflow in its own file; 3ox loads one workflow per file".into(),
        });
    }
    let task_defs = items.iter().all(|i| {
        i.get("name").is_some_and(Value::is_string)
            && i.get("taskReferenceName").is_none()
            && TASK_DEFINITION_MARKERS.iter().any(|f| i.get(*f).is_some())
    });
    if task_defs {
        return Some(NotAWorkflow {
            kind: "task definitions",
            message: "this is a list of Conductor task definitions, not a workflow definition"
                .into(),
            hint: "3ox needs no registered task definitions: put a task's retry and timeout fields in the workflow task's `taskDefinition:` (or use `retry:`)".into(),
        });
    }
    None
}

/// Why a file could not be imported or exported: every diagnostic that stops it.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_all(.diagnostics))]
pub struct Refused {
    pub diagnostics: Vec<Diagnostic>,
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::render)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses `text`, refuses what is not a workflow definition, and returns the source and the
/// validator's diagnostics (which do not stop a conversion: the format is Conductor's either
/// way, and the caller reports them).
fn read_workflow(text: &str, origin: &str) -> Result<(Source, Vec<Diagnostic>), Refused> {
    let src = Source::parse(text, origin).map_err(|d| Refused {
        diagnostics: vec![d],
    })?;
    let diagnostics = validate::check(&src);
    let is_workflow = src
        .value
        .as_object()
        .is_some_and(|m| m.get("tasks").is_some_and(Value::is_array));
    if !is_workflow {
        let errors: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        return Err(Refused {
            diagnostics: if errors.is_empty() {
                vec![Diagnostic::error(
                    &src,
                    "",
                    "this file is not a workflow definition (no `tasks` list)",
                    None,
                )]
            } else {
                errors
            },
        });
    }
    Ok((src, diagnostics))
}

/// The result of [`import`].
#[derive(Debug)]
pub struct Imported {
    /// The workflow as YAML, with a header comment saying where it came from.
    pub yaml: String,
    /// What `3ox validate` says about the workflow (it is converted either way).
    pub diagnostics: Vec<Diagnostic>,
}

/// Converts a Conductor workflow definition (JSON) to 3ox YAML. Refuses files that are not
/// workflow definitions, with the reason.
pub fn import(text: &str, origin: &str) -> Result<Imported, Refused> {
    let (src, diagnostics) = read_workflow(text, origin)?;
    let ordered = order_workflow(&src.value);
    let body = to_yaml(&ordered);
    // Nothing may change on the way: the YAML must read back as the very value it came from.
    let back: Value = serde_yaml::from_str(&body).map_err(|e| Refused {
        diagnostics: vec![Diagnostic::error(
            &src,
            "",
            format!("3ox import wrote YAML it cannot read back ({e}); this is a bug in 3ox"),
            None,
        )],
    })?;
    if back != src.value {
        return Err(Refused {
            diagnostics: vec![Diagnostic::error(
                &src,
                "",
                "3ox import wrote YAML that reads back differently; this is a bug in 3ox",
                Some("please report it with this file".into()),
            )],
        });
    }
    let name = src.value.get("name").and_then(Value::as_str).unwrap_or("?");
    let header = format!(
        "# Workflow `{}`, imported from the Conductor definition {} by `3ox import`.\n\
         # Conductor's field names; take it back with `3ox export <this file> --format conductor`.\n",
        one_line(name),
        one_line(origin)
    );
    Ok(Imported {
        yaml: header + &body,
        diagnostics,
    })
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Block-style YAML of `value`, with multi-line texts as literal blocks.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_list(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other, 2));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize) {
    let pad = " ".repeat(indent);
    for (key, value) in map {
        out.push_str(&pad);
        out.push_str(&key_text(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

/// Writes a value that follows `key:` (or `- `): nested blocks on the next lines.
fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_list(out, items, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, items: &[Value], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        out.push_str(&pad);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // `- key: value` with the other keys aligned under the first.
                let mut first = true;
                for (key, value) in map {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        out.push_str(&pad);
                        out.push_str("  ");
                    }
                    out.push_str(&key_text(key));
                    out.push(':');
                    write_value_after_key(out, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_list(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// A mapping key: plain when YAML reads it back as the same text, else quoted.
fn key_text(key: &str) -> String {
    inline_scalar(&Value::String(key.to_string()))
}

/// A scalar (or empty collection) in flow form; multi-line texts as a literal block whose
/// lines are indented to `indent`.
fn scalar(value: &Value, indent: usize) -> String {
    if let Value::String(text) = value
        && let Some(block) = literal_block(text, indent)
    {
        return block;
    }
    inline_scalar(value)
}

fn inline_scalar(value: &Value) -> String {
    match value {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::String(s) if plain_is_safe(s) => s.clone(),
        // Single quotes escape nothing but `'`: easier to read than escapes.
        Value::String(s) if !s.chars().any(needs_escape) => {
            format!("'{}'", s.replace('\'', "''"))
        }
        Value::String(s) => double_quoted(s),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Characters written as an escape: YAML's non-printable ones, line and tab characters
/// (a quoted text stays on one line), and those some readers take for a line break or a
/// byte-order mark.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{2028}' | '\u{2029}'
        )
}

/// A double-quoted YAML text, every character that needs it escaped.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `text` can be written unquoted and read back as the same text.
fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if text.trim() != text
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.chars().any(needs_escape)
    {
        return false;
    }
    // Texts YAML would read as something else: null, booleans, numbers, dates.
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | ".inf"
            | "-.inf"
            | "+.inf"
            | ".nan"
    ) || text.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '.')
    {
        return false;
    }
    matches!(serde_yaml::from_str::<Value>(text), Ok(Value::String(s)) if s == text)
}

/// A literal block (`|`, `|-` or `|+`) for a multi-line text that survives one; `None` when
/// the text is better quoted (a leading blank line or space, carriage returns, tabs at a line
/// start, trailing spaces on lines).
fn literal_block(text: &str, indent: usize) -> Option<String> {
    if !text.contains('\n') || text.trim().is_empty() {
        return None;
    }
    let suspicious = text.starts_with([' ', '\n', '\t'])
        || text.contains('\r')
        || text.chars().any(|c| c != '\n' && needs_escape(c))
        || text
            .lines()
            .any(|l| l.ends_with([' ', '\t']) || l.starts_with('\t'));
    if suspicious {
        return None;
    }
    let trailing = text.len() - text.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}");
    for line in text.trim_end_matches('\n').split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    Some(out)
}

/// The workflow with its fields, and every task's fields, in Conductor's order (fields
/// Conductor does not have follow, in the order written).
pub fn order_workflow(value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut out = ordered(map, CONDUCTOR_WORKFLOW_FIELDS);
    if let Some(Value::Array(tasks)) = out.get_mut("tasks") {
        for task in tasks {
            *task = order_task(task);
        }
    }
    Value::Object(out)
}

fn order_task(value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut out = ordered(map, CONDUCTOR_TASK_FIELDS);
    for_each_task_list(&mut out, |list| {
        for task in list {
            *task = order_task(task);
        }
    });
    if let Some(Value::Object(param)) = out.get_mut("subWorkflowParam")
        && let Some(inline) = param.get_mut("workflowDefinition")
        && inline.is_object()
    {
        *inline = order_workflow(inline);
    }
    Value::Object(out)
}

fn ordered(map: &Map<String, Value>, order: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in order {
        if let Some(value) = map.get(*field) {
            out.insert((*field).to_string(), value.clone());
        }
    }
    for (key, value) in map {
        if !out.contains_key(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// Calls `f` on every list of tasks held directly by a task: switch cases, the default case,
/// fork branches and the loop body.
fn for_each_task_list(task: &mut Map<String, Value>, mut f: impl FnMut(&mut Vec<Value>)) {
    if let Some(Value::Object(cases)) = task.get_mut("decisionCases") {
        for list in cases.values_mut() {
            if let Value::Array(list) = list {
                f(list);
            }
        }
    }
    for field in ["defaultCase", "loopOver"] {
        if let Some(Value::Array(list)) = task.get_mut(field) {
            f(list);
        }
    }
    if let Some(Value::Array(branches)) = task.get_mut("forkTasks") {
        for branch in branches {
            if let Value::Array(list) = branch {
                f(list);
            }
        }
    }
}

/// Something of a 3ox workflow that Conductor JSON cannot say the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The task's reference name; `None` for a workflow field.
    pub task: Option<String>,
    pub field: String,
    pub message: String,
    /// Line and column in the exported file.
    pub at: Option<(usize, usize)>,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.task {
            Some(task) => write!(f, "task `{task}`, `{}`: {}", self.field, self.message),
            None => write!(f, "workflow field `{}`: {}", self.field, self.message),
        }
    }
}

/// The result of [`export`].
#[derive(Debug)]
pub struct Exported {
    /// Conductor JSON, pretty-printed, ending with a newline.
    pub json: String,
    /// What has no Conductor equivalent (left out) or means something else there.
    pub notes: Vec<Note>,
    /// What `3ox validate` says about the workflow.
    pub diagnostics: Vec<Diagnostic>,
}

/// Converts a 3ox workflow (YAML or JSON) to Conductor JSON.
pub fn export(text: &str, origin: &str) -> Result<Exported, Refused> {
    let (src, diagnostics) = read_workflow(text, origin)?;
    let mut notes = Vec::new();
    let value = export_workflow(&src.value, &mut notes);
    if let Some(tasks) = src.value.get("tasks").and_then(Value::as_array) {
        differences(tasks, false, &mut notes);
    }
    if let Some(outputs) = src.value.get("outputParameters") {
        null_here(outputs, None, "outputParameters", &mut notes);
    }
    for note in &mut notes {
        note.at = Some(src.location(&note_pointer(&src.value, note)));
    }
    let json = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    Ok(Exported {
        json,
        notes,
        diagnostics,
    })
}

fn export_workflow(value: &Value, notes: &mut Vec<Note>) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        if key == "inputs" {
            continue;
        }
        if !CONDUCTOR_WORKFLOW_FIELDS.contains(&key.as_str()) {
            notes.push(Note {
                task: None,
                field: key.clone(),
                message: "Conductor has no such workflow field; left out".into(),
                at: None,
            });
            continue;
        }
        let value = if key == "tasks" {
            match value {
                Value::Array(tasks) => {
                    Value::Array(tasks.iter().map(|t| export_task(t, notes)).collect())
                }
                other => other.clone(),
            }
        } else {
            seconds_field(None, key, value, notes)
        };
        out.insert(key.clone(), value);
    }
    if let Some(inputs) = map.get("inputs") {
        export_inputs(inputs, &mut out, notes);
    }
    Value::Object(ordered(&out, CONDUCTOR_WORKFLOW_FIELDS))
}

/// 3ox's typed `inputs:` in Conductor terms: every name joins `inputParameters`, the defaults
/// join `inputTemplate` (Conductor's input defaults; a value already there wins), and the
/// whole declaration is kept in `metadata.threeoxInputs`, which Conductor stores and ignores.
fn export_inputs(inputs: &Value, out: &mut Map<String, Value>, notes: &mut Vec<Note>) {
    let Value::Object(inputs) = inputs else {
        return;
    };
    let names = out
        .entry("inputParameters")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(names) = names {
        for name in inputs.keys() {
            if !names.iter().any(|n| n.as_str() == Some(name)) {
                names.push(Value::String(name.clone()));
            }
        }
    }
    let defaults: Vec<(String, Value)> = inputs
        .iter()
        .filter_map(|(name, spec)| Some((name.clone(), spec.get("default")?.clone())))
        .collect();
    if !defaults.is_empty() {
        let template = out
            .entry("inputTemplate")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(template) = template {
            for (name, default) in defaults {
                template.entry(name).or_insert(default);
            }
        }
    }
    let metadata = out
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(metadata) = metadata {
        metadata.insert("threeoxInputs".into(), Value::Object(inputs.clone()));
    }
    notes.push(Note {
        task: None,
        field: "inputs".into(),
        message: "Conductor does not check input types or required inputs: the names are in `inputParameters`, the defaults in `inputTemplate`, the declaration in `metadata.threeoxInputs`".into(),
        at: None,
    });
}

/// A seconds field written as a duration text becomes whole seconds (rounded up, with a
/// note when that changes it); anything else stays as written.
fn seconds_field(task: Option<&str>, key: &str, value: &Value, notes: &mut Vec<Note>) -> Value {
    if !SECONDS_FIELDS.contains(&key) {
        return value.clone();
    }
    match value {
        Value::String(_) | Value::Number(_) => match DurationSpec::from_value(value) {
            Ok(duration) => {
                let seconds = whole_seconds(duration, task, key, notes);
                if value.is_number() && value.as_f64() == Some(seconds as f64) {
                    value.clone()
                } else {
                    Value::from(seconds)
                }
            }
            Err(_) => value.clone(),
        },
        other => other.clone(),
    }
}

fn whole_seconds(
    duration: DurationSpec,
    task: Option<&str>,
    key: &str,
    notes: &mut Vec<Note>,
) -> u64 {
    let secs = duration.0.as_secs_f64();
    let whole = secs.ceil() as u64;
    if secs.fract() != 0.0 {
        notes.push(Note {
            task: task.map(str::to_owned),
            field: key.to_string(),
            message: format!(
                "Conductor counts whole seconds: {} is rounded up to {whole}",
                humantime::format_duration(duration.0)
            ),
            at: None,
        });
    }
    whole
}

fn add_note(notes: &mut Vec<Note>, task: &str, field: &str, message: String) {
    notes.push(Note {
        task: Some(task.to_string()),
        field: field.to_string(),
        message,
        at: None,
    });
}

fn export_task(value: &Value, notes: &mut Vec<Note>) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let reference = map
        .get("taskReferenceName")
        .and_then(Value::as_str)
        .or_else(|| map.get("name").and_then(Value::as_str))
        .unwrap_or("?")
        .to_string();
    let type_name = map.get("type").and_then(Value::as_str).unwrap_or("SIMPLE");
    let mut out = Map::new();
    let had_definition = map.get("taskDefinition").is_some_and(Value::is_object);
    let mut task_definition: Map<String, Value> = match map.get("taskDefinition") {
        Some(Value::Object(def)) => def.clone(),
        _ => Map::new(),
    };
    let mut definition_changed = false;
    for (key, value) in map {
        match key.as_str() {
            "taskDefinition" | "retry" => {}
            "agent" => add_note(
                notes,
                &reference,
                key,
                format!(
                    "Conductor has no per-task agent (its workers poll by task name); `agent: {}` is left out",
                    value.as_str().map_or_else(|| value.to_string(), one_line)
                ),
            ),
            // DO_WHILE's `keepLastN` beside `loopCondition` (3ox): Conductor reads it from the
            // task's input.
            "keepLastN" => {
                let inputs = out
                    .entry("inputParameters")
                    .or_insert_with(|| Value::Object(Map::new()));
                match inputs {
                    Value::Object(inputs) if !inputs.contains_key("keepLastN") => {
                        inputs.insert("keepLastN".into(), value.clone());
                    }
                    _ => add_note(
                        notes,
                        &reference,
                        key,
                        "the task's inputParameters already set `keepLastN`, which Conductor reads; this one is left out".into(),
                    ),
                }
            }
            "approver" | "deadline" | "onDeadline" | "escalateTo" | "failOnReject" => add_note(
                notes,
                &reference,
                key,
                format!(
                    "Conductor's {type_name} task has no `{key}` (3ox's approval rules); left out"
                ),
            ),
            // Retry fields the task holds itself go into its taskDefinition, where Conductor
            // reads them.
            k if TASK_DEFINITION_FIELDS_ON_TASK.contains(&k) => {
                task_definition.insert(k.to_string(), value.clone());
                definition_changed = true;
            }
            k if CONDUCTOR_TASK_FIELDS.contains(&k) => {
                let value = seconds_field(Some(&reference), k, value, notes);
                out.insert(k.to_string(), value);
            }
            other => add_note(
                notes,
                &reference,
                other,
                "Conductor has no such task field; left out".to_string(),
            ),
        }
    }
    if let Some(retry) = map.get("retry").filter(|r| r.is_object()) {
        match serde_json::from_value::<RetryPolicy>(retry.clone()) {
            Ok(policy) => {
                if type_name == "FORK_JOIN_DYNAMIC" {
                    add_note(
                        notes,
                        &reference,
                        "retry",
                        "in 3ox the forked tasks take the fork's retry policy; Conductor takes each forked task's own: the policy is written in the fork's taskDefinition, where Conductor does not apply it to them".into(),
                    );
                }
                retry_fields(&policy, &reference, &mut task_definition, notes);
                // The inline policy wins in 3ox; in Conductor a task's own `retryCount` wins
                // over its taskDefinition's, so it must not stay behind with another value.
                out.remove("retryCount");
                definition_changed = true;
            }
            Err(e) => add_note(
                notes,
                &reference,
                "retry",
                format!("the retry policy does not read ({e}); left out"),
            ),
        }
    }
    // Without a retry policy 3ox makes one attempt; Conductor gives an unregistered SIMPLE
    // task its TaskDef default of 3 retries, 60 s apart. Say 3ox's meaning explicitly so a
    // cluster does not repeat a task that may not be idempotent.
    if type_name == "SIMPLE"
        && !out.contains_key("retryCount")
        && !task_definition.contains_key("retryCount")
    {
        out.insert("retryCount".into(), Value::from(0));
    }
    // Conductor requires a task definition's `name`: the task's.
    if (definition_changed || had_definition)
        && !task_definition.contains_key("name")
        && let Some(name) = map.get("name")
    {
        let mut with_name = Map::new();
        with_name.insert("name".into(), name.clone());
        with_name.extend(task_definition);
        task_definition = with_name;
    }
    if definition_changed || had_definition {
        let mut converted = Map::new();
        for (k, v) in &task_definition {
            converted.insert(k.clone(), seconds_field(Some(&reference), k, v, notes));
        }
        out.insert("taskDefinition".into(), Value::Object(converted));
    }
    if map.get("evaluatorType").and_then(Value::as_str) == Some("expression") {
        add_note(
            notes,
            &reference,
            "evaluatorType",
            "`expression` is 3ox's condition language; Conductor evaluates `value-param`, `javascript` and `graaljs`: rewrite the condition as JavaScript before loading it there".into(),
        );
    }
    for_each_task_list(&mut out, |list| {
        for task in list.iter_mut() {
            *task = export_task(task, notes);
        }
    });
    if let Some(Value::Object(param)) = out.get_mut("subWorkflowParam")
        && let Some(inline) = param.get_mut("workflowDefinition")
        && inline.is_object()
    {
        *inline = export_workflow(inline, notes);
    }
    Value::Object(ordered(&out, CONDUCTOR_TASK_FIELDS))
}

/// What means something else on a Conductor cluster though Conductor JSON says it the same
/// way: references to fields 3ox does not keep, and (inside a SWITCH case, `in_case`, and
/// not inside a DO_WHILE there, which waits for everything on both) a JOIN that does not wait
/// for every branch of its fork: 3ox's SWITCH waits for those branches, on Conductor the task
/// after the SWITCH starts when the case's last task is done.
fn differences(tasks: &[Value], in_case: bool, notes: &mut Vec<Note>) {
    for (i, task) in tasks.iter().enumerate() {
        let Some(map) = task.as_object() else {
            continue;
        };
        let reference = map
            .get("taskReferenceName")
            .and_then(Value::as_str)
            .unwrap_or("?");
        for field in ["inputParameters", "inputTemplate"] {
            if let Some(inputs) = map.get(field) {
                null_here(inputs, Some(reference), field, notes);
            }
        }
        let join = tasks.get(i + 1).and_then(Value::as_object);
        if in_case
            && map.get("type").and_then(Value::as_str) == Some("FORK_JOIN")
            && let Some(join) =
                join.filter(|j| j.get("type").and_then(Value::as_str) == Some("JOIN"))
        {
            let join_on: Vec<&str> = join
                .get("joinOn")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let unwaited = map
                .get("forkTasks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|b| b.as_array()?.last()?.get("taskReferenceName")?.as_str())
                .any(|last| !join_on.contains(&last));
            if unwaited {
                add_note(
                    notes,
                    join.get("taskReferenceName")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    "joinOn",
                    format!(
                        "the JOIN does not wait for every branch of `{reference}`, and it is inside a SWITCH case: in 3ox the SWITCH is done only when those branches have ended, on Conductor the task after the SWITCH may start while they still run"
                    ),
                );
            }
        }
        // (A DO_WHILE iteration waits for every task in it, on Conductor too.)
        let mut lists: Vec<(&Vec<Value>, bool)> = Vec::new();
        if let Some(cases) = map.get("decisionCases").and_then(Value::as_object) {
            lists.extend(
                cases
                    .values()
                    .filter_map(Value::as_array)
                    .map(|l| (l, true)),
            );
        }
        lists.extend(
            map.get("defaultCase")
                .and_then(Value::as_array)
                .map(|l| (l, true)),
        );
        lists.extend(
            map.get("loopOver")
                .and_then(Value::as_array)
                .map(|l| (l, false)),
        );
        if let Some(branches) = map.get("forkTasks").and_then(Value::as_array) {
            lists.extend(
                branches
                    .iter()
                    .filter_map(Value::as_array)
                    .map(|l| (l, in_case)),
            );
        }
        for (list, in_case) in lists {
            differences(list, in_case, notes);
        }
    }
}

/// A note for each `${...}` in `value` that reads a field Conductor fills and 3ox does not.
fn null_here(value: &Value, task: Option<&str>, field: &str, notes: &mut Vec<Note>) {
    for reference in crate::expr::mapping::references(value) {
        if let Some(missing) = validate::conductor_only_field(&reference) {
            notes.push(Note {
                task: task.map(str::to_owned),
                field: field.to_string(),
                message: format!(
                    "`${{{}}}` reads `{missing}`, which Conductor fills and 3ox does not keep (null in 3ox)",
                    reference.text
                ),
                at: None,
            });
        }
    }
}

/// The JSON pointer of what `note` is about in the workflow `root`: the task's field (found
/// by reference name at any depth), or the workflow's.
fn note_pointer(root: &Value, note: &Note) -> String {
    let field = note.field.split('.').next().unwrap_or_default();
    let field = super::source::push_pointer("", field);
    match &note.task {
        None => field,
        Some(task) => {
            let tasks = root.get("tasks").and_then(Value::as_array);
            let found = tasks.and_then(|t| find_task(t, "/tasks", task));
            found.map_or(field.clone(), |at| format!("{at}{field}"))
        }
    }
}

fn find_task(tasks: &[Value], at: &str, reference: &str) -> Option<String> {
    for (i, task) in tasks.iter().enumerate() {
        let here = format!("{at}/{i}");
        let Some(map) = task.as_object() else {
            continue;
        };
        if map.get("taskReferenceName").and_then(Value::as_str) == Some(reference) {
            return Some(here);
        }
        let mut lists: Vec<(String, &Vec<Value>)> = Vec::new();
        if let Some(cases) = map.get("decisionCases").and_then(Value::as_object) {
            for (case, list) in cases {
                if let Value::Array(list) = list {
                    let pointer =
                        super::source::push_pointer(&format!("{here}/decisionCases"), case);
                    lists.push((pointer, list));
                }
            }
        }
        for field in ["defaultCase", "loopOver"] {
            if let Some(list) = map.get(field).and_then(Value::as_array) {
                lists.push((format!("{here}/{field}"), list));
            }
        }
        if let Some(branches) = map.get("forkTasks").and_then(Value::as_array) {
            for (b, branch) in branches.iter().enumerate() {
                if let Value::Array(list) = branch {
                    lists.push((format!("{here}/forkTasks/{b}"), list));
                }
            }
        }
        if let Some(list) = map
            .get("subWorkflowParam")
            .and_then(|p| p.get("workflowDefinition"))
            .and_then(|d| d.get("tasks"))
            .and_then(Value::as_array)
        {
            lists.push((
                format!("{here}/subWorkflowParam/workflowDefinition/tasks"),
                list,
            ));
        }
        for (pointer, list) in lists {
            if let Some(found) = find_task(list, &pointer, reference) {
                return Some(found);
            }
        }
    }
    None
}

/// The inline `retry:` policy as Conductor's task-definition fields. Conductor's
/// EXPONENTIAL_BACKOFF always doubles and counts whole seconds; what it cannot say is noted.
fn retry_fields(
    policy: &RetryPolicy,
    reference: &str,
    def: &mut Map<String, Value>,
    notes: &mut Vec<Note>,
) {
    let logic = match policy.logic {
        RetryLogic::Fixed => "FIXED",
        RetryLogic::ExponentialBackoff => "EXPONENTIAL_BACKOFF",
        RetryLogic::LinearBackoff => "LINEAR_BACKOFF",
    };
    def.insert("retryCount".into(), Value::from(policy.count));
    def.insert("retryLogic".into(), Value::from(logic));
    let delay = whole_seconds(policy.delay, Some(reference), "retry.delay", notes);
    def.insert("retryDelaySeconds".into(), Value::from(delay));
    if let Some(max) = policy.max_delay {
        let max = whole_seconds(max, Some(reference), "retry.maxDelay", notes);
        def.insert("maxRetryDelaySeconds".into(), Value::from(max));
    }
    let jitter = u64::try_from(policy.jitter.0.as_millis()).unwrap_or(u64::MAX);
    if jitter > 0 {
        def.insert("backoffJitterMs".into(), Value::from(jitter));
    }
    let scale = policy.backoff_scale;
    match policy.logic {
        RetryLogic::ExponentialBackoff if scale != 2.0 => {
            add_note(
                notes,
                reference,
                "retry.backoffScale",
                format!(
                    "Conductor's EXPONENTIAL_BACKOFF always doubles the delay; a factor of {scale} cannot be said there (written as backoffScaleFactor, which Conductor reads for LINEAR_BACKOFF only)"
                ),
            );
            def.insert("backoffScaleFactor".into(), scale_value(scale));
        }
        RetryLogic::LinearBackoff => {
            // 3ox's default factor (2) means "no factor" for LINEAR_BACKOFF, as Conductor's 1.
            let factor = if scale == 2.0 { 1.0 } else { scale };
            if factor.fract() != 0.0 {
                add_note(
                    notes,
                    reference,
                    "retry.backoffScale",
                    format!(
                        "Conductor's backoffScaleFactor is a whole number; {factor} is written as it is"
                    ),
                );
            }
            def.insert("backoffScaleFactor".into(), scale_value(factor));
        }
        _ => {}
    }
}

fn scale_value(scale: f64) -> Value {
    if scale.fract() == 0.0 && (0.0..1e15).contains(&scale) {
        Value::from(scale as u64)
    } else {
        Value::from(scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(text: &str) -> Option<&'static str> {
        recognise(&serde_json::from_str(text).unwrap()).map(|n| n.kind)
    }

    #[test]
    fn recognises_conductor_records_that_are_not_workflows() {
        assert_eq!(
            kind(r#"{"name": "w", "workflowDef": {"name": "w", "tasks": []}, "input": {}}"#),
            Some("start-workflow request")
        );
        assert_eq!(
            kind(r#"{"name": "w", "version": 1, "input": {"a": 1}, "correlationId": "c"}"#),
            Some("start-workflow request")
        );
        assert_eq!(
            kind(r#"{"name": "h", "event": "kafka:x", "actions": [], "active": true}"#),
            Some("event handler")
        );
        assert_eq!(
            kind(
                r#"{"name": "s", "cronExpression": "0 0 * * * *", "startWorkflowRequest": {"name": "w"}}"#
            ),
            Some("schedule")
        );
        assert_eq!(
            kind(r#"[{"name": "t1", "retryCount": 3}, {"name": "t2", "timeoutSeconds": 5}]"#),
            Some("task definitions")
        );
        assert_eq!(
            kind(r#"{"name": "t1", "retryCount": 3, "ownerEmail": "a@b"}"#),
            Some("task definition")
        );
        assert_eq!(
            kind(r#"[{"name": "a", "tasks": []}, {"name": "b", "tasks": []}]"#),
            Some("workflow definitions")
        );
        assert_eq!(
            kind(r#"{"name": "a", "taskReferenceName": "a", "type": "SIMPLE"}"#),
            Some("workflow task")
        );
        assert_eq!(
            recognise(&crate::definition::schema::workflow_schema()).map(|n| n.kind),
            Some("JSON Schema")
        );
        // Workflows, even broken ones, are left to the validator.
        assert_eq!(
            kind(r#"{"name": "w", "tasks": [], "timeoutSeconds": 5}"#),
            None
        );
        assert_eq!(kind(r#"{"name": "w"}"#), None);
        assert_eq!(kind(r#"[1, 2]"#), None);
    }

    #[test]
    fn export_notes_a_subset_join_in_a_switch_case_but_not_in_a_loop() {
        let fork = "{name: fan, taskReferenceName: fan, type: FORK_JOIN, forkTasks: [[{name: b, taskReferenceName: b, retryCount: 0}], [{name: c, taskReferenceName: c, retryCount: 0}]]}, {name: j, taskReferenceName: j, type: JOIN, joinOn: [b]}";
        let switch = format!(
            "name: x\ntasks:\n  - {{name: s, taskReferenceName: s, type: SWITCH, evaluatorType: value-param, expression: k, inputParameters: {{k: 1}}, defaultCase: [{fork}]}}\n"
        );
        let looped = format!(
            "name: x\ntasks:\n  - {{name: l, taskReferenceName: l, type: DO_WHILE, loopCondition: \"false\", loopOver: [{fork}]}}\n"
        );
        let notes = |text: &str| -> Vec<String> {
            export(text, "x.yaml")
                .unwrap()
                .notes
                .iter()
                .map(|n| format!("{}/{}", n.task.as_deref().unwrap_or(""), n.field))
                .collect()
        };
        assert_eq!(notes(&switch), ["j/joinOn"]);
        assert_eq!(notes(&looped), Vec::<String>::new());
    }

    #[test]
    fn validate_takes_join_on_on_a_fork_join_as_conductor_does() {
        let text = "name: x\ntasks:\n  - name: f\n    taskReferenceName: f\n    type: FORK_JOIN\n    joinOn: [a]\n    forkTasks: [[{name: a, taskReferenceName: a}]]\n  - {name: j, taskReferenceName: j, type: JOIN, joinOn: [a]}\n";
        let src = Source::parse(text, "w.yaml").unwrap();
        assert_eq!(validate::check(&src), vec![]);
        let simple = "name: x\ntasks:\n  - {name: a, taskReferenceName: a, joinOn: [b]}\n";
        let src = Source::parse(simple, "w.yaml").unwrap();
        assert!(
            validate::check(&src)[0]
                .message
                .contains("`joinOn` only applies to JOIN tasks")
        );
    }

    #[test]
    fn validate_names_a_non_workflow_file_with_one_error_and_a_hint() {
        let src = Source::parse(
            "name: daily\ncronExpression: 0 0 9 * * *\nstartWorkflowRequest: {name: report}\n",
            "s.yaml",
        )
        .unwrap();
        let found = validate::check(&src);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].message,
            "this is a Conductor schedule, not a workflow definition"
        );
        assert!(
            found[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("start `report` from cron")
        );
    }

    fn reads_back(value: &Value) {
        let yaml = to_yaml(value);
        let back: Value = serde_yaml::from_str(&yaml)
            .unwrap_or_else(|e| panic!("unreadable YAML ({e}):\n{yaml}"));
        assert_eq!(&back, value, "YAML:\n{yaml}");
    }

    #[test]
    fn yaml_keeps_every_kind_of_value() {
        let texts = [
            "text with spaces",
            "true",
            "no",
            "~",
            "0x1F",
            "1e3",
            "2024-01-01",
            "a: b",
            "a #b",
            "- x",
            "*x",
            "it's",
            "say \"hi\"",
            "a\tb",
            "a\r\nb",
            "one\ntwo\n",
            "one\ntwo",
            "one\ntwo\n\n\n",
            "  one\ntwo",
            "\none",
            "one \ntwo",
            "",
            " ",
            "héllo ✓",
            "\u{feff}x",
            "null",
            ".5",
            "+1",
            "-",
            "?",
            "@x",
            "%x",
            "x:",
            "[a]",
            "{a}",
            "a\u{85}b",
        ];
        let mut map = Map::new();
        for (i, text) in texts.iter().enumerate() {
            map.insert(format!("k{i}"), json!(text));
            map.insert((*text).to_string(), json!([text, {"t": text}]));
        }
        map.insert(
            "numbers".into(),
            json!([1, 1.5, -3, 18_446_744_073_709_551_615_u64, false, null]),
        );
        map.insert(
            "nested".into(),
            json!([1, "two", [3, []], {}, {"a": [{"b": "c\nd"}]}]),
        );
        map.insert("empties".into(), json!({"list": [], "map": {}}));
        reads_back(&Value::Object(map));
        reads_back(&json!([]));
        reads_back(&json!("just text"));
        reads_back(&json!([[["deep"]], [{"k": "v", "l": [1]}]]));
    }

    #[test]
    fn multi_line_texts_are_literal_blocks() {
        let yaml = to_yaml(&json!({"script": "a\nb\n", "tasks": [{"x": "c\nd"}]}));
        assert_eq!(
            yaml,
            "script: |\n  a\n  b\ntasks:\n  - x: |-\n      c\n      d\n"
        );
    }

    #[test]
    fn import_orders_fields_as_conductor_does() {
        let text = r#"{"tasks": [{"type": "SIMPLE", "taskReferenceName": "a", "name": "a", "custom": 1}], "version": 2, "name": "w"}"#;
        let imported = import(text, "w.json").unwrap();
        let body: Vec<&str> = imported
            .yaml
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(
            body,
            vec![
                "name: w",
                "version: 2",
                "tasks:",
                "  - name: a",
                "    taskReferenceName: a",
                "    type: SIMPLE",
                "    custom: 1"
            ]
        );
        // `custom` is not a field 3ox knows: converted, and the validator's error comes along.
        assert!(
            imported
                .diagnostics
                .iter()
                .any(|d| d.message.contains("unknown field `custom`"))
        );
    }

    #[test]
    fn import_refuses_what_is_not_a_workflow() {
        let refused =
            import(r#"{"name": "h", "event": "x", "actions": []}"#, "h.json").unwrap_err();
        assert_eq!(
            refused.diagnostics[0].message,
            "this is a Conductor event handler, not a workflow definition"
        );
        let refused = import("[1, 2]", "l.json").unwrap_err();
        assert!(
            refused.diagnostics[0]
                .message
                .contains("a workflow file is a mapping")
        );
        assert!(import("{not json", "x.json").is_err());
    }

    fn exported(text: &str) -> (Value, Vec<String>) {
        let out = export(text, "w.yaml").unwrap();
        (
            serde_json::from_str(&out.json).unwrap(),
            out.notes.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn inline_retry_becomes_conductor_fields() {
        let (json, notes) = exported(
            "name: w\ntasks:\n  - name: a\n    taskReferenceName: a\n    retryCount: 9\n    retry: {count: 2, logic: LINEAR_BACKOFF, delay: 1.5}\n",
        );
        let task = &json["tasks"][0];
        assert_eq!(
            task.get("retryCount"),
            None,
            "the task's own count would win in Conductor"
        );
        assert_eq!(
            task["taskDefinition"],
            json!({"name": "a", "retryCount": 2, "retryLogic": "LINEAR_BACKOFF", "retryDelaySeconds": 2, "backoffScaleFactor": 1})
        );
        assert_eq!(
            notes,
            vec![
                "task `a`, `retry.delay`: Conductor counts whole seconds: 1s 500ms is rounded up to 2"
            ]
        );
        let (json, notes) = exported(
            "name: w\ntasks:\n  - name: a\n    taskReferenceName: a\n    retry: {count: 1, logic: EXPONENTIAL_BACKOFF, delay: 1, backoffScale: 3}\n",
        );
        assert_eq!(json["tasks"][0]["taskDefinition"]["backoffScaleFactor"], 3);
        assert!(notes[0].contains("always doubles"), "{notes:?}");
    }

    #[test]
    fn typed_inputs_become_names_defaults_and_metadata() {
        let (json, notes) = exported(
            "name: w\ninputParameters: [a]\ninputTemplate: {n: 9}\ninputs:\n  n: {type: integer, default: 3}\n  s: {type: string, default: x, required: false}\n  a: {type: list, required: true}\ntasks:\n  - {name: t, taskReferenceName: t}\n",
        );
        assert_eq!(json["inputParameters"], json!(["a", "n", "s"]));
        assert_eq!(json["inputTemplate"], json!({"n": 9, "s": "x"}));
        assert_eq!(
            json["metadata"]["threeoxInputs"]["a"],
            json!({"type": "list", "required": true})
        );
        assert!(json.get("inputs").is_none());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("`inputs`"), "{notes:?}");
    }

    #[test]
    fn task_level_fields_go_where_conductor_reads_them() {
        // Fields other parts of 3ox accept on the task itself (a DO_WHILE's keepLastN, the
        // timeouts, task-level input defaults): taken apart from the value tree, whatever the
        // validator of this build says about them.
        let text = "name: w\ntasks:\n  - {name: l, taskReferenceName: l, type: DO_WHILE, loopCondition: 'false', keepLastN: 2, timeoutSeconds: 1m, timeoutPolicy: RETRY, inputTemplate: {a: 1}, items: [1]}\n";
        let (json, notes) = exported(text);
        assert_eq!(
            json["tasks"][0],
            json!({
                "name": "l", "taskReferenceName": "l", "inputParameters": {"keepLastN": 2},
                "type": "DO_WHILE", "loopCondition": "false", "items": [1],
                "taskDefinition": {"name": "l", "timeoutSeconds": 60, "timeoutPolicy": "RETRY", "inputTemplate": {"a": 1}}
            })
        );
        assert_eq!(notes, Vec::<String>::new());
    }

    #[test]
    fn nested_tasks_and_inline_sub_workflows_are_exported_too() {
        let text = "\
name: w
tasks:
  - name: s
    taskReferenceName: s
    type: SWITCH
    evaluatorType: expression
    expression: n > 1
    inputParameters: {n: 1}
    decisionCases:
      'true':
        - {name: a, taskReferenceName: a, agent: x}
    defaultCase:
      - name: sub
        taskReferenceName: sub
        type: SUB_WORKFLOW
        subWorkflowParam:
          name: child
          workflowDefinition:
            name: child
            tasks:
              - {name: c, taskReferenceName: c, agent: y, timeoutSeconds: 1m}
";
        let (json, notes) = exported(text);
        assert_eq!(
            json["tasks"][0]["decisionCases"]["true"][0],
            json!({"name": "a", "taskReferenceName": "a", "retryCount": 0})
        );
        let child = &json["tasks"][0]["defaultCase"][0]["subWorkflowParam"]["workflowDefinition"];
        assert_eq!(
            child["tasks"][0],
            json!({"name": "c", "taskReferenceName": "c", "retryCount": 0, "taskDefinition": {"name": "c", "timeoutSeconds": 60}})
        );
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0]
                .starts_with("task `s`, `evaluatorType`: `expression` is 3ox's condition language")
        );
        assert!(notes[1].starts_with("task `a`, `agent`"));
        assert!(notes[2].starts_with("task `c`, `agent`"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_survives_the_yaml_writer(text in "(?s).{0,40}", key in "(?s).{0,12}") {
            let value = json!({ key: [text.clone(), {"t": text}] });
            let yaml = to_yaml(&value);
            let back: Value = serde_yaml::from_str(&yaml).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{yaml}")))?;
            proptest::prop_assert_eq!(back, value, "{}", yaml);
        }
    }
}
