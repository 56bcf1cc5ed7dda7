"""Break-glass leaves a trace (docs/operations.md "Break-glass"): a start-up WARNING, the
ecs_admission_break_glass gauge, and a `break_glass` field in every decision record made while a
server-wide dry-run or fail-open setting is in force; none of the three when the gate is closed."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from ecs_admission.config import Settings
from ecs_admission.engines.failopen import GATE_RULE
from ecs_admission.gate import breakglass
from ecs_admission.report.records import LOGGER_NAME
from ecs_admission.web import create_app
from tests.conftest import example, serving
from tests.web.test_metrics import delta, samples, scrape

DENIED = example("taskdef.json")


def post(client, body, **kwargs):
    return client.post("/v1/admit", data=json.dumps(body), content_type="application/json", **kwargs)


def records(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]


def gauge(scraped: dict[str, float], mode: str) -> float:
    return scraped[f'ecs_admission_break_glass{{mode="{mode}"}}']


def test_active_modes_follow_the_two_settings():
    assert breakglass.active_modes(Settings()) == ()
    assert breakglass.active_modes(Settings(default_mode="dry-run")) == ("dry-run",)
    assert breakglass.active_modes(Settings(failure_policy="ignore")) == ("fail-open",)
    both = Settings.from_env({"ECS_ADMISSION_MODE": "dry-run", "ECS_ADMISSION_FAILURE_POLICY": "ignore"})
    assert breakglass.active_modes(both) == ("dry-run", "fail-open")


def test_closed_gate_leaves_no_break_glass_trace(caplog):
    with caplog.at_level(logging.INFO):
        client = create_app(Settings(auth="none")).test_client()
        assert post(client, DENIED).status_code == 403
    assert not [r for r in caplog.records if "BREAK-GLASS" in r.getMessage()]
    [record] = records(caplog)
    assert "break_glass" not in record
    scraped = scrape(client)
    assert gauge(scraped, "dry-run") == 0 and gauge(scraped, "fail-open") == 0
    assert "break_glass" not in client.get("/readyz").get_json()


def test_server_wide_dry_run_is_announced_measured_and_recorded(caplog):
    with caplog.at_level(logging.INFO):
        client = create_app(Settings(auth="none", default_mode="dry-run")).test_client()
        response = post(client, DENIED)
        enforced = post(client, DENIED, query_string={"dry_run": "false"})
    [warning] = [r for r in caplog.records if "BREAK-GLASS" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "ECS_ADMISSION_MODE=dry-run" in warning.getMessage()
    # The deny is reported and not enforced; the record says why it was let through.
    assert response.status_code == 200 and response.get_json()["allowed"] is False
    assert enforced.status_code == 403
    dry, strict = records(caplog)
    assert (dry["verdict"], dry["enforced"], dry["break_glass"]) == ("deny", False, ["dry-run"])
    # The field names the settings in force, whatever a request asked for.
    assert (strict["enforced"], strict["break_glass"]) == (True, ["dry-run"])
    scraped = scrape(client)
    assert gauge(scraped, "dry-run") == 1 and gauge(scraped, "fail-open") == 0
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["break_glass"] == ["dry-run"]


def test_fail_open_is_announced_counted_and_recorded(tmp_path, caplog):
    settings = Settings(auth="none", policy_dir=tmp_path / "absent", failure_policy="ignore")
    with caplog.at_level(logging.INFO):
        client = create_app(settings).test_client()
        before = scrape(client)
        response = post(client, DENIED)
    assert any("BREAK-GLASS FAIL-OPEN" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert response.status_code == 200 and [w["rule"] for w in response.get_json()["warnings"]] == [GATE_RULE]
    [record] = records(caplog)
    assert record["allowed"] is True and record["warnings"] == [GATE_RULE]
    assert record["break_glass"] == ["fail-open"]
    after = scrape(client)
    assert gauge(after, "fail-open") == 1 and gauge(after, "dry-run") == 0
    assert delta(before, after, 'ecs_admission_fail_open_total{engine="embedded"}') == 1


@pytest.mark.slow
def test_under_gunicorn_every_worker_announces_and_records_it(tmp_path):
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    settings = {"ECS_ADMISSION_MODE": "dry-run", "ECS_ADMISSION_WORKERS": "2"}
    with open(out_path, "w") as out, open(err_path, "w") as err, serving(settings, stdout=out, stderr=err) as served:
        request = urllib.request.Request(
            served.url("/v1/admit"),
            data=json.dumps(DENIED).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        with urllib.request.urlopen(served.url("/metrics"), timeout=10) as response:
            scraped = samples(response.read().decode())
        # livemax across the workers: 1 while any live worker has it on.
        assert gauge(scraped, "dry-run") == 1 and gauge(scraped, "fail-open") == 0
    warnings = [line for line in err_path.read_text().splitlines() if "WARNING" in line and "BREAK-GLASS" in line]
    assert len(warnings) >= 1 and all("ECS_ADMISSION_MODE=dry-run" in line for line in warnings)
    [record] = [json.loads(line) for line in out_path.read_text().splitlines() if line.startswith("{")]
    assert record["break_glass"] == ["dry-run"] and record["enforced"] is False
