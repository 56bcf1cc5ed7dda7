"""Choose and build the engine a worker uses, failing closed when it cannot be built."""

from __future__ import annotations

import logging

from ..config import Settings
from ..errors import EngineError
from ..policy import PolicyError, load_policy_set
from . import Engine, UnavailableEngine
from .embedded import EmbeddedEngine

log = logging.getLogger(__name__)


def build_engine(settings: Settings) -> Engine:
    """The embedded engine over the configured policy directory; UnavailableEngine on failure."""
    try:
        policy = load_policy_set(settings.policy_dir)
        return EmbeddedEngine(policy)
    except (PolicyError, EngineError) as exc:
        reason = exc.reason if isinstance(exc, EngineError) else str(exc)
        log.error("policy engine unavailable: %s", reason)
        return UnavailableEngine("embedded", reason)
