-- A version search pinned to one model (`name = 'X'`, how MLflow's client
-- lists a model's versions) reads that model's versions in the asked order
-- straight from these, whatever the model's size: the newest change first
-- (MLflow's default), by creation, and by id (its newest versions first).
CREATE INDEX model_versions_by_model_updated ON model_versions (model_id, last_updated_timestamp, id);
CREATE INDEX model_versions_by_model_created ON model_versions (model_id, creation_timestamp, id);
CREATE INDEX model_versions_by_model_id ON model_versions (model_id, id);
