"""The stats job's options, declared once (keyword, ``--flag``, docstring, ``imgjobs.*`` fallback)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jobs.cliargs import positive
from jobs.params import MAX_PIXELS, OVERWRITE, Options, Param, option, whole_number

__all__ = ["StatsOptions"]


@dataclass(frozen=True)
class StatsOptions(Options):
    """How ``stats`` runs (see ``jobs.run_job("stats", ...)``)."""

    images_per_task: int = option(
        Param(
            "int",
            "images each task reads (default {default})",
            key="stats.images-per-task",
            check=whole_number(1),
            flag={"type": positive, "metavar": "N"},
        )
    )
    overwrite: bool = option(
        dataclasses.replace(
            OVERWRITE, doc="replace an existing CSV (default {default}: false refuses to write over one)"
        )
    )
    max_pixels: int = option(MAX_PIXELS)
