//! The vocabulary's bytes, pinned.

use super::*;

fn snapshot(json: serde_json::Value) -> Snapshot {
    Snapshot::of(&json).unwrap_or_else(|e| panic!("{e}"))
}

/// One of every kind (both flavours where a kind has two), and its
/// payload text exactly as the `json!` literals of the release before
/// the vocabulary wrote it: the chain's hashes cover these bytes.
fn every_kind() -> Vec<(EventKind, &'static str)> {
    let subscription = NativeSubscription {
        id: 1,
        url: "https://h.example/x".to_owned(),
        events: vec!["version.*".to_owned()],
        model: None,
        enabled: true,
    };
    let mlflow = MlflowSubscription {
        id: 2,
        mlflow_webhook_id: Some("wh-1".to_owned()),
        name: Some("hook".to_owned()),
        url: "https://h.example/y".to_owned(),
        events: vec!["model_version.created".to_owned()],
        enabled: false,
    };
    vec![
        (
            EventKind::ModelCreated {
                registered_model: snapshot(serde_json::json!({"name": "m", "tags": {}})),
            },
            r#"{"registered_model":{"name":"m","tags":{}}}"#,
        ),
        (
            EventKind::ModelRenamed {
                from: "m".to_owned(),
                to: "n".to_owned(),
            },
            r#"{"from":"m","to":"n"}"#,
        ),
        (
            EventKind::ModelUpdated { description: None },
            r#"{"description":null}"#,
        ),
        (
            EventKind::ModelDeleted {
                deleted_versions: 2,
                deleted_requests: vec![DeletedRequest {
                    id: 3,
                    version: 1,
                    status: RequestStatus::Pending,
                }],
            },
            r#"{"deleted_versions":2,"deleted_requests":[{"id":3,"version":1,"status":"pending"}]}"#,
        ),
        (
            EventKind::ModelTagSet {
                key: "k".to_owned(),
                value: "v".to_owned(),
            },
            r#"{"key":"k","value":"v"}"#,
        ),
        (
            EventKind::ModelTagDeleted {
                key: "k".to_owned(),
            },
            r#"{"key":"k"}"#,
        ),
        (
            EventKind::VersionCreated {
                model_version: snapshot(serde_json::json!({"version": "1", "source": "s3://b/1"})),
            },
            r#"{"model_version":{"version":"1","source":"s3://b/1"}}"#,
        ),
        (
            EventKind::VersionUpdated {
                description: Some("d".to_owned()),
            },
            r#"{"description":"d"}"#,
        ),
        (
            EventKind::VersionDeleted {
                stage: Stage::Staging,
                removed_aliases: vec!["champion".to_owned()],
            },
            r#"{"stage":"Staging","removed_aliases":["champion"]}"#,
        ),
        (
            EventKind::VersionTagSet {
                key: "k".to_owned(),
                value: "v".to_owned(),
            },
            r#"{"key":"k","value":"v"}"#,
        ),
        (
            EventKind::VersionTagDeleted {
                key: "k".to_owned(),
            },
            r#"{"key":"k"}"#,
        ),
        (
            EventKind::VersionStageChanged(StageChange::Move {
                from_stage: Stage::Staging,
                to_stage: Stage::Production,
                archive_existing_versions: true,
                comment: Some("go".to_owned()),
                request_id: Some(4),
            }),
            r#"{"from_stage":"Staging","to_stage":"Production","archive_existing_versions":true,"comment":"go","request_id":4}"#,
        ),
        (
            EventKind::VersionStageChanged(StageChange::System {
                from_stage: Stage::Production,
                to_stage: Stage::Archived,
                system: True,
                caused_by_version: 2,
            }),
            r#"{"from_stage":"Production","to_stage":"Archived","system":true,"caused_by_version":2}"#,
        ),
        (
            EventKind::AliasSet {
                alias: "champion".to_owned(),
                version: 2,
                previous_version: None,
                request_id: None,
            },
            r#"{"alias":"champion","version":2,"previous_version":null,"request_id":null}"#,
        ),
        (
            EventKind::AliasDeleted {
                alias: "champion".to_owned(),
                previous_version: 2,
            },
            r#"{"alias":"champion","previous_version":2}"#,
        ),
        (
            EventKind::RequestCreated {
                request: snapshot(serde_json::json!({"id": 5, "from_stage": "Staging"})),
            },
            r#"{"request":{"id":5,"from_stage":"Staging"}}"#,
        ),
        (
            EventKind::RequestApproved {
                id: 5,
                approvals: 1,
                required_approvals: 2,
                comment: None,
            },
            r#"{"id":5,"approvals":1,"required_approvals":2,"comment":null}"#,
        ),
        (
            EventKind::RequestRejected {
                id: 5,
                comment: Some("no".to_owned()),
            },
            r#"{"id":5,"comment":"no"}"#,
        ),
        (
            EventKind::RequestCancelled {
                id: 5,
                comment: None,
            },
            r#"{"id":5,"comment":null}"#,
        ),
        (
            EventKind::RequestStale {
                id: 5,
                from_stage: Stage::Staging,
                current_stage: Some(Stage::Archived),
            },
            r#"{"id":5,"from_stage":"Staging","current_stage":"Archived"}"#,
        ),
        (
            EventKind::UserCreated {
                username: "carol".to_owned(),
                role: Role::Contributor,
            },
            r#"{"username":"carol","role":"contributor"}"#,
        ),
        (
            EventKind::UserUpdated {
                username: "carol".to_owned(),
                role: Some(Role::Approver),
                disabled: None,
                password_changed: false,
                revoked_tokens: vec![7],
            },
            r#"{"username":"carol","role":"approver","disabled":null,"password_changed":false,"revoked_tokens":[7]}"#,
        ),
        (
            EventKind::UserDeleted {
                username: "carol".to_owned(),
                revoked_tokens: Vec::new(),
            },
            r#"{"username":"carol","revoked_tokens":[]}"#,
        ),
        (
            EventKind::TokenCreated {
                id: 7,
                name: "ci".to_owned(),
                username: "carol".to_owned(),
                expires_at: 1_700_000_000_000,
            },
            r#"{"id":7,"name":"ci","username":"carol","expires_at":1700000000000}"#,
        ),
        (
            EventKind::TokenRevoked {
                id: 7,
                name: "ci".to_owned(),
                username: "carol".to_owned(),
            },
            r#"{"id":7,"name":"ci","username":"carol"}"#,
        ),
        (
            EventKind::WebhookCreated(Subscription::Native(subscription.clone())),
            r#"{"id":1,"url":"https://h.example/x","events":["version.*"],"model":null,"enabled":true}"#,
        ),
        (
            EventKind::WebhookCreated(Subscription::Mlflow(mlflow.clone())),
            r#"{"id":2,"mlflow_webhook_id":"wh-1","name":"hook","url":"https://h.example/y","events":["model_version.created"],"enabled":false}"#,
        ),
        (
            EventKind::WebhookUpdated(SubscriptionUpdate::Native {
                subscription: subscription.clone(),
                secret_rotated: true,
            }),
            r#"{"id":1,"url":"https://h.example/x","events":["version.*"],"model":null,"enabled":true,"secret_rotated":true}"#,
        ),
        (
            EventKind::WebhookUpdated(SubscriptionUpdate::Mlflow {
                subscription: mlflow.clone(),
                secret_changed: false,
            }),
            r#"{"id":2,"mlflow_webhook_id":"wh-1","name":"hook","url":"https://h.example/y","events":["model_version.created"],"enabled":false,"secret_changed":false}"#,
        ),
        (
            EventKind::WebhookDeleted(Subscription::Native(subscription)),
            r#"{"id":1,"url":"https://h.example/x","events":["version.*"],"model":null,"enabled":true}"#,
        ),
        (
            EventKind::WebhookDeleted(Subscription::Mlflow(mlflow)),
            r#"{"id":2,"mlflow_webhook_id":"wh-1","name":"hook","url":"https://h.example/y","events":["model_version.created"],"enabled":false}"#,
        ),
    ]
}

