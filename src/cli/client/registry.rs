//! `modelgate models|versions|tags|aliases …`: the registry itself.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::output::View;
use super::{Common, delete, limit_in_range, paged};
use crate::db::enums::Stage;
use crate::domain::types::percent_encode_segment as enc;

const MODEL: View = View::one("name");
const MODELS: View = View::list(
    "models",
    &[
        ("NAME", "name"),
        ("LATEST", "latest_versions"),
        ("ALIASES", "aliases"),
        ("UPDATED", "last_updated_timestamp"),
        ("DESCRIPTION", "description"),
    ],
    "name",
);
const VERSION: View = View::one("version");
const VERSIONS: View = View::list(
    "versions",
    &[
        ("VERSION", "version"),
        ("STAGE", "current_stage"),
        ("ALIASES", "aliases"),
        ("SOURCE", "source"),
        ("CREATED BY", "created_by"),
        ("CREATED", "creation_timestamp"),
    ],
    "version",
);
const ACTIVITIES: View = View::list(
    "activities",
    &[
        ("WHEN", "creation_timestamp"),
        ("ACTIVITY", "activity_type"),
        ("FROM", "from_stage"),
        ("TO", "to_stage"),
        ("USER", "user"),
        ("COMMENT", "comment"),
    ],
    "activity_type",
);

/// A `KEY=VALUE` tag of `--tag`.
fn tag(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got '{text}'"))
}

fn tags_object(tags: &[(String, String)]) -> Option<Value> {
    (!tags.is_empty()).then(|| {
        Value::Object(
            tags.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<_, _>>(),
        )
    })
}

fn model_path(model: &str) -> String {
    format!("/api/v1/models/{}", enc(model))
}

fn version_path(model: &str, version: u64) -> String {
    format!("{}/versions/{version}", model_path(model))
}

/// `--description TEXT` or `--clear-description`, one of them.
#[derive(Debug, Args)]
struct NewDescription {
    /// The new description.
    #[arg(
        long,
        conflicts_with = "clear_description",
        required_unless_present = "clear_description"
    )]
    description: Option<String>,
    /// Remove the description.
    #[arg(long)]
    clear_description: bool,
}

/// `modelgate models …`.
#[derive(Debug, Args)]
pub struct Models {
    #[command(subcommand)]
    verb: ModelVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum ModelVerb {
    /// Register a model.
    #[command(
        after_help = "Example:\n  modelgate models create fraud-detector --description 'Card fraud' --tag team=risk"
    )]
    Create {
        /// Unique name.
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// A tag, KEY=VALUE (repeat for more).
        #[arg(long = "tag", value_parser = tag)]
        tags: Vec<(String, String)>,
    },
    /// Search models (MLflow's filter syntax), by name.
    #[command(
        after_help = "Example:\n  modelgate models list --filter \"name LIKE 'fraud%'\" --limit 20"
    )]
    List {
        /// A filter such as `name LIKE 'fraud%'` or `tags.team = 'risk'`.
        #[arg(long)]
        filter: Option<String>,
        /// e.g. `name ASC`, `last_updated_timestamp DESC`.
        #[arg(long)]
        order_by: Option<String>,
        /// The most models to print.
        #[arg(long, default_value = "100", value_parser = limit_in_range)]
        limit: usize,
    },
    /// Show a model: its newest version in each stage, aliases and tags.
    #[command(after_help = "Example:\n  modelgate models get fraud-detector")]
    Get {
        /// The model's name.
        name: String,
    },
    /// Change a model's description.
    #[command(
        after_help = "Example:\n  modelgate models update fraud-detector --description 'Card fraud, v2 features'"
    )]
    Update {
        /// The model's name.
        name: String,
        #[command(flatten)]
        description: NewDescription,
    },
    /// Rename a model (its versions, aliases and history go with it).
    #[command(after_help = "Example:\n  modelgate models rename fraud-detector card-fraud")]
    Rename {
        /// The current name.
        name: String,
        /// The new name.
        new_name: String,
    },
    /// Delete a model with all its versions (asks first, unless --yes).
    #[command(after_help = "Example:\n  modelgate models delete scratch-model --yes")]
    Delete {
        /// The model's name.
        name: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// The newest version of a model, optionally in one stage.
    #[command(
        after_help = "Example:\n  VERSION=$(modelgate models latest fraud-detector --stage Production -q)"
    )]
    Latest {
        /// The model's name.
        name: String,
        /// Only versions in this stage.
        #[arg(long)]
        stage: Option<Stage>,
    },
}

