//! The JSON Schema of the workflow format (`3ox schema`, committed as
//! `docs/workflow.schema.json`), for editors' YAML extensions: completion, hover text and
//! early marks on unknown fields.
//!
//! It is generated from the lists the validator checks against (the workflow's and the
//! task's fields, the task types, retry logics, evaluators, deadline policies), so the two
//! cannot drift apart: a field the validator accepts is in the schema, a field it refuses is
//! not. Descriptions and value shapes come from the table in this file; a field without an
//! entry still appears, described as a Conductor field kept as written. The schema is never
//! stricter than the validator, so every valid workflow passes it.

use serde_json::{Map, Value, json};

use super::validate::lists::{
    DEADLINE_POLICIES, RETRY_FIELDS, RETRY_LOGICS, TASK_FIELDS, WORKFLOW_FIELDS,
};
use super::{AGENT_SERVED_TYPES, SUPPORTED_TYPES};

/// Which task types each type-specific field belongs to (for the descriptions).
const FIELD_TYPES: &[(&str, &str)] = &[
    ("dynamicTaskNameParam", "DYNAMIC"),
    ("caseValueParam", "DECISION"),
    ("caseExpression", "DECISION"),
    ("scriptExpression", "LAMBDA"),
    ("decisionCases", "SWITCH, DECISION"),
    ("defaultCase", "SWITCH, DECISION"),
    ("dynamicForkJoinTasksParam", "FORK_JOIN_DYNAMIC"),
    ("dynamicForkTasksParam", "FORK_JOIN_DYNAMIC"),
    ("dynamicForkTasksInputParamName", "FORK_JOIN_DYNAMIC"),
    ("forkTasks", "FORK_JOIN"),
    ("subWorkflowParam", "SUB_WORKFLOW"),
    ("joinOn", "JOIN, EXCLUSIVE_JOIN"),
    ("sink", "EVENT"),
    ("defaultExclusiveJoinTask", "EXCLUSIVE_JOIN"),
    ("loopCondition", "DO_WHILE"),
    ("loopOver", "DO_WHILE"),
    ("items", "DO_WHILE"),
    ("keepLastN", "DO_WHILE"),
    ("evaluatorType", "SWITCH, INLINE"),
    ("expression", "SWITCH, INLINE"),
    ("agent", "SIMPLE and agent-served types"),
    ("approver", "HUMAN"),
    ("deadline", "HUMAN"),
    ("onDeadline", "HUMAN"),
    ("escalateTo", "HUMAN"),
    ("failOnReject", "HUMAN"),
];

/// Conductor's `evaluatorType` values (SWITCH, INLINE, DO_WHILE), plus 3ox's safe
/// `expression`; which ones a given type takes is the validator's to say.
const EVALUATOR_TYPES: &[&str] = &["value-param", "expression", "javascript", "graaljs"];

/// Values of the workflow's `timeoutPolicy`, and of a task definition's.
const WORKFLOW_TIMEOUT_POLICIES: &[&str] = &["TIME_OUT_WF", "ALERT_ONLY"];
const TASK_TIMEOUT_POLICIES: &[&str] = &["RETRY", "TIME_OUT_WF", "ALERT_ONLY"];

