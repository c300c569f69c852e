"""The job runtime: one protocol for every job, from plan to report.

Every job goes through the same four steps:

1. **plan** (each job's planner): list the inputs and outputs (one listing per
   directory), decide the tasks, and return a :class:`Plan`.  Planning has no
   side effects: it creates and deletes nothing.
2. **tasks**: plain functions of the job that read their own inputs, create
   their outputs and return :class:`~jobs.runtime.report.Outcomes`; a Dask
   graph of them, each task a batch of files or a block of a large one.
3. **finalize** (the job's :class:`Finish`): after every task, record and move
   into place what the tasks made, sweep temporaries, and build the job's
   :class:`~jobs.runtime.report.Report`.
4. **abort**, always, when a task raises or the run is interrupted: remove what
   this run wrote under temporary names, so nothing half-written is left.

Every entry point passes one guard: the lock of the output directory
(:func:`jobs.runtime.locks.output_lock`), which covers every name a run writes there.
:func:`run` takes it *before* planning (so every check that reads the output
sees it as the run will) and holds it until the report; :func:`to_delayed`
gives a graph for ``compute=False`` whose tasks each take it when they run
(shared by the tasks of the graph, exclusive for its first and last steps), so
a graph computed beside a run, or twice, meets the same guard and the tasks'
own checks that the output is still as planned (:class:`StalePlan`).
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from jobs.runtime.locks import output_lock
from jobs.runtime.progress import Progress
from jobs.runtime.report import Outcomes, Report
from jobs.runtime.runners import Mapper, Runner, RunnerLike, local_map

__all__ = ["Finish", "Plan", "execute", "run", "to_delayed"]

log = logging.getLogger(__name__)


class Finish(abc.ABC):
    """How a job finishes and how it is abandoned; small and picklable, so it can run as a task."""

    job: str
    #: This run's token: the names of its temporaries, the key of its last step.
    token: str

    @property
    def lock_dir(self) -> str | None:
        """The directory whose lock the job holds (None: it writes nothing)."""
        return None

    @abc.abstractmethod
    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> Report:
        """After every task: finish the outputs and return the report.  Safe to run twice."""

    @abc.abstractmethod
    def abort(self) -> None:
        """After a failure or an interrupt: remove what this run left under temporary names."""

    def recheck(self) -> None:
        """Before the last step of a graph built earlier: :class:`~jobs.errors.StalePlan` if the inputs
        changed since it was planned (nothing by default)."""
        return None

    def lock(self, shared: bool = False):
        """A context manager holding the job's output directory (:func:`jobs.runtime.locks.output_lock`)."""
        if self.lock_dir is None:
            return contextlib.nullcontext()
        return output_lock(self.lock_dir, shared=shared)


@dataclass
class Plan:
    """A job ready to run.

    Attributes
    ----------
    job : str
        The job's name.
    graph : dict
        The task graph: key -> task.
    outputs : list
        Keys whose results are :class:`~jobs.runtime.report.Outcomes` (one per batch or file).
    finish : Finish
        The finalize and abort steps.
    watch : dict
        Key -> ``(units, files)`` of work done when that task ends (progress).
    total : int
        Units of work in all (bytes of input, or images).
    nfiles : int
        Files the tasks handle (not those settled while planning).
    unit : str
        ``"B"`` (bytes of input) or ``"image"``.
    batched_files : int
        Files handled by batch tasks of small files (Python-bound work: many of
        them make the ``auto`` scheduler pick processes).
    settled : list of Outcomes
        Files decided while planning (outputs that exist, unreadable entries).
    exclusive : set
        Keys of tasks that must hold the output's lock alone when the graph is
        computed through :func:`to_delayed` (a task that clears or creates state).
    current : Report or None
        Set when there is nothing to do (an up-to-date output): the report, and no tasks.
    """

    job: str
    graph: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)
    finish: Finish | None = None
    watch: dict = field(default_factory=dict)
    total: int = 0
    nfiles: int = 0
    unit: str = "B"
    batched_files: int = 0
    settled: list = field(default_factory=list)
    exclusive: set = field(default_factory=set)
    current: Report | None = None

    @property
    def ntasks(self) -> int:
        """Tasks in the graph."""
        return len(self.graph)

    def __repr__(self) -> str:
        settled = sum(len(o) for o in self.settled)
        return f"<Plan {self.job}: {self.nfiles} file(s) in {self.ntasks} task(s), {settled} settled while planning>"


