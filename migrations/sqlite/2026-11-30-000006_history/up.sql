-- The history index: what each name, stage and alias resolved to over time,
-- kept by every write from the events it appends (and rebuilt from the
-- events at start when empty), so "which version held Production at T" is
-- a few index probes, never a scan of the event log.
--
-- A model's identity across renames is model_key: the id of the event that
-- created it. Each row of model_names is one span during which a model held
-- a name: from the end of millisecond from_ts to the end of to_ts (open
-- while it still holds it).
CREATE TABLE model_names (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    model_key BIGINT NOT NULL,
    from_ts BIGINT NOT NULL,
    to_ts BIGINT,
    event_id BIGINT NOT NULL
);
CREATE INDEX model_names_by_name ON model_names (name, from_ts, id);
CREATE INDEX model_names_by_model ON model_names (model_key, from_ts, id);
-- What models:/NAME/<stage> (kind 'stage') and models:/NAME@<alias> (kind
-- 'alias') resolved to from the end of millisecond ts on (version NULL:
-- nothing), and the event that made it so: one row per change, at most one
-- per millisecond.
CREATE TABLE resolution_history (
    model_key BIGINT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    ts BIGINT NOT NULL,
    version BIGINT,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (model_key, kind, label, ts)
);
