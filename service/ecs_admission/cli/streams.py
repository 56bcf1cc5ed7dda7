"""Standard output that a reader may close early (`ecs-admission check ... | head`).

Python ignores SIGPIPE and raises BrokenPipeError on the next write or flush, which would end a
command in a traceback and lose its exit code. Wrapped, stdout stops writing quietly once the
reader has gone, and the command finishes and exits with its verdict, as documented.
"""

from __future__ import annotations

import os
from typing import Any, TextIO


def silence(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so the flush at interpreter exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):
        pass


class ReaderMayClose:
    """A text stream whose writes and flushes end quietly once the reader has closed the pipe."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        self.reader_gone = True
        silence(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
