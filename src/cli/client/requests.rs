//! `modelgate requests …`: list, show and decide transition requests.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::View;
use super::{Common, limit_in_range, paged};
use crate::db::enums::{RequestStatus, Stage};
use crate::domain::requests::TransitionRequest;
use crate::domain::types::percent_encode_segment as enc;

const REQUEST: View = View::one("id");
const REQUESTS: View = View::list(
    "requests",
    &[
        ("ID", "id"),
        ("MODEL", "name"),
        ("VERSION", "version"),
        ("FROM", "from_stage"),
        ("TO", "to_stage"),
        ("ALIAS", "alias"),
        ("STATUS", "status"),
        ("BY", "requested_by"),
        ("APPROVED BY", "approvals"),
        ("CREATED", "creation_timestamp"),
    ],
    "id",
);

/// `modelgate requests list|show|approve|reject|cancel`.
#[derive(Debug, Subcommand)]
pub enum Requests {
    /// List requests, newest first.
    #[command(
        after_help = "Example:\n  modelgate requests list --status pending --model fraud-detector"
    )]
    List(List),
    /// Show one request: its approvals so far and the decision.
    #[command(after_help = "Example:\n  modelgate requests show 42")]
    Show(Show),
    /// Approve a request (approver or admin, not its requester).
    #[command(
        after_help = "Example:\n  modelgate requests approve 42 --comment 'offline eval +2.1% AUC'"
    )]
    Approve(Decide),
    /// Reject a request (approver or admin).
    #[command(
        after_help = "Example:\n  modelgate requests reject 42 --comment 'drift on the March cohort'"
    )]
    Reject(Decide),
    /// Cancel a request (its requester or an admin).
    #[command(after_help = "Example:\n  modelgate requests cancel 42")]
    Cancel(Decide),
}

impl Requests {
    /// Lists, shows or decides, and prints the server's answer.
    pub fn run(self) -> ExitCode {
        match self {
            Requests::List(list) => list.run(),
            Requests::Show(show) => show.run(),
            Requests::Approve(decide) => decide.run("approve"),
            Requests::Reject(decide) => decide.run("reject"),
            Requests::Cancel(decide) => decide.run("cancel"),
        }
    }
}

/// `modelgate requests list [--status S] [--model M] [--version V] [--stage S]`.
#[derive(Debug, Args)]
pub struct List {
    /// pending, applied, rejected, cancelled or stale.
    #[arg(long)]
    status: Option<RequestStatus>,
    /// Only requests for this model.
    #[arg(long)]
    model: Option<String>,
    /// Only requests for this version (with --model).
    #[arg(long, requires = "model")]
    version: Option<u64>,
    /// Only requests into this stage.
    #[arg(long)]
    stage: Option<Stage>,
    /// The most requests to print.
    #[arg(long, default_value = "1000", value_parser = limit_in_range)]
    limit: usize,
    #[command(flatten)]
    common: Common,
}

impl List {
    /// Prints requests, newest first, optionally by status, model, version and stage.
    pub fn run(self) -> ExitCode {
        let mut query = Vec::new();
        if let Some(status) = self.status {
            query.push(format!("status={status}"));
        }
        if let Some(model) = &self.model {
            query.push(format!("model={}", enc(model)));
        }
        if let Some(version) = self.version {
            query.push(format!("version={version}"));
        }
        if let Some(stage) = self.stage {
            query.push(format!("stage={stage}"));
        }
        let path = format!("/api/v1/transition-requests?{}", query.join("&"));
        let limit = self.limit;
        self.common
            .show(&REQUESTS, |client| paged(client, &path, "requests", limit))
    }
}

/// `modelgate requests show ID`.
#[derive(Debug, Args)]
pub struct Show {
    /// Request id.
    id: String,
    #[command(flatten)]
    common: Common,
}

impl Show {
    /// Prints the request.
    pub fn run(self) -> ExitCode {
        let path = format!("/api/v1/transition-requests/{}", enc(&self.id));
        self.common
            .show_typed(&REQUEST, |client| client.get::<TransitionRequest>(&path))
    }
}

/// `modelgate requests approve|reject|cancel ID [--comment C]`.
#[derive(Debug, Args)]
pub struct Decide {
    /// Request id.
    id: String,
    /// Why.
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    common: Common,
}

impl Decide {
    /// Posts the decision (`approve`, `reject` or `cancel`) and prints the request.
    fn run(self, decision: &str) -> ExitCode {
        let path = format!("/api/v1/transition-requests/{}/{decision}", enc(&self.id));
        let body = json!({ "comment": self.comment });
        self.common.show_typed(&REQUEST, |client| {
            client.post::<TransitionRequest>(&path, &body)
        })
    }
}
