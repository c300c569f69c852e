"""Where a graph runs: Dask's local schedulers or a ``dask.distributed`` cluster.

* ``threads``: dask's in-process thread pool; starts instantly, the default.
* ``processes``: dask's local process pool, its workers forked from this
  process where that is safe (:mod:`jobs.runtime.pools`).
* ``local``: a :class:`distributed.LocalCluster` of N worker processes x T
  threads, listening on 127.0.0.1, with the dashboard.
* an address (``tcp://host:8786``) or a scheduler file: an existing cluster,
  how HPC batch jobs connect.
* a cluster profile (``--cluster pbs``): a scheduler here and worker jobs
  submitted to PBS or Slurm through dask-jobqueue (:mod:`jobs.clusters`).

:mod:`distributed` is imported only for the last three, so a threads run pays
nothing for it.  With ``tls`` every distributed connection is TLS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

import dask
from dask.callbacks import Callback

from jobs import config
from jobs.errors import ConfigError

__all__ = [
    "ExecutorRunner",
    "Runner",
    "closed_after",
    "dask_pool",
    "open_runner",
    "performance_report",
    "runner_for",
]

log = logging.getLogger(__name__)


def _describe_pool(kind: str, n: int) -> str:
    unit = ("thread" if kind == "threads" else "process") + ("" if n == 1 else "s" if kind == "threads" else "es")
    return f"dask {kind} scheduler: {n} {unit}"


class Runner:
    """Computes job graphs on one scheduler and reports progress as tasks finish.

    Attributes
    ----------
    kind : str
        ``threads``, ``processes``, ``local``, ``cluster`` or ``distributed``.
    parallelism : int
        Threads available to run tasks.
    description : str
        For people: the scheduler and its size.
    dashboard_link : str or None
        The Dask dashboard, for distributed schedulers.
    client : distributed.Client or None
        Set for distributed schedulers.
    """

    def __init__(self, kind: str, parallelism: int, description: str, *, client=None, dashboard_link=None):
        self.kind = kind
        self.parallelism = max(1, int(parallelism))
        self.description = description
        self.client = client
        self.dashboard_link = dashboard_link
        self.ready = None  # a batch-system cluster: waits for its first worker, saying what the batch system reports
        self._started: str | None = None  # processes: how the worker processes were started

    def run(self, plan, progress, profile: str | None = None) -> tuple[list, int]:
        """Run ``plan``'s graph; return its tasks' results (in ``plan.outputs`` order) and how many tasks ran.

        ``profile``: write Dask's performance report (or local task profiles) to this HTML file.
        """
        with performance_report(profile, self):
            return self.compute(plan.graph, plan.outputs, plan.watch, progress), plan.ntasks

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

    def resolve(self, batched_files: int, only_batches: bool = False) -> str:
        """Settle the ``auto`` kind for a job with ``batched_files`` small files in batch tasks.

        Work on many small files is Python code between short system calls: it
        holds the GIL, so threads cannot use a second core (dask.bag defaults to
        processes for the same reason), and a second thread only contends for
        it (9-15% slower here).  So: from ``imgjobs.scheduler.auto-processes-files``
        small files on, a process pool, whose start then pays for itself;
        below, one thread when the job is only such batches; and every thread
        when there are large images or resizes (numpy and Pillow release the GIL).
        """
        if self.kind != "auto":
            return self.kind
        many = config.get_int("scheduler.auto-processes-files", low=0)
        if self.parallelism > 1 and batched_files >= many:
            self.kind, why = "processes", f"{batched_files} small files in batches"
        elif only_batches and batched_files:
            self.kind, self.parallelism, why = "threads", 1, "few small files: their work holds the GIL"
        else:
            self.kind, why = "threads", "large images or few files"
        self.description = f"{_describe_pool(self.kind, self.parallelism)} (auto: {why})"
        return self.kind

    def _compute_local(self, graph, outputs, watch, progress):
        class _Watch(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                moved = watch.get(key)
                if moved:
                    progress.update(*moved)

        if self.kind == "threads":
            from dask.threaded import get

            # The scheduler's own get: a scheduler *name* makes dask import distributed to look for a Client.
            with _Watch():
                return list(get(graph, outputs, num_workers=self.parallelism))
        from dask.multiprocessing import get

        chunksize = _chunksize()
        pool = dask_pool(self.parallelism)
        if self._started is None:  # said once, in the report's scheduler
            from jobs.runtime.pools import start_method

            method = "Dask's own" if pool is None else start_method(pool)
            self._started = {"fork": "forked", "spawn": "spawned"}.get(method, method) + " workers"
            self.description += f", {self._started}"
        try:
            with _Watch():
                return list(get(graph, outputs, num_workers=self.parallelism, chunksize=chunksize, pool=pool))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _compute_distributed(self, graph, outputs, watch, progress):
        from distributed import as_completed

        wanted = list(outputs) + [k for k in watch if k not in set(outputs)]
        futures = self.client.get(graph, wanted, sync=False)
        index = {f.key: i for i, f in enumerate(futures[: len(outputs)])}
        results = [None] * len(outputs)
        try:
            # Gather each result as it lands and let the cluster forget it: nothing finished
            # waits in a worker's memory, so a worker that leaves later (walltime, failure)
            # costs only the tasks it was running.  Row-block tasks are only watched: their
            # results stay where their file's last task needs them.
            # This client's loop: as_completed otherwise follows the newest client of the
            # process, and waits forever on futures of another one.
            for fut in as_completed(futures, loop=self.client.loop):
                i = index.get(fut.key)
                if i is not None:
                    results[i] = fut.result()
                moved = watch.get(fut.key)
                if moved:
                    progress.update(*moved)
                fut.release()
            return results
        except BaseException:
            self.client.cancel(futures)
            raise


def dask_pool(workers: int):
    """The worker processes of Dask's ``processes`` scheduler (:func:`jobs.runtime.pools.process_pool`), or None.

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
    from jobs.runtime.pools import process_pool

    pool, initializer = dask.config.get("pool", None), dask.config.get("multiprocessing.initializer", None)
    if pool is not None and not callable(getattr(pool, "submit", None)) and not hasattr(pool, "apply_async"):
        raise ConfigError(f"pool (Dask's configuration) must be an Executor or a multiprocessing Pool, got {pool!r}")
    if initializer is not None and not callable(initializer):
        raise ConfigError(f"multiprocessing.initializer (Dask's configuration) must be callable, got {initializer!r}")
    configured = [k for k in _DASK_POOL_KEYS if dask.config.get(k, None) is not None]
    if configured:
        log.info("worker processes: Dask's own (its configuration sets %s)", ", ".join(configured))
        return None
    from dask.multiprocessing import initialize_worker_process

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


