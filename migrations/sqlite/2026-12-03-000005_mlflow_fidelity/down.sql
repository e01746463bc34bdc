ALTER TABLE model_version_tags DROP COLUMN position;
ALTER TABLE registered_model_tags DROP COLUMN position;
ALTER TABLE model_versions DROP COLUMN logged_model_id;
ALTER TABLE model_versions DROP COLUMN storage_location;
