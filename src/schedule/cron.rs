//! Parsing a schedule's cron line and time zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A cron line or time zone that cannot be used, with a hint for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronLineError {
    /// The line does not have 5 (minute hour day month weekday) or 6 (with seconds first) fields.
    #[error(
        "cron line `{line}` has {fields} fields; hint: use 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, e.g. `0 7 * * 1-5`"
    )]
    FieldCount {
        /// The line as written.
        line: String,
        /// How many whitespace-separated fields it has.
        fields: usize,
    },
    /// croner refused the line.
    #[error(
        "cron line `{line}` does not parse: {reason}; hint: e.g. `*/15 * * * *` or `0 0 9 * * MON-FRI`"
    )]
    Invalid {
        /// The line as written.
        line: String,
        /// croner's reason.
        reason: String,
    },
    /// The time zone is not an IANA name chrono-tz knows.
    #[error(
        "time zone `{zone}` is unknown; hint: use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`"
    )]
    TimeZone {
        /// The zone as written.
        zone: String,
    },
}

/// Parses a 5- or 6-field cron line (seconds first when 6). Nicknames such as `@daily` work.
pub fn parse_cron(line: &str) -> Result<Cron, CronLineError> {
    let trimmed = line.trim();
    let fields = trimmed.split_whitespace().count();
    if !trimmed.starts_with('@') && !(5..=6).contains(&fields) {
        return Err(CronLineError::FieldCount {
            line: line.to_owned(),
            fields,
        });
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(trimmed)
        .map_err(|err| CronLineError::Invalid {
            line: line.to_owned(),
            reason: err.to_string(),
        })
}

/// Parses an IANA time zone name.
pub fn parse_time_zone(zone: &str) -> Result<Tz, CronLineError> {
    zone.trim()
        .parse::<Tz>()
        .map_err(|_| CronLineError::TimeZone {
            zone: zone.to_owned(),
        })
}

/// When a schedule may fire: its cron line in its zone, between optional start and end.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The parsed cron line.
    pub cron: Cron,
    /// The zone the cron line is read in.
    pub zone: Tz,
    /// No slot before this instant fires.
    pub start: Option<DateTime<Utc>>,
    /// No slot after this instant fires.
    pub end: Option<DateTime<Utc>>,
}

impl Timing {
    /// Parses a cron line and zone into a timing without start or end.
    pub fn new(line: &str, zone: &str) -> Result<Self, CronLineError> {
        Ok(Self {
            cron: parse_cron(line)?,
            zone: parse_time_zone(zone)?,
            start: None,
            end: None,
        })
    }

    /// The first slot strictly after `after` (or at it when `inclusive`), within start/end.
    pub fn next_slot(&self, after: DateTime<Utc>, inclusive: bool) -> Option<DateTime<Utc>> {
        let (from, inclusive) = match self.start {
            Some(start) if start > after => (start, true),
            _ => (after, inclusive),
        };
        let local = from.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&local, inclusive).ok()?;
        let next = next.with_timezone(&Utc);
        match self.end {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_fields_parse_and_others_are_refused_with_a_hint() {
        assert!(parse_cron("*/15 * * * *").is_ok());
        assert!(parse_cron("*/1 * * * * *").is_ok());
        assert!(parse_cron("@daily").is_ok());
        let err = parse_cron("* * * *").unwrap_err();
        assert!(matches!(err, CronLineError::FieldCount { fields: 4, .. }));
        assert!(err.to_string().contains("hint:"));
        let err = parse_cron("0 0 0 * * * 2030").unwrap_err();
        assert!(matches!(err, CronLineError::FieldCount { fields: 7, .. }));
        let err = parse_cron("61 * * * *").unwrap_err();
        assert!(matches!(err, CronLineError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("61 * * * *"));
    }

    #[test]
    fn unknown_time_zones_are_refused() {
        assert_eq!(
            parse_time_zone("Europe/Berlin").unwrap(),
            chrono_tz::Europe::Berlin
        );
        let err = parse_time_zone("Mars/Olympus").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"));
    }
}
