"""The stats job's options: for each keyword of its function, its ``imgjobs.*`` fallback, check and flag."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.cliargs import positive
from jobs.params import MAX_PIXELS, OVERWRITE, Options, Param, option, whole_number

__all__ = ["StatsOptions"]


@dataclass(frozen=True)
class StatsOptions(Options):
    """The options of :func:`jobs.stats_job.api.stats`, resolved."""

    images_per_task: int = option(
        Param(key="stats.images-per-task", check=whole_number(1), flag={"type": positive, "metavar": "N"})
    )
    overwrite: bool = option(OVERWRITE)
    max_pixels: int = option(MAX_PIXELS)
