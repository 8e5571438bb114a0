//! `3ox test`: run a workflow in memory with mocked task outcomes, on a simulated clock.
//!
//! - [`mocks`]: the mocks file (what each task returns, attempt by attempt; what approvers
//!   decide; the workflow input; `expect:`).
//! - [`driver`]: drives the pure engine ([`crate::engine::step`]) with a fake agent
//!   directory that serves every task, answers each task message and approval request with
//!   its mocked outcome, and jumps the clock to the next timer when nothing else can happen.
//!   No station, no journal, no file is touched.
//! - [`expect`]: checks the run against the `expect:` block.

pub mod driver;
pub mod expect;
pub mod mocks;

pub use driver::{MockError, Simulation, TestRun, simulate};
pub use expect::Expect;
pub use mocks::{ChildMode, MockFile, MocksError, Outcome};
