//! `3ox serve`: the local web dashboard.
//!
//! # Theory of operation
//!
//! One axum router on tokio serves server-rendered pages (minijinja templates embedded in
//! the binary, autoescaped: every value from a journal, an agent or a person is text), one
//! small script and one stylesheet (also embedded; no inline script or style, so the
//! Content-Security-Policy can be `default-src 'self'`). Every request first passes
//! [`security::guard`]: the Host must be the bound name (DNS rebinding), a state-changing
//! request's Origin must be ours and its form must carry the CSRF token, and every page needs
//! the session cookie that the token printed at start is exchanged for.
//!
//! The journals are the truth, as for the CLI views: pages read `.3ox/runs/` through
//! [`crate::query`] and [`Journals`] (a cache of parsed journals, read again only when a
//! journal's length or time changed). Live updates are Server-Sent Events ([`sse`]): one
//! notify watcher on `.3ox/runs/` says which journal changed; a run's stream sends each new
//! journal record (its event id is the record's sequence number, so a reconnecting browser's
//! `Last-Event-ID` resumes after the last record it saw), and the station's stream says which
//! runs changed. Operations go through the CLI's own code paths: run operations through
//! [`crate::orchestrator::control::send`], approvals through
//! [`crate::cli::approve::write_decision`].
//!
//! One file per page or route group: [`runs`] (the runs list), [`run`] (a run, its tasks,
//! its operations), [`approvals`], [`agents`], [`workflows`], [`editor`] (edit a workflow with
//! live validation and diagram); [`security`] and [`sse`].

pub mod agents;
pub mod approvals;
pub mod editor;
pub mod run;
pub mod runs;
pub mod security;
pub mod sse;
pub mod timeline;
pub mod workflows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::RunState;
use crate::journal::{self, Journal, Record};
use crate::station::Station;

/// The stylesheet and the script, embedded.
const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");

/// The page templates, embedded (`.html` names: minijinja escapes every value in them).
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("runs.html", include_str!("templates/runs.html")),
    ("run.html", include_str!("templates/run.html")),
    ("task.html", include_str!("templates/task.html")),
    ("approvals.html", include_str!("templates/approvals.html")),
    ("agents.html", include_str!("templates/agents.html")),
    ("workflows.html", include_str!("templates/workflows.html")),
    ("workflow.html", include_str!("templates/workflow.html")),
    ("message.html", include_str!("templates/message.html")),
    ("editor.html", include_str!("templates/editor.html")),
];

/// What the dashboard is started with.
pub struct Config {
    pub station: Station,
    /// The Host header values accepted (`127.0.0.1:7300`, `localhost:7300`, ...).
    pub allowed_hosts: Vec<String>,
    /// The token printed at start, exchanged for the session cookie.
    pub token: String,
    /// Who decides and operates from the dashboard, recorded as `web:<user>`.
    pub user: String,
    /// The key approvals are signed with (`3ox serve --key`), as for `3ox approve --key`.
    pub key: Option<PathBuf>,
}

/// The dashboard's shared state.
pub struct App {
    pub station: Station,
    pub security: security::Secrets,
    pub user: String,
    pub key: Option<PathBuf>,
    pub journals: Journals,
    pub changes: sse::Hub,
    /// Cancelled when the server stops: the event streams end with it (else the graceful
    /// shutdown would wait for them forever).
    pub stopping: tokio_util::sync::CancellationToken,
    templates: minijinja::Environment<'static>,
}

impl App {
    /// The state for `config`; starts the watcher on `.3ox/runs/`.
    pub fn new(config: Config) -> anyhow::Result<Arc<App>> {
        let mut templates = minijinja::Environment::new();
        for (name, text) in TEMPLATES {
            templates.add_template(name, text)?;
        }
        let changes = sse::Hub::watch(&config.station)?;
        Ok(Arc::new(App {
            security: security::Secrets::new(config.token, config.allowed_hosts),
            user: config.user,
            key: config.key,
            journals: Journals::default(),
            changes,
            stopping: tokio_util::sync::CancellationToken::new(),
            templates,
            station: config.station,
        }))
    }

    /// Who does what the dashboard does, for the record.
    pub fn who(&self) -> String {
        format!("web:{}", self.user)
    }

    /// Renders template `name` with `page` (and the CSRF token and the page's `nav` entry).
    pub fn render(&self, name: &str, nav: &str, page: impl Serialize) -> Response {
        let rendered = self.templates.get_template(name).and_then(|t| {
            t.render(minijinja::context! {
                page => minijinja::Value::from(minijinja::value::Serde(&page)),
                csrf => self.security.csrf(),
                nav => nav,
                station => self.station.root.display().to_string(),
            })
        });
        match rendered {
            Ok(html) => Html(html).into_response(),
            Err(error) => {
                tracing::error!(%error, template = name, "cannot render a page");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot render {name}: {error}"),
                )
                    .into_response()
            }
        }
    }

    /// A page that only says something (a refusal, a missing run), with `status`.
    pub fn message(&self, status: StatusCode, title: &str, text: &str) -> Response {
        let mut response = self.render(
            "message.html",
            "",
            serde_json::json!({ "title": title, "text": text }),
        );
        *response.status_mut() = status;
        response
    }
}

