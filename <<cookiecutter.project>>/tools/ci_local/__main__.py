"""`python -m ci_local` (what `make ci-local` runs, with tools/ on the import path)."""

import sys

from ci_local.cli import main

sys.exit(main())
