//! Request mapping: a Conductor LLM task's input to an OpenAI-compatible chat completions
//! request, and the server's answer back to Conductor's output.
//!
//! Input fields read (Conductor's names): `messages` (a list of `{role, message}`; `content`
//! is taken for `message` too), `instructions` (a system message put first), `prompt` or
//! `promptName` with `promptVariables` (a user message; the variables fill `${name}` and
//! `{{name}}` places), `model` (only with `use_task_model`), `temperature`, `topP`,
//! `maxTokens`, `stopWords`, `frequencyPenalty`, `presencePenalty` and `jsonOutput`.
//! `llmProvider` is ignored: the agent's agent.yaml says where to go.
//!
//! Output: `result` (the text, or the parsed JSON value with `jsonOutput`), `finishReason`
//! (Conductor's spelling: `STOP`, `MAX_TOKENS`, ...), `promptTokens`, `completionTokens` and
//! `tokenUsed`.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::config::LlmConfig;

/// The two Conductor task types the LLM agent serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// `LLM_CHAT_COMPLETE` (and SIMPLE tasks sent to the agent): `messages`, or a prompt.
    Chat,
    /// `LLM_TEXT_COMPLETE`: a `prompt` or `promptName`.
    Text,
}

impl TaskKind {
    /// The kind for a message's `type` (`None` for a SIMPLE task); `Err` names the type.
    pub fn of(task_type: Option<&str>) -> Result<TaskKind, String> {
        match task_type {
            None | Some("SIMPLE" | "LLM_CHAT_COMPLETE") => Ok(TaskKind::Chat),
            Some("LLM_TEXT_COMPLETE") => Ok(TaskKind::Text),
            Some(other) => Err(format!(
                "the LLM agent serves LLM_CHAT_COMPLETE and LLM_TEXT_COMPLETE, not {other}"
            )),
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            TaskKind::Chat => "LLM_CHAT_COMPLETE",
            TaskKind::Text => "LLM_TEXT_COMPLETE",
        }
    }
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The JSON body of `POST /chat/completions`.
    pub body: Value,
    /// Whether `result` is to be parsed as JSON.
    pub json_output: bool,
}