#[test]
fn every_kind_encodes_byte_for_byte_as_before_and_decodes_back() {
    let cases = every_kind();
    let mut seen: Vec<&str> = cases.iter().map(|(kind, _)| kind.kind()).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut all = EventKind::KINDS.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all, "a kind without a pinned payload");
    for (kind, text) in cases {
        let encoded = kind.encode().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(encoded.payload, text, "{}", encoded.kind);
        let decoded = EventKind::decode(1, encoded.kind, text)
            .unwrap_or_else(|e| panic!("{}: {e}", encoded.kind));
        assert_eq!(decoded, kind, "{text}");
    }
}

#[test]
fn payloads_of_the_first_release_still_decode() {
    // key order as the first release wrote them (sorted), fields it
    // did not have yet absent
    let first = [
        ("model.deleted", r#"{"deleted_versions":1}"#),
        (
            "alias.set",
            r#"{"alias":"champion","previous_version":null,"version":1}"#,
        ),
        (
            "version.stage_changed",
            r#"{"archive_existing_versions":false,"comment":null,"from_stage":"None","to_stage":"Staging"}"#,
        ),
        ("request.stale", r#"{"from_stage":"Staging","id":3}"#),
        // as identity's first release wrote them
        (
            "user.updated",
            r#"{"username":"carol","role":"viewer","disabled":null,"password_changed":false}"#,
        ),
        ("user.deleted", r#"{"username":"carol"}"#),
    ];
    for (kind, payload) in first {
        let decoded = EventKind::decode(1, kind, payload);
        assert!(decoded.is_ok(), "{kind} {payload}: {decoded:?}");
    }
}

#[test]
fn an_unknown_kind_or_a_payload_of_another_shape_is_refused() {
    assert!(EventKind::decode(1, "model.exploded", "{}").is_err());
    assert!(EventKind::decode(1, "alias.set", r#"{"alias":"a"}"#).is_err());
    assert!(EventKind::decode(1, "version.stage_changed", r#"{"system":false}"#).is_err());
    assert!(EventKind::decode(1, "model.tag_set", "not json").is_err());
}

#[test]
fn the_api_docs_list_every_kind_in_the_payload_table() {
    let docs = include_str!("../../../docs/api.md");
    for kind in EventKind::KINDS {
        assert!(
            docs.contains(&format!("| `{kind}` |")),
            "docs/api.md has no payload row for {kind}"
        );
    }
}
