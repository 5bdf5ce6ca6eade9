"""`python -m src.registry`: see src/registry/cli.py."""

import sys

from src.registry.cli import main

sys.exit(main())
