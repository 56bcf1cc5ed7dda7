"""Hostile input: explicit regressions, property-based fuzzing, schemathesis, and a live worker.

Invariants for every request (docs/configuration.md "Limits and hostile input"):
- never a 5xx for bad input (the engine here is healthy, so any 5xx is a bug);
- never an allow for a body that is not a task definition the gate accepts;
- every refusal has the error shape {"error", "detail", "field"};
- the worker survives (the live-server test counts gunicorn's worker boots).

Bounded for CI: example counts are fixed and small, and no test relies on timing.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import time
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecs_admission.config import Settings
from ecs_admission.errors import InputError
from ecs_admission.inputs import normalise, parse_body
from ecs_admission.inputs.parse import MAX_ALIASES, MAX_DEPTH
from ecs_admission.inputs.schema import (
    CONTAINER,
    CONTROL_RE,
    MAX_IMAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_TASK_DEFINITION_BYTES,
    TASK_DEFINITION,
)
from ecs_admission.web import create_app
from tests.conftest import REPO, example, serving

CLEAN = example("taskdef-clean.json")
DENIED = example("taskdef.json")
ENVELOPE = example("envelope.json")
REVIEW = example("admission-review.json")
ERROR_KEYS = {"error", "detail", "field"}

FUZZ = settings(
    max_examples=int(os.environ.get("ECS_ADMISSION_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    database=None,
)


@pytest.fixture(scope="module")
def fuzz_client():
    # Records off: the fuzz suite is about answers, and thousands of record lines only cost time.
    return create_app(Settings(auth="none", decision_log=False)).test_client()


def accepted_by_gate(body: bytes, content_type: str) -> bool:
    """The oracle: does the gate's own parser and normaliser accept this body?"""
    try:
        normalise(parse_body(body, content_type))
    except InputError:
        return False
    return True


