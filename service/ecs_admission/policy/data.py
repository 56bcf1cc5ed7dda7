"""Validate the policy directory's data documents: the rule catalogue (generated from the rules'
METADATA annotations) and the platform config.

Called when the policies load (policy.load_policy_set), so a typo stops the gate with a message
naming the key instead of silently weakening it: an enforcement override for a rule id that does
not exist would never apply, and an exemption with an unreadable date would never expire.
The Rego side (admission.rego) still fails closed on anything that slips through.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from ecs_admission.policy.catalogue import INPUT_RULES

SEVERITIES = ("critical", "high", "medium", "low")
ENFORCEMENTS = ("deny", "warn", "off")
CATALOG_REQUIRED = ("title", "severity", "enforcement", "remediation", "docs")
CATALOG_OPTIONAL = (
    "package", "anchors", "beyond_anchors", "description", "rego_rule", "source", "package_title", "fix"
)
CONFIG_KEYS = ("enforcement", "family_enforcement", "allowed_registries", "trusted_accounts", "exemptions")
EXEMPTION_KEYS = ("rule", "family", "justification", "ticket", "expires")
FAMILY_OVERRIDE_KEYS = ("family", "enforcement")
ACCOUNT_RE = re.compile(r"^\d{12}$")
# YYYY-MM-DD, or the shorter month and day YAML's date form also allows (2027-3-31).
DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class PolicyDataError(ValueError):
    """A data document does not have the shape the policies rely on; the message names the key."""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise PolicyDataError(f"{where}: {problem}")


def _non_empty_string(value: Any, where: str) -> str:
    _require(isinstance(value, str) and value.strip() != "", where, f"must be a non-empty string, got {_kind(value)}")
    return value


def check_glob(pattern: Any, where: str) -> str:
    """A pattern both engines accept: brackets and braces balanced (OPA errors on the rest)."""
    _non_empty_string(pattern, where)
    depth = {"[": 0, "{": 0}
    closing = {"]": "[", "}": "{"}
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            _require(depth[closing[char]] >= 0, where, f"{pattern!r} is not a valid glob: unmatched {char!r}")
    _require(all(v == 0 for v in depth.values()), where, f"{pattern!r} is not a valid glob: unclosed bracket or brace")
    return pattern


def _date(value: Any, where: str) -> str:
    # The policies compare YYYY-MM-DD strings. A date is read as the text written (policy/metadata.py
    # load_yaml), and an unquoted 2027-3-31 was always a YAML date this accepted: written out in full.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    written = DATE_RE.match(value) if isinstance(value, str) else None
    _require(written is not None, where, f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        return dt.date(*(int(part) for part in written.groups())).isoformat()
    except ValueError:
        raise PolicyDataError(f"{where}: {value!r} is not a real date") from None


def as_json(value: Any, where: str = "") -> Any:
    """The document as OPA holds it (JSON): a key that is a YAML number, boolean or null becomes its
    JSON text (`443: https` is {"443": "https"}), as JSON writes it. PolicyDataError names the place
    of what JSON cannot hold: a YAML binary or set, `.inf` or NaN, a key that is no scalar, or two
    keys that are one in JSON (443 and "443"). Without this a loader stopped with a traceback, or
    the engine was handed text it refuses."""
    if isinstance(value, dict):
        result = {}
        for key, inner in value.items():
            if not isinstance(key, str):
                if not (key is None or (isinstance(key, int | float) and _finite(key))):
                    raise PolicyDataError(f"{where or '/'}: the key {key!r} is not a JSON key (quote it)")
                key = json.dumps(key)
            if key in result:
                raise PolicyDataError(f"{where or '/'}: the key {key!r} is written twice (once unquoted)")
            result[key] = as_json(inner, f"{where}/{key.replace('~', '~0').replace('/', '~1')}")
        return result
    if isinstance(value, list | tuple):
        return [as_json(inner, f"{where}/{index}") for index, inner in enumerate(value)]
    if isinstance(value, float) and not _finite(value):
        raise PolicyDataError(f"{where or '/'}: {value!r} is not a JSON number")
    if value is not None and not isinstance(value, str | int | float):
        raise PolicyDataError(f"{where or '/'}: a {type(value).__name__} is not a JSON value")
    return value


def _finite(number: Any) -> bool:
    return not isinstance(number, float) or math.isfinite(number)


def validate_catalog(catalog: Any, name: str = "catalog") -> set[str]:
    """Check every entry; return the rule ids."""
    _require(isinstance(catalog, dict), name, f"must be a mapping of rule id to entry, got {_kind(catalog)}")
    for rule_id, entry in catalog.items():
        where = f"{name}: {rule_id}"
        _require(isinstance(rule_id, str) and rule_id.strip() != "", name, f"rule id {rule_id!r} must be a string")
        _require(isinstance(entry, dict), where, f"must be a mapping, got {_kind(entry)}")
        unknown = sorted(set(entry) - set(CATALOG_REQUIRED) - set(CATALOG_OPTIONAL))
        _require(not unknown, f"{where}.{unknown[0] if unknown else ''}", "unknown field")
        for field in CATALOG_REQUIRED:
            _non_empty_string(entry.get(field), f"{where}.{field}")
        _require(entry["severity"] in SEVERITIES, f"{where}.severity", f"must be one of {', '.join(SEVERITIES)}")
        _require(
            entry["enforcement"] in ENFORCEMENTS, f"{where}.enforcement", f"must be one of {', '.join(ENFORCEMENTS)}"
        )
        anchors = entry.get("anchors", [])
        _require(
            isinstance(anchors, list) and all(isinstance(a, str) for a in anchors),
            f"{where}.anchors",
            "must be a list of strings",
        )
        if entry.get("package") is not None:
            _non_empty_string(entry["package"], f"{where}.package")
        if entry.get("beyond_anchors") is not None:
            _non_empty_string(entry["beyond_anchors"], f"{where}.beyond_anchors")
        if entry.get("fix") is not None:
            _non_empty_string(entry["fix"], f"{where}.fix")
    return set(catalog)


def _rule_id(value: Any, where: str, rule_ids: set[str] | None) -> str:
    _non_empty_string(value, where)
    if rule_ids is not None:
        _require(
            value in rule_ids, where, f"{value!r} is not a rule of these policies (no METADATA annotation declares it)"
        )
    return value


def _levels(value: Any, where: str, rule_ids: set[str] | None) -> dict[str, str]:
    if value is None:
        return {}
    _require(isinstance(value, dict), where, f"must be a mapping of rule id to deny|warn|off, got {_kind(value)}")
    levels = {}
    for rule_id, level in value.items():
        _rule_id(rule_id, f"{where}.{rule_id}", rule_ids)
        levels[rule_id] = _level(level, f"{where}.{rule_id}")
    return levels


def _level(level: Any, where: str) -> str:
    # YAML 1.1 reads a bare off (and no, false) as false: it can only have meant off.
    if level is False:
        return "off"
    if level is True:
        raise PolicyDataError(
            f'{where}: YAML reads a bare on/yes/true as true; write deny, warn or off (quote it: "deny")'
        )
    _require(level in ENFORCEMENTS, where, f"{level!r} must be one of {', '.join(ENFORCEMENTS)}")
    return level


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    _require(isinstance(value, list), where, f"must be a list, got {_kind(value)}")
    return value


def _mapping(value: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    _require(isinstance(value, dict), where, f"must be a mapping, got {_kind(value)}")
    unknown = sorted(set(value) - set(keys))
    _require(not unknown, f"{where}.{unknown[0] if unknown else ''}", f"unknown key; expected {', '.join(keys)}")
    return value


def validate_config(config: Any, rule_ids: set[str] | None, name: str = "config.yaml") -> dict[str, Any]:
    """Return the config with its defaults filled in and dates as YYYY-MM-DD strings."""
    if config is None:
        config = {}
    _require(isinstance(config, dict), name, f"must be a mapping, got {_kind(config)}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    _require(not unknown, f"{name}: {unknown[0] if unknown else ''}", f"unknown key; expected {', '.join(CONFIG_KEYS)}")
    result: dict[str, Any] = {"enforcement": _levels(config.get("enforcement"), f"{name}: enforcement", rule_ids)}

    overrides = []
    for index, item in enumerate(_list(config.get("family_enforcement"), f"{name}: family_enforcement")):
        where = f"{name}: family_enforcement[{index}]"
        item = _mapping(item, where, FAMILY_OVERRIDE_KEYS)
        _require("family" in item and "enforcement" in item, where, "needs family and enforcement")
        overrides.append(
            {
                "family": check_glob(item["family"], f"{where}.family"),
                "enforcement": _levels(item["enforcement"], f"{where}.enforcement", rule_ids),
            }
        )
    result["family_enforcement"] = overrides

    registries = _list(config.get("allowed_registries"), f"{name}: allowed_registries")
    result["allowed_registries"] = [
        check_glob(pattern, f"{name}: allowed_registries[{index}]") for index, pattern in enumerate(registries)
    ]

    accounts = _list(config.get("trusted_accounts"), f"{name}: trusted_accounts")
    for index, account in enumerate(accounts):
        _require(
            isinstance(account, str) and ACCOUNT_RE.match(account) is not None,
            f"{name}: trusted_accounts[{index}]",
            f"{account!r} must be a quoted 12-digit account id (YAML reads unquoted numbers as integers)",
        )
    result["trusted_accounts"] = list(accounts)

    exemptions = []
    for index, item in enumerate(_list(config.get("exemptions"), f"{name}: exemptions")):
        where = f"{name}: exemptions[{index}]"
        item = _mapping(item, where, EXEMPTION_KEYS)
        missing = [key for key in EXEMPTION_KEYS if key not in item]
        _require(
            not missing,
            where,
            f"missing {', '.join(missing)} (every exemption needs all of {', '.join(EXEMPTION_KEYS)})",
        )
        exemptions.append(
            {
                "rule": _rule_id(item["rule"], f"{where}.rule", rule_ids),
                "family": check_glob(item["family"], f"{where}.family"),
                "justification": _non_empty_string(item["justification"], f"{where}.justification"),
                "ticket": _non_empty_string(item["ticket"], f"{where}.ticket"),
                "expires": _date(item["expires"], f"{where}.expires"),
            }
        )
    result["exemptions"] = exemptions
    return result


def validate_policy_data(documents: dict[str, Any]) -> None:
    """Validate `catalog` and `config` in place (config gains its defaults); PolicyDataError on the first problem."""
    # config.yaml may set the enforcement of the input layer's rules too (catalogue.INPUT_RULES).
    rule_ids = validate_catalog(documents["catalog"]) | set(INPUT_RULES) if "catalog" in documents else None
    if "config" in documents:
        documents["config"] = validate_config(documents["config"], rule_ids)
