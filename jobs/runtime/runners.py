"""Runners: a plan's graph computed on Dask's threads or processes, or on a ``distributed.Client``.

A :class:`Runner` is where the runtime (:func:`jobs.runtime.engine.execute`)
sends a plan's graph.  It knows how to compute a graph on Dask's local
schedulers (the ``processes`` one with worker processes from
:mod:`jobs.runtime.pools`) and on a client someone opened, moving the progress
bar as tasks end.  Starting or connecting to a scheduler is not here: the
scheduler options become a runner in :mod:`jobs.schedulers`, and any object
with the same attributes and ``run`` method can stand in for one (a job's own
executors do).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import dask
from dask.callbacks import Callback
from dask.diagnostics import Profiler, ResourceProfiler, visualize
from dask.diagnostics.profile import _Tracker
from dask.multiprocessing import get as multiprocessing_get
from dask.multiprocessing import initialize_worker_process
from dask.threaded import get as threaded_get

from jobs import config
from jobs.errors import ConfigError
from jobs.runtime.pools import process_pool, start_method
from jobs.runtime.report import Usage
from jobs.runtime.window import keeps_finished_on, submit_windowed

__all__ = [
    "MAP_ITEMS",
    "Mapper",
    "Runner",
    "RunnerLike",
    "dask_pool",
    "describe_pool",
    "local_map",
    "performance_report",
]

log = logging.getLogger(__name__)


#: ``map(func, calls) -> [func(*call) for call in calls]``, computed where a runner runs tasks
#: (:meth:`Runner.map`): a planner's small tasks, such as the stamps of a rerun's inputs.
Mapper = Callable[[Callable[..., Any], Sequence[tuple]], list]

#: Files one small task of a plan looks at (a ``stat`` each: a few ms on a local disk, well above Dask's ~1 ms a
#: task, and few tasks: 250 for a million files).
MAP_ITEMS = 4096

#: Threads of :func:`local_map` at least: when its calls wait on the file system (``stat``, reads), not on a core.
LOCAL_MAP_THREADS = 8

#: Seconds a first call of :func:`local_map` must take for the rest to go to threads: under it the calls wait
#: little on the file system (a local disk's cache, tmpfs), and threads would only contend for the GIL (1.28M
#: ``stat`` calls on tmpfs took 24 s on 8 threads and 11 s on one); over it (a network file system) threads
#: overlap the waits.
LOCAL_MAP_SERIAL_S = 0.1


def local_map(func: Callable[..., Any], calls: Sequence[tuple], threads: int = LOCAL_MAP_THREADS) -> list:
    """``[func(*call) for call in calls]`` in this process, in order; the first error raises.

    The first call runs alone; if it took :data:`LOCAL_MAP_SERIAL_S` or more, the
    rest run on ``threads`` threads, else one after another in this thread.
    """
    if not calls:
        return []
    t = time.perf_counter()
    first = func(*calls[0])
    if len(calls) == 1 or time.perf_counter() - t < LOCAL_MAP_SERIAL_S:
        return [first, *(func(*call) for call in calls[1:])]
    with ThreadPoolExecutor(max(1, min(threads, len(calls) - 1))) as pool:
        return [first, *pool.map(lambda call: func(*call), calls[1:])]


class RunnerLike(Protocol):
    """What the runtime needs of where a plan runs: a :class:`Runner`, or a job's own executors."""

    kind: str
    parallelism: int
    description: str
    dashboard_link: str | None
    tunnel: str | None
    ready: Callable[[Callable[[str], None]], None] | None

    def run(self, plan: Any, progress: Any, profile: str | None = None) -> tuple[list, int]:
        """Run ``plan``; its tasks' results (in ``plan.outputs`` order) and how many tasks ran."""


def describe_pool(kind: str, n: int) -> str:
    """``dask threads scheduler: 2 threads``: a local pool, for people."""
    unit = ("thread" if kind == "threads" else "process") + ("" if n == 1 else "s" if kind == "threads" else "es")
    return f"dask {kind} scheduler: {n} {unit}"


