//! The approvals page (`/approvals`): every open approval request of the station's running
//! runs (what waits for whom, since when, until when, and what is asked), with approve and
//! reject forms. A decision goes through [`crate::cli::approve::write_decision`], exactly the
//! checks and the approval file of `3ox approve` / `3ox reject`, recorded as made by
//! `web:<user>`; signed with `3ox serve --key` when `station.yaml` wants signatures.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::{App, pretty, when};
use crate::cli::approve::{Choice, write_decision};
use crate::mailbox::approval::Decision;

#[derive(Debug, Serialize)]
struct Waiting {
    run_id: String,
    workflow: String,
    task_ref: String,
    approver: String,
    escalated_from: Option<String>,
    question: Option<String>,
    input: String,
    requested: String,
    deadline: Option<String>,
    request_file: String,
}

#[derive(Debug, Serialize)]
struct Page {
    waiting: Vec<Waiting>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub done: Option<String>,
}

/// `GET /approvals`.
pub async fn page(
    State(app): State<Arc<App>>,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    let shown = app.clone();
    let page = super::blocking(move || {
        let (waiting, error) = match crate::query::approvals(&shown.station, None) {
            Ok(all) => (all, None),
            Err(e) => (Vec::new(), Some(format!("{e} ({})", e.hint()))),
        };
        Page {
            waiting: waiting
                .into_iter()
                .map(|w| Waiting {
                    question: w
                        .input
                        .get("question")
                        .and_then(|q| q.as_str())
                        .map(str::to_owned),
                    input: pretty(&w.input),
                    requested: when(w.requested_at),
                    deadline: w.deadline.map(when),
                    run_id: w.run_id,
                    workflow: w.workflow,
                    task_ref: w.task_ref,
                    approver: w.approver,
                    escalated_from: w.escalated_from,
                    request_file: w.request_file,
                })
                .collect(),
            error,
            done: q.done,
        }
    })
    .await;
    app.render("approvals.html", "approvals", page)
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub reason: String,
}

/// `POST /approvals/RUN/TASK/approve` and `.../reject`.
pub async fn decide(
    State(app): State<Arc<App>>,
    Path((run, task, decision)): Path<(String, String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let decision = match decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => {
            return app.message(
                StatusCode::NOT_FOUND,
                "No such decision",
                "Approve or reject.",
            );
        }
    };
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    if decision == Decision::Reject && reason.is_none() {
        return app.message(
            StatusCode::BAD_REQUEST,
            "Not rejected",
            "A rejection must say why: fill in the reason.",
        );
    }
    let comment = Some(form.comment.trim().to_string()).filter(|c| !c.is_empty());
    let worker = app.clone();
    let written = super::blocking(move || {
        let choice = Choice {
            decision,
            by: Some(worker.who()),
            comment,
            reason,
            key: worker.key.clone(),
        };
        write_decision(&worker.station, &run, &task, choice).map(|r| r.map(|w| (w, task)))
    })
    .await;
    match written {
        Ok(Ok((written, task))) => {
            let said = format!(
                "{} task {task} of run {}: wrote {}",
                match decision {
                    Decision::Approve => "approved",
                    Decision::Reject => "rejected",
                },
                written.run_id,
                app.station.relative(&written.file)
            );
            let to = format!(
                "/approvals?{}",
                serde_urlencoded::to_string([("done", said.as_str())]).unwrap_or_default()
            );
            Redirect::to(&to).into_response()
        }
        Ok(Err(refused)) => app.message(StatusCode::CONFLICT, "Not decided", &refused),
        Err(error) => app.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Not decided",
            &format!("{error:#}"),
        ),
    }
}
