"""The pieces of the command line every job shares: argparse types, help defaults, common flags.

A job's own arguments live with the job (its ``spec.py``, named in its
:class:`~jobs.registry.JobSpec`); they build on these.
"""

from __future__ import annotations

import argparse
import os

__all__ = [
    "add_max_pixels",
    "add_overwrite",
    "add_scheduler_options",
    "default",
    "examples",
    "list_of",
    "positive",
    "rows",
    "threshold",
    "whole",
]


def whole(low: int, high: int | None = None, *, auto: bool = False):
    """An argparse type: a whole number in low..high (or 'auto' when allowed)."""
    want = f"a whole number {low}..{high}" if high is not None else f"a whole number >= {low}"
    if auto:
        want = f"'auto' or {want}"

    def parse(text: str):
        if auto and text.strip().lower() == "auto":
            return "auto"
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or n < low or (high is not None and n > high):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return n

    return parse


positive = whole(1)
rows = whole(0, auto=True)
threshold = whole(0, 255)


def default(key: str, none: str = "none") -> str:
    """The value ``imgjobs.<key>`` has in the configuration now, for a help text."""
    try:
        from jobs import config

        value = config.get(key)
    except Exception:  # a malformed config file: the run itself reports it (exit 2)
        return none
    return none if value is None else str(value)


def examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_scheduler_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scheduler")
    g.add_argument(
        "--scheduler",
        choices=["auto", "threads", "processes", "local"],
        default=None,
        help=f"where tasks run (default {default('scheduler.kind')}; auto: Dask's threads, or its processes for "
        f"{int(default('scheduler.auto-processes-files', '15000')):,} small files or more)",
    )
    g.add_argument("--scheduler-address", metavar="ADDR", help="connect to a running scheduler, e.g. tcp://node1:8786")
    g.add_argument(
        "--scheduler-file",
        metavar="FILE",
        help="connect to the scheduler that wrote FILE (dask scheduler --scheduler-file FILE)",
    )
    g.add_argument(
        "--workers",
        type=positive,
        metavar="N",
        help=f"threads/processes: pool size; local: worker processes (default {default('scheduler.workers', '')}"
        f"{'' if default('scheduler.workers', '') else f'one per core: {os.cpu_count()}'})",
    )
    g.add_argument(
        "--threads-per-worker",
        type=positive,
        metavar="T",
        help=f"local: threads per worker (default {default('scheduler.threads-per-worker')})",
    )
    g.add_argument(
        "--host", metavar="HOST", help=f"local: interface to listen on (default {default('scheduler.host')})"
    )
    g.add_argument(
        "--dashboard-address",
        metavar="ADDR",
        help=f"local: dashboard address (default {default('scheduler.dashboard-address')}; ':0' picks a free port)",
    )
    g.add_argument(
        "--cluster",
        metavar="PROFILE",
        help="submit workers as batch jobs through dask-jobqueue: a profile under imgjobs.clusters "
        "(pbs, slurm, or your own); the scheduler runs in this process",
    )
    g.add_argument(
        "--jobs",
        type=positive,
        metavar="N",
        help=f"cluster: batch jobs to keep running (default {default('scheduler.jobs')})",
    )
    g.add_argument(
        "--dry-run", action="store_true", help="cluster: print the job script a worker job would run, and exit"
    )
    g.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TLS on every connection: on by default for clusters imgjobs starts (local, --cluster: temporary "
        "certificates, or the files in imgjobs.tls); --no-tls to opt out; a running scheduler's address decides",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--performance-report",
        metavar="HTML",
        help="write Dask's performance report (distributed schedulers) or task/resource profiles (threads, "
        "processes) to this HTML file",
    )


def add_max_pixels(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-pixels",
        type=positive,
        metavar="N",
        help=f"refuse (fail by name) images decoded whole with more pixels than N (default {default('max-pixels')}, "
        "Pillow's decompression-bomb limit); uncompressed BMPs are read by rows and have no such limit",
    )


def list_of(kind):
    """An argparse type: comma-separated values, each parsed by ``kind``."""

    def parse(text: str) -> list:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return parse


def add_overwrite(p: argparse.ArgumentParser, what: str = "existing outputs") -> None:
    """``--overwrite``: replace what a job finds (default: keep it, so a rerun finishes the rest)."""
    p.add_argument("--overwrite", action="store_true", default=None, help=f"replace {what}")
