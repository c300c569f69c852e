"""A job's arguments and flags, built from what the job declares.

A job's command takes its function's inputs as arguments and each keyword of
its function as a flag: the flag's type and metavar from the job's options
(:class:`~jobs.params.Param`), its help from the function's docstring
(:mod:`jobs.cli.helptext`).  Every command shares the scheduler group.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from jobs.cli.helptext import help_text, parameter_docs
from jobs.jobspec import JobSpec
from jobs.options import RunOptions, SchedulerOptions
from jobs.params import Param

__all__ = ["add_flags", "add_job_arguments", "add_scheduler_options"]


def add_flags(parser, params: Mapping[str, Param], docs: Mapping[str, str], names=None) -> None:
    """Add a flag for each of ``params`` (those in ``names``, when given) that has one, its help from ``docs``."""
    for name, p in params.items():
        if not p.cli or (names is not None and name not in names):
            continue
        kw = dict(p.flag)
        flags = kw.pop("flags", [f"--{name.replace('_', '-')}"])
        kw.setdefault("default", None)
        parser.add_argument(*flags, dest=name, help=help_text(docs.get(name, ""), p), **kw)


def add_job_arguments(parser, spec: JobSpec, names=None) -> None:
    """A job's inputs as arguments and its options and keywords as flags (``names``: no inputs, only those flags)."""
    docs = parameter_docs(spec.function)
    if names is None:
        for name, flag in spec.inputs.items():
            kw = dict(flag)
            if "flags" in kw:
                parser.add_argument(*kw.pop("flags"), dest=name, help=help_text(docs.get(name, "")), **kw)
            else:
                parser.add_argument(name, help=help_text(docs.get(name, "")), **kw)
    add_flags(parser, spec.options.params(), docs, names)
    add_flags(parser, spec.keywords, docs, names)


def add_scheduler_options(parser: argparse.ArgumentParser) -> None:
    """The "scheduler" group: every :class:`~jobs.options.RunOptions` field, ``--dry-run`` and ``--no-progress``."""
    g = parser.add_argument_group("scheduler")
    add_flags(g, RunOptions.params(), parameter_docs(SchedulerOptions))
    g.add_argument(
        "--dry-run", action="store_true", help="cluster: print the job script a worker job would run, and exit"
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--report",
        metavar="FILE.json",
        help="also write the report as JSON: the summary figures and every file's outcome, as Python's "
        "Report.to_dict() (checked before anything runs; written even when files failed)",
    )
