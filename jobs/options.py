"""Where a job runs: the scheduler options, declared once (keyword, ``--flag``, docstring, config key).

Every job takes these keywords (:func:`jobs.api.run_job`) and every command
these flags (the "scheduler" group of ``--help``).  A field holds what was
given (None: not given); :meth:`RunOptions.get` gives the value to use, from
``imgjobs.scheduler.*`` in ``dask.config`` when it was not given.  The job's
own options are declared in its subpackage (e.g. :mod:`jobs.rle_job.options`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from jobs import config
from jobs.cliargs import positive
from jobs.params import Options, Param, boolean, choice, option, text, whole_number

__all__ = ["KINDS", "RunOptions"]

#: The schedulers imgjobs starts itself: Dask's threads or processes, or a ``distributed.LocalCluster``.
KINDS = ("auto", "threads", "processes", "local")


@dataclass(frozen=True)
class RunOptions(Options):
    """Where a job runs: a scheduler to start or connect to (see :func:`jobs.runtime.schedulers.open_runner`).

    Every field defaults to None, meaning ``imgjobs.scheduler.*`` from config (:meth:`get`).
    """

    scheduler: str | None = option(
        Param(
            '{"auto", "threads", "processes", "local"}',
            "where tasks run (default {default}; auto: Dask's threads, or its processes for "
            "{scheduler.auto-processes-files} small files or more, whose work holds the GIL): threads, Dask's "
            "thread pool; processes, its process pool; local, a distributed LocalCluster with its dashboard",
            key="scheduler.kind",
            check=choice(*KINDS),
            flag={"choices": list(KINDS)},
        ),
        default=None,
    )
    workers: int | None = option(
        Param(
            "int",
            "threads, processes: pool size; local: worker processes (default {default})",
            key="scheduler.workers",
            unset="one per core",
            check=whole_number(1, optional=True),
            flag={"type": positive, "metavar": "N"},
        ),
        default=None,
    )
    threads_per_worker: int | None = option(
        Param(
            "int",
            "local: threads per worker (default {default})",
            key="scheduler.threads-per-worker",
            check=whole_number(1),
            flag={"type": positive, "metavar": "T"},
        ),
        default=None,
    )
    host: str | None = option(
        Param(
            "str",
            "local: the interface the scheduler and workers listen on (default {default})",
            key="scheduler.host",
            check=lambda key, value: config.get_str(key, value, optional=False),
            flag={"metavar": "HOST"},
        ),
        default=None,
    )
    dashboard_address: str | None = option(
        Param(
            "str",
            "local: the dashboard's address (default {default}; ':0' picks a free port)",
            key="scheduler.dashboard-address",
            check=text,
            flag={"metavar": "ADDR"},
        ),
        default=None,
    )
    scheduler_address: str | None = option(
        Param(
            "str",
            "connect to a running scheduler, e.g. tcp://node1:8786",
            key="scheduler.address",
            check=text,
            flag={"metavar": "ADDR"},
        ),
        default=None,
    )
    scheduler_file: str | None = option(
        Param(
            "str",
            "connect to the scheduler that wrote this file (dask scheduler --scheduler-file FILE)",
            key="scheduler.scheduler-file",
            check=text,
            flag={"metavar": "FILE"},
        ),
        default=None,
    )
    cluster: str | None = option(
        Param(
            "str",
            "submit workers as batch jobs through dask-jobqueue: a profile under imgjobs.clusters (pbs, slurm, "
            "or your own); the scheduler runs in this process (default {default})",
            key="scheduler.cluster",
            check=text,
            flag={"metavar": "PROFILE"},
        ),
        default=None,
    )
    jobs: int | None = option(
        Param(
            "int",
            "cluster: batch jobs to keep running (default {default})",
            key="scheduler.jobs",
            check=whole_number(1),
            flag={"type": positive, "metavar": "N"},
        ),
        default=None,
    )
    tls: bool | None = option(
        Param(
            "bool",
            "TLS on every connection of the clusters imgjobs starts (default {default}; local, cluster: temporary "
            "certificates, or the files in imgjobs.tls, see imgjobs certs); a running scheduler's address decides",
            key="scheduler.tls",
            check=boolean,
            flag={"action": argparse.BooleanOptionalAction},
        ),
        default=None,
    )
    performance_report: str | None = option(
        Param(
            "str",
            "write Dask's performance report (distributed schedulers) or task/resource profiles (threads, "
            "processes) to this HTML file",
            flag={"metavar": "HTML"},
        ),
        default=None,
    )

    @classmethod
    def from_kwargs(cls, kwargs: dict, where: str) -> RunOptions:
        """Build from keyword arguments as given (None: not given), refusing any that are not scheduler options."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"{where}() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"scheduler options are {', '.join(sorted(known))}"
            )
        return cls(**{name: kwargs.get(name) for name in known})

    def get(self, name: str):
        """The value of option ``name`` to use: as given, else from ``imgjobs.scheduler.*``, checked."""
        return self.params()[name].resolve(getattr(self, name))

    @property
    def explicit(self) -> bool:
        """True when a scheduler was named (not left to an active client or config)."""
        return any(v is not None for v in (self.scheduler, self.scheduler_address, self.scheduler_file, self.cluster))
