//! The schedule file format: `schedules/<name>.yaml` in a station (docs/schedules.md).
//!
//! A file is read into a [`ScheduleFile`] (what the person wrote, kept for `export`) and
//! checked into a [`Schedule`] (parsed cron line and zone, durations, the workflow it names
//! found in the station). Everything that is wrong with a file is one [`ScheduleError`] that
//! names the file and says what to change; the scheduler warns and goes on with the others.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cron::Timing;
use super::overlap::Overlap;
use super::slots::{CatchUp, LATE_GRACE};
use crate::station::Station;

/// The version of the schedule file format this 3ox reads and writes.
pub const SCHEDULE_VERSION: u32 = 1;

/// The folder of a station that holds its schedules.
pub const SCHEDULES_DIR: &str = "schedules";

/// A schedule file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// The format version: 1.
    pub version: u32,
    /// The schedule's name; when given it must be the file's stem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The workflow to start: a template name of the station, or a path from the station root.
    pub workflow: String,
    /// The input of every run it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// A cron line of 5 fields, or 6 with seconds first.
    pub cron: String,
    /// The IANA time zone the cron line is read in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// What a slot does while an earlier run of the schedule still runs (default `skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<Overlap>,
    /// Slots missed while no orchestrator ran (default: none are caught up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUpFile>,
    /// How late a slot may be seen and still count as on time (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_grace: Option<String>,
    /// No slot before this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// No slot after this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// A paused schedule fires nothing; its slots are passed over, not caught up.
    #[serde(default)]
    pub paused: bool,
}

/// `catch_up:` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatchUpFile {
    /// Missed slots older than this are dropped (`30m`, `6h`, `2d`).
    pub window: String,
    /// At most this many missed slots fire (the newest).
    pub max: usize,
}

/// A schedule ready to fire.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    pub file: ScheduleFile,
    pub timing: Timing,
    pub overlap: Overlap,
    pub catch_up: CatchUp,
    pub grace: TimeDelta,
    /// The workflow file the schedule's `workflow` names.
    pub workflow_path: PathBuf,
}

/// What is wrong with a schedule file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}\n    = hint: {hint}")]
pub struct ScheduleError {
    /// The file, as the station names it (`schedules/x.yaml`).
    pub path: String,
    pub message: String,
    pub hint: String,
}

/// Whether `path` is a schedule file: a `*.yaml` or `*.yml` directly in a `schedules/` folder.
pub fn is_schedule_file(path: &Path) -> bool {
    let in_schedules = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == SCHEDULES_DIR);
    let yaml = path
        .extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml");
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    in_schedules && yaml && !hidden
}

/// The schedule name of a file: its stem.
pub fn name_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `name` can name a schedule (it becomes part of file names and start keys).
pub fn name_problem(name: &str) -> Option<String> {
    let plain = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!plain).then(|| {
        format!(
            "`{name}` cannot name a schedule: use letters, digits, '-', '_' and '.' (at most 100, not starting with '.')"
        )
    })
}

/// The schedule files of a station, sorted by name.
pub fn files(station: &Station) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(station.root.join(SCHEDULES_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_schedule_file(p))
        .collect();
    found.sort();
    found
}

/// Every schedule of the station: the good ones and the reasons of the bad ones.
pub fn load_all(station: &Station) -> Vec<Result<Schedule, ScheduleError>> {
    files(station)
        .iter()
        .map(|path| load(station, path))
        .collect()
}

/// The schedule called `name` (its file `schedules/<name>.yaml` or `.yml`).
pub fn find(station: &Station, name: &str) -> Option<PathBuf> {
    if name_problem(name).is_some() {
        return None;
    }
    ["yaml", "yml"]
        .iter()
        .map(|ext| {
            station
                .root
                .join(SCHEDULES_DIR)
                .join(format!("{name}.{ext}"))
        })
        .find(|p| p.is_file())
}

/// The names of the station's schedules.
pub fn names(station: &Station) -> Vec<String> {
    files(station).iter().map(|p| name_of(p)).collect()
}

