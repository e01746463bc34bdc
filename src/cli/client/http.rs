//! The HTTP plumbing of the client commands: one server, one bearer token,
//! JSON in, the server's own response types out.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ErrorBody;

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

impl ClientError {
    /// The documented exit code: 1 when the server refused (a 4xx: not
    /// found, not allowed, bad input, a conflict), 3 for anything else (no
    /// or a bad token, an unreachable server, a server error).
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Api { status, .. } if *status != 401 && (400..500).contains(status) => 1,
            _ => super::FAILED,
        }
    }
}

/// A connection to one server with one token.
pub struct Client {
    base: String,
    authorization: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `url` (e.g. `https://modelgate.internal`) sending `token`.
    pub fn new(url: &str, token: &str) -> Self {
        let mut client = Self::anonymous(url);
        client.authorization = Some(format!("Bearer {token}"));
        client
    }

    /// A client that sends no token (to log in).
    pub fn anonymous(url: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: url.trim_end_matches('/').to_owned(),
            authorization: None,
            agent,
        }
    }

    /// The server's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Any method; the 2xx answer as JSON (`null` when it has no body).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.send(method, path, body)
    }

    /// `GET path`, its 2xx answer read as a `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send("GET", path, None)
    }

    /// `POST path` with a JSON body, its 2xx answer read as a `T`.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, ClientError> {
        self.send("POST", path, Some(body))
    }

    /// Sends a request; a 2xx answer is read as a `T`, anything else is an
    /// error, read from the server's [`ErrorBody`].
    fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(authorization) = &self.authorization {
            builder = builder.header("Authorization", authorization);
        }
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
        if !(200..300).contains(&status) {
            return Err(refusal(&url, status, &text));
        }
        let text = if text.trim().is_empty() {
            "null"
        } else {
            &text
        };
        serde_json::from_str(text).map_err(|e| {
            ClientError::Transport(if e.is_data() {
                format!("{url} answered {status} with JSON that is not the expected answer: {e}")
            } else {
                not_json(&url, status)
            })
        })
    }
}

fn not_json(url: &str, status: u16) -> String {
    format!("{url} answered {status} with a body that is not JSON")
}

/// The error a non-2xx answer stands for.
fn refusal(url: &str, status: u16, text: &str) -> ClientError {
    if text.trim().is_empty() {
        return foreign_refusal(status, text);
    }
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => ClientError::Api {
            status,
            code: body.error_code,
            message: body.message,
        },
        Err(e) if e.is_data() => foreign_refusal(status, text),
        // a proxy's HTML page: the status still says refused or failed
        Err(_) => ClientError::Api {
            status,
            code: "UNKNOWN".to_owned(),
            message: not_json(url, status),
        },
    }
}

/// An error answer that is not modelgate's (a proxy's, say): what it has of
/// the two fields, else `UNKNOWN` and the whole body.
fn foreign_refusal(status: u16, text: &str) -> ClientError {
    let body: Value = serde_json::from_str(text).unwrap_or_default();
    ClientError::Api {
        status,
        code: body["error_code"].as_str().unwrap_or("UNKNOWN").to_owned(),
        message: body["message"]
            .as_str()
            .map_or_else(|| text.to_owned(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, message: &str) -> ClientError {
        ClientError::Api {
            status: 404,
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn an_error_answer_is_read_from_the_servers_error_body() {
        let body = r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no model 'x'"}"#;
        assert_eq!(
            refusal("u", 404, body),
            api("RESOURCE_DOES_NOT_EXIST", "no model 'x'")
        );
    }

    #[test]
    fn an_error_answer_of_another_shape_keeps_what_it_can() {
        assert_eq!(refusal("u", 404, ""), api("UNKNOWN", ""));
        assert_eq!(
            refusal("u", 404, r#"{"message":"gone"}"#),
            api("UNKNOWN", "gone")
        );
        assert_eq!(
            refusal("u", 404, r#"{"error_code":"X"}"#),
            api("X", r#"{"error_code":"X"}"#)
        );
        assert_eq!(refusal("u", 404, "[1]"), api("UNKNOWN", "[1]"));
        let gateway = refusal("u", 502, "<html>bad gateway</html>");
        assert_eq!(
            gateway,
            ClientError::Api {
                status: 502,
                code: "UNKNOWN".to_owned(),
                message: "u answered 502 with a body that is not JSON".to_owned()
            }
        );
        assert_eq!(gateway.exit_code(), 3);
        // a proxy refusing with a page of its own is still a refusal
        assert_eq!(refusal("u", 403, "<html>no</html>").exit_code(), 1);
        assert_eq!(refusal("u", 401, "<html>login</html>").exit_code(), 3);
    }
}
