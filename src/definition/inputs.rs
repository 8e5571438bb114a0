//! A workflow's declared inputs (3ox's `inputs:`), and the check of a run's input against
//! them before anything starts.
//!
//! ```yaml
//! inputParameters: [folders, strict]      # Conductor: the names (documentation)
//! inputs:                                 # 3ox: per input its type, default, description
//!   folders: {type: list, required: true, description: the folders to check}
//!   strict: {type: boolean, default: false}
//! ```
//!
//! - [`InputSpec`] is one declaration; [`InputType`] its `type`.
//! - [`check_run_input`] is what `3ox run` and `3ox start` call: it lays the defaults into the
//!   input and returns every problem (a required input missing, a value of the wrong type),
//!   so the command can refuse the run with all of them before a journal exists.
//! - [`defaults`] are the declared defaults, which the engine also lays under the input of
//!   every run it starts (child runs and `3ox test` too, see `expr::mapping::workflow_input`).
//!
//! The declaration itself (known fields, known types, a default of the declared type) is
//! checked by the validator (`validate/inputs.rs`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::WorkflowDef;

/// The types an input may declare.
pub const INPUT_TYPES: &[&str] = &["string", "number", "integer", "boolean", "list", "object"];

/// The fields of one input declaration.
pub const INPUT_FIELDS: &[&str] = &["type", "default", "description", "required"];

/// The type of a declared input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Number,
    Integer,
    Boolean,
    List,
    Object,
}

impl InputType {
    /// The type named `name` (one of [`INPUT_TYPES`]).
    pub fn parse(name: &str) -> Option<InputType> {
        Some(match name {
            "string" => InputType::String,
            "number" => InputType::Number,
            "integer" => InputType::Integer,
            "boolean" => InputType::Boolean,
            "list" => InputType::List,
            "object" => InputType::Object,
            _ => return None,
        })
    }

    /// Whether `value` is of this type (an integer is a number too).
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            InputType::String => value.is_string(),
            InputType::Number => value.is_number(),
            InputType::Integer => value.is_i64() || value.is_u64(),
            InputType::Boolean => value.is_boolean(),
            InputType::List => value.is_array(),
            InputType::Object => value.is_object(),
        }
    }

    /// "a list", "an integer", ... for messages.
    pub fn article(self) -> &'static str {
        match self {
            InputType::String => "text (a string)",
            InputType::Number => "a number",
            InputType::Integer => "a whole number (an integer)",
            InputType::Boolean => "true or false (a boolean)",
            InputType::List => "a list",
            InputType::Object => "a mapping (an object)",
        }
    }

    /// How to give a value of this type on the command line.
    fn example(self, name: &str) -> String {
        match self {
            InputType::String => format!("--input '{name}=\"text\"'"),
            InputType::Number => format!("--input {name}=1.5"),
            InputType::Integer => format!("--input {name}=3"),
            InputType::Boolean => format!("--input {name}=true"),
            InputType::List => format!("--input '{name}=[a, b]'"),
            InputType::Object => format!("--input '{name}={{key: value}}'"),
        }
    }
}

impl std::fmt::Display for InputType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputType::String => "string",
            InputType::Number => "number",
            InputType::Integer => "integer",
            InputType::Boolean => "boolean",
            InputType::List => "list",
            InputType::Object => "object",
        })
    }
}

/// One declared input of a workflow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The type its value must have; any value when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<InputType>,
    /// The value used when the run's input does not give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// What the input is, for people (`3ox template show`, the error of a missing input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A run without a value (and without a default) is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

/// The declared defaults of `workflow`'s inputs, by name.
pub fn defaults(workflow: &WorkflowDef) -> Map<String, Value> {
    workflow
        .inputs
        .iter()
        .filter_map(|(name, spec)| Some((name.clone(), spec.default.clone()?)))
        .collect()
}

/// One problem of a run's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    pub input: String,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n    = hint: {}", self.message, self.hint)
    }
}

/// Checks a run's `input` against `workflow`'s declared inputs and lays the declared
/// defaults into it (a value given wins; the workflow's `inputTemplate` counts as given).
/// Returns every problem, in declaration order; an empty list means the run may start.
pub fn check_run_input(workflow: &WorkflowDef, input: &mut Value) -> Vec<InputProblem> {
    if workflow.inputs.is_empty() {
        return Vec::new();
    }
    let Value::Object(given) = input else {
        if input.is_null() {
            *input = Value::Object(Map::new());
            return check_run_input(workflow, input);
        }
        return vec![InputProblem {
            input: String::new(),
            message: "the workflow input must be a mapping of input names to values".into(),
            hint: "give inputs with --input NAME=VALUE or --input-file FILE".into(),
        }];
    };
    let template = match workflow.extra.get("inputTemplate") {
        Some(Value::Object(template)) => template.clone(),
        _ => Map::new(),
    };
    let mut problems = Vec::new();
    for (name, spec) in &workflow.inputs {
        let value = given
            .get(name)
            .filter(|v| !v.is_null())
            .or_else(|| template.get(name).filter(|v| !v.is_null()));
        match value {
            None => {
                if let Some(default) = &spec.default {
                    given.insert(name.clone(), default.clone());
                } else if spec.required {
                    problems.push(missing(name, spec));
                }
            }
            Some(value) => {
                if let Some(ty) = spec.type_name
                    && !ty.accepts(value)
                {
                    problems.push(InputProblem {
                        input: name.clone(),
                        message: format!(
                            "input `{name}` must be {}, not {}",
                            ty.article(),
                            super::validate::describe_value(value)
                        ),
                        hint: type_hint(name, ty, value),
                    });
                }
            }
        }
    }
    problems
}