/// The router: every page and stream behind [`security::guard`].
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(runs::page))
        .route("/runs", get(runs::page))
        .route("/runs/{run}", get(run::page))
        .route("/runs/{run}/tasks/{task}", get(run::task_page))
        .route("/runs/{run}/events", get(sse::run_events))
        .route("/runs/{run}/operations/{action}", post(run::operate))
        .route("/approvals", get(approvals::page))
        .route(
            "/approvals/{run}/{task}/{decision}",
            post(approvals::decide),
        )
        .route("/agents", get(agents::page))
        .route("/workflows", get(workflows::page))
        .route("/workflows/{name}", get(workflows::detail))
        .route("/workflows/{name}/edit", get(editor::page))
        .route("/workflows-new", get(editor::start))
        .route("/workflows/{name}/check", post(editor::check))
        .route("/workflows/{name}/save", post(editor::save))
        .route("/events", get(sse::station_events))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            security::guard,
        ))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = app.stopping.clone();
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.cancel();
        })
        .await
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

async fn not_found(axum::extract::State(app): axum::extract::State<Arc<App>>) -> Response {
    app.message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page here.",
    )
}

/// Runs blocking file work (journals, mailboxes, control requests) off the async workers.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("a dashboard read does not panic")
}

/// A run's records and the state they fold into, as last read.
pub struct Loaded {
    pub records: Vec<Record>,
    pub state: RunState,
    /// The timeline of the records, made on first use.
    log: std::sync::OnceLock<crate::query::RunLog>,
}

impl Loaded {
    /// The run's timeline ([`crate::query::timeline`]), folded once per read of the journal.
    pub fn log(&self) -> &crate::query::RunLog {
        self.log
            .get_or_init(|| crate::query::timeline(&self.records, &self.state))
    }

    /// The sequence number of the last record (0 for none).
    pub fn last_seq(&self) -> u64 {
        self.records.last().map_or(0, |r| r.seq)
    }
}

/// Parsed journals, read again only when a journal's length or modification time changed
/// (journals only grow), so a run of 10,000 tasks is parsed once per change, not per request.
#[derive(Default)]
pub struct Journals {
    cache: Mutex<HashMap<String, Cached>>,
}

/// A parsed journal and the length and time of the file it was read from.
type Cached = (u64, Option<SystemTime>, Arc<Loaded>);

impl Journals {
    /// Run `run_id`'s journal, parsed (from the cache when unchanged).
    pub fn load(&self, station: &Station, run_id: &str) -> Result<Arc<Loaded>, String> {
        let path = Journal::path_for(&station.runs_dir(), run_id);
        let meta = std::fs::metadata(&path).map_err(|e| format!("run {run_id}: {e}"))?;
        let key = (meta.len(), meta.modified().ok());
        if let Some((len, time, loaded)) = self.cache.lock().expect("cache lock").get(run_id)
            && (*len, *time) == key
        {
            return Ok(loaded.clone());
        }
        let contents = journal::read(&path).map_err(|e| e.to_string())?;
        let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
        if state.run_id.is_empty() {
            return Err(format!("run {run_id} has no records yet"));
        }
        let loaded = Arc::new(Loaded {
            records: contents.records,
            state,
            log: std::sync::OnceLock::new(),
        });
        let mut cache = self.cache.lock().expect("cache lock");
        // Keep the cache small: the runs looked at lately.
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(run_id.to_string(), (key.0, key.1, loaded.clone()));
        Ok(loaded)
    }
}

/// A time as the pages show it: `2026-12-03 10:54:23 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A duration in milliseconds as the pages show it: `850ms`, `4.2s`, `3m 10s`, `2h 5m`.
pub fn took(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m {}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h {}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// A JSON value as indented text (escaped by the template like any other text).
pub fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Which page of `total` items, `per` a page, `page` asks for (1-based, clamped), and the
/// range of items on it.
#[derive(Debug, Clone, Serialize)]
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub from: usize,
    pub to: usize,
}

impl Pager {
    pub fn new(total: usize, per: usize, page: Option<usize>) -> Pager {
        let pages = total.div_ceil(per).max(1);
        let page = page.unwrap_or(1).clamp(1, pages);
        let from = (page - 1) * per;
        Pager {
            page,
            pages,
            total,
            from,
            to: (from + per).min(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pager_clamps_the_page_and_gives_its_range() {
        let p = Pager::new(250, 100, Some(3));
        assert_eq!((p.page, p.pages, p.from, p.to), (3, 3, 200, 250));
        let p = Pager::new(250, 100, Some(9));
        assert_eq!(
            (p.page, p.from, p.to),
            (3, 200, 250),
            "past the end: the last page"
        );
        let p = Pager::new(0, 100, None);
        assert_eq!((p.page, p.pages, p.from, p.to), (1, 1, 0, 0));
        let p = Pager::new(10, 100, Some(0));
        assert_eq!((p.page, p.from, p.to), (1, 0, 10));
    }

    #[test]
    fn durations_read_at_their_scale() {
        assert_eq!(took(850), "850ms");
        assert_eq!(took(4_200), "4.2s");
        assert_eq!(took(190_000), "3m 10s");
        assert_eq!(took(7_500_000), "2h 5m");
        assert_eq!(took(-5), "0ms");
    }
}
