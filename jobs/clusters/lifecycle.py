"""A batch-system cluster's life: start it, wait for its first worker, close it leaving no job behind."""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import subprocess
import time
from typing import Any

import dask.config

from jobs.clusters.profiles import _make, _seconds, close_temporaries
from jobs.clusters.systems import SYSTEMS
from jobs.errors import ClusterError
from jobs.runtime.report import Usage

__all__ = ["JobCount", "close_cluster", "start_cluster", "wait_for_workers"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def start_cluster(name: str, *, jobs: tuple[int, int] = (1, 1), tls: bool = False):
    """Start the scheduler here and keep between ``jobs[0]`` and ``jobs[1]`` worker jobs of profile ``name`` submitted.

    The cluster is adaptive (``cluster.adapt``) between the two: at a fixed size
    (``--jobs N``: N and N) a job that retires, reaches its walltime or is
    cancelled is replaced; between two sizes (``--jobs MIN:MAX``) distributed
    also submits jobs while there is more work than the workers can do soon, and
    retires them once they are idle, never going under MIN nor over MAX.

    Yields
    ------
    (cluster, description, threads, profile, count)
        The dask-jobqueue cluster, a line for people, the threads the jobs will
        bring at most (for sizing tasks before any worker has arrived), the
        profile, and the :class:`JobCount` of the jobs that ran.
    """
    least, most = jobs
    # A worker that leaves is waited for this long before its job counts as gone and a replacement is
    # submitted (distributed's default, 15 s, is for workers that may reconnect): retirements at the
    # end of a lifetime are expected, so replacements start at once.
    lost = dask.config.set({"distributed.deploy.lost-worker-timeout": "2s"})
    cluster, prof, private = _make(name, tls, check_commands=True, jobs=most)
    try:
        jq = prof["jobqueue"]
        count = _count_jobs(cluster)
        cluster.adapt(minimum_jobs=least, maximum_jobs=most)
        threads = most * int(jq["cores"])
        size = f"{most} job(s)" if least == most else f"{least} to {most} job(s) as the work needs (adaptive)"
        desc = (
            f"{prof['type']} cluster {name!r}: {size} x {jq['processes']} worker(s), {threads} thread(s) "
            f"{'in all' if least == most else 'at most'}; scheduler at {cluster.scheduler_address}"
        )
        log.info("submitted %d %s job(s); workers join as the batch system starts them", least, prof["type"])
        yield cluster, desc, threads, prof, count
    finally:
        try:
            close_cluster(cluster)  # cancels every job it submitted (scancel / qdel)
        finally:
            lost.__exit__(None, None, None)
            if private:
                close_temporaries(cluster)  # before their folder goes: no traceback per file at exit
                shutil.rmtree(private, ignore_errors=True)  # the TLS key among them


class JobCount:
    """How many of a cluster's batch jobs ran: the most at once and all, from the workers that joined.

    A job counts from the moment a worker of it joins the scheduler until its
    last worker leaves (retired, idle under ``--jobs MIN:MAX``, cancelled or
    dead); one still queued does not.  A job is told by the batch system's job
    id: distributed gives a replacement the name of the job it replaces.
    """

    def __init__(self, cluster: Any) -> None:
        self._cluster = cluster
        self._job_of: dict[str, str] = {}  # worker address -> its job's id
        self._live: dict[str, int] = {}  # job id -> workers of it connected now
        self._ran: set[str] = set()
        self.most = 0

    @property
    def total(self) -> int:
        """Jobs that ran in all."""
        return len(self._ran)

    def joined(self, address: str, name: str) -> None:
        """A worker named ``name`` joined at ``address``."""
        jobs = self._cluster.workers  # name -> Job: a job is named before it is submitted, so before its workers join
        job = jobs.get(name) or jobs.get(name.rsplit("-", 1)[0])  # a job's k-th worker process: <job>-<k>
        job_id = str(getattr(job, "job_id", None) or f"worker {name}")
        self._job_of[address] = job_id
        self._live[job_id] = self._live.get(job_id, 0) + 1
        self._ran.add(job_id)
        self.most = max(self.most, len(self._live))

    def left(self, address: str) -> None:
        """The worker at ``address`` left."""
        job_id = self._job_of.pop(address, None)
        if job_id is not None:
            self._live[job_id] -= 1
            if not self._live[job_id]:
                del self._live[job_id]

    def usage(self) -> list[Usage]:
        """What the run's report says of the jobs (:class:`~jobs.runtime.report.Usage`)."""
        return [Usage("batch jobs", self.most, self.total)]


def _count_jobs(cluster) -> JobCount:
    """A :class:`JobCount` of ``cluster``'s jobs, told of every worker that joins or leaves its scheduler."""
    from distributed.diagnostics.plugin import SchedulerPlugin  # start-up: distributed (~0.5 s), loaded by now

    count = JobCount(cluster)

    class Counting(SchedulerPlugin):
        name = "imgjobs-job-count"

        def add_worker(self, scheduler, worker):
            state = scheduler.workers.get(worker)
            count.joined(worker, str(state.name) if state is not None else worker)

        def remove_worker(self, scheduler, worker, **kwargs):
            count.left(worker)

    cluster.scheduler.add_plugin(Counting())  # before any job is submitted: every worker is seen joining
    return count


def _submitted(cluster) -> dict:
    """Job id -> the batch system's cancel command, for every job ``cluster`` has submitted so far."""
    jobs = {}
    for job in list(getattr(cluster, "workers", {}).values()):
        job_id, cancel = getattr(job, "job_id", None), getattr(job, "cancel_command", None)
        if job_id and cancel:
            jobs[str(job_id)] = cancel
    return jobs


def close_cluster(cluster) -> None:
    """Close a batch-system cluster and cancel its jobs; never raises, and never leaves a job behind.

    ``cluster.close()`` cancels the jobs through the scheduler's event loop, within 60 s;
    on a loaded machine, or a batch system slow to answer, that can time out or fail,
    often while a run is already stopping for another reason (Ctrl-C, a signal, an
    error).  Then every job it had submitted is cancelled here with the batch system's
    own command (``scancel``, ``qdel``), and the reason is logged, not raised: the
    exception the run is stopping for stays the one it reports.
    """
    jobs = _submitted(cluster)
    try:
        cluster.close()
    except Exception as e:
        jobs.update(_submitted(cluster))
        why = str(e) or type(e).__name__
        log.warning("closing the cluster failed (%s): cancelling its %d job(s) directly", why, len(jobs))
        for job_id, cancel in jobs.items():
            try:
                subprocess.run([*shlex.split(cancel), job_id], capture_output=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError) as err:
                log.warning("could not cancel job %s (%s): cancel it by hand", job_id, err)


def _job_states(cluster, kind: str) -> str:
    """What the batch system says of the cluster's jobs, in a few words (``"123 PENDING (Resources)"``)."""
    ids = [str(j.job_id) for j in getattr(cluster, "workers", {}).values() if getattr(j, "job_id", None)]
    if not ids:
        return "no job submitted yet"
    system = SYSTEMS[kind]
    if not shutil.which(system.status[0]):
        return f"job(s) {', '.join(ids)}"
    try:
        out = subprocess.run(system.status_command(ids), capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"job(s) {', '.join(ids)}"
    lines = [" ".join(line.split()) for line in out.splitlines() if line.strip()]
    if system.ids == "none":  # it lists every job of the user's: the run's own, by their ids
        lines = [line for line in lines if _job_of_line(line) in {_short(i) for i in ids}]
    return "; ".join(lines) or f"job(s) {', '.join(ids)} (no longer listed)"


def _short(job_id: str) -> str:
    """A job id without its server or task part (``123.pbs01`` -> ``123``), as listings may print it."""
    return job_id.split(".", 1)[0]


def _job_of_line(line: str) -> str:
    """The job id a line of a job listing starts with, short (:func:`_short`)."""
    return _short(line.split(" ", 1)[0])


def wait_for_workers(client, cluster, prof: dict, note) -> None:
    """Wait until a worker joins, saying what the batch system reports; stop after the profile's worker-timeout.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster's scheduler.
    cluster : dask_jobqueue.JobQueueCluster
        Its jobs are listed in the reports.
    prof : dict
        The profile (``worker-timeout``: how long to wait; null waits forever).
    note : callable
        Takes a line for people.

    Raises
    ------
    ClusterError
        When no worker joined in time (the jobs are cancelled as the cluster closes).
    """
    timeout = prof.get("worker-timeout")
    limit = _seconds(timeout) if timeout else None
    start = time.monotonic()
    every = 15.0 if limit is None else min(15.0, limit / 2)
    last = start
    while not client.scheduler_info().get("workers"):
        now = time.monotonic()
        if limit is not None and now - start > limit:
            raise ClusterError(
                f"no worker joined in {timeout} (imgjobs.clusters.{prof['name']}.worker-timeout); the batch system "
                f"says: {_job_states(cluster, prof['type'])}. Check the profile's cores, memory, queue/partition "
                "and account against what the cluster offers; the jobs are being cancelled"
            )
        if now - last >= every:
            note(f"waiting for workers ({now - start:.0f} s): {_job_states(cluster, prof['type'])}")
            last = now
            every = min(every * 2, 120.0)
        time.sleep(0.5)
