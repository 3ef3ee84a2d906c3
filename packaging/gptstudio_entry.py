"""Entry point of the desktop bundle: the same `gptstudio` command as the pip install."""

import multiprocessing
import sys

from gptstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
