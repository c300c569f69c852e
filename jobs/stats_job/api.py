"""The stats job's Python function, written out as every job's is."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Unpack

from jobs import running
from jobs.options import SchedulerOptions
from jobs.runtime.engine import Plan
from jobs.runtime.progress import Progress
from jobs.runtime.runners import Mapper
from jobs.stats_job.options import StatsOptions

if TYPE_CHECKING:
    from dask.delayed import Delayed
    from distributed import Client

    from jobs.stats_job.planner import StatsReport

__all__ = ["stats"]


def stats(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    images_per_task: int | None = None,
    overwrite: bool | None = None,
    max_pixels: int | None = None,
    client: Client | None = None,
    compute: bool = True,
    progress: bool | Progress | None = None,
    **scheduler: Unpack[SchedulerOptions],
) -> StatsReport | Delayed:
    """Write a CSV of every image in a directory: width, height, mode and luminance (min, mean, max).

    Parameters
    ----------
    src : str or os.PathLike
        A directory of images.
    out : str or os.PathLike
        The CSV to write: path, width, height, mode, min, mean, max.
    images_per_task : int, optional
        Images each task reads (default ``imgjobs.stats.images-per-task``).
    overwrite : bool, optional
        Replace an existing CSV (default ``imgjobs.overwrite``: false refuses to
        write over one).
    max_pixels : int, optional
        Refuse (fail by name) images decoded whole with more pixels than this
        (default ``imgjobs.max-pixels``; as shipped, Pillow's decompression-bomb
        limit).
    client, compute, progress, **scheduler
        Where and when it runs, as for every job: see :func:`jobs.run_job`.

    Returns
    -------
    jobs.stats_job.planner.StatsReport or dask.delayed.Delayed
        Every image's outcome, and the CSV's path as ``report.output``
        (``compute=False``: the graph).

    Raises
    ------
    UsageError
        For a missing input, a CSV that exists (without ``overwrite``), or bad options.
    """
    from jobs.stats_job.planner import plan_stats  # start-up: ~7 ms, loaded to run only

    opts = StatsOptions.resolve(images_per_task=images_per_task, overwrite=overwrite, max_pixels=max_pixels)

    def plan(parallelism: int, map: Mapper | None = None) -> Plan:  # map: not needed by this job's plans
        return plan_stats(src, out, opts, parallelism=parallelism)

    report = running.run(
        "stats",
        plan,
        source=src,
        writes=os.path.dirname(os.path.abspath(os.fspath(out))),
        client=client,
        compute=compute,
        progress=progress,
        scheduler=scheduler,
        claims=(src, out),
    )
    return report  # type: ignore[return-value]  # the stats finish makes a StatsReport
