//! Server-side maintenance commands that work on the configured database
//! directly: bootstrapping and break-glass without the API.

use std::io::Read;

use crate::auth::tokens::TokenKeys;
use crate::auth::{Actor, Role, password};
use crate::config::Settings;
use crate::db::PooledConn;
use crate::domain::types::Username;
use crate::domain::{tokens, users};
use crate::startup;

/// Connects and brings the schema up to date (quietly).
fn connection(settings: &Settings) -> Result<PooledConn, String> {
    let (url, pool) = startup::connect(settings).map_err(|e| e.to_string())?;
    startup::migrate(&pool, &url).map_err(|e| e.to_string())?;
    pool.get().map_err(|e| format!("cannot connect: {e}"))
}

fn role(text: &str) -> Result<Role, String> {
    text.parse()
}

fn username(text: &str) -> Result<Username, String> {
    Username::parse(text).map_err(|e| e.public_message())
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// `modelgate users add NAME --role ROLE [--password-stdin]`.
pub fn users_add(
    settings: &Settings,
    name: &str,
    role_name: &str,
    password_stdin: bool,
) -> Result<(), String> {
    let name = username(name)?;
    let role = role(role_name)?;
    let (password, generated) = if password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        (text.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (users::random_password(), true)
    };
    password::check_policy(&password).map_err(|e| e.public_message())?;
    let hash = password::hash(&password).map_err(|e| e.public_message())?;
    let mut conn = connection(settings)?;
    let user = users::create(&mut conn, &Actor::system(), &name, &hash, role)
        .map_err(|e| e.public_message())?;
    print_json(&user)?;
    if generated {
        println!("password: {password}\n(shown this once)");
    }
    Ok(())
}

/// `modelgate users set-role NAME ROLE`, `disable NAME`, `enable NAME`.
pub fn users_update(
    settings: &Settings,
    name: &str,
    changes: users::UserChanges,
) -> Result<(), String> {
    let name = username(name)?;
    let mut conn = connection(settings)?;
    let user = users::update(&mut conn, &Actor::system(), &name, changes)
        .map_err(|e| e.public_message())?;
    print_json(&user)
}

/// Parses a role for `set-role`.
pub fn parse_role(text: &str) -> Result<Role, String> {
    role(text)
}

/// `modelgate tokens create NAME --user USER [--expires-in-days N]`.
pub fn tokens_create(settings: &Settings, name: &str, user: &str, days: i64) -> Result<(), String> {
    let user = username(user)?;
    let keys = TokenKeys::from_settings(&settings.auth, &settings.data_dir)?;
    let mut conn = connection(settings)?;
    let created = tokens::create(&mut conn, &Actor::system(), &keys, name, &user, days)
        .map_err(|e| e.public_message())?;
    print_json(&created)
}

/// `modelgate tokens revoke ID`.
pub fn tokens_revoke(settings: &Settings, id: i64) -> Result<(), String> {
    let mut conn = connection(settings)?;
    let token = tokens::revoke(&mut conn, &Actor::system(), id).map_err(|e| e.public_message())?;
    print_json(&token)
}

/// `modelgate audit verify`: recomputes the event hash chain.
pub fn audit_verify(settings: &Settings) -> Result<(), String> {
    let mut conn = connection(settings)?;
    match crate::domain::events::verify_chain(&mut conn).map_err(|e| e.public_message())? {
        Ok(count) => {
            println!("the event log is intact: {count} events, every hash matches");
            Ok(())
        }
        Err(broken) => Err(format!("the event log has been tampered with: {broken}")),
    }
}
