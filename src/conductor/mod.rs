//! Scale-out onto a Conductor cluster: the same definitions and the same file agents, served
//! by a Conductor server's task queues instead of a local orchestrator (see docs/conductor.md).
//!
//! - [`auth`]: how 3ox proves who it is to the server (a token, or a key and secret exchanged
//!   for one at `/api/token`);
//! - [`client`]: the few REST calls 3ox makes, with retries and backoff when the server is
//!   unreachable or answers 5xx;
//! - [`register`]: `3ox conductor register`: the station's workflows, exported as by
//!   `3ox export --format conductor`, and the task definitions of their SIMPLE tasks;
//! - [`worker`]: `3ox conductor worker`: polls the task types the station's agents serve,
//!   writes each task into the agent's inbox as a task message, and reports the agent's reply
//!   back; its durable record of tasks taken and reported is [`ledger`].

pub mod auth;
pub mod client;
pub mod ledger;
pub mod register;
pub mod worker;
