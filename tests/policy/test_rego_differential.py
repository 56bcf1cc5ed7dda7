"""The shipped policies decide several hundred inputs exactly as the frozen expectation says.

rego_decisions.json holds, for every variant rego_variants.py makes (the examples, the benchmark's
hardened Fargate task and the rule cases, each also mutated a dozen ways), a digest of the whole
decision document and its findings as `bucket rule path`. It was frozen from the policies before
they were rewritten for speed (docs/performance.md), so a rewrite that changes any finding, message,
severity, path or fix fails here. Variants are matched by a digest of their input: one whose input
changed for another reason (an edited example, a new rule case, a new role fact) is not compared,
and when too few still match the expectation must be frozen again. A deliberate change to what the
rules decide is frozen again with `PYTHONPATH=service python -m tests.policy.rego_variants`, and
the diff of rego_decisions.json shows what it changed.
"""

from __future__ import annotations

import json

from tests.policy.rego_variants import FROZEN, decisions


def test_every_variant_is_decided_as_frozen():
    expected = {kept["input"]: (name, kept) for name, kept in json.loads(FROZEN.read_text()).items()}
    found = {kept["input"]: (name, kept) for name, kept in decisions().items()}
    compared = set(expected) & set(found)
    assert len(compared) >= 0.8 * len(expected), (
        f"only {len(compared)} of {len(expected)} frozen inputs are still made: freeze them again (module docstring)"
    )
    differing = {
        expected[key][0]: (expected[key][1], found[key][1]) for key in compared if expected[key][1] != found[key][1]
    }
    shown = {
        name: {
            "expected only": sorted(set(old.get("findings", [])) - set(new.get("findings", []))),
            "found only": sorted(set(new.get("findings", [])) - set(old.get("findings", []))),
            "same findings, other text or fields": old.get("findings") == new.get("findings"),
        }
        for name, (old, new) in list(differing.items())[:5]
    }
    assert not differing, f"{len(differing)} of {len(expected)} decisions differ: {json.dumps(shown, indent=1)}"


def test_the_variants_reach_the_rules():
    """The expectation is worth holding to only if the variants make the rules fire: most of them do."""
    expected = json.loads(FROZEN.read_text())
    assert len(expected) >= 500
    fired = {line.split()[1] for kept in expected.values() for line in kept.get("findings", [])}
    for prefix in ("ECS-TRUST-", "ECS-ISO-", "ECS-EXEC-", "ECS-ROLE-", "ECS-HARD-", "ECS-PERM-"):
        assert sum(rule.startswith(prefix) for rule in fired) >= 3, f"few {prefix} rules fire: {sorted(fired)}"
    assert len(fired) >= 35
