//! WAIT: wait for a duration, until a time, or until completed from outside.
//!
//! `inputParameters.duration` (Conductor's forms: `10s`, `5 minutes`, `1 days 2 hours`,
//! `1d 2h 30m 10s`, or a number of seconds) or `inputParameters.until` (a date-time:
//! Conductor's `yyyy-MM-dd HH:mm`, `yyyy-MM-dd HH:mm z`, `yyyy-MM-dd`, or RFC 3339). The first
//! walk resolves the input, computes the due time once and journals it in `wait_started`, so
//! replay never recomputes it; the due time feeds `RunState::next_wakeup` (see
//! [`crate::engine::timeouts`]) and the walk after it completes the task. With neither input
//! the task waits until a person completes (or fails) it: `3ox complete RUN TASK`
//! ([`crate::engine::complete`]). Both inputs at once, or one that cannot be read, fail the task
//! with FAILED_WITH_TERMINAL_ERROR (as in Conductor), which `optional` turns into
//! COMPLETED_WITH_ERRORS.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::state::TaskStatus;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(progress) = w.settled(task_ref) {
        return progress;
    }
    let waiting = match w.state.tasks.get(task_ref) {
        Some(t) if t.status.is_in_flight() => true,
        Some(t) if t.status == TaskStatus::RetryWait => {
            if t.retry_at.is_some_and(|at| at > w.ctx.now) {
                return Progress::Pending;
            }
            false
        }
        _ => false,
    };
    if !waiting {
        let input = w.resolve_input(task);
        let until = match due_time(&input, w.ctx.now) {
            Ok(until) => until,
            Err(problem) => {
                return w.fail_system_task(task, format!("WAIT `{task_ref}`: {problem}"));
            }
        };
        let task_id = (w.ctx.new_id)().to_string();
        w.emit(Change::WaitStarted {
            task_ref: task_ref.clone(),
            task_id,
            input,
            until,
        });
    }
    let due = w.state.timers.waits.get(task_ref).copied().flatten();
    if due.is_some_and(|at| at <= w.ctx.now) {
        let task_id = w.state.tasks.get(task_ref).and_then(|t| t.task_id.clone());
        w.emit(Change::TaskCompleted {
            task_ref: task_ref.clone(),
            task_id,
            input: None,
            output: Value::Object(Default::default()),
        });
        return Progress::Done;
    }
    Progress::Pending
}

/// When a WAIT with `input` (its resolved inputParameters) started at `now` is due: `None`
/// when it waits to be completed from outside.
pub fn due_time(input: &Value, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let field = |name: &str| input.get(name).filter(|v| !v.is_null());
    match (field("duration"), field("until")) {
        (Some(_), Some(_)) => Err(
            "both `duration` and `until` are given; a WAIT takes one of them (or neither, to be completed from outside)".into(),
        ),
        (Some(duration), None) => {
            let d = parse_duration_value(duration)?;
            let d = chrono::Duration::from_std(d)
                .map_err(|_| format!("`duration` {duration} is too long"))?;
            Ok(Some(now + d))
        }
        (None, Some(until)) => match until {
            Value::String(text) => parse_until(text).map(Some),
            other => Err(format!(
                "`until` must be a date-time text such as `2026-01-31 17:00 UTC` or `2026-01-31T17:00:00Z`, not {other}"
            )),
        },
        (None, None) => Ok(None),
    }
}

fn parse_duration_value(value: &Value) -> Result<std::time::Duration, String> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(std::time::Duration::from_secs_f64)
            .ok_or_else(|| format!("`duration` {n} is not a number of seconds >= 0")),
        Value::String(text) => parse_duration(text),
        other => Err(format!(
            "`duration` must be a text such as `10s` or `1 days 2 hours`, not {other}"
        )),
    }
}

/// Reads a duration in Conductor's forms (`30s`, `10 minutes`, `1 days 2 hours 30 mins`,
/// `1d2h`), a number of seconds, or any form `humantime` reads (`500ms`, `1h 30m`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let problem = || {
        format!(
            "`duration: {text}` is not a duration; write e.g. `30s`, `10 minutes`, `1 days 2 hours` or a number of seconds"
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(problem());
    }
    if let Ok(secs) = trimmed.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| std::time::Duration::from_secs_f64(secs))
            .ok_or_else(problem);
    }
    if let Some(d) = conductor_duration(trimmed) {
        return Ok(d);
    }
    humantime::parse_duration(trimmed).map_err(|_| problem())
}

/// Conductor's duration grammar: numbers each followed by a unit of days, hours, minutes or
/// seconds (long or short names), in any spacing.
fn conductor_duration(text: &str) -> Option<std::time::Duration> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].to_ascii_lowercase();
        let scale = match unit.as_str() {
            "d" | "day" | "days" => 86_400,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(scale)?)?;
        any = true;
        rest = rest[unit_len..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    any.then(|| std::time::Duration::from_secs(total))
}

