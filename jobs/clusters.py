"""HPC clusters: batch-system profiles (dask-jobqueue), waiting for workers, TLS, the dashboard.

A profile under ``imgjobs.clusters`` names a dask-jobqueue cluster class
(``type: pbs`` or ``slurm``) and holds, under ``jobqueue``, dask-jobqueue's own
keys (``cores``, ``memory``, ``walltime``, ``job-extra-directives``,
``job-script-epilogue``, ``death-timeout``, ``worker-command``...: everything its
``jobqueue.yaml`` documents).  They are merged over ``jobqueue.<type>`` from your
own configuration (a site's ``~/.config/dask/jobqueue.yaml`` counts) and handed to
dask-jobqueue through its ``config_name``.  imgjobs keeps only its own keys:
the worker ``lifetime`` policy and ``worker-timeout``; the malloc trim and TLS
settings come from ``imgjobs.scheduler`` and ``imgjobs.tls``.

* :func:`start_cluster` starts the scheduler here, submits the jobs (checking
  first that the batch commands exist), and :func:`wait_for_workers` says what
  the batch system reports until a worker joins, or stops with a clear error.
* :func:`job_script` is what ``--dry-run`` prints.
* :func:`security` turns TLS settings into a :class:`distributed.Security`:
  certificate files, or temporary certificates for clusters imgjobs starts.
* :func:`write_certificates` makes a self-signed CA/cert/key set (``imgjobs certs
  DIR``), and :func:`tunnel_hint` the ``ssh -L`` command for a laptop.

dask-jobqueue and cryptography are optional (``pip install "imgjobs[hpc]"``);
nothing here is imported for local runs.
"""

from __future__ import annotations

import contextlib
import copy
import getpass
import itertools
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from jobs import config
from jobs.errors import ClusterError, UsageError