/// Maps a task's input to a request. `Err` is a mistake in the input (the same input would
/// fail again: the task fails without a retry).
pub fn prepare(kind: TaskKind, input: &Value, config: &LlmConfig) -> Result<Prepared, String> {
    let empty = Map::new();
    let input = match input {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => {
            return Err(format!(
                "the task input must be a mapping of Conductor's LLM fields, not {}",
                kind_of(other)
            ));
        }
    };
    let variables = match input.get("promptVariables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(vars)) => vars.clone(),
        Some(other) => {
            return Err(format!(
                "`promptVariables` must be a mapping, not {}",
                kind_of(other)
            ));
        }
    };
    let mut messages = Vec::new();
    if let Some(instructions) = text_field(input, "instructions")? {
        messages.push(json!({"role": "system", "content": fill(&instructions, &variables)}));
    }
    let prompt = match (
        text_field(input, "prompt")?,
        text_field(input, "promptName")?,
    ) {
        (Some(prompt), _) => Some(prompt),
        (None, Some(name)) => Some(read_prompt(&config.prompts_dir, &name)?),
        (None, None) => None,
    };
    let listed = match input.get("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err(format!(
                "`messages` must be a list of {{role, message}}, not {}",
                kind_of(other)
            ));
        }
    };
    if kind == TaskKind::Chat {
        for (i, item) in listed.iter().enumerate() {
            messages.push(chat_message(i, item)?);
        }
    }
    if let Some(prompt) = prompt {
        messages.push(json!({"role": "user", "content": fill(&prompt, &variables)}));
    }
    if !messages.iter().any(|m| m["role"] != "system") {
        return Err(match kind {
            TaskKind::Chat => "LLM_CHAT_COMPLETE needs `messages` (a list of {role, message}), a `prompt` or a `promptName`".to_string(),
            TaskKind::Text => "LLM_TEXT_COMPLETE needs a `prompt` or a `promptName`".to_string(),
        });
    }
    let task_model = text_field(input, "model")?;
    let model = match (&config.model, task_model) {
        (_, Some(task)) if config.use_task_model => task,
        (Some(model), _) => model.clone(),
        (None, Some(task)) => {
            return Err(format!(
                "the LLM agent has no model of its own and does not take the task's (`model: {task}`): {}, or set `use_task_model: true`",
                config.model_hint
            ));
        }
        (None, None) => {
            return Err(format!(
                "no model to ask for: {} (or give the task a `model` with `use_task_model: true`)",
                config.model_hint
            ));
        }
    };
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model));
    body.insert("messages".into(), Value::Array(messages));
    for (from, to) in [
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("frequencyPenalty", "frequency_penalty"),
        ("presencePenalty", "presence_penalty"),
    ] {
        if let Some(value) = number_field(input, from)? {
            body.insert(to.into(), value);
        }
    }
    if let Some(max) = number_field(input, "maxTokens")? {
        match max.as_u64() {
            Some(n) if n > 0 => body.insert("max_tokens".into(), json!(n)),
            _ => {
                return Err(format!(
                    "`maxTokens` must be a whole number above 0, not {max}"
                ));
            }
        };
    }
    match input.get("stopWords") {
        None | Some(Value::Null) => {}
        Some(Value::Array(words)) if words.is_empty() => {}
        Some(Value::Array(words)) if words.iter().all(Value::is_string) => {
            body.insert("stop".into(), Value::Array(words.clone()));
        }
        Some(Value::String(word)) => {
            body.insert("stop".into(), json!([word]));
        }
        Some(other) => {
            return Err(format!(
                "`stopWords` must be a list of strings, not {other}"
            ));
        }
    }
    let json_output = match input.get("jsonOutput") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => return Err(format!("`jsonOutput` must be true or false, not {other}")),
    };
    if json_output {
        body.insert("response_format".into(), json!({"type": "json_object"}));
    }
    tracing::debug!(kind = kind.type_name(), "request prepared");
    Ok(Prepared {
        body: Value::Object(body),
        json_output,
    })
}

/// One Conductor chat message as an OpenAI one.
fn chat_message(i: usize, item: &Value) -> Result<Value, String> {
    let Value::Object(map) = item else {
        return Err(format!(
            "`messages[{i}]` must be a mapping {{role, message}}, not {}",
            kind_of(item)
        ));
    };
    let role = match map.get("role").and_then(Value::as_str) {
        Some(role @ ("user" | "assistant" | "system" | "tool")) => role,
        // Conductor's role for a model's request to call a tool.
        Some("tool_call") => "assistant",
        Some(other) => {
            return Err(format!(
                "`messages[{i}].role` is `{other}`; it must be user, assistant, system, tool_call or tool"
            ));
        }
        None => return Err(format!("`messages[{i}]` has no `role`")),
    };
    let content = match map.get("message").or_else(|| map.get("content")) {
        Some(Value::String(text)) => text.clone(),
        // Conductor writes a structured message as JSON text.
        Some(Value::Null) | None => {
            return Err(format!("`messages[{i}]` has no `message`"));
        }
        Some(other) => other.to_string(),
    };
    Ok(json!({"role": role, "content": content}))
}

/// A field that must be text when present (numbers and booleans are written as text).
fn text_field(input: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(other) => Err(format!("`{name}` must be text, not {}", kind_of(other))),
    }
}

/// A field that must be a number when present (a numeric string is taken: `${...}` mapping
/// of a workflow input often gives one).
fn number_field(input: &Map<String, Value>, name: &str) -> Result<Option<Value>, String> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(n @ Value::Number(_)) => Ok(Some(n.clone())),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s.trim()) {
            Ok(n @ Value::Number(_)) => Ok(Some(n)),
            _ => Err(format!("`{name}` must be a number, not `{s}`")),
        },
        Some(other) => Err(format!("`{name}` must be a number, not {}", kind_of(other))),
    }
}