def execute(
    plan: Plan,
    runner: RunnerLike,
    progress: Progress | None = None,
    *,
    performance_report: str | None = None,
    locked: bool = False,
) -> Report:
    """Run ``plan`` on ``runner``; finalize on success, abort on any failure or interrupt.

    Prefer :func:`run`, which takes the output's lock before planning; a plan
    made earlier is checked again by its own tasks (:class:`StalePlan`).

    Parameters
    ----------
    plan : Plan
    runner : jobs.runtime.runners.Runner
        Where the tasks run: a runner, or anything with its attributes and
        ``run(plan, progress, performance_report)`` (a job's own executors).
    progress : jobs.runtime.progress.Progress, optional
        Bar and notes; none by default.
    performance_report : str, optional
        Write Dask's performance report (or local task profiles) to this HTML file.
    locked : bool
        The caller holds the output's lock already (:func:`run`).

    Returns
    -------
    Report
    """
    progress = progress or Progress(enabled=False, dashboard=False)
    if isinstance(runner, Runner) and runner.kind == "auto":
        runner.resolve(plan.batched_files, plan.batched_files == plan.nfiles)
    log.info("%s: %d file(s) in %d task(s) on %s", plan.job, plan.nfiles, plan.ntasks, runner.description)
    if plan.current is not None:
        return plan.current
    finish = plan.finish
    assert finish is not None, "a plan with work to do has its finishing step"
    with contextlib.nullcontext() if locked else finish.lock():  # BusyError when another run writes there
        start = time.perf_counter()
        try:
            progress.start(
                plan.job,
                plan.total,
                plan.unit,
                plan.nfiles,
                dashboard_link=runner.dashboard_link,
                tunnel=getattr(runner, "tunnel", None),
            )
            try:
                if runner.ready:
                    runner.ready(progress.note)  # a batch-system cluster: its first worker
                results, tasks = runner.run(plan, progress, performance_report)
            finally:
                progress.close()
            seconds = time.perf_counter() - start
            report = finish.finalize(plan.settled + list(results), seconds, runner.description)
            report.tasks = tasks
            counted = getattr(runner, "usage", None)  # what where it ran counted (a cluster: its batch jobs)
            report.usage = list(counted()) if counted else []
        except BaseException:
            log.info("%s: aborted; removing what this run left under temporary names", plan.job)
            finish.abort()
            raise
    return report


def run(
    planner: Callable[[int, Mapper], Plan],
    lock_dir: str | None,
    runner: RunnerLike,
    progress: Progress | None = None,
    *,
    performance_report: str | None = None,
) -> Report:
    """Lock the output directory, plan, then run: the one path of every job run now.

    Parameters
    ----------
    planner : callable
        ``planner(parallelism, map) -> Plan``; called with the lock held, so what it
        reads of the outputs is what the tasks will find.  ``map`` is the
        runner's (:meth:`jobs.runtime.runners.Runner.map`), for small tasks of the
        plan itself where the job's tasks will run (a rerun's stamps of its inputs).
    lock_dir : str or None
        The output directory (None: a job that writes nothing).
    runner, progress, performance_report
        As for :func:`execute`.

    Returns
    -------
    Report
        The plan's report when it has nothing to do (``plan.current``), else
        the run's.
    """
    # A directory that does not exist yet holds nothing to read: planning goes first (its errors come before
    # anything is made) and the run takes the lock when it starts, creating the directory.
    held = lock_dir is not None and os.path.isdir(lock_dir)
    lock = output_lock(lock_dir) if held and lock_dir is not None else contextlib.nullcontext()
    with lock:  # BusyError when another run writes there
        plan = planner(runner.parallelism, getattr(runner, "map", None) or local_map)
        if plan.current is not None:
            return plan.current
        return execute(plan, runner, progress, performance_report=performance_report, locked=held)


def _guarded(finish: Finish, exclusive: bool, func, *args):
    """A task of a :func:`to_delayed` graph: run ``func`` holding the output's lock (shared or exclusive)."""
    with finish.lock(shared=not exclusive):
        return func(*args)


def _finalize_task(finish: Finish, started: float, scheduler: str, settled, outcomes: list) -> Report:
    with finish.lock():
        finish.recheck()  # a graph may run long after it was planned
        return finish.finalize(settled.outcomes + list(outcomes), time.time() - started, scheduler)


def to_delayed(plan: Plan) -> Delayed:
    """The plan as one :class:`dask.delayed.Delayed` whose last task finalizes and returns the :class:`Report`.

    Computing it anywhere (``dask.compute``, ``client.compute``) runs every task
    and then the finishing step on a worker.  Each task takes the output
    directory's lock while it runs (shared; exclusive for the tasks in
    ``plan.exclusive`` and the finishing step), so a graph computed while a run
    writes there fails with :class:`~jobs.errors.BusyError`; the tasks check the
    output is still as planned, so a graph computed twice, or after another run
    changed the output, fails with :class:`StalePlan` rather than finishing
    from stale state.  Nothing is aborted automatically if it fails: a rerun
    sweeps or resumes what it left.  A plan with nothing to do gives its report,
    after the same lock and a check that the output did not change since.
    """
    finish = plan.finish
    assert finish is not None, "a plan has its finishing step"
    name = f"imgjobs-{plan.job}-finalize-{finish.token}"
    graph = {key: (_guarded, finish, key in plan.exclusive, *task) for key, task in plan.graph.items()}
    graph[name] = (_finalize_task, finish, time.time(), "dask graph", _Settled(plan.settled), list(plan.outputs))
    return Delayed(name, HighLevelGraph.from_collections(name, graph, dependencies=()))


class _Settled:
    """Outcomes settled while planning, wrapped so Dask does not look inside them for keys."""

    __slots__ = ("outcomes",)

    def __init__(self, outcomes: list[Outcomes]):
        self.outcomes = list(outcomes)
