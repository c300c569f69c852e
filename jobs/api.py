"""The Python API: every job is one call, and :func:`run_job` runs any job of the registry by name.

Every public name of ``jobs`` is loaded from here.  The job functions are
written out in their subpackages, with typed keywords
and numpydoc, and gathered here: :func:`compress`, :func:`decompress` and
:func:`verify` (:mod:`jobs.rle_job.api`), :func:`resize`
(:mod:`jobs.resize_job.api`), with :func:`resize_array` and :func:`preprocess`
(the same pixels lazily, and at inference).  Each takes its options as keywords
(None falls back to ``imgjobs.*`` in ``dask.config``, as dask-jobqueue does),
plans the job, runs it and returns its report; where and when it runs is the
same for every job (:func:`run_job`).

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")
>>> report.counts, report.exit_code
({'ok': 3}, 0)
>>> batch = jobs.resize("train.txt", "batch.npy", size="64x64").array
>>> batch.shape, batch.dtype
((4, 64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from jobs import registry
from jobs.config import get as config_get
from jobs.errors import BusyError, ConfigError, UsageError
from jobs.options import RunOptions, SchedulerOptions
from jobs.resize_job.api import resize
from jobs.resize_job.array import resize_array
from jobs.resize_job.inference import PixelsMayDiffer, preprocess
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.report import ResizeReport
from jobs.resize_job.source import read_labelled
from jobs.rle_job.api import compress, decompress, verify
from jobs.rle_job.options import CompressOptions, DecompressOptions, VerifyOptions
from jobs.rle_job.report import RleReport
from jobs.runtime.engine import Plan, execute, to_delayed
from jobs.runtime.progress import Progress
from jobs.runtime.report import FileResult, Outcomes, Report
from jobs.stats_job.api import stats
from jobs.stats_job.options import StatsOptions
from jobs.stats_job.planner import StatsReport

if TYPE_CHECKING:
    from dask.delayed import Delayed
    from distributed import Client

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
    "to_delayed",
    "verify",
]


def run_job(
    name: str,
    *inputs: str | os.PathLike[str],
    client: Client | None = None,
    compute: bool = True,
    progress: bool | Progress | None = None,
    **keywords: Any,
) -> Report | Delayed:
    """Run the job ``name`` of the registry on ``inputs``: what every job's function and ``imgjobs NAME`` do.

    Parameters
    ----------
    name : str
        The job (:func:`jobs.registry.specs` lists them).
    *inputs : str or os.PathLike
        Its inputs, as its function takes them (e.g. ``src, dst``).
    client : distributed.Client, optional
        Compute on this client's cluster (it is left open).  Without one, a job
        runs on the scheduler named by ``scheduler=``, ``scheduler_address=``,
        ``scheduler_file=`` or ``cluster=``; else on the active
        ``distributed.Client``; else on the configured scheduler
        (``imgjobs.scheduler.*``; by default ``auto``: Dask's threads, or its
        processes for ``imgjobs.scheduler.auto-processes-files`` small files or more).
    compute : bool
        True: run now and return the report.  False: return a
        :class:`dask.delayed.Delayed` whose last task finalizes and returns the
        report; nothing runs until it is computed (anywhere: ``dask.compute``,
        ``client.compute``), and each of its tasks takes the output's lock.
    progress : bool or jobs.runtime.progress.Progress, optional
        Draw a progress bar (default: on a terminal or in Jupyter, when
        ``imgjobs.progress`` is true); False: silent.
    **keywords
        The job's options and keywords (None or absent: ``imgjobs.*`` from
        config), and the scheduler options (:class:`~jobs.options.SchedulerOptions`:
        ``scheduler``, ``workers``, ``cluster``...).

    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed
        The job's report (its own kind: :class:`~jobs.rle_job.report.RleReport`,
        :class:`~jobs.resize_job.report.ResizeReport`...), or its graph.

    Raises
    ------
    UsageError
        For an unknown job, bad inputs or bad options.
    TypeError
        For inputs of the wrong number, or a keyword the job does not take.
    """
    spec = registry.get(name)
    if len(inputs) != len(spec.inputs):
        raise TypeError(f"{name}() takes {len(spec.inputs)} input(s) ({', '.join(spec.inputs)}), got {len(inputs)}")
    names = spec.option_names()
    scheduler = tuple(RunOptions.params())
    unknown = sorted(set(keywords) - set(names) - set(scheduler))
    if unknown:
        raise TypeError(
            f"{name}() got unexpected keyword argument(s) {', '.join(unknown)}; its options are "
            f"{', '.join(names)}, and the scheduler's {', '.join(scheduler)}"
        )
    report: Report | Delayed = spec.function(*inputs, client=client, compute=compute, progress=progress, **keywords)
    return report


def job_function(name: str) -> Any:
    """The Python function of job ``name`` (its :class:`~jobs.jobspec.JobSpec`'s ``function``).

    >>> job_function("decompress") is decompress
    True
    """
    return registry.get(name).function
