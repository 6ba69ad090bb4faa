"""`python -m recguru_core ...` — see recguru_core/cli/."""

import sys

from .cli import main

sys.exit(main())
