"""The gunicorn worker: gthread, with a deadline for reading each request (docs/hardening.md).

A sync worker is held by any client that opens a connection and stops sending: two such clients
took both workers and /healthz with them. gthread threads are cheap, and gunicorn already waits
for a connection's first bytes in its poller, not in a thread; but once a request has begun, its
headers and body are read with blocking calls that have no timeout. Here every read of a request
shares one deadline (ECS_ADMISSION_READ_TIMEOUT seconds from its first byte): a client that stalls
or trickles loses its thread when the deadline passes, and the rest of the pool keeps answering.

A keep-alive connection stays with the worker that accepted it, and which worker accepts is the
kernel's choice: 8 clients landed 6/2, 7/1, even 8/0 on two workers, so one queued while the other
core idled. After `keepalive_requests` answers on one connection the answer says Connection: close;
the client reconnects, and a worker holding more connections lets the other accept first, so the
clients even out over the workers (docs/performance.md "The tail").
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker


class ReadDeadline(NoMoreData):
    """The client did not send its request within the read timeout.

    A NoMoreData, so gunicorn closes the connection quietly (as for a client that went away)
    instead of logging a traceback per stalled client.
    """

    def __init__(self, timeout: float):
        super().__init__(None)
        self.timeout = timeout

    def __str__(self) -> str:
        return f"the request was not received within {self.timeout:g} s"


class DeadlineSocket:
    """A client socket whose reads share a per-request deadline; everything else is the socket's."""

    def __init__(self, sock: socket.socket, read_timeout: float):
        self._sock = sock
        self._read_timeout = read_timeout
        self._deadline: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def start_request(self) -> None:
        self._deadline = None  # armed by the request's first read

    def _arm(self) -> None:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._read_timeout
        remaining = self._deadline - now
        if remaining <= 0:
            raise ReadDeadline(self._read_timeout)
        self._sock.settimeout(remaining)

    def _read(self, read: Callable[..., Any], *args: Any) -> Any:
        self._arm()
        try:
            return read(*args)
        except TimeoutError:
            raise ReadDeadline(self._read_timeout) from None

    def recv(self, size: int, *flags: int) -> bytes:
        return self._read(self._sock.recv, size, *flags)

    def recv_into(self, buffer: Any, *args: int) -> int:
        return self._read(self._sock.recv_into, buffer, *args)

    def setblocking(self, flag: bool) -> None:
        # gunicorn makes the socket blocking before reading: blocking, but never forever.
        if flag:
            self._sock.settimeout(self._read_timeout)
        else:
            self._sock.setblocking(False)

    def sendall(self, data: Any, *flags: int) -> None:
        # A client that stops reading its answer is bounded too (per write, not by the read deadline).
        self._sock.settimeout(self._read_timeout)
        self._sock.sendall(data, *flags)

    def send(self, data: Any, *flags: int) -> int:
        self._sock.settimeout(self._read_timeout)
        return self._sock.send(data, *flags)


ACCEPT_YIELD_PER_CONNECTION = 0.001
ACCEPT_YIELD_MAX = 0.01


class DeadlineThreadWorker(ThreadWorker):
    """gthread whose connections read each request against a deadline (read_timeout, set per server)."""

    read_timeout = 5.0
    keepalive_requests = 0

    def handle(self, conn: Any) -> Any:
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, self.read_timeout)
        conn.sock.start_request()
        return super().handle(conn)

    def accept(self, *args: Any) -> Any:
        # Every worker's poller wakes for a new connection and the first to accept it wins; a
        # worker already holding connections waits a moment first (1 ms each, at most 10), so the
        # one with fewer usually takes it. Only when connections are recycled (keepalive_requests).
        if self.keepalive_requests and self.nr_conns:
            time.sleep(min(ACCEPT_YIELD_MAX, ACCEPT_YIELD_PER_CONNECTION * self.nr_conns))
        return super().accept(*args)

    def handle_request(self, req: Any, conn: Any) -> bool:
        if self.keepalive_requests:
            conn.answered = getattr(conn, "answered", 0) + 1
            if conn.answered >= self.keepalive_requests:
                req.must_close = True  # gunicorn then answers with Connection: close and closes
        return super().handle_request(req, conn)


def worker_class(read_timeout: float, keepalive_requests: int = 0) -> type[DeadlineThreadWorker]:
    """The worker class for one server's settings (gunicorn takes a class as well as a dotted path)."""
    return type(
        "DeadlineThreadWorker",
        (DeadlineThreadWorker,),
        {"read_timeout": read_timeout, "keepalive_requests": keepalive_requests},
    )
