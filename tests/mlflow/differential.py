"""Differential test: one model-registry scenario through the real MLflow client
against a real MLflow tracking server and against modelgate, compared field by field.

Run by .ci/mlflow-differential (which starts both servers):

    python differential.py --mlflow-url URL --modelgate-url URL \
        --admin-password PASSWORD [--allow FILE] [--report FILE] [--verbose]

Every step runs the same call on both servers, MLflow's first. For each call it
records
  - `client`: what MlflowClient returned (entities as protobuf JSON through
    `to_proto()` + `MessageToDict`, page lists as {items, next_page_token}) or
    the exception it raised ({exception, error_code, message});
  - `wire`: every HTTP exchange the call made ({method, endpoint, http_status,
    body}), the raw JSON the server sent (this is where "" vs an absent field
    shows), captured by wrapping mlflow.utils.rest_utils.http_request;
and steps marked REST call the endpoints directly with `requests` (things the
client cannot send: a non-integer version, a missing parameter, ...).

Normalization: timestamps (`creation_timestamp`, `last_updated_timestamp`) ->
"<ts>", non-empty `user_id` -> "<user>", non-empty `run_link` -> "<run_link>",
non-empty page tokens -> "<token>" (presence, type and "" are kept, so a field
one server sends and the other omits still shows). List order is kept.

A difference is (call, path, MLflow's value, modelgate's value). Entries of the
allow file, [{"call": ..., "path": ..., "reason": ...}], suppress known ones:
`call` is matched (fnmatch) against the call's name or "name(args)", `path`
(fnmatch) against the path. Exit 1 if any difference is not allowed.
"""

import argparse
import fnmatch
import json
import os
import re
import sys
import time

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import requests  # noqa: E402
import mlflow.utils.rest_utils as rest_utils  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

API = "/api/2.0/mlflow"
ABSENT = "<absent>"
RUN_A = "0123456789abcdef0123456789abcdef"
RUN_B = "fedcba9876543210fedcba9876543210"

# ---------------------------------------------------------------- capture

_capture = None  # the list the current side's HTTP exchanges go to
_original_http_request = rest_utils.http_request


def _json_or_text(response):
    try:
        return response.json()
    except ValueError:
        return {"<non-json body>": response.text[:300]}


def _capturing_http_request(host_creds, endpoint, method, *args, **kwargs):
    response = _original_http_request(host_creds, endpoint, method, *args, **kwargs)
    if _capture is not None:
        _capture.append({
            "method": method,
            "endpoint": endpoint,
            "http_status": response.status_code,
            "body": _json_or_text(response),
        })
    return response


rest_utils.http_request = _capturing_http_request


class Side:
    """One server: a client, a raw REST helper, and per-side state (page tokens)."""

    def __init__(self, label, url, token=None):
        self.label = label
        self.url = url.rstrip("/")
        self.token = token
        self.client = MlflowClient(tracking_uri=self.url, registry_uri=self.url)
        self.state = {}

    def rest(self, method, path, params=None, json_body=None, data=None, headers=None):
        all_headers = {}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if headers:
            all_headers.update(headers)
        response = requests.request(
            method, f"{self.url}{API}{path}", params=params, json=json_body, data=data,
            headers=all_headers, timeout=30,
        )
        exchange = {"method": method, "endpoint": f"{API}{path}",
                    "http_status": response.status_code, "body": _json_or_text(response)}
        if _capture is not None:
            _capture.append(exchange)
        return {"http_status": response.status_code, "body": exchange["body"]}


# ---------------------------------------------------------------- results


def to_plain(value):
    """A client result as JSON-able data."""
    if value is None:
        return None
    if hasattr(value, "token") and isinstance(value, list):  # PagedList
        return {"items": [to_plain(v) for v in value], "next_page_token": value.token}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if hasattr(value, "to_proto"):
        return MessageToDict(value.to_proto(), preserving_proto_field_name=True)
    if isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def run_on(side, fn):
    global _capture
    _capture = []
    try:
        try:
            result = {"client": to_plain(fn(side))}
        except MlflowException as error:
            result = {"client": {"exception": "MlflowException", "error_code": error.error_code,
                                 "message": error.message}}
        except Exception as error:  # noqa: BLE001 - record whatever the client raised
            result = {"client": {"exception": type(error).__name__, "message": str(error)}}
        result["wire"] = _capture
        return result
    finally:
        _capture = None


