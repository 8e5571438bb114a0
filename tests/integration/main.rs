//! One integration-test binary (faster linking): every test drives the real `3ox` binary in a
//! temporary station. `support` holds the harness.

mod agent;
mod bad_input;
mod control;
mod corpus_runs;
mod demo;
mod durability;
mod fake_agent;
mod human;
mod interplay;
mod maintenance;
mod ops;
mod run;
mod support;
mod validate;
// ---- (loop) ----
mod do_while;

// ---- (subflow) ----
mod subflow;

// ---- (timers) ----
mod timers;

// ---- (script) ----
mod script;

// ---- (io) ----
mod io;

// ---- (misc) ----
mod misc;

// ---- (interop) ----
mod interop;

// ---- (mock) ----
mod mock;
