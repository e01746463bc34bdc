"""MlflowClient 3.17's webhook methods against a live modelgate, and the
deliveries they cause, checked at a receiver on a random port: every
X-MLflow-Signature is verified with the standardwebhooks package (MLflow signs
`id.timestamp.body` with HMAC-SHA256 under the secret's UTF-8 bytes, the
Standard Webhooks construction, so its verifier takes the secret as bytes and
MLflow's headers under the standard names).

Run by .ci/mlflow (the server there allows http receivers on loopback).
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlflow import MlflowClient
from mlflow.entities.webhook import WebhookEvent, WebhookStatus
from mlflow.exceptions import MlflowException
from standardwebhooks.webhooks import Webhook as Verifier

from test_mlflow_client import ADMIN_TOKEN, AUTH_VARS, URL

SECRET = "mlflow-style secret, any text"


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def deliveries(self, path, secret=SECRET):
        """What reached `path`, each signature verified (a bad one fails)."""
        with self.lock:
            seen = [s for s in self.seen if s[0] == path]
        out = []
        for _, headers, body in seen:
            if secret:
                mapped = {
                    "webhook-id": headers["x-mlflow-delivery-id"],
                    "webhook-timestamp": headers["x-mlflow-timestamp"],
                    "webhook-signature": headers["x-mlflow-signature"],
                }
                Verifier(secret.encode("utf-8")).verify(body, mapped)
            else:
                assert "x-mlflow-signature" not in headers
            out.append((headers, body))
        return out

    def wait(self, path, count, secret=SECRET):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = self.deliveries(path, secret)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.deliveries(path, secret))} of {count} deliveries in 30 s")


@pytest.fixture(scope="module")
def receiver():
    return Receiver()


@pytest.fixture
def client(monkeypatch):
    for var in AUTH_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(tracking_uri=URL, registry_uri=URL)


def test_webhook_crud_through_the_mlflow_client(client, receiver):
    hook = client.create_webhook(
        name="registry-events",
        url=f"{receiver.url}/crud",
        events=["model_version.created", WebhookEvent("model_version_tag", "set")],
        description="deploy on new versions",
        secret=SECRET,
    )
    assert hook.webhook_id and hook.name == "registry-events"
    assert [str(e) for e in hook.events] == ["model_version.created", "model_version_tag.set"]
    assert hook.status == WebhookStatus.ACTIVE and hook.description == "deploy on new versions"
    assert hook.secret is None
    assert hook.creation_timestamp > 0

    fetched = client.get_webhook(hook.webhook_id)
    assert fetched.url == hook.url and fetched.events == hook.events
    assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks()]

    updated = client.update_webhook(hook.webhook_id, status="DISABLED", description="paused")
    assert updated.status == WebhookStatus.DISABLED and updated.description == "paused"
    assert updated.last_updated_timestamp >= hook.last_updated_timestamp

    # the test endpoint sends MLflow's example payload, disabled or not
    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200 and result.response_body == "ok"
    headers, body = receiver.wait("/crud", 1)[0]
    sent = json.loads(body)
    assert (sent["entity"], sent["action"]) == ("model_version", "created")
    assert sent["data"]["name"] == "example_model" and sent["data"]["version"] == "1"
    assert b'", "' in body and b'": "' in body, "Python's json.dumps spacing"
    result = client.test_webhook(hook.webhook_id, event="model_version_tag.set")
    assert result.success

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException, match=f"Webhook with ID {hook.webhook_id} not found"):
        client.get_webhook(hook.webhook_id)


def test_pages_of_webhooks_newest_first(client, receiver):
    ids = [
        client.create_webhook(name=f"page-{i}", url=f"{receiver.url}/pages",
                              events=["registered_model.created"], status="DISABLED").webhook_id
        for i in range(3)
    ]
    first = client.list_webhooks(max_results=2)
    assert len(first) == 2 and first.token
    rest = client.list_webhooks(max_results=2, page_token=first.token)
    listed = [w.webhook_id for w in first] + [w.webhook_id for w in rest]
    assert listed[:3] == ids[::-1], "newest first"
    for webhook_id in ids:
        client.delete_webhook(webhook_id)


def test_bad_webhooks_are_refused(client, receiver):
    with pytest.raises(MlflowException, match="Webhook name 'no spaces' is invalid"):
        client.create_webhook(name="no spaces", url=f"{receiver.url}/x", events=["model_version.created"])
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        client.create_webhook(name="bad-url", url="ftp://example.com/x", events=["model_version.created"])
    with pytest.raises(MlflowException, match="not found"):
        client.update_webhook("no-such-id", description="x")
    with pytest.raises(MlflowException, match="max_results must be between 1 and 1000"):
        client.list_webhooks(max_results=5000)


def test_registry_events_arrive_signed_in_mlflow_shapes(client, receiver):
    hook = client.create_webhook(
        name="everything",
        url=f"{receiver.url}/events",
        events=["registered_model.created", "model_version.created", "model_version_tag.set",
                "model_version_tag.deleted", "model_version_alias.created",
                "model_version_alias.deleted"],
        secret=SECRET,
    )
    unsigned = client.create_webhook(name="unsigned", url=f"{receiver.url}/unsigned",
                                      events=["registered_model.created"])
    client.create_registered_model("hooked", description="")
    client.create_model_version("hooked", "s3://bucket/hooked/1", run_id="run-1",
                                tags={"team": "risk"}, description="first")
    client.set_model_version_tag("hooked", "1", "validated", "yes")
    client.delete_model_version_tag("hooked", "1", "validated")
    client.set_registered_model_alias("hooked", "champion", "1")
    client.delete_registered_model_alias("hooked", "champion")
    client.transition_model_version_stage("hooked", "1", "Staging")  # MLflow has no event for it

    got = receiver.wait("/events", 6)
    time.sleep(0.5)
    got = receiver.deliveries("/events")
    bodies = [json.loads(body) for _, body in got]
    assert [(b["entity"], b["action"]) for b in bodies] == [
        ("registered_model", "created"), ("model_version", "created"), ("model_version_tag", "set"),
        ("model_version_tag", "deleted"), ("model_version_alias", "created"),
        ("model_version_alias", "deleted"),
    ]
    assert list(bodies[0]) == ["entity", "action", "timestamp", "data"]
    assert bodies[0]["data"] == {"name": "hooked", "tags": {}, "description": ""}
    assert bodies[1]["data"] == {"name": "hooked", "version": "1", "source": "s3://bucket/hooked/1",
                                 "run_id": "run-1", "tags": {"team": "risk"}, "description": "first"}
    assert bodies[2]["data"] == {"name": "hooked", "version": "1", "key": "validated", "value": "yes"}
    assert bodies[3]["data"] == {"name": "hooked", "version": "1", "key": "validated"}
    assert bodies[4]["data"] == {"name": "hooked", "alias": "champion", "version": "1"}
    assert bodies[5]["data"] == {"name": "hooked", "alias": "champion"}
    assert bodies[0]["timestamp"].endswith("+00:00")
    ids = [headers["x-mlflow-delivery-id"] for headers, _ in got]
    assert len(set(ids)) == 6 and all(len(i) == 36 for i in ids), ids
    assert all(int(headers["x-mlflow-timestamp"]) > 1_700_000_000 for headers, _ in got)

    # without a secret, no signature
    plain = receiver.wait("/unsigned", 1, secret=None)
    assert json.loads(plain[0][1])["data"]["name"] == "hooked"
    client.delete_webhook(hook.webhook_id)
    client.delete_webhook(unsigned.webhook_id)
