"""The `ecs-admission` command line."""

import contextlib
import os
import sys

__all__ = ["main", "run"]

# One-shot commands whose work is over once main() returns: nothing is left for the interpreter's
# teardown to do but free memory (about 40 ms of a cold check's 0.5 s, docs/performance.md).
ONE_SHOT = frozenset({"check"})


def __getattr__(name: str):
    # `main` is imported when first asked for, so `run` can start a check's engine (cli/prestart.py)
    # before the rest of the command line is imported.
    if name == "main":
        from ecs_admission.cli.commands import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """The console script (and `python -m ecs_admission.cli`): main(), then its exit code."""
    from ecs_admission.cli.prestart import start

    start(sys.argv[1:])
    from ecs_admission.cli.commands import main

    code = main()
    if len(sys.argv) > 1 and sys.argv[1] in ONE_SHOT:
        for stream in (sys.stdout, sys.stderr):
            # A reader that left: main() has already said so and chosen the code.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
