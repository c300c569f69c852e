"""The job runtime: one protocol for every job (plan -> tasks -> finalize, abort on failure).

It knows no job: a job hands it a :class:`Plan` (a graph of its tasks and its
:class:`Finish`), and the runtime runs it (:mod:`~jobs.runtime.engine`: :func:`run`,
:func:`execute`, :func:`to_delayed`).  Around that, the pieces every job uses,
one concern each:

- :mod:`~jobs.runtime.runners`: computing a graph on Dask's threads or processes
  or on a ``distributed.Client``; :mod:`~jobs.runtime.pools`: the worker processes;
- :mod:`~jobs.runtime.locks`: the lock of an output directory;
- :mod:`~jobs.runtime.places`: the places a job keeps state in, checked before any work;
- :mod:`~jobs.runtime.temporaries`: temporary names and the sweeper;
- :mod:`~jobs.runtime.durable`: atomic and batched durable writes;
- :mod:`~jobs.runtime.reads`: state files read back as hostile input;
- :mod:`~jobs.runtime.listing`: one listing per directory, compact names;
- :mod:`~jobs.runtime.stamps`: content stamps of inputs and outputs;
- :mod:`~jobs.runtime.progress`: the progress bar;
- :mod:`~jobs.runtime.report`: per-file outcomes and the report.

It imports nothing above it: no job, no option declarations, no cluster, not
the codec (``tests/test_layers.py`` holds it to that).
"""

from jobs.runtime.engine import Finish, Plan, execute, run, to_delayed

__all__ = ["Finish", "Plan", "execute", "run", "to_delayed"]
