"""The engine lock serves waiters in arrival order (engines/fifo_lock.py)."""

from __future__ import annotations

import threading
import time

import pytest

from ecs_admission.engines.fifo_lock import FifoLock


def _wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.001)


def test_waiters_get_the_lock_in_the_order_they_asked():
    lock = FifoLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for index in range(8):
        thread = threading.Thread(target=lambda i=index: (lock.acquire(), order.append(i), lock.release()))
        thread.start()
        threads.append(thread)
        _wait_until(lambda n=index + 1: lock.waiting() == n)  # queued before the next one starts
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(8))
    assert not lock.locked()


def test_a_newcomer_does_not_overtake_a_waiter():
    # threading.Lock lets the releasing thread (or any newcomer) take the lock again before a
    # waiter wakes; here the waiter already owns it when release() returns.
    lock = FifoLock()
    got: list[str] = []
    lock.acquire()
    waiter = threading.Thread(target=lambda: (lock.acquire(), got.append("waiter"), lock.release()))
    waiter.start()
    _wait_until(lambda: lock.waiting() == 1)
    lock.release()
    assert not lock.acquire(blocking=False)  # handed over, not up for grabs
    waiter.join(5)
    assert got == ["waiter"]
    assert lock.acquire(blocking=False)
    lock.release()


def test_mutual_exclusion_under_contention():
    lock = FifoLock()
    inside = 0
    worst = 0
    total = 0

    def work() -> None:
        nonlocal inside, worst, total
        for _ in range(300):
            with lock:
                inside += 1
                worst = max(worst, inside)
                total += 1
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert worst == 1
    assert total == 8 * 300
    assert not lock.locked() and lock.waiting() == 0


def test_timeout_leaves_the_queue_and_the_lock_consistent():
    lock = FifoLock()
    lock.acquire()
    started = time.monotonic()
    assert lock.acquire(timeout=0.05) is False
    assert time.monotonic() - started >= 0.04
    assert lock.waiting() == 0
    lock.release()
    assert lock.acquire(timeout=0.05) is True
    lock.release()


def test_release_of_an_unlocked_lock_is_an_error():
    with pytest.raises(RuntimeError):
        FifoLock().release()
