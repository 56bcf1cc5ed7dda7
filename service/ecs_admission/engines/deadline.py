"""A deadline for every in-process evaluation, and a worker that stays usable after one is missed.

OPA's Go evaluator, as the binding exposes it (opa-golib-python-bindings 0.4.4: OpaNew, OpaAddPolicy,
OpaAddData, OpaEvalQuery, OpaEvalDocument, OpaDestroy), takes no context, deadline or cancel: an
evaluation runs to its end, and `OpaDestroy` on its handle does not stop it (measured: a 30 s
evaluation finished 29 s after its engine was destroyed). What the binding does allow is several
engines evaluating at once, since ctypes releases the GIL during the call. So:

- each evaluation runs on a runner thread while the request's thread waits at most `timeout`
  seconds; past it the request fails closed (EngineError kind "timeout": never a fail-open);
- the engine left evaluating is retired (its lock is held by the stuck call, so every later
  evaluation would queue behind it), a replacement is compiled from the same policy set, and the
  retired engine is closed when its call finally returns;
- each abandoned call keeps a core busy until it ends (calls queued behind it on the same engine
  only wait); once `max_abandoned` engines are stuck at once the worker asks to be recycled
  (`on_exhausted`; under gunicorn a graceful SIGTERM to itself), because only the end of the
  process ends them. docs/hardening.md has the measurements.

`run_with_deadline` bounds the start-up work (compile, self-check, canary) the same way.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ecs_admission.decision import RawDecision
from ecs_admission.errors import TIMEOUT, EngineError

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Call:
    """One call handed to a runner thread: its result or exception once `finished`.

    The waiting thread blocks on a lock the runner releases when the call ends, not on an Event:
    an Event's wait and set run a Condition in Python (a lock made, queued, handed over) on every
    evaluation, where a bare lock is two C calls.
    """

    def __init__(self, function: Callable[[], Any]):
        self.function = function
        self._ended = threading.Lock()
        self._ended.acquire()
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.on_finish: Callable[[], None] | None = None

    def run(self) -> None:
        try:
            self.result = self.function()
        except BaseException as exc:  # handed to the waiting thread, which decides
            self.error = exc
        finally:
            self.finished = True
            self._ended.release()
            if self.abandoned and self.on_finish is not None:
                self.on_finish()

    def wait(self, timeout: float | None) -> bool:
        """True once the call has finished, False if `timeout` seconds passed first (as Event.wait)."""
        if self._ended.acquire(timeout=-1 if timeout is None else max(timeout, 0)):
            self._ended.release()  # a later wait returns at once
            return True
        return self.finished


class _Runner:
    """A daemon thread that runs calls one at a time and is reused while it is free.

    Reused because a call into Go from a thread Go has not seen before binds a new Go thread state
    (cgo's needm): a fresh thread per evaluation cost 1.1-1.6 ms of CPU on top of a 6-8 ms
    evaluation. Daemon, because a call that never returns must not keep the process alive at exit
    (a ThreadPoolExecutor's workers are joined at exit). A runner stuck in an abandoned call is
    simply never free again; the next call gets another runner.
    """

    _free: list[_Runner] = []
    _free_lock = threading.Lock()

    def __init__(self, name: str):
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    @classmethod
    def start(cls, call: _Call, name: str) -> None:
        with cls._free_lock:
            runner = cls._free.pop() if cls._free else None
        (runner or cls(name))._calls.put(call)

    def _serve(self) -> None:
        while True:
            self._calls.get().run()
            with self._free_lock:
                self._free.append(self)


def run_with_deadline(function: Callable[[], T], timeout: float, what: str, engine: str = "embedded") -> T:
    """`function()` on its own thread; EngineError (kind timeout) if it has not returned in `timeout` s.

    The call itself is not stopped (nothing can stop it): it finishes, or not, on its own thread.
    """
    call = _Call(function)
    _Runner.start(call, "ecs-admission-deadline")
    if not call.wait(timeout):
        call.abandoned = True
        raise EngineError(f"{what} did not finish within {timeout:g} s", engine, kind=TIMEOUT)
    if call.error is not None:
        raise call.error
    return call.result


class DeadlineEngine:
    """Wraps an embedded engine: each evaluation within `timeout` seconds, a stuck engine replaced.

    `rebuild(policy)` compiles a replacement from the policy set the stuck engine serves.
    `inner` is the serving engine; policy reload assigns it (web/reload.py), as for the fail-open
    wrapper.
    """

    def __init__(
        self,
        inner: Any,
        timeout: float,
        rebuild: Callable[[Any], Any],
        max_abandoned: int = 2,
        on_exhausted: Callable[[], None] | None = None,
    ):
        self._inner = inner
        self.name = inner.name
        self.timeout = timeout
        self._rebuild = rebuild
        self.max_abandoned = max_abandoned
        self.on_exhausted = on_exhausted
        self._lock = threading.Lock()
        self._abandoned = 0
        self._stuck: dict[int, int] = {}  # id(engine) -> its abandoned calls still running
        self._replacing: threading.Event | None = None
        self._replace_error: str | None = None
        self._keep_spare = False
        self._spare: Any = None
        self._spare_building = False
        self.replaced = 0  # engines replaced after a missed deadline (tests and docs read it)

    # -- what the rest of the service sees --------------------------------------------------------

    @property
    def inner(self) -> Any:
        return self._inner

    @inner.setter
    def inner(self, engine: Any) -> None:
        with self._lock:
            self._inner = engine
            self._replace_error = None
            spare, self._spare = self._spare, None
        if spare is not None:
            _close_quietly(spare)  # compiled from the policies just replaced
        self._prepare_spare()

    def keep_spare(self) -> None:
        """Keep a second engine compiled from the same set, so a stuck one is replaced at once.

        Costs one more compiled set per worker (about 9 MB and 0.4 s of one core for the shipped
        policies); without it the first requests after a missed deadline wait for a compile. The
        web app turns it on under gunicorn; a CLI run has no use for it.
        """
        self._keep_spare = True
        self._prepare_spare()

    def _prepare_spare(self) -> None:
        with self._lock:
            if not self._keep_spare or self._spare is not None or self._spare_building:
                return
            self._spare_building = True
            policy = getattr(self._inner, "policy", None)
        if policy is None:
            with self._lock:
                self._spare_building = False
            return

        def build() -> None:
            started = time.perf_counter()
            try:
                spare = self._rebuild(policy)
                log.info(
                    "%s engine: spare engine compiled in %.0f ms", self.name, (time.perf_counter() - started) * 1000
                )
            except Exception:  # a spare is an optimisation: without one, replacing compiles on demand
                log.warning("%s engine: could not compile a spare engine", self.name, exc_info=True)
                spare = None
            with self._lock:
                self._spare_building = False
                current = getattr(self._inner, "policy", None)
                if spare is not None and current is policy and self._spare is None:
                    self._spare, spare = spare, None
            if spare is not None:
                _close_quietly(spare)

        threading.Thread(target=build, name="ecs-admission-spare", daemon=True).start()

    @property
    def revision(self) -> str:
        return self._inner.revision

    @property
    def policy(self) -> Any:
        return self._inner.policy

    @property
    def abandoned(self) -> int:
        """Evaluations past their deadline that are still running on their thread."""
        return self._abandoned

    def policy_data(self) -> dict[str, Any]:
        return self._inner.policy_data()

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def evaluate(self, input_document: dict[str, Any]) -> RawDecision:
        return self.call(lambda engine: engine.evaluate(input_document), "evaluation")

    def query(self, input_document: dict[str, Any], *args: Any) -> Any:
        return self.call(lambda engine: engine.query(input_document, *args), "evaluation")

    # -- the mechanism ----------------------------------------------------------------------------

    def call(self, work: Callable[[Any], T], what: str) -> T:
        engine = self._current()
        call = _Call(lambda: work(engine))
        _Runner.start(call, "ecs-admission-eval")
        if call.wait(self.timeout):
            if call.error is not None:
                raise call.error
            return call.result
        self._abandon(call, engine)
        raise EngineError(
            f"{what} did not finish within {self.timeout:g} s (ECS_ADMISSION_EVAL_TIMEOUT); this input fails closed",
            self.name,
            kind=TIMEOUT,
        )

    def _current(self) -> Any:
        """The serving engine, waiting (within the deadline) for a replacement being compiled."""
        with self._lock:
            replacing = self._replacing
        if replacing is not None and not replacing.wait(self.timeout):
            raise EngineError(
                f"the engine is being replaced after an evaluation missed its deadline; not ready within "
                f"{self.timeout:g} s",
                self.name,
                kind=TIMEOUT,
            )
        with self._lock:
            if self._replace_error is not None:
                raise EngineError(f"replacing a stuck engine failed: {self._replace_error}", self.name)
            return self._inner

    def _abandon(self, call: _Call, engine: Any) -> None:
        swapped = False
        with self._lock:
            self._abandoned += 1
            # Calls abandoned on one engine run one at a time (the binding's lock): the first burns
            # a core, the rest only wait behind it. So stuck *engines* are what cost CPU.
            self._stuck[id(engine)] = self._stuck.get(id(engine), 0) + 1
            abandoned, stuck_engines = self._abandoned, len(self._stuck)
            retire = engine is self._inner and self._replacing is None
            if retire and self._spare is not None:
                self._inner, self._spare = self._spare, None
                self.replaced += 1
                swapped = True
            elif retire:
                self._replacing = threading.Event()
        done = threading.Lock()

        def finished() -> None:
            if not done.acquire(blocking=False):
                return  # already counted (the call ended while it was being abandoned)
            with self._lock:
                self._abandoned -= 1
                left = self._stuck.get(id(engine), 1) - 1
                if left:
                    self._stuck[id(engine)] = left
                else:
                    self._stuck.pop(id(engine), None)
            if retire:
                _close_quietly(engine)

        call.on_finish = finished
        call.abandoned = True
        if call.finished:  # it finished between the deadline and here
            finished()
        log.error(
            "%s engine: an evaluation missed its %g s deadline (%d still running on %d engine(s)); %s",
            self.name,
            self.timeout,
            abandoned,
            stuck_engines,
            "replaced by the spare engine"
            if swapped
            else "replacing the engine"
            if retire
            else "its engine is already being replaced",
        )
        if swapped:
            self._prepare_spare()
        elif retire:
            threading.Thread(target=self._replace, args=(engine,), name="ecs-admission-replace", daemon=True).start()
        if stuck_engines >= self.max_abandoned and self.on_exhausted is not None:
            log.error(
                "%s engine: %d engines are stuck in evaluations past their deadline, each holding a core; "
                "recycling this worker",
                self.name,
                stuck_engines,
            )
            self.on_exhausted()

    def _replace(self, stuck: Any) -> None:
        error = None
        try:
            fresh = self._rebuild(stuck.policy)
        except EngineError as exc:
            fresh, error = None, exc.reason
        except Exception as exc:  # the replacement must never take the worker's thread with it
            fresh, error = None, f"{type(exc).__name__}: {exc}"
        with self._lock:
            if fresh is not None and self._inner is stuck:
                self._inner = fresh
                self.replaced += 1
            elif fresh is not None:
                _close_quietly(fresh)  # a reload swapped the engine meanwhile: it serves
            elif self._inner is stuck:
                self._replace_error = error
            replacing, self._replacing = self._replacing, None
        if replacing is not None:
            replacing.set()
        self._prepare_spare()
        if error:
            log.error("%s engine: could not compile a replacement engine: %s", self.name, error)


def _close_quietly(engine: Any) -> None:
    close = getattr(engine, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # closing is best effort; the engine is out of service either way
        log.debug("closing a retired engine failed", exc_info=True)
