"""The real MLflow client (mlflow-skinny, pinned in .ci/mlflow) against a live modelgate.

Run by .ci/mlflow: MODELGATE_URL names the server, MODELGATE_ADMIN_PASSWORD the
bootstrap admin's password. Every registry method of MlflowClient is exercised.
"""

import os
import time

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

URL = os.environ["MODELGATE_URL"]
ADMIN_PASSWORD = os.environ["MODELGATE_ADMIN_PASSWORD"]
AUTH_VARS = ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"]


def login(username: str, password: str) -> str:
    answer = requests.post(
        f"{URL}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


ADMIN_TOKEN = login("admin", ADMIN_PASSWORD)


def make_user(username: str, role: str) -> str:
    password = f"{username}-password"
    answer = requests.post(
        f"{URL}/api/v1/users",
        json={"username": username, "password": password, "role": role},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code in (201, 409), answer.text
    return password


@pytest.fixture
def bearer(monkeypatch):
    """A client authenticating as the admin with MLFLOW_TRACKING_TOKEN."""
    for var in AUTH_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(tracking_uri=URL, registry_uri=URL)


def basic_client(monkeypatch, username: str, password: str) -> MlflowClient:
    for var in AUTH_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(tracking_uri=URL, registry_uri=URL)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


def test_models_are_created_read_renamed_described_tagged_and_deleted(bearer):
    name = unique("crud")
    model = bearer.create_registered_model(name, tags={"team": "risk"}, description="first")
    assert model.name == name and model.description == "first" and model.tags == {"team": "risk"}
    assert isinstance(model.creation_timestamp, int) and model.creation_timestamp > 1_700_000_000_000

    with pytest.raises(MlflowException) as duplicate:
        bearer.create_registered_model(name)
    assert duplicate.value.error_code == "RESOURCE_ALREADY_EXISTS"

    assert bearer.update_registered_model(name, description="second").description == "second"
    bearer.set_registered_model_tag(name, "stage", "beta")
    bearer.delete_registered_model_tag(name, "team")
    bearer.delete_registered_model_tag(name, "never-set")  # MLflow: a no-op
    got = bearer.get_registered_model(name)
    assert got.tags == {"stage": "beta"} and got.description == "second"

    bearer.rename_registered_model(name, name + "-renamed")
    assert bearer.get_registered_model(name + "-renamed").tags == {"stage": "beta"}
    with pytest.raises(MlflowException) as missing:
        bearer.get_registered_model(name)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    bearer.delete_registered_model(name + "-renamed")
    with pytest.raises(MlflowException) as gone:
        bearer.get_registered_model(name + "-renamed")
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_versions_are_created_read_updated_tagged_and_deleted(bearer):
    name = unique("versions")
    bearer.create_registered_model(name)
    first = bearer.create_model_version(
        name, "s3://bucket/model/1", run_id="run-1", tags={"framework": "sklearn"},
        run_link="https://ci.example/run-1", description="v1",
    )
    assert first.version == "1" and first.current_stage == "None" and first.status == "READY"
    assert first.run_id == "run-1" and first.tags == {"framework": "sklearn"}
    assert first.run_link == "https://ci.example/run-1" and first.description == "v1"
    second = bearer.create_model_version(name, "s3://bucket/model/2")
    assert second.version == "2"

    assert bearer.update_model_version(name, "1", description="better").description == "better"
    bearer.set_model_version_tag(name, "1", "accuracy", "0.93")
    bearer.delete_model_version_tag(name, "1", "framework")
    got = bearer.get_model_version(name, "1")
    assert got.tags == {"accuracy": "0.93"} and got.description == "better"
    assert bearer.get_model_version_download_uri(name, "1") == "s3://bucket/model/1"

    bearer.delete_model_version(name, "2")
    with pytest.raises(MlflowException) as gone:
        bearer.get_model_version(name, "2")
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert bearer.create_model_version(name, "s3://bucket/model/3").version == "3"


def test_register_model_twice_on_one_name_adds_version_2(bearer, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", URL)
    mlflow.set_tracking_uri(URL)
    mlflow.set_registry_uri(URL)
    name = unique("registered")
    first = mlflow.register_model("s3://bucket/registered/1", name)
    second = mlflow.register_model("s3://bucket/registered/2", name)
    assert (first.version, second.version) == ("1", "2")
    assert bearer.get_model_version(name, "2").source == "s3://bucket/registered/2"


def test_stages_latest_versions_and_archiving(bearer):
    name = unique("stages")
    bearer.create_registered_model(name)
    for _ in range(3):
        bearer.create_model_version(name, "s3://x/model")
    bearer.transition_model_version_stage(name, "1", "Staging")
    bearer.transition_model_version_stage(name, "1", "Production")
    bearer.transition_model_version_stage(name, "2", "staging")  # any letter case
    moved = bearer.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert bearer.get_model_version(name, "1").current_stage == "Archived"

    latest = {v.current_stage: v.version for v in bearer.get_latest_versions(name)}
    assert latest == {"None": "3", "Production": "2", "Archived": "1"}
    only = bearer.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in only] == ["2"]
    model = bearer.get_registered_model(name)
    assert sorted(v.version for v in model.latest_versions) == ["1", "2", "3"]

    with pytest.raises(MlflowException) as invalid:
        bearer.transition_model_version_stage(name, "3", "Live")
    assert invalid.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as not_active:
        bearer.transition_model_version_stage(name, "3", "Archived", archive_existing_versions=True)
    assert not_active.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as skipping:
        bearer.transition_model_version_stage(name, "3", "Production")
    assert skipping.value.error_code == "INVALID_PARAMETER_VALUE"


def test_aliases(bearer):
    name = unique("aliases")
    bearer.create_registered_model(name)
    bearer.create_model_version(name, "s3://x/model")
    bearer.create_model_version(name, "s3://y/model")
    bearer.set_registered_model_alias(name, "champion", "1")
    bearer.set_registered_model_alias(name, "champion", "2")
    assert bearer.get_model_version_by_alias(name, "champion").version == "2"
    assert bearer.get_registered_model(name).aliases == {"champion": "2"}
    assert bearer.get_model_version(name, "2").aliases == ["champion"]
    for reserved in ["latest", "v1"]:
        with pytest.raises(MlflowException) as refused:
            bearer.set_registered_model_alias(name, reserved, "1")
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    bearer.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException) as gone:
        bearer.get_model_version_by_alias(name, "champion")
    # MLflow 3.17's server: a missing alias is a bad parameter, not a missing resource
    assert gone.value.error_code == "INVALID_PARAMETER_VALUE"
    assert str(gone.value).endswith("Registered model alias champion not found.")


def test_searching_models_pages_through_250_and_filters(bearer):
    prefix = unique("page")
    for i in range(250):
        bearer.create_registered_model(f"{prefix}-{i:03d}", tags={"parity": "even" if i % 2 == 0 else "odd"})
    seen, token = [], None
    while True:
        page = bearer.search_registered_models(
            filter_string=f"name LIKE '{prefix}-%'", max_results=7, page_token=token
        )
        seen.extend(m.name for m in page)
        token = page.token
        if not token:
            break
    assert seen == [f"{prefix}-{i:03d}" for i in range(250)]

    odd = bearer.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%' AND tags.parity = 'odd'", max_results=1000
    )
    assert len(odd) == 125
    newest = bearer.search_registered_models(
        filter_string=f"name ILIKE '{prefix.upper()}-%'", order_by=["timestamp DESC"], max_results=1
    )
    assert newest[0].name == f"{prefix}-249"
    # as MLflow's server: models are not sorted by creation time
    with pytest.raises(MlflowException) as unsorted:
        bearer.search_registered_models(order_by=["creation_timestamp DESC"])
    assert unsorted.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as bad:
        bearer.search_registered_models(filter_string="name = 'x' OR name = 'y'")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as too_many:
        bearer.search_registered_models(max_results=5000)
    assert too_many.value.error_code == "INVALID_PARAMETER_VALUE"


