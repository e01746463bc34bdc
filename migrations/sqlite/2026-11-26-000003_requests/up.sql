-- Transition requests: a move held at an approval gate until N distinct
-- approvers (never the requester) approve it.
CREATE TABLE transition_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    from_stage TEXT NOT NULL,
    to_stage TEXT NOT NULL,
    archive_existing_versions BOOLEAN NOT NULL,
    -- pending | applied | rejected | cancelled | stale
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    required_approvals BIGINT NOT NULL,
    comment TEXT,
    decided_by TEXT,
    decision_comment TEXT,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL
);
CREATE INDEX transition_requests_by_status ON transition_requests (status, id);
CREATE INDEX transition_requests_by_version ON transition_requests (model_id, version, status);

CREATE TABLE request_approvals (
    request_id BIGINT NOT NULL REFERENCES transition_requests (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    comment TEXT,
    PRIMARY KEY (request_id, user_name)
);
