-- Webhook subscriptions and their deliveries. Deliveries are recorded by a
-- fan-out step that follows the event log from a stored cursor (so a crash
-- loses none), and claimed per subscription by one worker at a time (a
-- lease), which sends them in event order.
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    model_name TEXT,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until BIGINT,
    disabled_reason TEXT,
    from_event_id BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    creation_timestamp BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    last_latency_ms BIGINT,
    last_attempt_at BIGINT,
    creation_timestamp BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries (webhook_id, state, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

-- The last event the fan-out has looked at; it starts at the present.
CREATE TABLE webhook_cursor (
    id INTEGER PRIMARY KEY,
    last_event_id BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, last_event_id)
    SELECT 1, COALESCE((SELECT last_id FROM event_chain_head WHERE id = 1), 0);
