"""Running a job: the one path from a job's Python function to the runtime.

Every job's function (``jobs.compress``, ``jobs.resize``...) resolves its own
options, then hands :func:`run` its planner and the directory it writes into,
with ``client``, ``compute``, ``progress`` and the scheduler keywords.  Where it
runs, in this order:

1. on ``client=``, a ``distributed.Client`` you opened;
2. on the scheduler named by ``scheduler=``, ``scheduler_address=``,
   ``scheduler_file=`` or ``cluster=``;
3. on the active ``distributed.Client`` (the one ``Client()`` made current);
4. on the configured scheduler (``imgjobs.scheduler.*``; by default ``auto``: Dask's
   threads, or its processes for ``imgjobs.scheduler.auto-processes-files`` small
   files or more).

With ``compute=False`` nothing runs: the job's function returns one
:class:`dask.delayed.Delayed` whose last task finalizes and returns the report,
to compute when and where you like (as :func:`dask.bag.to_textfiles` does).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dask.delayed import Delayed

from jobs import config
from jobs.errors import UsageError
from jobs.options import RunOptions
from jobs.runtime import engine
from jobs.runtime.engine import Plan
from jobs.runtime.listing import check_writable_file
from jobs.runtime.locks import lock_place
from jobs.runtime.places import check_places
from jobs.runtime.progress import Progress
from jobs.runtime.report import Report
from jobs.runtime.runners import Mapper, Runner, local_map
from jobs.runtime.storage import is_url, local_path
from jobs.schedulers import runner_for
from rle import open_regular

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["check_client", "check_report_path", "progress_of", "run"]

log = logging.getLogger(__name__)


def progress_of(progress: bool | Progress | None) -> Progress:
    """The :class:`~jobs.runtime.progress.Progress` a job's ``progress=`` asks for.

    None: a bar on a terminal or in Jupyter, when ``imgjobs.progress`` is true;
    False: silent (no bar, no dashboard note); True: both; or one given.
    """
    if progress is None:
        return Progress()
    if isinstance(progress, bool):
        return Progress(progress, dashboard=progress)
    return progress


def _parallelism(client: Client | None, run: RunOptions) -> int:
    """Threads a graph built for later will probably get (task sizes only)."""
    if client is not None:
        threads: dict[str, int] = client.nthreads()
        return max(1, sum(threads.values()))
    return run.get("workers") or os.cpu_count() or 1


#: Unknown configuration keys already warned about in this process.
_WARNED: set[str] = set()


def _warn_unknown_keys() -> None:
    """Warn, once a process, of each ``imgjobs.*`` key set that imgjobs does not read (a misspelling)."""
    for problem in config.unknown_keys():
        if problem not in _WARNED:
            _WARNED.add(problem)
            log.warning("%s", problem)


def mapper_for(client: Client | None) -> Mapper:
    """Where a plan's own small tasks run (a rerun's stamps of its inputs) before or without a run:
    a given client's workers, else threads of this process."""
    if client is None:
        return local_map
    return Runner("distributed", 1, "the client's workers", client=client).map  # map sizes nothing by threads


def check_client(client: Any) -> None:
    """A closed or foreign ``client=`` is a clear error, not a traceback from deep in distributed."""
    if client is None:
        return
    status = getattr(client, "status", None)
    if status is None or not hasattr(client, "nthreads"):
        raise UsageError(f"client must be a distributed.Client, got {type(client).__name__}")
    if status != "running":
        raise UsageError(f"the client {client!r} is {status}: open a new distributed.Client (or pass none)")