class Runner:
    """Computes job graphs on one scheduler and reports progress as tasks finish.

    Attributes
    ----------
    kind : str
        ``auto``, ``threads`` or ``processes`` (Dask's local schedulers), or where
        its ``client`` computes: ``local``, ``cluster``, ``distributed`` or ``client``.
    parallelism : int
        Threads available to run tasks.
    description : str
        For people: the scheduler and its size.
    dashboard_link : str or None
        The Dask dashboard, for distributed schedulers.
    tunnel : str or None
        How to open the dashboard from where the user is (an ``ssh -L`` command), when it helps.
    client : distributed.Client or None
        Set for distributed schedulers.
    ready : callable or None
        ``ready(note)`` waits until the scheduler has a worker, saying what it
        waits for (a batch-system cluster); None: it has them.
    usage : callable or None
        ``usage()``: what the run used that this scheduler counts, for the report
        (:class:`~jobs.runtime.report.Usage`: a batch-system cluster's jobs); None: nothing.
    """

    def __init__(self, kind: str, parallelism: int, description: str, *, client=None, dashboard_link=None, tunnel=None):
        self.kind = kind
        self.parallelism = max(1, int(parallelism))
        self.description = description
        self.client = client
        self.dashboard_link = dashboard_link
        self.tunnel = tunnel
        self.ready = None  # a batch-system cluster: waits for its first worker, saying what the batch system reports
        self.usage: Callable[[], list[Usage]] | None = None  # a batch-system cluster: its jobs, for the report
        self._started: str | None = None  # processes: how the worker processes were started

    def run(self, plan, progress, profile: str | None = None) -> tuple[list, int]:
        """Run ``plan``'s graph; return its tasks' results (in ``plan.outputs`` order) and how many tasks ran.

        ``profile``: write Dask's performance report (or local task profiles) to this HTML file.
        """
        with performance_report(profile, self):
            return self.compute(plan.graph, plan.outputs, plan.watch, progress), plan.ntasks

    def map(self, func: Callable[..., Any], calls: Sequence[tuple]) -> list:
        """``[func(*call) for call in calls]`` where this runner computes (a :data:`Mapper`).

        On a distributed scheduler each call is a task on its workers, submitted a
        window at a time (but in this process while a batch-system cluster's first
        worker is awaited: :attr:`ready`).  On Dask's local schedulers, worker processes of their
        own when the job is one for processes (:meth:`processes_for`: many small
        files, whose ``stat`` calls hold the GIL between them), else
        :func:`local_map` in this process (with at least
        :data:`LOCAL_MAP_THREADS` threads, when it uses them).
        """
        if self.client is None:
            if self.processes_for(len(calls) * MAP_ITEMS) and len(calls) > 1:
                with process_pool(self.parallelism) as pool:
                    return list(pool.map(_call, [func] * len(calls), calls))
            return local_map(func, calls, max(LOCAL_MAP_THREADS, self.parallelism))
        if self.ready is not None:  # a batch-system cluster whose workers may be queued for hours: here, now
            return local_map(func, calls, LOCAL_MAP_THREADS)
        name = f"imgjobs-map-{uuid.uuid4().hex[:12]}"
        graph = {(name, i): (func, *call) for i, call in enumerate(calls)}
        return self._compute_distributed(graph, list(graph), {}, None)

    def compute(self, graph: dict, outputs: list, watch: dict, progress) -> list:
        """Compute the ``outputs`` keys of ``graph`` and return their results in order.

        ``watch`` maps keys to ``(units, files)``: when such a task ends, ``progress``
        moves by that much (row-block tasks move it before their file is done).  The
        ``auto`` kind is settled before (:meth:`resolve`, by the runtime, from the plan).
        """
        if not outputs:
            return []
        if self.client is None:
            return self._compute_local(graph, outputs, watch, progress)
        return self._compute_distributed(graph, outputs, watch, progress)

    def processes_for(self, files: int) -> bool:
        """Whether work on ``files`` small files runs in worker processes here (:meth:`resolve`'s rule)."""
        if self.client is not None or self.parallelism < 2:
            return False
        return self.kind == "processes" or (
            self.kind == "auto" and files >= config.get_int("scheduler.auto-processes-files", low=0)
        )

    def resolve(self, batched_files: int, only_batches: bool = False) -> str:
        """Settle the ``auto`` kind for a job with ``batched_files`` small files in batch tasks.

        Work on many small files is Python code between short system calls: it
        holds the GIL, so threads cannot use a second core (dask.bag defaults to
        processes for the same reason), and a second thread only contends for
        it (9-15% slower here).  So: from ``imgjobs.scheduler.auto-processes-files``
        small files on, a process pool, whose start then pays for itself;
        below, one thread when the job is only such batches; and every thread
        when the work is not only small files (numpy and Pillow release the GIL).
        """
        if self.kind != "auto":
            return self.kind
        if self.processes_for(batched_files):
            self.kind, why = "processes", f"{batched_files} small files in batches"
        elif only_batches and batched_files:
            self.kind, self.parallelism, why = "threads", 1, "few small files: their work holds the GIL"
        else:
            self.kind, why = "threads", "large images or few files"
        self.description = f"{describe_pool(self.kind, self.parallelism)} (auto: {why})"
        return self.kind

    def _compute_local(self, graph, outputs, watch, progress):
        class _Watch(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                moved = watch.get(key)
                if moved:
                    progress.update(*moved)

        if self.kind == "threads":
            # The scheduler's own get: a scheduler *name* makes dask import distributed to look for a Client.
            with _Watch():
                return list(threaded_get(graph, outputs, num_workers=self.parallelism))
        chunksize = _chunksize()
        pool = dask_pool(self.parallelism)
        if self._started is None:  # said once, in the report's scheduler
            method = "Dask's own" if pool is None else start_method(pool)
            self._started = {"fork": "forked", "spawn": "spawned"}.get(method, method) + " workers"
            self.description += f", {self._started}"
        try:
            with _Watch():
                return list(
                    multiprocessing_get(graph, outputs, num_workers=self.parallelism, chunksize=chunksize, pool=pool)
                )
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _compute_distributed(self, graph: dict, outputs: list, watch: dict, progress) -> list:
        """Submit the graph a window at a time, gathering results as they land (:func:`submit_windowed`).

        Finished tasks stay known to the scheduler, with their small results, until
        the run ends, so that the dashboard's progress counts them done (a task the
        scheduler forgot is no longer counted, and the total shrinks instead); every
        one is released before this returns or raises.  ``imgjobs.scheduler.keep-finished``
        false lets each go as it lands (about 4 KiB a task less on the scheduler and
        as much on the worker that ran it); ``auto`` keeps them except where workers
        retire on lifetimes (:func:`~jobs.runtime.window.keeps_finished_on`).
        """
        from distributed import as_completed  # start-up: distributed (~0.5 s), for its schedulers only

        window = config.get_int("scheduler.window", low=1)
        index = {key: i for i, key in enumerate(outputs)}
        results = [None] * len(outputs)
        ready = as_completed(loop=self.client.loop)  # this client's loop: not the newest client's of the process
        live: dict = {}  # key -> future still wanted: running, or a dependency of a task not yet finished
        # key -> future finished and gathered, held until the run ends (the dashboard counts it)
        kept: dict | None = {} if keeps_finished_on(self.kind, self.client) else None
        try:
            for batch in submit_windowed(self.client, graph, window, live, ready, kept):
                wanted = [fut for fut in batch if fut.key in index]
                for fut, result in zip(wanted, self.client.gather(wanted), strict=True):  # one round trip a batch
                    results[index[fut.key]] = result
                for fut in batch:
                    moved = watch.get(fut.key)
                    if moved:
                        progress.update(*moved)
            return results
        except BaseException:
            self.client.cancel(list(live.values()))
            raise
        finally:
            for fut in (kept or {}).values():
                fut.release()


def _call(func: Callable[..., Any], call: tuple) -> Any:
    return func(*call)


def dask_pool(workers: int):
    """The worker processes of Dask's ``processes`` scheduler (:func:`~jobs.runtime.pools.process_pool`), or None.

    Forked from this process where that is safe, else spawned as Dask would,
    each dying with this process either way; the start method Dask's
    configuration names (``multiprocessing.context``) is kept.  None leaves the
    pool to Dask, where its configuration sets ``pool`` or
    ``multiprocessing.initializer`` (a user's choice is kept).  Workers run
    Dask's own worker set-up (new random seeds).

    Parameters
    ----------
    workers : int
        Processes in the pool.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor or None
    """
    pool, initializer = dask.config.get("pool", None), dask.config.get("multiprocessing.initializer", None)
    if pool is not None and not callable(getattr(pool, "submit", None)) and not hasattr(pool, "apply_async"):
        raise ConfigError(f"pool (Dask's configuration) must be an Executor or a multiprocessing Pool, got {pool!r}")
    if initializer is not None and not callable(initializer):
        raise ConfigError(f"multiprocessing.initializer (Dask's configuration) must be callable, got {initializer!r}")
    configured = [k for k in _DASK_POOL_KEYS if dask.config.get(k, None) is not None]
    if configured:
        log.info("worker processes: Dask's own (its configuration sets %s)", ", ".join(configured))
        return None
    context = dask.config.get("multiprocessing.context", None)
    if context is not None and context not in ("fork", "spawn", "forkserver"):
        raise ConfigError(f"multiprocessing.context must be fork, spawn or forkserver, got {context!r}")
    if context != "fork" and os.environ.get("PYTHONHASHSEED") in (None, "0"):
        os.environ["PYTHONHASHSEED"] = "6640"  # what Dask sets for its spawned workers: the same hashes in each
    return process_pool(workers, then=initialize_worker_process, context=context)


#: Dask settings that bring a pool or a worker set-up of the user's own: when one is set, Dask starts the workers.
_DASK_POOL_KEYS = ("multiprocessing.initializer", "pool")


def _chunksize() -> int:
    """Tasks handed to a worker process at once: Dask's ``chunksize`` when set, else 1.

    Ours are sized to ~0.1 s each, and Dask's default of 6 leaves one process idle
    while the other ends a chunk of six.
    """
    value = dask.config.get("chunksize", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"chunksize (Dask's configuration) must be a whole number of tasks from 1, got {value!r}")
    return value


@contextlib.contextmanager
def performance_report(path, runner):
    """Dask's performance report on distributed schedulers, task and resource profiles on local ones."""
    if not path:
        yield
        return
    if runner.client is not None:
        from distributed import performance_report as report  # start-up: distributed (~0.5 s), its schedulers only

        with runner.client.as_current(), report(filename=path):  # the report asks for the current client
            yield
        return

    with Profiler() as prof, _ResourceProfiler(dt=0.05) as rprof:
        yield
    visualize([prof, rprof], filename=path, show=False, save=True)


class _SpawnedTracker(_Tracker):
    """Dask's resource tracker, spawned rather than forked, so that it holds none of this run's files.

    Forked, it would inherit the output directory's lock and its own pipe's other end: after a
    ``kill -9`` of the run it would sleep for ever, holding the lock, and refuse every later run there.
    Spawned, it holds only its end of the pipe, reads the end of it when the run dies, and exits.
    """

    @staticmethod
    def _Popen(process_obj):
        return multiprocessing.get_context("spawn").Process._Popen(process_obj)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("parent_conn", None)  # the run's end stays with the run
        return state

    def run(self):
        with contextlib.suppress(EOFError, OSError):  # the run is gone: nothing to report to
            super().run()


class _ResourceProfiler(ResourceProfiler):
    """Dask's :class:`~dask.diagnostics.ResourceProfiler` with a tracker that dies with the run."""

    def _start_collect(self):
        if not self._is_running():
            self._tracker = _SpawnedTracker(self._dt)
            self._tracker.start()
        self._tracker.parent_conn.send("collect")
