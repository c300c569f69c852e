"""The errors imgjobs raises on purpose, each saying what, where and what to do.

:class:`UsageError` and its subclasses are the caller's to fix (the command exits 2);
:class:`ClusterError` is the batch system's (exit 1).  Per-file failures are not
exceptions: they are outcomes in the :class:`~jobs.runtime.report.Report`.
"""

from __future__ import annotations

__all__ = ["BusyError", "ClusterError", "ConfigError", "StalePlan", "UsageError"]


class UsageError(ValueError):
    """A job was asked for something that cannot be done (bad paths, bad options); the CLI exits 2."""


class BusyError(UsageError):
    """Another imgjobs run is writing into the same output place."""


class StalePlan(UsageError):
    """The output changed between planning a job and running it (a graph computed twice, another run): plan again."""


class ConfigError(UsageError):
    """A configuration value is of the wrong type or out of range (the message names the key and its source)."""


class ClusterError(RuntimeError):
    """The batch system cannot give this run any worker (missing commands, jobs that never start)."""
