"""HPC clusters: batch-system profiles (dask-jobqueue), TLS and reaching the dashboard.

* :func:`start_cluster` builds a ``PBSCluster`` or ``SLURMCluster`` from a
  profile under ``imgjobs.clusters`` (``configs/imgjobs.yaml``) and keeps
  ``jobs`` batch jobs running: with a worker ``lifetime`` it uses
  :meth:`adapt`, so jobs that reach their walltime are replaced by fresh ones
  and a long job keeps going.
* :func:`job_script` is what ``--dry-run`` prints: the script each worker job
  would run.
* :func:`security` turns ``--tls`` into a :class:`distributed.Security`: the
  certificate files of a profile or of ``imgjobs.tls``, else temporary
  certificates where every party lives on this machine.
* :func:`write_certificates` makes a self-signed CA/cert/key set for a cluster
  (``imgjobs certs DIR``), and :func:`tunnel_hint` the ``ssh -L`` command that
  brings a dashboard to a laptop.

dask-jobqueue and cryptography are optional (``pip install "imgjobs[hpc]"``);
nothing here is imported for local runs.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import sys
from urllib.parse import urlsplit

from . import config
from .files import UsageError

__all__ = ["job_script", "profile", "security", "start_cluster", "tunnel_hint", "write_certificates"]

log = logging.getLogger(__name__)

TYPES = ("pbs", "slurm")


def _dashed(section) -> dict:
    """A config section with ``_`` in keys read as ``-`` (environment variables give ``memory_gib``)."""
    return {str(k).replace("_", "-"): v for k, v in dict(section or {}).items()}


def profile(name: str) -> dict:
    """The cluster profile ``imgjobs.clusters.<name>``, with unset keys taken from its type's profile.

    Raises
    ------
    UsageError
        For an unknown profile or type, or missing sizes.
    """
    profiles = config.get("clusters") or {}
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise UsageError(
            f"no cluster profile {name!r} (known: {known}): add one under imgjobs.clusters in "
            "~/.config/dask/imgjobs.yaml (copy pbs or slurm from configs/imgjobs.yaml)"
        )
    prof = _dashed(profiles[name])
    kind = prof.get("type", name)
    if kind not in TYPES:
        raise UsageError(f"cluster profile {name!r}: type must be one of {', '.join(TYPES)}, got {kind!r}")
    merged = {**_dashed(profiles.get(kind)), **{k: v for k, v in prof.items() if v is not None}}
    merged["type"] = kind
    for key in ("cores", "processes", "memory-gib"):
        try:
            ok = float(merged.get(key)) > 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise UsageError(f"cluster profile {name!r}: {key} must be a positive number, got {merged.get(key)!r}")
    if int(merged["processes"]) > int(merged["cores"]):
        raise UsageError(f"cluster profile {name!r}: processes ({merged['processes']}) exceeds cores")
    return merged


def _tls_files(section) -> tuple[str, str, str] | None:
    section = _dashed(section)
    files = [section.get(k) for k in ("ca-file", "cert", "key")]
    if not any(files):
        return None
    if not all(files):
        raise UsageError("TLS needs all three of ca-file, cert and key (imgjobs.tls or the profile's tls)")
    files = [os.path.expanduser(os.path.expandvars(f)) for f in files]
    for f in files:
        if not os.path.isfile(f):
            raise UsageError(f"TLS file {f} does not exist (make a set with `imgjobs certs DIR`)")
    return files[0], files[1], files[2]


def security(tls: bool, *, prof: dict | None = None, temporary: bool = False):
    """The :class:`distributed.Security` for ``--tls``, or None without it.

    Parameters
    ----------
    tls : bool
        Whether TLS was asked for.
    prof : dict, optional
        A cluster profile whose ``tls`` files win over ``imgjobs.tls``.
    temporary : bool
        Without files, make temporary in-memory certificates (fine when the
        scheduler is started here) instead of failing.

    Raises
    ------
    UsageError
        When files are needed but not configured, or incomplete.
    """
    if not tls:
        return None
    from distributed import Security

    files = _tls_files((prof or {}).get("tls")) or _tls_files(config.get("tls"))
    if files:
        ca, cert, key = files
        return Security(
            require_encryption=True,
            tls_ca_file=ca,
            tls_client_cert=cert,
            tls_client_key=key,
            tls_scheduler_cert=cert,
            tls_scheduler_key=key,
            tls_worker_cert=cert,
            tls_worker_key=key,
        )
    if temporary:
        try:
            return Security.temporary()
        except ImportError:
            raise UsageError('--tls needs the cryptography package: pip install "imgjobs[hpc]"') from None
    raise UsageError(
        "--tls with a running scheduler needs certificate files: set imgjobs.tls.ca-file, cert and key "
        "(`imgjobs certs DIR` makes a set; start the scheduler and workers with the same files)"
    )


def write_certificates(directory: str) -> dict:
    """Write a self-signed CA/cert/key set for a private Dask cluster into ``directory``.

    One certificate serves every role and is its own authority, as
    :meth:`distributed.Security.temporary` does in memory; the key is mode 600.

    Returns
    -------
    dict
        ``{"ca-file": path, "cert": path, "key": path}``, the shape of ``imgjobs.tls``.
    """
    from distributed import Security

    try:
        sec = Security.temporary()
    except ImportError:
        raise UsageError('making certificates needs the cryptography package: pip install "imgjobs[hpc]"') from None
    os.makedirs(directory, exist_ok=True)
    paths = {k: os.path.abspath(os.path.join(directory, f)) for k, f in (("cert", "cert.pem"), ("key", "key.pem"))}
    paths["ca-file"] = paths["cert"]  # self-signed: the certificate is its own authority
    with open(paths["cert"], "w") as f:
        f.write(sec.tls_client_cert)
    fd = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(sec.tls_client_key)
    return {"ca-file": paths["ca-file"], "cert": paths["cert"], "key": paths["key"]}


def _cluster_class(kind: str):
    try:
        if kind == "pbs":
            from dask_jobqueue import PBSCluster as cls
        else:
            from dask_jobqueue import SLURMCluster as cls
    except ImportError:
        raise UsageError('--cluster needs dask-jobqueue: pip install "imgjobs[hpc]"') from None
    return cls


def _make(name: str, tls: bool):
    prof = profile(name)
    sec = security(tls, prof=prof, temporary=True)
    extra = []
    if prof.get("lifetime"):
        extra += ["--lifetime", str(prof["lifetime"])]
        if prof.get("lifetime-stagger"):
            extra += ["--lifetime-stagger", str(prof["lifetime-stagger"])]
    kwargs = {
        "cores": int(prof["cores"]),
        "processes": int(prof["processes"]),
        "memory": f"{float(prof['memory-gib']):g}GiB",
        "walltime": prof.get("walltime"),
        "queue": prof.get("queue"),
        "account": prof.get("account"),
        "interface": prof.get("interface"),
        "local_directory": prof.get("local-directory"),
        "log_directory": prof.get("log-directory"),
        "job_extra_directives": list(prof.get("job-directives") or []),
        # distributed prefers the environment's values to its own config's when a nanny spawns its worker
        "job_script_prologue": [f"export {k}={v}" for k, v in config.worker_environ().items()]
        + list(prof.get("job-script-prologue") or []),
        "worker_extra_args": extra,
        "job_name": "imgjobs-worker",
        "python": prof.get("python") or sys.executable,
        "scheduler_options": {
            "dashboard_address": prof.get("dashboard-address"),
            "port": int(prof.get("scheduler-port") or 0),
        },
        "security": sec,
        "shared_temp_directory": prof.get("shared-temp-directory") or os.getcwd(),
    }
    if prof["type"] == "pbs" and prof.get("resource-spec"):
        kwargs["resource_spec"] = prof["resource-spec"]
    return _cluster_class(prof["type"])(**kwargs), prof


def job_script(name: str, *, tls: bool = False) -> str:
    """The batch script each worker job of profile ``name`` runs (what ``--dry-run`` prints).

    The scheduler address in it is the one a real run would get now; its port
    changes from run to run unless the profile sets ``scheduler-port``.
    """
    cluster, _ = _make(name, tls)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


@contextlib.contextmanager
def start_cluster(name: str, *, jobs: int = 1, tls: bool = False):
    """Start the scheduler here and keep ``jobs`` worker jobs of profile ``name`` submitted.

    Yields
    ------
    (cluster, description, threads)
        The dask-jobqueue cluster, a line for people, and the threads the jobs
        will bring (for sizing tasks before any worker has arrived).
    """
    cluster, prof = _make(name, tls)
    try:
        if prof.get("lifetime"):
            cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)  # replace jobs that reach their walltime
        else:
            cluster.scale(jobs=jobs)
        threads = jobs * int(prof["cores"])
        desc = (
            f"{prof['type']} cluster {name!r}: {jobs} job(s) x {prof['processes']} worker(s), {threads} thread(s) "
            f"in all; scheduler at {cluster.scheduler_address}"
        )
        log.info("submitted %d %s job(s); workers join as the batch system starts them", jobs, prof["type"])
        yield cluster, desc, threads
    finally:
        cluster.close()


def tunnel_hint(dashboard_link: str | None) -> str | None:
    """The ``ssh -L`` command that brings ``dashboard_link`` to a laptop, or None.

    Run on a login node (or a compute node reached through one), the command
    forwards local port 8787 to the dashboard through this host.
    """
    if not dashboard_link:
        return None
    parts = urlsplit(dashboard_link)
    host, port = parts.hostname, parts.port or 80
    user = getpass.getuser()
    here = socket.getfqdn()
    submit = os.environ.get("PBS_O_HOST") or os.environ.get("SLURM_SUBMIT_HOST")
    target = "127.0.0.1" if host in ("127.0.0.1", "localhost", "::1") else host
    if submit and submit != here:  # in a batch job: hop through the login node
        via = f"-J {user}@{submit} " if target == "127.0.0.1" else ""
        login = here if target == "127.0.0.1" else submit
        return f"ssh -N {via}-L {port}:{target}:{port} {user}@{login}  # then open http://localhost:{port}{parts.path}"
    return f"ssh -N -L {port}:{target}:{port} {user}@{here}  # then open http://localhost:{port}{parts.path}"
