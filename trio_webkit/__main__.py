"""``python -m trio_webkit``: the same as the ``trio-webkit`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
