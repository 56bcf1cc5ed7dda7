"""`python -m ecs_admission.cli`: the console script without the installed entry point."""

import sys

from ecs_admission.cli.commands import main

sys.exit(main())
