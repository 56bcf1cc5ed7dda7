"""Client of a running webhook: POST /v1/admit, answer with the same Decision a local check gives.

Failures are kept apart because a pipeline treats them differently:
- InputError: the gate says the file is not a task definition (400/413/415): exit 2.
- GateUnreachable: network error, timeout or a 5xx: exit 3, or exit 0 when the team chose
  --fail-open-on-unreachable.
- GateProtocolError: the gate answered, but not with a decision (401, 404, a redirect, HTML from
  a proxy): exit 3, never failed open, because it means the pipeline is misconfigured.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from ecs_admission import __version__
from ecs_admission.decision import Decision, Finding, TaskDefinitionSummary
from ecs_admission.errors import EngineError, InputError

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0
YAML_CONTENT_TYPE = "application/yaml"
JSON_CONTENT_TYPE = "application/json"


class GateError(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class GateUnreachable(GateError):
    """No answer, a timeout or a 5xx. `connection_failed` means later calls would fail the same way."""

    def __init__(self, reason: str, connection_failed: bool = False):
        super().__init__(reason)
        self.connection_failed = connection_failed


class GateProtocolError(GateError):
    """The gate (or something in front of it) answered with something that is not a decision."""


def content_type_for(name: str, body: bytes) -> str:
    """Mirror inputs.parse_file_bytes: the gate must parse the file as the local check would."""
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")):
        return YAML_CONTENT_TYPE
    if lowered.endswith(".json") or body.lstrip()[:1] in (b"{", b"["):
        return JSON_CONTENT_TYPE
    return YAML_CONTENT_TYPE


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# urllib.request and http.client (with ssl and email) are imported when a client is made, not with
# this module: `ecs-admission check` without --url imports it and never calls a gate (cold start).
@functools.cache
def no_redirect() -> type:
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        # Following a redirect would resend the body and the bearer token to wherever it points.
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            return None

    return NoRedirect


def _finding(raw: Any) -> Finding:
    return Finding.from_engine(raw, "remote")


def decision_from_dict(payload: Any) -> Decision:
    """Rebuild a Decision from the webhook's JSON; anything malformed is an EngineError (fail closed)."""
    if not isinstance(payload, dict):
        raise EngineError("response is not a JSON object", "remote")
    try:
        summary = payload.get("task_definition") or {}
        policy = payload.get("policy") or {}
        if not isinstance(payload["decision_id"], str) or not isinstance(payload["allowed"], bool):
            raise TypeError("decision_id or allowed has the wrong type")
        if not isinstance(payload["enforced"], bool):
            raise TypeError("enforced is not a boolean")
        lists = {key: payload.get(key, []) for key in ("violations", "warnings", "exempted")}
        if not all(isinstance(value, list) for value in lists.values()):
            raise TypeError("violations, warnings or exempted is not a list")
        violations = [_finding(item) for item in lists["violations"]]
        if payload["allowed"] == bool(violations):
            raise TypeError("allowed contradicts the violations it lists")
        return Decision(
            decision_id=payload["decision_id"],
            allowed=payload["allowed"],
            enforced=payload["enforced"],
            mode=str(payload.get("mode", "enforce" if payload["enforced"] else "dry-run")),
            violations=violations,
            warnings=[_finding(item) for item in lists["warnings"]],
            exempted=[_finding(item) for item in lists["exempted"]],
            task_definition=TaskDefinitionSummary(
                family=summary.get("family"),
                source=str(summary.get("source", "register")),
                envelope=str(summary.get("envelope", "none")),
                revision=summary.get("revision"),
                logical_id=summary.get("logical_id"),
            ),
            engine=str(policy.get("engine", "remote")),
            revision=str(policy.get("revision", "unknown")),
            engine_decision_id=policy.get("decision_id"),
            duration_ms=float(payload.get("duration_ms", 0.0)),
            deploy_account=payload["deploy_account"] if isinstance(payload.get("deploy_account"), dict) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise EngineError(f"response is not a decision: {exc}", "remote") from None


@dataclass
class GateClient:
    url: str
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        import urllib.parse
        import urllib.request

        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"gate URL must be http(s)://host[:port][/prefix], got {self.url!r}")
        if parts.query or parts.fragment:
            raise ValueError("gate URL must not carry a query or fragment")
        self.base = self.url.rstrip("/")
        self.host = parts.hostname
        self._opener = urllib.request.build_opener(no_redirect())

    @property
    def token_over_plain_http(self) -> bool:
        return bool(self.token) and self.url.startswith("http://") and not is_loopback(self.host)

    def _call(self, method: str, path: str, body: bytes | None, content_type: str | None) -> tuple[int, Any]:
        import http.client
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.base + path, data=body, method=method)
        request.add_header("Accept", JSON_CONTENT_TYPE)
        request.add_header("User-Agent", f"ecs-admission/{__version__}")
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        where = f"gate {self.base}"
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                raw = exc.read(MAX_RESPONSE_BYTES + 1)
            except (OSError, TimeoutError):
                raw = b""
            finally:
                exc.close()
            if 300 <= status < 400:
                location = exc.headers.get("Location", "?")
                raise GateProtocolError(f"{where} redirected ({status}) to {location}; use the final URL") from None
        except TimeoutError:
            raise GateUnreachable(f"{where} did not answer within {self.timeout:g}s", connection_failed=True) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise GateUnreachable(
                    f"{where} did not answer within {self.timeout:g}s", connection_failed=True
                ) from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise GateUnreachable(f"{where} unreachable: {text}", connection_failed=True) from None
        except http.client.HTTPException as exc:
            raise GateProtocolError(f"{where} did not answer HTTP: {type(exc).__name__}") from None
        except (ConnectionError, OSError) as exc:
            raise GateUnreachable(f"{where} unreachable: {exc.strerror or exc}", connection_failed=True) from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise GateProtocolError(f"{where} answered with more than {MAX_RESPONSE_BYTES} bytes")
        try:
            document = json.loads(raw) if raw else None
        except ValueError:
            document = None
        if status >= 500:
            detail = document.get("detail") if isinstance(document, dict) else None
            raise GateUnreachable(f"{where} answered {status}" + (f": {detail}" if detail else ""))
        return status, document

    def admit(self, body: bytes, content_type: str, dry_run: bool = False) -> Decision:
        """One decision; InputError, GateUnreachable or GateProtocolError when there is none."""
        path = "/v1/admit" + ("?dry_run=true" if dry_run else "")
        status, document = self._call("POST", path, body, content_type)
        return self._decision(status, document)

    def _decision(self, status: int, document: Any) -> Decision:
        if isinstance(document, dict) and document.get("kind") == "AdmissionReview":
            return self._from_review(status, document)
        if status in (400, 413, 415) and isinstance(document, dict) and "detail" in document:
            raise InputError(
                f"{document.get('detail')} (gate answered {status})",
                field=document.get("field"),
                error=str(document.get("error") or "invalid_input"),
            )
        if status in (200, 403) and isinstance(document, dict) and "decision_id" in document:
            try:
                return decision_from_dict(document)
            except EngineError as exc:
                raise GateProtocolError(f"gate {self.base} answered {status}, but {exc.reason}") from None
        raise GateProtocolError(f"gate {self.base} answered {status} without a decision{_hint(status)}")

    def admit_all(self, body: bytes, content_type: str, dry_run: bool = False) -> list[tuple[str | None, Decision]]:
        """Every decision in the answer: (None, decision) for a task definition, (logical id, decision)
        for each task definition of a CloudFormation template (docs/iam-facts.md "CloudFormation templates")."""
        path = "/v1/admit" + ("?dry_run=true" if dry_run else "")
        status, document = self._call("POST", path, body, content_type)
        if status in (200, 403) and isinstance(document, dict) and isinstance(document.get("results"), list):
            decisions = []
            for item in document["results"]:
                if not isinstance(item, dict) or not isinstance(item.get("logical_id"), str):
                    raise GateProtocolError(f"gate {self.base} answered a template result without a logical_id")
                try:
                    decisions.append((item["logical_id"], decision_from_dict(item)))
                except EngineError as exc:
                    raise GateProtocolError(f"gate {self.base} answered {status}, but {exc.reason}") from None
            return decisions
        return [(None, self._decision(status, document))]

    def _from_review(self, status: int, document: dict[str, Any]) -> Decision:
        response = document.get("response") if isinstance(document.get("response"), dict) else {}
        if isinstance(response.get("decision"), dict):
            try:
                return decision_from_dict(response["decision"])
            except EngineError as exc:
                raise GateProtocolError(f"gate {self.base} answered an AdmissionReview, but {exc.reason}") from None
        code_status = response.get("status") if isinstance(response.get("status"), dict) else {}
        code, message = code_status.get("code"), str(code_status.get("message", "no decision"))
        if code == 400:
            field, _, problem = message.partition(": ")
            raise InputError(f"{problem or message} (gate answered 400)", field=field if problem else None)
        if isinstance(code, int) and code >= 500:
            raise GateUnreachable(f"gate {self.base} could not decide ({code}): {message}")
        raise GateProtocolError(f"gate {self.base} answered an AdmissionReview without a decision: {message}")

    def policies(self) -> list[dict[str, Any]]:
        """The gate's rule catalogue (GET /v1/policies), for report formats that list every rule."""
        status, document = self._call("GET", "/v1/policies", None, None)
        if status != 200 or not isinstance(document, dict) or not isinstance(document.get("rules"), list):
            raise GateProtocolError(f"gate {self.base} answered {status} to GET /v1/policies without a rule list")
        return [rule for rule in document["rules"] if isinstance(rule, dict)]


def _hint(status: int) -> str:
    if status in (401, 403):
        return ": it refused the credentials (check --token-env)"
    if status == 404:
        return ": is the URL the gate's base URL (without /v1/admit)?"
    return ""