/// Reads and checks one schedule file.
pub fn load(station: &Station, path: &Path) -> Result<Schedule, ScheduleError> {
    let shown = station.relative(path);
    let fail = |message: String, hint: &str| ScheduleError {
        path: shown.clone(),
        message,
        hint: hint.to_string(),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            format!("cannot read it: {e}"),
            "check that the file is readable text (UTF-8)",
        )
    })?;
    let file: ScheduleFile = serde_yaml::from_str(&text).map_err(|e| {
        fail(
            format!("not a schedule: {e}"),
            "see docs/schedules.md: `version: 1`, `workflow`, `cron` are required",
        )
    })?;
    check(station, path, file)
}

/// Checks a schedule file's contents (read from `path`).
pub fn check(
    station: &Station,
    path: &Path,
    file: ScheduleFile,
) -> Result<Schedule, ScheduleError> {
    let shown = station.relative(path);
    let fail = |message: String, hint: &str| ScheduleError {
        path: shown.clone(),
        message,
        hint: hint.to_string(),
    };
    if file.version != SCHEDULE_VERSION {
        return Err(fail(
            format!("version {} is not one this 3ox reads", file.version),
            "write `version: 1` (docs/schedules.md)",
        ));
    }
    let name = name_of(path);
    if let Some(problem) = name_problem(&name) {
        return Err(fail(problem, "rename the file"));
    }
    if let Some(given) = &file.name
        && given != &name
    {
        return Err(fail(
            format!("`name: {given}` differs from the file's name `{name}`"),
            "a schedule is named after its file: rename the file or drop `name`",
        ));
    }
    let zone = file.time_zone.as_deref().unwrap_or("UTC");
    let mut timing = Timing::new(&file.cron, zone).map_err(|e| {
        let text = e.to_string();
        let (message, hint) = text.split_once("; hint: ").unwrap_or((&text, ""));
        fail(message.to_string(), hint)
    })?;
    timing.start = file.start;
    timing.end = file.end;
    if let (Some(start), Some(end)) = (file.start, file.end)
        && end < start
    {
        return Err(fail(
            format!("`end` ({end}) is before `start` ({start})"),
            "swap them, or drop one",
        ));
    }
    let duration = |what: &str, text: &str| {
        humantime::parse_duration(text)
            .ok()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .ok_or_else(|| {
                fail(
                    format!("`{what}: {text}` is not a duration"),
                    "write e.g. `90s`, `30m`, `6h` or `2d`",
                )
            })
    };
    let catch_up = match &file.catch_up {
        None => CatchUp::NONE,
        Some(c) => CatchUp {
            window: duration("catch_up.window", &c.window)?,
            max: c.max,
        },
    };
    let grace = match &file.late_grace {
        None => LATE_GRACE,
        Some(text) => duration("late_grace", text)?,
    };
    if let Some(input) = &file.input
        && !input.is_object()
        && !input.is_null()
    {
        return Err(fail(
            "`input` must be a mapping of input names to values".to_string(),
            "e.g. `input: {day: yesterday}`",
        ));
    }
    let workflow_path = resolve_workflow(station, &file.workflow).map_err(|hint| {
        fail(
            format!(
                "workflow `{}` is neither a template of this station nor a file",
                file.workflow
            ),
            &hint,
        )
    })?;
    Ok(Schedule {
        name,
        path: path.to_path_buf(),
        overlap: file.overlap.unwrap_or_default(),
        file,
        timing,
        catch_up,
        grace,
        workflow_path,
    })
}

/// The workflow file a schedule's `workflow` names: a template of the station (by workflow
/// name or file stem), else a path from the station root. `Err` carries a hint.
pub fn resolve_workflow(station: &Station, workflow: &str) -> Result<PathBuf, String> {
    if let Some(template) = crate::templates::find(station, workflow) {
        return Ok(template.path);
    }
    let path = station.root.join(workflow);
    if path.is_file() {
        return Ok(path);
    }
    let close = crate::templates::closest(station, workflow);
    Err(if close.is_empty() {
        "name a template in templates/ (`3ox template list`) or a workflow file relative to the station root".to_string()
    } else {
        format!("did you mean {}?", close.join(", "))
    })
}

