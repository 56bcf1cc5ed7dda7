"""Recognise which input shape a document is and reduce it to one normalised task definition.

Shapes (see docs/input-shapes.md): register-task-definition input, describe-task-definition
output, CodeDeploy/GitHub Actions taskdef.json with placeholders, the request envelope with
caller-supplied role facts, and the AdmissionReview envelope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ecs_admission.errors import InputError
from ecs_admission.iam.documents import MAX_SUPPLIED_STATEMENTS, normalise_policy_document, statement_count
from ecs_admission.inputs.schema import escape, require_family, validate_task_definition

# Fields ECS adds on registration; the deploy action drops the same ones before registering.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)
DESCRIBE_WRAPPER_KEYS = {"taskDefinition", "tags", "failures", "ResponseMetadata"}
ENVELOPE_KEYS = {"taskDefinition", "roles", "context", "dryRun", "fix"}
ROLE_FACT_KEYS = {"trustPolicy", "policies", "permissionsBoundary"}
# A task definition names two roles; facts for a few more (by name and by ARN) are harmless, thousands are not.
MAX_SUPPLIED_ROLES = 10
CONTEXT_FIELDS = ("account", "region", "cluster", "service")
ACCOUNT_RE = re.compile(r"^\d{12}$")
PLACEHOLDER_RE = re.compile(r"<[A-Z][A-Z0-9_]*>")
REVIEW_API_VERSION = "ecs-admission/v1"


@dataclass
class AdmissionRequest:
    """One task definition to judge, with everything the caller said about it."""

    task_definition: dict[str, Any]
    source: str
    envelope: str = "none"
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    dry_run: bool | None = None
    uid: str | None = None
    revision: int | None = None
    placeholders: list[dict[str, str]] = field(default_factory=list)
    # From a CloudFormation template: role facts by field, and what could not be resolved (input.template).
    template_roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    template: dict[str, Any] | None = None
    # describe output's taskDefinitionArn (dropped from the task definition): it names the deploy account.
    task_definition_arn: str | None = None
    # Where the task definition sits in the submitted document (RFC 6901), so fixes patch it there.
    root: str = ""
    # The envelope's `fix`: answer with the combined patch of the proposed fixes (docs/fixes.md).
    fix: bool | None = None
    # The task definition's canonical JSON text as validated (inputs/schema.py canonical_json), for
    # the decision record's digest; None where it was not worked out. Nothing changes the task
    # definition after it is normalised: the gate and the engines only read it.
    canonical: str | None = field(default=None, repr=False, compare=False)

    @property
    def family(self) -> str | None:
        family = self.task_definition.get("family")
        return family if isinstance(family, str) else None


# Values drop_nulls hands back as they are: a leaf of one of these exact types is copied without a
# call for it (most of a document is leaves).
_AS_IS = frozenset({str, int, float, bool, type(None)})


def drop_nulls(value: Any) -> Any:
    """ECS treats a null field as absent (describe output is full of them)."""
    if isinstance(value, dict):
        return {
            key: item if type(item) in _AS_IS else drop_nulls(item) for key, item in value.items() if item is not None
        }
    if isinstance(value, list):
        return [item if type(item) in _AS_IS else drop_nulls(item) for item in value]
    return value


def find_placeholders(value: Any, pointer: str = "", text: str | None = None) -> list[dict[str, str]]:
    # Most task definitions hold none: one search of the serialised document (in C) says so. The
    # pattern has no character JSON escapes, so a placeholder in a string is one in the text; a
    # match in a key only sends the document down the walk, which reads values alone. `text`: the
    # document already written as JSON (ensure_ascii=False; any order, any separators, since a
    # match never spans two strings), so it is not written again.
    if not pointer:
        try:
            if not PLACEHOLDER_RE.search(json.dumps(value, ensure_ascii=False) if text is None else text):
                return []
        except (TypeError, ValueError):
            pass  # not plain JSON (a CloudFormation value): the walk reads it as before
    return _walk_placeholders(value, pointer)


def _walk_placeholders(value: Any, pointer: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_walk_placeholders(item, f"{pointer}/{escape(key)}"))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_walk_placeholders(item, f"{pointer}/{index}"))
    elif isinstance(value, str):
        found.extend({"path": pointer, "placeholder": match} for match in PLACEHOLDER_RE.findall(value))
    return found


def _task_definition(raw: Any, field_prefix: str) -> tuple[dict[str, Any], str, int | None, str | None, str | None]:
    """Normalise a bare or describe-wrapped task definition; return it, its shape, its revision, the
    taskDefinitionArn describe output carries (it names the deploy account) and its canonical JSON."""
    if not isinstance(raw, dict):
        raise InputError("must be an object holding a task definition", field=field_prefix or "/")
    shape = "register"
    if "containerDefinitions" not in raw and "taskDefinition" in raw and set(raw) <= DESCRIBE_WRAPPER_KEYS:
        tags = raw.get("tags")
        raw = raw["taskDefinition"]
        field_prefix = f"{field_prefix}/taskDefinition"
        shape = "describe"
        if not isinstance(raw, dict):
            raise InputError("must be an object", field=field_prefix)
        if tags and "tags" not in raw:
            raw = {**raw, "tags": tags}
    cleaned = drop_nulls(raw)
    revision = cleaned.get("revision") if isinstance(cleaned.get("revision"), int) else None

    if any(name in cleaned for name in READ_ONLY_FIELDS):
        shape = "describe"
    arn = cleaned.get("taskDefinitionArn") if isinstance(cleaned.get("taskDefinitionArn"), str) else None
    cleaned = {key: item for key, item in cleaned.items() if key not in READ_ONLY_FIELDS}
    try:
        canonical = validate_task_definition(cleaned)
        require_family(cleaned)
    except InputError as exc:
        if field_prefix and exc.field is not None:
            exc.field = field_prefix + (exc.field if exc.field != "/" else "")
        raise
    return cleaned, shape, revision, arn, canonical


def _roles(raw: Any, pointer: str) -> dict[str, dict[str, Any]]:
    """Caller-supplied role facts, keyed as given, with every policy document normalised."""
    if not isinstance(raw, dict):
        raise InputError("must be an object keyed by role ARN", field=pointer)
    if len(raw) > MAX_SUPPLIED_ROLES:
        raise InputError(
            f"{len(raw)} roles: at most {MAX_SUPPLIED_ROLES} (a task definition names two)",
            field=pointer,
            error="limit_exceeded",
        )
    roles: dict[str, dict[str, Any]] = {}
    statements = 0
    for arn, facts in raw.items():
        where = f"{pointer}/{escape(arn)}"
        if not isinstance(facts, dict):
            raise InputError("must be an object with trustPolicy and policies", field=where)
        unknown = sorted(set(facts) - ROLE_FACT_KEYS)
        if unknown:
            raise InputError(
                f"unknown role fact {unknown[0]!r}; expected {', '.join(sorted(ROLE_FACT_KEYS))}",
                field=f"{where}/{escape(unknown[0])}",
            )
        policies = facts.get("policies")
        if policies is not None and not isinstance(policies, list):
            raise InputError("must be a list of IAM policy documents", field=f"{where}/policies")
        try:
            roles[arn] = {
                "trustPolicy": _document(facts.get("trustPolicy"), f"{where}/trustPolicy"),
                "policies": None
                if policies is None
                else [
                    normalise_policy_document(doc, f"{where}/policies/{index}") for index, doc in enumerate(policies)
                ],
                "permissionsBoundary": _document(facts.get("permissionsBoundary"), f"{where}/permissionsBoundary"),
            }
        except InputError:
            raise
        except ValueError as exc:
            field, _, problem = str(exc).partition(": ")
            raise InputError(problem or str(exc), field=field) from None
        statements += statement_count([*(roles[arn]["policies"] or []), roles[arn]["permissionsBoundary"]])
        if statements > MAX_SUPPLIED_STATEMENTS:
            raise InputError(
                f"the roles' policies and boundaries hold more than {MAX_SUPPLIED_STATEMENTS} statements, "
                "more than the gate evaluates from a request (docs/hardening.md); let it read large roles from IAM",
                field=where,
                error="limit_exceeded",
            )
    return roles


def _document(document: Any, where: str) -> dict[str, Any] | None:
    return None if document is None else normalise_policy_document(document, where)


def _context(raw: Any, pointer: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InputError("must be an object", field=pointer)
    context: dict[str, str] = {}
    for key in CONTEXT_FIELDS:
        if key in raw and raw[key] is not None:
            if not isinstance(raw[key], str):
                raise InputError("must be a string", field=f"{pointer}/{key}")
            context[key] = raw[key]
    if "account" in context and not ACCOUNT_RE.match(context["account"]):
        raise InputError("must be a 12-digit AWS account id", field=f"{pointer}/account")
    return context


def _dry_run(raw: Any, pointer: str) -> bool | None:
    if raw is None:
        return None
    if not isinstance(raw, bool):
        raise InputError("must be true or false", field=pointer)
    return raw


def _from_envelope(document: dict[str, Any], pointer: str) -> AdmissionRequest:
    task_definition, shape, revision, arn, canonical = _task_definition(
        document["taskDefinition"], f"{pointer}/taskDefinition"
    )
    return AdmissionRequest(
        task_definition_arn=arn,
        task_definition=task_definition,
        canonical=canonical,
        source=shape,
        envelope="request",
        roles=_roles(document.get("roles", {}), f"{pointer}/roles"),
        context=_context(document.get("context", {}), f"{pointer}/context"),
        dry_run=_dry_run(document.get("dryRun"), f"{pointer}/dryRun"),
        revision=revision,
        fix=_dry_run(document.get("fix"), f"{pointer}/fix"),
    )


def _from_review(document: dict[str, Any]) -> AdmissionRequest:
    if document.get("apiVersion") != REVIEW_API_VERSION:
        raise InputError(f"must be {REVIEW_API_VERSION!r}", field="/apiVersion")
    request = document.get("request")
    if not isinstance(request, dict):
        raise InputError("AdmissionReview needs a request object", field="/request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise InputError("must be a non-empty string", field="/request/uid")
    if "object" not in request:
        raise InputError("missing: the task definition to admit", field="/request/object")
    inner = request["object"]
    if isinstance(inner, dict) and "taskDefinition" in inner and set(inner) & (ENVELOPE_KEYS - {"taskDefinition"}):
        result = _from_envelope(inner, "/request/object")
    else:
        task_definition, shape, revision, arn, canonical = _task_definition(inner, "/request/object")
        result = AdmissionRequest(
            task_definition, shape, revision=revision, task_definition_arn=arn, canonical=canonical
        )
    dry_run = _dry_run(request.get("dryRun"), "/request/dryRun")
    result.envelope = "admission-review"
    result.uid = uid
    result.dry_run = dry_run if dry_run is not None else result.dry_run
    return result


def normalise(document: Any) -> AdmissionRequest:
    """Detect the shape of a parsed document and return the request it describes."""
    if not isinstance(document, dict):
        raise InputError(f"expected an object holding a task definition, got {type(document).__name__}", field="/")
    if document.get("kind") == "AdmissionReview":
        request = _from_review(document)
    elif "taskDefinition" in document and "containerDefinitions" not in document:
        if set(document) <= DESCRIBE_WRAPPER_KEYS:
            task_definition, shape, revision, arn, canonical = _task_definition(document, "")
            request = AdmissionRequest(
                task_definition, shape, revision=revision, task_definition_arn=arn, canonical=canonical
            )
        else:
            unknown = sorted(set(document) - ENVELOPE_KEYS)
            if unknown:
                raise InputError(
                    f"unknown envelope field {unknown[0]!r}; expected {', '.join(sorted(ENVELOPE_KEYS))}",
                    field=f"/{escape(unknown[0])}",
                )
            request = _from_envelope(document, "")
    elif "Resources" in document or "AWSTemplateFormatVersion" in document:
        # Templates are judged whole (inputs/cloudformation/), one decision per task definition;
        # wrapped in an envelope or AdmissionReview they would need one verdict.
        raise InputError(
            "a CloudFormation template is accepted only as the whole request body, not inside an envelope",
            field="/Resources",
            error="unsupported_shape",
        )
    else:
        task_definition, shape, revision, arn, canonical = _task_definition(document, "")
        request = AdmissionRequest(
            task_definition, shape, revision=revision, task_definition_arn=arn, canonical=canonical
        )
    request.root = task_definition_root(document)
    request.placeholders = find_placeholders(request.task_definition, text=request.canonical)
    if request.placeholders and request.source == "register":
        request.source = "codedeploy"
    return request


def task_definition_root(document: Any) -> str:
    """The RFC 6901 pointer of the task definition in a document `normalise` accepted: "" (register
    input), /taskDefinition (describe output, envelope), /request/object (AdmissionReview), and those
    combined (an envelope holding describe output, an AdmissionReview holding an envelope)."""
    root, node = "", document
    if isinstance(node, dict) and node.get("kind") == "AdmissionReview":
        root, node = "/request/object", node["request"]["object"]
        if isinstance(node, dict) and "taskDefinition" in node and set(node) & (ENVELOPE_KEYS - {"taskDefinition"}):
            root, node = f"{root}/taskDefinition", node["taskDefinition"]
    elif isinstance(node, dict) and "taskDefinition" in node and "containerDefinitions" not in node:
        root, node = "/taskDefinition", node["taskDefinition"]
    if (
        isinstance(node, dict)
        and "containerDefinitions" not in node
        and "taskDefinition" in node
        and set(node) <= DESCRIBE_WRAPPER_KEYS
    ):
        root = f"{root}/taskDefinition"
    return root
