"""Bounded label values for ecs_admission_rule_findings_total (issue 21 row 15).

A finding's rule id is whatever the policy wrote: a rule id built from the input (`sprintf("X-%s",
[family])`) made one time series per request. Labels are therefore the rule ids the running policy
set's catalogue declares (plus the gate's own, e.g. ECS-GATE-001 and the input layer's); any
other id is counted under the single label `other`. The catalogue is read once per policy revision.
Through the sidecar, whose catalogue is in OPA, the first MAX_SIDECAR_LABELS distinct ids are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from ecs_admission.engines import serving_engine
from ecs_admission.engines.failopen import GATE_RULE
from ecs_admission.policy.catalogue import INPUT_RULES

OTHER = "other"
GATE_RULES = frozenset({GATE_RULE, *INPUT_RULES})

_lock = threading.Lock()
_known: dict[int, tuple[str, frozenset[str]]] = {}
_seen: set[str] = set()
MAX_SIDECAR_LABELS = 200


def known_rules(engine: Any) -> frozenset[str] | None:
    """The rule ids of the engine's current policies, or None when it has no local catalogue."""
    engine = serving_engine(engine)
    if not hasattr(engine, "policy"):
        return None
    revision = engine.revision
    with _lock:
        cached = _known.get(id(engine))
    if cached is not None and cached[0] == revision:
        return cached[1]
    rules = frozenset(engine.policy.catalog) | GATE_RULES
    with _lock:
        _known[id(engine)] = (revision, rules)
    return rules


def bounded(rules: Iterable[str], engine: Any, known: frozenset[str] | None = None) -> list[str]:
    known = known if known is not None else known_rules(engine)
    if known is None:
        return [_first_seen(rule) for rule in rules]
    return [rule if rule in known else OTHER for rule in rules]


def finding_labels(decision: Any, engine: Any) -> dict[str, list[str]]:
    """metrics.decision's violations/warnings/exempted labels for one decision, the catalogue read once."""
    known = known_rules(engine)
    return {
        kind: bounded([finding.rule for finding in getattr(decision, kind)], engine, known)
        for kind in ("violations", "warnings", "exempted")
    }


def _first_seen(rule: str) -> str:
    """The sidecar's catalogue lives in OPA (asking for it would cost a request per revision): the
    first MAX_SIDECAR_LABELS distinct ids keep their names, later ones are `other`."""
    with _lock:
        if rule in _seen or rule in GATE_RULES:
            return rule
        if len(_seen) < MAX_SIDECAR_LABELS:
            _seen.add(rule)
            return rule
    return OTHER
