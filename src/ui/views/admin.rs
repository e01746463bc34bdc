//! What the admin pages (users, tokens) show.

use askama::Template;

use super::{PREFIX, enc, when};
use crate::ui::Viewer;

/// A user on the admin page.
#[derive(Debug, Clone)]
pub struct UserItem {
    /// Login name.
    pub username: String,
    /// Its address.
    pub href: String,
    /// Role.
    pub role: String,
    /// Disabled.
    pub disabled: bool,
    /// Created.
    pub created: String,
}

impl From<crate::domain::users::User> for UserItem {
    fn from(u: crate::domain::users::User) -> Self {
        UserItem {
            href: format!("{PREFIX}/admin/users/{}", enc(&u.username)),
            role: u.role.as_str().to_owned(),
            disabled: u.disabled,
            created: when(u.creation_timestamp),
            username: u.username,
        }
    }
}

/// The users page.
#[derive(Template)]
#[template(path = "users.html", config = "src/ui/askama.toml")]
pub struct UsersPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The users.
    pub users: Vec<UserItem>,
    /// Every role.
    pub roles: Vec<&'static str>,
    /// Whether more users exist than shown.
    pub more: bool,
}

/// A pipeline token on the admin page (never its value).
#[derive(Debug, Clone)]
pub struct TokenItem {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Whose.
    pub username: String,
    /// Created by.
    pub created_by: String,
    /// Created.
    pub created: String,
    /// Expires.
    pub expires: String,
    /// Revoked, when.
    pub revoked: String,
    /// Where its revoke form posts.
    pub revoke_action: String,
}

impl From<crate::domain::tokens::ApiToken> for TokenItem {
    fn from(t: crate::domain::tokens::ApiToken) -> Self {
        TokenItem {
            revoke_action: format!("{PREFIX}/admin/tokens/{}/revoke", t.id),
            id: t.id,
            created: when(t.creation_timestamp),
            expires: when(t.expires_at),
            revoked: t.revoked_at.map(when).unwrap_or_default(),
            name: t.name,
            username: t.username,
            created_by: t.created_by,
        }
    }
}

/// The tokens page.
#[derive(Template)]
#[template(path = "tokens.html", config = "src/ui/askama.toml")]
pub struct TokensPage {
    /// Who is signed in.
    pub viewer: Viewer,
    /// The navigation entry.
    pub nav: &'static str,
    /// The tokens, newest first.
    pub tokens: Vec<TokenItem>,
    /// A token just created: name, value (shown this once), user.
    pub created: Option<(String, String, String)>,
    /// Whether more tokens exist than shown.
    pub more: bool,
    /// The default lifetime in days.
    pub default_days: i64,
}