/// Reads an `until` date-time: RFC 3339 (`2026-01-31T17:00:00Z`), or Conductor's
/// `yyyy-MM-dd HH:mm[:ss] [zone]` and `yyyy-MM-dd`. The zone is `UTC`, `GMT`, `Z` or an offset
/// (`+02:00`, `+0200`); without one, the time is the machine's local time (as in Conductor).
pub fn parse_until(text: &str) -> Result<DateTime<Utc>, String> {
    let problem = || {
        format!(
            "`until: {text}` is not a date-time; write e.g. `2026-01-31 17:00 UTC`, `2026-01-31 17:00`, `2026-01-31` or `2026-01-31T17:00:00Z`"
        )
    };
    let trimmed = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(t.with_timezone(&Utc));
    }
    let (clock, zone) = match trimmed.rsplit_once(' ') {
        Some((head, tail))
            if tail.eq_ignore_ascii_case("utc")
                || tail.eq_ignore_ascii_case("gmt")
                || tail == "Z"
                || tail.starts_with('+')
                || (tail.starts_with('-') && tail.len() > 1) =>
        {
            (head.trim(), Some(tail))
        }
        _ => (trimmed, None),
    };
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(clock, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(clock, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .ok_or_else(problem)?;
    match zone {
        Some(z) if z.eq_ignore_ascii_case("utc") || z.eq_ignore_ascii_case("gmt") || z == "Z" => {
            Ok(Utc.from_utc_datetime(&naive))
        }
        Some(offset) => {
            let normalized = offset.replace(':', "");
            let fixed = chrono::DateTime::parse_from_str(
                &format!("{} {normalized}", naive.format("%Y-%m-%d %H:%M:%S")),
                "%Y-%m-%d %H:%M:%S %z",
            )
            .map_err(|_| problem())?;
            Ok(fixed.with_timezone(&Utc))
        }
        None => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn conductor_duration_forms() {
        let cases = [
            ("10s", 10),
            ("10 s", 10),
            ("2m", 120),
            ("5 minutes", 300),
            ("1 days 2 hours", 93_600),
            ("1d2h30m10s", 95_410),
            ("1 day, 1 hour, 1 min, 1 sec", 90_061),
            ("3 hrs", 10_800),
            ("45", 45),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["", "soon", "10 parsecs", "-3", "s10"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn until_forms() {
        let utc = |s: &str| parse_until(s).unwrap().to_rfc3339();
        assert_eq!(utc("2026-01-31T17:00:00Z"), "2026-01-31T17:00:00+00:00");
        assert_eq!(
            utc("2026-01-31T17:00:00+02:00"),
            "2026-01-31T15:00:00+00:00"
        );
        assert_eq!(utc("2026-01-31 17:00 UTC"), "2026-01-31T17:00:00+00:00");
        assert_eq!(utc("2026-01-31 17:00 GMT"), "2026-01-31T17:00:00+00:00");
        assert_eq!(utc("2026-01-31 17:00:30 Z"), "2026-01-31T17:00:30+00:00");
        assert_eq!(utc("2026-01-31 17:00 +0100"), "2026-01-31T16:00:00+00:00");
        assert_eq!(utc("2026-01-31 17:00 -05:00"), "2026-01-31T22:00:00+00:00");
        let local = Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 1, 31)
                    .unwrap()
                    .and_hms_opt(17, 0, 0)
                    .unwrap(),
            )
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_until("2026-01-31 17:00").unwrap(), local);
        let midnight = Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 1, 31)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_until("2026-01-31").unwrap(), midnight);
        for bad in [
            "tomorrow",
            "2026-13-01",
            "31/01/2026 17:00",
            "2026-01-31 17:00 PST",
        ] {
            assert!(parse_until(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn due_time_takes_one_of_duration_and_until() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            due_time(&json!({"duration": "1 hours"}), now),
            Ok(Some(now + chrono::Duration::hours(1)))
        );
        assert_eq!(
            due_time(&json!({"duration": 2}), now),
            Ok(Some(now + chrono::Duration::seconds(2)))
        );
        assert_eq!(
            due_time(&json!({"until": "2026-01-02 00:00 UTC"}), now),
            Ok(Some(now + chrono::Duration::days(1)))
        );
        assert_eq!(due_time(&json!({}), now), Ok(None));
        assert_eq!(due_time(&json!({"duration": null}), now), Ok(None));
        let both = due_time(&json!({"duration": "1s", "until": "2026-01-02"}), now);
        assert!(both.unwrap_err().contains("both"));
        assert!(due_time(&json!({"until": 5}), now).is_err());
        assert!(due_time(&json!({"duration": true}), now).is_err());
    }
}