def check_report_path(
    path: str, claims: Sequence[str | os.PathLike[str] | None], what: str, flag: str, earlier: Callable[[str], bool]
) -> None:
    """Refuse, before anything runs, a report path that cannot be written or would replace what it must not.

    Not one of ``claims`` (the paths the job reads or writes; a directory: nor
    anything in it), and, if something is there already, only an ``earlier``
    report of its kind (``earlier(path)``), never an input, an output or a file of
    the user's.
    """
    check_writable_file(path, what)
    full = os.path.abspath(path)
    for claimed in (os.path.abspath(os.fspath(p)) for p in claims if p is not None):
        if full == claimed or full.startswith(claimed.rstrip(os.sep) + os.sep):
            where = "would take the place of" if full == claimed else "lies inside"
            raise UsageError(
                f"{what} {path} {where} {claimed}, which this job reads or writes: choose another {flag} path"
            )
    if os.path.lexists(full) and not (os.path.isfile(full) and not os.path.islink(full) and earlier(full)):
        raise UsageError(
            f"{path} exists and is not {what.replace('the ', 'a ', 1)} imgjobs wrote: {flag} replaces only those; "
            "choose another path or remove it"
        )


def _is_html(path: str) -> bool:
    """Whether ``path`` starts as an HTML page does (an earlier performance report)."""
    try:
        with open_regular(path) as f:
            head = f.read(64).lstrip().lower()
    except OSError:
        return False
    return head.startswith((b"<!doctype html", b"<html"))


def run(
    job: str,
    planner: Callable[[int, Mapper], Plan],
    *,
    source: object,
    writes: str | None,
    client: Client | None,
    compute: bool | None,
    progress: bool | Progress | None,
    scheduler: Mapping[str, Any],
    claims: Sequence[str | os.PathLike[str] | None] = (),
    precheck: Callable[[Mapper], Report | None] | None = None,
    runner: Callable[[], Any] | None = None,
) -> Report | Delayed:
    """Plan and run a job through the runtime's one guarded path, or build its graph (``compute=False``).

    Parameters
    ----------
    job : str
        The job's name, for messages.
    planner : callable
        ``planner(parallelism, map=None) -> Plan``: the job planned with its options
        resolved; called with the output's lock held (:func:`jobs.runtime.engine.run`).
    source : object
        The job's first input: a path that does not exist is a
        :class:`~jobs.errors.UsageError` before anything starts.
    writes : str or None
        The directory the job writes into, whose lock the run holds (None: it writes nothing).
    client, compute, progress
        As the job's function takes them.
    scheduler : mapping
        The scheduler keywords given (:class:`~jobs.options.SchedulerOptions`).
    claims : sequence of paths
        What the job reads and writes, which its performance report may never replace.
    precheck : callable, optional
        ``precheck(map) -> Report or None``: a report with nothing to run (the output
        is up to date), before any scheduler starts; ``map`` runs its small tasks
        (:func:`mapper_for`: the client's workers, else threads here).
    runner : callable, optional
        ``runner()``: where to run instead of on a Dask scheduler (a job's own
        executors), made once the inputs are found and the output is not up to
        date; it refuses what it cannot run with (a client, ``compute=False``).

    Returns
    -------
    Report or dask.delayed.Delayed
    """
    options = RunOptions.from_kwargs(dict(scheduler), job)
    _warn_unknown_keys()
    check_client(client)
    compute = True if compute is None else compute
    named = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    if named is not None and not is_url(named) and not os.path.lexists(local_path(named)):  # a URL: its job reads it
        raise UsageError(f"{named}: no such file or directory")
    if writes is not None:  # graphs computed later too: their tasks would meet it only when they run
        check_places([lock_place(writes)])
    if precheck is not None and compute:  # before a cluster starts for nothing
        done = precheck(mapper_for(client))
        if done is not None:
            log.info("%s", done.up_to_date)
            return done
    if runner is not None:
        return engine.run(planner, writes, runner(), progress_of(progress))
    if options.performance_report:
        check_report_path(
            options.performance_report, claims, "the performance report", "--performance-report", _is_html
        )
    if not compute:
        return engine.to_delayed(planner(_parallelism(client, options), mapper_for(client)))
    with runner_for(client, options) as where:
        return engine.run(planner, writes, where, progress_of(progress), performance_report=options.performance_report)
