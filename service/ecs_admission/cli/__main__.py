"""`python -m ecs_admission.cli`: the console script without the installed entry point."""

from ecs_admission.cli import run

run()
