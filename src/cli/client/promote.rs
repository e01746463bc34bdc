//! `modelgate promote`: move a version directly where the policy lets the
//! caller, otherwise open a transition request.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::ServerArgs;
use super::http::{Client, ClientError};
use crate::domain::requests::TransitionRequest;
use crate::domain::types::percent_encode_segment as enc;
use crate::domain::versions::ModelVersion;

/// `modelgate promote MODEL VERSION --to STAGE [--comment C] [--archive-existing]`.
#[derive(Debug, Args)]
pub struct Promote {
    /// Registered model name.
    model: String,
    /// Version number.
    version: String,
    /// Target stage: Staging, Production, Archived or None.
    #[arg(long)]
    to: String,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    comment: Option<String>,
    /// Archive the versions now in the target stage.
    #[arg(long)]
    archive_existing: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// What `promote` did, printed as `{"action": "moved", "model_version": …}`
/// or `{"action": "requested", "request": …}`.
#[derive(Debug, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Promotion {
    /// The caller may move it: it moved.
    Moved {
        /// The version, in its new stage.
        model_version: ModelVersion,
    },
    /// The move needs approval: a request was opened.
    Requested {
        /// The pending request.
        request: TransitionRequest,
    },
}

impl Promote {
    /// Moves or requests, and prints what happened.
    pub fn run(self) -> ExitCode {
        self.server.answer(|client| {
            promote(
                client,
                &self.model,
                &self.version,
                &self.to,
                self.comment.as_deref(),
                self.archive_existing,
            )
        })
    }
}

fn promote(
    client: &Client,
    model: &str,
    version: &str,
    stage: &str,
    comment: Option<&str>,
    archive_existing: bool,
) -> Result<Promotion, ClientError> {
    let body = json!({
        "stage": stage,
        "archive_existing_versions": archive_existing,
        "comment": comment,
    });
    let path = format!("/api/v1/models/{}/versions/{}", enc(model), enc(version));
    match client.post(&format!("{path}/stage"), &body) {
        Ok(model_version) => Ok(Promotion::Moved { model_version }),
        Err(ClientError::Api { code, .. }) if code == "APPROVAL_REQUIRED" => {
            let request = client.post(&format!("{path}/transition-requests"), &body)?;
            Ok(Promotion::Requested { request })
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::enums::RequestStatus;
    use crate::db::enums::Stage;

    #[test]
    fn a_promotion_prints_the_action_first_then_the_servers_answer() {
        let request = TransitionRequest {
            id: 7,
            name: "churn".to_owned(),
            version: 3,
            from_stage: Stage::Staging,
            to_stage: Stage::Production,
            alias: None,
            archive_existing_versions: true,
            status: RequestStatus::Pending,
            requested_by: "ci-bot".to_owned(),
            comment: Some("CI run 42".to_owned()),
            required_approvals: 1,
            approvals: Vec::new(),
            decided_by: None,
            decision_comment: None,
            creation_timestamp: 1,
            last_updated_timestamp: 2,
        };
        let server_json = serde_json::to_string(&request).unwrap_or_default();
        let read: TransitionRequest =
            serde_json::from_str(&server_json).unwrap_or_else(|e| panic!("{e}: {server_json}"));
        assert_eq!(read, request);
        let printed =
            serde_json::to_string(&Promotion::Requested { request: read }).unwrap_or_default();
        assert_eq!(
            printed,
            format!(r#"{{"action":"requested","request":{server_json}}}"#)
        );
    }
}
