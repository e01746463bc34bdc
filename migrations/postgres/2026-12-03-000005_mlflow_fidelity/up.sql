-- What MLflow's server shows and modelgate kept no trace of:
-- a version registered from a models:/ source keeps the copied version's
-- files' location, which the download URI answers (its source stays the
-- models:/ URI); the logged model (MLflow 3's model_id) a version was
-- registered from; tags keep the order they were first set in (MLflow lists
-- them so; a tag set again keeps its place). Tags set before this have
-- position 0 and come first, by key.
ALTER TABLE model_versions ADD COLUMN storage_location TEXT;
ALTER TABLE model_versions ADD COLUMN logged_model_id TEXT;
ALTER TABLE registered_model_tags ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE model_version_tags ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
