//! The client side of the command line: `promote`, `gate` and `requests`,
//! talking to a modelgate server over HTTP(S) with a bearer token.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::domain::types::percent_encode_segment as enc;

/// What went wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `error_code` of the body.
        code: String,
        /// `message` of the body.
        message: String,
    },
    /// The server could not be reached or answered nonsense.
    #[error("{0}")]
    Transport(String),
}

/// A connection to one server with one token.
pub struct Client {
    base: String,
    authorization: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `url` (e.g. `https://modelgate.internal`) sending `token`.
    pub fn new(url: &str, token: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: url.trim_end_matches('/').to_owned(),
            authorization: format!("Bearer {token}"),
            agent,
        }
    }

    /// Sends a request; a 2xx answer's JSON is `Ok`, anything else `Err`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", &self.authorization);
        let request = match body {
            Some(body) => builder
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .map(|r| self.agent.run(r)),
            None => builder.body(()).map(|r| self.agent.run(r)),
        };
        let mut response = request
            .map_err(|e| ClientError::Transport(format!("bad request to {url}: {e}")))?
            .map_err(|e| ClientError::Transport(format!("cannot reach {url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Transport(format!("cannot read the answer of {url}: {e}")))?;
        let parsed: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|_| {
                ClientError::Transport(format!(
                    "{url} answered {status} with a body that is not JSON"
                ))
            })?
        };
        if (200..300).contains(&status) {
            return Ok(parsed);
        }
        Err(ClientError::Api {
            status,
            code: parsed["error_code"]
                .as_str()
                .unwrap_or("UNKNOWN")
                .to_owned(),
            message: parsed["message"]
                .as_str()
                .map_or_else(|| text.clone(), str::to_owned),
        })
    }
}

fn version_path(model: &str, version: &str) -> String {
    format!("/api/v1/models/{}/versions/{}", enc(model), enc(version))
}

/// Moves a version directly where the policy lets the caller, otherwise opens
/// a transition request. Answers `{"action": "moved", "model_version": …}` or
/// `{"action": "requested", "request": …}`.
pub fn promote(
    client: &Client,
    model: &str,
    version: &str,
    stage: &str,
    comment: Option<&str>,
    archive_existing: bool,
) -> Result<Value, ClientError> {
    let body = json!({
        "stage": stage,
        "archive_existing_versions": archive_existing,
        "comment": comment,
    });
    let path = version_path(model, version);
    match client.call("POST", &format!("{path}/stage"), Some(body.clone())) {
        Ok(moved) => Ok(json!({ "action": "moved", "model_version": moved })),
        Err(ClientError::Api { code, .. }) if code == "APPROVAL_REQUIRED" => {
            let request =
                client.call("POST", &format!("{path}/transition-requests"), Some(body))?;
            Ok(json!({ "action": "requested", "request": request }))
        }
        Err(other) => Err(other),
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
            GateOutcome::Failed(_) => 3,
        }
    }
}

/// Waits until the version is in `stage` or its request is decided, polling
/// with backoff (0.5 s growing to 5 s) for at most `wait`. `progress` gets a
/// line whenever what it is waiting for changes.
pub fn gate(
    client: &Client,
    model: &str,
    version: &str,
    stage: &str,
    wait: Duration,
    mut progress: impl FnMut(&str),
) -> GateOutcome {
    let started = Instant::now();
    // a wait too long to represent is as good as forever
    let deadline = started
        .checked_add(wait)
        .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 86_400));
    let mut pause = Duration::from_millis(500);
    let mut last_report = String::new();
    loop {
        let current = match client.call("GET", &version_path(model, version), None) {
            Ok(current) => current,
            Err(error) => return GateOutcome::Failed(error.to_string()),
        };
        let current_stage = current["current_stage"].as_str().unwrap_or_default();
        if current_stage.eq_ignore_ascii_case(stage) {
            progress(&format!("{model} version {version} is in {current_stage}"));
            return GateOutcome::Passed;
        }
        let query = format!(
            "/api/v1/transition-requests?model={}&version={}&stage={}&max_results=1",
            enc(model),
            enc(version),
            enc(stage)
        );
        let newest = match client.call("GET", &query, None) {
            Ok(page) => page["requests"].get(0).cloned(),
            Err(error) => return GateOutcome::Failed(error.to_string()),
        };
        let Some(request) = newest else {
            return GateOutcome::Denied(format!(
                "{model} version {version} is in {current_stage} and no request asks to move it to {stage}"
            ));
        };
        let id = request["id"].as_i64().unwrap_or_default();
        let status = request["status"].as_str().unwrap_or_default();
        if status != "pending" {
            let by = request["decided_by"].as_str().unwrap_or("nobody");
            return GateOutcome::Denied(match status {
                "applied" => format!(
                    "request {id} was applied, but {model} version {version} has since moved to {current_stage}"
                ),
                "stale" => {
                    format!("request {id} went stale: the version moved before it was decided")
                }
                other => format!("request {id} was {other} by {by}"),
            });
        }
        let approvals = request["approvals"].as_array().map_or(0, Vec::len);
        let required = request["required_approvals"].as_i64().unwrap_or(1);
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

/// Parses `90s`, `30m`, `2h`, `1h30m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration '{text}': use e.g. 90s, 30m, 2h or 1h30m");
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let amount: u64 = digits.parse().map_err(|_| bad())?;
        total = amount
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Lists requests, optionally by status and model.
pub fn list_requests(
    client: &Client,
    status: Option<&str>,
    model: Option<&str>,
) -> Result<Value, ClientError> {
    let mut query = vec!["max_results=1000".to_owned()];
    if let Some(status) = status {
        query.push(format!("status={}", enc(status)));
    }
    if let Some(model) = model {
        query.push(format!("model={}", enc(model)));
    }
    client.call(
        "GET",
        &format!("/api/v1/transition-requests?{}", query.join("&")),
        None,
    )
}

/// Approves, rejects or cancels a request.
pub fn decide(
    client: &Client,
    id: &str,
    action: &str,
    comment: Option<&str>,
) -> Result<Value, ClientError> {
    client.call(
        "POST",
        &format!("/api/v1/transition-requests/{}/{action}", enc(id)),
        Some(json!({ "comment": comment })),
    )
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
