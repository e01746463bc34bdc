-- Fingerprints of the keys every replica of a deployment must share (the
-- token signing key, the audit checkpoint key): the first start records each,
-- and a replica with another key refuses to start.
CREATE TABLE deployment_keys (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
