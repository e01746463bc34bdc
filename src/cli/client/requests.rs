//! `modelgate requests …`: list transition requests and decide them.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::ServerArgs;
use crate::api::transition_requests::ListRequestsResponse;
use crate::db::enums::RequestStatus;
use crate::domain::requests::TransitionRequest;
use crate::domain::types::percent_encode_segment as enc;

/// `modelgate requests list|approve|reject|cancel`.
#[derive(Debug, Subcommand)]
pub enum Requests {
    /// List requests, newest first.
    List(List),
    /// Approve a request (approver or admin, not its requester).
    Approve(Decide),
    /// Reject a request (approver or admin).
    Reject(Decide),
    /// Cancel a request (its requester or an admin).
    Cancel(Decide),
}

impl Requests {
    /// Lists or decides, and prints the server's answer.
    pub fn run(self) -> ExitCode {
        match self {
            Requests::List(list) => list.run(),
            Requests::Approve(decide) => decide.run("approve"),
            Requests::Reject(decide) => decide.run("reject"),
            Requests::Cancel(decide) => decide.run("cancel"),
        }
    }
}

/// `modelgate requests list [--status S] [--model M]`.
#[derive(Debug, Args)]
pub struct List {
    /// pending, applied, rejected, cancelled or stale.
    #[arg(long)]
    status: Option<RequestStatus>,
    /// Only requests for this model.
    #[arg(long)]
    model: Option<String>,
    #[command(flatten)]
    server: ServerArgs,
}

impl List {
    /// Prints up to 1000 requests, newest first, optionally by status and model.
    pub fn run(self) -> ExitCode {
        let mut query = vec!["max_results=1000".to_owned()];
        if let Some(status) = self.status {
            query.push(format!("status={status}"));
        }
        if let Some(model) = &self.model {
            query.push(format!("model={}", enc(model)));
        }
        let path = format!("/api/v1/transition-requests?{}", query.join("&"));
        self.server
            .answer(|client| client.get::<ListRequestsResponse>(&path))
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
    server: ServerArgs,
}

impl Decide {
    /// Posts the decision (`approve`, `reject` or `cancel`) and prints the request.
    fn run(self, decision: &str) -> ExitCode {
        let path = format!("/api/v1/transition-requests/{}/{decision}", enc(&self.id));
        let body = json!({ "comment": self.comment });
        self.server
            .answer(|client| client.post::<TransitionRequest>(&path, &body))
    }
}
