//! Schedules: `schedules/<name>.yaml` fires a workflow on a cron line in a time zone
//! (docs/schedules.md).
//!
//! The pure core decides as a function of (schedule, last fired slot, now), with no files,
//! clock or timers:
//!
//! - [`cron`]: parses a 5- or 6-field cron line (croner) and a time zone (chrono-tz), with
//!   typed errors that carry a hint.
//! - [`slots`]: which slots are due now, after a downtime (catch-up window and maximum), and
//!   when the next one is, honouring start/end. DST gaps and overlaps follow croner's rules:
//!   a fixed-time slot inside a spring-forward gap runs at the first instant after the gap,
//!   and a fixed-time slot inside a fall-back overlap runs once.
//! - [`overlap`]: what to do with a due slot while earlier runs of the schedule still run.
//!
//! The shell around it:
//!
//! - [`file`]: the schedule file format, read and checked with reasons that name the file.
//! - [`state`]: `.3ox/schedules/<name>.state.yaml` (what fired) and the per-schedule lock.
//! - [`fire`]: one tick of one schedule under its lock: decide the due slots, submit their
//!   runs (run id derived from the schedule and the slot, journal created exclusively), write
//!   the state back. Each slot starts at most once, across crashes and orchestrators.
//! - [`scheduler`]: the task `3ox up` runs: a timer at the next slot, a watcher on
//!   `schedules/`, a warning per bad file.
//! - [`conductor`]: Conductor's schedule JSON, imported and exported.

pub mod conductor;
pub mod cron;
pub mod file;
pub mod fire;
pub mod overlap;
pub mod scheduler;
pub mod slots;
pub mod state;

pub use cron::{CronLineError, Timing, parse_cron, parse_time_zone};
pub use file::{Schedule, ScheduleError, ScheduleFile};
pub use overlap::{Decision, Overlap, decide};
pub use scheduler::Scheduler;
pub use slots::{CatchUp, Due, LATE_GRACE, due};
