DROP INDEX webhooks_by_mlflow_id;
ALTER TABLE webhooks DROP COLUMN name;
ALTER TABLE webhooks DROP COLUMN mlflow_id;