/// The schema of a workflow field: shape and description.
fn workflow_field(name: &str) -> Value {
    match name {
        "name" => {
            json!({"type": "string", "minLength": 1, "description": "The workflow's name: what `3ox run` and SUB_WORKFLOW tasks call it by."})
        }
        "description" => {
            json!({"type": ["string", "null"], "description": "What the workflow does, for people."})
        }
        "version" => {
            json!({"type": "integer", "minimum": 0, "description": "The definition's version (a whole number; 1 when absent)."})
        }
        "tasks" => {
            json!({"$ref": "#/definitions/taskList", "description": "The tasks, run one after the other."})
        }
        "inputParameters" => {
            json!({"type": "array", "items": {"type": "string"}, "description": "Names of the inputs the workflow expects (documentation, as in Conductor)."})
        }
        "outputParameters" => {
            json!({"type": "object", "description": "The run's output, mapped with `${...}` expressions when it completes (default: the last task's output)."})
        }
        "failureWorkflow" => {
            json!({"type": "string", "description": "A workflow started when a run fails, with the original input plus the failed run's id, reason and failing task (compensation)."})
        }
        "schemaVersion" => {
            json!({"type": "integer", "description": "Conductor's definition schema version (2)."})
        }
        "timeoutPolicy" => {
            json!({"enum": WORKFLOW_TIMEOUT_POLICIES, "description": "What happens when the run exceeds `timeoutSeconds`: TIME_OUT_WF ends it TIMED_OUT, ALERT_ONLY only reports."})
        }
        "timeoutSeconds" => {
            json!({"$ref": "#/definitions/seconds", "description": "The run's time limit in seconds (0: none)."})
        }
        "variables" => {
            json!({"type": "object", "description": "Initial workflow variables, read as `${workflow.variables.x}` and set by SET_VARIABLE."})
        }
        "inputTemplate" => {
            json!({"type": "object", "description": "Default input values, used where the run's input does not give one."})
        }
        "inputs" => {
            json!({
                "type": "object",
                "description": "3ox: the workflow's inputs by name, each with its type, default, description and whether it is required; `3ox run` and `3ox start` check a run's input against them before anything starts.",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "type": {"enum": crate::definition::inputs::INPUT_TYPES, "description": "The type the value must have (any value when absent)."},
                        "default": {"description": "The value used when the run's input gives none (of the declared type)."},
                        "description": {"type": "string", "description": "What the input is, for people."},
                        "required": {"type": "boolean", "description": "A run without this input (and no default) is refused."}
                    }
                }
            })
        }
        "ownerEmail" => {
            json!({"type": "string", "description": "Conductor's owner address (kept as written)."})
        }
        "restartable" => {
            json!({"type": "boolean", "description": "false: a COMPLETED run may not be restarted (as Conductor)."})
        }
        other => {
            json!({"description": format!("Conductor's workflow field `{other}`, kept as written.")})
        }
    }
}

