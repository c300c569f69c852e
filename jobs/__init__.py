"""``jobs``: image batch jobs on Dask, one call each.

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")    # doctest: +SKIP
>>> print(report.summary())                    # doctest: +SKIP
compress: 14 file(s): 14 ok
  60.0 MPixel in 0.17 s = 355 MPixel/s; 12.9 MB in, 4.7 MB out (ratio 2.7x)

The Python API (:mod:`jobs.api`): :func:`compress`, :func:`decompress`,
:func:`verify`, :func:`resize`, each returning a :class:`Report` (or, with
``compute=False``, a Dask collection whose last task finalizes).

Under it, one job runtime (:mod:`jobs.runtime`): plan -> tasks -> finalize ->
report, abort on failure.  The two jobs each have a graph builder and the plain
functions their tasks run: :mod:`jobs.rle_graphs` / :mod:`jobs.rle_tasks` and
:mod:`jobs.resize_graphs` / :mod:`jobs.resize_tasks`.  :mod:`jobs.schedulers`
starts or connects to a scheduler, :mod:`jobs.study` runs throughput sweeps, and
:mod:`jobs.cli` is the ``imgjobs`` command.
"""

from .api import compress, decompress, resize, verify
from .config import get as config_get
from .files import UsageError
from .options import CompressOptions, DecompressOptions, ResizeOptions, RunOptions, VerifyOptions
from .report import FileResult, Outcomes, Report
from .runtime import Plan, execute, to_delayed

__all__ = [
    "CompressOptions",
    "DecompressOptions",
    "FileResult",
    "Outcomes",
    "Plan",
    "Report",
    "ResizeOptions",
    "RunOptions",
    "UsageError",
    "VerifyOptions",
    "compress",
    "config_get",
    "decompress",
    "execute",
    "resize",
    "to_delayed",
    "verify",
]

__version__ = "0.1.0"
