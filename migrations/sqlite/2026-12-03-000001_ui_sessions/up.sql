-- Web UI sessions: the cookie holds a random secret, this table its SHA-256.
-- A session carries its user's session generation: changing the password or
-- disabling the user moves it, ending the session; deleting the user removes it.
CREATE TABLE ui_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
