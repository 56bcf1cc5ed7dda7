"""The `ecs-admission` command line."""

from ecs_admission.cli.commands import main

__all__ = ["main"]
