"""Throughput studies: a job under many configurations -> a table, fits, warnings and figures.

The sweep, its configurations, fits and tables are in :mod:`~jobs.study.core`;
the matplotlib figures (the ``plot`` extra) in :mod:`~jobs.study.figures`.
"""

from jobs.study.core import (
    AmdahlFit,
    Configuration,
    OverheadFit,
    Study,
    amdahl_fit,
    grid,
    load,
    machine_facts,
    make_row,
    overhead_fit,
    sweep,
)

__all__ = [
    "AmdahlFit",
    "Configuration",
    "OverheadFit",
    "Study",
    "amdahl_fit",
    "grid",
    "load",
    "machine_facts",
    "make_row",
    "overhead_fit",
    "sweep",
]
