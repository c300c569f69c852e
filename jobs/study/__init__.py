"""Throughput studies: run a job under many configurations; a table, fits, warnings and figures.

A study sweeps where a job runs (Dask's threads, its processes, a
``LocalCluster``, or for resize the exercise's executors), how many workers and
threads, and how much work each task gets.  Every configuration runs
``repeats`` times; times cover planning, running and writing, never starting a
cluster.  What comes back (:class:`Study`) is the table, one shared one-worker
baseline so that modes compare, a fit of Amdahl's law per configuration, a fit
of the per-task overhead from a task-size sweep, warnings about runs too short
or too noisy to trust, and matplotlib figures (:mod:`jobs.study.figures`).

>>> from jobs import study
>>> configs = study.grid("resize", workers=[1, 2], modes=["threads", "local"], task_sizes=[8, "auto"])
>>> len(configs), configs[0]
(8, Configuration(mode='dask threads', workers=1, threads_per_worker=1, task_size=8))
>>> threads = [c for c in configs if c.mode == "dask threads"]  # here: the four threads runs, once each
>>> result = study.sweep("resize", threads, repeats=1, source="train.txt", size="64x64")
>>> len(result.rows), result.rows[0]["amount"], result.rows[0]["unit"]  # a row per configuration
(4, 4, 'images/s')
>>> "throughput" in result.figures()   # matplotlib Figures; in Jupyter, `result` shows the report
True
>>> import os
>>> [os.path.basename(p) for p in result.save("study-resize")][:2]
['results.csv', 'results.md']

``imgjobs study resize|compress`` is the same call from the command line.

One concern per module: :mod:`~jobs.study.configs` (what is swept),
:mod:`~jobs.study.runs` (running and timing it), :mod:`~jobs.study.fits`
(Amdahl and per-task overhead), :mod:`~jobs.study.results` (the table,
Markdown, CSV) and :mod:`~jobs.study.figures` (matplotlib, the ``plot`` extra).
"""

from jobs.study.configs import Configuration, grid
from jobs.study.fits import AmdahlFit, OverheadFit, amdahl_fit, overhead_fit
from jobs.study.results import Study, load
from jobs.study.rows import machine_facts, make_row
from jobs.study.runs import sweep

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
