//! The workflow editor: `/workflows/NAME/edit` is a page with the template's YAML in a text
//! area, its diagnostics and its diagram; the page's script ([`super::APP_JS`]) posts the text
//! as you type to `POST /workflows/NAME/check`, which answers JSON: the diagnostics of the
//! same validator as `3ox validate` (with the station's agents), each with line and column,
//! and the diagram as SVG (`crate::graph`) when the text reads as a workflow.
//! `POST /workflows/NAME/save` writes the file atomically only when it is valid; otherwise it
//! is refused (422) with the diagnostics. Both are form posts carrying the CSRF token and
//! checked for Origin by [`super::security::guard`] like every other POST.
//!
//! NAME is a template of the station (by workflow name or file stem, as `/workflows/NAME`);
//! a NAME that is none is a new workflow, saved as `templates/NAME.workflow.yaml` (the form
//! on `/workflows` goes there through `GET /workflows-new?name=NAME`).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::App;
use crate::definition::source::Source;
use crate::definition::{Diagnostic, Severity, WorkflowDef};
use crate::mailbox::atomic::{self, Durability};

/// The largest workflow text the editor takes (the form limit of the guard is 64 KiB).
pub const MAX_TEXT_BYTES: usize = 60 * 1024;

/// The text of a new workflow.
fn starter(name: &str) -> String {
    format!(
        "name: {name}\nversion: 1\ndescription: what it does\ntasks:\n  - name: first_step\n    taskReferenceName: first\n    type: NOOP\n"
    )
}

/// The file the editor edits for NAME: the template's, or `templates/NAME.workflow.yaml`;
/// `None` for a NAME that cannot be a file name.
fn file_for(app: &App, name: &str) -> Option<(PathBuf, bool)> {
    let found = crate::templates::list(&app.station)
        .into_iter()
        .find(|t| t.stem == name)
        .or_else(|| crate::templates::find(&app.station, name));
    if let Some(t) = found {
        return Some((t.path, true));
    }
    if crate::mailbox::name_problem(name).is_some() || name.starts_with('.') {
        return None;
    }
    Some((
        app.station
            .root
            .join(crate::templates::FOLDER)
            .join(format!("{name}.workflow.yaml")),
        false,
    ))
}

#[derive(Debug, Serialize)]
struct Page {
    name: String,
    file: String,
    exists: bool,
    text: String,
    lines: usize,
}

/// `GET /workflows/NAME/edit`.
pub async fn page(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    let shown = app.clone();
    let page = super::blocking(move || {
        let (path, exists) = file_for(&shown, &name)?;
        let text = if exists {
            std::fs::read_to_string(&path).ok()?
        } else {
            starter(&name)
        };
        Some(Page {
            file: shown.station.relative(&path),
            lines: text.lines().count().max(1),
            name,
            exists,
            text,
        })
    })
    .await;
    match page {
        Some(page) => app.render("editor.html", "workflows", page),
        None => app.message(
            StatusCode::NOT_FOUND,
            "No such workflow",
            "That name cannot be a workflow file (letters, digits, `-` and `_`).",
        ),
    }
}

/// What the "new workflow" form of `/workflows` asks for.
#[derive(Debug, Deserialize)]
pub struct NewName {
    #[serde(default)]
    name: String,
}