impl Models {
    /// Calls the server and prints its answer.
    pub fn run(self) -> ExitCode {
        let common = &self.common;
        match self.verb {
            ModelVerb::Create {
                name,
                description,
                tags,
            } => {
                let body =
                    json!({"name": name, "description": description, "tags": tags_object(&tags)});
                common.show(&MODEL, |c| c.call("POST", "/api/v1/models", Some(&body)))
            }
            ModelVerb::List {
                filter,
                order_by,
                limit,
            } => {
                let mut query = Vec::new();
                if let Some(filter) = filter {
                    query.push(format!("filter={}", enc(&filter)));
                }
                if let Some(order_by) = order_by {
                    query.push(format!("order_by={}", enc(&order_by)));
                }
                let path = format!("/api/v1/models?{}", query.join("&"));
                common.show(&MODELS, |c| paged(c, &path, "models", limit))
            }
            ModelVerb::Get { name } => {
                common.show(&MODEL, |c| c.call("GET", &model_path(&name), None))
            }
            ModelVerb::Update { name, description } => {
                let body = json!({ "description": description.description });
                common.show(&MODEL, |c| c.call("PATCH", &model_path(&name), Some(&body)))
            }
            ModelVerb::Rename { name, new_name } => {
                let body = json!({ "name": new_name });
                common.show(&MODEL, |c| c.call("PATCH", &model_path(&name), Some(&body)))
            }
            ModelVerb::Delete { name, yes } => delete(
                common,
                &model_path(&name),
                &format!("model '{name}' and all its versions"),
                yes,
            ),
            ModelVerb::Latest { name, stage } => {
                let mut path = format!("{}/latest", model_path(&name));
                if let Some(stage) = stage {
                    path.push_str(&format!("?stage={stage}"));
                }
                common.show(&VERSION, |c| c.call("GET", &path, None))
            }
        }
    }
}

/// `modelgate versions …`.
#[derive(Debug, Args)]
pub struct Versions {
    #[command(subcommand)]
    verb: VersionVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum VersionVerb {
    /// Register a version; its number is the model's next.
    #[command(
        after_help = "Example:\n  VERSION=$(modelgate versions create fraud-detector --source s3://models/fraud/7 --run-id 8f2c -q)"
    )]
    Create {
        /// The model's name.
        model: String,
        /// Artifact URI.
        #[arg(long)]
        source: String,
        /// The run that produced it.
        #[arg(long)]
        run_id: Option<String>,
        /// A link to that run.
        #[arg(long)]
        run_link: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// A tag, KEY=VALUE (repeat for more).
        #[arg(long = "tag", value_parser = tag)]
        tags: Vec<(String, String)>,
    },
    /// List a model's versions, newest first.
    #[command(after_help = "Example:\n  modelgate versions list fraud-detector --stage Production")]
    List {
        /// The model's name.
        model: String,
        /// Only versions in this stage.
        #[arg(long)]
        stage: Option<Stage>,
        /// e.g. `version ASC`, `creation_timestamp DESC`.
        #[arg(long)]
        order_by: Option<String>,
        /// The most versions to print.
        #[arg(long, default_value = "100", value_parser = limit_in_range)]
        limit: usize,
    },
    /// Show a version.
    #[command(after_help = "Example:\n  modelgate versions get fraud-detector 7")]
    Get {
        /// The model's name.
        model: String,
        /// The version number.
        version: u64,
    },
    /// Change a version's description.
    #[command(
        after_help = "Example:\n  modelgate versions update fraud-detector 7 --description 'retrained on May data'"
    )]
    Update {
        /// The model's name.
        model: String,
        /// The version number.
        version: u64,
        #[command(flatten)]
        description: NewDescription,
    },
    /// Delete a version; its number is never used again (asks first, unless --yes).
    #[command(after_help = "Example:\n  modelgate versions delete fraud-detector 3 --yes")]
    Delete {
        /// The model's name.
        model: String,
        /// The version number.
        version: u64,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// A version's audit trail: moves, requests and decisions, oldest first.
    #[command(after_help = "Example:\n  modelgate versions activity fraud-detector 7")]
    Activity {
        /// The model's name.
        model: String,
        /// The version number.
        version: u64,
    },
}

