//! The workflows pages: `/workflows` lists the station's templates (`templates/`, as
//! `3ox template list`) with their description, inputs and validation result;
//! `/workflows/NAME` shows one with its diagram and every problem the validator reports
//! (errors and warnings, with line and column).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::App;
use crate::definition::Severity;
use crate::definition::source::Source;
use crate::templates::{self, Template};

/// Diagrams of templates with more nodes than this are not drawn.
const MAX_DIAGRAM_NODES: usize = super::run::MAX_DIAGRAM_NODES;

#[derive(Debug, Serialize)]
struct Problem {
    severity: &'static str,
    at: String,
    message: String,
    hint: Option<String>,
}

#[derive(Debug, Serialize)]
struct Item {
    name: String,
    stem: String,
    file: String,
    description: Option<String>,
    version: Option<u32>,
    inputs: Vec<String>,
    /// Why it does not load, when it does not.
    problem: Option<String>,
    warnings: usize,
}

#[derive(Debug, Serialize)]
struct Detail {
    item: Item,
    problems: Vec<Problem>,
    diagram: Option<String>,
    diagram_note: Option<String>,
}

fn item(app: &App, t: &Template, warnings: usize) -> Item {
    let def = t.def.as_ref().ok();
    Item {
        name: t.name().to_string(),
        stem: t.stem.clone(),
        file: app.station.relative(&t.path),
        description: def.and_then(|d| d.description.clone()),
        version: def.map(|d| d.version),
        inputs: def
            .map(|d| d.inputs.keys().cloned().collect())
            .unwrap_or_default(),
        problem: t.def.as_ref().err().cloned(),
        warnings,
    }
}

/// Every diagnostic of the template's file.
fn problems(t: &Template) -> Vec<Problem> {
    let Ok(text) = std::fs::read_to_string(&t.path) else {
        return Vec::new();
    };
    let origin = t.path.display().to_string();
    match Source::parse(&text, &origin) {
        Err(d) => vec![Problem {
            severity: "error",
            at: format!("{}:{}", d.line, d.column),
            message: d.message,
            hint: d.hint,
        }],
        Ok(src) => crate::definition::validate::check(&src)
            .into_iter()
            .map(|d| Problem {
                severity: match d.severity {
                    Severity::Error => "error",
                    _ => "warning",
                },
                at: format!("{}:{}", d.line, d.column),
                message: d.message,
                hint: d.hint,
            })
            .collect(),
    }
}

/// `GET /workflows`.
pub async fn page(State(app): State<Arc<App>>) -> Response {
    let shown = app.clone();
    let items = super::blocking(move || {
        templates::list(&shown.station)
            .iter()
            .map(|t| {
                let warnings = problems(t)
                    .iter()
                    .filter(|p| p.severity == "warning")
                    .count();
                item(&shown, t, warnings)
            })
            .collect::<Vec<_>>()
    })
    .await;
    app.render(
        "workflows.html",
        "workflows",
        serde_json::json!({ "items": items }),
    )
}

/// `GET /workflows/NAME`: by workflow name or file stem, as `3ox template show`.
pub async fn detail(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    let shown = app.clone();
    let detail = super::blocking(move || {
        let t = templates::list(&shown.station)
            .into_iter()
            .find(|t| t.stem == name)
            .or_else(|| templates::find(&shown.station, &name))?;
        let problems = problems(&t);
        let warnings = problems.iter().filter(|p| p.severity == "warning").count();
        let (diagram, diagram_note) = match &t.def {
            Ok(def) => match super::run::diagram_size(&def.tasks) {
                n if n > MAX_DIAGRAM_NODES => (
                    None,
                    Some(format!(
                        "The diagram has {n} nodes, more than the {MAX_DIAGRAM_NODES} drawn here."
                    )),
                ),
                _ => (
                    Some(super::run::diagram_svg(crate::graph::build(def))),
                    None,
                ),
            },
            Err(_) => (None, Some("It does not load, so it has no diagram.".into())),
        };
        Some(Detail {
            item: item(&shown, &t, warnings),
            problems,
            diagram,
            diagram_note,
        })
    })
    .await;
    match detail {
        Some(detail) => app.render("workflow.html", "workflows", detail),
        None => app.message(
            StatusCode::NOT_FOUND,
            "No such workflow",
            "The station has no template by that name.",
        ),
    }
}
