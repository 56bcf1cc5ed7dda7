"""Role facts from the IAM API with boto3: cached per worker, bounded per request, explicit on failure.

Only these read calls are made (docs/iam-facts.md, "The IAM permissions the webhook needs"): iam:GetRole,
iam:ListAttachedRolePolicies, iam:GetPolicy, iam:GetPolicyVersion, iam:ListRolePolicies,
iam:GetRolePolicy, and sts:GetCallerIdentity (once per worker, for the webhook's own account).

Failure is a fact, never an allow: NoSuchEntity makes the role `missing`; access denied,
throttling after retries, a timeout or the request's lookup budget running out make it `unknown`
with the reason, and the policies decide (the shipped ones fail closed).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_admission.config import ConfigError, Settings
from ecs_admission.facts.roles import ROLE_ARN_RE
from ecs_admission.iam.documents import normalise_policy_document
from ecs_admission.parsing.safe_text import safe_text

if TYPE_CHECKING:  # the pool is made when lookups run: a `check` with lookups off never needs it
    from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

try:  # Another module may count cache hits and misses; the lookup works without it.
    from ecs_admission import metrics as _metrics  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on whether the metrics module is installed
    _metrics = None

READ_ACTIONS = (
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "sts:GetCallerIdentity",
)
ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
    "ExpiredToken",
    "SignatureDoesNotMatch",
}
THROTTLING_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
EXECUTOR_THREADS = 4


def _count(name: str, *args: str) -> None:
    hook = getattr(_metrics, name, None)
    if callable(hook):
        hook(*args)


# What went wrong on IAM's side (or on the way to it), for ecs_admission_iam_lookup_failures_total.
# "input" is a role this webhook cannot read by design (not a role ARN, another account): not a failure.
FAILURE_KINDS = ("throttled", "access_denied", "timeout", "unreachable", "credentials", "budget", "error")


class LookupFailure(Exception):
    """A role's facts could not be had; `status` is "missing" or "unknown", `kind` says why (FAILURE_KINDS)."""

    def __init__(self, status: str, reason: str, kind: str = "error"):
        self.status = status
        self.reason = safe_text(reason)
        self.kind = kind
        super().__init__(self.reason)


class TTLCache:
    """A small thread-safe LRU with a time to live: one per worker process."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, value = item
            if self.clock() >= expires:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0 or self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (self.clock() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class LookupMode:
    enabled: bool
    reason: str


def configured_region(settings: Settings, session: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """The AWS Region in force: ECS_ADMISSION_REGION, else AWS_REGION / AWS_DEFAULT_REGION, else the
    boto3 session's (its config file)."""
    env = os.environ if environ is None else environ
    return settings.default_region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or session.region_name


_service_models: Any = None  # botocore's loader, shared by every session this process makes
_models_lock = threading.Lock()


def aws_session() -> Any:
    """A new boto3 session (credentials, Region and endpoints read now, as boto3.session.Session() does)
    that shares one botocore loader per process: parsing a service's model costs 0.1-0.5 s of CPU, and
    a Lambda handler (detective, audit) makes new sessions on every invocation."""
    global _service_models
    import boto3
    import botocore.session

    core = botocore.session.Session()
    with _models_lock:
        if _service_models is None:
            _service_models = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _service_models)
        session = boto3.session.Session(botocore_session=core)
        # boto3 appends its own data folder to the loader's search path each time: keep it once.
        paths = _service_models.search_paths
        paths[:] = list(dict.fromkeys(paths))
    return session


def client_config(settings: Settings, **extra: Any) -> Any:
    """botocore settings for every AWS call the gate makes: bounded retries and timeouts from settings."""
    from botocore.config import Config

    return Config(
        # total_max_attempts counts the first call too (botocore's max_attempts would not).
        retries={"mode": "adaptive", "total_max_attempts": settings.iam_max_attempts},
        connect_timeout=settings.iam_connect_timeout,
        read_timeout=settings.iam_read_timeout,
        **extra,
    )


class _Region:
    """A botocore session seen as configured_region reads a boto3 one (`region_name`)."""

    def __init__(self, session: Any):
        self.region_name = session.get_config_variable("region")