/// Fills `${name}` and `{{name}}` (spaces allowed inside the braces) with the variables.
fn fill(text: &str, variables: &Map<String, Value>) -> String {
    let mut out = text.to_string();
    for (name, value) in variables {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for place in [
            format!("${{{name}}}"),
            format!("{{{{{name}}}}}"),
            format!("{{{{ {name} }}}}"),
        ] {
            out = out.replace(&place, &value);
        }
    }
    out
}

/// Reads prompt template `name` from `dir`: `<name>`, `<name>.txt` or `<name>.md`.
fn read_prompt(dir: &Path, name: &str) -> Result<String, String> {
    let safe = !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && crate::mailbox::name_problem(name).is_none();
    if !safe {
        return Err(format!(
            "`promptName` `{name}` is not a plain file name (no folders, no leading dot)"
        ));
    }
    for candidate in [
        name.to_string(),
        format!("{name}.txt"),
        format!("{name}.md"),
    ] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read the prompt {}: {e}", path.display()));
        }
    }
    Err(format!(
        "no prompt template `{name}`: looked for {name}, {name}.txt and {name}.md in {}",
        dir.display()
    ))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Maps the server's answer (a chat completion) to Conductor's output. `Err` says why the
/// answer cannot be used (it may be better next time: the attempt fails and may be retried).
pub fn output(answer: &Value, json_output: bool) -> Result<Value, String> {
    let choice = answer
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| {
            format!(
                "the server's answer has no `choices`: {}",
                quote(&answer.to_string())
            )
        })?;
    let text = choice
        .pointer("/message/content")
        .or_else(|| choice.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map_or_else(|| "STOP".to_string(), finish_reason);
    let result = if json_output {
        parse_json_answer(text).ok_or_else(|| {
            format!(
                "jsonOutput is set but the model's answer is not JSON: {}",
                quote(text)
            )
        })?
    } else {
        Value::String(text.to_string())
    };
    let usage = answer.get("usage");
    let count = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
    let prompt = count("prompt_tokens").unwrap_or(0);
    let completion = count("completion_tokens").unwrap_or(0);
    let total = count("total_tokens").unwrap_or(prompt + completion);
    Ok(json!({
        "result": result,
        "finishReason": finish,
        "promptTokens": prompt,
        "completionTokens": completion,
        "tokenUsed": total,
    }))
}

/// Conductor's spelling of a finish reason (`stop` is `STOP`, `length` is `MAX_TOKENS`).
fn finish_reason(reason: &str) -> String {
    match reason.to_ascii_uppercase().as_str() {
        "END_TURN" | "STOP_SEQUENCE" => "STOP".into(),
        "TOOL_USE" => "TOOL_CALLS".into(),
        "LENGTH" => "MAX_TOKENS".into(),
        "REFUSAL" => "CONTENT_FILTER".into(),
        other => other.to_string(),
    }
}

/// The model's text as JSON: as it is, or inside a ```json fence (models like fences).
fn parse_json_answer(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(value) = serde_json::from_str(trimmed) {
        return Some(value);
    }
    let inner = trimmed.strip_prefix("```")?.strip_suffix("```")?;
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    serde_json::from_str(inner.trim()).ok()
}

