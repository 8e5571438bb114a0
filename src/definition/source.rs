//! Workflow text parsed into a value tree plus the location of every node.
//! (Skeleton: the validator session fills in locations.)

use serde_json::Value;

use super::diagnostic::Diagnostic;

pub struct Source {
    pub file: String,
    pub text: String,
    pub value: Value,
}

impl Source {
    pub fn parse(text: &str, file: &str) -> Result<Source, Diagnostic> {
        let value: Value = serde_yaml::from_str(text).map_err(|e| Diagnostic {
            severity: super::Severity::Error,
            file: file.to_string(),
            line: e.location().map_or(1, |l| l.line()),
            column: e.location().map_or(1, |l| l.column()),
            message: format!("not valid YAML: {e}"),
            hint: None,
            source_line: String::new(),
        })?;
        Ok(Source { file: file.to_string(), text: text.to_string(), value })
    }

    /// 1-based line and column of the node at `pointer`, or of the nearest parent known.
    pub fn location(&self, _pointer: &str) -> (usize, usize) {
        (1, 1)
    }

    pub fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line.saturating_sub(1)).unwrap_or("")
    }
}
