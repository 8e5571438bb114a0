//! Firing a schedule's due slots: the imperative shell around [`super::slots`] and
//! [`super::overlap`].
//!
//! [`tick`] takes the schedule's lock, reads its state, decides each due slot against the
//! schedule's previous runs (read from their journals), submits the runs through
//! [`crate::orchestrator::submit_as`] (the submission `3ox start` makes) and writes the state
//! back. A slot's run id derives from the schedule's name and the slot ([`run_id_for`]), and
//! a journal is created exclusively (`create_new`), so a slot starts at most once: also when
//! two orchestrators tick at the same moment (the lock orders them, the second finds the slot
//! decided) and after a crash between the submission and the state write (the journal is
//! there; the slot counts as fired).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::Digest as _;

use super::file::Schedule;
use super::overlap::{Decision, decide};
use super::slots;
use super::state::{self, FiredRun, ScheduleLock, ScheduleState};
use crate::engine::{RunState, RunStatus};
use crate::journal::{self, Journal};
use crate::mailbox::atomic::Durability;
use crate::station::Station;

/// What one tick did, for the log.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tick {
    /// Runs started: (slot, run id).
    pub started: Vec<(DateTime<Utc>, String)>,
    /// Slots that were found started already (another orchestrator, or before a crash).
    pub taken: Vec<DateTime<Utc>>,
    /// Slots dropped by the overlap policy: (slot, the run still running).
    pub skipped: Vec<(DateTime<Utc>, String)>,
    /// Slots that now wait for the running runs to end.
    pub buffered: Vec<DateTime<Utc>>,
    /// Runs asked to end (overlap `cancel_other`).
    pub canceled: Vec<String>,
    /// Of the slots decided, how many were missed ones caught up.
    pub caught_up: usize,
    /// Missed slots inside the catch-up window dropped because of its maximum.
    pub dropped: usize,
    /// Slots that could not start, with why.
    pub refused: Vec<(DateTime<Utc>, String)>,
    /// The next slot to arm a timer for.
    pub next: Option<DateTime<Utc>>,
    /// Slots still wait in the buffer: tick again when a run ends.
    pub waiting: bool,
}

/// The run id of a schedule's slot: a ulid whose time is the slot and whose random part is
/// a hash of the schedule's name and the slot, so every process computes the same one.
pub fn run_id_for(schedule: &str, slot: DateTime<Utc>) -> String {
    let key = format!(
        "schedule:{schedule}:{}",
        slot.to_rfc3339_opts(SecondsFormat::Millis, true)
    );
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut head = [0u8; 16];
    head.copy_from_slice(&digest[..16]);
    let random = u128::from_be_bytes(head) >> 48;
    let millis = u64::try_from(slot.timestamp_millis()).unwrap_or(0);
    ulid::Ulid::from_parts(millis, random).to_string()
}

/// Whether the run `run_id` is still RUNNING (paused included) in its journal.
pub fn is_running(station: &Station, run_id: &str) -> bool {
    let path = Journal::path_for(&station.runs_dir(), run_id);
    match journal::read(&path) {
        Ok(contents) => {
            let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
            !state.run_id.is_empty() && state.status == RunStatus::Running
        }
        // Gone (collected) or unreadable: nothing a slot could wait for.
        Err(_) => false,
    }
}

/// Decides and fires the due slots of `schedule` at `now`.
pub fn tick(station: &Station, schedule: &Schedule, now: DateTime<Utc>) -> std::io::Result<Tick> {
    let _lock = ScheduleLock::acquire(station, &schedule.name)?;
    let mut state = state::read(station, &schedule.name)?;
    let before = state.clone();
    let mut tick = Tick::default();
    if schedule.file.paused {
        // Pause passes slots over: none of them is caught up after `resume`.
        state.last_slot = Some(state.last_slot.map_or(now, |last| last.max(now)));
        state.buffered.clear();
    } else {
        fire_due(station, schedule, now, &mut state, &mut tick);
    }
    if state != before {
        state::write(station, &state)?;
    }
    tick.waiting = !state.buffered.is_empty();
    tick.next = (!schedule.file.paused)
        .then(|| schedule.timing.next_slot(now, false))
        .flatten();
    Ok(tick)
}

