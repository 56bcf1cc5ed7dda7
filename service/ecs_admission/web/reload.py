"""Policy reload without a restart (README "Reloading policies").

Two triggers, one rule: a new policy set replaces the serving one only if it loads, compiles,
answers the readiness canary with a well-formed decision and passes its own Rego tests. Otherwise
the old policies keep serving, the error is logged, counted, and shown on /readyz as
`reload_error` (the worker stays ready: taking every worker out of rotation because someone
pushed a broken policy would turn a bad commit into an outage).

- Directory poll (ECS_ADMISSION_POLICY_POLL_SECONDS > 0): each worker watches the policy
  directory and, on a change, validates the new set and swaps its engine atomically.
- SIGHUP to the gunicorn master: gunicorn replaces its workers, and new workers build their
  engine from disk. So that a broken directory cannot take the new workers down, workers never
  read the configured directory at boot: the master keeps a validated snapshot and points them
  at it (ACTIVE_DIR_ENV). On HUP it copies the directory, validates the copy in a child process,
  and only then makes the copy the active snapshot; a failure keeps the previous snapshot and is
  handed to the new workers (STATUS_ENV) to report on /readyz.

Either way the set must be whole (engines/acceptance.py), and an accepted set is published to the
server's state directory (web/accepted.py), so a worker gunicorn starts later serves it too.

A worker validates in-process, on the engine it will serve with. The master validates in a
child process (`python -m ecs_admission.web.reload validate DIR`), because OPA's Go evaluator starts
the Go runtime when first used and the master must still be able to fork workers afterwards.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_admission import metrics
from ecs_admission.engines import serving_engine
from ecs_admission.errors import EngineError
from ecs_admission.policy.loader import PolicyError, PolicySet, default_policy_dir, load_policy_set
from ecs_admission.policy.snapshot import SnapshotError, copy_policy_files
from ecs_admission.web import accepted

log = logging.getLogger(__name__)

# Set by the gunicorn master for its workers; not settings a person configures.
ACTIVE_DIR_ENV = "ECS_ADMISSION_ACTIVE_POLICY_DIR"
STATUS_ENV = "ECS_ADMISSION_RELOAD_STATUS"
VALIDATE_TIMEOUT = 60.0
MAX_REPORTED_FAILURES = 5


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Validation:
    ok: bool
    revision: str | None
    error: str | None
    tests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "revision": self.revision, "error": self.error, "tests": self.tests}


def build_validated(policy: PolicySet, running: PolicySet | None = None) -> tuple[Validation, Any]:
    """Accept the set (whole, no restricted builtin, none of `running`'s rules gone), compile it,
    answer the readiness canary and run its Rego tests; (verdict, engine or None)."""
    from ecs_admission.engines.acceptance import accept
    from ecs_admission.engines.embedded import EmbeddedEngine
    from ecs_admission.engines.rego_tests import run_tests
    from ecs_admission.web.routes import CANARY

    try:
        accept(policy, running)
        engine = EmbeddedEngine(policy)
        engine.evaluate(CANARY)
        results = [r for r in run_tests(policy) if not r.skipped]
    except EngineError as exc:
        return Validation(False, policy.revision, exc.reason), None
    failed = [r for r in results if not r.passed]
    if failed:
        engine.close()
        shown = "; ".join(
            f"{r.qualified_name} ({r.location}): {r.detail or 'false'}" for r in failed[:MAX_REPORTED_FAILURES]
        )
        more = f" and {len(failed) - MAX_REPORTED_FAILURES} more" if len(failed) > MAX_REPORTED_FAILURES else ""
        error = f"{len(failed)} of {len(results)} Rego test(s) fail: {shown}{more}"
        return Validation(False, policy.revision, error), None
    return Validation(True, policy.revision, None, tests=len(results)), engine


def validate_in_process(directory: Path | None, running: Path | None = None) -> Validation:
    """Load, accept, compile, run the canary and the directory's Rego tests (the master's child
    process); `running` is the directory of the set it would replace, if any."""
    try:
        policy = load_policy_set(directory)
    except PolicyError as exc:
        return Validation(False, None, str(exc))
    try:
        current = load_policy_set(running) if running is not None else None
    except PolicyError:
        current = None  # the running set no longer loads (its copy is gone): nothing to compare with
    validation, engine = build_validated(policy, current)
    if engine is not None:
        engine.close()
    return validation


def validate_in_subprocess(
    directory: Path, timeout: float = VALIDATE_TIMEOUT, running: Path | None = None
) -> Validation:
    """validate_in_process in a child, so the Go runtime never starts in the gunicorn master."""
    command = [sys.executable, "-m", "ecs_admission.web.reload", "validate", str(directory)]
    if running is not None:
        command += ["--running", str(running)]
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Validation(False, None, f"policy validation did not finish within {timeout:.0f} s")
    except OSError as exc:
        return Validation(False, None, f"policy validation could not start: {exc}")
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1])
        return Validation(bool(result["ok"]), result.get("revision"), result.get("error"), int(result.get("tests", 0)))
    except (IndexError, ValueError, KeyError, TypeError):
        tail = (completed.stderr.strip().splitlines() or [""])[-1][:300]
        return Validation(False, None, f"policy validation crashed (exit {completed.returncode}): {tail}")


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detection: every file's path, size and modification time."""
    entries = []
    try:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                stat = path.stat()
                entries.append((path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns))
    except OSError:
        return ()
    return tuple(entries)


