"""GET /metrics: what was decided, how fast, what failed; aggregated across gunicorn workers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from ecs_admission import metrics
from ecs_admission.config import Settings
from ecs_admission.web import create_app
from tests.conftest import REPO, example, serving

CLEAN = example("taskdef-clean.json")
DENIED = example("taskdef.json")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def samples(text: str) -> dict[str, float]:
    """name{labels} -> value, labels sorted so lookups do not depend on their order."""
    result: dict[str, float] = {}
    for line in text.splitlines():
        match = SAMPLE_RE.match(line)
        if not match:
            continue
        name, labels, value = match.groups()
        if labels:
            parts = sorted(re.findall(r'(\w+)="([^"]*)"', labels))
            name += "{" + ",".join(f'{k}="{v}"' for k, v in parts) + "}"
        result[name] = float(value)
    return result


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def delta(before: dict[str, float], after: dict[str, float], key: str) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


def post(client, body, **kwargs):
    return client.post("/v1/admit", data=json.dumps(body), content_type="application/json", **kwargs)


def test_decisions_rules_latency_and_refusals_are_counted(client):
    before = scrape(client)
    post(client, CLEAN)
    post(client, DENIED)
    post(client, DENIED, query_string={"dry_run": "true"})
    post(client, {"containerDefinitions": "web"})
    client.post("/v1/admit", data="{}", content_type="text/plain")
    after = scrape(client)
    assert delta(before, after, 'ecs_admission_decisions_total{engine="embedded",mode="enforce",verdict="allow"}') == 1
    assert delta(before, after, 'ecs_admission_decisions_total{engine="embedded",mode="enforce",verdict="deny"}') == 1
    assert delta(before, after, 'ecs_admission_decisions_total{engine="embedded",mode="dry-run",verdict="deny"}') == 1
    assert delta(before, after, 'ecs_admission_rule_findings_total{outcome="violation",rule="ECS-ISO-002"}') == 2
    assert delta(before, after, 'ecs_admission_decision_duration_seconds_count{engine="embedded"}') == 3
    assert delta(before, after, 'ecs_admission_engine_duration_seconds_count{engine="embedded"}') == 3
    assert delta(before, after, 'ecs_admission_input_rejected_total{error="invalid_input"}') == 1
    assert delta(before, after, 'ecs_admission_input_rejected_total{error="unsupported_media_type"}') == 1
    assert delta(before, after, 'ecs_admission_http_responses_total{route="/v1/admit",status="403"}') == 1
    # Every family is there from the start, so dashboards and alerts see zeros, not gaps.
    for family in ("iam_cache_hits_total", "iam_cache_misses_total", "fail_open_total", "policy_reloads_total"):
        assert f"ecs_admission_{family.rsplit('_total', 1)[0]}" in client.get("/metrics").get_data(as_text=True)


def test_engine_errors_are_counted(tmp_path):
    import shutil

    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    (directory / "broken.rego").write_text("package ecs.checks.broken\nimport rego.v1\nfindings := {x | x := \n")
    client = create_app(Settings(policy_dir=directory, auth="none")).test_client()
    before = scrape(client)
    assert post(client, CLEAN).status_code == 503
    after = scrape(client)
    assert delta(before, after, 'ecs_admission_engine_errors_total{engine="embedded"}') == 1
    assert delta(before, after, 'ecs_admission_decisions_total{engine="embedded",mode="enforce",verdict="error"}') == 1


def test_auth_failures_are_counted():
    import hashlib

    client = create_app(Settings(token_hashes=(("ci", hashlib.sha256(b"t").hexdigest()),))).test_client()
    before = scrape_with(client, "t")
    post(client, CLEAN)
    post(client, CLEAN, headers={"Authorization": "Bearer wrong"})
    after = scrape_with(client, "t")
    assert delta(before, after, 'ecs_admission_auth_failures_total{reason="missing"}') == 1
    assert delta(before, after, 'ecs_admission_auth_failures_total{reason="invalid"}') == 1


def scrape_with(client, token: str) -> dict[str, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return samples(response.get_data(as_text=True))


def test_api_for_other_modules(client):
    before = scrape(client)
    metrics.iam_cache_hit()
    metrics.iam_cache_hit(2)
    metrics.iam_cache_miss()
    metrics.fail_open("opa")
    after = scrape(client)
    assert delta(before, after, "ecs_admission_iam_cache_hits_total") == 3
    assert delta(before, after, "ecs_admission_iam_cache_misses_total") == 1
    assert delta(before, after, 'ecs_admission_fail_open_total{engine="opa"}') == 1


def test_importing_metrics_does_not_fix_prometheus_mode():
    # The gunicorn master imports this package before it sets PROMETHEUS_MULTIPROC_DIR.
    code = (
        "import ecs_admission.metrics, ecs_admission.web.server, ecs_admission.cli.commands, sys; "
        "print('prometheus_client' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_dead_workers_gauges_are_dropped(tmp_path):
    # child_exit -> mark_process_dead: a dead worker's live gauge files go, counters stay.
    code = textwrap.dedent(
        """
        import json, os
        from ecs_admission import metrics
        metrics.reload_failing(True)
        metrics.decision("allow", "enforce", "embedded", 0.001)
        directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        before = sorted(os.listdir(directory))
        metrics.mark_process_dead(os.getpid())
        print(json.dumps({"pid": os.getpid(), "before": before, "after": sorted(os.listdir(directory))}))
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    )
    gauge, counter = f"gauge_livemax_{result['pid']}.db", f"counter_{result['pid']}.db"
    assert gauge in result["before"]
    assert gauge not in result["after"] and counter in result["after"]


@pytest.mark.slow
def test_metrics_are_aggregated_across_gunicorn_workers():
    # serving() leaves PROMETHEUS_MULTIPROC_DIR out: serve makes its own.
    with serving({"ECS_ADMISSION_WORKERS": "2", "ECS_ADMISSION_DECISION_LOG": "false"}) as served:
        port = served.port
        total = 40
        for index in range(total):
            body = json.dumps(DENIED if index % 2 else CLEAN).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/admit?dry_run=true",
                data=body,
                headers={"Content-Type": "application/json", "Connection": "close"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        # Whichever worker answers the scrape, it reports both workers' decisions.
        for _ in range(4):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                scraped = samples(response.read().decode())
            allow = scraped.get('ecs_admission_decisions_total{engine="embedded",mode="dry-run",verdict="allow"}')
            deny = scraped.get('ecs_admission_decisions_total{engine="embedded",mode="dry-run",verdict="deny"}')
            assert (allow, deny) == (total / 2, total / 2)
