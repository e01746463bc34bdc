//! `modelgate promote`: move a version (or point an alias at it) directly
//! where the policy lets the caller, otherwise open a transition request.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::Common;
use super::http::{Client, ClientError};
use super::output::View;
use crate::domain::requests::TransitionRequest;
use crate::domain::types::percent_encode_segment as enc;
use crate::domain::versions::ModelVersion;

/// `modelgate promote MODEL VERSION --to STAGE|--alias ALIAS [--comment C] [--archive-existing]`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  modelgate promote fraud-detector 7 --to Production --archive-existing --comment 'CI run 42'\n  modelgate promote fraud-detector 7 --alias champion"
)]
pub struct Promote {
    /// Registered model name.
    model: String,
    /// Version number.
    version: String,
    /// Target stage: Staging, Production, Archived or None.
    #[arg(long, required_unless_present = "alias", conflicts_with = "alias")]
    to: Option<String>,
    /// Point this alias at the version instead (a guarded alias opens a request).
    #[arg(long)]
    alias: Option<String>,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    comment: Option<String>,
    /// Archive the versions now in the target stage.
    #[arg(long, conflicts_with = "alias")]
    archive_existing: bool,
    #[command(flatten)]
    common: Common,
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
        self.common
            .show_typed(&View::one("action"), |client| self.promote(client))
    }

    fn promote(&self, client: &Client) -> Result<Promotion, ClientError> {
        let path = format!(
            "/api/v1/models/{}/versions/{}",
            enc(&self.model),
            enc(&self.version)
        );
        let (direct, body) = match &self.alias {
            Some(alias) => {
                let version = self
                    .version
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| ClientError::Api {
                        status: 400,
                        code: "INVALID_PARAMETER_VALUE".to_owned(),
                        message: format!("version must be a number, got '{}'", self.version),
                    })?;
                let set = format!("/api/v1/models/{}/aliases/{}", enc(&self.model), enc(alias));
                match client.call("PUT", &set, Some(&json!({ "version": version }))) {
                    Ok(_) => {
                        let model_version = client.get(&path)?;
                        return Ok(Promotion::Moved { model_version });
                    }
                    Err(error) => (error, json!({"alias": alias, "comment": self.comment})),
                }
            }
            None => {
                let body = json!({
                    "stage": self.to,
                    "archive_existing_versions": self.archive_existing,
                    "comment": self.comment,
                });
                match client.post(&format!("{path}/stage"), &body) {
                    Ok(model_version) => return Ok(Promotion::Moved { model_version }),
                    Err(error) => (error, body),
                }
            }
        };
        match direct {
            ClientError::Api { code, .. } if code == "APPROVAL_REQUIRED" => {
                let request = client.post(&format!("{path}/transition-requests"), &body)?;
                Ok(Promotion::Requested { request })
            }
            other => Err(other),
        }
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
