"""``jobs``: image batch jobs as Dask graphs.

:mod:`jobs.rle_graphs` builds the RLE job's graphs from directories,
:mod:`jobs.rle_tasks` holds the plain functions its tasks run,
:mod:`jobs.schedulers` starts or connects to a scheduler, and :mod:`jobs.cli`
is the ``imgjobs`` command, the only place that computes.
"""

from .config import get as config_get
from .files import FileResult
from .rle_graphs import Plan, UsageError, plan_compress, plan_decompress, plan_verify

__all__ = ["FileResult", "Plan", "UsageError", "config_get", "plan_compress", "plan_decompress", "plan_verify"]

__version__ = "0.1.0"
