"""``jobs``: image batch jobs on Dask, one call each.

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")
>>> print(report.summary())
compress: 3 file(s): 3 ok
  0.9 MPixel in ... s = ... MPixel/s; ... KB in, ... KB out (ratio ...x)

The Python API (:mod:`jobs.api`): :func:`compress`, :func:`decompress`,
:func:`verify`, :func:`resize`, each returning a report (or, with
``compute=False``, a Dask collection whose last task finalizes), and
:func:`resize_array`, :func:`preprocess` and :func:`run_job`.

Under it, the layers (``docs/architecture.md``): the :mod:`rle` codec; the job
runtime :mod:`jobs.runtime` (plan -> tasks -> finalize -> report, abort on
failure), which knows no job; the jobs (:mod:`jobs.rle_job`,
:mod:`jobs.resize_job`, :mod:`jobs.stats_job`), each a subpackage with its
options, planner, tasks and function; the registry and this API; throughput
studies (:mod:`jobs.study`) and the ``imgjobs`` command (:mod:`jobs.cli`).

The names below are loaded on first use (PEP 562), a measured start-up cost:
importing ``jobs`` costs nothing, a worker process that only runs task
functions never imports what it does not use, and the command can report a
malformed Dask config file cleanly.  Type checkers and editors see them as
the imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jobs.version import __version__ as __version__

if TYPE_CHECKING:  # what __getattr__ loads, as a type checker and an editor see it
    from jobs import study  # noqa: F401
    from jobs.api import compress, decompress, job_function, preprocess, resize, resize_array, run_job, verify  # noqa: F401
    from jobs.config import get as config_get  # noqa: F401
    from jobs.errors import BusyError, ConfigError, UsageError  # noqa: F401
    from jobs.options import RunOptions, SchedulerOptions  # noqa: F401
    from jobs.resize_job.inference import PixelsMayDiffer  # noqa: F401
    from jobs.resize_job.options import ResizeOptions  # noqa: F401
    from jobs.resize_job.report import ResizeReport  # noqa: F401
    from jobs.resize_job.source import read_labelled  # noqa: F401
    from jobs.rle_job.options import CompressOptions, DecompressOptions, VerifyOptions  # noqa: F401
    from jobs.rle_job.report import RleReport  # noqa: F401
    from jobs.runtime import Plan, execute, to_delayed  # noqa: F401
    from jobs.runtime.report import FileResult, Outcomes, Report  # noqa: F401

#: Public name -> (module, attribute): the same names as the imports under ``TYPE_CHECKING`` above
#: (``tests/test_layers.py`` holds the two to the same set).
_EXPORTS = {
    "compress": ("jobs.api", "compress"),
    "decompress": ("jobs.api", "decompress"),
    "verify": ("jobs.api", "verify"),
    "resize": ("jobs.api", "resize"),
    "resize_array": ("jobs.api", "resize_array"),
    "preprocess": ("jobs.api", "preprocess"),
    "run_job": ("jobs.api", "run_job"),
    "job_function": ("jobs.api", "job_function"),
    "study": ("jobs.study", None),
    "config_get": ("jobs.config", "get"),
    "BusyError": ("jobs.errors", "BusyError"),
    "ConfigError": ("jobs.errors", "ConfigError"),
    "UsageError": ("jobs.errors", "UsageError"),
    "RunOptions": ("jobs.options", "RunOptions"),
    "SchedulerOptions": ("jobs.options", "SchedulerOptions"),
    "PixelsMayDiffer": ("jobs.resize_job.inference", "PixelsMayDiffer"),
    "ResizeOptions": ("jobs.resize_job.options", "ResizeOptions"),
    "ResizeReport": ("jobs.resize_job.report", "ResizeReport"),
    "read_labelled": ("jobs.resize_job.source", "read_labelled"),
    "CompressOptions": ("jobs.rle_job.options", "CompressOptions"),
    "DecompressOptions": ("jobs.rle_job.options", "DecompressOptions"),
    "VerifyOptions": ("jobs.rle_job.options", "VerifyOptions"),
    "RleReport": ("jobs.rle_job.report", "RleReport"),
    "Plan": ("jobs.runtime", "Plan"),
    "execute": ("jobs.runtime", "execute"),
    "to_delayed": ("jobs.runtime", "to_delayed"),
    "FileResult": ("jobs.runtime.report", "FileResult"),
    "Outcomes": ("jobs.runtime.report", "Outcomes"),
    "Report": ("jobs.runtime.report", "Report"),
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    try:
        where, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'jobs' has no attribute {name!r}") from None
    module = importlib.import_module(where)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
