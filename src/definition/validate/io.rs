//! HTTP and EVENT: the request or the sink, and fields misplaced between them.

use serde_json::Value;

use super::{Site, Validator, describe, nearest};
use crate::definition::TaskKind;
use crate::definition::source::push_pointer;

impl Validator<'_> {
    /// HTTP: the request, nested in `inputParameters.http_request` or flat in
    /// `inputParameters`: an absolute uri, a method 3ox sends, headers as a mapping, timeouts
    /// in whole milliseconds. Values written as `${...}` are checked when the task runs.
    pub(super) fn http(&mut self, site: &Site<'_>) {
        use crate::engine::tasks::http::{
            IGNORED_REQUEST_FIELDS, METHODS, REQUEST_FIELDS, check_uri, millis,
        };
        self.io_common(site, "HTTP");
        let dynamic = |v: &Value| matches!(v, Value::String(s) if s.contains("${"));
        let Some(inputs) = site.input_parameters() else {
            self.error(
                &site.pointer,
                format!(
                    "HTTP {} has no `inputParameters` with the request",
                    site.label()
                ),
                Some(
                    "write `inputParameters: {http_request: {uri: https://..., method: GET}}`"
                        .into(),
                ),
            );
            return;
        };
        let inputs_pointer = site.field_pointer("inputParameters");
        let (spec, pointer) = match inputs.get("http_request") {
            Some(v) if dynamic(v) => return,
            Some(Value::Object(spec)) => (spec, push_pointer(&inputs_pointer, "http_request")),
            Some(other) => {
                self.must_be(
                    &push_pointer(&inputs_pointer, "http_request"),
                    &format!("`http_request` of {}", site.label()),
                    "a mapping with uri and method",
                    other,
                    Some("write `http_request: {uri: https://..., method: GET}`".into()),
                );
                return;
            }
            None => (inputs, inputs_pointer.clone()),
        };
        if inputs.contains_key("http_request") {
            let known: Vec<&str> = REQUEST_FIELDS
                .iter()
                .chain(IGNORED_REQUEST_FIELDS)
                .copied()
                .collect();
            self.unknown_fields(
                spec,
                &pointer,
                &known,
                &format!("the HTTP request of {}", site.label()),
                "HTTP request",
            );
        }
        let at = |field: &str| push_pointer(&pointer, field);
        match spec.get("uri") {
            None => self.error(
                &pointer,
                format!("the HTTP request of {} has no `uri`", site.label()),
                Some("add `uri: https://...` (the address to call)".into()),
            ),
            Some(v) if dynamic(v) => {}
            Some(Value::String(uri)) => {
                if let Err(problem) = check_uri(uri.trim()) {
                    self.error(
                        &at("uri"),
                        problem,
                        Some("for example `uri: https://api.example.com/orders`".into()),
                    );
                }
            }
            Some(other) => self.must_be(
                &at("uri"),
                &format!("`uri` of {}", site.label()),
                "text",
                other,
                None,
            ),
        }
        match spec.get("method") {
            None | Some(Value::Null) => {}
            Some(v) if dynamic(v) => {}
            Some(Value::String(method))
                if METHODS.contains(&method.trim().to_ascii_uppercase().as_str()) => {}
            Some(other) => {
                let hint = match other
                    .as_str()
                    .and_then(|m| nearest(&m.to_ascii_uppercase(), METHODS.iter().copied()))
                {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("use one of {}", METHODS.join(", ")),
                };
                self.error(
                    &at("method"),
                    format!(
                        "`method` of {} must be one of {}, not {}",
                        site.label(),
                        METHODS.join(", "),
                        describe(other)
                    ),
                    Some(hint),
                );
            }
        }
        if let Some(headers) = spec.get("headers")
            && !headers.is_object()
            && !headers.is_null()
            && !dynamic(headers)
        {
            self.must_be(
                &at("headers"),
                &format!("`headers` of {}", site.label()),
                "a mapping of header names to values",
                headers,
                Some("write e.g. `headers: {Authorization: Bearer ...}`".into()),
            );
        }
        if let Some(Value::Object(headers)) = spec.get("headers") {
            for name in headers.keys() {
                if !crate::engine::tasks::http::is_header_name(name) {
                    self.error_at_key(
                        &push_pointer(&at("headers"), name),
                        format!(
                            "`{}` in the headers of {} is not a valid header name",
                            name.escape_debug(),
                            site.label()
                        ),
                        Some("header names are letters, digits and `-` (e.g. `X-Request-Id`), without spaces or `:`".into()),
                    );
                }
            }
        }
        for field in ["connectionTimeOut", "readTimeOut"] {
            if let Some(value) = spec.get(field)
                && !dynamic(value)
                && let Err(problem) = millis(Some(value), 0)
            {
                self.error(
                    &at(field),
                    format!("`{field}` of {} {problem}", site.label()),
                    Some(
                        "timeouts are milliseconds, e.g. `readTimeOut: 30000`; 0 means no limit"
                            .into(),
                    ),
                );
            }
        }
        for field in ["contentType", "accept"] {
            if let Some(value) = spec.get(field)
                && !matches!(value, Value::String(_) | Value::Null)
            {
                self.must_be(
                    &at(field),
                    &format!("`{field}` of {}", site.label()),
                    "text",
                    value,
                    Some("for example `application/json`".into()),
                );
            }
        }
    }

    /// EVENT: a sink 3ox can publish to.
    pub(super) fn event(&mut self, site: &Site<'_>) {
        self.io_common(site, "EVENT");
        let pointer = site.field_pointer("sink");
        let hint = "write `sink: agent:<name>` (an agent's inbox), `sink: conductor:<queue>` or `sink: 3ox:<topic>` (a station event folder under .3ox/events/)";
        match site.task.get("sink") {
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("EVENT {} has no `sink`", site.label()),
                Some(hint.into()),
            ),
            Some(Value::String(sink)) => {
                let workflow = self
                    .src
                    .value
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("workflow");
                let task_ref = site.reference().unwrap_or("task");
                if let Err(problem) =
                    crate::engine::tasks::event::parse_sink(sink, workflow, task_ref)
                {
                    self.error(&pointer, problem, Some(hint.into()));
                }
            }
            Some(other) => self.must_be(
                &pointer,
                &format!("`sink` of {}", site.label()),
                "text",
                other,
                Some(hint.into()),
            ),
        }
    }

    /// What HTTP and EVENT tasks share: 3ox completes them itself, so `asyncComplete: true`
    /// (completion from outside, which 3ox has no API for) is refused.
    fn io_common(&mut self, site: &Site<'_>, type_name: &str) {
        if let Some(flag) = site.task.get("asyncComplete")
            && flag.as_bool() == Some(true)
        {
            self.error(
                &site.field_pointer("asyncComplete"),
                format!(
                    "{} is {type_name} with `asyncComplete: true`; 3ox completes {type_name} tasks itself and has no API to complete them from outside",
                    site.label()
                ),
                Some("remove `asyncComplete` (or set it to false), and wait for the outside with a WAIT or HUMAN task".into()),
            );
        }
    }

    /// `sink` only means something on an EVENT task.
    pub(super) fn misplaced_sink(&mut self, site: &Site<'_>) {
        if site.kind() == Some(TaskKind::Event) {
            return;
        }
        if let Some(sink) = site.task.get("sink")
            && !sink.is_null()
            && sink.as_str().is_none_or(|s| !s.is_empty())
        {
            self.error_at_key(
                &site.field_pointer("sink"),
                format!(
                    "`sink` only applies to EVENT tasks, but {} is {}",
                    site.label(),
                    site.type_name().unwrap_or("SIMPLE")
                ),
                Some("set `type: EVENT`, or remove `sink`".into()),
            );
        }
    }
}