def _replace_embedded_engine(gate: Any, engine: Any) -> None:
    """Swap the engine the gate uses; wrappers (fail-open, deadline) keep wrapping the new one."""
    holder = gate.engine
    if not hasattr(holder, "inner"):
        gate.engine = engine
        return
    while hasattr(holder.inner, "inner"):
        holder = holder.inner
    holder.inner = engine


def _serving_engine(gate: Any) -> Any:
    return serving_engine(gate.engine)


class PolicyReloader:
    """Reloads one worker's embedded engine from the configured policy directory."""

    def __init__(
        self,
        gate: Any,
        source: Path | None,
        initial_error: dict[str, Any] | None = None,
        eval_timeout: float | None = None,
    ):
        self.gate = gate
        self.source = Path(source) if source is not None else default_policy_dir()
        self.last_error: dict[str, Any] | None = initial_error
        self.last_success: dict[str, Any] | None = None
        self.eval_timeout = eval_timeout
        self._lock = threading.Lock()
        # No fingerprint yet: the first look compares the directory's revision with the serving one.
        # A worker started after a poll reload (gunicorn replaced one) builds from the master's
        # snapshot or the newest accepted set; a fingerprint taken now would take the directory as
        # seen and never reload it (issue 21).
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if initial_error:
            metrics.reload_failing(True)

    def reload(self) -> bool:
        """Validate the directory and swap it in; True if the serving policies changed."""
        with self._lock:
            before = fingerprint(self.source)
            self._fingerprint = before
            try:
                policy = load_policy_set(self.source)
            except PolicyError as exc:
                if fingerprint(self.source) != before:
                    return self._changing()
                return self._failed(None, str(exc))
            if fingerprint(self.source) != before:
                return self._changing()
            serving = _serving_engine(self.gate)
            if policy.revision == serving.revision and serving.name == "embedded" and hasattr(serving, "policy"):
                self._clear()  # back to what is serving (a reverted bad push): nothing to report
                return False
            validation, engine = build_validated(policy, getattr(serving, "policy", None))
            if engine is None:
                return self._failed(policy.revision, validation.error or "validation failed")
            previous = serving.revision
            # Published first: a worker gunicorn starts from now on builds the new set (web/accepted.py).
            accepted.publish(self.source, engine.revision, by="poll")
            _replace_embedded_engine(self.gate, self._guarded(engine))
            self._clear()
            self.last_success = {"at": _now(), "revision": engine.revision, "previous": previous}
            metrics.policy_reload(True)
            log.info("policies reloaded from %s: revision %s -> %s", self.source, previous, engine.revision)
            return True

    def _guarded(self, engine: Any) -> Any:
        """The new engine behind the evaluation deadline, unless a deadline wrapper already serves."""
        if self.eval_timeout is None:
            return engine
        from ecs_admission.engines.deadline import DeadlineEngine
        from ecs_admission.web.recycle import deadline_engine, recycle_when_stuck

        if deadline_engine(self.gate.engine) is not None:
            return engine
        from ecs_admission.engines.embedded import EmbeddedEngine

        wrapper = DeadlineEngine(engine, self.eval_timeout, rebuild=EmbeddedEngine)
        if accepted.state_dir() is not None:
            recycle_when_stuck(wrapper)  # under gunicorn, as create_app does for a start-up engine
        return wrapper

    def _changing(self) -> bool:
        """The directory changed while it was read (a deploy in progress): look again next time."""
        self._fingerprint = None
        log.info("policy directory %s changed while being read; reading it again at the next look", self.source)
        return False

    def _failed(self, revision: str | None, error: str) -> bool:
        serving = _serving_engine(self.gate).revision
        self.last_error = {"at": _now(), "revision": revision, "error": error, "serving": serving}
        metrics.policy_reload(False)
        log.error("policy reload from %s failed; still serving revision %s: %s", self.source, serving, error)
        return False

    def _clear(self) -> None:
        if self.last_error is not None:
            metrics.reload_failing(False)
        self.last_error = None

    def check(self) -> bool:
        """Reload if the directory changed since the last look (the poll thread's step)."""
        if self._fingerprint is not None and fingerprint(self.source) == self._fingerprint:
            return False
        return self.reload()

    def start_polling(self, interval: float) -> None:
        if self._thread is not None or interval <= 0:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.check()
                except Exception:  # the poller must outlive any one bad reload
                    log.exception("policy poll failed")

        self._thread = threading.Thread(target=loop, name="ecs-admission-policy-poll", daemon=True)
        self._thread.start()
        log.info("watching %s for policy changes every %.1f s", self.source, interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def status_from_env() -> dict[str, Any] | None:
    raw = os.environ.get(STATUS_ENV)
    if not raw:
        return None
    try:
        status = json.loads(raw)
    except ValueError:
        return None
    return status if isinstance(status, dict) else None


# --- the gunicorn master's side ----------------------------------------------------------------


class MasterSnapshots:
    """The gunicorn master's validated copies of the policy directory (see the module docstring)."""

    def __init__(self, source: Path | None):
        self.source = Path(source) if source is not None else default_policy_dir()
        self.active: Path | None = None
        self.state: Path | None = None

    def _copy(self) -> Path:
        """Exactly the files the loader reads (policy/snapshot.py): a link leading outside the
        directory, a link loop or a set over the size budget is refused here, before any copying
        gets large (`a -> .` and `b -> .` made shutil.copytree copy 2.6 GB)."""
        target = Path(tempfile.mkdtemp(prefix="ecs-admission-policies-"))
        try:
            copy_policy_files(self.source, target)
        except (OSError, SnapshotError):
            shutil.rmtree(target, ignore_errors=True)
            raise
        return target

    def start(self) -> None:
        """At start-up the copy is taken as it is: workers that cannot compile it fail closed."""
        os.environ.pop(STATUS_ENV, None)
        try:
            self.state = Path(tempfile.mkdtemp(prefix="ecs-admission-state-"))
            os.environ[accepted.STATE_ENV] = str(self.state)
        except OSError as exc:
            log.warning("cannot create a policy state directory (%s): replaced workers start from the snapshot", exc)
        try:
            self.active = self._copy()
        except (OSError, SnapshotError) as exc:
            log.warning("cannot snapshot %s (%s): workers read it directly, HUP cannot protect them", self.source, exc)
            return
        os.environ[ACTIVE_DIR_ENV] = str(self.active)

    def reload(self) -> Validation:
        """On SIGHUP, before gunicorn starts the new workers."""
        try:
            candidate = self._copy()
        except (OSError, SnapshotError) as exc:
            validation = Validation(False, None, f"cannot copy {self.source}: {exc}")
        else:
            running = accepted.current()
            running_dir = Path(running["directory"]) if running else self.active
            validation = validate_in_subprocess(candidate, running=running_dir)
            if validation.ok:
                previous, self.active = self.active, candidate
                os.environ[ACTIVE_DIR_ENV] = str(candidate)
                os.environ.pop(STATUS_ENV, None)
                accepted.point_at(candidate, validation.revision, by="SIGHUP")
                if previous is not None:
                    shutil.rmtree(previous, ignore_errors=True)
                metrics.policy_reload(True)
                log.info("SIGHUP: policies from %s validated (revision %s)", self.source, validation.revision)
                return validation
            shutil.rmtree(candidate, ignore_errors=True)
        status = {"at": _now(), "revision": validation.revision, "error": validation.error, "trigger": "SIGHUP"}
        os.environ[STATUS_ENV] = json.dumps(status)
        metrics.policy_reload(False)
        log.error("SIGHUP: policies in %s refused, workers keep the previous ones: %s", self.source, validation.error)
        return validation

    def cleanup(self) -> None:
        if self.active is not None:
            shutil.rmtree(self.active, ignore_errors=True)
            self.active = None
        if self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None
        os.environ.pop(ACTIVE_DIR_ENV, None)
        os.environ.pop(accepted.STATE_ENV, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecs_admission.web.reload")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="load, compile, canary and Rego tests; one JSON line")
    validate.add_argument("directory", type=Path)
    validate.add_argument("--running", type=Path, help="the set it would replace: none of its rules may disappear")
    args = parser.parse_args(argv)
    # Rego print() or a library may write to stdout too; the answer is a line of its own at the end.
    result = validate_in_process(args.directory, args.running)
    sys.stdout.flush()
    print("\n" + json.dumps(result.to_dict()), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
