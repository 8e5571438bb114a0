//! Conductor's schedule JSON (the scheduler's `WorkflowSchedule`), imported and exported.
//!
//! | Conductor | 3ox schedule file |
//! |---|---|
//! | `name` | the file name `schedules/<name>.yaml` |
//! | `cronExpression` (6 fields, seconds first) | `cron` (a 5-field line is exported with `0` seconds) |
//! | `zoneId` | `time_zone` |
//! | `startWorkflowRequest.name` / `.input` | `workflow` / `input` |
//! | `scheduleStartTime` / `scheduleEndTime` (epoch ms, 0 = none) | `start` / `end` |
//! | `runCatchupScheduleInstances` | `catch_up` ([`IMPORTED_CATCH_UP`] when true; true when `max` > 0) |
//! | `paused` | `paused` |
//!
//! Conductor starts every slot whatever runs, so an imported schedule has `overlap:
//! allow_all`; what has no counterpart is reported as a note, never dropped silently.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::file::{CatchUpFile, SCHEDULE_VERSION, ScheduleFile, name_problem};
use super::overlap::Overlap;

/// The `catch_up` an imported `runCatchupScheduleInstances: true` becomes.
pub const IMPORTED_CATCH_UP: (&str, usize) = ("7d", 1000);

/// A schedule read from Conductor JSON: its name, the file, and notes on what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub name: String,
    pub file: ScheduleFile,
    pub notes: Vec<String>,
}

fn millis(value: Option<&Value>, what: &str) -> Result<Option<DateTime<Utc>>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let ms = v
                .as_i64()
                .ok_or_else(|| format!("`{what}` must be epoch milliseconds, not {v}"))?;
            if ms == 0 {
                return Ok(None);
            }
            DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| format!("`{what}` {ms} is out of range"))
        }
    }
}

/// Reads one Conductor schedule document.
pub fn import(doc: &Value) -> Result<Imported, String> {
    let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
    let name = text("name").ok_or("the schedule has no `name`")?;
    if let Some(problem) = name_problem(&name) {
        return Err(problem);
    }
    let cron = text("cronExpression").ok_or("the schedule has no `cronExpression`")?;
    let request = doc
        .get("startWorkflowRequest")
        .ok_or("the schedule has no `startWorkflowRequest`")?;
    let workflow = request
        .get("name")
        .and_then(Value::as_str)
        .ok_or("`startWorkflowRequest` has no `name`")?
        .to_string();
    let mut notes = Vec::new();
    if let Some(version) = request.get("version").filter(|v| !v.is_null()) {
        notes.push(format!(
            "startWorkflowRequest.version {version}: 3ox starts the station's workflow `{workflow}` as it is"
        ));
    }
    for key in [
        "correlationId",
        "taskToDomain",
        "priority",
        "externalInputPayloadStoragePath",
    ] {
        if request.get(key).is_some_and(|v| !v.is_null()) {
            notes.push(format!(
                "startWorkflowRequest.{key} has no 3ox counterpart; dropped"
            ));
        }
    }
    let input = request
        .get("input")
        .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    let catch_up = doc
        .get("runCatchupScheduleInstances")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(|| CatchUpFile {
            window: IMPORTED_CATCH_UP.0.to_string(),
            max: IMPORTED_CATCH_UP.1,
        });
    let file = ScheduleFile {
        version: SCHEDULE_VERSION,
        name: None,
        workflow,
        input,
        cron,
        time_zone: text("zoneId"),
        overlap: Some(Overlap::AllowAll),
        catch_up,
        late_grace: None,
        start: millis(doc.get("scheduleStartTime"), "scheduleStartTime")?,
        end: millis(doc.get("scheduleEndTime"), "scheduleEndTime")?,
        paused: doc.get("paused").and_then(Value::as_bool).unwrap_or(false),
    };
    Ok(Imported { name, file, notes })
}