def is_allow(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    if document.get("kind") == "AdmissionReview":
        return bool(document.get("response", {}).get("allowed"))
    return document.get("allowed") is True


def check_invariants(response, body: bytes, content_type: str) -> None:
    assert response.status_code < 500, (response.status_code, response.get_data()[:300], body[:300])
    document = response.get_json(silent=True)
    assert isinstance(document, dict), response.get_data()[:200]
    if response.status_code in (400, 405, 413, 415):
        assert set(document) >= ERROR_KEYS, document
        assert document.get("allowed") in (None, False)
    if is_allow(document):
        assert accepted_by_gate(body, content_type), ("allowed a body the gate refuses", body[:300])


def post(client, body: bytes, content_type: str = "application/json", **kwargs):
    return client.post("/v1/admit", data=body, content_type=content_type, **kwargs)


# --- explicit regressions: each of these once answered 500/503 or hung a worker -----------------


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\nfamily: x\ncontainerDefinitions: [{name: a, image: i}]\n"


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        # 72 aliases expand to 9^9 nodes: refused by the element limit before anything copies it.
        (billion_laughs(), "application/yaml", "too_large"),
        ("&a [*a]", "application/yaml", "too_deep"),
        ("a: &a {b: *a}", "application/yaml", "invalid_yaml"),
        (
            "\n".join(f"k{i}: &x{i} 1" for i in range(MAX_ALIASES + 1))
            + "\n"
            + "\n".join(f"r{i}: *x{i}" for i in range(MAX_ALIASES + 1)),
            "application/yaml",
            "invalid_yaml",
        ),
        (
            '{"containerDefinitions": [{"name": "a", "image": "i", "cpu": ' + "9" * 5000 + "}]}",
            "application/json",
            "invalid_json",
        ),
        (
            "family: x\ncontainerDefinitions: [{name: a, image: i, cpu: " + "9" * 5000 + "}]",
            "application/yaml",
            "invalid_yaml",
        ),
        ('{"containerDefinitions": [{"name": "a", "image": "i", "cpu": 1e400}]}', "application/json", "invalid_number"),
        ("containerDefinitions: [{name: a, image: i, cpu: .inf}]", "application/yaml", "invalid_number"),
        (
            '{"containerDefinitions": [{"name": "a", "image": "i", "cpu": ' + str(2**64) + "}]}",
            "application/json",
            "invalid_number",
        ),
        (
            '{"family": "\\ud800", "containerDefinitions": [{"name": "a", "image": "i"}]}',
            "application/json",
            "invalid_encoding",
        ),
        (
            '{"\\udfff": 1, "containerDefinitions": [{"name": "a", "image": "i"}]}',
            "application/json",
            "invalid_encoding",
        ),
        # libyaml refuses the escape itself; PyYAML's pure-Python scanner decodes it and the check refuses it.
        (
            'family: "\\ud800"\ncontainerDefinitions: [{name: a, image: i}]',
            "application/yaml",
            "invalid_yaml" if yaml.__with_libyaml__ else "invalid_encoding",
        ),
        ("family: !!set {a: null}\ncontainerDefinitions: [{name: a, image: i}]", "application/yaml", "invalid_yaml"),
        ("family: !!timestamp x\ncontainerDefinitions: [{name: a, image: i}]", "application/yaml", "invalid_yaml"),
        ("family: !!bool maybe\ncontainerDefinitions: [{name: a, image: i}]", "application/yaml", "invalid_yaml"),
        ("family: !!timestamp 2001-13-45\ncontainerDefinitions: []", "application/yaml", "invalid_yaml"),
        ("family: !!python/object/apply:os.system [id]\ncontainerDefinitions: []", "application/yaml", "invalid_yaml"),
        ("[" * 100_000, "application/json", "too_deep"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "application/json", "too_deep"),
        ("[" + ",".join(["0"] * 250_000) + "]", "application/json", "too_large"),
        (b"\xff\xfe{}", "application/json", "invalid_encoding"),
    ],
    ids=[
        "billion-laughs",
        "self-alias",
        "self-alias-map",
        "too-many-aliases",
        "5000-digit-int-json",
        "5000-digit-int-yaml",
        "infinity-json",
        "infinity-yaml",
        "int-over-64-bits",
        "lone-surrogate",
        "lone-surrogate-key",
        "lone-surrogate-yaml",
        "yaml-set",
        "yaml-bad-timestamp",
        "yaml-bad-bool",
        "yaml-impossible-date",
        "yaml-python-tag",
        "100k-brackets",
        "depth-limit",
        "element-limit",
        "not-utf8",
    ],
)
def test_hostile_body_is_a_400_naming_the_problem(fuzz_client, body, content_type, error):
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    started = time.monotonic()
    response = post(fuzz_client, raw, content_type)
    assert response.status_code == 400, response.get_data()[:300]
    assert response.get_json()["error"] == error
    assert set(response.get_json()) == ERROR_KEYS
    # Not a timing assertion on the gate's speed: a bound that only an exponential blow-up breaks.
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("character", ['"', "\\", "\x00", "\x01", "\n", "\u2028", "\U0001f600", "\ufeff"])
def test_special_characters_reach_the_policies_and_come_back_intact(fuzz_client, character):
    # rego-cpp keeps strings JSON-escaped; unescaped input broke its output (503 for a quote).
    name = f"api{character}x"
    body = {"family": "f", "containerDefinitions": [{"name": name, "image": "i", "privileged": True}]}
    response = post(fuzz_client, json.dumps(body).encode())
    if CONTROL_RE.search(character):
        # Not a name ECS accepts, and engines compare such strings differently: a 400 naming it.
        assert response.status_code == 400 and response.get_json()["field"] == "/containerDefinitions/0/name"
        return
    assert response.status_code == 403, response.get_data()[:300]
    messages = [v["message"] for v in response.get_json()["violations"]]
    assert any(f"container {name} runs privileged" in m for m in messages), messages


