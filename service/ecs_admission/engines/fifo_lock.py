"""A lock granted in the order it was asked for (the engine lock of Gate.decide).

`threading.Lock` makes no promise about which waiter gets it next: under load a thread that has
just released the lock often takes it again, and the slowest 1% of requests spent most of their
time waiting for their turn (docs/performance.md, "The tail"). Here each waiter queues behind the
ones that came before it and the lock is handed over directly, so the wait is bounded by the work
queued ahead and no request is overtaken.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class FifoLock:
    """A non-reentrant mutual-exclusion lock whose waiters are served first come, first served.

    acquire/release and the context manager behave as threading.Lock's (timeout included), so it
    can stand in for one.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            if not blocking:
                return False
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        # release() hands the lock over by releasing `turn`: ownership passes without a gap in
        # which a newcomer could take it.
        if turn.acquire(timeout=timeout if timeout is not None and timeout >= 0 else -1):
            return True
        with self._mutex:
            try:
                self._waiters.remove(turn)
            except ValueError:
                # Handed over between the timeout and here: the lock is ours after all.
                return True
        return False

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("release unlocked lock")
            if self._waiters:
                self._waiters.popleft().release()  # the next in line now holds it; _held stays True
            else:
                self._held = False

    def locked(self) -> bool:
        return self._held

    def waiting(self) -> int:
        """How many threads are queued for the lock (for metrics and tests)."""
        return len(self._waiters)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
