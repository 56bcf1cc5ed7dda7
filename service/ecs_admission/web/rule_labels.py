"""Bounded label values for ecs_admission_rule_findings_total (issue 21 row 15).

A finding's rule id is whatever the policy wrote: a rule id built from the input (`sprintf("X-%s",
[family])`) made one time series per request. Labels are therefore the rule ids the running policy
set's catalogue declares (plus the gate's own, e.g. ECS-GATE-001 and the input layer's); any
other id is counted under the single label `other`. The catalogue is read once per policy revision.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from ecs_admission.engines.failopen import GATE_RULE
from ecs_admission.errors import EngineError
from ecs_admission.policy.catalogue import INPUT_RULES

OTHER = "other"
GATE_RULES = frozenset({GATE_RULE, *INPUT_RULES})

_lock = threading.Lock()
_known: dict[int, tuple[str, frozenset[str]]] = {}


def known_rules(engine: Any) -> frozenset[str] | None:
    """The rule ids of the engine's current policies, or None when they cannot be read now."""
    while not hasattr(engine, "policy") and not hasattr(engine, "catalog_ids") and hasattr(engine, "inner"):
        engine = engine.inner  # through the fail-open wrapper
    revision = engine.revision
    with _lock:
        cached = _known.get(id(engine))
    if cached is not None and cached[0] == revision:
        return cached[1]
    try:
        if hasattr(engine, "policy"):
            ids = frozenset(engine.policy.catalog)
        elif hasattr(engine, "catalog_ids"):
            ids = frozenset(engine.catalog_ids())  # the sidecar: one query per bundle revision
        else:
            return None
    except EngineError:
        return None
    rules = ids | GATE_RULES
    with _lock:
        _known[id(engine)] = (revision, rules)
    return rules


def bounded(rules: Iterable[str], engine: Any) -> list[str]:
    known = known_rules(engine)
    if known is None:
        known = GATE_RULES
    return [rule if rule in known else OTHER for rule in rules]
