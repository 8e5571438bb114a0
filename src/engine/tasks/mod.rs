//! One file per task type: how each decides whether it is done, pending or failed.

pub mod fork_join;
pub mod fork_join_dynamic;
pub mod human;
pub mod join;
pub mod simple;
pub mod switch;