fn fire_due(
    station: &Station,
    schedule: &Schedule,
    now: DateTime<Utc>,
    state: &mut ScheduleState,
    tick: &mut Tick,
) {
    let mut running: Vec<String> = state
        .runs
        .iter()
        .filter(|r| is_running(station, &r.run_id))
        .map(|r| r.run_id.clone())
        .collect();
    // A buffered slot starts once nothing of the schedule runs, one at a time.
    if running.is_empty() && !state.buffered.is_empty() {
        let slot = state.buffered.remove(0);
        if let Some(run_id) = start_slot(station, schedule, slot, state, tick) {
            running.push(run_id);
        }
    }
    // A schedule seen for the first time is armed from now (slots before it are not its
    // own); after a later downtime its missed slots are caught up per its window.
    let Some(last_slot) = state.last_slot else {
        state.last_slot = Some(now);
        return;
    };
    let due = slots::due(
        &schedule.timing,
        schedule.catch_up,
        schedule.grace,
        Some(last_slot),
        now,
    );
    tick.dropped = due.dropped;
    for slot in due.fire {
        if now - slot > schedule.grace {
            tick.caught_up += 1;
        }
        match decide(schedule.overlap, running.len(), state.buffered.len()) {
            Decision::Start => {
                if let Some(run_id) = start_slot(station, schedule, slot, state, tick) {
                    running.push(run_id);
                }
            }
            Decision::Skip => {
                let blocking = running.first().cloned().unwrap_or_default();
                tick.skipped.push((slot, blocking));
            }
            Decision::Buffer => {
                state.buffered.push(slot);
                tick.buffered.push(slot);
            }
            Decision::CancelOthersThenStart => {
                for run_id in running.drain(..) {
                    cancel(station, schedule, slot, &run_id);
                    tick.canceled.push(run_id);
                }
                if let Some(run_id) = start_slot(station, schedule, slot, state, tick) {
                    running.push(run_id);
                }
            }
        }
        state.last_slot = Some(state.last_slot.map_or(slot, |last| last.max(slot)));
    }
}

/// Starts the run of one slot, unless its journal exists already. Returns its run id when it
/// runs now (started now or found started).
fn start_slot(
    station: &Station,
    schedule: &Schedule,
    slot: DateTime<Utc>,
    state: &mut ScheduleState,
    tick: &mut Tick,
) -> Option<String> {
    let run_id = run_id_for(&schedule.name, slot);
    if Journal::path_for(&station.runs_dir(), &run_id).exists() {
        tick.taken.push(slot);
        if !state.runs.iter().any(|r| r.run_id == run_id) {
            state.started(FiredRun {
                slot,
                run_id: run_id.clone(),
                triggered: false,
            });
        }
        return is_running(station, &run_id).then_some(run_id);
    }
    match submit(station, schedule, run_id.clone()) {
        Ok(run_id) => {
            state.started(FiredRun {
                slot,
                run_id: run_id.clone(),
                triggered: false,
            });
            tick.started.push((slot, run_id.clone()));
            Some(run_id)
        }
        Err(why) => {
            tick.refused.push((slot, why));
            None
        }
    }
}

/// `3ox schedule trigger`: starts a run of `schedule` now, whatever its clock and overlap
/// policy say, and records it among the schedule's runs.
pub fn trigger(station: &Station, schedule: &Schedule) -> Result<String, String> {
    let _lock = ScheduleLock::acquire(station, &schedule.name).map_err(|e| e.to_string())?;
    let mut state = state::read(station, &schedule.name).map_err(|e| e.to_string())?;
    let run_id = submit(station, schedule, ulid::Ulid::new().to_string())?;
    state.started(FiredRun {
        slot: Utc::now(),
        run_id: run_id.clone(),
        triggered: true,
    });
    state::write(station, &state).map_err(|e| e.to_string())?;
    Ok(run_id)
}

/// `3ox schedule resume`: the slots passed while paused are passed over for good.
pub fn pass_over_until(station: &Station, name: &str, now: DateTime<Utc>) -> std::io::Result<()> {
    let _lock = ScheduleLock::acquire(station, name)?;
    let mut state = state::read(station, name)?;
    state.last_slot = Some(state.last_slot.map_or(now, |last| last.max(now)));
    state.buffered.clear();
    state::write(station, &state)
}

