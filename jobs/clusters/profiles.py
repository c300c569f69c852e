"""Batch-system profiles: ``imgjobs.clusters.<name>`` in dask-jobqueue's terms, staggered lifetimes, the job script."""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading

import dask.config
from dask.utils import parse_bytes, parse_timedelta

from jobs import config
from jobs.clusters.systems import SYSTEMS, TYPES
from jobs.clusters.tls import _dashed, security
from jobs.errors import ClusterError, UsageError

__all__ = ["job_script", "lifetime_of", "profile"]

#: The keys a profile may hold besides ``jobqueue``.
OWN_KEYS = ("type", "jobqueue", "lifetime", "lifetime-stagger", "worker-timeout")


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
            f"~/.config/dask/imgjobs.yaml (copy the profile of your batch system, one of {', '.join(TYPES)}, "
            "from configs/imgjobs.yaml)"
        )
    prof = _dashed(profiles[name])
    kind = prof.get("type", name)
    if kind not in TYPES:
        raise UsageError(
            f"cluster profile {name!r}: type must be one of {', '.join(TYPES)} (dask-jobqueue's batch systems), "
            f"got {kind!r}"
        )
    unknown = sorted(set(prof) - set(OWN_KEYS))
    if unknown:
        raise UsageError(
            f"cluster profile {name!r}: unknown key(s) {', '.join(unknown)}; dask-jobqueue's options "
            "(cores, memory, walltime, queue, job-extra-directives...) go under its `jobqueue:` section"
        )
    base = _dashed(profiles.get(kind)) if name != kind else {}
    merged = _merge(base, prof)
    _cluster_class(kind)  # imports dask-jobqueue, whose own defaults (jobqueue.yaml) the merge starts from
    jq = _dashed(dask.config.get(f"jobqueue.{kind}", default={}))
    options = set(jq)
    for section in (base.get("jobqueue"), prof.get("jobqueue")):
        wrong = sorted(set(_dashed(section)) - options)
        if wrong:
            import dask_jobqueue  # optional extra: dask-jobqueue (hpc)

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
    for key in SYSTEMS[kind].sizes:
        try:
            parse_bytes(str(jq.get(key)))
        except (ValueError, TypeError):
            raise UsageError(
                f"cluster profile {name!r}: jobqueue.{key} must be a size such as 64GiB, got {jq.get(key)!r} "
                f"(a {kind} job states its {key})"
            ) from None
    return merged


def _cluster_class(kind: str):
    # dask-jobqueue's runner module replaces the SIGINT handler when imported (with sys.exit):
    # Ctrl-C must stay a KeyboardInterrupt, so that runs clean up and exit 130.
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main else None
    try:
        import dask_jobqueue  # optional extra: dask-jobqueue (hpc)
    except ImportError:
        raise UsageError('--cluster needs dask-jobqueue: pip install "imgjobs[hpc]"') from None
    finally:
        if main and before is not None:
            signal.signal(signal.SIGINT, before)
    cls: type = getattr(dask_jobqueue, SYSTEMS[kind].cluster)
    return cls


def _seconds(text) -> float:
    return float(parse_timedelta(text, default="s"))


def lifetime_of(i: int, lifetime: str, jobs: int) -> str:
    """The worker lifetime of the ``i``-th job a cluster submits (from 0): the first ``jobs`` retire spread.

    ``jobs`` is the most jobs the cluster keeps at once: N of ``--jobs N``, MAX
    of ``--jobs MIN:MAX``.  The first ``jobs`` start together (an adaptive
    cluster's as soon as there is work for them), so with one lifetime they
    would retire together and leave no worker until their replacements start.
    Job ``i < jobs`` lives ``lifetime * (1 - i / (2 jobs))`` instead (with 2
    jobs: 100% and 75%), every later job the whole lifetime: replacements start
    as their predecessors retire, so they stay spread, and capacity never drops
    to zero while a replacement starts within that spread (with ``--jobs 1`` it
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
    """The dask-jobqueue cluster of profile ``name`` (no job submitted yet), its profile, and its TLS folder or None.

    ``jobs``: the most jobs it will keep at once, whose first ones retire spread
    (:func:`lifetime_of`).
    """
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
    # dask-jobqueue reads jobqueue.<config_name> for every job it submits, so it stays in the config: the
    # profile's whole section, none of the keys an earlier profile of this name left (another type's project)
    dask.config.config.get("jobqueue", {}).pop(config_name, None)
    dask.config.update(dask.config.config, {"jobqueue": {config_name: jq}}, priority="new")
    sec = security(tls, temporary=True)
    kwargs = {"config_name": config_name, "security": sec, "job_cls": _job_class(cls, prof, jobs)}
    private = None
    if sec is not None:
        # dask-jobqueue writes the temporary certificates and key (files the worker jobs read) into its
        # shared-temp-directory: a folder of this run's own there, mode 700, removed however the run ends
        base = jq.get("shared-temp-directory") or os.getcwd()
        private = tempfile.mkdtemp(prefix=".imgjobs-tls-", dir=base)
        kwargs["shared_temp_directory"] = private
    try:
        return cls(**kwargs), prof, private
    except BaseException:
        if private:
            shutil.rmtree(private, ignore_errors=True)
        raise


def close_temporaries(cluster) -> None:
    """Close the temporary TLS files dask-jobqueue keeps for ``cluster``, deleting them; call before their folder goes.

    dask-jobqueue holds each file it wrote into a run's TLS folder (:func:`_make`: CA,
    certificate, key) open as a ``tempfile.NamedTemporaryFile`` for the cluster's life,
    and deletes it when that object is collected: once the folder is gone, that is a
    ``FileNotFoundError`` traceback per file ("Exception ignored in ...
    _TemporaryFileCloser.__del__"), three under every ``--dry-run``.
    """
    for key in ("ca_file", "cert", "key"):
        held = getattr(cluster, f"_job_{key}", None)
        if held is not None:
            try:
                held.close()  # deletes the file
            except OSError:
                pass


#: What ``--dry-run`` prints in place of the run's own TLS folder, removed as the dry run ends.
TLS_PLACEHOLDER = ".imgjobs-tls-RUN"


def job_script(name: str, *, tls: bool = False) -> str:
    """The batch script each worker job of profile ``name`` runs (what ``--dry-run`` prints).

    The scheduler address in it is the one a real run would get now; its port
    changes from run to run unless the profile's scheduler-options set one.  With
    TLS, each run writes the certificate and key its workers read into a folder of
    its own, removed when the run ends: the script names it :data:`TLS_PLACEHOLDER`
    (no dry run's files, deleted by then) and says so in a closing comment.
    """
    cluster, _, private = _make(name, tls, check_commands=False)
    try:
        script = cluster.job_script()
    finally:
        try:
            cluster.close()
        finally:
            if private:
                close_temporaries(cluster)
                shutil.rmtree(private, ignore_errors=True)
    if private and private in script:
        where = os.path.join(os.path.dirname(private), TLS_PLACEHOLDER)
        script = script.replace(private, where).rstrip("\n") + (
            f"\n# {TLS_PLACEHOLDER}: a real run writes the TLS certificate and key its workers read into a folder of\n"
            f"# its own there, {os.path.dirname(where)}/.imgjobs-tls-<random> (mode 700), and removes it when it ends\n"
        )
    return script
