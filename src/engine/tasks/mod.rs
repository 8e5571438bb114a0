//! One file per task type: how each decides whether it is done, pending or failed.

pub mod agent_served;
pub mod do_while;
pub mod dynamic;
pub mod event;
pub mod exclusive_join;
pub mod fork_join;
pub mod fork_join_dynamic;
pub mod http;
pub mod human;
pub mod inline;
pub mod join;
pub mod json_jq_transform;
pub mod noop;
pub mod set_variable;
pub mod simple;
pub mod start_workflow;
pub mod sub_workflow;
pub mod switch;
pub mod terminate;
pub mod wait;

#[cfg(test)]
mod misc_tests;