/// The schema of a task field: shape and description.
fn task_field(name: &str) -> Value {
    let mut schema = match name {
        "name" => {
            json!({"type": "string", "minLength": 1, "description": "The task's name; for SIMPLE tasks, the capability an agent serves."})
        }
        "taskReferenceName" => {
            json!({"type": "string", "minLength": 1, "description": "A name unique in the workflow; other tasks read this task's output as `${ref.output...}`."})
        }
        "description" => {
            json!({"type": ["string", "null"], "description": "What the task does, for people."})
        }
        "inputParameters" => {
            json!({"type": "object", "description": "The task's input, mapped with `${workflow.input.x}`, `${ref.output.y}`, `${workflow.variables.z}`."})
        }
        "type" => json!({"$ref": "#/definitions/taskType"}),
        "optional" => {
            json!({"type": "boolean", "description": "A failure does not fail the run: the run ends COMPLETED_WITH_ERRORS."})
        }
        "permissive" => {
            json!({"type": "boolean", "description": "A failure lets the run go on, but the run ends FAILED."})
        }
        "startDelay" => {
            json!({"$ref": "#/definitions/seconds", "description": "Seconds to wait before the task is scheduled."})
        }
        "decisionCases" => {
            json!({"type": "object", "additionalProperties": {"$ref": "#/definitions/taskList"}, "description": "Case value -> the tasks to run for it."})
        }
        "defaultCase" => {
            json!({"$ref": "#/definitions/taskList", "description": "The tasks run when no case matches."})
        }
        "forkTasks" => {
            json!({"type": "array", "items": {"$ref": "#/definitions/taskList"}, "description": "Branches run in parallel, each a list of tasks; a JOIN follows."})
        }
        "joinOn" => {
            json!({"type": "array", "items": {"type": "string"}, "description": "Reference names of the tasks to wait for."})
        }
        "loopOver" => {
            json!({"$ref": "#/definitions/taskList", "description": "The loop body, run once per iteration."})
        }
        "loopCondition" => {
            json!({"type": "string", "description": "Evaluated after each iteration; the loop goes on while it is true."})
        }
        "evaluatorType" => {
            json!({"enum": EVALUATOR_TYPES, "description": "How `expression` is evaluated: `value-param` (names an input), `expression` (3ox's safe condition), `javascript` / `graaljs` (Conductor's)."})
        }
        "expression" => {
            json!({"type": "string", "description": "What decides the case (SWITCH) or computes the result (INLINE), read by `evaluatorType`."})
        }
        "caseValueParam" => {
            json!({"type": "string", "description": "DECISION: the input whose value picks the case."})
        }
        "caseExpression" => {
            json!({"type": "string", "description": "DECISION: a JavaScript expression whose value picks the case."})
        }
        "scriptExpression" => {
            json!({"type": "string", "description": "LAMBDA: a JavaScript body returning the result."})
        }
        "dynamicForkTasksParam" => {
            json!({"type": "string", "description": "The input holding the list of task definitions to fork."})
        }
        "dynamicForkTasksInputParamName" => {
            json!({"type": "string", "description": "The input holding each forked task's input, by reference name."})
        }
        "dynamicTaskNameParam" => {
            json!({"type": "string", "description": "The input naming the task to run."})
        }
        "subWorkflowParam" => {
            json!({"type": "object", "description": "The child workflow: `name` and `version`, or an inline `workflowDefinition`."})
        }
        "sink" => {
            json!({"type": "string", "description": "Where the event goes (e.g. `conductor:name`, an agent's inbox)."})
        }
        "taskDefinition" => json!({"$ref": "#/definitions/taskDefinition"}),
        "retryCount" => {
            json!({"type": "integer", "minimum": 0, "description": "Retries after the first attempt (Conductor)."})
        }
        "retryLogic" => {
            json!({"enum": RETRY_LOGICS, "description": "How the delay between retries grows (Conductor)."})
        }
        "retryDelaySeconds" => {
            json!({"type": "number", "minimum": 0, "description": "Base delay between retries, in seconds (Conductor)."})
        }
        "maxRetryDelaySeconds" => {
            json!({"type": "number", "minimum": 0, "description": "Upper bound of any one retry delay, in seconds (Conductor)."})
        }
        "backoffJitterMs" => {
            json!({"type": "integer", "minimum": 0, "description": "A random extra delay up to this many milliseconds (Conductor)."})
        }
        "backoffScaleFactor" => {
            json!({"type": "number", "minimum": 0, "description": "Growth factor of LINEAR_BACKOFF (Conductor)."})
        }
        "items" => {
            json!({"description": "A list (or a `${...}` expression giving one) to iterate: one iteration per item, read as `${loopRef.output.loopItem}` / `loopIndex`."})
        }
        "keepLastN" => {
            json!({"type": "integer", "minimum": 1, "description": "How many iterations' task outputs to keep (older ones are dropped)."})
        }
        "timeoutSeconds" => {
            json!({"$ref": "#/definitions/seconds", "description": "Time limit of one attempt (Conductor's task-definition field, accepted on the task)."})
        }
        "responseTimeoutSeconds" => {
            json!({"$ref": "#/definitions/seconds", "description": "How long an agent may go without a heartbeat before the attempt times out."})
        }
        "pollTimeoutSeconds" => {
            json!({"$ref": "#/definitions/seconds", "description": "How long a message may wait unclaimed before the attempt times out."})
        }
        "totalTimeoutSeconds" => {
            json!({"$ref": "#/definitions/seconds", "description": "Time limit across all attempts."})
        }
        "timeoutPolicy" => {
            json!({"enum": TASK_TIMEOUT_POLICIES, "description": "What a timeout does: RETRY the task, TIME_OUT_WF (end the run), ALERT_ONLY."})
        }
        "inputTemplate" => {
            json!({"type": "object", "description": "Default input values, used where inputParameters give none."})
        }
        "inputExpression" => {
            json!({"description": "An expression computing the task's whole input."})
        }
        "agent" => {
            json!({"type": ["string", "null"], "description": "3ox: the agent (folder under agents/) that serves this task; without it, any agent listing the task's name among its capabilities."})
        }
        "retry" => json!({"$ref": "#/definitions/retry"}),
        "approver" => {
            json!({"type": ["string", "null"], "description": "3ox HUMAN: the agent (the Commander's mailbox) who decides; `commander` when absent."})
        }
        "deadline" => {
            json!({"$ref": "#/definitions/duration", "description": "3ox HUMAN: how long the request stays open."})
        }
        "onDeadline" => {
            json!({"enum": DEADLINE_POLICIES, "description": "3ox HUMAN: what happens at the deadline (REJECT when absent)."})
        }
        "escalateTo" => {
            json!({"type": ["string", "null"], "description": "3ox HUMAN: who is asked next when `onDeadline: ESCALATE`."})
        }
        "failOnReject" => {
            json!({"type": "boolean", "description": "3ox HUMAN: a rejection fails the task instead of completing it with `decision: rejected`."})
        }
        other => {
            json!({"description": format!("Conductor's task field `{other}`, kept as written.")})
        }
    };
    if let Some((_, types)) = FIELD_TYPES.iter().find(|(field, _)| *field == name)
        && let Some(Value::String(text)) = schema.get_mut("description")
    {
        text.push_str(&format!(" Applies to: {types}."));
    }
    schema
}

