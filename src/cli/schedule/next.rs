//! `3ox schedule next NAME [-n N]`: a schedule's next slot times, in its time zone.

use std::path::Path;

use chrono::{SecondsFormat, Utc};

use crate::cli::out::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schedule (its file name without `.yaml`).
    pub name: String,
    /// How many slots to print.
    #[arg(short = 'n', long = "count", default_value_t = 5)]
    pub count: usize,
    /// Print a JSON array of RFC 3339 times instead of one per line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let schedule = match super::load_or_explain(&station, &args.name) {
        Ok(schedule) => schedule,
        Err(code) => return Ok(code),
    };
    let mut slots = Vec::new();
    let mut cursor = Utc::now();
    while slots.len() < args.count {
        let Some(slot) = schedule.timing.next_slot(cursor, false) else {
            break;
        };
        slots.push(
            slot.with_timezone(&schedule.timing.zone)
                .to_rfc3339_opts(SecondsFormat::Secs, false),
        );
        cursor = slot;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&slots)?)?;
    } else {
        for slot in &slots {
            outln!("{slot}")?;
        }
    }
    if slots.len() < args.count {
        eprintln!(
            "schedule `{}` has no slot after {} (its end)",
            schedule.name,
            slots.last().map_or("now", String::as_str)
        );
    }
    if schedule.file.paused {
        eprintln!(
            "schedule `{}` is paused: these slots fire only once it is resumed",
            schedule.name
        );
    }
    Ok(crate::cli::EXIT_OK)
}