def test_searching_versions_by_name_run_id_source_and_tags(bearer):
    name = unique("search")
    bearer.create_registered_model(name)
    for i in range(1, 6):
        bearer.create_model_version(name, f"s3://search/{i}", run_id=f"run-{i}", tags={"i": str(i)})
    found = bearer.search_model_versions(f"name = '{name}' AND run_id IN ('run-2', 'run-4')")
    assert sorted(v.version for v in found) == ["2", "4"]
    by_source = bearer.search_model_versions(f"name = '{name}' AND source_path LIKE 's3://search/%'")
    assert len(by_source) == 5
    by_tag = bearer.search_model_versions(f"name = '{name}' AND tags.i = '3'")
    assert [v.version for v in by_tag] == ["3"]
    by_number = bearer.search_model_versions(f"name = '{name}' AND version_number >= 4")
    assert sorted(v.version for v in by_number) == ["4", "5"]
    with pytest.raises(MlflowException) as bad:
        bearer.search_model_versions("colour = 'red'")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_transition_that_needs_approval_is_refused_and_never_applied(monkeypatch):
    password = make_user("mlflow-carol", "contributor")
    carol = basic_client(monkeypatch, "mlflow-carol", password)
    name = unique("policy")
    carol.create_registered_model(name)
    carol.create_model_version(name, "s3://x/model")
    carol.transition_model_version_stage(name, "1", "Staging")
    with pytest.raises(MlflowException) as refused:
        carol.transition_model_version_stage(name, "1", "Production")
    assert refused.value.error_code == "PERMISSION_DENIED"
    assert "transition-requests" in refused.value.message
    assert carol.get_model_version(name, "1").current_stage == "Staging"


