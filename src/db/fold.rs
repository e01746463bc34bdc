//! `mg_ascii_lower(text)`: the case fold `ILIKE` uses, the same on both
//! backends whatever the database's locale (PostgreSQL's `lower()` and
//! `ILIKE` follow its `LC_CTYPE`, SQLite's fold only ASCII): A–Z become a–z,
//! every other character stays itself. PostgreSQL gets it from a migration
//! (a `translate()` the planner inlines); each SQLite connection registers
//! it when it opens.

use diesel::SqliteConnection;
use diesel::sql_types::Text;

diesel::define_sql_function! {
    /// Folds A–Z to a–z and nothing else.
    fn mg_ascii_lower(x: Text) -> Text;
}

/// Registers the function on a SQLite connection.
pub fn register(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    mg_ascii_lower_utils::register_impl(conn, |text: String| text.to_ascii_lowercase())
}
