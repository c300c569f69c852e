"""``python -m jobs``: the same as the ``imgjobs`` command."""

import sys

from .cli import main

sys.exit(main())