/// The start of a long text, for messages.
pub fn quote(text: &str) -> String {
    const MAX: usize = 300;
    let mut cut: String = text.chars().take(MAX).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LlmConfig {
        crate::llm::config::LlmSettings {
            model: Some("local".into()),
            ..serde_yaml::from_str("{}").unwrap()
        }
        .resolve("llm", Path::new("/nowhere"), |_| None)
        .unwrap()
    }

    #[test]
    fn chat_input_maps_to_openai_fields() {
        let input = json!({
            "llmProvider": "openai", "model": "gpt-4o-mini",
            "instructions": "Be brief about ${topic}.",
            "promptVariables": {"topic": "France"},
            "messages": [
                {"role": "system", "message": "You help."},
                {"role": "user", "message": "Capital?"},
                {"role": "tool_call", "message": {"name": "x"}},
            ],
            "temperature": 0.7, "topP": "0.9", "maxTokens": 500,
            "stopWords": ["END"], "jsonOutput": true,
        });
        let prepared = prepare(TaskKind::Chat, &input, &config()).unwrap();
        assert!(prepared.json_output);
        assert_eq!(
            prepared.body,
            json!({
                "model": "local",
                "messages": [
                    {"role": "system", "content": "Be brief about France."},
                    {"role": "system", "content": "You help."},
                    {"role": "user", "content": "Capital?"},
                    {"role": "assistant", "content": "{\"name\":\"x\"}"},
                ],
                "temperature": 0.7, "top_p": 0.9, "max_tokens": 500,
                "stop": ["END"], "response_format": {"type": "json_object"},
            })
        );
    }

    #[test]
    fn text_completion_takes_a_prompt_and_the_task_model_only_when_allowed() {
        let input =
            json!({"prompt": "Say {{ word }}", "promptVariables": {"word": "hi"}, "model": "m9"});
        let prepared = prepare(TaskKind::Text, &input, &config()).unwrap();
        assert_eq!(
            prepared.body,
            json!({"model": "local", "messages": [{"role": "user", "content": "Say hi"}]})
        );
        let mut allowed = config();
        allowed.use_task_model = true;
        let prepared = prepare(TaskKind::Text, &input, &allowed).unwrap();
        assert_eq!(prepared.body["model"], "m9");
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        let c = config();
        let err = |kind, input: Value| prepare(kind, &input, &c).unwrap_err();
        assert!(err(TaskKind::Chat, json!({})).contains("needs `messages`"));
        assert!(
            err(
                TaskKind::Text,
                json!({"messages": [{"role": "user", "message": "x"}]})
            )
            .contains("needs a `prompt`")
        );
        assert!(
            err(
                TaskKind::Chat,
                json!({"messages": [{"role": "boss", "message": "x"}]})
            )
            .contains("messages[0].role")
        );
        assert!(err(TaskKind::Chat, json!({"prompt": "x", "maxTokens": -1})).contains("maxTokens"));
        assert!(
            err(TaskKind::Chat, json!({"promptName": "../etc"})).contains("not a plain file name")
        );
        assert!(err(TaskKind::Chat, json!({"promptName": "nope"})).contains("no prompt template"));
        let mut no_model = config();
        no_model.model = None;
        assert!(
            prepare(TaskKind::Chat, &json!({"prompt": "x"}), &no_model)
                .unwrap_err()
                .contains("no model")
        );
        assert!(TaskKind::of(Some("LLM_GENERATE_EMBEDDINGS")).is_err());
    }

    #[test]
    fn prompt_templates_are_read_from_the_prompts_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("greet.txt"), "Greet ${name}.").unwrap();
        let mut c = config();
        c.prompts_dir = dir.path().to_path_buf();
        let input = json!({"promptName": "greet", "promptVariables": {"name": "Ada"}});
        let prepared = prepare(TaskKind::Text, &input, &c).unwrap();
        assert_eq!(prepared.body["messages"][0]["content"], "Greet Ada.");
    }

    #[test]
    fn answers_map_to_conductor_output() {
        let answer = json!({
            "choices": [{"message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        });
        assert_eq!(
            output(&answer, false).unwrap(),
            json!({"result": "Paris", "finishReason": "STOP", "promptTokens": 12, "completionTokens": 3, "tokenUsed": 15})
        );
        let fenced = json!({"choices": [{"message": {"content": "```json\n{\"a\": 1}\n```"}, "finish_reason": "length"}]});
        let out = output(&fenced, true).unwrap();
        assert_eq!(
            (out["result"].clone(), out["finishReason"].clone()),
            (json!({"a": 1}), json!("MAX_TOKENS"))
        );
        assert_eq!(out["tokenUsed"], 0);
        let prose = json!({"choices": [{"message": {"content": "Sure! Here it is"}}]});
        assert!(
            output(&prose, true)
                .unwrap_err()
                .contains("not JSON: Sure!")
        );
        assert!(
            output(&json!({"error": "x"}), false)
                .unwrap_err()
                .contains("no `choices`")
        );
    }
}
