"""`python -m src.compare`: see src/compare/cli.py."""

import sys

from src.compare.cli import main

sys.exit(main())
