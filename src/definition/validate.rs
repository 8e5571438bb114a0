//! Checks a parsed workflow against the language. (Skeleton: filled in by the validator session.)

use super::diagnostic::Diagnostic;
use super::source::Source;

pub fn check(_src: &Source) -> Vec<Diagnostic> {
    Vec::new()
}