def test_quoted_string_equals_the_same_literal_in_a_policy(tmp_path):
    # The escaping must not change meaning: a policy comparing against "a\"b" matches input a"b.
    import shutil

    shutil.copytree(REPO / "rego", tmp_path / "rego")
    (tmp_path / "rego" / "quoted.rego").write_text(
        "package ecs.checks.quoted\nimport rego.v1\n\n"
        'findings contains {"rule": "TEST-QUOTE", "path": "/containerDefinitions", "message": "quoted"} if {\n'
        '\tsome container in input.task_definition.containerDefinitions\n\tcontainer.name == "a\\"b"\n}\n'
    )
    client = create_app(Settings(policy_dir=tmp_path / "rego", auth="none", decision_log=False)).test_client()
    body = {"family": "f", "containerDefinitions": [{"name": 'a"b', "image": "i"}]}
    response = post(client, json.dumps(body).encode())
    assert [v["rule"] for v in response.get_json()["violations"]] == ["TEST-QUOTE"]
    assert (
        post(client, json.dumps({**body, "containerDefinitions": [{"name": "ab", "image": "i"}]}).encode()).status_code
        == 200
    )


def test_oversized_body_is_413_even_without_content_length():
    # A chunked body declares no length: the limit must hold while reading, as gunicorn streams it.
    client = create_app(Settings(max_body_bytes=2048, auth="none", decision_log=False)).test_client()
    body = b'{"family": "' + b"x" * 4096 + b'"}'
    response = client.post(
        "/v1/admit",
        input_stream=io.BytesIO(body),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert set(response.get_json()) == ERROR_KEYS


def test_error_detail_and_field_are_bounded(fuzz_client):
    key = "k" * 100_000
    body = ('{"taskDefinition": {}, "' + key + '": 1}').encode()
    document = post(fuzz_client, body).get_json()
    assert len(document["detail"]) <= 600 and len(document["field"]) <= 600


# --- property-based: random and mutated bodies --------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
# Known field names with their case variants: what a confused or hostile client sends.
TD_FIELDS = sorted(TASK_DEFINITION[1])
CONTAINER_FIELDS = sorted(CONTAINER[1])
field_names = st.sampled_from(TD_FIELDS + CONTAINER_FIELDS).flatmap(
    lambda name: st.sampled_from([name, name.lower(), name.upper(), name.capitalize()])
)
bases = st.sampled_from([CLEAN, DENIED, ENVELOPE, REVIEW, {"taskDefinition": DENIED, "tags": []}])


@st.composite
def mutated_documents(draw) -> Any:
    """A real input shape with one to three fields replaced, removed, or added under another case."""
    document = json.loads(json.dumps(draw(bases)))
    for _ in range(draw(st.integers(1, 3))):
        target = document
        for key in ("request", "object"):
            if isinstance(target, dict) and key in target:
                target = target[key]
        if isinstance(target, dict) and "taskDefinition" in target:
            target = target["taskDefinition"]
        if draw(st.booleans()) and isinstance(target, dict) and target.get("containerDefinitions"):
            containers = target["containerDefinitions"]
            if isinstance(containers, list) and containers and isinstance(containers[0], dict):
                target = containers[0]
        if not isinstance(target, dict):
            break
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        name = draw(field_names)
        if action == "delete" and target:
            target.pop(draw(st.sampled_from(sorted(target))), None)
        else:
            target[name] = draw(json_values)
    return document


def dump(document: Any, fmt: str) -> bytes:
    if fmt == "yaml":
        return yaml.safe_dump(document, allow_unicode=True).encode()
    return json.dumps(document).encode()


@FUZZ
@given(document=mutated_documents(), fmt=st.sampled_from(["json", "yaml"]))
def test_mutated_task_definitions(fuzz_client, document, fmt):
    body = dump(document, fmt)
    content_type = "application/json" if fmt == "json" else "application/yaml"
    check_invariants(post(fuzz_client, body, content_type), body, content_type)


@FUZZ
@given(document=json_values)
def test_arbitrary_json_values(fuzz_client, document):
    body = json.dumps(document).encode()
    response = post(fuzz_client, body)
    check_invariants(response, body, "application/json")
    # A random value is essentially never a task definition (it needs containerDefinitions).
    if not (isinstance(document, dict) and "containerDefinitions" in document):
        assert response.status_code == 400


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/yaml",
        "text/yaml",
        "application/json; charset=latin-1",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
        "application/json\r\nX-Injected: 1".replace("\r\n", " "),
    ]
)


