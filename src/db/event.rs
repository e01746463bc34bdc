//! The event vocabulary: every kind of event the chain holds, with its
//! fields. A write emits one of these ([`super::tx::WriteTx::emit`]); every
//! reader of the chain (the history index, the audit's replay, the webhook
//! deliveries) parses a stored event back into one and `match`es it with no
//! wildcard arm, so a kind a reader forgets does not compile.
//!
//! The chain's hash covers each event's payload text, and consumers read
//! it, so the JSON of a kind never changes shape: fields serialize in the
//! order they are declared here (serde_json keeps insertion order), `None`
//! as `null`. Fields added after the first release are optional when read,
//! so every event ever appended still parses.
//!
//! Three kinds carry a whole object as it was made (a model, a version, a
//! request): a [`Snapshot`] of the domain's own type, of which each reader
//! parses only what it looks at.

use serde::de::DeserializeOwned;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::db::enums::{RequestStatus, Role, Stage};
use crate::db::rows::EventRow;
use crate::error::{Error, Result};

/// An object as it was when the event was emitted (a model, a version, a
/// request), in the shape the API answered then. Readers parse the part
/// they look at ([`Snapshot::read`]); older events may lack newer fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Snapshot(serde_json::Value);

impl Snapshot {
    /// The snapshot of `object`.
    pub fn of(object: &impl Serialize) -> Result<Self> {
        serde_json::to_value(object)
            .map(Snapshot)
            .map_err(|e| Error::internal_from("cannot encode an event's snapshot", e))
    }

    /// The part of it a reader looks at.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(&self.0).map_err(|e| Error::internal_from("an event's snapshot", e))
    }

    /// The snapshot as JSON.
    pub fn json(&self) -> &serde_json::Value {
        &self.0
    }
}

/// The constant `true` (a system move's `system` field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct True;

impl Serialize for True {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_bool(true)
    }
}

impl<'de> Deserialize<'de> for True {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        if bool::deserialize(deserializer)? {
            Ok(True)
        } else {
            Err(de::Error::custom("expected true"))
        }
    }
}

/// How a version changed stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StageChange {
    /// Archived by the server because another version entered its stage
    /// with `archive_existing_versions`.
    System {
        /// The stage it left.
        from_stage: Stage,
        /// Always Archived.
        to_stage: Stage,
        /// Always true.
        system: True,
        /// The version whose move archived it.
        caused_by_version: i64,
    },
    /// Moved by a caller, directly or through an approved request.
    Move {
        /// The stage it left.
        from_stage: Stage,
        /// The stage it entered.
        to_stage: Stage,
        /// Whether the other versions in `to_stage` were archived.
        archive_existing_versions: bool,
        /// The mover's comment.
        comment: Option<String>,
        /// The request it applied, if any (absent in the first release).
        request_id: Option<i64>,
    },
}

impl StageChange {
    /// (from, to).
    pub fn stages(&self) -> (Stage, Stage) {
        match self {
            StageChange::System {
                from_stage,
                to_stage,
                ..
            }
            | StageChange::Move {
                from_stage,
                to_stage,
                ..
            } => (*from_stage, *to_stage),
        }
    }
}

/// A request that went away with its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedRequest {
    /// The request.
    pub id: i64,
    /// Its version.
    pub version: i64,
    /// Where it stood.
    pub status: RequestStatus,
}

/// A subscription made through the native API, as its events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NativeSubscription {
    /// The subscription.
    pub id: i64,
    /// Where it delivers.
    pub url: String,
    /// The event patterns it subscribes to.
    pub events: Vec<String>,
    /// The one model it is limited to.
    pub model: Option<String>,
    /// Whether it delivers.
    pub enabled: bool,
}

/// A subscription made through MLflow's API, as its events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlflowSubscription {
    /// The subscription.
    pub id: i64,
    /// Its MLflow id (present, so the two flavours never read as each other).
    #[serde(deserialize_with = "Option::deserialize")]
    pub mlflow_webhook_id: Option<String>,
    /// Its MLflow name.
    pub name: Option<String>,
    /// Where it delivers.
    pub url: String,
    /// MLflow's event names it subscribes to.
    pub events: Vec<String>,
    /// Whether it delivers.
    pub enabled: bool,
}

/// A subscription, in either flavour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subscription {
    /// Made through MLflow's API.
    Mlflow(MlflowSubscription),
    /// Made through the native API.
    Native(NativeSubscription),
}

/// A subscription after an update, and whether its secret changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubscriptionUpdate {
    /// Made through MLflow's API.
    Mlflow {
        /// The subscription after the update.
        #[serde(flatten)]
        subscription: MlflowSubscription,
        /// Whether a new secret was given.
        secret_changed: bool,
    },
    /// Made through the native API.
    Native {
        /// The subscription after the update.
        #[serde(flatten)]
        subscription: NativeSubscription,
        /// Whether the secret was rotated.
        secret_rotated: bool,
    },
}

macro_rules! event_kinds {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $kind:literal $body:tt
    ),* $(,)?) => {
        /// Every kind of event, with its fields (the payload). The model
        /// and version an event concerns are columns of its own, given
        /// where it is emitted.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "event_type", content = "payload")]
        pub enum EventKind {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $kind)]
                $variant $body,
            )*
        }

        impl EventKind {
            /// Every kind's name, as stored in `events.event_type`.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The kind's name, as stored in `events.event_type`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $kind,)*
                }
            }
        }
    };
}