/// Sets `paused:` in a schedule file's text, keeping the rest as written (comments too).
pub fn with_paused(text: &str, paused: bool) -> String {
    let value = if paused { "true" } else { "false" };
    let mut found = false;
    let mut out: Vec<String> = text
        .lines()
        .map(|line| {
            let is_paused = line
                .strip_prefix("paused")
                .is_some_and(|rest| rest.trim_start().starts_with(':'));
            if is_paused && !found {
                found = true;
                format!("paused: {value}")
            } else {
                line.to_string()
            }
        })
        .collect();
    if !found {
        out.push(format!("paused: {value}"));
    }
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Station) {
        let dir = tempfile::tempdir().unwrap();
        let station = Station::init(dir.path()).unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        (dir, station)
    }

    const FLOW: &str =
        "name: nightly\ntasks:\n  - name: n\n    taskReferenceName: n\n    type: NOOP\n";

    #[test]
    fn a_full_schedule_reads() {
        let (dir, station) = station_with(&[
            ("templates/nightly.yaml", FLOW),
            (
                "schedules/night.yaml",
                "version: 1\nworkflow: nightly\ninput: {day: yesterday}\ncron: '30 2 * * *'\ntime_zone: Europe/Berlin\noverlap: buffer_one\ncatch_up: {window: 6h, max: 2}\nlate_grace: 5s\nstart: 2026-01-01T00:00:00Z\n",
            ),
        ]);
        let schedule = load(&station, &dir.path().join("schedules/night.yaml")).unwrap();
        assert_eq!(schedule.name, "night");
        assert_eq!(schedule.overlap, Overlap::BufferOne);
        assert_eq!(schedule.catch_up.window, TimeDelta::hours(6));
        assert_eq!(schedule.catch_up.max, 2);
        assert_eq!(schedule.grace, TimeDelta::seconds(5));
        assert_eq!(schedule.timing.zone, chrono_tz::Europe::Berlin);
        assert!(schedule.workflow_path.ends_with("templates/nightly.yaml"));
    }

    #[test]
    fn bad_files_are_refused_with_a_reason_naming_the_file() {
        let (dir, station) = station_with(&[
            ("templates/nightly.yaml", FLOW),
            (
                "schedules/cron.yaml",
                "version: 1\nworkflow: nightly\ncron: '61 * * * *'\n",
            ),
            (
                "schedules/flow.yaml",
                "version: 1\nworkflow: nightlyy\ncron: '0 * * * *'\n",
            ),
            (
                "schedules/field.yaml",
                "version: 1\nworkflow: nightly\ncron: '0 * * * *'\ncolour: red\n",
            ),
            (
                "schedules/zone.yaml",
                "version: 1\nworkflow: nightly\ncron: '0 * * * *'\ntime_zone: Mars/Base\n",
            ),
        ]);
        let err = |name: &str| {
            load(&station, &dir.path().join(format!("schedules/{name}.yaml")))
                .unwrap_err()
                .to_string()
        };
        let cron = err("cron");
        assert!(
            cron.starts_with("schedules/cron.yaml: cron line `61 * * * *`"),
            "{cron}"
        );
        let flow = err("flow");
        assert!(
            flow.contains("workflow `nightlyy`") && flow.contains("did you mean nightly?"),
            "{flow}"
        );
        assert!(err("field").contains("colour"), "{}", err("field"));
        assert!(err("zone").contains("Mars/Base"));
        assert_eq!(load_all(&station).iter().filter(|s| s.is_err()).count(), 4);
    }

    #[test]
    fn paused_is_set_in_place() {
        let text = "version: 1\n# nightly\ncron: '0 * * * *'\npaused: false\n";
        assert_eq!(
            with_paused(text, true),
            "version: 1\n# nightly\ncron: '0 * * * *'\npaused: true\n"
        );
        assert_eq!(
            with_paused("version: 1\n", true),
            "version: 1\npaused: true\n"
        );
    }
}
