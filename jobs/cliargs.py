"""The pieces of the command line every job shares: argparse types, help defaults, common flags.

A job's own arguments live with the job (its ``spec.py``, named in its
:class:`~jobs.registry.JobSpec`); they build on these.
"""

from __future__ import annotations

import argparse

__all__ = [
    "add_scheduler_options",
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


def examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_scheduler_options(p: argparse.ArgumentParser) -> None:
    """The "scheduler" group: every :class:`~jobs.options.RunOptions` field, ``--dry-run`` and ``--no-progress``."""
    from jobs.options import RunOptions

    g = p.add_argument_group("scheduler")
    RunOptions.add_arguments(g)
    g.add_argument(
        "--dry-run", action="store_true", help="cluster: print the job script a worker job would run, and exit"
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--report",
        metavar="FILE.json",
        help="also write the report as JSON: the summary figures and every file's outcome, as Python's "
        "Report.to_dict() (checked before anything runs; written even when files failed)",
    )


def list_of(kind):
    """An argparse type: comma-separated values, each parsed by ``kind``."""

    def parse(text: str) -> list:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return parse
