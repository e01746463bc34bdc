//! The audit page (the event feed by model, type and time, and the state of
//! the chain) and the policy page (the rules and the stage graph).

use actix_web::{HttpRequest, web};
use serde::Deserialize;

use super::views::{self, AuditPage, EventItem, PolicyPage, RuleItem};
use super::{PREFIX, UiResult, graph, html};
use crate::domain::access::Op;
use crate::domain::events::{self, EventQuery};
use crate::domain::history::parse_instant;
use crate::domain::types::{ModelName, percent_encode_segment as enc};
use crate::error::{Error, Result};
use crate::web::AppState;

/// Events per page.
const PAGE: i64 = 100;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(audit_page))
        .route("/policy", web::get().to(policy_page));
}

/// The audit page's filters, as typed.
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    model: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page_token: Option<String>,
    verify: Option<String>,
}

/// An instant as a form gives it: RFC 3339, milliseconds, or the
/// `datetime-local` form `2026-12-03T07:55` (read as UTC).
fn instant(text: &str) -> Result<i64> {
    parse_instant(text).or_else(|error| {
        let minutes = text.len() == 16 && text.as_bytes().get(10) == Some(&b'T');
        if minutes {
            parse_instant(&format!("{text}:00Z"))
        } else {
            Err(error)
        }
    })
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

async fn audit_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<AuditQuery>,
) -> UiResult {
    let query = query.into_inner();
    let filters = (
        given(&query.model).map(str::to_owned),
        given(&query.event_type).map(str::to_owned),
        given(&query.since).map(str::to_owned),
        given(&query.until).map(str::to_owned),
        given(&query.page_token).map(str::to_owned),
    );
    let verify = query.verify.is_some();
    let (viewer, (page, head, checkpoint, verdict)) = state
        .page(&req, Op::Read, move |conn, viewer| {
            let (model, event_type, since, until, page_token) = filters;
            if event_type
                .as_deref()
                .is_some_and(|t| t.len() > 100 || t.chars().any(char::is_control))
            {
                return Err(Error::invalid(
                    "type must be an event type such as version.stage_changed",
                ));
            }
            let search = EventQuery {
                model: model
                    .map(|name| ModelName::parse(name).map(|n| n.as_str().to_owned()))
                    .transpose()?,
                event_type,
                since: since.as_deref().map(instant).transpose()?,
                until: until.as_deref().map(instant).transpose()?,
                max_results: PAGE,
                page_token,
                include_identity: viewer.may(Op::ReadIdentity),
                ..EventQuery::default()
            };
            let page = events::list(conn, search)?;
            let head = crate::db::chain::head(conn)?;
            let checkpoint = crate::domain::audit::latest(conn)?;
            // walking the whole chain is an admin's request
            let verdict = if verify && viewer.may(Op::VerifyChain) {
                Some(events::verify_chain(conn)?)
            } else {
                None
            };
            Ok((page, head, checkpoint, verdict))
        })
        .await?;
    let keep =
        |name: &str, value: &Option<String>| given(value).map(|v| format!("{name}={}&", enc(v)));
    let filters: String = [
        keep("model", &query.model),
        keep("type", &query.event_type),
        keep("since", &query.since),
        keep("until", &query.until),
    ]
    .into_iter()
    .flatten()
    .collect();
    let next = page
        .next_page_token
        .map(|token| format!("{PREFIX}/audit?{filters}page_token={}", enc(&token)));
    let (head_id, head_hash) = head;
    html(&AuditPage {
        can_verify: viewer.may(Op::VerifyChain),
        viewer,
        nav: "audit",
        model: query.model.unwrap_or_default(),
        event_type: query.event_type.unwrap_or_default(),
        since: query.since.unwrap_or_default(),
        until: query.until.unwrap_or_default(),
        events: page.items.into_iter().map(EventItem::from).collect(),
        next,
        head_id,
        head_hash,
        checkpoint: checkpoint.map(|c| (c.event_id, views::when(c.created_at))),
        verdict: verdict.map(|v| match v {
            Ok(events) => (
                true,
                format!("All {events} events link up: the chain is intact."),
            ),
            Err(broken) => (false, broken),
        }),
    })
}

async fn policy_page(state: web::Data<AppState>, req: HttpRequest) -> UiResult {
    let (viewer, ()) = state.page(&req, Op::Read, |_, _| Ok(())).await?;
    let policy = &state.policy;
    html(&PolicyPage {
        viewer,
        nav: "policy",
        rules: policy
            .rules()
            .map(|rule| RuleItem {
                from: rule.from.into(),
                to: rule.to.into(),
                direct: rule.direct.to_string(),
                approvals: rule.approvals,
                gate: policy
                    .guard(rule.to)
                    .is_some_and(|guard| guard.is_gate(rule.from)),
            })
            .collect(),
        guards: policy
            .guards()
            .map(|guard| (guard.stage.as_str().to_owned(), guard.describe()))
            .collect(),
        alias_rules: policy
            .alias_rules()
            .map(|rule| {
                (
                    rule.alias.clone(),
                    rule.direct.to_string(),
                    rule.approvals,
                    rule.stage
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })
            .collect(),
        graph: graph::stage_graph(policy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_instants_are_read_as_utc() {
        assert_eq!(instant("2026-12-03T07:55").ok(), Some(1_796_284_500_000));
        assert_eq!(
            instant("2026-12-03T07:55:00Z").ok(),
            Some(1_796_284_500_000)
        );
        assert_eq!(instant("1796284500000").ok(), Some(1_796_284_500_000));
        assert!(instant("yesterday").is_err());
        assert!(instant("2026-12-03X07:55").is_err());
    }
}