@FUZZ
@given(body=st.binary(max_size=512), content_type=CONTENT_TYPES)
def test_arbitrary_bytes(fuzz_client, body, content_type):
    check_invariants(post(fuzz_client, body, content_type), body, content_type)


yaml_fragments = st.sampled_from(
    [
        "&a x",
        "*a",
        "!!binary aGk=",
        "!!set {a: null}",
        "!!omap [{a: 1}]",
        "!!timestamp 2001-12-14",
        "!!timestamp x",
        "!!bool maybe",
        "!!int zz",
        "!custom x",
        "!!python/name:os.system",
        "<<: {a: 1}",
        "? [a]\n: 1",
        "{a: 1, a: 2}",
        "'\\ud800'",
        '"\\ud800"',
        "0x" + "f" * 30,
        ".nan",
        "-.inf",
        "~",
        "---\n---",
        "%YAML 1.1\n---\n{}",
    ]
)


@FUZZ
@given(fragments=st.lists(yaml_fragments, min_size=1, max_size=5), indent=st.booleans())
def test_adversarial_yaml(fuzz_client, fragments, indent):
    prefix = "family: x\ncontainerDefinitions: [{name: a, image: i}]\n"
    text = prefix + "\n".join(f"f{i}: {f}" if indent else f for i, f in enumerate(fragments))
    body = text.encode("utf-8", "surrogatepass")
    check_invariants(post(fuzz_client, body, "application/yaml"), body, "application/yaml")


@FUZZ
@given(
    dry_run=st.none() | st.text(max_size=8),
    header=st.none() | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8),
    document=st.sampled_from([CLEAN, DENIED]),
)
def test_dry_run_flags(fuzz_client, dry_run, header, document):
    body = json.dumps(document).encode()
    kwargs: dict[str, Any] = {}
    if dry_run is not None:
        kwargs["query_string"] = {"dry_run": dry_run}
    if header is not None:
        kwargs["headers"] = {"X-Dry-Run": header}
    response = post(fuzz_client, body, **kwargs)
    check_invariants(response, body, "application/json")
    if document is DENIED:
        assert response.get_json().get("allowed") is not True


strings = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=64
) | st.sampled_from(["\x00", '"', "\\", "\u202e", "\ufeff", "A" * 70_000, "<IMAGE1_NAME>", "${jndi:ldap://x}"])


@FUZZ
@given(family=strings, name=strings, image=strings, env_name=strings, env_value=strings)
def test_unicode_and_huge_strings_are_judged_not_crashed(fuzz_client, family, name, image, env_name, env_value):
    document = {
        "family": family,
        "containerDefinitions": [
            {"name": name, "image": image, "privileged": True, "environment": [{"name": env_name, "value": env_value}]}
        ],
    }
    body = json.dumps(document).encode()
    response = post(fuzz_client, body)
    check_invariants(response, body, "application/json")
    # A valid, privileged task definition is always denied, whatever its strings hold; a control
    # character in a name, family or image is refused as input ECS would not take either.
    controlled = any(CONTROL_RE.search(text) for text in (family, name, image, env_name))
    # ECS requires a family, a container name and image, and bounds their length and the whole size.
    refused_by_ecs = (
        not (family and name and image)
        or len(family) > MAX_NAME_CHARS.limit
        or len(name) > MAX_NAME_CHARS.limit
        or len(image) > MAX_IMAGE_CHARS.limit
        or len(json.dumps(document, separators=(",", ":"), ensure_ascii=False)) > MAX_TASK_DEFINITION_BYTES.limit
    )
    expected = 400 if controlled or refused_by_ecs else 403
    assert response.status_code == expected, response.get_data()[:300]


# --- schemathesis against the served OpenAPI document --------------------------------------------

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

_schema_app = create_app(Settings(auth="none", decision_log=False))
API = schemathesis.openapi.from_wsgi("/openapi.json", _schema_app)