event_kinds! {
    /// A model was registered (the model as created).
    ModelCreated = "model.created" { registered_model: Snapshot },
    /// A model was renamed.
    ModelRenamed = "model.renamed" { from: String, to: String },
    /// A model's description was set (`None`: cleared).
    ModelUpdated = "model.updated" { description: Option<String> },
    /// A model was deleted with its versions and requests.
    ModelDeleted = "model.deleted" {
        deleted_versions: i64,
        /// Absent in the first release.
        #[serde(default)]
        deleted_requests: Vec<DeletedRequest>,
    },
    /// A model's tag was set.
    ModelTagSet = "model.tag_set" { key: String, value: String },
    /// A model's tag was removed.
    ModelTagDeleted = "model.tag_deleted" { key: String },
    /// A version was registered (the version as created).
    VersionCreated = "version.created" { model_version: Snapshot },
    /// A version's description was set (`None`: cleared).
    VersionUpdated = "version.updated" { description: Option<String> },
    /// A version was deleted, and the aliases that named it.
    VersionDeleted = "version.deleted" { stage: Stage, removed_aliases: Vec<String> },
    /// A version's tag was set.
    VersionTagSet = "version.tag_set" { key: String, value: String },
    /// A version's tag was removed.
    VersionTagDeleted = "version.tag_deleted" { key: String },
    /// A version changed stage.
    VersionStageChanged = "version.stage_changed" (StageChange),
    /// An alias was set (or moved) to a version.
    AliasSet = "alias.set" {
        alias: String,
        version: i64,
        previous_version: Option<i64>,
        /// The request it applied, if any (absent in the first release).
        request_id: Option<i64>,
    },
    /// An alias was removed.
    AliasDeleted = "alias.deleted" { alias: String, previous_version: i64 },
    /// A transition request was opened (the request as opened).
    RequestCreated = "request.created" { request: Snapshot },
    /// A request was approved (and applied once it had enough approvals).
    RequestApproved = "request.approved" {
        id: i64,
        approvals: i64,
        required_approvals: i64,
        comment: Option<String>,
    },
    /// A request was rejected.
    RequestRejected = "request.rejected" { id: i64, comment: Option<String> },
    /// A request was cancelled.
    RequestCancelled = "request.cancelled" { id: i64, comment: Option<String> },
    /// A request went stale: its version left the stage it was made from
    /// (`current_stage`: where it is now; `None`: deleted).
    RequestStale = "request.stale" {
        id: i64,
        from_stage: Stage,
        /// Absent from the stale events an approval found (before 0.3).
        current_stage: Option<Stage>,
    },
    /// A user was created.
    UserCreated = "user.created" { username: String, role: Role },
    /// A user was changed (`None`: left as it was).
    UserUpdated = "user.updated" {
        username: String,
        role: Option<Role>,
        disabled: Option<bool>,
        password_changed: bool,
        revoked_tokens: Vec<i64>,
    },
    /// A user was deleted, and the pipeline tokens revoked with them.
    UserDeleted = "user.deleted" { username: String, revoked_tokens: Vec<i64> },
    /// A pipeline token was issued.
    TokenCreated = "token.created" { id: i64, name: String, username: String, expires_at: i64 },
    /// A pipeline token was revoked.
    TokenRevoked = "token.revoked" { id: i64, name: String, username: String },
    /// A webhook subscription was created.
    WebhookCreated = "webhook.created" (Subscription),
    /// A webhook subscription was changed.
    WebhookUpdated = "webhook.updated" (SubscriptionUpdate),
    /// A webhook subscription was deleted.
    WebhookDeleted = "webhook.deleted" (Subscription),
}

/// An event's kind and payload text, as appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `events.event_type`.
    pub kind: &'static str,
    /// `events.payload`.
    pub payload: String,
}

impl EventKind {
    /// The payload text, byte for byte as the chain stores it.
    pub fn encode(&self) -> Result<Encoded> {
        let mut tagged = serde_json::to_value(self).map_err(|e| {
            Error::internal_from(format!("cannot encode a {} event", self.kind()), e)
        })?;
        Ok(Encoded {
            kind: self.kind(),
            payload: tagged["payload"].take().to_string(),
        })
    }
}

impl EventKind {
    /// Parses a stored event.
    pub fn of(row: &EventRow) -> Result<Self> {
        Self::decode(row.id, &row.event_type, &row.payload)
    }

    /// Parses an event's kind and payload text (`event_id` names it in the error).
    pub fn decode(event_id: i64, kind: &str, payload: &str) -> Result<Self> {
        let tagged = format!(
            "{{\"event_type\":{},\"payload\":{payload}}}",
            serde_json::Value::from(kind)
        );
        serde_json::from_str(&tagged).map_err(|e| {
            Error::internal_from(format!("event {event_id} ({kind}) does not parse"), e)
        })
    }
}

/// What an event is about: its `model_name` and `version` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// No model (users, tokens, subscriptions).
    Registry,
    /// A model.
    Model(&'a str),
    /// A version of a model.
    Version(&'a str, i64),
}

impl Subject<'_> {
    /// (model_name, version) as stored.
    pub fn columns(self) -> (Option<String>, Option<i64>) {
        match self {
            Subject::Registry => (None, None),
            Subject::Model(name) => (Some(name.to_owned()), None),
            Subject::Version(name, version) => (Some(name.to_owned()), Some(version)),
        }
    }
}

#[cfg(test)]
mod tests {
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
                    model_version: snapshot(
                        serde_json::json!({"version": "1", "source": "s3://b/1"}),
                    ),
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
}