def _no_region_anywhere(settings: Settings, environ: Mapping[str, str] | None) -> bool:
    """True only where botocore could not find a Region either, so the answer needs no botocore
    import (0.25 s): no setting, no Region variable, no profile chosen, and neither file botocore
    reads profiles from (the config file, and the credentials file, whose profiles it merges in:
    a `region` there counts). Anything else is botocore's to read, with its own errors."""
    env = os.environ if environ is None else environ
    region_variables = ("AWS_REGION", "AWS_DEFAULT_REGION")
    if settings.default_region or any(e.get(k) for e in (env, os.environ) for k in region_variables):
        return False
    if any(k in os.environ for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")):
        return False
    files = (("AWS_CONFIG_FILE", "~/.aws/config"), ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))
    return not any(os.path.exists(os.path.expanduser(os.path.expandvars(os.environ.get(k, d)))) for k, d in files)


def resolve_mode(settings: Settings, environ: Mapping[str, str] | None = None) -> LookupMode:
    """Whether to look roles up: on, off, or auto (on when a Region and credentials are configured)."""
    if settings.iam_lookup == "on":
        return LookupMode(True, "ECS_ADMISSION_IAM_LOOKUP=on")
    if settings.iam_lookup == "off":
        return LookupMode(False, "IAM lookups are off (ECS_ADMISSION_IAM_LOOKUP=off)")
    no_region = LookupMode(False, "IAM lookups are off: no AWS Region is configured (ECS_ADMISSION_IAM_LOOKUP=auto)")
    if _no_region_anywhere(settings, environ):
        return no_region
    # botocore's own session, not boto3's wrapper of it: the same Region and credential chain
    # without boto3's import of s3transfer (0.1 s of a cold `check`).
    import botocore.session
    from botocore.exceptions import BotoCoreError

    session = botocore.session.get_session()
    try:
        if not configured_region(settings, _Region(session), environ):
            return no_region
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        # AWS_PROFILE naming no profile, a config file botocore cannot read, half a key pair: the
        # operator's setup, said in one line (exit 2, or a server that does not start), not a traceback.
        raise ConfigError(f"the AWS configuration cannot be read ({exc}); ECS_ADMISSION_IAM_LOOKUP=auto") from None
    if credentials is None:
        return LookupMode(False, "IAM lookups are off: no AWS credentials were found (ECS_ADMISSION_IAM_LOOKUP=auto)")
    return LookupMode(True, "ECS_ADMISSION_IAM_LOOKUP=auto found an AWS Region and credentials")


