//! One integration-test binary (faster linking): every test drives the real `3ox` binary in a
//! temporary station. `support` holds the harness.

mod agent;
mod bad_input;
mod control;
mod demo;
mod durability;
mod fake_agent;
mod human;
mod maintenance;
mod ops;
mod run;
mod support;
mod validate;
// ---- (loop) ----

// ---- (subflow) ----
mod subflow;

// ---- (timers) ----

// ---- (script) ----

// ---- (io) ----

// ---- (misc) ----

// ---- (interop) ----
// ---- (mock) ----