/// `GET /workflows-new?name=NAME` (the form on `/workflows`): to the editor of NAME, a new
/// workflow unless the station has a template by that name.
pub async fn start(
    State(app): State<Arc<App>>,
    axum::extract::Query(new): axum::extract::Query<NewName>,
) -> Response {
    let name = new.name.trim();
    if name.is_empty() || crate::mailbox::name_problem(name).is_some() || name.starts_with('.') {
        return app.message(
            StatusCode::BAD_REQUEST,
            "Not a workflow name",
            "Give a name of letters, digits, `-` and `_`.",
        );
    }
    let location = format!(
        "/workflows/{}/edit",
        serde_urlencoded::to_string([("", name)])
            .unwrap_or_default()
            .trim_start_matches('=')
    );
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The form of `check` and `save` (the guard has checked `csrf`).
#[derive(Debug, Deserialize)]
pub struct Edit {
    #[serde(default)]
    yaml: String,
}

/// One diagnostic as the page shows it.
#[derive(Debug, Serialize)]
struct Shown {
    severity: &'static str,
    line: usize,
    column: usize,
    message: String,
    hint: Option<String>,
}

fn shown(d: &Diagnostic) -> Shown {
    Shown {
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        line: d.line,
        column: d.column,
        message: d.message.clone(),
        hint: d.hint.clone(),
    }
}

/// The verdict on a text: its diagnostics, whether it is valid, its diagram.
fn verdict(
    app: &App,
    name: &str,
    text: &str,
) -> Result<(PathBuf, Vec<Diagnostic>, Option<String>), String> {
    let (path, _) = file_for(app, name).ok_or("that name cannot be a workflow file")?;
    let shown_path = app.station.relative(&path);
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "the text is larger than the {MAX_TEXT_BYTES} bytes the editor takes"
        ));
    }
    let agents = app.station.agents().ok();
    let diagnostics = crate::cli::validate::check_text(&path, &shown_path, text, agents.as_ref());
    let diagram = Source::parse(text, &shown_path)
        .ok()
        .and_then(|src| serde_json::from_value::<WorkflowDef>(src.value).ok())
        .filter(|def| super::run::diagram_size(&def.tasks) <= super::run::MAX_DIAGRAM_NODES)
        .map(|def| super::run::diagram_svg(crate::graph::build(&def)));
    Ok((path, diagnostics, diagram))
}

fn valid(diagnostics: &[Diagnostic]) -> bool {
    !diagnostics.iter().any(|d| d.severity == Severity::Error)
}

/// `POST /workflows/NAME/check`: JSON `{valid, diagnostics: [{severity, line, column,
/// message, hint}], diagram}` (diagram: SVG text or null).
pub async fn check(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Form(edit): Form<Edit>,
) -> Response {
    let shown_app = app.clone();
    let result = super::blocking(move || verdict(&shown_app, &name, &edit.yaml)).await;
    match result {
        Ok((_, diagnostics, diagram)) => answer(
            StatusCode::OK,
            json!({
                "valid": valid(&diagnostics),
                "diagnostics": diagnostics.iter().map(shown).collect::<Vec<_>>(),
                "diagram": diagram,
            }),
        ),
        Err(reason) => answer(StatusCode::BAD_REQUEST, json!({"error": reason})),
    }
}

/// `POST /workflows/NAME/save`: writes the file atomically when the text is valid (200,
/// `{saved: true, file}`); refuses it otherwise (422, `{saved: false, diagnostics}`).
pub async fn save(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Form(edit): Form<Edit>,
) -> Response {
    let shown_app = app.clone();
    let result = super::blocking(move || -> Result<(Option<String>, Vec<Diagnostic>), String> {
        let (path, diagnostics, _) = verdict(&shown_app, &name, &edit.yaml)?;
        if !valid(&diagnostics) {
            return Ok((None, diagnostics));
        }
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| format!("cannot create the folder: {e}"))?;
        }
        atomic::write(&path, edit.yaml.as_bytes(), Durability::Durable)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        tracing::info!(path = %path.display(), by = %shown_app.who(), "saved a workflow from the editor");
        Ok((Some(shown_app.station.relative(&path)), diagnostics))
    })
    .await;
    match result {
        Ok((Some(file), diagnostics)) => answer(
            StatusCode::OK,
            json!({
                "saved": true,
                "file": file,
                "diagnostics": diagnostics.iter().map(shown).collect::<Vec<_>>(),
            }),
        ),
        Ok((None, diagnostics)) => answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "saved": false,
                "reason": "the workflow is not valid; nothing was written",
                "diagnostics": diagnostics.iter().map(shown).collect::<Vec<_>>(),
            }),
        ),
        Err(reason) => answer(
            StatusCode::BAD_REQUEST,
            json!({"saved": false, "reason": reason}),
        ),
    }
}

/// A JSON answer with `status`.
fn answer(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}
