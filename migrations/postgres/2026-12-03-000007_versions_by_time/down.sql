DROP INDEX model_versions_by_created;
DROP INDEX model_versions_by_updated;
