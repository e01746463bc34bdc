"""Drives a live modelgate with the Python client generated from openapi/openapi.json.

usage: python generated_client.py BASE_URL ADMIN_PASSWORD
(the generated package `modelgate_client` must be importable)

Logs in, creates a contributor and an approver, registers a model and a
version, stages it, requests Production, approves as the second user, and
reads the latest Production version — asserting every result.
"""

import sys

from modelgate_client import AuthenticatedClient, Client
from modelgate_client.api.auth import create_token, get_me
from modelgate_client.api.models import create_model, get_model
from modelgate_client.api.transition_requests import (
    approve_transition_request,
    create_transition_request,
    get_transition_request,
)
from modelgate_client.api.users import create_user
from modelgate_client.api.versions import (
    create_model_version,
    get_latest_model_version,
    get_model_version_activity,
    transition_model_version_stage,
)
from modelgate_client.models import (
    CreateModelRequest,
    CreateTransitionRequestRequest,
    CreateUserRequest,
    CreateVersionRequest,
    DecisionRequest,
    ErrorBody,
    LoginRequest,
    ModelVersion,
    RegisteredModel,
    RequestStatus,
    Role,
    Stage,
    TokenResponse,
    TransitionRequest,
    TransitionStageRequest,
)


def login(base_url: str, username: str, password: str) -> AuthenticatedClient:
    answer = create_token.sync(
        client=Client(base_url=base_url),
        body=LoginRequest(username=username, password=password),
    )
    assert isinstance(answer, TokenResponse), answer
    assert answer.token_type == "Bearer"
    return AuthenticatedClient(base_url=base_url, token=answer.access_token)


def main(base_url: str, admin_password: str) -> None:
    admin = login(base_url, "admin", admin_password)
    me = get_me.sync(client=admin)
    assert me is not None and me.username == "admin" and me.role == Role.ADMIN, me

    for username, role in [
        ("gen-carol", Role.CONTRIBUTOR),
        ("gen-april", Role.APPROVER),
        ("gen-avery", Role.APPROVER),
    ]:
        user = create_user.sync(
            client=admin,
            body=CreateUserRequest(username=username, password=f"{username}-password", role=role),
        )
        assert not isinstance(user, ErrorBody) and user is not None and user.role == role, user
    carol = login(base_url, "gen-carol", "gen-carol-password")
    april = login(base_url, "gen-april", "gen-april-password")
    avery = login(base_url, "gen-avery", "gen-avery-password")

    model = create_model.sync(
        client=carol,
        body=CreateModelRequest(name="generated-client-model", description="made by the generated client"),
    )
    assert isinstance(model, RegisteredModel) and model.name == "generated-client-model", model

    version = create_model_version.sync(
        name="generated-client-model",
        client=carol,
        body=CreateVersionRequest(source="s3://models/generated/1", run_id="run-1"),
    )
    assert isinstance(version, ModelVersion), version
    assert version.version == 1 and version.current_stage == Stage.NONE, version

    staged = transition_model_version_stage.sync(
        name="generated-client-model",
        version=1,
        client=carol,
        body=TransitionStageRequest(stage=Stage.STAGING),
    )
    assert isinstance(staged, ModelVersion) and staged.current_stage == Stage.STAGING, staged

    # a contributor may not move Staging -> Production directly
    refused = transition_model_version_stage.sync_detailed(
        name="generated-client-model",
        version=1,
        client=carol,
        body=TransitionStageRequest(stage=Stage.PRODUCTION),
    )
    assert refused.status_code == 403, refused
    assert isinstance(refused.parsed, ErrorBody) and refused.parsed.error_code == "APPROVAL_REQUIRED"

    # an approver opens the request: four eyes, so not even an approver may
    # approve a request of their own; a contributor may not approve at all;
    # another approver may
    request = create_transition_request.sync(
        name="generated-client-model",
        version=1,
        client=april,
        body=CreateTransitionRequestRequest(stage=Stage.PRODUCTION, comment="ready"),
    )
    assert isinstance(request, TransitionRequest), request
    assert request.status == RequestStatus.PENDING and request.from_stage == Stage.STAGING, request
    own = approve_transition_request.sync_detailed(id=request.id, client=april, body=DecisionRequest())
    assert own.status_code == 403, own
    assert isinstance(own.parsed, ErrorBody) and own.parsed.error_code == "PERMISSION_DENIED", own
    assert "own request" in own.parsed.message, own.parsed
    by_role = approve_transition_request.sync_detailed(id=request.id, client=carol, body=DecisionRequest())
    assert by_role.status_code == 403, by_role
    still = get_transition_request.sync(id=request.id, client=carol)
    assert isinstance(still, TransitionRequest) and still.status == RequestStatus.PENDING, still
    assert still.approvals == [], still
    approved = approve_transition_request.sync(
        id=request.id, client=avery, body=DecisionRequest(comment="reviewed")
    )
    assert isinstance(approved, TransitionRequest), approved
    assert approved.status == RequestStatus.APPLIED and approved.approvals[0].user == "gen-avery", approved
    again = get_transition_request.sync(id=request.id, client=carol)
    assert isinstance(again, TransitionRequest) and again.status == RequestStatus.APPLIED, again

    latest = get_latest_model_version.sync(
        name="generated-client-model", client=carol, stage=Stage.PRODUCTION
    )
    assert isinstance(latest, ModelVersion), latest
    assert latest.version == 1 and latest.current_stage == Stage.PRODUCTION, latest

    trail = get_model_version_activity.sync(name="generated-client-model", version=1, client=carol)
    assert trail is not None and not isinstance(trail, ErrorBody)
    kinds = [(a.activity_type, a.user) for a in trail.activities]
    assert kinds == [
        ("APPLIED_TRANSITION", "gen-carol"),
        ("REQUESTED_TRANSITION", "gen-april"),
        ("APPROVED_REQUEST", "gen-avery"),
        ("APPLIED_TRANSITION", "gen-avery"),
    ], kinds

    model = get_model.sync(name="generated-client-model", client=carol)
    assert isinstance(model, RegisteredModel), model
    assert [v.current_stage for v in model.latest_versions] == [Stage.PRODUCTION], model

    missing = get_model.sync_detailed(name="no-such-model", client=carol)
    assert missing.status_code == 404 and isinstance(missing.parsed, ErrorBody), missing
    print("generated client: 14 checks passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
