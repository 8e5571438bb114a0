//! How busy each agent is across every run one process drives: the engine's
//! [`Ctx::load`](crate::engine::Ctx::load).
//!
//! Each run's state counts the tasks it has in flight at each agent (`RunState::in_flight`);
//! a run's concurrency limit is enforced from that count. But a run alone cannot tell two
//! agents that serve the same task apart when both are idle for it: with a thousand runs
//! each sent its first task to the first agent by name, and one agent of a hundred got every
//! task. After each journal append a driver publishes its run's counts here; the book keeps
//! the sums, so choosing an agent costs a hash look-up, and a publish costs the agents the
//! run uses.

use std::collections::{BTreeMap, HashMap};

/// The tasks in flight at each agent, per run and summed.
#[derive(Debug, Default)]
pub struct AgentLoad {
    per_run: HashMap<String, BTreeMap<String, usize>>,
    total: HashMap<String, usize>,
}

impl AgentLoad {
    /// Replaces run `run_id`'s counts with `in_flight`.
    pub fn publish(&mut self, run_id: &str, in_flight: &BTreeMap<String, usize>) {
        if self.per_run.get(run_id) == Some(in_flight) {
            return;
        }
        self.forget(run_id);
        for (agent, n) in in_flight {
            *self.total.entry(agent.clone()).or_default() += n;
        }
        self.per_run.insert(run_id.to_string(), in_flight.clone());
    }

    /// Removes run `run_id`'s counts (it ended or is no longer driven here).
    pub fn forget(&mut self, run_id: &str) {
        let Some(old) = self.per_run.remove(run_id) else {
            return;
        };
        for (agent, n) in old {
            if let Some(total) = self.total.get_mut(&agent) {
                *total = total.saturating_sub(n);
                if *total == 0 {
                    self.total.remove(&agent);
                }
            }
        }
    }

    /// The tasks in flight at `agent`, summed over the runs.
    pub fn of(&self, agent: &str) -> usize {
        self.total.get(agent).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(a, n)| ((*a).to_string(), *n)).collect()
    }

    #[test]
    fn sums_follow_each_runs_latest_counts_and_forget_drops_them() {
        let mut load = AgentLoad::default();
        load.publish("r1", &counts(&[("a", 2), ("b", 1)]));
        load.publish("r2", &counts(&[("a", 1)]));
        assert_eq!((load.of("a"), load.of("b"), load.of("c")), (3, 1, 0));
        load.publish("r1", &counts(&[("b", 3)]));
        assert_eq!((load.of("a"), load.of("b")), (1, 3));
        load.forget("r2");
        load.forget("r2");
        assert_eq!((load.of("a"), load.of("b")), (0, 3));
        load.forget("r1");
        assert!(load.total.is_empty() && load.per_run.is_empty());
    }
}