def _distributed_runner(client, kind: str) -> Runner:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 1) for w in workers.values()) or 1
    desc = f"{kind} scheduler at {client.scheduler.address}: {len(workers)} worker(s), {threads} thread(s)"
    from jobs.clusters.dashboard import client_link

    return Runner("distributed", threads, desc, client=client, dashboard_link=client_link(client))


def runner_from_client(client) -> Runner:
    """A :class:`Runner` on a ``distributed.Client`` someone else opened (it is not closed here)."""
    runner = _distributed_runner(client, "client")
    runner.kind = "client"
    return runner


def _active_client():
    """The ``distributed.Client`` this process made current, if any (never imports distributed)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    try:
        return Client.current(allow_global=True)
    except ValueError:
        return None


class ExecutorRunner:
    """The classic exercise's executors in this process, in place of a Dask scheduler (for comparison).

    ``serial`` is a plain loop, ``threads`` a ``ThreadPoolExecutor`` and ``processes``
    a ``ProcessPoolExecutor`` of ``workers``, one item per call, as in the exercise.
    A job offers this way of running through :attr:`~jobs.runtime.engine.Plan.executor`;
    one that does not is refused, by name.
    """

    kind = "executor"
    client = None
    dashboard_link = None
    ready = None

    def __init__(self, executor: str, workers=None):
        from jobs.errors import UsageError

        if executor not in ("serial", "threads", "processes"):
            raise UsageError(f"executor must be serial, threads or processes, got {executor!r}")
        self.executor = executor
        self.parallelism = int(workers or os.cpu_count() or 1)
        self.description = f"{executor} executor, {self.parallelism} worker(s)"

    def run(self, plan, progress, profile: str | None = None) -> tuple[list, int]:
        """Run ``plan`` with the executor, one item per call; return the outcomes and the calls made."""
        from jobs.errors import UsageError

        if plan.executor is None:
            raise UsageError(f"{plan.job} has no executor path: run it on a Dask scheduler")
        if profile:
            raise UsageError("--performance-report needs a Dask scheduler, not --executor")
        return plan.executor(self.executor, self.parallelism, progress), plan.nfiles


@contextlib.contextmanager
def runner_for(client=None, run=None):
    """Where a job runs: ``client``, else scheduler settings given explicitly, else the active
    ``distributed.Client``, else the configured scheduler (``imgjobs.scheduler.*``).

    Parameters
    ----------
    client : distributed.Client, optional
        Compute there (it stays open).
    run : jobs.options.RunOptions, optional
        Scheduler settings; unset ones come from config.
    """
    from jobs.options import RunOptions

    run = run or RunOptions()
    if client is None and not run.explicit:
        client = _active_client()
    if client is not None:
        yield runner_from_client(client)
        return
    with open_runner(run) as runner:
        yield runner


@contextlib.contextmanager
def performance_report(path, runner):
    """Dask's performance report on distributed schedulers, task and resource profiles on local ones."""
    if not path:
        yield
        return
    if runner.client is not None:
        from distributed import performance_report as report

        with report(filename=path):
            yield
        return
    from dask.diagnostics import Profiler, ResourceProfiler, visualize

    with Profiler() as prof, ResourceProfiler(dt=0.05) as rprof:
        yield
    visualize([prof, rprof], filename=path, show=False, save=True)


