//! A problem found in a workflow file, with where it is and what to do about it.
//!
//! `Display` gives the one-line `file:line:col: message` form (for logs and error chains);
//! [`Diagnostic::render`] gives the long form with the offending line underlined, in the
//! manner of rustc. Diagnostics serialize to JSON for `3ox validate --json`.

use serde::Serialize;

use super::source::{Position, Source, line_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
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
    /// How many characters of `source_line`, from `column`, the problem covers (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// An error at the node found at `pointer` (a JSON pointer such as `/tasks/2/type`) in `src`.
    pub fn error(
        src: &Source,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic::at(&src.file, &src.text, src.position(pointer), message, hint)
    }

    /// A warning at the node found at `pointer`: reported, but the workflow is valid.
    pub fn warning(
        src: &Source,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(src, pointer, message, hint)
        }
    }

    /// The same diagnostic as a warning.
    pub fn as_warning(self) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..self
        }
    }

    /// An error at the key of the mapping entry at `pointer` (for "unknown field").
    pub fn error_at_key(
        src: &Source,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic::at(
            &src.file,
            &src.text,
            src.key_position(pointer),
            message,
            hint,
        )
    }

    /// An error at a known position of `text`.
    pub fn at(
        file: &str,
        text: &str,
        position: Position,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: position.line,
            column: position.column,
            message: message.into(),
            hint,
            source_line: line_of(text, position.line).to_string(),
            width: position.width.max(1),
        }
    }

    /// The long form: message, location, the offending line underlined, and the hint.
    pub fn render(&self) -> String {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let mut out = format!(
            "{}: {}\n{pad}--> {}:{}:{}\n",
            self.severity.label(),
            self.message,
            self.file,
            self.line,
            self.column
        );
        if !self.source_line.is_empty() {
            // Keep tabs in the indent so the carets line up under the text.
            let indent: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let available = self
                .source_line
                .chars()
                .count()
                .saturating_sub(self.column.saturating_sub(1));
            let carets = "^".repeat(self.width.min(available).max(1));
            out.push_str(&format!(
                "{pad} |\n{number} | {}\n{pad} | {indent}{carets}\n",
                self.source_line
            ));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("{pad} = hint: {hint}\n"));
        }
        out
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_line_with_carets_under_the_problem() {
        let text = "name: x\ntasks:\n  - name: check\n    taskRefName: check\n";
        let src = Source::parse(text, "flows/x.yaml").unwrap();
        let d = Diagnostic::error_at_key(
            &src,
            "/tasks/0/taskRefName",
            "unknown field `taskRefName` in task `check`",
            Some("did you mean `taskReferenceName`?".into()),
        );
        assert_eq!(
            d.render(),
            "error: unknown field `taskRefName` in task `check`\n \
             --> flows/x.yaml:4:5\n  |\n4 |     taskRefName: check\n  |     ^^^^^^^^^^^\n  \
             = hint: did you mean `taskReferenceName`?\n"
        );
        assert_eq!(
            d.to_string(),
            "flows/x.yaml:4:5: unknown field `taskRefName` in task `check`"
        );
    }

    #[test]
    fn serializes_for_json_output() {
        let src = Source::parse("name: x\n", "x.yaml").unwrap();
        let d = Diagnostic::error(&src, "/name", "bad", None);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["severity"], "error");
        assert_eq!(json["line"], 1);
        assert_eq!(json["column"], 7);
        assert_eq!(json["source_line"], "name: x");
    }
}
