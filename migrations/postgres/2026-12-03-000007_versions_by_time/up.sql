-- A version search over every model in MLflow's default order (the newest
-- change first) or by registration reads the versions in that order from
-- these and sorts only the versions that share a time by model name, so
-- its first and its 500th page cost what they cost on a small registry.
CREATE INDEX model_versions_by_updated ON model_versions (last_updated_timestamp, id);
CREATE INDEX model_versions_by_created ON model_versions (creation_timestamp, id);
