"""Hostile input against a real gunicorn server: each class of the red-team run (issue 12), replayed.

One server for the module (tests/web/hostile.py, as for test_hostile_bounds.py), configured as a
hardened production gate would be, except that it fails open (ECS_ADMISSION_FAILURE_POLICY=ignore):
then any input that could make the engine fail would come back allowed, so "nothing unsound is
allowed" is checked where it is hardest to keep. Every request asserts:
- no 5xx, except a fail-closed 503 that says allowed: false;
- an answer within BUDGET seconds, bodies at the size limits included;
- nothing allowed unless it is a sound task definition (the oracle in tests/web/hostile.py, written
  from ECS's rules, not from the gate's code);
and at the end, the worker never timed out or restarted, and no secret reached stderr.

A summary table (requests and worst time per class) is written at the end of the module; set
ECS_ADMISSION_HOSTILE_REPORT=path to also get it as JSON (docs/hardening.md quotes it).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from contextlib import closing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecs_admission.web.auth import sign
from tests.web.hostile import (
    BUDGET,
    CLEAN,
    DANGEROUS,
    HYPOTHESIS,
    ROLE,
    SIGNING_SECRET,
    STATS,
    TOKEN,
    TRUST,
    admit,
    raw,
    send,
    sound,
)

# --- strings that hold JSON: role documents, one parser, one set of limits ---------------------------

POISON = {
    "nan": TRUST.replace('"Allow"', '"Allow", "Sid": NaN'),
    "infinity": TRUST.replace('"Allow"', '"Allow", "Sid": -Infinity'),
    "1e400": TRUST.replace('"Allow"', '"Allow", "Sid": 1e400'),
    "2**70": TRUST.replace('"Allow"', f'"Allow", "Sid": {2**70}'),
    "duplicate key": TRUST.replace('"Allow"', '"Allow", "Effect": "Deny"'),
    "lone surrogate": TRUST.replace('"Allow"', '"Allow", "Sid": "\\ud800"'),
    "deep": '{"Statement": ' + "[" * 5000 + "]" * 5000 + "}",
    "4301 digits": TRUST.replace('"Allow"', '"Allow", "Sid": ' + "9" * 4301),
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_role_documents_as_strings_meet_the_body_limits(gate, name):
    body = {"taskDefinition": CLEAN, "roles": {ROLE: {"trustPolicy": POISON[name]}}}
    status, answer = admit(gate, "json in strings", body)
    assert status == 400, answer
    assert answer["field"] == f"/roles/{ROLE.replace('/', '~1')}/trustPolicy", answer


# --- caller input never reaches the fail-open path ----------------------------------------------------

SURROGATE_TRICKS = {
    "family escape": json.dumps(DANGEROUS).replace('"escape"', '"\\ud800"'),
    "key escape": json.dumps(DANGEROUS).replace('"networkMode"', '"\\udfff": 1, "networkMode"'),
    "role string": json.dumps(
        {
            "taskDefinition": {**DANGEROUS, "taskRoleArn": ROLE},
            "roles": {ROLE: {"trustPolicy": POISON["lone surrogate"]}},
        }
    ),
    "role object": json.dumps(
        {"taskDefinition": DANGEROUS, "roles": {ROLE: {"trustPolicy": {"Statement": []}}}}
    ).replace('"Statement"', '"\\udbff"'),
    "context": json.dumps({"taskDefinition": DANGEROUS, "context": {"cluster": "x"}}).replace('"x"', '"\\ud83d"'),
    "review uid": json.dumps(
        {"apiVersion": "ecs-admission/v1", "kind": "AdmissionReview", "request": {"uid": "u", "object": DANGEROUS}}
    ).replace('"u"', '"\\udc00"'),
}


@pytest.mark.parametrize("trick", sorted(SURROGATE_TRICKS))
def test_failure_policy_ignore_never_allows_a_dangerous_task_by_breaking_the_engine(gate, trick):
    status, answer = send(gate, "fail-open tricks", SURROGATE_TRICKS[trick].encode())
    assert status == 400, answer
    assert answer.get("allowed") is not True and "response" not in answer


def test_the_dangerous_task_is_denied_when_sent_plainly(gate):
    status, answer = send(gate, "fail-open tricks", json.dumps(DANGEROUS).encode())
    assert status == 403 and answer["allowed"] is False and "ECS-ISO-002" in {v["rule"] for v in answer["violations"]}


# --- ECS's own quotas and required fields ---------------------------------------------------------


def containers(count: int, **extra: Any) -> list[dict]:
    return [{"name": f"c{i}", "image": f"nginx:1.{i}", **extra} for i in range(count)]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"containerDefinitions": [{}]}, "/containerDefinitions/0/name"),
        ({"family": "f", "containerDefinitions": [{"name": "a"}]}, "/containerDefinitions/0/image"),
        ({"family": "f", "containerDefinitions": [{"image": "i"}]}, "/containerDefinitions/0/name"),
        ({"containerDefinitions": containers(1)}, "/family"),
        ({"family": "", "containerDefinitions": containers(1)}, "/family"),
        ({"family": "f", "containerDefinitions": []}, "/containerDefinitions"),
        ({"family": "f", "containerDefinitions": containers(11)}, "/containerDefinitions"),
        ({"family": "f", "containerDefinitions": containers(1000)}, "/containerDefinitions"),
        ({"family": "f" * 256, "containerDefinitions": containers(1)}, "/family"),
        ({"family": "f", "containerDefinitions": containers(1), "tags": [{"key": "k"}] * 51}, "/tags"),
    ],
)
def test_ecs_quotas_and_required_fields_are_400_naming_the_field(gate, document, field):
    status, answer = admit(gate, "quotas and required fields", document)
    assert status == 400 and answer["field"] == field, answer


def test_a_task_definition_at_ecs_size_limit_is_judged_in_time(gate):
    """10 containers and 64 KiB, the most ECS registers: mostly environment entries, the largest list."""
    document = {"family": "wide", "containerDefinitions": containers(10)}
    for container in document["containerDefinitions"]:
        container["environment"] = [{"name": f"V{i}", "value": "x" * 8} for i in range(170)]
        container["mountPoints"] = [{"sourceVolume": "v", "containerPath": f"/m{i}"} for i in range(20)]
    document["volumes"] = [{"name": "v"}]
    while len(json.dumps(document, separators=(",", ":"))) > 65_536:
        for container in document["containerDefinitions"]:
            container["environment"].pop()
    size = len(json.dumps(document, separators=(",", ":")))
    assert 60_000 < size <= 65_536, size
    status, answer = admit(gate, "size limit", document)
    assert status in (200, 403), answer
    document["containerDefinitions"][0]["environment"].append({"name": "MORE", "value": "x" * 4000})
    status, answer = admit(gate, "size limit", document)
    assert status == 400 and answer["error"] == "limit_exceeded" and answer["field"] == "/", answer


def test_a_body_at_the_size_limit_is_answered_in_time(gate):
    # 1 MiB (ECS_ADMISSION_MAX_BODY_BYTES' default) of JSON: parsed, then refused for ECS's 64 KiB.
    filler = [{"name": f"V{i}", "value": "x" * 40} for i in range(14_600)]
    document = {"family": "f", "containerDefinitions": [{**containers(1)[0], "environment": filler}]}
    while len(json.dumps(document)) > 1024 * 1024:
        filler.pop()
    assert len(json.dumps(document)) > 1000 * 1024
    status, answer = send(gate, "size limit", json.dumps(document).encode())
    assert status == 400 and answer["error"] == "limit_exceeded", answer
    status, _ = send(gate, "size limit", json.dumps(document).encode() + b" " * 50_000)
    assert status == 413


# --- YAML: linear, behind a pre-scan ------------------------------------------------------------------

YAML_BODIES = {
    "nested flow 8 KB": "[" + ",".join(["[" * 20 + "a" + "]" * 20] * 190) + "]",
    "nested flow 40 KB": "[" + ",".join(["[" * 30 + "a" + "]" * 30] * 640) + "]",
    "nested flow at node limit": "[" + ",".join(["[" * 24 + "a" + "]" * 24] * 799) + "]",  # 19,976 nodes
    "flat list 800 KB": "".join(f"- item{i}\n" for i in range(80_000)),
    "deep block": "".join(" " * i + "a:\n" for i in range(200)),
    "deep flow": "[" * 100_000,
    "billion laughs": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)),
}


@pytest.mark.parametrize("name", sorted(YAML_BODIES))
def test_hostile_yaml_is_refused_in_time(gate, name):
    status, answer = send(gate, "yaml", YAML_BODIES[name].encode(), "application/yaml")
    assert status in (400, 413), answer


def test_yaml_keeps_refusing_duplicate_keys(gate):
    body = "family: a\nfamily: b\ncontainerDefinitions:\n- {name: a, image: i}\n"
    status, answer = send(gate, "yaml", body.encode(), "application/yaml")
    assert status == 400 and "duplicate key" in answer["detail"]


# --- framing -----------------------------------------------------------------------------------------

CHUNKED = (
    b"POST /v1/admit HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
    + f"Authorization: Bearer {TOKEN}\r\n".encode()
    + b"Transfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"-5\r\n{}\r\n0\r\n\r\n", b"5\r\n{}\r\n0\r\n\r\n", b"ffffffffffffffffffffffff\r\n{}"],
    ids=["size zz", "size -5", "short chunk", "huge size"],
)
def test_malformed_chunked_bodies_are_400_and_free_the_thread(gate, chunks):
    # The sender's own answer may wait for the read deadline (a huge chunk size is a stall), so it
    # is tallied apart; everyone else's answers are the "framing" class.
    status, head = raw(gate, "framing: the sender's own answer", CHUNKED + chunks)
    assert status == 400, head
    # The worker is free at once for everyone else.
    status, _ = send(gate, "framing", json.dumps(CLEAN).encode())
    assert status == 200


def test_non_ascii_digit_in_the_signature_timestamp_is_401(gate):
    body = json.dumps(CLEAN).encode()
    for stamp in ("¹", "١٢٣", "12 3", "-5", "1" * 13):
        headers = {"Authorization": "", "X-Ecs-Admission-Signature": sign(SIGNING_SECRET, stamp, body)}
        connection = http.client.HTTPConnection("127.0.0.1", gate.port, timeout=10)
        headers["X-Ecs-Admission-Timestamp"] = stamp.encode().decode("latin-1")
        del headers["Authorization"]
        started = time.perf_counter()
        connection.request("POST", "/v1/admit", body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        response.read()
        connection.close()
        STATS.add("signature timestamp", time.perf_counter() - started, response.status)
        assert response.status == 401, stamp


# --- slow clients cannot starve the others --------------------------------------------------------------


def test_sixteen_stalled_clients_do_not_starve_health_or_decisions(gate):
    stalled = []
    try:
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", gate.port), timeout=10)
            sock.sendall(
                b"POST /v1/admit HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {TOKEN}\r\n".encode()
                + b"Content-Length: 1000\r\n\r\n0123456789"
            )
            stalled.append(sock)
        # Probe for longer than the read timeout: the stalled ones are dropped meanwhile, and probes
        # made while they still hold their threads must be answered too.
        deadline = time.monotonic() + 2.5
        probes = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            with closing(http.client.HTTPConnection("127.0.0.1", gate.port, timeout=10)) as connection:
                connection.request("GET", "/healthz")
                health = connection.getresponse()
                health.read()
            STATS.add("16 stalled clients", time.perf_counter() - started, health.status)
            assert health.status == 200 and time.perf_counter() - started < BUDGET
            status, _ = send(gate, "16 stalled clients", json.dumps(CLEAN).encode())
            assert status == 200
            probes += 1
        assert probes >= 3
        # The stalled requests were answered (408/400) or dropped at the read deadline, not held.
        for sock in stalled:
            sock.settimeout(2)
            assert sock.recv(4096)[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 408", b"")
    finally:
        for sock in stalled:
            sock.close()


def test_a_client_that_stops_mid_headers_loses_its_thread_at_the_deadline(gate):
    sockets = [socket.create_connection(("127.0.0.1", gate.port), timeout=5) for _ in range(24)]
    try:
        for sock in sockets:
            sock.sendall(b"POST /v1/admit HTTP/1.1\r\nHost: ga")  # headers never finished
        status, _ = send(gate, "16 stalled clients", json.dumps(CLEAN).encode())  # while they hold threads
        assert status == 200
        time.sleep(1.5)  # past the 1 s read deadline: their threads are back
        started = time.perf_counter()
        status, _ = send(gate, "16 stalled clients", json.dumps(CLEAN).encode())
        assert status == 200 and time.perf_counter() - started < BUDGET
    finally:
        for sock in sockets:
            sock.close()


# --- logs are masked, gunicorn's own included -------------------------------------------------------------


# The module's server checks, when it stops, that this test's access line is there and masked.
SENDS_CREDENTIALS_IN_HEADERS = True


def test_credentials_in_headers_do_not_reach_the_logs(gate):
    # The module fixture reads stderr at the end and asserts none of these appear.
    with closing(http.client.HTTPConnection("127.0.0.1", gate.port, timeout=10)) as connection:
        connection.request("GET", "/healthz", headers={"User-Agent": "AKIAIOSFODNN7EXAMPLE"})
        assert connection.getresponse().status == 200
    for header in (
        b"Bad Header: Bearer hostileBearerSecret123\r\n",
        b"Authorization: Bearer hostileBearerSecret123\x01\r\n",
        b"X-Token\x7f: Bearer hostileBearerSecret123\r\n",
    ):
        status, _ = raw(gate, "log masking", b"GET /healthz HTTP/1.1\r\nHost: gate\r\n" + header + b"\r\n")
        assert status in (200, 400)
    status, _ = send(gate, "log masking", b"{}", Authorization="Bearer hostileBearerSecret123")
    assert status == 403


# --- property-based: around each class ------------------------------------------------------------------

scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=20), st.sampled_from(["NaN", "1e400"])
)
container = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["", "a", "web", "x" * 300]),
        "image": st.sampled_from(["", "nginx:1.27", "<IMAGE1_NAME>", "i" * 400]),
        "privileged": st.booleans(),
        "essential": st.booleans(),
        "environment": st.lists(st.fixed_dictionaries({"name": st.text(max_size=5), "value": scalar}), max_size=3),
    },
)
sound_container = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "web"]), "image": st.sampled_from(["nginx:1.27", "<IMAGE1_NAME>"])},
    optional={"privileged": st.booleans(), "essential": st.booleans(), "user": st.sampled_from(["0", "1000:1000"])},
)
task_definition = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "family": st.sampled_from(["", "f", "payments", "f" * 300]),
            "networkMode": st.sampled_from(["awsvpc", "host", "bridge"]),
            "containerDefinitions": st.lists(container, max_size=13),
            "tags": st.lists(st.fixed_dictionaries({"key": st.just("k"), "value": st.just("v")}), max_size=52),
        },
    ),
    # Near the limits but sound: judged (200/403), never refused for what ECS accepts.
    st.fixed_dictionaries(
        {
            "family": st.sampled_from(["f", "f" * 255]),
            "containerDefinitions": st.lists(sound_container, min_size=1, max_size=10),
        },
        optional={"networkMode": st.sampled_from(["awsvpc", "host", "bridge"])},
    ),
)
# Text-level poison spliced into a valid body: what a JSON encoder would never write.
POISON_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", str(2**64), '"\\ud800"', '"\\udfff"', "[" * 100 + "]" * 100]


@HYPOTHESIS
@given(document=task_definition)
def test_generated_task_definitions(gate, document):
    status, answer = admit(gate, "generated task definitions", document)
    if not sound(document):
        assert status == 400, answer
        return
    containers = document["containerDefinitions"]
    names = [c["name"] for c in containers]
    refusals = set()  # the errors a refusal may name, whichever check comes first
    if over_ecs_limits(document):
        refusals.add("limit_exceeded")
    if any(not isinstance(v.get("value"), str | None) for c in containers for v in c.get("environment", [])):
        # An environment value is a string (null is dropped, as AWS drops it); beyond 64 bits is refused
        # while parsing, as any integer that large is.
        refusals.update(("invalid_input", "invalid_number"))
    if refusals:
        assert status == 400 and answer["error"] in refusals, answer
    elif len(set(names)) == len(names):
        assert status in (200, 403), answer


def over_ecs_limits(document: dict[str, Any]) -> bool:
    """Past what ECS's API model allows: family and container names of 255 characters, an image of 255
    plus a 71-character digest, 50 tags."""
    containers = document["containerDefinitions"]
    return (
        len(document["family"]) > 255
        or any(len(c["name"]) > 255 or len(c["image"]) > 255 + 71 for c in containers)
        or len(document.get("tags", [])) > 50
    )


@pytest.mark.parametrize("token", POISON_TOKENS)
@pytest.mark.parametrize("where", ["family", "tag", "role document"])
def test_poison_in_every_place(gate, token, where):
    document = {**CLEAN, "family": "FAMILYMARK", "tags": [{"key": "k", "value": "TAGMARK"}]}
    trust = TRUST.replace('"Allow"', '"Allow", "Sid": SIDMARK')
    text = json.dumps({"taskDefinition": document, "roles": {ROLE: {"trustPolicy": trust}}})
    if where == "family":
        body = text.replace('"FAMILYMARK"', token).replace("SIDMARK", "1")
    elif where == "tag":
        body = text.replace('"TAGMARK"', token).replace("SIDMARK", "1")
    else:
        body = text.replace("SIDMARK", json.dumps(token)[1:-1])
    status, answer = send(gate, "json in strings", body.encode())
    assert status == 400, (body[:300], answer)


@HYPOTHESIS
@given(
    size=st.one_of(st.text("0123456789abcdefxyz-+ ;", min_size=1, max_size=30), st.integers(0, 2**96).map(hex)),
    data=st.binary(max_size=40),
)
def test_generated_chunk_framing(gate, size, data):
    body = CHUNKED + size.encode() + b"\r\n" + data + b"\r\n0\r\n\r\n"
    status, head = raw(gate, "framing: the sender's own answer", body)
    assert status != 0 or head == b"", head  # an answer, or the connection closed at the deadline
    assert not 500 <= status < 600 or status == 503, head


@HYPOTHESIS
@given(depth=st.integers(1, 120), width=st.integers(1, 400), flow=st.booleans())
def test_generated_yaml_nesting(gate, depth, width, flow):
    if flow:
        body = "[" + ",".join(["[" * depth + "a" + "]" * depth] * width) + "]"
    else:
        body = "".join(" " * level + f"k{level}:\n" for level in range(depth)) + " " * depth + "v\n"
    status, answer = send(gate, "yaml", body.encode(), "application/yaml")
    assert status in (400, 413), answer


def test_concurrent_decisions_stay_correct(gate):
    """Threads serve decisions side by side: each answer is still its own request's verdict."""
    results: dict[int, int] = {}

    def one(index: int) -> None:
        document = DANGEROUS if index % 2 else CLEAN
        results[index], _ = send(gate, "concurrent decisions", json.dumps(document).encode())

    threads = [threading.Thread(target=one, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {index: 403 if index % 2 else 200 for index in range(8)}
