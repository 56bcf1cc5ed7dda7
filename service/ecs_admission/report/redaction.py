"""Keep secrets out of everything the gate writes down (docs/configuration.md "Decision records and redaction").

Two layers, because neither is enough alone:
- structural: the fields of a task definition that carry secrets by design (environment values,
  `secrets`' and `secretOptions`' `valueFrom`, `repositoryCredentials`) are reduced to names or
  masked whatever they hold;
- textual: any string that looks like a credential (AWS access key ids and secret keys, bearer
  and basic credentials, private keys, JWTs, well-known token formats, passwords in URLs,
  `password=...` pairs) is masked wherever it appears: in a record, a log message, an error.
The log handlers of the service run every line through `mask_text`, so a message that quotes a
value by mistake still does not leak it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"


def _secret_key(match: re.Match[str]) -> str:
    text = match.group(0)
    mixed = any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)
    return MASK if mixed else text


# (prefilter, pattern, replacement). The prefilter is a substring that every match contains
# (checked in the lower-cased text when `lowered`): a plain `in` test costs far less than a regex
# scan, and most lines match nothing. Ordered: the specific shapes first, so their mask is not
# split by a broader pattern.
_Rule = tuple[tuple[str, ...], bool, re.Pattern[str], Any]
_RULES: tuple[_Rule, ...] = (
    (
        ("PRIVATE KEY",),
        False,
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL),
        "-----BEGIN PRIVATE KEY-----" + MASK + "-----END PRIVATE KEY-----",
    ),
    # Access key ids of long-term (AKIA) and temporary (ASIA) credentials, and their kin.
    (("AKIA", "ASIA", "ABIA", "ACCA"), False, re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), MASK),
    # A 40-character secret access key: base64 alphabet, standing alone (not inside a host name
    # or a longer path), with upper case, lower case and a digit (_secret_key checks, so git SHAs,
    # hex digests and URL paths such as "com/AmazonECS/latest/developerguide/task" stay).
    ((), False, re.compile(r"(?<![A-Za-z0-9/+._-])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=._-])"), _secret_key),
    (("eyJ",), False, re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),  # JWT
    (("gh", "github_pat_"), False, re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), MASK),
    (("xox",), False, re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MASK),  # Slack
    (("_live_",), False, re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{16,}"), MASK),  # Stripe-style live keys
    (
        ("bearer", "basic", "token"),
        True,
        re.compile(r"\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE),
        r"\1\2" + MASK,
    ),
    # scheme://user:password@host
    (("://",), False, re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):[^\s@/]+@"), r"\1:" + MASK + "@"),
    # password=..., "db_password": "...", api_key: ..., SECRET_TOKEN=...
    (
        ("pass", "pwd", "secret", "token", "key", "credential"),
        True,
        re.compile(
            r"""(?i)(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)"""
            r"""(s?["']?\s*[:=]\s*["']?)([^\s"'&,;}]+)"""
        ),
        r"\1\2" + MASK,
    ),
)


def mask_text(text: str) -> str:
    """`text` with every credential-looking substring replaced by ***."""
    lowered = text.lower()
    for needles, use_lowered, pattern, replacement in _RULES:
        haystack = lowered if use_lowered else text
        if needles and not any(needle in haystack for needle in needles):
            continue
        text = pattern.sub(replacement, text)
    return text


def looks_like_credential(text: str) -> bool:
    return mask_text(text) != text


def mask_value(value: Any) -> Any:
    """Deep copy of a JSON value with every string (and key) passed through mask_text."""
    if isinstance(value, dict):
        return {mask_text(str(key)): mask_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def _names_only(entries: Any) -> Any:
    """environment / secrets lists reduced to [{"name": ...}]: which variables, never their values."""
    if not isinstance(entries, list):
        return MASK
    return [{"name": mask_text(str(e.get("name")))} if isinstance(e, dict) else MASK for e in entries]


def redact_container(container: Any) -> Any:
    if not isinstance(container, dict):
        return mask_value(container)
    result = mask_value({k: v for k, v in container.items() if k not in _CONTAINER_FIELDS})
    for key in _CONTAINER_FIELDS:
        if key in container:
            result[key] = _CONTAINER_FIELDS[key](container[key])
    return result


def _log_configuration(value: Any) -> Any:
    if not isinstance(value, dict):
        return MASK
    result = mask_value({k: v for k, v in value.items() if k not in ("options", "secretOptions")})
    if isinstance(value.get("options"), dict):
        # Log driver options carry API keys (Datadog, Splunk HEC tokens): keep the option names only.
        result["options"] = {mask_text(str(k)): MASK for k in value["options"]}
    if "secretOptions" in value:
        result["secretOptions"] = _names_only(value["secretOptions"])
    return result


_CONTAINER_FIELDS = {
    "environment": _names_only,
    "secrets": _names_only,
    "repositoryCredentials": lambda value: {"credentialsParameter": MASK} if isinstance(value, dict) else MASK,
    "logConfiguration": _log_configuration,
}


def redact_task_definition(task_definition: Any) -> Any:
    """A copy of a (normalised) task definition that is safe to log or store."""
    if not isinstance(task_definition, dict):
        return mask_value(task_definition)
    result = mask_value({k: v for k, v in task_definition.items() if k != "containerDefinitions"})
    containers = task_definition.get("containerDefinitions")
    if isinstance(containers, list):
        result["containerDefinitions"] = [redact_container(c) for c in containers]
    elif containers is not None:
        result["containerDefinitions"] = MASK
    return result


def redact_input(document: Any) -> Any:
    """The policy input document (task_definition, roles, context) made safe to log or store."""
    if not isinstance(document, dict):
        return mask_value(document)
    result = mask_value({k: v for k, v in document.items() if k != "task_definition"})
    if "task_definition" in document:
        result["task_definition"] = redact_task_definition(document["task_definition"])
    return result


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks credential-looking text: the last line of defence for a log."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))
