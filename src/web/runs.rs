//! The runs page (`/`, `/runs`): every run of the station, newest first, filtered by status,
//! workflow and start time, searched by id, [`PER_PAGE`] a page. It follows the station's
//! event stream: a run's row changes in place, a new run shows a link to reload.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{App, Pager, when};
use crate::engine::RunStatus;
use crate::query::{self, ListFilter};

/// Runs a page.
pub const PER_PAGE: usize = 50;

/// The statuses offered in the filter.
const STATUSES: [&str; 5] = ["RUNNING", "COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"];

/// The start-time filters offered: name and hours.
const SINCE: [(&str, i64); 4] = [("1h", 1), ("24h", 24), ("7d", 24 * 7), ("30d", 24 * 30)];

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filter {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub workflow: String,
    /// `1h`, `24h`, `7d` or `30d`: started within that time.
    #[serde(default)]
    pub since: String,
    /// A part of the run id.
    #[serde(default)]
    pub q: String,
    pub page: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Row {
    run_id: String,
    workflow: String,
    status: String,
    started: String,
    elapsed: String,
    tasks_done: usize,
    tasks_total: usize,
    failed_task: Option<String>,
    problem: Option<String>,
}

#[derive(Debug, Serialize)]
struct Page {
    filter: Filter,
    statuses: Vec<&'static str>,
    since: Vec<&'static str>,
    workflows: Vec<String>,
    rows: Vec<Row>,
    pager: Pager,
    /// The query string of the filter without the page, for the page links.
    query: String,
    error: Option<String>,
}

/// `GET /runs`.
pub async fn page(State(app): State<Arc<App>>, Query(filter): Query<Filter>) -> Response {
    let shown = app.clone();
    let page = super::blocking(move || build(&shown, filter)).await;
    app.render("runs.html", "runs", page)
}

fn build(app: &App, filter: Filter) -> Page {
    let now = Utc::now();
    let all = query::list(&app.station, &ListFilter::default(), now);
    let (all, error) = match all {
        Ok(all) => (all, None),
        Err(e) => (Vec::new(), Some(format!("{e} ({})", e.hint()))),
    };
    let mut workflows: Vec<String> = all.iter().filter_map(|r| r.workflow.clone()).collect();
    workflows.sort();
    workflows.dedup();
    let status: Option<RunStatus> =
        serde_json::from_value(serde_json::Value::String(filter.status.clone())).ok();
    let since = SINCE
        .iter()
        .find(|(name, _)| *name == filter.since)
        .map(|(_, hours)| now - chrono::Duration::hours(*hours));
    let q = filter.q.trim().to_ascii_lowercase();
    let wanted: Vec<_> = all
        .into_iter()
        .filter(|r| status.is_none() || r.status == status)
        .filter(|r| filter.workflow.is_empty() || r.workflow.as_deref() == Some(&filter.workflow))
        .filter(|r| since.is_none_or(|s| r.started_at.is_some_and(|at| at >= s)))
        .filter(|r| q.is_empty() || r.run_id.to_ascii_lowercase().contains(&q))
        .collect();
    let pager = Pager::new(wanted.len(), PER_PAGE, filter.page);
    let rows = wanted[pager.from..pager.to]
        .iter()
        .map(|r| Row {
            run_id: r.run_id.clone(),
            workflow: r.workflow.clone().unwrap_or_default(),
            status: r.status.map(|s| s.to_string()).unwrap_or_default(),
            started: r.started_at.map(when).unwrap_or_default(),
            elapsed: r
                .elapsed_ms
                .map(|ms| super::took(i64::try_from(ms).unwrap_or(i64::MAX)))
                .unwrap_or_default(),
            tasks_done: r.tasks_done,
            tasks_total: r.tasks_total,
            failed_task: r.failed_task.clone(),
            problem: r.problem.clone(),
        })
        .collect();
    let query = serde_urlencoded::to_string([
        ("status", filter.status.as_str()),
        ("workflow", filter.workflow.as_str()),
        ("since", filter.since.as_str()),
        ("q", filter.q.as_str()),
    ])
    .unwrap_or_default();
    Page {
        filter,
        statuses: STATUSES.to_vec(),
        since: SINCE.iter().map(|(n, _)| *n).collect(),
        workflows,
        rows,
        pager,
        query,
        error,
    }
}
