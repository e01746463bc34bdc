//! Users: accounts with an argon2id password hash, a role and a disabled flag.

use diesel::prelude::*;
use serde::Serialize;

use crate::auth::{Actor, password};
use crate::db::enums::Role;
use crate::db::event::{EventKind, Subject};
use crate::db::rows::UserRow;
use crate::db::schema::{api_tokens, users};
use crate::db::{self, DbConn, WriteTx, now_ms};
use crate::domain::sql::{Page, PageToken};
use crate::domain::types::Username;
use crate::error::{Entity, Error, Result};

/// A user as shown by the API (never with its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// A disabled user cannot log in and its tokens stop working.
    pub disabled: bool,
    /// Milliseconds since the epoch.
    pub creation_timestamp: i64,
    /// Milliseconds since the epoch.
    pub last_updated_timestamp: i64,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self> {
        Ok(User {
            role: row.role,
            username: row.username,
            disabled: row.disabled,
            creation_timestamp: row.creation_timestamp,
            last_updated_timestamp: row.last_updated_timestamp,
        })
    }
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// New role.
    pub role: Option<Role>,
    /// New password hash (hashed before the transaction: hashing is slow).
    pub password_hash: Option<String>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

fn not_found(username: &str) -> Error {
    Error::NotFound(Entity::User(username.to_owned()))
}

fn find(conn: &mut DbConn, username: &Username) -> Result<UserRow> {
    users::table
        .filter(users::username.eq(username.as_str()))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(username.as_str()))
}

/// Creates a user from a password hashed by the caller (off any transaction).
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    username: &Username,
    password_hash: &str,
    role: Role,
) -> Result<User> {
    db::write(conn, &actor.username, |tx| {
        let exists = users::table
            .filter(users::username.eq(username.as_str()))
            .select(users::id)
            .first::<i64>(tx.conn())
            .optional()?
            .is_some();
        if exists {
            return Err(Error::AlreadyExists(Entity::User(
                username.as_str().to_owned(),
            )));
        }
        let now = now_ms();
        let row: UserRow = diesel::insert_into(users::table)
            .values((
                users::username.eq(username.as_str()),
                users::password_hash.eq(password_hash),
                users::role.eq(role),
                users::disabled.eq(false),
                users::creation_timestamp.eq(now),
                users::last_updated_timestamp.eq(now),
            ))
            .returning(users::all_columns)
            .get_result(tx.conn())
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => Error::AlreadyExists(Entity::User(username.as_str().to_owned())),
                other => other.into(),
            })?;
        tx.emit(
            Subject::Registry,
            EventKind::UserCreated {
                username: username.as_str().to_owned(),
                role,
            },
        )?;
        User::try_from(row)
    })
}

/// Reads a user.
pub fn get(conn: &mut DbConn, username: &Username) -> Result<User> {
    User::try_from(find(conn, username)?)
}

/// Lists users by name.
pub fn list(conn: &mut DbConn, max_results: i64, page_token: Option<&str>) -> Result<Page<User>> {
    let mut select = users::table
        .select(UserRow::as_select())
        .order(users::username.asc())
        .limit(max_results + 1)
        .into_boxed();
    if let Some(token) = page_token {
        select = select.filter(users::username.gt(PageToken::decode(token, "users")?.text_key()?));
    }
    let items = select
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, max_results, |user| {
        PageToken::new("users", user.username.clone().into(), 0)
    }))
}

/// Refuses a change that would leave no enabled admin. The admin rows are
/// locked first (see [`WriteTx::lock_admins`]), so two admins demoting each
/// other serialize.
fn ensure_another_admin(tx: &mut WriteTx<'_>, except: i64) -> Result<()> {
    let others = tx
        .lock_admins(except)?
        .iter()
        .filter(|(id, role, disabled)| *id != except && *role == Role::Admin && !disabled)
        .count();
    if others == 0 {
        return Err(Error::Conflict(
            "this would leave no enabled admin; make another user admin first".to_owned(),
        ));
    }
    Ok(())
}

