"""IAM policy documents in one canonical shape, so policies never branch on string-or-list.

IAM accepts `Statement` as an object or a list, `Action`/`Resource`/principal values as a string
or a list, and `"Principal": "*"` as shorthand for `{"AWS": "*"}`. The normalised form always
has lists; nothing is dropped or guessed, and anything malformed raises ValueError with the path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ecs_admission.parsing.bounded_json import parse_json

LIST_FIELDS = ("Action", "NotAction", "Resource", "NotResource")
# Identity-policy and boundary statements the evaluator may judge for one request's roles when the
# request itself (or its template) supplies them. Its cost grows faster than linearly with
# statements (a role of 300 crafted statements took 2.8 s, 100 took 0.5 s); 50 keep the worst well
# within the 1 s budget on a busy machine (docs/hardening.md). Larger real roles are read from IAM
# (IAM lookups), not sent.
MAX_SUPPLIED_STATEMENTS = 50
PRINCIPAL_FIELDS = ("Principal", "NotPrincipal")


def _as_list(value: Any, where: str) -> list[str]:
    if type(value) is str:  # the usual "Action": "s3:GetObject", without the generator below
        return [value]
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in values):
        raise ValueError(f"{where}: expected a string or a list of strings")
    return list(values)


def _principal(value: Any, where: str) -> dict[str, list[str]]:
    if value == "*":
        return {"AWS": ["*"]}
    if not isinstance(value, dict):
        raise ValueError(f'{where}: expected "*" or an object')
    return {key: _as_list(item, f"{where}/{key}") for key, item in value.items()}


def _condition(value: Any, where: str) -> dict[str, dict[str, list[Any]]]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object")
    result: dict[str, dict[str, list[Any]]] = {}
    for operator, block in value.items():
        if not isinstance(block, dict):
            raise ValueError(f"{where}/{operator}: expected an object")
        result[operator] = {key: item if isinstance(item, list) else [item] for key, item in block.items()}
    return result


def normalise_statement(statement: Any, where: str) -> dict[str, Any]:
    if not isinstance(statement, dict):
        raise ValueError(f"{where}: a statement must be an object")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError(f"{where}/Effect: must be Allow or Deny")
    result: dict[str, Any] = {"Effect": effect}
    if "Sid" in statement:
        result["Sid"] = statement["Sid"]
    for field in LIST_FIELDS:
        if field in statement:
            result[field] = _as_list(statement[field], f"{where}/{field}")
    for field in PRINCIPAL_FIELDS:
        if field in statement:
            result[field] = _principal(statement[field], f"{where}/{field}")
    if "Condition" in statement:
        result["Condition"] = _condition(statement["Condition"], f"{where}/Condition")
    return result


def normalise_policy_document(document: Any, where: str = "") -> dict[str, Any]:
    """Return the canonical form of an IAM policy document (a dict, or its JSON / URL-encoded JSON text)."""
    if isinstance(document, str):
        text = unquote(document) if document.lstrip().startswith("%7B") else document
        # The same parser, with the same limits, as a request body: a document sent as a string
        # must not be a way around them (NaN, 1e400, 2**70, duplicate keys, lone surrogates, depth).
        document = parse_json(text, where=where or "/")
    if not isinstance(document, dict):
        raise ValueError(f"{where or '/'}: a policy document must be an object")
    statements = document.get("Statement")
    if statements is None:
        raise ValueError(f"{where}/Statement: missing")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError(f"{where}/Statement: expected an object or a list")
    normalised = {"Statement": [normalise_statement(s, f"{where}/Statement/{i}") for i, s in enumerate(statements)]}
    if "Version" in document:
        normalised["Version"] = document["Version"]
    return normalised


def statement_count(documents: list[dict[str, Any] | None]) -> int:
    """Statements in normalised policy documents (None for a document that is not known)."""
    return sum(len(document["Statement"]) for document in documents if document)
