-- MLflow's webhooks API serves subscriptions of its own flavour: an MLflow
-- id (a UUID) and name, MLflow event names, a secret used as given.
ALTER TABLE webhooks ADD COLUMN mlflow_id TEXT;
ALTER TABLE webhooks ADD COLUMN name TEXT;
CREATE UNIQUE INDEX webhooks_by_mlflow_id ON webhooks (mlflow_id);
