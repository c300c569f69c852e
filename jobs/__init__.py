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
importing ``jobs`` costs nothing (``import jobs.api`` ~0.3 s), a worker process
that only runs task functions never imports what it does not use, and the
command can report a malformed Dask config file cleanly.  Type checkers and
editors see them as the imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jobs.version import __version__ as __version__

if TYPE_CHECKING:  # what __getattr__ loads, as a type checker and an editor see it
    from jobs import study as study
    from jobs.api import (
        BusyError as BusyError,
    )
    from jobs.api import (
        CompressOptions as CompressOptions,
    )
    from jobs.api import (
        ConfigError as ConfigError,
    )
    from jobs.api import (
        DecompressOptions as DecompressOptions,
    )
    from jobs.api import (
        FileResult as FileResult,
    )
    from jobs.api import (
        Outcomes as Outcomes,
    )
    from jobs.api import (
        PixelsMayDiffer as PixelsMayDiffer,
    )
    from jobs.api import (
        Plan as Plan,
    )
    from jobs.api import (
        Report as Report,
    )
    from jobs.api import (
        ResizeOptions as ResizeOptions,
    )
    from jobs.api import (
        ResizeReport as ResizeReport,
    )
    from jobs.api import (
        RleReport as RleReport,
    )
    from jobs.api import (
        RunOptions as RunOptions,
    )
    from jobs.api import (
        SchedulerOptions as SchedulerOptions,
    )
    from jobs.api import (
        StatsOptions as StatsOptions,
    )
    from jobs.api import (
        StatsReport as StatsReport,
    )
    from jobs.api import (
        UsageError as UsageError,
    )
    from jobs.api import (
        VerifyOptions as VerifyOptions,
    )
    from jobs.api import (
        compress as compress,
    )
    from jobs.api import (
        config_get as config_get,
    )
    from jobs.api import (
        decompress as decompress,
    )
    from jobs.api import (
        execute as execute,
    )
    from jobs.api import (
        job_function as job_function,
    )
    from jobs.api import (
        preprocess as preprocess,
    )
    from jobs.api import (
        read_labelled as read_labelled,
    )
    from jobs.api import (
        resize as resize,
    )
    from jobs.api import (
        resize_array as resize_array,
    )
    from jobs.api import (
        run_job as run_job,
    )
    from jobs.api import (
        stats as stats,
    )
    from jobs.api import (
        to_delayed as to_delayed,
    )
    from jobs.api import (
        verify as verify,
    )

#: The public names: :mod:`jobs.api` holds each (``study`` is :mod:`jobs.study`); ``tests/test_layers.py``
#: holds this list and the imports above to the same names.
__all__ = [
    "BusyError",
    "CompressOptions",
    "ConfigError",
    "DecompressOptions",
    "FileResult",
    "Outcomes",
    "PixelsMayDiffer",
    "Plan",
    "Report",
    "ResizeOptions",
    "ResizeReport",
    "RleReport",
    "RunOptions",
    "SchedulerOptions",
    "StatsOptions",
    "StatsReport",
    "UsageError",
    "VerifyOptions",
    "__version__",
    "compress",
    "config_get",
    "decompress",
    "execute",
    "job_function",
    "preprocess",
    "read_labelled",
    "resize",
    "resize_array",
    "run_job",
    "stats",
    "study",
    "to_delayed",
    "verify",
]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module 'jobs' has no attribute {name!r}")
    value = (
        importlib.import_module("jobs.study") if name == "study" else getattr(importlib.import_module("jobs.api"), name)
    )
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
