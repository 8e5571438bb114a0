//! What a due slot does while earlier runs of the same schedule are still running.

use serde::{Deserialize, Serialize};

/// A schedule's overlap policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Drop the slot while a run is running.
    #[default]
    Skip,
    /// Keep one waiting slot; further slots are dropped until it starts.
    BufferOne,
    /// Keep every slot waiting; they start one after another.
    BufferAll,
    /// Start every slot, however many runs are running.
    AllowAll,
    /// Terminate the running runs, then start the slot.
    CancelOther,
}

/// What to do with one due slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start a run for it now.
    Start,
    /// Drop it.
    Skip,
    /// Queue it; it starts when the running run (and earlier queued slots) are done.
    Buffer,
    /// Terminate the schedule's running runs, then start it.
    CancelOthersThenStart,
}

/// Decides for one due slot, given how many of the schedule's runs are running and how many
/// slots are already queued.
pub fn decide(policy: Overlap, running: usize, buffered: usize) -> Decision {
    if running == 0 && buffered == 0 {
        return Decision::Start;
    }
    match policy {
        Overlap::AllowAll => Decision::Start,
        Overlap::CancelOther => Decision::CancelOthersThenStart,
        Overlap::BufferAll => Decision::Buffer,
        Overlap::BufferOne if buffered == 0 => Decision::Buffer,
        Overlap::BufferOne | Overlap::Skip => {
            if running == 0 {
                // Nothing runs but a slot is queued (the queue is drained first): start.
                Decision::Start
            } else {
                Decision::Skip
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_running_always_starts() {
        for policy in [
            Overlap::Skip,
            Overlap::BufferOne,
            Overlap::BufferAll,
            Overlap::AllowAll,
            Overlap::CancelOther,
        ] {
            assert_eq!(decide(policy, 0, 0), Decision::Start, "{policy:?}");
        }
    }

    #[test]
    fn each_policy_while_a_run_is_running() {
        assert_eq!(decide(Overlap::Skip, 1, 0), Decision::Skip);
        assert_eq!(decide(Overlap::BufferOne, 1, 0), Decision::Buffer);
        assert_eq!(decide(Overlap::BufferOne, 1, 1), Decision::Skip);
        assert_eq!(decide(Overlap::BufferAll, 1, 0), Decision::Buffer);
        assert_eq!(decide(Overlap::BufferAll, 1, 5), Decision::Buffer);
        assert_eq!(decide(Overlap::AllowAll, 3, 0), Decision::Start);
        assert_eq!(
            decide(Overlap::CancelOther, 2, 0),
            Decision::CancelOthersThenStart
        );
    }

    #[test]
    fn policies_read_as_documented_names() {
        let names: Vec<Overlap> =
            serde_yaml::from_str("[skip, buffer_one, buffer_all, allow_all, cancel_other]")
                .unwrap();
        assert_eq!(
            names,
            vec![
                Overlap::Skip,
                Overlap::BufferOne,
                Overlap::BufferAll,
                Overlap::AllowAll,
                Overlap::CancelOther
            ]
        );
    }
}
