"""The OpenAPI 3 description of the v1 HTTP API, served at GET /openapi.json.

It is the contract the fuzz suite (schemathesis) checks every response against, so it must say
exactly what the routes answer: keep it in step with routes.py and docs/http-api.md.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from flask import Blueprint, jsonify

blueprint = Blueprint("openapi", __name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# The gate refuses integers no engine holds exactly (docs/configuration.md "Limits and hostile input").
INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
STRING_LIST = {"type": "array", "items": {"type": "string"}}
KEY_VALUE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
}
SECRET = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "valueFrom": {"type": "string"}},
}

CONTAINER = {
    "type": "object",
    "description": "An ECS container definition; only the fields the gate type-checks are listed, others pass.",
    "properties": {
        "name": {"type": "string"},
        "image": {"type": "string"},
        "cpu": INT64,
        "memory": INT64,
        "essential": {"type": "boolean"},
        "privileged": {"type": "boolean"},
        "readonlyRootFilesystem": {"type": "boolean"},
        "user": {"type": "string"},
        "command": STRING_LIST,
        "entryPoint": STRING_LIST,
        "environment": {"type": "array", "items": KEY_VALUE},
        "secrets": {"type": "array", "items": SECRET},
        "repositoryCredentials": {"type": "object", "properties": {"credentialsParameter": {"type": "string"}}},
        "dockerLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

TASK_DEFINITION = {
    "type": "object",
    "description": (
        "register-task-definition input, describe-task-definition output (read-only fields dropped) or a "
        "CodeDeploy taskdef.json with <PLACEHOLDERS>. Field names are case-sensitive."
    ),
    "required": ["containerDefinitions"],
    "properties": {
        "family": {"type": "string"},
        "taskRoleArn": {"type": "string"},
        "executionRoleArn": {"type": "string"},
        "networkMode": {"type": "string", "examples": ["awsvpc", "bridge", "host", "none"]},
        "pidMode": {"type": "string", "examples": ["host", "task"]},
        "ipcMode": {"type": "string"},
        "cpu": {"type": ["string", "number"]},
        "memory": {"type": ["string", "number"]},
        "requiresCompatibilities": STRING_LIST,
        "containerDefinitions": {"type": "array", "minItems": 1, "items": CONTAINER},
    },
}

ROLE_FACTS = {
    "type": "object",
    "properties": {
        "trustPolicy": {"type": "object"},
        "policies": {"type": "array", "items": {"type": "object"}},
    },
}

ENVELOPE = {
    "type": "object",
    "description": "A task definition with caller-supplied IAM role facts and deploy context.",
    "required": ["taskDefinition"],
    "additionalProperties": False,
    "properties": {
        "taskDefinition": _ref("TaskDefinition"),
        "roles": {"type": "object", "additionalProperties": _ref("RoleFacts")},
        "context": {
            "type": "object",
            "properties": {
                "account": {"type": "string", "pattern": "^[0-9]{12}$"},
                "region": {"type": "string"},
                "cluster": {"type": "string"},
                "service": {"type": "string"},
            },
        },
        "dryRun": {"type": "boolean"},
        "fix": {"type": "boolean", "description": "Answer with `patch`, as ?fix=true does (docs/fixes.md)."},
    },
}

JSON_PATCH = {
    "type": "array",
    "description": "RFC 6902 JSON Patch against the document exactly as it was sent (docs/fixes.md).",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
            "path": {"type": "string"},
            "from": {"type": "string"},
            "value": {},
        },
    },
}

DESCRIBE = {
    "type": "object",
    "description": "aws ecs describe-task-definition output.",
    "required": ["taskDefinition"],
    "additionalProperties": False,
    "properties": {
        "taskDefinition": _ref("TaskDefinition"),
        "tags": {"type": "array", "items": {"type": "object"}},
        "failures": {"type": "array"},
        "ResponseMetadata": {"type": "object"},
    },
}

REVIEW = {
    "type": "object",
    "description": "A Kubernetes-style AdmissionReview; always answered with HTTP 200 and the verdict inside.",
    "required": ["apiVersion", "kind", "request"],
    "properties": {
        "apiVersion": {"type": "string", "enum": ["ecs-admission/v1"]},
        "kind": {"type": "string", "enum": ["AdmissionReview"]},
        "request": {
            "type": "object",
            "required": ["uid", "object"],
            "properties": {
                "uid": {"type": "string", "minLength": 1},
                "object": {"anyOf": [_ref("TaskDefinition"), _ref("Envelope")]},
                "dryRun": {"type": "boolean"},
            },
        },
    },
}

FINDING = {
    "type": "object",
    "required": ["rule", "severity", "title", "message", "path", "remediation", "docs"],
    "properties": {
        "rule": {"type": "string"},
        "severity": {"type": "string", "enum": ["critical", "high", "medium", "low"]},
        "title": {"type": "string"},
        "message": {"type": "string"},
        "path": {"type": "string", "description": "RFC 6901 JSON pointer into the normalised task definition"},
        "remediation": {"type": "string"},
        "docs": {"type": "string"},
        "enforcement": {"type": "string"},
        "fix": _ref("JsonPatch"),
    },
}

DECISION = {
    "type": "object",
    "required": [
        "decision_id",
        "allowed",
        "enforced",
        "mode",
        "violations",
        "warnings",
        "exempted",
        "task_definition",
        "policy",
        "duration_ms",
    ],
    "properties": {
        "decision_id": {"type": "string", "format": "uuid"},
        "allowed": {"type": "boolean"},
        "enforced": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["enforce", "dry-run"]},
        "violations": {"type": "array", "items": _ref("Finding")},
        "warnings": {"type": "array", "items": _ref("Finding")},
        "exempted": {"type": "array", "items": _ref("Finding")},
        "task_definition": {
            "type": "object",
            "required": ["source", "envelope"],
            "properties": {
                "family": {"type": "string"},
                "source": {"type": "string"},
                "envelope": {"type": "string", "enum": ["none", "request", "admission-review"]},
                "revision": {"type": "integer"},
            },
        },
        "policy": {
            "type": "object",
            "required": ["engine", "revision"],
            "properties": {"engine": {"type": "string"}, "revision": {"type": "string"}},
        },
        "deploy_account": {
            "type": "object",
            "description": "The account the rules compared roles and principals with, and where it came from.",
            "required": ["account", "source"],
            "properties": {
                "account": {"type": ["string", "null"]},
                "source": {"type": "string", "enum": ["request", "configured", "task-definition", "none"]},
                "detail": {"type": "string"},
            },
        },
        "duration_ms": {"type": "number", "minimum": 0},
        "patch": _ref("JsonPatch"),
    },
}

REVIEW_RESPONSE = {
    "type": "object",
    "required": ["apiVersion", "kind", "response"],
    "properties": {
        "apiVersion": {"type": "string", "enum": ["ecs-admission/v1"]},
        "kind": {"type": "string", "enum": ["AdmissionReview"]},
        "response": {
            "type": "object",
            "required": ["uid", "allowed", "status", "warnings"],
            "properties": {
                "uid": {"type": "string"},
                "allowed": {"type": "boolean"},
                "status": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                },
                "warnings": STRING_LIST,
                "decision": _ref("Decision"),
                "patchType": {"type": "string", "enum": ["JSONPatch"]},
                "patch": {
                    "type": "string",
                    "contentEncoding": "base64",
                    "description": "The combined RFC 6902 patch as JSON, base64-encoded (with ?fix=true)",
                },
            },
        },
    },
}

ERROR = {
    "type": "object",
    "description": "Every error: what went wrong, why, and the field (JSON pointer or header name) when there is one.",
    "required": ["error", "detail", "field"],
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": ["string", "null"]},
        "field": {"type": ["string", "null"]},
        "allowed": {"type": "boolean", "enum": [False]},
    },
}

AUTH_ERRORS = {
    "401": _json(_ref("Error"), "No credentials (or a malformed header); carries WWW-Authenticate."),
    "503": _json(_ref("Error"), "Authentication required but not configured, or its secret unreadable."),
}

SECURITY = [{"bearer": []}, {"signature": [], "signatureTimestamp": []}]


def document(version: str | None = None) -> dict[str, Any]:
    if version is None:
        try:
            version = metadata.version("ecs-admission")
        except metadata.PackageNotFoundError:
            version = "0"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ecs-admission",
            "version": version,
            "description": "Policy gate for Amazon ECS task definitions (see docs/http-api.md).",
        },
        "paths": {
            "/v1/admit": {
                "post": {
                    "operationId": "admit",
                    "summary": "Decide whether a task definition may be registered",
                    "security": SECURITY,
                    "parameters": [
                        {
                            "name": "dry_run",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
                        },
                        {
                            "name": "fix",
                            "in": "query",
                            "required": False,
                            "description": "Add `patch`: every proposed fix as one RFC 6902 patch (docs/fixes.md)",
                            "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
                        },
                        {
                            "name": "X-Dry-Run",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "enum": ["true", "false"]},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [
                                        _ref("TaskDefinition"),
                                        _ref("Describe"),
                                        _ref("Envelope"),
                                        _ref("AdmissionReview"),
                                    ]
                                }
                            },
                            "application/yaml": {"schema": _ref("TaskDefinition")},
                        },
                    },
                    "responses": {
                        "200": _json(
                            {"anyOf": [_ref("Decision"), _ref("AdmissionReviewResponse")]},
                            "Allowed, any verdict in dry-run, or any AdmissionReview answer",
                        ),
                        "400": _json(_ref("Error"), "Not a task definition: `field` names the offending field"),
                        "403": _json(
                            {"anyOf": [_ref("Decision"), _ref("Error")]},
                            "Denied and enforced (a Decision), or credentials not accepted (an Error)",
                        ),
                        "405": _json(_ref("Error"), "Method not allowed"),
                        "413": _json(_ref("Error"), "Body larger than ECS_ADMISSION_MAX_BODY_BYTES"),
                        "415": _json(_ref("Error"), "Content type other than JSON or YAML"),
                        "401": AUTH_ERRORS["401"],
                        "503": _json(
                            _ref("Error"),
                            "The engine could not decide (`allowed: false`), or authentication is unavailable",
                        ),
                    },
                }
            },
            "/v1/terraform/run-task": {
                "post": {
                    "operationId": "terraformRunTask",
                    "summary": "HCP Terraform / Terraform Enterprise run task (docs/terraform.md)",
                    "description": "Authenticated by X-TFC-Task-Signature (HMAC-SHA512 of the body with the run "
                    "task's key), not by a bearer token. Answered at once; the verdict goes to the callback.",
                    "security": [],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
                            "Accepted (judged in the background) or the verification request answered",
                        ),
                        "400": _json(_ref("Error"), "Not a run task payload, or a URL outside the allow-list"),
                        "401": _json(_ref("Error"), "Missing or wrong X-TFC-Task-Signature"),
                        "403": _json(_ref("Error"), "Run tasks not enabled (ECS_ADMISSION_TFC_HMAC_KEY unset)"),
                        "405": _json(_ref("Error"), "Method not allowed"),
                        "413": _json(_ref("Error"), "Body larger than ECS_ADMISSION_MAX_BODY_BYTES"),
                        "503": _json(_ref("Error"), "Too many run tasks in progress, or the settings are invalid"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "The process is alive",
                    "security": [],
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
                            "Alive",
                        )
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Policies loaded and the engine answers a canary",
                    "security": [],
                    "responses": {
                        "200": _json(_ref("Readiness"), "Ready (a failed reload shows as reload_error)"),
                        "503": _json(_ref("Readiness"), "Not ready, with the reason"),
                    },
                }
            },
            "/v1/policies": {
                "get": {
                    "operationId": "policies",
                    "summary": "The loaded rule catalogue",
                    "security": SECURITY[:1],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["engine", "revision", "rules"],
                                "properties": {
                                    "engine": {"type": "string"},
                                    "revision": {"type": "string"},
                                    "rules": {"type": "array", "items": {"type": "object"}},
                                },
                            },
                            "The catalogue",
                        ),
                        "401": AUTH_ERRORS["401"],
                        "403": _json(_ref("Error"), "Credentials not accepted"),
                        "503": _json(_ref("Error"), "Engine or authentication unavailable"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format)",
                    "security": SECURITY[:1],
                    "responses": {
                        "200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                        "401": AUTH_ERRORS["401"],
                        "403": _json(_ref("Error"), "Credentials not accepted"),
                        "503": _json(_ref("Error"), "Authentication unavailable"),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Ecs-Admission-Signature",
                    "description": 'sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>',
                },
                "signatureTimestamp": {"type": "apiKey", "in": "header", "name": "X-Ecs-Admission-Timestamp"},
            },
            "schemas": {
                "TaskDefinition": TASK_DEFINITION,
                "Container": CONTAINER,
                "Describe": DESCRIBE,
                "Envelope": ENVELOPE,
                "RoleFacts": ROLE_FACTS,
                "AdmissionReview": REVIEW,
                "Finding": FINDING,
                "JsonPatch": JSON_PATCH,
                "Decision": DECISION,
                "AdmissionReviewResponse": REVIEW_RESPONSE,
                "Error": ERROR,
                "Readiness": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ready", "not ready"]},
                        "engine": {"type": "string"},
                        "revision": {"type": "string"},
                        "reason": {"type": "string"},
                        "reload_error": {"type": "object"},
                        # docs/operations.md "Break-glass": present only while one is in force.
                        "break_glass": {"type": "array", "items": {"type": "string", "enum": ["dry-run", "fail-open"]}},
                    },
                },
            },
        },
    }


_DOCUMENT: dict[str, Any] | None = None


@blueprint.get("/openapi.json")
def openapi_json() -> Any:
    global _DOCUMENT
    if _DOCUMENT is None:
        _DOCUMENT = document()
    return jsonify(_DOCUMENT)
