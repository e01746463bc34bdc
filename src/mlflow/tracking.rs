//! MLflow's tracking server, read for the logged models versions are
//! registered from (`mlflow.tracking_uri`): a version registered with a
//! `model_id` and no `run_id` takes the logged model's source run, and its
//! files' location, as MLflow's own server does from its tracking store.

use std::time::Duration;

use serde_json::Value;

use crate::domain::types::percent_encode_segment as enc;

/// How long modelgate waits for the tracking server.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What a logged model says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoggedModel {
    /// The run that logged it.
    pub source_run_id: Option<String>,
    /// Where its files are.
    pub artifact_uri: Option<String>,
}

/// A tracking server's REST API.
#[derive(Debug, Clone)]
pub struct Tracking {
    base: String,
    /// `base` without any `user:password@`, for messages and logs.
    shown: String,
    agent: ureq::Agent,
}

/// A URL without the credentials it may carry (`https://u:p@h` → `https://h`).
fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

impl Tracking {
    /// A client for the tracking server at `uri` (`http(s)://host[:port]`).
    pub fn new(uri: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .user_agent("modelgate")
            .build()
            .into();
        let base = uri.trim().trim_end_matches('/').to_owned();
        Tracking {
            shown: without_userinfo(&base),
            base,
            agent,
        }
    }

    /// `GET /api/2.0/mlflow/logged-models/{model_id}`; the error says why
    /// there is no answer.
    pub fn logged_model(&self, model_id: &str) -> Result<LoggedModel, String> {
        let path = format!("/api/2.0/mlflow/logged-models/{}", enc(model_id));
        // messages name the server without any credentials in its URL
        let url = format!("{}{path}", self.shown);
        let mut response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .call()
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("cannot read the answer of {url}: {e}"))?;
        if status != 200 {
            return Err(format!(
                "{url} answered {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        let body: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{url} answered JSON that is not a logged model: {e}"))?;
        let info = &body["model"]["info"];
        let text = |key: &str| {
            info[key]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(LoggedModel {
            source_run_id: text("source_run_id"),
            artifact_uri: text("artifact_uri"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_carry_the_tracking_servers_credentials() {
        assert_eq!(
            without_userinfo("https://u:secret@mlflow.internal:5000/x"),
            "https://mlflow.internal:5000/x"
        );
        assert_eq!(
            without_userinfo("http://127.0.0.1:5000"),
            "http://127.0.0.1:5000"
        );
        let tracking = Tracking::new("http://user:secret@127.0.0.1:9");
        let error = tracking.logged_model("m-1").err().unwrap_or_default();
        assert!(!error.contains("secret"), "{error}");
        assert!(
            error.contains("http://127.0.0.1:9/api/2.0/mlflow/logged-models/m-1"),
            "{error}"
        );
    }
}
