"""``python -m jobs``: the same as the ``imgjobs`` command."""

import sys

from jobs.cli import main

if __name__ == "__main__":
    sys.exit(main())
