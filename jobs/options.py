"""Where a job runs: the scheduler options every job takes, as keywords (:class:`SchedulerOptions`)
and resolved (:class:`RunOptions`).

Every job's function takes these keywords (``**scheduler``, typed by
:class:`SchedulerOptions`) and every command these flags (the "scheduler"
group of ``--help``, its text read from :class:`SchedulerOptions`' docstring).
A field of :class:`RunOptions` holds what was given (None: not given);
:meth:`RunOptions.get` gives the value to use, from ``imgjobs.scheduler.*`` in
``dask.config`` when it was not given.  The job's own options are declared in
its subpackage (e.g. :mod:`jobs.rle_job.options`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, TypedDict

from jobs import config
from jobs.cliargs import job_range, positive
from jobs.errors import ConfigError, UsageError
from jobs.params import Options, Param, boolean, choice, option, text, whole_number

__all__ = ["KINDS", "RunOptions", "SchedulerOptions"]

#: The schedulers imgjobs starts itself: Dask's threads or processes, or a ``distributed.LocalCluster``.
KINDS = ("auto", "threads", "processes", "local")


class SchedulerOptions(TypedDict, total=False):
    """The scheduler keywords of every job's function (``**scheduler``); each None or absent: from config.

    Attributes
    ----------
    scheduler : {"auto", "threads", "processes", "local"}
        Where tasks run (default ``imgjobs.scheduler.kind``; auto: Dask's threads,
        or its processes for ``imgjobs.scheduler.auto-processes-files`` small files
        or more, whose work holds the GIL): threads, Dask's thread pool; processes,
        its process pool; local, a distributed LocalCluster with its dashboard.
    workers : int
        Threads, processes: pool size; local: worker processes (default
        ``imgjobs.scheduler.workers``).
    threads_per_worker : int
        Local: threads per worker (default ``imgjobs.scheduler.threads-per-worker``).
    host : str
        Local: the interface the scheduler and workers listen on (default
        ``imgjobs.scheduler.host``).
    dashboard_address : str
        Local: the dashboard's address (default ``imgjobs.scheduler.dashboard-address``;
        ':0' picks a free port).
    scheduler_address : str
        Connect to a running scheduler, e.g. tcp://node1:8786.
    scheduler_file : str
        Connect to the scheduler that wrote this file (dask scheduler --scheduler-file FILE).
    cluster : str
        Submit workers as batch jobs through dask-jobqueue: a profile under
        imgjobs.clusters (one per batch system dask-jobqueue knows, named
        after it, e.g. slurm or lsf; or your own); the scheduler runs in this
        process (default ``imgjobs.scheduler.cluster``).
    jobs : int, (int, int) or str
        Cluster: batch jobs, each one node of the profile's size: N keeps N
        running (a job that retires or ends is replaced); MIN:MAX (in Python
        also (min, max)) keeps MIN and submits more, up to MAX, while there is
        more work than the workers can do soon, retiring them when idle
        (cluster.adapt) (default ``imgjobs.scheduler.jobs``).
    tls : bool
        TLS on every connection of the clusters imgjobs starts (default
        ``imgjobs.scheduler.tls``; local, cluster: temporary certificates, or the
        files in imgjobs.tls, see imgjobs certs); a running scheduler's address decides.
    performance_report : str
        Write Dask's performance report (distributed schedulers) or task/resource
        profiles (threads, processes) to this HTML file.
    """

    scheduler: Literal["auto", "threads", "processes", "local"] | None
    workers: int | None
    threads_per_worker: int | None
    host: str | None
    dashboard_address: str | None
    scheduler_address: str | None
    scheduler_file: str | None
    cluster: str | None
    jobs: int | tuple[int, int] | str | None
    tls: bool | None
    performance_report: str | None


def _job_range(key: str, value: Any) -> tuple[int, int]:
    """A check: ``jobs`` as ``(least, most)`` (:func:`jobs.cliargs.job_range`), from config when not given;
    anything else a :class:`UsageError` (given) or a :class:`ConfigError` naming the key and its source."""
    given = value is not None
    try:
        return job_range(config.get(key, value))
    except argparse.ArgumentTypeError as e:
        if given:
            raise UsageError(f"jobs: {e}") from None
        raise ConfigError(f"jobs: {e} (imgjobs.{key}, from {config.source(key)})") from None


@dataclass(frozen=True)
class RunOptions(Options):
    """The scheduler options as given (:class:`SchedulerOptions`, None: not given), and where each falls back to.

    See :func:`jobs.schedulers.open_runner`; :meth:`get` gives the value to use.
    """

    scheduler: str | None = option(
        Param(key="scheduler.kind", check=choice(*KINDS), flag={"choices": list(KINDS)}), default=None
    )
    workers: int | None = option(
        Param(
            key="scheduler.workers",
            unset="one per core",
            check=whole_number(1, optional=True),
            flag={"type": positive, "metavar": "N"},
        ),
        default=None,
    )
    threads_per_worker: int | None = option(
        Param(key="scheduler.threads-per-worker", check=whole_number(1), flag={"type": positive, "metavar": "T"}),
        default=None,
    )
    host: str | None = option(
        Param(
            key="scheduler.host",
            check=lambda key, value: config.get_str(key, value, optional=False),
            flag={"metavar": "HOST"},
        ),
        default=None,
    )
    dashboard_address: str | None = option(
        Param(key="scheduler.dashboard-address", check=text, flag={"metavar": "ADDR"}), default=None
    )
    scheduler_address: str | None = option(
        Param(key="scheduler.address", check=text, flag={"metavar": "ADDR"}), default=None
    )
    scheduler_file: str | None = option(
        Param(key="scheduler.scheduler-file", check=text, flag={"metavar": "FILE"}), default=None
    )
    cluster: str | None = option(Param(key="scheduler.cluster", check=text, flag={"metavar": "PROFILE"}), default=None)
    jobs: int | tuple[int, int] | str | None = option(
        Param(key="scheduler.jobs", check=_job_range, flag={"type": job_range, "metavar": "N|MIN:MAX"}),
        default=None,
    )
    tls: bool | None = option(
        Param(key="scheduler.tls", check=boolean, flag={"action": argparse.BooleanOptionalAction}), default=None
    )
    performance_report: str | None = option(Param(flag={"metavar": "HTML"}), default=None)

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], where: str) -> RunOptions:
        """Build from keyword arguments as given (None: not given), refusing any that are not scheduler options.

        An unknown keyword is a :class:`TypeError` worded as Python words one for a
        function written out: ``resize() got an unexpected keyword argument 'sise'``.
        """
        known = [f.name for f in fields(cls)]
        unknown = [k for k in kwargs if k not in known]
        if unknown:
            raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
        return cls(**{name: kwargs.get(name) for name in known})

    def get(self, name: str) -> Any:
        """The value of option ``name`` to use: as given, else from ``imgjobs.scheduler.*``, checked."""
        return self.params()[name].resolve(getattr(self, name))

    @property
    def explicit(self) -> bool:
        """True when a scheduler was named (not left to an active client or config)."""
        return any(v is not None for v in (self.scheduler, self.scheduler_address, self.scheduler_file, self.cluster))
