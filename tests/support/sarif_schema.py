"""SARIF checks: the full OASIS SARIF 2.1.0 schema, and what GitHub code scanning adds to it.

tests/support/sarif-schema-2.1.0.json is the schema as OASIS publishes it (errata01, from the
oasis-tcs/sarif-spec repository, sarif-2.1/schema/sarif-schema-2.1.0.json), unmodified. Its
`uri` and `uri-reference` formats are checked (rfc3986-validator is a test dependency).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def validate(sarif: dict[str, Any]) -> None:
    VALIDATOR.validate(sarif)


def _artifact_locations(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["artifactLocation"]] if isinstance(node.get("artifactLocation"), dict) else []
        return found + [a for value in node.values() for a in _artifact_locations(value)]
    if isinstance(node, list):
        return [a for value in node for a in _artifact_locations(value)]
    return []


def assert_code_scanning_accepts(sarif: dict[str, Any]) -> None:
    """Valid against the schema, every result located (GH1001), every location repository-relative (GH1006)."""
    validate(sarif)
    for run in sarif["runs"]:
        for result in run["results"]:
            assert result.get("locations"), f"result without a location: {result['ruleId']}"
            assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for location in _artifact_locations(run.get("results", [])) + _artifact_locations(run.get("invocations", [])):
            uri = location["uri"]
            assert not urlsplit(uri).scheme and not uri.startswith("/"), f"not repository-relative: {uri}"
            assert location.get("uriBaseId") == "%SRCROOT%"