__all__ = [
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

log = logging.getLogger(__name__)

TYPES = ("pbs", "slurm")
#: The keys a profile may hold besides ``jobqueue``.
OWN_KEYS = ("type", "jobqueue", "lifetime", "lifetime-stagger", "worker-timeout")


def _dashed(section) -> dict:
    """A config section with ``_`` in keys read as ``-`` (environment variables give ``memory_gib``)."""
    return {str(k).replace("_", "-"): v for k, v in dict(section or {}).items()}


def _merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``, one level of dictionaries deep; an explicit null wins."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def profile(name: str) -> dict:
    """The cluster profile ``imgjobs.clusters.<name>``, resolved.

    Its ``jobqueue`` section is dask-jobqueue's ``jobqueue.<type>`` (defaults and
    your configuration), then the built-in profile of that type, then this one;
    for imgjobs' own keys, a key this profile leaves out comes from its type's
    profile, and an explicit null turns it off (``lifetime: null``: no lifetime).

    Raises
    ------
    UsageError
        For an unknown profile, type or key, or sizes that cannot work.
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
    unknown = sorted(set(prof) - set(OWN_KEYS))
    if unknown:
        raise UsageError(
            f"cluster profile {name!r}: unknown key(s) {', '.join(unknown)}; dask-jobqueue's options "
            "(cores, memory, walltime, queue, job-extra-directives...) go under its `jobqueue:` section"
        )
    base = _dashed(profiles.get(kind)) if name != kind else {}
    merged = _merge(base, prof)
    _cluster_class(kind)  # imports dask-jobqueue, whose own defaults (jobqueue.yaml) the merge starts from
    import dask.config

    jq = _dashed(dask.config.get(f"jobqueue.{kind}", default={}))
    options = set(jq)
    for section in (base.get("jobqueue"), prof.get("jobqueue")):
        wrong = sorted(set(_dashed(section)) - options)
        if wrong:
            import dask_jobqueue

            raise UsageError(
                f"cluster profile {name!r}: dask-jobqueue {dask_jobqueue.__version__} has no {kind} option "
                f"{', '.join(wrong)} (its options: {', '.join(sorted(options))})"
            )
        jq = _merge(jq, _dashed(section))
    merged["jobqueue"] = jq
    merged["type"] = kind
    merged["name"] = name
    for key in ("cores", "processes"):
        value = jq.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"cluster profile {name!r}: jobqueue.{key} must be a whole number >= 1, got {value!r}")
    if jq["processes"] > jq["cores"]:
        raise UsageError(f"cluster profile {name!r}: processes ({jq['processes']}) exceeds cores ({jq['cores']})")
    from dask.utils import parse_bytes

    try:
        parse_bytes(str(jq.get("memory")))
    except (ValueError, TypeError):
        raise UsageError(
            f"cluster profile {name!r}: jobqueue.memory must be a size such as 64GiB, got {jq.get('memory')!r}"
        ) from None
    return merged


def _tls_files(section) -> tuple[str, str, str] | None:
    section = _dashed(section)
    files = [section.get(k) for k in ("ca-file", "cert", "key")]
    if not any(files):
        return None
    if not all(files):
        raise UsageError("TLS needs all three of ca-file, cert and key (imgjobs.tls)")
    files = [os.path.expanduser(os.path.expandvars(f)) for f in files]
    for f in files:
        if not os.path.isfile(f):
            raise UsageError(f"TLS file {f} does not exist (make a set with `imgjobs certs DIR`)")
    return files[0], files[1], files[2]


def security(tls: bool, *, temporary: bool = False):
    """The :class:`distributed.Security` for TLS, or None without it.

    Parameters
    ----------
    tls : bool
        Whether to use TLS.
    temporary : bool
        Without certificate files, make temporary certificates (for a cluster
        whose scheduler starts here) instead of failing.

    Raises
    ------
    UsageError
        When files are needed but not configured, or incomplete.
    """
    if not tls:
        return None
    from distributed import Security

    files = _tls_files(config.get("tls"))
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
            raise UsageError('TLS needs the cryptography package: pip install "imgjobs[hpc]" (or --no-tls)') from None
    raise UsageError(
        "TLS with a running scheduler needs certificate files: set imgjobs.tls.ca-file, cert and key "
        "(`imgjobs certs DIR` makes a set; start the scheduler and workers with the same files)"
    )


def write_certificates(directory: str) -> dict:
    """Write a self-signed CA/cert/key set for a private Dask cluster into ``directory``.

    One certificate serves every role and is its own authority, as
    :meth:`distributed.Security.temporary` does in memory.  Both files are
    created new (never an existing file or a symbolic link: another user may
    have planted one in a shared directory), the key with mode 600.

    Returns
    -------
    dict
        ``{"ca-file": path, "cert": path, "key": path}``, the shape of ``imgjobs.tls``.

    Raises
    ------
    UsageError
        When ``directory`` is a file, or the files already exist.
    """
    from distributed import Security

    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"{directory} is a file: `imgjobs certs` writes cert.pem and key.pem into a directory")
    try:
        sec = Security.temporary()
    except ImportError:
        raise UsageError('making certificates needs the cryptography package: pip install "imgjobs[hpc]"') from None
    os.makedirs(directory, mode=0o700, exist_ok=True)
    paths = {k: os.path.abspath(os.path.join(directory, f)) for k, f in (("cert", "cert.pem"), ("key", "key.pem"))}
    paths["ca-file"] = paths["cert"]  # self-signed: the certificate is its own authority
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = []
    try:
        for kind, text, mode in (("key", sec.tls_client_key, 0o600), ("cert", sec.tls_client_cert, 0o644)):
            try:
                fd = os.open(paths[kind], flags, mode)
            except FileExistsError:
                raise UsageError(
                    f"{paths[kind]} exists: remove cert.pem and key.pem first, or choose a new directory "
                    "(imgjobs never writes a key into a file it did not create)"
                ) from None
            written.append(paths[kind])
            with os.fdopen(fd, "w") as f:
                os.fchmod(f.fileno(), mode)  # whatever the umask
                f.write(text)
    except BaseException:
        for p in written:
            with contextlib.suppress(OSError):
                os.remove(p)
        raise
    return {"ca-file": paths["ca-file"], "cert": paths["cert"], "key": paths["key"]}


def _cluster_class(kind: str):
    # dask-jobqueue's runner module replaces the SIGINT handler when imported (with sys.exit):
    # Ctrl-C must stay a KeyboardInterrupt, so that runs clean up and exit 130.
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main else None
    cls: type
    try:
        if kind == "pbs":
            from dask_jobqueue import PBSCluster as cls
        else:
            from dask_jobqueue import SLURMCluster as cls
    except ImportError:
        raise UsageError('--cluster needs dask-jobqueue: pip install "imgjobs[hpc]"') from None
    finally:
        if main and before is not None:
            signal.signal(signal.SIGINT, before)
    return cls


def lifetime_of(i: int, lifetime: str, jobs: int) -> str:
    """The worker lifetime of the ``i``-th job a cluster submits (from 0): the first ``jobs`` retire spread.

    All of the first ``jobs`` start together, so with one lifetime they would
    retire together and leave no worker until their replacements start.  Job
    ``i < jobs`` lives ``lifetime * (1 - i / (2 jobs))`` instead (with 2 jobs:
    100% and 75%), every later job the whole lifetime: replacements start as
    their predecessors retire, so they stay spread, and capacity never drops to
    zero while a replacement starts within that spread (with ``--jobs 1`` it
    always drops).

    Examples
    --------
    >>> [lifetime_of(i, "40m", 2) for i in range(4)]
    ['2400s', '1800s', '40m', '40m']
    """
    if i >= jobs:
        return lifetime
    return f"{int(_seconds(lifetime) * (1 - i / (2 * jobs)))}s"


def _job_class(cls, prof: dict, jobs: int):
    """dask-jobqueue's Job class for this profile: each job gets its own lifetime (:func:`lifetime_of`).

    A job's place is the order in which the cluster submits it, not its name:
    distributed names a replacement after the lowest free number, so a job that
    replaces ``<cluster>-1`` is ``<cluster>-1`` again.
    """
    lifetime, stagger = prof.get("lifetime"), prof.get("lifetime-stagger")
    if not lifetime:
        return cls.job_cls
    submitted = itertools.count()  # the cluster builds one Job per job it submits

    class StaggeredJob(cls.job_cls):
        def __init__(self, *args, name=None, worker_extra_args=None, config_name=None, **kwargs):
            if worker_extra_args is None:
                import dask.config

                worker_extra_args = dask.config.get(f"jobqueue.{config_name}.worker-extra-args", default=[]) or []
            # dask-jobqueue's "dummy-name" job only writes the script --dry-run prints: not submitted
            i = jobs if name in (None, "dummy-name") else next(submitted)
            extra = [*worker_extra_args, "--lifetime", lifetime_of(i, str(lifetime), jobs)]
            if stagger:
                extra += ["--lifetime-stagger", str(stagger)]
            super().__init__(*args, name=name, worker_extra_args=extra, config_name=config_name, **kwargs)

    StaggeredJob.__name__ = StaggeredJob.__qualname__ = cls.job_cls.__name__
    return StaggeredJob


def _make(name: str, tls: bool, *, check_commands: bool, jobs: int = 1):
    prof = profile(name)
    cls = _cluster_class(prof["type"])
    if check_commands:
        missing = [c for c in (cls.job_cls.submit_command, cls.job_cls.cancel_command) if not shutil.which(c)]
        if missing:
            raise ClusterError(
                f"--cluster {name} submits {prof['type'].upper()} jobs, but {', '.join(missing)} is not on PATH: run "
                "imgjobs where the batch system's commands are (a login node; `module load` them first)"
            )
    jq = dict(prof["jobqueue"])
    # distributed prefers the environment's values to its own config's when a nanny spawns its worker
    trim = [f"export {k}={v}" for k, v in config.worker_environ().items()]
    jq["job-script-prologue"] = trim + list(jq.get("job-script-prologue") or [])
    jq.setdefault("python", None)
    if not jq.get("python"):
        jq["python"] = sys.executable
    config_name = f"imgjobs-{name}"
    # dask-jobqueue reads jobqueue.<config_name> for every job it submits, so it stays in the config
    import dask.config

    dask.config.update(dask.config.config, {"jobqueue": {config_name: jq}}, priority="new")
    sec = security(tls, temporary=True)
    kwargs = {"config_name": config_name, "security": sec, "job_cls": _job_class(cls, prof, jobs)}
    private = None
    if sec is not None:
        # dask-jobqueue writes the temporary certificates and key (files the worker jobs read) into its
        # shared-temp-directory: a folder of this run's own there, mode 700, removed however the run ends
        import tempfile

        base = jq.get("shared-temp-directory") or os.getcwd()
        private = tempfile.mkdtemp(prefix=".imgjobs-tls-", dir=base)
        kwargs["shared_temp_directory"] = private
    try:
        return cls(**kwargs), prof, private
    except BaseException:
        if private:
            shutil.rmtree(private, ignore_errors=True)
        raise


def job_script(name: str, *, tls: bool = False) -> str:
    """The batch script each worker job of profile ``name`` runs (what ``--dry-run`` prints).

    The scheduler address in it is the one a real run would get now; its port
    changes from run to run unless the profile's scheduler-options set one.
    """
    cluster, _, private = _make(name, tls, check_commands=False)
    try:
        return cluster.job_script()
    finally:
        try:
            cluster.close()
        finally:
            if private:
                shutil.rmtree(private, ignore_errors=True)


@contextlib.contextmanager
def start_cluster(name: str, *, jobs: int = 1, tls: bool = False):
    """Start the scheduler here and keep ``jobs`` worker jobs of profile ``name`` submitted.

    Yields
    ------
    (cluster, description, threads, profile)
        The dask-jobqueue cluster, a line for people, the threads the jobs will
        bring (for sizing tasks before any worker has arrived), and the profile.
    """
    import dask.config

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


def _seconds(text) -> float:
    from dask.utils import parse_timedelta

    return float(parse_timedelta(text, default="s"))


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


def dashboard_link(client, listen: str | None) -> str | None:
    """The dashboard's address where it really listens (``listen``, e.g. ``127.0.0.1:8787``), not the
    scheduler's interface address that ``client.dashboard_link`` shows."""
    link = client.dashboard_link
    if not link or not listen:
        return link
    host = listen.rsplit(":", 1)[0].strip("[]") if ":" in listen else listen
    if host in ("", "0.0.0.0", "::", "*"):
        return link
    parts = urlsplit(link)
    return f"{parts.scheme}://{host}:{parts.port}{parts.path}"


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
