-- The audit page's time filter: the first and last event of a time range
-- are one probe each (event time grows along the chain).
CREATE INDEX events_by_time ON events (timestamp, id);
