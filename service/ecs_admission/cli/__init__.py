"""The `ecs-admission` command line."""

import contextlib
import os
import sys

from ecs_admission.cli.commands import main

__all__ = ["main", "run"]

# One-shot commands whose work is over once main() returns: nothing is left for the interpreter's
# teardown to do but free memory (about 40 ms of a cold check's 0.5 s, docs/performance.md).
ONE_SHOT = frozenset({"check"})


def run() -> None:
    """The console script (and `python -m ecs_admission.cli`): main(), then its exit code."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] in ONE_SHOT:
        for stream in (sys.stdout, sys.stderr):
            # A reader that left: main() has already said so and chosen the code.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
