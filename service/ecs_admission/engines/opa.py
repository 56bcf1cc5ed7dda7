"""The OPA sidecar engine: decisions from OPA's Data API through opa-python-client.

`POST /v1/data/ecs/admission/decision?provenance=true` with `{"input": ...}`; OPA answers
`{"result": <decision>, "decision_id": ..., "provenance": {"bundles": {name: {"revision": ...}}}}`,
or `{}` when the decision is undefined. Anything but a well-formed result is an EngineError (503).

Why the client's session is re-mounted: OpaClient 3.0.0 takes one `timeout` (passed straight to
requests, so a (connect, read) tuple works) but mounts an HTTPAdapter with urllib3 Retry
(retries=2, backoff 0.3 s, retrying 500/502/504 and read timeouts on GETs) and requests'
default pool. Against a local sidecar a retry rarely succeeds where the first attempt failed and
multiplies load exactly when OPA is slow, so we mount an adapter with no retries and a pool of
`opa_pool_size` kept-alive connections. The pool does not block when exhausted (requests passes
no pool timeout, so a blocking pool could wait forever); extra connections are opened and closed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ecs_admission.decision import RawDecision
from ecs_admission.errors import ERROR, TIMEOUT, UNAVAILABLE, EngineError
from ecs_admission.policy.loader import DATA_ROOT, DECISION_PACKAGE, DECISION_RULE

if TYPE_CHECKING:
    from ecs_admission.config import Settings

log = logging.getLogger(__name__)

UNKNOWN_REVISION = "unknown"
# Answers of a proxy or an OPA that is not serving (as opposed to one that evaluated and failed).
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


def revision_from_provenance(provenance: Any) -> str | None:
    """The bundle revision(s) in a Data API `provenance` object (multi-bundle or legacy form)."""
    if not isinstance(provenance, dict):
        return None
    bundles = provenance.get("bundles")
    if isinstance(bundles, dict) and bundles:
        revisions = [info.get("revision") for _, info in sorted(bundles.items()) if isinstance(info, dict)]
        return _join(revisions)
    legacy = provenance.get("revision")
    return legacy if isinstance(legacy, str) and legacy else None


def revision_from_bundles(bundles: Any) -> str | None:
    """The revision of the bundle(s) owning data.ecs, from `data.system.bundles`."""
    if not isinstance(bundles, dict):
        return None
    manifests = [
        info["manifest"]
        for _, info in sorted(bundles.items())
        if isinstance(info, dict) and isinstance(info.get("manifest"), dict)
    ]
    owning = [m for m in manifests if _owns_ecs(m.get("roots"))]
    return _join([m.get("revision") for m in (owning or manifests)])


def _owns_ecs(roots: Any) -> bool:
    if roots is None:  # a bundle without roots owns everything
        return True
    return isinstance(roots, list) and any(
        root in ("", DATA_ROOT) or str(root).startswith(DATA_ROOT + "/") for root in roots
    )


def _join(revisions: list[Any]) -> str | None:
    found = [r for r in dict.fromkeys(revisions) if isinstance(r, str) and r]
    return ",".join(found) if found else None


class OpaEngine:
    name = "opa"

    def __init__(
        self,
        url: str,
        connect_timeout: float = 0.5,
        read_timeout: float = 1.0,
        pool_size: int = 4,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"OPA URL {url!r} is not http(s)://HOST:PORT", self.name)
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.read_timeout = read_timeout
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._timeout = (connect_timeout, read_timeout)
        self._client = OpaClient(host=host, port=port, ssl=parts.scheme == "https", timeout=self._timeout, retries=0)
        adapter = HTTPAdapter(
            pool_connections=1,
            pool_maxsize=pool_size,
            pool_block=False,
            max_retries=Retry(total=0, redirect=0, raise_on_status=False),
        )
        self._session = self._client._session
        # Task definitions headed for the sidecar must never take a detour through an
        # environment-configured proxy (HTTP_PROXY and friends).
        self._session.trust_env = False
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._revision = UNKNOWN_REVISION
        self._asked_manifest = False
        self._lock = threading.Lock()
        self._canary_session: requests.Session | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpaEngine:
        if not settings.opa_url:
            raise EngineError("ECS_ADMISSION_OPA_URL is not set", cls.name)
        return cls(
            settings.opa_url,
            connect_timeout=settings.opa_connect_timeout,
            read_timeout=settings.opa_read_timeout,
            pool_size=settings.opa_pool_size,
        )

    @property
    def revision(self) -> str:
        """The last bundle revision OPA reported; never does I/O itself."""
        return self._revision

    def _remember(self, revision: str | None) -> None:
        if revision:
            with self._lock:
                self._revision = revision

    def close(self) -> None:
        self._client.close_connection()

    def _query(self, package_path: str, rule: str, input_document: Any, provenance: bool = False) -> dict[str, Any]:
        """POST one Data API query; the raw response object, or EngineError saying what went wrong."""
        where = f"data.{package_path}.{rule}"
        try:
            body = self._client.query_rule(
                input_data=input_document,
                package_path=package_path,
                rule_name=rule,
                query_params={"provenance": "true"} if provenance else None,
            )
        except requests.ConnectTimeout:
            raise self._error(
                f"could not connect to OPA at {self.url} within {self._timeout[0]}s", UNAVAILABLE
            ) from None
        except requests.Timeout:
            # Connected, then slow: this input, or a busy OPA. Never a reason to fail open.
            reason = f"OPA at {self.url} did not answer {where} within {self.read_timeout}s"
            raise self._error(reason, TIMEOUT) from None
        except requests.ConnectionError as exc:
            raise self._error(f"cannot reach OPA at {self.url}: {_root_cause(exc)}", UNAVAILABLE) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            kind = UNAVAILABLE if status in UNAVAILABLE_STATUSES else ERROR
            raise self._error(f"OPA answered {where} with {_describe_http_error(exc.response)}", kind) from None
        except ValueError:  # requests' JSONDecodeError: a 2xx whose body is not JSON
            raise self._error(f"OPA answered {where} with a body that is not JSON") from None
        except requests.RequestException as exc:
            raise self._error(f"request to OPA at {self.url} failed: {_root_cause(exc)}") from None
        if not isinstance(body, dict):
            raise self._error(f"OPA answered {where} with JSON that is not an object")
        return body

    def _error(self, reason: str, kind: str = ERROR) -> EngineError:
        log.warning("opa engine: %s", reason)
        return EngineError(reason, self.name, kind=kind)

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        body = self._query(DECISION_PACKAGE, DECISION_RULE, input_document, provenance=True)
        if "result" not in body:
            # OPA answers an undefined document with 200 and {}: that is no decision, not "no findings".
            raise self._error(
                f"data.{DECISION_PACKAGE}.{DECISION_RULE} is undefined on OPA (is the policy bundle loaded?)",
                UNAVAILABLE,
            )
        revision = revision_from_provenance(body.get("provenance"))
        self._remember(revision)
        if revision is None and self._revision == UNKNOWN_REVISION and not self._asked_manifest:
            # No provenance (an OPA that does not report it for this bundle): read the manifest
            # once. The decision stands even if this lookup fails.
            self._asked_manifest = True
            with contextlib.suppress(EngineError):
                self.refresh_revision()
        decision_id = body.get("decision_id")
        return RawDecision.from_document(
            body["result"],
            engine=self.name,
            revision=revision or self._revision,
            engine_decision_id=decision_id if isinstance(decision_id, str) and decision_id else None,
        )

    def policy_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for document in ("catalog", "config"):
            body = self._query(DATA_ROOT, document, {})
            if "result" in body:
                data[document] = body["result"]
        self.refresh_revision()
        return data

    def refresh_revision(self) -> str:
        """Ask OPA which bundle revision it has active (`data.system.bundles`)."""
        body = self._query("system", "bundles", {})
        self._remember(revision_from_bundles(body.get("result")))
        return self._revision

    def canary(self, canary: dict[str, Any]) -> None:
        """Decide the canary on a connection of its own (the fail-open wrapper's probe).

        Requests share the pool; the probe must not wait behind them, nor be counted among them.
        """
        with self._lock:
            if self._canary_session is None:
                session = requests.Session()
                session.trust_env = False
                session.mount("http://", HTTPAdapter(max_retries=Retry(total=0, redirect=0)))
                session.mount("https://", HTTPAdapter(max_retries=Retry(total=0, redirect=0)))
                self._canary_session = session
            session = self._canary_session
        where = f"{self.url}/v1/data/{DECISION_PACKAGE.replace('.', '/')}/{DECISION_RULE}"
        try:
            response = session.post(where, json={"input": canary}, timeout=self._timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise self._error(f"the canary was not decided: {_root_cause(exc)}", UNAVAILABLE) from None
        if not isinstance(body, dict) or not isinstance(body.get("result"), dict):
            raise self._error("the canary was not decided: no decision in OPA's answer", UNAVAILABLE)

    def ready(self, canary: dict[str, Any]) -> None:
        """Ready once OPA reports its bundles active and answers the canary with a well-formed decision."""
        try:
            response = self._session.get(f"{self.url}/health", params={"bundles": "true"}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise self._error(f"OPA health check at {self.url}/health failed: {_root_cause(exc)}") from None
        if response.status_code != 200:
            raise self._error(
                f"OPA at {self.url} is not ready (/health?bundles answered {_describe_http_error(response)})"
            )
        self.refresh_revision()
        self.evaluate(canary)


def _root_cause(exc: BaseException) -> str:
    """The innermost reason (e.g. 'Connection refused'), not urllib3's pool chatter."""
    seen = exc
    while True:
        inner = seen.__context__ or seen.__cause__
        if inner is None or inner is seen:
            break
        seen = inner
    if seen.args and isinstance(seen.args[-1], BaseException):
        seen = seen.args[-1]
    text = str(seen)
    if "Connection refused" in text or isinstance(seen, ConnectionRefusedError):
        return "connection refused"
    return text.split(": ", 1)[-1][:200] or type(seen).__name__


def _describe_http_error(response: requests.Response | None) -> str:
    if response is None:
        return "an HTTP error"
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("error") or body.get("code") or "")
    except ValueError:
        detail = response.text[:120]
    status = f"HTTP {response.status_code}"
    return f"{status}: {detail[:300]}" if detail else status
