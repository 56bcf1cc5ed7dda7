"""Rego print() output is redacted and bounded per evaluation (issue 21 row 10)."""

from __future__ import annotations

import logging
import shutil

from ecs_admission.engines.embedded import EmbeddedEngine
from ecs_admission.engines.prints import MAX_LINES, redact_print
from ecs_admission.policy.loader import load_policy_set
from tests.conftest import REPO

PRINTING = """package ecs.checks.printing
import rego.v1

findings contains finding if {
\tsome container in input.task_definition.containerDefinitions
\tprint(container.environment)
\tsome i in numbers.range(1, 500)
\tprint("line", i, "x" * 0, concat("", [container.name | true]))
\tfalse
\tfinding := {}
}
"""


def test_print_output_masks_environment_values_and_is_bounded(tmp_path, caplog):
    directory = tmp_path / "rego"
    shutil.copytree(REPO / "rego", directory)
    (directory / "printing.rego").write_text(PRINTING.replace(' "x" * 0,', ""))
    engine = EmbeddedEngine(load_policy_set(directory))
    document = {
        "task_definition": {
            "family": "p",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "environment": [{"name": "DB_PASSWORD", "value": "hunter2-plain-value"}],
                }
            ],
        },
        "task_roles": {},
        "context": {},
        "source": "register",
        "placeholders": [],
        "now": "2026-01-01T00:00:00Z",
    }
    with caplog.at_level(logging.INFO, logger="ecs_admission"):
        engine.evaluate(document)
    printed = [r.getMessage() for r in caplog.records if "rego print" in r.getMessage()]
    assert printed and all("hunter2" not in line for line in printed)
    assert any("DB_PASSWORD" in line for line in printed)
    assert len(printed) <= MAX_LINES + 1 and "not logged" in printed[-1]
    assert engine._opa.last_prints == []


def test_redact_print_masks_value_fields():
    assert redact_print('{"name": "A", "value": "s\\"ecret"}') == '{"name": "A", "value": "***"}'
    assert redact_print('[{"valueFrom": "arn:aws:ssm:x"}]') == '[{"valueFrom": "***"}]'
