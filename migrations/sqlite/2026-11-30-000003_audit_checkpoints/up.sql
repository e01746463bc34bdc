-- Signed checkpoints of the event chain: (event id, hash, time) signed with
-- an Ed25519 key kept outside the database.
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id BIGINT NOT NULL,
    event_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_by_event ON audit_checkpoints (event_id);
