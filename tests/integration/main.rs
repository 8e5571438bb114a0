//! One integration-test binary (faster linking): every test drives the real `3ox` binary in a
//! temporary station. `support` holds the harness.

mod support;
mod agent;
mod bad_input;
mod demo;
mod fake_agent;
mod maintenance;
mod run;
mod validate;
