//! One integration-test binary (faster linking): every test drives the real `3ox` binary in a
//! temporary station. `support` holds the harness.

mod agent;
mod bad_input;
mod control;
mod corpus_runs;
mod demo;
mod do_while;
mod durability;
mod fake_agent;
mod human;
mod interplay;
mod journal_cut;
mod maintenance;
mod ops;
mod run;
mod support;
mod validate;

mod subflow;

mod timers;

mod script;

mod io;

mod misc;

mod interop;

mod mock;

mod cli_defects;
mod conductor;
mod conductor_fork;
mod graph;
mod input_limits;
mod ops_defects;
mod persistent;
mod security;
mod station_runtime;
mod views;

mod conductor_status;

mod editor;
mod llm;
mod new;
mod serve;
mod serve_browser;
mod templates;

mod schedule;

mod mcp;
mod top;
