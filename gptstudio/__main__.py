"""`python -m gptstudio` (also what torchrun runs with `-m gptstudio train ...`)."""

import sys

from gptstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