MASK_TS = {"creation_timestamp", "last_updated_timestamp", "timestamp"}
MASK_NONEMPTY = {"user_id": "<user>", "run_link": "<run_link>",
                 "next_page_token": "<token>", "token": "<token>"}


def normalize(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in MASK_TS and isinstance(item, (int, str)) and item not in ("", None):
                out[key] = "<ts>"
            elif key in MASK_NONEMPTY and isinstance(item, str) and item != "":
                out[key] = MASK_NONEMPTY[key]
            else:
                out[key] = normalize(item)
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def _canon(value):
    return json.dumps(value, sort_keys=True)


def _ident(item):
    """The identity of a list element that is an entity, else None."""
    if isinstance(item, dict):
        for keys in (("name", "version"), ("key",), ("alias",), ("name",)):
            if all(k in item for k in keys):
                return "/".join(str(item[k]) for k in keys)
    return None


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            diff(a.get(key, ABSENT), b.get(key, ABSENT), f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        ids_a, ids_b = [_ident(x) for x in a], [_ident(x) for x in b]
        if a and b and None not in ids_a + ids_b and len(set(ids_a)) == len(a) \
                and len(set(ids_b)) == len(b):
            # entities: compare which ones and in what order, then each by identity
            if ids_a != ids_b:
                kind = "ordering" if sorted(ids_a) == sorted(ids_b) else "list members"
                out.append((path, ids_a, ids_b, kind))
            by_id = dict(zip(ids_b, b))
            for ident, item in zip(ids_a, a):
                if ident in by_id:
                    diff(item, by_id[ident], f"{path}[{ident}]", out)
            return
        if len(a) == len(b) and a != b and sorted(map(_canon, a)) == sorted(map(_canon, b)):
            out.append((path, a, b, "ordering"))
            return
        for i in range(max(len(a), len(b))):
            diff(a[i] if i < len(a) else ABSENT, b[i] if i < len(b) else ABSENT, f"{path}[{i}]", out)
    elif a != b or type(a) is not type(b):
        out.append((path, a, b, classify(path, a, b)))


def classify(path, a, b):
    leaf = path.rsplit(".", 1)[-1]
    if ABSENT in (a, b):
        other = b if a == ABSENT else a
        if other in ("", [], {}):
            return '"" vs absent'
        return "missing/extra field"
    if leaf == "http_status":
        return "HTTP status"
    if leaf == "error_code":
        return "error code"
    if leaf == "message":
        return "error message"
    if leaf in ("exception",):
        return "exception type"
    return "value"


# ---------------------------------------------------------------- scenario

STEPS = []


def step(name, args, fn):
    STEPS.append((name, args, fn))


def c(method, *args, **kwargs):
    """A client call: step name = method name, args printed."""
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    step(method, shown, lambda side: getattr(side.client, method)(*args, **kwargs))


def r(method, path, params=None, json_body=None, data=None, headers=None, label=None):
    """A raw REST call."""
    shown = f"{method} {path}" + (f" params={params}" if params is not None else "") \
        + (f" json={json_body}" if json_body is not None else "") \
        + (f" data={data!r}" if data is not None else "") \
        + (f" headers={headers}" if headers else "")
    # the exchange is recorded in `wire`; `client` stays null
    step(label or f"REST {method} {path}", shown,
         lambda side: side.rest(method, path, params, json_body, data, headers) and None)


def paged(method, state_key, page, **kwargs):
    """Page `page` (1-based) of a search, each server following its own tokens."""
    def fn(side):
        token = None
        if page > 1:
            token = side.state.get(state_key)
            if not token:
                return {"<no page>": "previous page had no next_page_token"}
        result = getattr(side.client, method)(page_token=token, **kwargs)
        side.state[state_key] = result.token
        return result
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + f", page {page} (own page_token)"
    step(method, shown, fn)


def scenario():
    # --- registered models: create, read, errors
    c("create_registered_model", "diff-alpha", tags={"team": "risk", "tier": "gold"},
      description="first model")
    c("create_registered_model", "diff-beta", description="")
    c("create_registered_model", "diff-gamma", tags={"team": "ops", "blank": ""})
    c("create_registered_model", "Diff-Delta")
    c("create_registered_model", "diff-alpha")  # duplicate
    c("create_registered_model", "diff-alpha", description="again", tags={"x": "y"})  # duplicate
    c("create_registered_model", "")  # empty name
    c("get_registered_model", "diff-alpha")
    c("get_registered_model", "diff-beta")
    c("get_registered_model", "diff-gamma")
    c("get_registered_model", "no-such-model")
    c("update_registered_model", "diff-beta", description="now described")
    c("update_registered_model", "diff-beta", description="")
    c("get_registered_model", "diff-beta")
    c("update_registered_model", "no-such-model", description="x")
    # --- registered model tags
    c("set_registered_model_tag", "diff-gamma", "env", "prod")
    c("set_registered_model_tag", "diff-gamma", "empty", "")
    c("set_registered_model_tag", "diff-gamma", "team", "platform")  # overwrite
    c("get_registered_model", "diff-gamma")
    c("delete_registered_model_tag", "diff-gamma", "env")
    c("delete_registered_model_tag", "diff-gamma", "never-set")
    c("delete_registered_model_tag", "no-such-model", "x")
    c("set_registered_model_tag", "no-such-model", "k", "v")
    c("get_registered_model", "diff-gamma")

    # --- model versions
    c("create_model_version", "diff-alpha", "s3://bucket/alpha/1", run_id=RUN_A,
      tags={"stage": "candidate"}, description="v1")
    c("create_model_version", "diff-alpha", "s3://bucket/alpha/2", run_id=RUN_B, description="")
    c("create_model_version", "diff-alpha", "s3://bucket/alpha/3")
    c("create_model_version", "diff-alpha", "s3://bucket/alpha/4", tags={"a": "1", "b": ""},
      run_link="http://tracking.example/runs/4")
    c("create_model_version", "diff-gamma", "s3://bucket/gamma/1", run_id=RUN_A)
    c("create_model_version", "no-such-model", "s3://bucket/none/1")
    c("create_model_version", "diff-gamma", "")  # empty source
    c("get_model_version", "diff-alpha", "1")
    c("get_model_version", "diff-alpha", "2")
    c("get_model_version", "diff-alpha", "4")
    c("get_model_version", "diff-alpha", "99")
    c("get_model_version", "diff-alpha", "0")
    c("get_model_version", "no-such-model", "1")
    r("GET", "/model-versions/get", params={"name": "diff-alpha", "version": "abc"})
    r("GET", "/model-versions/get", params={"name": "diff-alpha", "version": "-1"})
    r("GET", "/model-versions/get", params={"name": "diff-alpha", "version": "1.5"})
    r("GET", "/model-versions/get", params={"name": "diff-alpha"})
    c("update_model_version", "diff-alpha", "2", description="second")
    c("update_model_version", "diff-alpha", "3", description="")
    c("update_model_version", "diff-alpha", "99", description="x")
    # --- model version tags
    c("set_model_version_tag", "diff-alpha", "1", "reviewed", "yes")
    c("set_model_version_tag", "diff-alpha", "1", "empty", "")
    c("set_model_version_tag", "diff-alpha", "99", "k", "v")
    c("delete_model_version_tag", "diff-alpha", "1", "stage")
    c("delete_model_version_tag", "diff-alpha", "1", "never-set")
    c("delete_model_version_tag", "diff-alpha", "99", "k")
    c("get_model_version", "diff-alpha", "1")

    # --- stages
    c("transition_model_version_stage", "diff-alpha", "1", "Staging")
    c("transition_model_version_stage", "diff-alpha", "2", "staging")  # letter case
    c("transition_model_version_stage", "diff-alpha", "1", "Production",
      archive_existing_versions=False)
    c("transition_model_version_stage", "diff-alpha", "2", "Production",
      archive_existing_versions=False)  # two in Production
    c("get_latest_versions", "diff-alpha")
    c("get_latest_versions", "diff-alpha", stages=["Production"])
    c("get_latest_versions", "diff-alpha", stages=["Staging", "None"])
    c("get_latest_versions", "diff-alpha", stages=["production"])
    c("get_latest_versions", "diff-alpha", stages=["Bogus"])
    c("get_latest_versions", "no-such-model")
    r("GET", "/registered-models/get-latest-versions",
      params={"name": "diff-alpha", "stages": ["Production", "None"]})
    c("get_registered_model", "diff-alpha")
    c("transition_model_version_stage", "diff-alpha", "3", "Production",
      archive_existing_versions=True)  # archives 1 and 2
    c("search_model_versions", "name='diff-alpha'")
    c("transition_model_version_stage", "diff-alpha", "1", "Archived")  # already Archived
    c("transition_model_version_stage", "diff-alpha", "2", "None")
    c("transition_model_version_stage", "diff-alpha", "4", "Archived",
      archive_existing_versions=True)  # not an active stage
    r("POST", "/model-versions/transition-stage",
      json_body={"name": "diff-alpha", "version": "4", "stage": "Archived",
                 "archive_existing_versions": True})  # the answer the client cannot show
    c("transition_model_version_stage", "diff-alpha", "4", "None")  # already None
    c("transition_model_version_stage", "diff-alpha", "4", "Bogus")
    c("transition_model_version_stage", "diff-alpha", "99", "Staging")
    c("transition_model_version_stage", "no-such-model", "1", "Staging")
    c("transition_model_version_stage", "diff-gamma", "1", "Production")  # None -> Production
    c("transition_model_version_stage", "diff-alpha", "4", "Staging",
      archive_existing_versions=True)  # nothing to archive
    r("POST", "/model-versions/transition-stage",
      json_body={"name": "diff-alpha", "version": "4", "stage": "Archived"})  # no archive flag
    c("get_registered_model", "diff-alpha")

    # --- aliases
    c("set_registered_model_alias", "diff-alpha", "champion", "3")
    c("set_registered_model_alias", "diff-alpha", "challenger", "4")
    c("set_registered_model_alias", "diff-alpha", "challenger", "2")  # move
    c("set_registered_model_alias", "diff-alpha", "ghost", "99")
    c("set_registered_model_alias", "diff-alpha", "latest", "1")
    c("set_registered_model_alias", "diff-alpha", "v2", "1")
    c("set_registered_model_alias", "no-such-model", "a", "1")
    c("get_model_version_by_alias", "diff-alpha", "champion")
    c("get_model_version_by_alias", "diff-alpha", "missing")
    c("get_model_version_by_alias", "no-such-model", "champion")
    c("get_registered_model", "diff-alpha")
    c("get_model_version", "diff-alpha", "2")
    c("delete_registered_model_alias", "diff-alpha", "challenger")
    c("delete_registered_model_alias", "diff-alpha", "missing")
    c("delete_registered_model_alias", "no-such-model", "champion")
    c("get_model_version_by_alias", "diff-alpha", "challenger")

    # --- download URI and copy
    c("get_model_version_download_uri", "diff-alpha", "1")
    c("get_model_version_download_uri", "diff-alpha", "99")
    c("copy_model_version", "models:/diff-alpha/1", "diff-copy")
    c("copy_model_version", "models:/diff-alpha/4", "diff-copy")
    c("copy_model_version", "models:/diff-alpha/99", "diff-copy")
    c("get_model_version", "diff-copy", "1")
    c("get_model_version_download_uri", "diff-copy", "1")
    c("get_registered_model", "diff-copy")
    r("POST", "/model-versions/create",
      json_body={"name": "diff-copy", "source": "models:/diff-alpha/2"})
    r("GET", "/model-versions/get-download-uri", params={"name": "diff-copy", "version": "3"})

    # --- search registered models
    c("search_registered_models")
    c("search_registered_models", filter_string="name = 'diff-alpha'")
    c("search_registered_models", filter_string="name LIKE 'diff-%'")
    c("search_registered_models", filter_string="name ILIKE 'diff-%'")
    c("search_registered_models", filter_string="name != 'diff-alpha'")
    c("search_registered_models", filter_string="tags.team = 'risk'")
    c("search_registered_models", filter_string="tags.`team` = 'platform'")
    c("search_registered_models", filter_string="name LIKE 'diff-%' AND tags.team = 'ops'")
    c("search_registered_models", filter_string="tags.blank = ''")
    c("search_registered_models", order_by=["name ASC"])
    c("search_registered_models", order_by=["name DESC"])
    c("search_registered_models", order_by=["last_updated_timestamp DESC"])
    c("search_registered_models", order_by=["timestamp ASC"])
    c("search_registered_models", order_by=["creation_timestamp DESC"])
    for page in range(1, 8):
        paged("search_registered_models", "rm", page, max_results=1, order_by=["name ASC"])
    for page in range(1, 5):
        paged("search_registered_models", "rm2", page, max_results=2)
    c("search_registered_models", filter_string="name = ")
    c("search_registered_models", filter_string="foo = 'bar'")
    c("search_registered_models", filter_string="name = 'a' OR name = 'b'")
    c("search_registered_models", filter_string="name > 'a'")
    c("search_registered_models", max_results=1001)
    c("search_registered_models", max_results=0)
    c("search_registered_models", order_by=["bogus ASC"])
    c("search_registered_models", order_by=["name ASC", "name DESC"])
    r("GET", "/registered-models/search", params={"order_by": ["name ASC", "name DESC"]})
    c("search_registered_models", page_token="not-a-token")
    r("GET", "/registered-models/search", params={"max_results": "-1"})
    r("GET", "/registered-models/search", params={"max_results": "abc"})

    # --- search model versions
    c("search_model_versions")
    c("search_model_versions", "name='diff-alpha'")
    c("search_model_versions", f"run_id = '{RUN_A}'")
    c("search_model_versions", f"run_id IN ('{RUN_A}', '{RUN_B}')")
    c("search_model_versions", "source_path = 's3://bucket/alpha/3'")
    c("search_model_versions", "source_path LIKE 's3://bucket/alpha/%'")
    c("search_model_versions", "tags.reviewed = 'yes'")
    c("search_model_versions", "name = 'diff-alpha' AND version_number > 2")
    c("search_model_versions", "version_number >= 2 AND name = 'diff-alpha'")
    c("search_model_versions", "name ILIKE 'DIFF-%'")
    c("search_model_versions", order_by=["version_number DESC"])
    c("search_model_versions", order_by=["version_number ASC"])
    c("search_model_versions", order_by=["creation_timestamp DESC"])
    c("search_model_versions", order_by=["last_updated_timestamp DESC"])
    c("search_model_versions", order_by=["name ASC", "version_number DESC"])
    for page in range(1, 7):
        paged("search_model_versions", "mv", page, filter_string="name LIKE 'diff-%'",
              max_results=2)
    c("search_model_versions", "bogus = 1")
    c("search_model_versions", "name = ")
    c("search_model_versions", order_by=["bogus DESC"])
    c("search_model_versions", max_results=0)
    c("search_model_versions", max_results=200001)

    # --- rename
    c("rename_registered_model", "diff-beta", "diff-alpha")  # to existing name
    c("rename_registered_model", "diff-gamma", "diff-gamma2")
    c("get_registered_model", "diff-gamma")
    c("get_model_version", "diff-gamma", "1")
    c("get_model_version", "diff-gamma2", "1")
    c("get_registered_model", "diff-gamma2")
    c("rename_registered_model", "no-such-model", "x")
    c("rename_registered_model", "diff-beta", "")
    c("rename_registered_model", "diff-beta", "diff-beta")  # to itself

    # --- deletes
    c("delete_model_version", "diff-alpha", "3")  # in Production, has alias champion
    c("get_model_version", "diff-alpha", "3")
    c("delete_model_version", "diff-alpha", "3")
    c("get_registered_model", "diff-alpha")
    c("get_model_version_by_alias", "diff-alpha", "champion")
    c("create_model_version", "diff-alpha", "s3://bucket/alpha/5")  # number not reused
    c("search_model_versions", "name='diff-alpha'")
    c("get_latest_versions", "diff-alpha")
    c("delete_registered_model", "diff-beta")
    c("delete_registered_model", "diff-beta")
    c("get_registered_model", "diff-beta")
    c("delete_registered_model", "no-such-model")
    c("delete_model_version", "no-such-model", "1")

    # --- raw REST: required parameters, body shapes, endpoints
    r("GET", "/registered-models/get", params={})
    r("GET", "/registered-models/get", params={"name": "diff-alpha"})
    r("POST", "/registered-models/create", json_body={})
    r("POST", "/registered-models/create", json_body={"name": "diff-raw", "tags": [{"key": "k"}]})
    r("POST", "/registered-models/create", data="name=diff-form",
      headers={"Content-Type": "application/x-www-form-urlencoded"})
    r("POST", "/registered-models/create", data="{not json",
      headers={"Content-Type": "application/json"})
    r("POST", "/model-versions/create", json_body={"name": "diff-alpha"})
    r("POST", "/registered-models/set-tag", json_body={"name": "diff-alpha", "key": "k"})
    r("DELETE", "/registered-models/delete-tag", json_body={"name": "diff-alpha", "key": "tier"})
    r("POST", "/registered-models/alias",
      json_body={"name": "diff-alpha", "alias": "prod", "version": "1"})
    r("GET", "/registered-models/alias", params={"name": "diff-alpha", "alias": "prod"})
    r("DELETE", "/registered-models/alias", json_body={"name": "diff-alpha", "alias": "prod"})
    r("PATCH", "/registered-models/update", json_body={"name": "diff-alpha"})
    r("PATCH", "/model-versions/update", json_body={"name": "diff-alpha", "version": "1"})
    r("GET", "/model-versions/search", params={"filter": "name='diff-alpha'", "max_results": "1"})
    r("GET", "/registered-models/nope")
    r("PUT", "/registered-models/create", json_body={"name": "diff-put"})
    r("GET", "/registered-models/list")

    # --- edge cases last, so that a version one server accepts and the other
    # refuses changes nothing above
    c("create_registered_model", "diff-edge")
    # sources MLflow validates (a model of their own: versions one side accepts
    # would shift the other model's version numbers)
    c("create_registered_model", "diff-sources")
    c("create_model_version", "diff-sources", "/tmp/local/model")  # local path without run
    c("create_model_version", "diff-sources", "runs:/abc123/model")  # runs:/ without run_id
    c("create_model_version", "diff-sources", "s3://bucket/../etc/passwd")  # relative path
    c("create_model_version", "diff-sources", "file:///tmp/model", run_id=RUN_A)
    c("create_model_version", "diff-sources", "models:/diff-alpha/99")  # missing source version
    c("create_registered_model", "diff/slash")
    c("create_registered_model", "diff-" + "n" * 300)
    c("set_registered_model_tag", "diff-edge", "k" * 300, "v")
    c("set_registered_model_tag", "diff-edge", "", "v")
    c("set_registered_model_tag", "diff-edge", "big", "v" * 6000)
    c("create_model_version", "diff-edge", "s3://bucket/edge/1")
    c("set_model_version_tag", "diff-edge", "1", "", "v")
    c("set_registered_model_alias", "diff-edge", "bad alias!", "1")
    c("set_registered_model_alias", "diff-edge", "a" * 300, "1")
    c("set_registered_model_alias", "diff-edge", "Champion", "1")
    c("get_model_version_by_alias", "diff-edge", "champion")  # case of alias names
    c("search_registered_models", filter_string="tags.team != 'risk'")
    c("search_model_versions", "name = 'diff-edge' AND tags.missing != 'x'")
    c("update_registered_model", "diff-edge", description="d" * 6000)
    c("delete_model_version", "diff-edge", "1")
    c("delete_model_version_tag", "diff-edge", "1", "k")  # on a deleted version
    c("get_latest_versions", "diff-edge")
    c("get_registered_model", "diff-edge")


# ---------------------------------------------------------------- main


def login(url, password):
    answer = requests.post(f"{url.rstrip('/')}/api/v1/auth/token",
                           json={"username": "admin", "password": password}, timeout=30)
    answer.raise_for_status()
    return answer.json()["access_token"]


def show(value):
    return json.dumps(value, sort_keys=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mlflow-url", required=True)
    parser.add_argument("--modelgate-url", required=True)
    parser.add_argument("--admin-password", default=os.environ.get("MODELGATE_ADMIN_PASSWORD"))
    parser.add_argument("--allow", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "differential_allow.json"))
    parser.add_argument("--report", help="write every call and difference here as JSON")
    parser.add_argument("--verbose", action="store_true", help="print identical calls too")
    args = parser.parse_args()

    with open(args.allow) as f:
        allow = json.load(f)
    used = [0] * len(allow)

    token = login(args.modelgate_url, args.admin_password)
    # the client reads the token per request; MLflow's server ignores it
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.pop(var, None)
    mlflow_side = Side("mlflow", args.mlflow_url, token)
    gate_side = Side("modelgate", args.modelgate_url, token)

    scenario()
    counts = {"calls": 0, "identical": 0, "allowed": 0, "different": 0}
    by_kind = {}
    report = []
    started = time.monotonic()
    for index, (name, shown, fn) in enumerate(STEPS, 1):
        a = normalize(run_on(mlflow_side, fn))
        b = normalize(run_on(gate_side, fn))
        time.sleep(0.005)  # distinct millisecond timestamps between steps
        differences = []
        diff(a, b, "", differences)
        counts["calls"] += 1
        key = f"{name}({shown})"
        rows = []
        for path, va, vb, kind in differences:
            path = path.lstrip(".")
            reason = None
            for i, entry in enumerate(allow):
                if (fnmatch.fnmatchcase(name, entry["call"]) or fnmatch.fnmatchcase(key, entry["call"])) \
                        and fnmatch.fnmatchcase(path, entry["path"]):
                    reason = entry.get("reason", "")
                    used[i] += 1
                    break
            rows.append({"path": path, "mlflow": va, "modelgate": vb, "kind": kind,
                         "allowed": reason})
            if reason is None:
                by_kind.setdefault(kind, []).append((index, key, path, va, vb))
        if not rows:
            status = "identical"
        elif all(row["allowed"] is not None for row in rows):
            status = "allowed"
        else:
            status = "different"
        counts[status] += 1
        report.append({"index": index, "call": name, "args": shown, "status": status,
                       "mlflow": a, "modelgate": b, "differences": rows})
        if status == "identical" and not args.verbose:
            continue
        print(f"\n=== [{index}] {key}: {status.upper()}")
        if status != "identical":
            print(f"  MLflow:    {show(a)}")
            print(f"  modelgate: {show(b)}")
        for row in rows:
            tag = f"allowed: {row['allowed']}" if row["allowed"] is not None else row["kind"]
            print(f"  - {row['path']} [{tag}]\n      MLflow:    {show(row['mlflow'])}"
                  f"\n      modelgate: {show(row['modelgate'])}")

    elapsed = time.monotonic() - started
    # the same difference (kind, path without indices, both values) seen in several calls
    groups = {}
    for kind, rows in by_kind.items():
        for index, key, path, va, vb in rows:
            generic = re.sub(r"^wire\[\]\.body\.", "wire.", re.sub(r"\[[^\]]*\]", "[]", path))
            values = ("", "") if kind in ("ordering", "list members") else (show(va), show(vb))
            group = groups.setdefault((kind, generic) + values, [])
            group.append((index, key, path, va, vb))
    print("\n==================== distinct differences not allowed, by kind")
    for kind in sorted(by_kind):
        print(f"\n--- {kind}")
        for (gkind, generic, _, _), rows in groups.items():
            if gkind != kind:
                continue
            index, key, path, va, vb = rows[0]
            calls = sorted({row[0] for row in rows})
            print(f"  {generic}: {len(rows)}x in {len(calls)} calls {calls[:15]}"
                  f"{' ...' if len(calls) > 15 else ''}\n      e.g. [{index}] {key}\n"
                  f"      {path}: MLflow {show(va)} | modelgate {show(vb)}")
    for i, entry in enumerate(allow):
        if not used[i]:
            print(f"\nnote: allow-list entry matched nothing: {show(entry)}")
    print(f"\nsummary: {counts['calls']} calls, {counts['identical']} identical, "
          f"{counts['allowed']} allowed, {counts['different']} different "
          f"({sum(len(v) for v in by_kind.values())} differences not allowed, {len(groups)} distinct) "
          f"in {elapsed:.1f} s")
    if args.report:
        with open(args.report, "w") as f:
            json.dump({"counts": counts, "calls": report}, f, indent=1, sort_keys=True)
    return 1 if counts["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
