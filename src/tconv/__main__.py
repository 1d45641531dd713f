"""``python -m tconv``: the same command line as the ``tconv`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