fn properties(fields: &[&str], describe: fn(&str) -> Value) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| ((*f).to_string(), describe(f)))
        .collect()
}

/// The whole schema (JSON Schema draft-07, which editors' YAML extensions read).
pub fn workflow_schema() -> Value {
    let types: Vec<&str> = SUPPORTED_TYPES
        .iter()
        .chain(AGENT_SERVED_TYPES)
        .copied()
        .collect();
    let retry_properties: Map<String, Value> = RETRY_FIELDS
        .iter()
        .map(|f| {
            let schema = match *f {
                "count" => json!({"type": "integer", "minimum": 0, "description": "Retries after the first attempt."}),
                "logic" => json!({"enum": RETRY_LOGICS, "description": "How the delay grows: FIXED, EXPONENTIAL_BACKOFF (delay * backoffScale^(retry-1)), LINEAR_BACKOFF (delay * retry)."}),
                "delay" => json!({"$ref": "#/definitions/duration", "description": "Base delay: seconds or a text such as `500ms`, `2s`, `1m`."}),
                "maxDelay" => json!({"anyOf": [{"$ref": "#/definitions/duration"}, {"type": "null"}], "description": "Upper bound of any one delay."}),
                "jitter" => json!({"$ref": "#/definitions/duration", "description": "A random extra delay between zero and this."}),
                "backoffScale" => json!({"type": "number", "exclusiveMinimum": 0, "description": "Growth factor of EXPONENTIAL_BACKOFF (2 when absent)."}),
                other => json!({"description": format!("retry field `{other}`")}),
            };
            ((*f).to_string(), schema)
        })
        .collect();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "3ox workflow",
        "description": "A 3ox workflow definition: Conductor's workflow format in YAML (or JSON), with 3ox's additions. Generated by `3ox schema`; see docs/workflow-language.md.",
        "type": "object",
        "required": ["name", "tasks"],
        "additionalProperties": false,
        "properties": properties(WORKFLOW_FIELDS, workflow_field),
        "definitions": {
            "taskList": {
                "type": "array",
                "items": {"$ref": "#/definitions/task"}
            },
            "task": {
                "type": "object",
                "description": "One task: `name`, `taskReferenceName`, `type` (SIMPLE when absent) and the fields of its type.",
                "required": ["name", "taskReferenceName"],
                "additionalProperties": false,
                "properties": properties(TASK_FIELDS, task_field),
                "allOf": [
                    {"if": {"properties": {"type": {"const": "FORK_JOIN"}}, "required": ["type"]},
                     "then": {"required": ["forkTasks"]}},
                    {"if": {"properties": {"type": {"const": "SWITCH"}}, "required": ["type"]},
                     "then": {"required": ["expression"]}}
                ]
            },
            "taskType": {
                "enum": types,
                "description": "The task type (SIMPLE when absent). The engine runs SIMPLE (through an agent) and the control types itself; the system types after HTTP are served by an agent that lists the type among its capabilities."
            },
            "retry": {
                "type": ["object", "null"],
                "description": "3ox's inline retry policy; exported to Conductor as retryCount, retryLogic, retryDelaySeconds, maxRetryDelaySeconds, backoffJitterMs and backoffScaleFactor in taskDefinition.",
                "additionalProperties": false,
                "properties": retry_properties
            },
            "taskDefinition": {
                "type": ["object", "null"],
                "description": "Conductor's task definition fields for this task (retries, timeouts).",
                "properties": {
                    "retryCount": {"type": "integer", "minimum": 0},
                    "retryLogic": {"enum": RETRY_LOGICS},
                    "retryDelaySeconds": {"type": "number", "minimum": 0},
                    "maxRetryDelaySeconds": {"type": "number", "minimum": 0},
                    "backoffJitterMs": {"type": "integer", "minimum": 0},
                    "backoffScaleFactor": {"type": "number", "minimum": 0},
                    "timeoutPolicy": {"enum": TASK_TIMEOUT_POLICIES},
                    "timeoutSeconds": {"$ref": "#/definitions/seconds"},
                    "responseTimeoutSeconds": {"$ref": "#/definitions/seconds"},
                    "pollTimeoutSeconds": {"$ref": "#/definitions/seconds"},
                    "totalTimeoutSeconds": {"$ref": "#/definitions/seconds"}
                }
            },
            "duration": {
                "description": "A duration: seconds (`2`, `0.5`) or a text with a unit (`500ms`, `2s`, `1m 30s`).",
                "type": ["number", "string"],
                "minimum": 0
            },
            "seconds": {
                "description": "Seconds (a number), or a duration text such as `30s` or `5m`.",
                "type": ["number", "string"],
                "minimum": 0
            }
        }
    })
}