/// [`check_run_input`] for `3ox run` and `3ox start`: prints every problem on stderr and
/// returns whether the run may start.
pub fn report_run_input(workflow: &WorkflowDef, input: &mut Value) -> bool {
    let problems = check_run_input(workflow, input);
    if problems.is_empty() {
        return true;
    }
    eprintln!(
        "error: the input does not fit the inputs workflow `{}` declares:",
        workflow.name
    );
    for problem in &problems {
        eprintln!("  - {problem}");
    }
    eprintln!("nothing was started");
    false
}

fn missing(name: &str, spec: &InputSpec) -> InputProblem {
    let what = match (&spec.type_name, &spec.description) {
        (Some(ty), Some(d)) => format!(" ({}: {d})", ty.article()),
        (Some(ty), None) => format!(" ({})", ty.article()),
        (None, Some(d)) => format!(" ({d})"),
        (None, None) => String::new(),
    };
    let example = spec
        .type_name
        .map(|ty| ty.example(name))
        .unwrap_or_else(|| format!("--input {name}=VALUE"));
    InputProblem {
        input: name.to_string(),
        message: format!("input `{name}` is required{what} but was not given"),
        hint: format!("give it with `{example}` (or in --input-file)"),
    }
}

fn type_hint(name: &str, ty: InputType, value: &Value) -> String {
    let quoted = ty == InputType::String && !value.is_object() && !value.is_array();
    if quoted {
        format!(
            "--input values are read as YAML: quote text that looks like a number or a boolean, `--input '{name}=\"{}\"'`",
            value
        )
    } else {
        format!("give it as `{}`", ty.example(name))
    }
}

/// The declared inputs as `name: spec`, for display (`3ox template show`).
pub fn describe(inputs: &IndexMap<String, InputSpec>) -> Vec<String> {
    inputs
        .iter()
        .map(|(name, spec)| {
            let mut line = name.clone();
            if let Some(ty) = spec.type_name {
                line.push_str(&format!(" ({ty})"));
            }
            if spec.required {
                line.push_str(", required");
            }
            if let Some(default) = &spec.default {
                line.push_str(&format!(", default {default}"));
            }
            if let Some(d) = &spec.description {
                line.push_str(&format!(": {d}"));
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workflow(inputs: &str) -> WorkflowDef {
        let text =
            format!("name: w\ninputs:\n{inputs}tasks:\n  - {{name: a, taskReferenceName: a}}\n");
        super::super::parse_str(&text, std::path::Path::new("w.yaml")).unwrap()
    }

    #[test]
    fn defaults_are_laid_in_and_given_values_win() {
        let w = workflow("  n: {type: integer, default: 3}\n  tag: {type: string, default: x}\n");
        let mut input = json!({"tag": "given"});
        assert!(check_run_input(&w, &mut input).is_empty());
        assert_eq!(input, json!({"tag": "given", "n": 3}));
        let mut input = Value::Null;
        assert!(check_run_input(&w, &mut input).is_empty());
        assert_eq!(input, json!({"n": 3, "tag": "x"}));
    }

    #[test]
    fn every_missing_required_input_and_wrong_type_is_reported() {
        let w = workflow(
            "  folders: {type: list, required: true, description: the folders}\n  strict: {type: boolean}\n  root: {required: true}\n",
        );
        let mut input = json!({"strict": "yes"});
        let problems = check_run_input(&w, &mut input);
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "input `folders` is required (a list: the folders) but was not given",
                "input `strict` must be true or false (a boolean), not the text `yes`",
                "input `root` is required but was not given",
            ]
        );
        assert!(problems[0].hint.contains("--input 'folders=[a, b]'"));
    }

    #[test]
    fn an_input_template_value_counts_as_given() {
        let text = "name: w\ninputTemplate: {n: 2}\ninputs:\n  n: {type: integer, required: true}\ntasks:\n  - {name: a, taskReferenceName: a}\n";
        let w = super::super::parse_str(text, std::path::Path::new("w.yaml")).unwrap();
        assert!(check_run_input(&w, &mut json!({})).is_empty());
    }

    #[test]
    fn a_number_for_a_text_input_says_to_quote_it() {
        let w = workflow("  tag: {type: string}\n");
        let problems = check_run_input(&w, &mut json!({"tag": 1.1}));
        assert!(problems[0].hint.contains("quote"), "{problems:?}");
        let w = workflow("  n: {type: number}\n");
        assert!(check_run_input(&w, &mut json!({"n": 2})).is_empty());
    }
}
