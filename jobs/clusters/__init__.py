"""HPC clusters: batch-system profiles (dask-jobqueue), waiting for workers, TLS, the dashboard.

A profile under ``imgjobs.clusters`` names a batch system, and so its dask-jobqueue
cluster class (``type:`` one of :data:`~jobs.clusters.systems.TYPES`: ``pbs``,
``slurm``, ``lsf``, ``sge``, ``htcondor``, ``oar``, ``moab``; a built-in profile
each) and holds, under ``jobqueue``, dask-jobqueue's own keys (``cores``,
``memory``, ``walltime``, ``job-extra-directives``, ``job-script-epilogue``,
``death-timeout``, ``worker-command``...: everything its ``jobqueue.yaml``
documents).  They are merged over ``jobqueue.<type>`` from your own
configuration (a site's ``~/.config/dask/jobqueue.yaml`` counts) and handed to
dask-jobqueue through its ``config_name``.  imgjobs keeps only its own keys:
the worker ``lifetime`` policy and ``worker-timeout``; the malloc trim and TLS
settings come from ``imgjobs.scheduler`` and ``imgjobs.tls``.

* :func:`start_cluster` starts the scheduler here, submits the jobs (checking
  first that the batch commands exist), N of them or between MIN and MAX as the
  work needs (``cluster.adapt``), counting those that ran for the report
  (:class:`~jobs.clusters.lifecycle.JobCount`), and :func:`wait_for_workers` says
  what the batch system reports until a worker joins, or stops with a clear error.
* :func:`job_script` is what ``--dry-run`` prints.
* :func:`security` turns TLS settings into a :class:`distributed.Security`:
  certificate files, or temporary certificates for clusters imgjobs starts.
* :func:`write_certificates` makes a self-signed CA/cert/key set (``imgjobs certs
  DIR``), and :func:`tunnel_hint` the ``ssh -L`` command for a laptop.

dask-jobqueue and cryptography are optional (``pip install "imgjobs[hpc]"``);
nothing here is imported for local runs.  One concern per module:
:mod:`~jobs.clusters.systems` (what differs between batch systems, a row each),
:mod:`~jobs.clusters.profiles` (profiles, lifetimes, the job script),
:mod:`~jobs.clusters.lifecycle` (start, wait for workers, close),
:mod:`~jobs.clusters.tls` (security, certificates) and
:mod:`~jobs.clusters.dashboard` (the link and the tunnel).
"""

from __future__ import annotations

from jobs.clusters.dashboard import client_link, dashboard_link, tunnel_hint
from jobs.clusters.lifecycle import close_cluster, start_cluster, wait_for_workers
from jobs.clusters.profiles import job_script, lifetime_of, profile
from jobs.clusters.tls import security, write_certificates

__all__ = [
    "client_link",
    "close_cluster",
    "dashboard_link",
    "job_script",
    "lifetime_of",
    "profile",
    "security",
    "start_cluster",
    "tunnel_hint",
    "wait_for_workers",
    "write_certificates",
]
