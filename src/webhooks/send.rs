//! Sending: an HTTP agent that connects only to checked addresses, and one
//! attempt at a delivery.

use std::time::Instant;

use super::Delivery;
use crate::domain::webhooks::{Attempt, is_public};

/// At most this much of a receiver's answer is kept.
const KEEP_BYTES: usize = 1024;

/// Resolves names like the default resolver, then drops every address that
/// is not public (unless private networks are allowed): the connection can
/// only go to an address checked here, so a name that resolves elsewhere on
/// a second lookup (DNS rebinding) gains nothing.
#[derive(Debug)]
struct CheckedResolver {
    allow_private_networks: bool,
}

impl ureq::unversioned::resolver::Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let resolved = ureq::unversioned::resolver::DefaultResolver::default()
            .resolve(uri, config, timeout)?;
        let mut allowed = self.empty();
        for address in resolved.iter().copied() {
            if self.allow_private_networks || is_public(address.ip()) {
                allowed.push(address);
            }
        }
        if allowed.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves only to loopback, private, link-local or metadata addresses \
                     (webhooks.allow_private_networks is false)",
                    uri.host().unwrap_or_default()
                ),
            )));
        }
        Ok(allowed)
    }
}

/// An HTTP agent for receivers: the checked resolver, no redirects, no
/// proxy from the environment, the attempt's time bound.
pub fn agent(delivery: &Delivery) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(delivery.timeout))
        .user_agent("modelgate-webhooks")
        .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        CheckedResolver {
            allow_private_networks: delivery.rules.allow_private_networks,
        },
    )
}

/// Sends one POST of `body` with `headers` (and `content-type:
/// application/json`); never fails (what happened is in the attempt).
pub fn send(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> (Attempt, String) {
    let started = Instant::now();
    let mut request = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request.body(body.to_vec());
    let outcome = match request {
        Ok(request) => agent.run(request),
        Err(error) => {
            let attempt = Attempt::failed(format!("cannot build the request: {error}"));
            return (attempt, String::new());
        }
    };
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match outcome {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let mut kept = Vec::new();
            let _ = std::io::Read::read_to_end(
                &mut std::io::Read::take(response.body_mut().as_reader(), KEEP_BYTES as u64),
                &mut kept,
            );
            let text = String::from_utf8_lossy(&kept).into_owned();
            let error = (!(200..300).contains(&status))
                .then(|| format!("the receiver answered {status}: {text}"));
            (
                Attempt {
                    status: Some(status),
                    error,
                    latency_ms,
                    retry_after,
                },
                text,
            )
        }
        Err(error) => (
            Attempt {
                status: None,
                error: Some(format!("no answer: {error}")),
                latency_ms,
                retry_after: None,
            },
            String::new(),
        ),
    }
}