/// Writes a schedule as a Conductor schedule document. `workflow` is the name and version of
/// the workflow it starts, when the station has it. Returns the document and notes on what
/// Conductor cannot say.
pub fn export(
    name: &str,
    file: &ScheduleFile,
    workflow: Option<(String, u32)>,
) -> (Value, Vec<String>) {
    let mut notes = Vec::new();
    let fields = file.cron.split_whitespace().count();
    let cron = if fields == 5 && !file.cron.trim().starts_with('@') {
        format!("0 {}", file.cron.trim())
    } else {
        if file.cron.trim().starts_with('@') {
            notes.push(format!(
                "cron `{}`: Conductor wants 6 fields; write the nickname out",
                file.cron
            ));
        }
        file.cron.trim().to_string()
    };
    let overlap = file.overlap.unwrap_or_default();
    if overlap != Overlap::AllowAll {
        notes.push(format!(
            "overlap {}: Conductor starts every slot (allow_all)",
            serde_json::to_value(overlap)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ));
    }
    if let Some(catch_up) = &file.catch_up {
        notes.push(format!(
            "catch_up window {} and max {}: Conductor only says whether missed slots run",
            catch_up.window, catch_up.max
        ));
    }
    if file.late_grace.is_some() {
        notes.push("late_grace has no Conductor counterpart".to_string());
    }
    let (workflow_name, version) = workflow.unwrap_or_else(|| (file.workflow.clone(), 1));
    let ms = |t: Option<DateTime<Utc>>| t.map_or(0, |t| t.timestamp_millis());
    let doc = json!({
        "name": name,
        "cronExpression": cron,
        "zoneId": file.time_zone.clone().unwrap_or_else(|| "UTC".to_string()),
        "startWorkflowRequest": {
            "name": workflow_name,
            "version": version,
            "input": file.input.clone().filter(|v| !v.is_null()).unwrap_or_else(|| json!({})),
        },
        "scheduleStartTime": ms(file.start),
        "scheduleEndTime": ms(file.end),
        "runCatchupScheduleInstances": file.catch_up.as_ref().is_some_and(|c| c.max > 0),
        "paused": file.paused,
    });
    (doc, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAILY: &str = r#"{
  "name": "daily-report-schedule",
  "cronExpression": "0 0 9 * * MON-FRI",
  "zoneId": "America/New_York",
  "startWorkflowRequest": {"name": "daily_report_workflow", "version": 1, "input": {}},
  "scheduleStartTime": 0,
  "scheduleEndTime": 0,
  "runCatchupScheduleInstances": false,
  "paused": false
}"#;

    #[test]
    fn the_corpus_schedule_imports_and_exports_unchanged() {
        let doc: Value = serde_json::from_str(DAILY).unwrap();
        let imported = import(&doc).unwrap();
        assert_eq!(imported.name, "daily-report-schedule");
        assert_eq!(imported.file.cron, "0 0 9 * * MON-FRI");
        assert_eq!(imported.file.time_zone.as_deref(), Some("America/New_York"));
        assert_eq!(imported.file.workflow, "daily_report_workflow");
        assert_eq!(imported.file.start, None);
        assert!(crate::schedule::cron::parse_cron(&imported.file.cron).is_ok());
        let (back, notes) = export(
            &imported.name,
            &imported.file,
            Some(("daily_report_workflow".into(), 1)),
        );
        assert_eq!(back, doc);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn what_conductor_cannot_say_is_noted() {
        let file = ScheduleFile {
            version: 1,
            name: None,
            workflow: "w".into(),
            input: None,
            cron: "*/5 * * * *".into(),
            time_zone: None,
            overlap: Some(Overlap::Skip),
            catch_up: Some(CatchUpFile {
                window: "1h".into(),
                max: 2,
            }),
            late_grace: None,
            start: Some(DateTime::from_timestamp_millis(1_772_359_200_000).unwrap()),
            end: None,
            paused: true,
        };
        let (doc, notes) = export("five", &file, None);
        assert_eq!(doc["cronExpression"], "0 */5 * * * *");
        assert_eq!(doc["zoneId"], "UTC");
        assert_eq!(doc["scheduleStartTime"], 1_772_359_200_000_i64);
        assert_eq!(doc["runCatchupScheduleInstances"], true);
        assert_eq!(doc["paused"], true);
        assert_eq!(notes.len(), 2, "{notes:?}");
        let again = import(&doc).unwrap();
        assert_eq!(again.file.start, file.start);
        assert_eq!(again.file.catch_up.unwrap().max, IMPORTED_CATCH_UP.1);
    }
}
