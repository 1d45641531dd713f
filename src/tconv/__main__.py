"""``python -m tconv``: the same command line as the ``tconv`` script."""

import sys

from .cli import _entry

if __name__ == "__main__":
    sys.exit(_entry())