def test_bearer_and_basic_authentication(monkeypatch):
    password = make_user("mlflow-vic", "viewer")
    # a model only the admin wrote: each client below must read it back
    name = unique("auth")
    created = requests.post(
        f"{URL}/api/v1/models",
        json={"name": name, "description": "read by a viewer", "tags": {"team": "risk"}},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text

    def assert_finds_the_model(client: MlflowClient) -> None:
        found = client.search_registered_models(filter_string=f"name = '{name}'", max_results=10)
        assert [m.name for m in found] == [name]
        assert found[0].description == "read by a viewer"
        assert found[0].tags == {"team": "risk"}

    viewer = basic_client(monkeypatch, "mlflow-vic", password)
    assert_finds_the_model(viewer)
    with pytest.raises(MlflowException) as denied:
        viewer.create_registered_model(unique("viewer"))
    assert denied.value.error_code == "PERMISSION_DENIED"

    wrong = basic_client(monkeypatch, "mlflow-vic", "not-the-password")
    with pytest.raises(MlflowException) as refused:
        wrong.search_registered_models(max_results=1)
    assert refused.value.error_code == "UNAUTHENTICATED"

    for var in AUTH_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", login("mlflow-vic", password))
    token_client = MlflowClient(tracking_uri=URL, registry_uri=URL)
    assert_finds_the_model(token_client)

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "forged.token.value")
    with pytest.raises(MlflowException) as forged:
        MlflowClient(tracking_uri=URL, registry_uri=URL).search_registered_models(max_results=1)
    assert forged.value.error_code == "UNAUTHENTICATED"


def test_both_apis_see_the_same_data(bearer):
    name = unique("shared")
    bearer.create_registered_model(name, tags={"k": "v"})
    bearer.create_model_version(name, "s3://shared/1", run_id="r")
    native = requests.get(
        f"{URL}/api/v1/models/{name}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    ).json()
    assert native["tags"] == {"k": "v"}
    assert native["latest_versions"][0]["version"] == 1
    assert native["latest_versions"][0]["source"] == "s3://shared/1"
    requests.post(
        f"{URL}/api/v1/models/{name}/versions/1/stage",
        json={"stage": "Staging", "comment": "via native"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).raise_for_status()
    assert bearer.get_model_version(name, "1").current_stage == "Staging"
    events = requests.get(
        f"{URL}/api/v1/events", params={"model": name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10,
    ).json()["events"]
    assert [e["event_type"] for e in events] == ["model.created", "version.created", "version.stage_changed"]
    assert {e["actor"] for e in events} == {"admin"}


def test_copy_model_version_registers_the_source_under_another_name(bearer):
    source = unique("copy-src")
    bearer.create_registered_model(source)
    bearer.create_model_version(source, "s3://copy/1", run_id="run-copy", description="original")
    copied = bearer.copy_model_version(f"models:/{source}/1", source + "-dst")
    assert copied.name == source + "-dst" and copied.version == "1"
    assert bearer.get_model_version(source + "-dst", "1").source.startswith("models:/")