def _failure(exc: Exception, what: str) -> LookupFailure:
    """Map a botocore exception to an explicit unknown (or missing) fact with a reason a person can act on."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        operation = exc.operation_name
        if code == "NoSuchEntity":
            return LookupFailure("missing", f"{what}: IAM {operation} says it does not exist ({message})", "input")
        if code in ACCESS_DENIED_CODES:
            reason = f"{what}: access denied to IAM {operation} ({code}: {message})"
            return LookupFailure("unknown", reason, "access_denied")
        if code in THROTTLING_CODES:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            reason = f"{what}: IAM {operation} throttled after {attempts} attempt(s)"
            return LookupFailure("unknown", reason, "throttled")
        return LookupFailure("unknown", f"{what}: IAM {operation} failed ({code}: {message})")
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return LookupFailure("unknown", f"{what}: IAM did not answer in time ({exc})", "timeout")
    if isinstance(exc, EndpointConnectionError):
        return LookupFailure("unknown", f"{what}: IAM endpoint unreachable ({exc})", "unreachable")
    if isinstance(exc, NoCredentialsError):
        return LookupFailure("unknown", f"{what}: no AWS credentials for IAM lookups", "credentials")
    if isinstance(exc, BotoCoreError):
        return LookupFailure("unknown", f"{what}: IAM lookup failed ({exc})")
    return LookupFailure("unknown", f"{what}: IAM lookup failed ({type(exc).__name__}: {exc})")


def unknown_facts(reason: str, status: str = "unknown") -> dict[str, Any]:
    return {
        "status": status,
        "source": "iam",
        "reason": reason,
        "trust_policy": None,
        "policies": None,
        "permissions_boundary": None,
        "details": None,
    }


class IamLookup:
    """One per worker: one boto3 session and client per service, one cache, a small thread pool."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        session_factory: Callable[[], Any] | None = None,
    ):
        self.settings = settings
        self.clock = clock
        self.roles = TTLCache(settings.iam_cache_ttl, settings.iam_cache_size, clock)
        self.policies = TTLCache(settings.iam_cache_ttl, settings.iam_cache_size, clock)
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._account: str | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """Created on first use (after gunicorn forks), then reused by every request of the worker."""
        with self._lock:
            if service not in self._clients:
                session = self._session_factory() if self._session_factory else aws_session()
                config = client_config(self.settings, max_pool_connections=EXECUTOR_THREADS * 2)
                region = self.settings.default_region or session.region_name or "us-east-1"
                self._clients[service] = session.client(service, region_name=region, config=config)
            return self._clients[service]

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(EXECUTOR_THREADS, thread_name_prefix="iam-lookup")
            return self._executor

    def _run_within(self, calls: dict[str, Callable[[], Any]], deadline: float) -> dict[str, Any]:
        """Run calls on the pool; a call still running at the deadline yields a budget failure.

        The call itself keeps going and fills the cache for the next request; this request moves on.
        """
        from concurrent.futures import wait

        futures = {key: self._pool().submit(call) for key, call in calls.items()}
        wait(list(futures.values()), timeout=max(0.0, deadline - self.clock()))
        results: dict[str, Any] = {}
        for key, future in futures.items():
            if not future.done():
                budget = self.settings.iam_budget_seconds
                results[key] = LookupFailure("unknown", f"the IAM lookup budget of {budget:g}s ran out", "budget")
                continue
            try:
                results[key] = future.result()
            except LookupFailure as exc:
                results[key] = exc
            except Exception as exc:  # a bug or an unexpected botocore error: unknown, never an allow
                log.exception("IAM lookup failed unexpectedly")
                results[key] = _failure(exc, key)
        for result in results.values():
            if isinstance(result, LookupFailure) and result.status == "unknown" and result.kind in FAILURE_KINDS:
                _count("iam_lookup_failure", result.kind)
        return results

    def deadline(self) -> float:
        return self.clock() + self.settings.iam_budget_seconds

    # -- the webhook's own account ------------------------------------------------------------------

    def caller_account(self) -> str:
        """sts:GetCallerIdentity once per worker: the account whose roles this worker can read."""
        if self._account is None:
            try:
                self._account = self.client("sts").get_caller_identity()["Account"]
            except Exception as exc:
                raise _failure(exc, "the webhook's own account (sts:GetCallerIdentity)") from None
        return self._account

    def account_within(self, deadline: float) -> str | LookupFailure:
        if self._account is not None:
            return self._account
        return self._run_within({"account": self.caller_account}, deadline)["account"]

    # -- roles ----------------------------------------------------------------------------------------

    def lookup(self, arns: Iterable[str], deadline: float) -> dict[str, dict[str, Any]]:
        """Facts for each role ARN (known, missing or unknown), within the deadline."""
        results: dict[str, Any] = {}
        pending: dict[str, Callable[[], Any]] = {}
        for arn in dict.fromkeys(arns):
            cached = self.roles.get(arn)
            if cached is not None:
                # Served here: handing a cache hit to the pool and waiting for it cost more than the hit.
                _count("iam_cache_hit")
                results[arn] = dict(cached)
            else:
                pending[arn] = lambda arn=arn: self.role_facts(arn)
        if pending:
            results.update(self._run_within(pending, deadline))
        return {
            arn: unknown_facts(value.reason, value.status) if isinstance(value, LookupFailure) else value
            for arn, value in results.items()
        }

    def role_facts(self, arn: str) -> dict[str, Any]:
        cached = self.roles.get(arn)
        if cached is not None:
            _count("iam_cache_hit")
            return dict(cached)
        _count("iam_cache_miss")
        facts = self._fetch_role(arn)
        self.roles.put(arn, facts)
        return dict(facts)

    def _fetch_role(self, arn: str) -> dict[str, Any]:
        match = ROLE_ARN_RE.match(arn)
        if not match:
            raise LookupFailure("unknown", f"{arn} is not a role ARN", "input")
        account, name = match.group(2), match.group(4)
        own = self.caller_account()
        if account != own:
            raise LookupFailure(
                "unknown",
                f"role {arn} is in account {account}; this webhook's credentials read IAM in account {own} only",
                "input",
            )
        iam = self.client("iam")
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except Exception as exc:
            failure = _failure(exc, f"role {arn}")
            if failure.status == "missing":
                raise LookupFailure("missing", f"role {name} does not exist in account {account}", "input") from None
            raise failure from None
        if role.get("Arn") != arn:
            raise LookupFailure(
                "missing", f"no role has the ARN {arn}; a role named {name} has {role.get('Arn')}", "input"
            )
        try:
            policies = self._attached(iam, name) + self._inline(iam, name)
            boundary_arn = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
            boundary = self.policy_document(boundary_arn)[1] if boundary_arn else None
        except LookupFailure as failure:
            # A policy that vanished between the list and the read is a race, not a missing role.
            raise LookupFailure(
                "unknown", failure.reason, failure.kind if failure.status == "unknown" else "error"
            ) from None
        except Exception as exc:
            failure = _failure(exc, f"role {arn}")
            raise LookupFailure("unknown", failure.reason, failure.kind) from None
        try:
            trust = normalise_policy_document(role.get("AssumeRolePolicyDocument"), "/AssumeRolePolicyDocument")
        except ValueError as exc:
            raise LookupFailure("unknown", f"role {arn}: unreadable trust policy ({exc})", "input") from None
        return {
            "status": "known",
            "source": "iam",
            "reason": "",
            "trust_policy": trust,
            "policies": policies,
            "permissions_boundary": boundary,
            "details": {
                "path": role.get("Path"),
                "tags": {tag["Key"]: tag["Value"] for tag in role.get("Tags", [])},
                "max_session_duration": role.get("MaxSessionDuration"),
                "permissions_boundary_arn": boundary_arn,
            },
        }

    def _attached(self, iam: Any, name: str) -> list[dict[str, Any]]:
        result = []
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page.get("AttachedPolicies", []):
                policy_arn = attached["PolicyArn"]
                policy_name, document = self.policy_document(policy_arn)
                kind = "aws-managed" if ":iam::aws:policy/" in policy_arn else "managed"
                result.append({"name": policy_name, "kind": kind, "arn": policy_arn, "document": document})
        return result

    def _inline(self, iam: Any, name: str) -> list[dict[str, Any]]:
        result = []
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page.get("PolicyNames", []):
                raw = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                document = _normalise(raw, f"inline policy {policy_name}")
                result.append({"name": policy_name, "kind": "inline", "document": document})
        return result

    def policy_document(self, policy_arn: str) -> tuple[str, dict[str, Any]]:
        """(name, normalised default version) of a managed policy; cached, since many roles share them."""
        cached = self.policies.get(policy_arn)
        if cached is not None:
            return cached
        iam = self.client("iam")
        try:
            policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
            version = iam.get_policy_version(PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"])
        except Exception as exc:
            raise _failure(exc, f"managed policy {policy_arn}") from None
        result = (policy["PolicyName"], _normalise(version["PolicyVersion"]["Document"], f"policy {policy_arn}"))
        self.policies.put(policy_arn, result)
        return result

    def policy_documents_within(self, arns: Iterable[str], deadline: float) -> dict[str, Any]:
        """Managed policies named by a template, each a (name, document) or a LookupFailure."""
        return self._run_within(
            {arn: lambda arn=arn: self.policy_document(arn) for arn in dict.fromkeys(arns)}, deadline
        )


def _normalise(raw: Any, what: str) -> dict[str, Any]:
    try:
        return normalise_policy_document(raw)
    except ValueError as exc:
        raise LookupFailure("unknown", f"{what}: unreadable policy document ({exc})") from None
