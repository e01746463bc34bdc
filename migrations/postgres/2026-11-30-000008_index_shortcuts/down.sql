ALTER TABLE model_names DROP COLUMN model_id;
ALTER TABLE event_chain_head DROP COLUMN last_timestamp;