/// The schema as `3ox schema` prints it (and as `docs/workflow.schema.json` holds it).
pub fn workflow_schema_text() -> String {
    serde_json::to_string_pretty(&workflow_schema()).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_validator_field_and_type_is_in_the_schema() {
        let schema = workflow_schema();
        for field in WORKFLOW_FIELDS {
            assert!(schema["properties"].get(*field).is_some(), "{field}");
        }
        for field in TASK_FIELDS {
            assert!(
                schema["definitions"]["task"]["properties"]
                    .get(*field)
                    .is_some(),
                "{field}"
            );
        }
        let types = schema["definitions"]["taskType"]["enum"]
            .as_array()
            .unwrap();
        for name in SUPPORTED_TYPES.iter().chain(AGENT_SERVED_TYPES) {
            assert!(types.iter().any(|t| t == name), "{name}");
        }
        assert_eq!(
            schema["definitions"]["task"]["properties"]["retryLogic"]["enum"],
            json!(["FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"])
        );
    }

    #[test]
    fn type_specific_fields_say_their_type() {
        let schema = workflow_schema();
        let text = schema["definitions"]["task"]["properties"]["loopCondition"]["description"]
            .as_str()
            .unwrap();
        assert!(text.ends_with("Applies to: DO_WHILE."), "{text}");
    }
}
