//! Expressions: `${...}` input mapping and SWITCH conditions.
//!
//! - [`mapping`] resolves Conductor-style references such as `${workflow.input.folders}` and
//!   `${check.output.problems[0]}` inside a task's `inputParameters`.
//! - [`condition`] evaluates 3ox's safe condition language (`evaluatorType: expression`), a
//!   sandboxed minijinja expression with no access to files, processes or the network.

pub mod condition;
pub mod javascript;
pub mod jq;
pub mod mapping;
pub mod script;

pub use mapping::{Scope, references, resolve};
