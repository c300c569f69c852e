"""Argparse types every command shares: whole numbers in a range, ``auto``, comma-separated lists.

A leaf: option declarations (:mod:`jobs.params`) name these as their flags'
types, and the command line (:mod:`jobs.cli`) uses them for its own flags.
"""

from __future__ import annotations

import argparse
import numbers

__all__ = [
    "JOBS",
    "examples",
    "job_range",
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


#: What ``--jobs`` takes, for messages: the one statement of its forms.
JOBS = (
    "N (keep N batch jobs, N >= 1) or MIN:MAX (between MIN and MAX as the work needs, 1 <= MIN <= MAX; "
    "in Python also (min, max))"
)


def job_range(value) -> tuple[int, int]:
    """An argparse type and a check: the batch jobs a cluster keeps, as ``(least, most)``.

    ``N`` (text or a whole number) is N and N; ``MIN:MAX`` (text, or a pair from
    Python) is MIN to MAX, adaptive.  At least one job always: a run waits for
    its first worker before it sends any work, and has work until it ends.

    >>> job_range("4"), job_range("1:4"), job_range((2, 3))
    ((4, 4), (1, 4), (2, 3))
    """
    if isinstance(value, str):
        parts: list = value.strip().split(":")
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        parts = [value]
    whole: list[int] = []
    for part in parts:
        if isinstance(part, str) and part.strip().isdigit():
            part = int(part)
        if isinstance(part, numbers.Integral) and not isinstance(part, bool):
            whole.append(int(part))
    if len(parts) not in (1, 2) or len(whole) != len(parts) or min(whole) < 1 or whole[0] > whole[-1]:
        raise argparse.ArgumentTypeError(f"expected {JOBS}, got {value!r}")
    return whole[0], whole[-1]


def examples(*lines: str) -> str:
    """The ``examples:`` block of a command's ``--help`` epilog."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def list_of(kind):
    """An argparse type: comma-separated values, each parsed by ``kind``."""

    def parse(text: str) -> list:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return parse
