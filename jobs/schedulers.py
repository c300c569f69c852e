"""Where a job runs: the scheduler options become a :class:`~jobs.runtime.runners.Runner`.

* ``threads``: dask's in-process thread pool; starts instantly.
* ``processes``: dask's local process pool, its workers forked from this
  process where that is safe (:mod:`jobs.runtime.pools`).
* ``auto`` (the default): one of those two, settled from the plan.
* ``local``: a :class:`distributed.LocalCluster` of N worker processes x T
  threads, listening on 127.0.0.1, with the dashboard.
* an address (``tcp://host:8786``) or a scheduler file: an existing cluster,
  how HPC batch jobs connect.
* a cluster profile (``--cluster pbs``): a scheduler here and worker jobs
  submitted to a batch system through dask-jobqueue (:mod:`jobs.clusters`).
* a ``distributed.Client`` someone opened (``client=``), or the active one.

:mod:`distributed` is imported only for the last four, so a threads run pays
nothing for it.  With ``tls`` every distributed connection is TLS.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import signal
import sys
import threading

import dask

from jobs import config
from jobs.clusters import dashboard_link, security, start_cluster, tunnel_hint, wait_for_workers
from jobs.clusters.dashboard import client_link
from jobs.errors import UsageError
from jobs.options import RunOptions
from jobs.runtime.runners import Runner, describe_pool

__all__ = ["closed_after", "open_runner", "runner_for", "runner_from_client"]

log = logging.getLogger(__name__)


def _loopback(host: str | None) -> bool:
    """Whether ``host`` (``--host``) is this machine's loopback interface only."""
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _remote() -> bool:
    """Whether the user is elsewhere (over ssh, in JupyterHub): a dashboard on this host needs a way there."""
    return bool(os.environ.get("SSH_CONNECTION") or os.environ.get("JUPYTERHUB_SERVICE_PREFIX"))


def _distributed_runner(client, kind: str) -> Runner:
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 1) for w in workers.values()) or 1
    desc = f"{kind} scheduler at {client.scheduler.address}: {len(workers)} worker(s), {threads} thread(s)"
    link = client_link(client)
    return Runner("distributed", threads, desc, client=client, dashboard_link=link, tunnel=tunnel_hint(link))


def runner_from_client(client) -> Runner:
    """A :class:`Runner` on a ``distributed.Client`` someone else opened (it is not closed here)."""
    runner = _distributed_runner(client, "client")
    runner.kind = "client"
    if not _remote():
        runner.tunnel = None  # on this host: the link opens as it is
    return runner


