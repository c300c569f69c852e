"""A batch-system cluster's life: start it, wait for its first worker, close it leaving no job behind."""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
import subprocess
import time

import dask.config

from jobs.clusters.profiles import _make, _seconds, close_temporaries
from jobs.errors import ClusterError

__all__ = ["close_cluster", "start_cluster", "wait_for_workers"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def start_cluster(name: str, *, jobs: int = 1, tls: bool = False):
    """Start the scheduler here and keep ``jobs`` worker jobs of profile ``name`` submitted.

    Yields
    ------
    (cluster, description, threads, profile)
        The dask-jobqueue cluster, a line for people, the threads the jobs will
        bring (for sizing tasks before any worker has arrived), and the profile.
    """
    # A worker that leaves is waited for this long before its job counts as gone and a replacement is
    # submitted (distributed's default, 15 s, is for workers that may reconnect): retirements at the
    # end of a lifetime are expected, so replacements start at once.
    lost = dask.config.set({"distributed.deploy.lost-worker-timeout": "2s"})
    cluster, prof, private = _make(name, tls, check_commands=True, jobs=jobs)
    try:
        jq = prof["jobqueue"]
        # adaptive at a fixed size: a job that retires, reaches its walltime or is cancelled is replaced
        cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
        threads = jobs * int(jq["cores"])
        desc = (
            f"{prof['type']} cluster {name!r}: {jobs} job(s) x {jq['processes']} worker(s), {threads} thread(s) "
            f"in all; scheduler at {cluster.scheduler_address}"
        )
        log.info("submitted %d %s job(s); workers join as the batch system starts them", jobs, prof["type"])
        yield cluster, desc, threads, prof
    finally:
        try:
            close_cluster(cluster)  # cancels every job it submitted (scancel / qdel)
        finally:
            lost.__exit__(None, None, None)
            if private:
                close_temporaries(cluster)  # before their folder goes: no traceback per file at exit
                shutil.rmtree(private, ignore_errors=True)  # the TLS key among them


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
    if kind == "slurm" and shutil.which("squeue"):
        cmd = ["squeue", "--noheader", "-o", "%i %T %r", "-j", ",".join(ids)]
    elif kind == "pbs" and shutil.which("qstat"):
        cmd = ["qstat", *ids]
    else:
        return f"job(s) {', '.join(ids)}"
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"job(s) {', '.join(ids)}"
    lines = [" ".join(line.split()) for line in out.splitlines() if line.strip()]
    return "; ".join(lines) or f"job(s) {', '.join(ids)} (no longer listed)"


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