@contextlib.contextmanager
def open_runner(run=None, **options):
    """Start (or connect to) a scheduler; yield a :class:`Runner`; shut down what was started.

    Parameters
    ----------
    run : jobs.options.RunOptions, optional
        Where to run; what it leaves unset comes from ``imgjobs.scheduler.*``.
    **options
        Instead of ``run``: its fields as keywords, e.g.
        ``open_runner(scheduler="local", workers=2)``.  A running scheduler
        (``scheduler_address``, ``scheduler_file``) wins over ``cluster``, which
        wins over ``scheduler``.
    """
    from jobs.options import RunOptions

    if run is not None and (not isinstance(run, RunOptions) or options):
        raise TypeError(f"open_runner() takes a RunOptions or keywords, not {run!r} with {sorted(options)}")
    run = run or RunOptions.from_kwargs(options, "open_runner")
    address = run.get("scheduler_address")
    scheduler_file = run.get("scheduler_file")
    cluster = run.get("cluster")
    kind = run.get("scheduler")
    workers = run.get("workers")
    asked_tls = run.tls  # None: as configured
    tls = run.get("tls")
    cores = os.cpu_count() or 1
    if address or scheduler_file:
        from distributed import Client

        from jobs.clusters import security

        if scheduler_file:
            address = _address_in(scheduler_file)
        # a running scheduler decides by its address; certificates are needed for tls://, or when asked
        sec = security(address.startswith("tls://") or asked_tls is True)
        with closed_after(Client(address, timeout="30s", security=sec), "the client") as client:
            yield _distributed_runner(client, "remote")
        return
    if cluster:
        from distributed import Client

        from jobs.clusters import dashboard_link, start_cluster, wait_for_workers

        njobs = run.get("jobs")
        with start_cluster(cluster, jobs=njobs, tls=tls) as (jq, desc, threads, prof):
            with closed_after(Client(jq), "the client") as client:
                listen = (prof["jobqueue"].get("scheduler-options") or {}).get("dashboard_address")
                runner = Runner("cluster", threads, desc, client=client, dashboard_link=dashboard_link(client, listen))
                runner.ready = lambda note: wait_for_workers(client, jq, prof, note)
                yield runner
        return
    if kind in ("auto", "threads", "processes"):
        n = int(workers or cores)
        desc = _describe_pool(kind, n) if kind != "auto" else f"dask threads or processes (auto): {n} workers"
        yield Runner(kind, n, desc)
        return
    from distributed import Client, LocalCluster

    tpw = run.get("threads_per_worker")
    host = run.get("host")
    dashboard_address = run.get("dashboard_address")
    n = int(workers or max(1, cores // tpw))
    from jobs.clusters import security

    with _pre_spawn_environ(config.worker_environ()), _workers_ignore_sigint():
        local = LocalCluster(
            n_workers=n,
            threads_per_worker=tpw,
            processes=True,
            host=host,
            dashboard_address=dashboard_address,
            security=security(tls, temporary=True),
        )
    with closed_after(local, "the LocalCluster"), closed_after(Client(local), "the client") as client:
        _quiet_cancellations(client)
        runner = _distributed_runner(client, "local")
        runner.kind = "local"
        runner.description = f"LocalCluster at {local.scheduler_address}: {n} worker process(es) x {tpw} thread(s)"
        yield runner


@contextlib.contextmanager
def closed_after(resource, what: str):
    """Yield ``resource`` and close it afterwards; a failure to close is logged, never raised.

    Closing a client or a cluster waits on its event loop (a client's ``close``
    gives up after twice its 30 s connect time-out, raising ``TimeoutError``); on a
    loaded machine, while a run stops for Ctrl-C, a signal or an error, that must
    not replace what the run stops for, nor turn a finished job into a failure: the
    outputs are settled by then, and the processes go with this one.
    """
    try:
        yield resource
    finally:
        try:
            resource.close()
        except Exception as e:
            log.warning("closing %s failed (%s); the run's own outcome stands", what, str(e) or type(e).__name__)


def _quiet_cancellations(client) -> None:
    """Workers of a cluster imgjobs started drop distributed's warning for each task cancelled by an interrupt.

    When a run is interrupted its futures are cancelled, and every running task
    would log "Async instruction ... ended with CancelledError": expected, and a
    wall of text under the one line imgjobs prints.  Other warnings stay.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class _DropCancelled(logging.Filter):
        def filter(self, record):
            return "ended with CancelledError" not in record.getMessage()

    class QuietCancellations(WorkerPlugin):
        name = "imgjobs-quiet-cancellations"

        def setup(self, worker):
            logging.getLogger("distributed.worker.state_machine").addFilter(_DropCancelled())

    client.register_plugin(QuietCancellations())


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Start worker processes with SIGINT ignored (they inherit it across exec, and Python keeps it).

    A terminal's Ctrl-C goes to the whole foreground process group: without this,
    every worker prints its own KeyboardInterrupt traceback while imgjobs itself
    is already closing the cluster in order.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _pre_spawn_environ(values: dict):
    """Make the worker processes of nannies created inside start with ``values`` in their environment.

    Glibc reads ``MALLOC_*`` variables when a process starts, so they must be there before
    the nanny spawns its worker.  Distributed takes them from ``distributed.nanny.pre-spawn-environ``
    unless this process's environment has them (any nanny made earlier in the process put its
    own values there), so both are set here, and the environment is put back afterwards.
    """
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in values.items()}):
            yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _address_in(scheduler_file: str) -> str:
    """The scheduler address that ``dask scheduler --scheduler-file`` wrote."""
    import json

    try:
        with open(scheduler_file, encoding="utf-8") as f:
            return json.load(f)["address"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"scheduler file {scheduler_file} does not exist: start `dask scheduler --scheduler-file "
            f"{scheduler_file}` first (or wait until it has written the file)"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"scheduler file {scheduler_file} holds no scheduler address ({e})") from None
