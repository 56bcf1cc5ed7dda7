"""A PATH argument's bytes: the file, or standard input for `-`; what goes wrong is an InputError (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from ecs_admission.errors import InputError


def read_path(path: str, stdin: TextIO) -> bytes:
    if path == "-":
        return stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", error="not_found") from None
    except IsADirectoryError:
        raise InputError("is a directory", error="not_a_file") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", error="unreadable") from None
