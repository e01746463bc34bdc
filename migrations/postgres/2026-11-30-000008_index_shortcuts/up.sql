-- Fewer queries under the chain-head lock, which every write holds to the
-- end of its transaction:
-- the head keeps its last event's time, so the next write stamps its events
-- no earlier without reading that event;
ALTER TABLE event_chain_head ADD COLUMN last_timestamp BIGINT NOT NULL DEFAULT 0;
UPDATE event_chain_head
   SET last_timestamp = COALESCE((SELECT timestamp FROM events WHERE id = event_chain_head.last_id), 0);
-- and the name a model holds now carries the model's row id, so the history
-- index finds the model without a second lookup (NULL on spans that ended).
ALTER TABLE model_names ADD COLUMN model_id BIGINT;
UPDATE model_names
   SET model_id = (SELECT id FROM registered_models WHERE registered_models.name = model_names.name)
 WHERE to_ts IS NULL;
