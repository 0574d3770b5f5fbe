"""`python -m blockprop.cli`: the same command line as the `blockprop` script."""

from __future__ import annotations

import sys

from blockprop.cli import main

if __name__ == "__main__":
    sys.exit(main())
