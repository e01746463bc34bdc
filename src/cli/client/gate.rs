//! `modelgate gate`: the gate a pipeline waits at, with exit codes 0 (the
//! version is in the stage), 1 (denied), 2 (still pending) and 3 (any other
//! error). Progress goes to stderr.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use super::ServerArgs;
use super::http::Client;
use crate::api::transition_requests::ListRequestsResponse;
use crate::db::enums::{RequestStatus, Stage};
pub use crate::domain::types::parse_duration;
use crate::domain::types::percent_encode_segment as enc;
use crate::domain::versions::ModelVersion;

/// `modelgate gate MODEL VERSION --stage STAGE [--wait DURATION]`.
#[derive(Debug, Args)]
pub struct Gate {
    /// Registered model name.
    model: String,
    /// Version number.
    version: String,
    /// The stage to wait for.
    #[arg(long)]
    stage: Stage,
    /// How long to wait for a pending request: 90s, 30m, 2h, 1h30m (default: do not wait).
    #[arg(long, value_parser = parse_duration)]
    wait: Option<Duration>,
    #[command(flatten)]
    server: ServerArgs,
}

impl Gate {
    /// Waits, says why it stopped on stderr, and exits with the outcome's code.
    pub fn run(self) -> ExitCode {
        let client = match self.server.connect() {
            Ok(client) => client,
            Err(code) => return code,
        };
        let outcome = self.poll(&client, |line| eprintln!("modelgate gate: {line}"));
        match &outcome {
            GateOutcome::Passed => {}
            GateOutcome::Denied(why) => eprintln!("modelgate gate: denied: {why}"),
            GateOutcome::Pending(why) => eprintln!("modelgate gate: still pending: {why}"),
            GateOutcome::Failed(why) => eprintln!("modelgate gate: error: {why}"),
        }
        ExitCode::from(outcome.exit_code())
    }

    /// Waits until the version is in the stage or its request is decided,
    /// polling with backoff (0.5 s growing to 5 s) for at most `--wait`.
    /// `progress` gets a line whenever what it is waiting for changes.
    fn poll(&self, client: &Client, mut progress: impl FnMut(&str)) -> GateOutcome {
        let Gate {
            model,
            version,
            stage,
            ..
        } = self;
        let stage = stage.as_str();
        let started = Instant::now();
        // a wait too long to represent is as good as forever
        let deadline = started
            .checked_add(self.wait.unwrap_or_default())
            .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 86_400));
        let mut pause = Duration::from_millis(500);
        let mut last_report = String::new();
        let version_path = format!("/api/v1/models/{}/versions/{}", enc(model), enc(version));
        let newest_request = format!(
            "/api/v1/transition-requests?model={}&version={}&stage={}&max_results=1",
            enc(model),
            enc(version),
            enc(stage)
        );
        loop {
            let current_stage = match client.get::<ModelVersion>(&version_path) {
                Ok(current) => current.current_stage,
                Err(error) => return GateOutcome::Failed(error.to_string()),
            };
            if current_stage.as_str().eq_ignore_ascii_case(stage) {
                progress(&format!("{model} version {version} is in {current_stage}"));
                return GateOutcome::Passed;
            }
            let newest = match client.get::<ListRequestsResponse>(&newest_request) {
                Ok(page) => page.requests.into_iter().next(),
                Err(error) => return GateOutcome::Failed(error.to_string()),
            };
            let Some(request) = newest else {
                return GateOutcome::Denied(format!(
                    "{model} version {version} is in {current_stage} and no request asks to move it to {stage}"
                ));
            };
            let id = request.id;
            if request.status != RequestStatus::Pending {
                let by = request.decided_by.as_deref().unwrap_or("nobody");
                return GateOutcome::Denied(match request.status {
                    RequestStatus::Applied => format!(
                        "request {id} was applied, but {model} version {version} has since moved to {current_stage}"
                    ),
                    RequestStatus::Stale => {
                        format!("request {id} went stale: the version moved before it was decided")
                    }
                    other => format!("request {id} was {other} by {by}"),
                });
            }
            let approvals = request.approvals.len();
            let required = request.required_approvals;
            let report = format!(
                "waiting for request {id} to move {model} version {version} to {stage}: {approvals}/{required} approvals"
            );
            if report != last_report {
                progress(&report);
                last_report = report;
            }
            let now = Instant::now();
            if now >= deadline {
                return GateOutcome::Pending(format!(
                    "request {id} is still pending ({approvals}/{required} approvals)"
                ));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause.mul_f32(1.5)).min(Duration::from_secs(5));
        }
    }
}

/// How a gate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateOutcome {
    /// The version is in the stage (exit 0).
    Passed,
    /// Not there and nothing pending, or the request was rejected, cancelled
    /// or went stale (exit 1).
    Denied(String),
    /// A request is still pending and the wait ran out (exit 2).
    Pending(String),
    /// Anything else: authentication, network, no such model (exit 3).
    Failed(String),
}

impl GateOutcome {
    /// The process exit code of `modelgate gate`.
    pub fn exit_code(&self) -> u8 {
        match self {
            GateOutcome::Passed => 0,
            GateOutcome::Denied(_) => 1,
            GateOutcome::Pending(_) => 2,
            GateOutcome::Failed(_) => super::FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "m", "10x", "1h30", "-5s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn gate_exit_codes_are_the_documented_ones() {
        assert_eq!(GateOutcome::Passed.exit_code(), 0);
        assert_eq!(GateOutcome::Denied(String::new()).exit_code(), 1);
        assert_eq!(GateOutcome::Pending(String::new()).exit_code(), 2);
        assert_eq!(GateOutcome::Failed(String::new()).exit_code(), 3);
    }
}