/// Loads the schedule's workflow, checks its input and submits the run `run_id` the way
/// `3ox start` does. `Err` says why nothing was started.
pub fn submit(station: &Station, schedule: &Schedule, run_id: String) -> Result<String, String> {
    let path = &schedule.workflow_path;
    let workflow = crate::definition::load_file(path).map_err(|e| match e {
        crate::definition::LoadError::Invalid { path, diagnostics } => {
            let first = diagnostics
                .iter()
                .find(|d| d.severity == crate::definition::Severity::Error)
                .map(|d| format!(": {}", d.message))
                .unwrap_or_default();
            format!("{path} is not a valid workflow{first} (`3ox validate {path}` says more)")
        }
        other => other.to_string(),
    })?;
    let mut input = schedule
        .file
        .input
        .clone()
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let problems = crate::definition::inputs::check_run_input(&workflow, &mut input);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
        return Err(format!(
            "the schedule's input does not fit workflow `{}`: {}",
            workflow.name,
            list.join("; ")
        ));
    }
    if let Some(problem) = crate::mailbox::limits::input_problem("the schedule's input", &input) {
        return Err(problem);
    }
    let source = station.relative(path);
    crate::orchestrator::submit_as(
        station,
        run_id,
        workflow,
        source,
        input,
        Durability::Durable,
    )
    .map_err(|e| e.to_string())
}

/// Asks a run to end (overlap `cancel_other`); applied at once when nobody drives it, else
/// queued for its driver.
fn cancel(station: &Station, schedule: &Schedule, slot: DateTime<Utc>, run_id: &str) {
    use crate::orchestrator::control::{self, CONTROL_VERSION, ControlRequest};
    let request = ControlRequest {
        version: CONTROL_VERSION,
        action: crate::engine::control::Action::Terminate,
        by: format!("schedule {}", schedule.name),
        uid: own_uid(),
        reason: Some(format!(
            "schedule `{}` started the slot {} (overlap cancel_other)",
            schedule.name,
            slot.to_rfc3339_opts(SecondsFormat::Secs, true)
        )),
        task: None,
        completion: None,
        at: Utc::now(),
    };
    if let Err(error) = control::send(station, run_id, &request, std::time::Duration::ZERO) {
        tracing::warn!(%error, run_id, "cannot ask the run to end");
    }
}