def _active_client():
    """The ``distributed.Client`` this process made current, if any (never imports distributed)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import Client  # start-up: distributed (~0.5 s), imported here only once loaded already

    try:
        return Client.current(allow_global=True)
    except ValueError:
        return None


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
    run = run or RunOptions()
    if client is None and not run.explicit:
        client = _active_client()
    if client is not None:
        yield runner_from_client(client)
        return
    with open_runner(run) as runner:
        yield runner


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
        from distributed import Client  # start-up: distributed (~0.5 s), for its schedulers only

        if scheduler_file:
            address = _address_in(scheduler_file)
        # a running scheduler decides by its address; certificates are needed for tls://, or when asked
        sec = security(address.startswith("tls://") or asked_tls is True)
        try:  # not the process's default client: a failure here leaves nothing behind for the next run
            connected = Client(address, timeout="30s", security=sec, set_as_default=False)
        except ValueError as e:  # distributed's words for an address it cannot parse
            where = f"the scheduler file {scheduler_file}" if scheduler_file else "--scheduler-address"
            raise UsageError(f"{where}: {address!r} is not a scheduler's address (tcp://host:8786): {e}") from None
        with closed_after(connected, "the client") as client:
            yield _distributed_runner(client, "remote")
        return
    if cluster:
        from distributed import Client  # start-up: distributed (~0.5 s), for its schedulers only

        with start_cluster(cluster, jobs=run.get("jobs"), tls=tls) as (jq, desc, threads, prof, count):
            with closed_after(Client(jq, set_as_default=False), "the client") as client:
                listen = (prof["jobqueue"].get("scheduler-options") or {}).get("dashboard_address")
                link = dashboard_link(client, listen)
                runner = Runner("cluster", threads, desc, client=client, dashboard_link=link, tunnel=tunnel_hint(link))
                runner.ready = lambda note: wait_for_workers(client, jq, prof, note)
                runner.usage = count.usage  # the report says how many batch jobs ran
                yield runner
        return
    if kind in ("auto", "threads", "processes"):
        n = int(workers or cores)
        desc = describe_pool(kind, n) if kind != "auto" else f"dask threads or processes (auto): {n} workers"
        yield Runner(kind, n, desc)
        return
    from distributed import Client, LocalCluster  # start-up: distributed (~0.5 s), for its schedulers only

    tpw = run.get("threads_per_worker")
    host = run.get("host")
    dashboard_address = run.get("dashboard_address")
    n = int(workers or max(1, cores // tpw))
    if not tls and not _loopback(host):
        log.warning(
            "the LocalCluster's scheduler listens on %s without TLS: anyone who reaches this machine on its "
            "port can run code in its workers as you; drop --no-tls (TLS is the default), or listen on 127.0.0.1",
            host,
        )
    with _pre_spawn_environ(config.worker_environ()), _workers_ignore_sigint():
        local = LocalCluster(
            n_workers=n,
            threads_per_worker=tpw,
            processes=True,
            host=host,
            dashboard_address=dashboard_address,
            security=security(tls, temporary=True),
        )
    client_of = Client(local, set_as_default=False)
    with closed_after(local, "the LocalCluster"), closed_after(client_of, "the client") as client:
        _quiet_cancellations(client)
        runner = _distributed_runner(client, "local")
        runner.kind = "local"
        runner.dashboard_link = dashboard_link(client, dashboard_address)  # where it listens, not the host's address
        runner.tunnel = tunnel_hint(runner.dashboard_link)
        if not _remote():
            runner.tunnel = None  # on this host: the link opens as it is
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


class WorkerNoise(logging.Filter):
    """What the workers of a cluster imgjobs started say only because the run stops: dropped.

    When a run is interrupted its futures are cancelled, and every running task
    would log "Async instruction ... ended with CancelledError"; and a worker
    whose heartbeat finds the scheduler closed (it lives in the imgjobs process,
    which is stopping) logs an ERROR with two tracebacks.  Both are expected, and
    a wall of text under the one line imgjobs prints.  Other records stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "ended with CancelledError" in message:
            return False
        return not message.startswith("Failed to communicate with scheduler during heartbeat")


def _quiet_cancellations(client) -> None:
    """Workers of a cluster imgjobs started drop :class:`WorkerNoise`'s records (a worker plugin)."""
    from distributed.diagnostics.plugin import WorkerPlugin  # start-up: distributed (~0.5 s), for its schedulers only

    class QuietCancellations(WorkerPlugin):
        name = "imgjobs-quiet-cancellations"

        def setup(self, worker):
            for name in ("distributed.worker.state_machine", "distributed.worker"):
                logging.getLogger(name).addFilter(WorkerNoise())

    client.register_plugin(QuietCancellations())


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Start worker processes with SIGINT ignored (they inherit it across exec, and Python keeps it).

    A terminal's Ctrl-C goes to the whole foreground process group: without this,
    every worker prints its own KeyboardInterrupt traceback while imgjobs itself
    is already closing the cluster in order.  A Ctrl-C in the second or two the
    cluster takes to start is lost with it (the run goes on); blocking SIGINT
    instead does not keep it, as ``multiprocessing`` unblocks it in the threads
    that start processes.
    """
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
