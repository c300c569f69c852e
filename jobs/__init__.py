"""``jobs``: image batch jobs as Dask graphs.

:mod:`jobs.rle_graphs` and :mod:`jobs.resize_graphs` build the jobs' graphs,
:mod:`jobs.rle_tasks` and :mod:`jobs.resize_tasks` hold the plain functions their tasks run,
:mod:`jobs.study` runs throughput sweeps,
:mod:`jobs.schedulers` starts or connects to a scheduler, and :mod:`jobs.cli`
is the ``imgjobs`` command, the only place that computes.
"""

from .config import get as config_get
from .files import FileResult, UsageError
from .resize_graphs import ResizePlan, plan_resize
from .rle_graphs import Plan, plan_compress, plan_decompress, plan_verify

__all__ = [
    "FileResult",
    "Plan",
    "ResizePlan",
    "UsageError",
    "config_get",
    "plan_compress",
    "plan_decompress",
    "plan_resize",
    "plan_verify",
]

__version__ = "0.1.0"
