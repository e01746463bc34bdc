-- The registry core: models, versions, tags, aliases, the activity trail and
-- the hash-chained event log. Timestamps are integer milliseconds (UTC).
CREATE TABLE registered_models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    -- the next version number to hand out; never decreases, so numbers are never reused
    next_version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX registered_models_by_creation ON registered_models (creation_timestamp, id);
CREATE INDEX registered_models_by_update ON registered_models (last_updated_timestamp, id);

CREATE TABLE registered_model_tags (
    model_id BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);
CREATE INDEX registered_model_tags_by_key ON registered_model_tags (key);

CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    run_link TEXT,
    description TEXT,
    current_stage TEXT NOT NULL DEFAULT 'None',
    status TEXT NOT NULL DEFAULT 'READY',
    created_by TEXT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    UNIQUE (model_id, version)
);
CREATE INDEX model_versions_by_stage ON model_versions (model_id, current_stage, version);

CREATE TABLE model_version_tags (
    version_id BIGINT NOT NULL REFERENCES model_versions (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (version_id, key)
);

CREATE TABLE registered_model_aliases (
    model_id BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (model_id, alias)
);

-- No foreign keys: the trail outlives deleted versions.
CREATE TABLE activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    activity_type TEXT NOT NULL,
    from_stage TEXT,
    to_stage TEXT,
    user_name TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    comment TEXT,
    request_id BIGINT
);
CREATE INDEX activities_by_version ON activities (model_id, version, timestamp);

-- Event ids are assigned under the chain-head lock, so they follow commit order.
CREATE TABLE events (
    id BIGINT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    model_name TEXT,
    version BIGINT,
    actor TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_by_model ON events (model_name, id);
CREATE INDEX events_by_type ON events (event_type, id);

CREATE TABLE event_chain_head (
    id INTEGER PRIMARY KEY NOT NULL,
    last_id BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);
INSERT INTO event_chain_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
