"""Argparse types every command shares: whole numbers in a range, ``auto``, comma-separated lists.

A leaf: option declarations (:mod:`jobs.params`) name these as their flags'
types, and the command line (:mod:`jobs.cli`) uses them for its own flags.
"""

from __future__ import annotations

import argparse

__all__ = [
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
