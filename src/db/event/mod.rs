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
        /// Absent before tokens were revoked with a disable.
        #[serde(default)]
        revoked_tokens: Vec<i64>,
    },
    /// A user was deleted, and the pipeline tokens revoked with them.
    UserDeleted = "user.deleted" {
        username: String,
        /// Absent before tokens were revoked with their user.
        #[serde(default)]
        revoked_tokens: Vec<i64>,
    },
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
mod tests;