/// Changes a user's role, password or disabled flag.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    username: &Username,
    changes: UserChanges,
) -> Result<User> {
    db::write(conn, &actor.username, |tx| {
        let row = find(tx.conn(), username)?;
        let was_active_admin = row.role == Role::Admin && !row.disabled;
        let stays_admin = changes.role.is_none_or(|role| role == Role::Admin);
        let stays_enabled = !changes.disabled.unwrap_or(row.disabled);
        if was_active_admin && !(stays_admin && stays_enabled) {
            ensure_another_admin(tx, row.id)?;
        }
        let now = now_ms();
        if let Some(role) = changes.role {
            diesel::update(users::table.find(row.id))
                .set(users::role.eq(role))
                .execute(tx.conn())?;
        }
        if let Some(hash) = &changes.password_hash {
            diesel::update(users::table.find(row.id))
                .set(users::password_hash.eq(hash))
                .execute(tx.conn())?;
        }
        if let Some(disabled) = changes.disabled {
            diesel::update(users::table.find(row.id))
                .set(users::disabled.eq(disabled))
                .execute(tx.conn())?;
        }
        // A new password or a disable ends every login token at once, on
        // every replica (each request checks the generation); a disable also
        // revokes the pipeline tokens, which do not come back on enable.
        let disabling = changes.disabled == Some(true) && !row.disabled;
        if changes.password_hash.is_some() || disabling {
            diesel::update(users::table.find(row.id))
                .set(users::session_generation.eq(users::session_generation + 1))
                .execute(tx.conn())?;
        }
        let revoked: Vec<i64> = if disabling {
            diesel::update(
                api_tokens::table
                    .filter(api_tokens::user_id.eq(row.id))
                    .filter(api_tokens::revoked_at.is_null()),
            )
            .set(api_tokens::revoked_at.eq(now))
            .returning(api_tokens::id)
            .get_results(tx.conn())?
        } else {
            Vec::new()
        };
        let row: UserRow = diesel::update(users::table.find(row.id))
            .set(users::last_updated_timestamp.eq(now))
            .returning(users::all_columns)
            .get_result(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::UserUpdated {
                username: username.as_str().to_owned(),
                role: changes.role,
                disabled: changes.disabled,
                password_changed: changes.password_hash.is_some(),
                revoked_tokens: revoked,
            },
        )?;
        User::try_from(row)
    })
}

/// Deletes a user and its pipeline tokens.
pub fn delete(conn: &mut DbConn, actor: &Actor, username: &Username) -> Result<()> {
    db::write(conn, &actor.username, |tx| {
        let row = find(tx.conn(), username)?;
        if row.role == Role::Admin && !row.disabled {
            ensure_another_admin(tx, row.id)?;
        }
        let tokens: Vec<i64> = api_tokens::table
            .filter(api_tokens::user_id.eq(row.id))
            .filter(api_tokens::revoked_at.is_null())
            .select(api_tokens::id)
            .load(tx.conn())?;
        diesel::delete(users::table.find(row.id)).execute(tx.conn())?;
        tx.emit(
            Subject::Registry,
            EventKind::UserDeleted {
                username: username.as_str().to_owned(),
                revoked_tokens: tokens,
            },
        )
    })
}

/// The stored account a login names. Read first, so that the password work
/// (tens of ms) runs without a database connection.
pub fn login_account(conn: &mut DbConn, username: &str) -> Result<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// On first start (no users at all) creates `admin`; returns the generated
/// password when none was configured, so the caller can show it once.
pub fn bootstrap_admin(conn: &mut DbConn, configured: Option<&str>) -> Result<Option<String>> {
    let any: Option<i64> = users::table.select(users::id).first(conn).optional()?;
    if any.is_some() {
        return Ok(None);
    }
    let (password, generated) = match configured {
        Some(password) => (password.to_owned(), false),
        None => (random_password(), true),
    };
    password::check_policy(&password).map_err(|e| {
        Error::invalid(format!(
            "auth.bootstrap_admin_password: {}",
            e.public_message()
        ))
    })?;
    let hash = password::hash(&password)?;
    let admin = Username::parse("admin")?;
    match create(conn, &Actor::system(), &admin, &hash, Role::Admin) {
        Ok(_) => Ok(generated.then_some(password)),
        // another replica bootstrapped at the same moment
        Err(Error::AlreadyExists(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A random 24-character password of letters and digits.
pub fn random_password() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}
