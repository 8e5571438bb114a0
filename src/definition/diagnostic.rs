//! A problem found in a workflow file, with where it is and what to do about it.
//! (Skeleton: the validator session fills in rendering.)

use serde::Serialize;

use super::source::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: file, 1-based line and column, the offending line, a message and a hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the offending line.
    pub source_line: String,
}

impl Diagnostic {
    /// An error at the node found at `pointer` (a JSON pointer such as `/tasks/2/type`) in `src`.
    pub fn error(src: &Source, pointer: &str, message: impl Into<String>, hint: Option<String>) -> Diagnostic {
        let (line, column) = src.location(pointer);
        Diagnostic {
            severity: Severity::Error,
            file: src.file.clone(),
            line,
            column,
            message: message.into(),
            hint,
            source_line: src.line_text(line).to_string(),
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}