fn own_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        Some(nix::unistd::getuid().as_raw())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::file;
    use chrono::TimeDelta;

    const FLOW: &str = "name: tick\ntasks:\n  - {name: w, taskReferenceName: w, type: WAIT}\n";

    fn station(schedule: &str) -> (tempfile::TempDir, Station, Schedule) {
        let dir = tempfile::tempdir().unwrap();
        let station = Station::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("templates/tick.yaml"), FLOW).unwrap();
        std::fs::create_dir_all(dir.path().join("schedules")).unwrap();
        let path = dir.path().join("schedules/s.yaml");
        std::fs::write(&path, schedule).unwrap();
        let schedule = file::load(&station, &path).unwrap();
        (dir, station, schedule)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn run_ids_derive_from_the_schedule_and_the_slot() {
        let slot = utc("2026-03-01T10:00:00Z");
        assert_eq!(run_id_for("a", slot), run_id_for("a", slot));
        assert_ne!(run_id_for("a", slot), run_id_for("b", slot));
        let id: ulid::Ulid = run_id_for("a", slot).parse().unwrap();
        assert_eq!(id.timestamp_ms(), 1_772_359_200_000);
    }

    #[test]
    fn each_slot_fires_once_and_skip_drops_slots_while_a_run_runs() {
        let (_dir, station, schedule) = station("version: 1\nworkflow: tick\ncron: '0 * * * *'\n");
        let armed = tick(&station, &schedule, utc("2026-03-01T09:30:00Z")).unwrap();
        assert!(armed.started.is_empty(), "a new schedule is armed from now");
        let first = tick(&station, &schedule, utc("2026-03-01T10:00:01Z")).unwrap();
        assert_eq!(first.started.len(), 1);
        assert_eq!(first.next, Some(utc("2026-03-01T11:00:00Z")));
        let again = tick(&station, &schedule, utc("2026-03-01T10:00:02Z")).unwrap();
        assert_eq!(
            again,
            Tick {
                next: first.next,
                ..Tick::default()
            }
        );
        // The WAIT run is still RUNNING: the next slot is skipped.
        let next = tick(&station, &schedule, utc("2026-03-01T11:00:00Z")).unwrap();
        assert!(next.started.is_empty());
        assert_eq!(
            next.skipped,
            vec![(utc("2026-03-01T11:00:00Z"), first.started[0].1.clone())]
        );
    }

    #[test]
    fn a_slot_whose_journal_exists_is_taken_not_started_again() {
        let (_dir, station, schedule) =
            station("version: 1\nworkflow: tick\ncron: '0 * * * *'\noverlap: allow_all\n");
        let slot = utc("2026-03-01T10:00:00Z");
        tick(&station, &schedule, utc("2026-03-01T09:59:00Z")).unwrap();
        // As if a crash came between the submission and the state write.
        submit(&station, &schedule, run_id_for("s", slot)).unwrap();
        let tick = tick(&station, &schedule, slot + TimeDelta::seconds(1)).unwrap();
        assert!(tick.started.is_empty());
        assert_eq!(tick.taken, vec![slot]);
        let state = state::read(&station, "s").unwrap();
        assert_eq!(state.last_slot, Some(slot));
        assert_eq!(state.runs.len(), 1);
    }

    #[test]
    fn catch_up_after_downtime_fires_the_newest_within_window_and_maximum() {
        let (_dir, station, schedule) = station(
            "version: 1\nworkflow: tick\ncron: '0 * * * *'\noverlap: allow_all\ncatch_up: {window: 4h, max: 2}\n",
        );
        tick(&station, &schedule, utc("2026-03-01T00:00:00Z")).unwrap();
        let back = tick(&station, &schedule, utc("2026-03-01T10:30:00Z")).unwrap();
        let slots: Vec<_> = back.started.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            slots,
            vec![utc("2026-03-01T09:00:00Z"), utc("2026-03-01T10:00:00Z")]
        );
        assert_eq!((back.caught_up, back.dropped), (2, 2));
    }

    #[test]
    fn catch_up_across_berlin_spring_and_autumn_changes() {
        // 02:30 Berlin every day, down for the two nights of the changes.
        let (_dir, station, schedule) = station(
            "version: 1\nworkflow: tick\ncron: '30 2 * * *'\ntime_zone: Europe/Berlin\noverlap: allow_all\ncatch_up: {window: 2d, max: 5}\n",
        );
        tick(&station, &schedule, utc("2026-03-27T12:00:00Z")).unwrap();
        let spring = tick(&station, &schedule, utc("2026-03-29T12:00:00Z")).unwrap();
        let slots: Vec<_> = spring.started.iter().map(|(s, _)| *s).collect();
        // 28 March 02:30 CET; 29 March has no 02:30: 03:00 CEST, right after the gap.
        assert_eq!(
            slots,
            vec![utc("2026-03-28T01:30:00Z"), utc("2026-03-29T01:00:00Z")]
        );
        tick(&station, &schedule, utc("2026-10-24T12:00:00Z")).unwrap();
        let autumn = tick(&station, &schedule, utc("2026-10-26T12:00:00Z")).unwrap();
        let slots: Vec<_> = autumn.started.iter().map(|(s, _)| *s).collect();
        // 25 October 02:30 happens twice (CEST, then CET): it fires once.
        assert_eq!(
            slots,
            vec![utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
    }

    #[test]
    fn buffer_one_keeps_one_slot_until_the_run_ends() {
        let (_dir, station, schedule) =
            station("version: 1\nworkflow: tick\ncron: '0 * * * *'\noverlap: buffer_one\n");
        tick(&station, &schedule, utc("2026-03-01T09:59:00Z")).unwrap();
        let first = tick(&station, &schedule, utc("2026-03-01T10:00:00Z")).unwrap();
        let running = first.started[0].1.clone();
        let second = tick(&station, &schedule, utc("2026-03-01T11:00:00Z")).unwrap();
        assert_eq!(second.buffered, vec![utc("2026-03-01T11:00:00Z")]);
        assert!(second.waiting);
        let third = tick(&station, &schedule, utc("2026-03-01T12:00:00Z")).unwrap();
        assert_eq!(third.skipped.len(), 1, "{third:?}");
        // End the running run: the buffered slot starts at the next tick.
        let request = crate::orchestrator::control::ControlRequest {
            version: crate::orchestrator::control::CONTROL_VERSION,
            action: crate::engine::control::Action::Terminate,
            by: "test".into(),
            uid: None,
            reason: None,
            task: None,
            completion: None,
            at: Utc::now(),
        };
        crate::orchestrator::control::send(&station, &running, &request, std::time::Duration::ZERO)
            .unwrap();
        assert!(!is_running(&station, &running));
        let fourth = tick(&station, &schedule, utc("2026-03-01T12:00:30Z")).unwrap();
        assert_eq!(fourth.started.len(), 1);
        assert_eq!(
            fourth.started[0].1,
            run_id_for("s", utc("2026-03-01T11:00:00Z"))
        );
        assert!(!fourth.waiting);
    }

    #[test]
    fn cancel_other_terminates_the_running_run_and_starts_the_slot() {
        let (_dir, station, schedule) =
            station("version: 1\nworkflow: tick\ncron: '0 * * * *'\noverlap: cancel_other\n");
        tick(&station, &schedule, utc("2026-03-01T09:59:00Z")).unwrap();
        let first = tick(&station, &schedule, utc("2026-03-01T10:00:00Z")).unwrap();
        let old = first.started[0].1.clone();
        let second = tick(&station, &schedule, utc("2026-03-01T11:00:00Z")).unwrap();
        assert_eq!(second.canceled, vec![old.clone()]);
        assert!(
            !is_running(&station, &old),
            "nobody drives it: terminated at once"
        );
        assert_eq!(second.started.len(), 1);
        assert!(is_running(&station, &second.started[0].1));
    }

    #[test]
    fn buffer_all_keeps_every_slot_and_starts_them_one_after_another() {
        let (_dir, station, schedule) =
            station("version: 1\nworkflow: tick\ncron: '0 * * * *'\noverlap: buffer_all\n");
        tick(&station, &schedule, utc("2026-03-01T09:59:00Z")).unwrap();
        let first = tick(&station, &schedule, utc("2026-03-01T10:00:00Z")).unwrap();
        for hour in ["11", "12"] {
            let t = tick(
                &station,
                &schedule,
                utc(&format!("2026-03-01T{hour}:00:00Z")),
            )
            .unwrap();
            assert_eq!(t.buffered.len(), 1, "{t:?}");
        }
        let state = state::read(&station, "s").unwrap();
        assert_eq!(state.buffered.len(), 2);
        terminate(&station, &first.started[0].1);
        let next = tick(&station, &schedule, utc("2026-03-01T12:00:10Z")).unwrap();
        assert_eq!(
            next.started[0].1,
            run_id_for("s", utc("2026-03-01T11:00:00Z"))
        );
        assert!(next.waiting, "12:00 waits for the 11:00 run");
        let again = tick(&station, &schedule, utc("2026-03-01T12:00:20Z")).unwrap();
        assert!(again.started.is_empty(), "one at a time");
    }

    fn terminate(station: &Station, run_id: &str) {
        let request = crate::orchestrator::control::ControlRequest {
            version: crate::orchestrator::control::CONTROL_VERSION,
            action: crate::engine::control::Action::Terminate,
            by: "test".into(),
            uid: None,
            reason: None,
            task: None,
            completion: None,
            at: Utc::now(),
        };
        crate::orchestrator::control::send(station, run_id, &request, std::time::Duration::ZERO)
            .unwrap();
    }

    #[test]
    fn a_paused_schedule_passes_its_slots_over() {
        let (_dir, station, mut schedule) = station(
            "version: 1\nworkflow: tick\ncron: '0 * * * *'\noverlap: allow_all\ncatch_up: {window: 1d, max: 10}\n",
        );
        tick(&station, &schedule, utc("2026-03-01T08:59:00Z")).unwrap();
        tick(&station, &schedule, utc("2026-03-01T09:00:00Z")).unwrap();
        schedule.file.paused = true;
        let paused = tick(&station, &schedule, utc("2026-03-01T12:00:00Z")).unwrap();
        assert!(paused.started.is_empty() && paused.next.is_none());
        schedule.file.paused = false;
        let resumed = tick(&station, &schedule, utc("2026-03-01T12:00:10Z")).unwrap();
        assert!(resumed.started.is_empty(), "{resumed:?}");
    }
}
