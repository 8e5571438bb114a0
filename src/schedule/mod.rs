//! Schedules: the pure core that decides when a schedule's slots are due.
//!
//! A schedule fires a workflow on a cron line in a time zone. Everything here is a pure
//! function of (schedule, last fired slot, now): no files, no clock, no timers. The
//! orchestrator side (arming one timer for [`Due::next`], starting each slot through the
//! idempotent start key `schedule:<name>:<slot-time>`) builds on these functions.
//!
//! - [`cron`]: parses a 5- or 6-field cron line (croner) and a time zone (chrono-tz), with
//!   typed errors that carry a hint.
//! - [`slots`]: which slots are due now, after a downtime (catch-up window and maximum), and
//!   when the next one is, honouring start/end. DST gaps and overlaps follow croner's rules:
//!   a fixed-time slot inside a spring-forward gap runs at the first instant after the gap,
//!   and a fixed-time slot inside a fall-back overlap runs once.
//! - [`overlap`]: what to do with a due slot while earlier runs of the schedule still run.

pub mod cron;
pub mod overlap;
pub mod slots;

pub use cron::{CronLineError, Timing, parse_cron, parse_time_zone};
pub use overlap::{Decision, Overlap, decide};
pub use slots::{CatchUp, Due, LATE_GRACE, due};
