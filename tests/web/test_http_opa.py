"""The HTTP decision tests again, with ECS_ADMISSION_OPA_URL pointing at OPA (real binary or stand-in).

The test functions are test_http.py's own, collected a second time here with `client` bound to
an app whose engine is the OPA sidecar engine: same requests, same assertions.
"""

from __future__ import annotations

import json

import pytest

from ecs_admission.config import Settings
from ecs_admission.web import create_app
from tests.web.test_http import (
    CLEAN,
    post,
    test_admission_review_denied_is_200_with_status_403,
    test_admission_review_dry_run_allows_with_warnings,
    test_admission_review_with_invalid_object_answers_in_kind,
    test_bad_dry_run_value_is_400,
    test_codedeploy_placeholders_are_tolerated_and_role_placeholder_warns,
    test_denied_task_definition_is_403_with_actionable_reasons,
    test_describe_output_is_unwrapped,
    test_dry_run_three_ways_same_verdict_not_enforced,
    test_envelope_with_roles_and_context,
    test_health_ready_and_policies,
    test_invalid_input_is_400_naming_the_field,
    test_yaml_body,
)

__all__ = [
    "test_admission_review_denied_is_200_with_status_403",
    "test_admission_review_dry_run_allows_with_warnings",
    "test_admission_review_with_invalid_object_answers_in_kind",
    "test_bad_dry_run_value_is_400",
    "test_codedeploy_placeholders_are_tolerated_and_role_placeholder_warns",
    "test_denied_task_definition_is_403_with_actionable_reasons",
    "test_describe_output_is_unwrapped",
    "test_dry_run_three_ways_same_verdict_not_enforced",
    "test_envelope_with_roles_and_context",
    "test_health_ready_and_policies",
    "test_invalid_input_is_400_naming_the_field",
    "test_yaml_body",
]


@pytest.fixture(scope="module")
def opa_app(opa_server):
    return create_app(Settings(auth="none", iam_lookup="off", opa_url=opa_server.url))


@pytest.fixture()
def client(opa_app):
    return opa_app.test_client()


@pytest.fixture(scope="module")
def embedded_client(app):
    return app.test_client()


def test_allowed_on_opa_names_the_engine_and_bundle_revision(client, embedded_client, opa_server):
    response = post(client, CLEAN)
    assert response.status_code == 200
    body = response.get_json()
    assert body["allowed"] is True and body["violations"] == []
    # Same policy directory, same revision, whichever engine decided.
    embedded = post(embedded_client, CLEAN).get_json()
    assert body["policy"]["engine"] == "opa" and embedded["policy"]["engine"] == "embedded"
    assert body["policy"]["revision"] == embedded["policy"]["revision"] == opa_server.revision
    if opa_server.kind == "standin":  # real OPA returns decision_id only with decision logging on
        assert body["policy"]["decision_id"]


@pytest.mark.parametrize("name", ["taskdef.json", "taskdef-clean.json", "envelope.json", "admission-review.json"])
def test_same_response_as_embedded_engine(client, embedded_client, name):
    from tests.conftest import EXAMPLES

    raw = (EXAMPLES / name).read_text()
    on_opa, on_embedded = post(client, raw), post(embedded_client, raw)
    assert on_opa.status_code == on_embedded.status_code

    def comparable(body):
        body = json.loads(json.dumps(body))
        decision = body.get("response", {}).get("decision", body)
        for key in ("decision_id", "duration_ms", "policy"):
            decision.pop(key, None)
        return body

    assert comparable(on_opa.get_json()) == comparable(on_embedded.get_json())


def test_readyz_reports_the_bundle_revision(client, opa_server):
    body = client.get("/readyz").get_json()
    assert body == {"status": "ready", "engine": "opa", "revision": opa_server.revision}
