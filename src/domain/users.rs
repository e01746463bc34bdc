//! Users: accounts with an argon2id password hash, a role and a disabled flag.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::auth::{Actor, Role, password};
use crate::db::rows::UserRow;
use crate::db::schema::{api_tokens, users};
use crate::db::{self, DbConn};
use crate::domain::events::{self, NewEvent};
use crate::domain::paging::{Page, PageToken};
use crate::domain::types::{Username, now_ms};
use crate::error::{Error, Result};

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
            role: row
                .role
                .parse()
                .map_err(|e: String| Error::Internal(format!("stored role: {e}")))?,
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
    Error::NotFound(format!("user '{username}' does not exist"))
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
    db::write_tx(conn, |conn| {
        let exists = users::table
            .filter(users::username.eq(username.as_str()))
            .select(users::id)
            .first::<i64>(conn)
            .optional()?
            .is_some();
        if exists {
            return Err(Error::AlreadyExists(format!(
                "user '{username}' already exists"
            )));
        }
        let now = now_ms();
        let row: UserRow = diesel::insert_into(users::table)
            .values((
                users::username.eq(username.as_str()),
                users::password_hash.eq(password_hash),
                users::role.eq(role.as_str()),
                users::disabled.eq(false),
                users::creation_timestamp.eq(now),
                users::last_updated_timestamp.eq(now),
            ))
            .returning(users::all_columns)
            .get_result(conn)
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => Error::AlreadyExists(format!("user '{username}' already exists")),
                other => other.into(),
            })?;
        events::append(
            conn,
            actor,
            vec![NewEvent {
                event_type: "user.created",
                model_name: None,
                version: None,
                payload: json!({ "username": username.as_str(), "role": role }),
            }],
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

/// Refuses a change that would leave no enabled admin. On PostgreSQL the
/// admin rows are locked first, so two admins demoting each other serialize.
fn ensure_another_admin(conn: &mut DbConn, except: i64) -> Result<()> {
    // Lock every enabled admin, the target included, in id order: two admins
    // demoting each other then queue instead of deadlocking.
    let query = users::table
        .filter(
            users::role
                .eq(Role::Admin.as_str())
                .and(users::disabled.eq(false))
                .or(users::id.eq(except)),
        )
        .order(users::id.asc())
        .select((users::id, users::role, users::disabled));
    let locked: Vec<(i64, String, bool)> = match conn {
        DbConn::Postgresql(pg) => query.for_update().load(pg)?,
        DbConn::Sqlite(sqlite) => query.load(sqlite)?,
    };
    let others = locked
        .iter()
        .filter(|(id, role, disabled)| *id != except && role == Role::Admin.as_str() && !disabled)
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
    db::write_tx(conn, |conn| {
        let row = find(conn, username)?;
        let was_active_admin = row.role == Role::Admin.as_str() && !row.disabled;
        let stays_admin = changes.role.is_none_or(|role| role == Role::Admin);
        let stays_enabled = !changes.disabled.unwrap_or(row.disabled);
        if was_active_admin && !(stays_admin && stays_enabled) {
            ensure_another_admin(conn, row.id)?;
        }
        let now = now_ms();
        if let Some(role) = changes.role {
            diesel::update(users::table.find(row.id))
                .set(users::role.eq(role.as_str()))
                .execute(conn)?;
        }
        if let Some(hash) = &changes.password_hash {
            diesel::update(users::table.find(row.id))
                .set(users::password_hash.eq(hash))
                .execute(conn)?;
        }
        if let Some(disabled) = changes.disabled {
            diesel::update(users::table.find(row.id))
                .set(users::disabled.eq(disabled))
                .execute(conn)?;
        }
        let row: UserRow = diesel::update(users::table.find(row.id))
            .set(users::last_updated_timestamp.eq(now))
            .returning(users::all_columns)
            .get_result(conn)?;
        events::append(
            conn,
            actor,
            vec![NewEvent {
                event_type: "user.updated",
                model_name: None,
                version: None,
                payload: json!({
                    "username": username.as_str(),
                    "role": changes.role,
                    "disabled": changes.disabled,
                    "password_changed": changes.password_hash.is_some(),
                }),
            }],
        )?;
        User::try_from(row)
    })
}

/// Deletes a user and its pipeline tokens.
pub fn delete(conn: &mut DbConn, actor: &Actor, username: &Username) -> Result<()> {
    db::write_tx(conn, |conn| {
        let row = find(conn, username)?;
        if row.role == Role::Admin.as_str() && !row.disabled {
            ensure_another_admin(conn, row.id)?;
        }
        let tokens: Vec<i64> = api_tokens::table
            .filter(api_tokens::user_id.eq(row.id))
            .filter(api_tokens::revoked_at.is_null())
            .select(api_tokens::id)
            .load(conn)?;
        diesel::delete(users::table.find(row.id)).execute(conn)?;
        events::append(
            conn,
            actor,
            vec![NewEvent {
                event_type: "user.deleted",
                model_name: None,
                version: None,
                payload: json!({ "username": username.as_str(), "revoked_tokens": tokens }),
            }],
        )
    })
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Unknown user or wrong password (indistinguishable to the caller).
    BadCredentials,
    /// The password was right but the user is disabled.
    Disabled,
}

/// The stored account a login names. Read first, so that the password work
/// ([`check_login`], tens of ms) runs without a database connection.
pub fn login_account(conn: &mut DbConn, username: &str) -> Result<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Checks a password against the account [`login_account`] found (or its
/// absence); runs one argon2 verification either way.
pub fn check_login(
    account: Option<UserRow>,
    password: &str,
) -> Result<std::result::Result<(i64, User), LoginFailure>> {
    let Some(row) = account else {
        password::verify_dummy(password);
        return Ok(Err(LoginFailure::BadCredentials));
    };
    if !password::verify(password, &row.password_hash) {
        return Ok(Err(LoginFailure::BadCredentials));
    }
    if row.disabled {
        return Ok(Err(LoginFailure::Disabled));
    }
    let id = row.id;
    User::try_from(row).map(|user| Ok((id, user)))
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
