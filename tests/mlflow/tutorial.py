#!/usr/bin/env python3
"""MLflow's tutorial flow with modelgate as the model registry: a real
MLflow 3.17.2 tracking server keeps the runs, logged models and artifacts;
modelgate (registry URI) keeps the registered models. Train a small
scikit-learn model, log it with registered_model_name, register it again
from runs:/, move it through the stages, set an alias, and load it back by
models:/NAME@ALIAS, models:/NAME/Production, models:/NAME/1 and
models:/NAME/latest, predicting each time.

usage: tutorial.py --tracking-url URL --registry-url URL --token TOKEN
(run by .ci/mlflow-differential, which starts both servers)
"""

import argparse
import os
import sys
import warnings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-url", required=True)
    parser.add_argument("--registry-url", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    # the token is sent to both servers; MLflow's, without auth, ignores it
    os.environ["MLFLOW_TRACKING_TOKEN"] = args.token
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    warnings.filterwarnings("ignore")

    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(args.tracking_url)
    mlflow.set_registry_uri(args.registry_url)
    mlflow.set_experiment("modelgate-tutorial")
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    labels = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(features, labels)
    expected = list(model.predict(features))

    with mlflow.start_run() as run:
        logged = mlflow.sklearn.log_model(model, name="model", registered_model_name="tutorial")
    first = logged.registered_model_version
    print(f"logged model {logged.model_id}, registered as tutorial version {first}")
    assert str(first) == "1", first

    client = MlflowClient()
    v1 = client.get_model_version("tutorial", "1")
    print(f"version 1: source {v1.source}, run_id {v1.run_id}, model_id {v1.model_id}")
    assert v1.run_id == run.info.run_id, (v1.run_id, run.info.run_id)
    # the client's entity drops model_id (MLflow's own TODO); the wire has it
    import requests
    raw = requests.get(f"{args.registry_url}/api/2.0/mlflow/model-versions/get",
                       params={"name": "tutorial", "version": "1"},
                       headers={"Authorization": f"Bearer {args.token}"}, timeout=30).json()
    assert raw["model_version"].get("model_id") == logged.model_id, raw

    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", "tutorial")
    print(f"registered runs:/{run.info.run_id}/model as version {second.version}")
    assert second.version == "2", second.version
    assert second.run_id == run.info.run_id, second.run_id

    client.transition_model_version_stage("tutorial", second.version, "Staging")
    client.transition_model_version_stage("tutorial", second.version, "Production",
                                          archive_existing_versions=True)
    client.set_registered_model_alias("tutorial", "champion", second.version)
    latest = client.get_latest_versions("tutorial", stages=["Production"])
    assert [v.version for v in latest] == ["2"], latest

    for uri in ["models:/tutorial@champion", "models:/tutorial/Production",
                "models:/tutorial/1", "models:/tutorial/latest"]:
        loaded = mlflow.pyfunc.load_model(uri)
        predicted = list(loaded.predict(features))
        assert predicted == expected, (uri, predicted, expected)
        print(f"{uri}: loaded and predicted {predicted}")
    print("the MLflow tutorial flow works with modelgate as the registry")
    return 0


if __name__ == "__main__":
    sys.exit(main())
