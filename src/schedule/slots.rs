//! Which slots of a schedule are due: a pure function of (timing, last fired slot, now).

use chrono::{DateTime, TimeDelta, Utc};

use super::cron::Timing;

/// How late a slot may be seen and still count as on time (timer wake-up latency, a busy
/// machine). Older slots are catch-up slots, subject to [`CatchUp`].
pub const LATE_GRACE: TimeDelta = TimeDelta::seconds(60);

/// What to do with slots missed while no orchestrator ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// Missed slots older than this (before `now`) are dropped.
    pub window: TimeDelta,
    /// At most this many missed slots fire; the newest are kept.
    pub max: usize,
}

impl CatchUp {
    /// No catch-up: missed slots are dropped.
    pub const NONE: Self = Self {
        window: TimeDelta::zero(),
        max: 0,
    };
}

/// The slots to fire now and the next slot to arm a timer for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Slots to start now, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Missed slots inside the catch-up window that were dropped because of `max`.
    pub dropped: usize,
    /// The first slot after `now`, if the schedule has one (none past its end).
    pub next: Option<DateTime<Utc>>,
}

/// Slots due at `now`, given the last slot that fired (`None`: never fired; then only a slot
/// within `grace` of `now` fires, nothing is caught up).
///
/// A slot is on time when `now - slot <= grace` (a schedule's `late_grace`, default
/// [`LATE_GRACE`]) and always fires; older unfired slots fire only when within
/// `catch_up.window` of `now`, the newest `catch_up.max` of them.
pub fn due(
    timing: &Timing,
    catch_up: CatchUp,
    grace: TimeDelta,
    last_fired: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Due {
    let reach = if last_fired.is_some() {
        catch_up.window.max(grace)
    } else {
        grace
    };
    let horizon = now - reach;
    let (mut cursor, mut inclusive) = match last_fired {
        Some(last) if last >= horizon => (last, false),
        _ => (horizon, true),
    };
    let mut on_time = Vec::new();
    let mut missed = Vec::new();
    while let Some(slot) = timing.next_slot(cursor, inclusive) {
        if slot > now {
            break;
        }
        if now - slot <= grace {
            on_time.push(slot);
        } else if now - slot <= catch_up.window {
            missed.push(slot);
        }
        cursor = slot;
        inclusive = false;
    }
    let keep = missed.len().min(catch_up.max);
    let dropped = missed.len() - keep;
    let mut fire: Vec<_> = missed.split_off(missed.len() - keep);
    fire.extend(on_time);
    Due {
        fire,
        dropped,
        next: timing.next_slot(now, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn timing(line: &str, zone: &str) -> Timing {
        Timing::new(line, zone).unwrap()
    }

    #[test]
    fn the_slot_at_now_fires_once_and_the_next_is_armed() {
        let t = timing("*/1 * * * * *", "UTC");
        let now = utc("2026-03-01T10:00:05Z");
        let due = due(
            &t,
            CatchUp::NONE,
            LATE_GRACE,
            Some(utc("2026-03-01T10:00:04Z")),
            now,
        );
        assert_eq!(due.fire, vec![now]);
        assert_eq!(due.next, Some(utc("2026-03-01T10:00:06Z")));
        let again = super::due(&t, CatchUp::NONE, LATE_GRACE, Some(now), now);
        assert!(again.fire.is_empty(), "a fired slot never fires again");
    }

    #[test]
    fn never_fired_does_not_catch_up() {
        let t = timing("0 * * * *", "UTC");
        let due = due(
            &t,
            CatchUp {
                window: TimeDelta::days(1),
                max: 10,
            },
            LATE_GRACE,
            None,
            utc("2026-03-01T10:30:00Z"),
        );
        assert!(due.fire.is_empty());
        assert_eq!(due.next, Some(utc("2026-03-01T11:00:00Z")));
    }

    #[test]
    fn catch_up_keeps_the_newest_within_window_and_maximum() {
        let t = timing("0 * * * *", "UTC");
        let last = utc("2026-03-01T00:00:00Z");
        let now = utc("2026-03-01T10:30:00Z");
        let none = due(&t, CatchUp::NONE, LATE_GRACE, Some(last), now);
        assert!(none.fire.is_empty());
        // Window of 4h: 07:00, 08:00, 09:00, 10:00 are within it (06:30 is the edge).
        let windowed = due(
            &t,
            CatchUp {
                window: TimeDelta::hours(4),
                max: 10,
            },
            LATE_GRACE,
            Some(last),
            now,
        );
        assert_eq!(
            windowed.fire,
            ["07", "08", "09", "10"]
                .map(|h| utc(&format!("2026-03-01T{h}:00:00Z")))
                .to_vec()
        );
        let capped = due(
            &t,
            CatchUp {
                window: TimeDelta::hours(4),
                max: 2,
            },
            LATE_GRACE,
            Some(last),
            now,
        );
        assert_eq!(
            capped.fire,
            vec![utc("2026-03-01T09:00:00Z"), utc("2026-03-01T10:00:00Z")]
        );
        assert_eq!(capped.dropped, 2);
    }

    #[test]
    fn on_time_slot_fires_even_without_catch_up() {
        let t = timing("0 * * * *", "UTC");
        let due = due(
            &t,
            CatchUp::NONE,
            LATE_GRACE,
            Some(utc("2026-03-01T09:00:00Z")),
            utc("2026-03-01T10:00:30Z"),
        );
        assert_eq!(due.fire, vec![utc("2026-03-01T10:00:00Z")]);
    }

    #[test]
    fn start_and_end_bound_the_slots() {
        let mut t = timing("0 * * * *", "UTC");
        t.start = Some(utc("2026-03-01T12:00:00Z"));
        t.end = Some(utc("2026-03-01T14:00:00Z"));
        let before = due(
            &t,
            CatchUp::NONE,
            LATE_GRACE,
            None,
            utc("2026-03-01T10:00:00Z"),
        );
        assert!(before.fire.is_empty());
        assert_eq!(before.next, Some(utc("2026-03-01T12:00:00Z")));
        let last = due(
            &t,
            CatchUp::NONE,
            LATE_GRACE,
            Some(utc("2026-03-01T13:00:00Z")),
            utc("2026-03-01T14:00:00Z"),
        );
        assert_eq!(last.fire, vec![utc("2026-03-01T14:00:00Z")]);
        assert_eq!(last.next, None, "nothing after the end");
    }

    #[test]
    fn berlin_spring_forward_gap_runs_right_after_the_gap() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 local does not exist.
        let t = timing("30 2 * * *", "Europe/Berlin");
        let next = t.next_slot(utc("2026-03-28T12:00:00Z"), false).unwrap();
        assert_eq!(
            next,
            utc("2026-03-29T01:00:00Z"),
            "03:00 CEST, the first instant after the gap"
        );
        let day_after = t.next_slot(next, false).unwrap();
        assert_eq!(day_after, utc("2026-03-29T00:30:00Z") + TimeDelta::days(1));
    }

    #[test]
    fn berlin_fall_back_overlap_runs_a_fixed_time_once() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 local happens twice.
        let t = timing("30 2 * * *", "Europe/Berlin");
        let first = t.next_slot(utc("2026-10-24T12:00:00Z"), false).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z"), "the first 02:30 (CEST)");
        let second = t.next_slot(first, false).unwrap();
        assert_eq!(
            second,
            utc("2026-10-26T01:30:00Z"),
            "not again at 02:30 CET, but the next day"
        );
    }

    #[test]
    fn new_york_interval_slots_across_dst() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT. Every 30 minutes: 01:30 EST then 03:00 EDT.
        let t = timing("*/30 * * * *", "America/New_York");
        let a = t.next_slot(utc("2026-03-08T06:15:00Z"), false).unwrap();
        assert_eq!(a, utc("2026-03-08T06:30:00Z")); // 01:30 EST
        let b = t.next_slot(a, false).unwrap();
        assert_eq!(b, utc("2026-03-08T07:00:00Z")); // 03:00 EDT
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; interval slots run in both 01:xx hours.
        let mut cursor = utc("2026-11-01T04:45:00Z"); // 00:45 EDT
        let mut seen = Vec::new();
        for _ in 0..5 {
            cursor = t.next_slot(cursor, false).unwrap();
            seen.push(cursor);
        }
        let expected: Vec<_> = [5, 5, 6, 6, 7]
            .iter()
            .zip([0, 30, 0, 30, 0])
            .map(|(h, m)| Utc.with_ymd_and_hms(2026, 11, 1, *h, m, 0).unwrap())
            .collect();
        assert_eq!(
            seen, expected,
            "01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST, 02:00 EST"
        );
    }

    #[test]
    fn catch_up_across_a_berlin_gap_counts_real_slots() {
        let t = timing("30 * * * *", "Europe/Berlin");
        // Down from 00:45 CET to 04:00 CEST on the gap night: local 01:30, (02:30 missing), 03:30.
        let last = utc("2026-03-28T23:30:00Z"); // 00:30 CET
        let now = utc("2026-03-29T02:00:00Z"); // 04:00 CEST
        let due = due(
            &t,
            CatchUp {
                window: TimeDelta::hours(6),
                max: 10,
            },
            LATE_GRACE,
            Some(last),
            now,
        );
        assert_eq!(
            due.fire,
            vec![utc("2026-03-29T00:30:00Z"), utc("2026-03-29T01:30:00Z")]
        );
    }
}