impl Versions {
    /// Calls the server and prints its answer.
    pub fn run(self) -> ExitCode {
        let common = &self.common;
        match self.verb {
            VersionVerb::Create {
                model,
                source,
                run_id,
                run_link,
                description,
                tags,
            } => {
                let body = json!({
                    "source": source, "run_id": run_id, "run_link": run_link,
                    "description": description, "tags": tags_object(&tags),
                });
                let path = format!("{}/versions", model_path(&model));
                common.show(&VERSION, |c| c.call("POST", &path, Some(&body)))
            }
            VersionVerb::List {
                model,
                stage,
                order_by,
                limit,
            } => {
                let mut query = Vec::new();
                if let Some(stage) = stage {
                    query.push(format!("stage={stage}"));
                }
                if let Some(order_by) = order_by {
                    query.push(format!("order_by={}", enc(&order_by)));
                }
                let path = format!("{}/versions?{}", model_path(&model), query.join("&"));
                common.show(&VERSIONS, |c| paged(c, &path, "versions", limit))
            }
            VersionVerb::Get { model, version } => {
                let path = version_path(&model, version);
                common.show(&VERSION, |c| c.call("GET", &path, None))
            }
            VersionVerb::Update {
                model,
                version,
                description,
            } => {
                let body = json!({ "description": description.description });
                let path = version_path(&model, version);
                common.show(&VERSION, |c| c.call("PATCH", &path, Some(&body)))
            }
            VersionVerb::Delete {
                model,
                version,
                yes,
            } => delete(
                common,
                &version_path(&model, version),
                &format!("version {version} of '{model}'"),
                yes,
            ),
            VersionVerb::Activity { model, version } => {
                let path = format!("{}/activity", version_path(&model, version));
                common.show(&ACTIVITIES, |c| c.call("GET", &path, None))
            }
        }
    }
}

/// `modelgate tags set|delete`: tags of a model, or of a version with `--version`.
#[derive(Debug, Args)]
pub struct Tags {
    #[command(subcommand)]
    verb: TagVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum TagVerb {
    /// Set a tag on a model, or on one of its versions.
    #[command(
        after_help = "Examples:\n  modelgate tags set fraud-detector team risk\n  modelgate tags set fraud-detector validated true --version 7"
    )]
    Set {
        /// The model's name.
        model: String,
        /// The tag's key.
        key: String,
        /// The tag's value (may be empty).
        value: String,
        /// Tag this version instead of the model.
        #[arg(long)]
        version: Option<u64>,
    },
    /// Remove a tag from a model, or from one of its versions.
    #[command(
        after_help = "Example:\n  modelgate tags delete fraud-detector validated --version 7"
    )]
    Delete {
        /// The model's name.
        model: String,
        /// The tag's key.
        key: String,
        /// Untag this version instead of the model.
        #[arg(long)]
        version: Option<u64>,
    },
}

impl Tags {
    /// Calls the server and prints the tag.
    pub fn run(self) -> ExitCode {
        let owner = |model: &str, version: Option<u64>| match version {
            Some(version) => version_path(model, version),
            None => model_path(model),
        };
        match self.verb {
            TagVerb::Set {
                model,
                key,
                value,
                version,
            } => {
                let path = format!("{}/tags/{}", owner(&model, version), enc(&key));
                let body = json!({ "value": value });
                self.common
                    .show(&View::one("value"), |c| c.call("PUT", &path, Some(&body)))
            }
            TagVerb::Delete {
                model,
                key,
                version,
            } => {
                let path = format!("{}/tags/{}", owner(&model, version), enc(&key));
                delete(&self.common, &path, &format!("tag '{key}'"), true)
            }
        }
    }
}

/// `modelgate aliases set|get|delete`.
#[derive(Debug, Args)]
pub struct Aliases {
    #[command(subcommand)]
    verb: AliasVerb,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
enum AliasVerb {
    /// Point an alias at a version (a guarded alias needs a request: `modelgate promote … --alias`).
    #[command(after_help = "Example:\n  modelgate aliases set fraud-detector champion 7")]
    Set {
        /// The model's name.
        model: String,
        /// The alias.
        alias: String,
        /// The version it points at.
        version: u64,
    },
    /// The version an alias points at.
    #[command(
        after_help = "Example:\n  VERSION=$(modelgate aliases get fraud-detector champion -q)"
    )]
    Get {
        /// The model's name.
        model: String,
        /// The alias.
        alias: String,
    },
    /// Remove an alias.
    #[command(after_help = "Example:\n  modelgate aliases delete fraud-detector challenger")]
    Delete {
        /// The model's name.
        model: String,
        /// The alias.
        alias: String,
    },
}

impl Aliases {
    /// Calls the server and prints the alias.
    pub fn run(self) -> ExitCode {
        let path =
            |model: &str, alias: &str| format!("{}/aliases/{}", model_path(model), enc(alias));
        let view = View::one("version");
        match self.verb {
            AliasVerb::Set {
                model,
                alias,
                version,
            } => {
                let body = json!({ "version": version });
                self.common
                    .show(&view, |c| c.call("PUT", &path(&model, &alias), Some(&body)))
            }
            AliasVerb::Get { model, alias } => self
                .common
                .show(&view, |c| c.call("GET", &path(&model, &alias), None)),
            AliasVerb::Delete { model, alias } => delete(
                &self.common,
                &path(&model, &alias),
                &format!("alias '{alias}' of '{model}'"),
                true,
            ),
        }
    }
}