@API.parametrize()
@settings(
    max_examples=int(os.environ.get("ECS_ADMISSION_SCHEMATHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_conforms_to_its_openapi_document(case):
    response = case.call_and_validate(
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    )
    if case.path == "/v1/admit":
        # The bytes that were sent, as sent (schemathesis serialised them).
        raw = response.request.body or b""
        raw = raw.encode() if isinstance(raw, str) else raw
        content_type = response.request.headers.get("Content-Type", "")
        document = response.json() if "json" in (response.headers.get("content-type") or [""])[0] else None
        if is_allow(document):
            assert accepted_by_gate(raw, content_type), raw[:300]


def test_openapi_document_describes_every_route(client):
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {"/v1/admit", "/healthz", "/readyz", "/v1/policies", "/metrics"} <= set(document["paths"])
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "detail", "field"]
    routes = {rule.rule for rule in client.application.url_map.iter_rules()} - {"/static/<path:filename>"}
    assert routes - {"/openapi.json"} <= set(document["paths"])


# --- a real worker under gunicorn survives a stream of hostile bodies -----------------------------


@pytest.mark.slow
def test_gunicorn_worker_survives_hostile_bodies(tmp_path):
    settings = {"ECS_ADMISSION_DECISION_LOG": "false", "ECS_ADMISSION_MAX_BODY_BYTES": str(256 * 1024)}
    stderr_path = tmp_path / "stderr.log"
    with open(stderr_path, "w") as stderr, serving(settings, stderr=stderr) as served:
        port = served.port
        bodies = hostile_corpus()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        statuses = []
        for body, content_type in bodies:
            connection.request("POST", "/v1/admit", body=body, headers={"Content-Type": content_type})
            response = connection.getresponse()
            payload = response.read()
            statuses.append(response.status)
            assert response.status < 500, (response.status, payload[:200], body[:200])
            # After a 413 the body is still on the wire: gunicorn (gthread, keep-alive) drains at most
            # 64 KiB of it and otherwise closes the connection, as HTTP lets a server do.
            if response.getheader("Connection", "").lower() == "close" or response.status == 413:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # A chunked body declares no length; the limit holds all the same.
        connection.request(
            "POST",
            "/v1/admit",
            body=iter([json.dumps(CLEAN).encode() + b" " * (300 * 1024)]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        chunked = connection.getresponse()
        chunked.read()
        statuses.append(chunked.status)
        assert chunked.status == 413
        connection.close()
        assert len(statuses) == len(bodies) + 1 and 400 in statuses and 200 in statuses and 413 in statuses
    log = stderr_path.read_text()
    # One boot and no timeout or crash: the same worker answered everything.
    assert log.count("Booting worker") == 1, log[-2000:]
    assert "WORKER TIMEOUT" not in log and "Worker exited" not in log


def hostile_corpus() -> list[tuple[bytes, str]]:
    cases: list[tuple[bytes, str]] = [
        (billion_laughs().encode(), "application/yaml"),
        (b"&a [*a]", "application/yaml"),
        (b"[" * 200_000, "application/json"),
        (b'{"a": "' + b"x" * 300_000 + b'"}', "application/json"),  # over the 256 KiB limit: 413
        (b"9" * 5000, "application/json"),
        (b"\xff" * 100, "application/json"),
        (json.dumps(CLEAN).encode(), "application/json"),
        (json.dumps(DENIED).encode(), "application/json"),
        (json.dumps({**CLEAN, "family": '\x00"\\' * 100}).encode(), "application/json"),
        (b'{"family": "\\ud800", "containerDefinitions": [{"name": "a", "image": "i"}]}', "application/json"),
    ]
    variants = [
        {**CLEAN, "containerDefinitions": [{**CLEAN["containerDefinitions"][0], "name": "c" * 20_000}]},
        {**DENIED, "cpu": True},
        {"taskDefinition": CLEAN, "roles": {"x" * 1000: {"trustPolicy": [1]}}},
        {"kind": "AdmissionReview", "apiVersion": "ecs-admission/v1", "request": {"uid": "u", "object": []}},
    ]
    cases += [(json.dumps(v).encode(), "application/json") for v in variants]
    return cases * 5
