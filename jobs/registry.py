"""The job registry: one :class:`JobSpec` per job, which the API, the CLI and studies loop over.

A job is a subpackage of ``jobs`` (its planner, its tasks, its finishing step,
its options and a ``spec.py`` holding its :class:`JobSpec`) plus one line in
:data:`JOBS`.  From the spec it gets, with no other edit:

- the Python function :func:`jobs.job_function` makes from its declarations
  (the same as ``jobs.run_job(name, *inputs, **options)``), with ``client=``,
  ``compute=False``, ``progress=`` and every scheduler keyword;
- the command ``imgjobs NAME``, its ``--help``, its arguments and the scheduler
  options, exit status and summary;
- the lock of the directory it writes into, progress, the report, abort on
  failure (the runtime, :mod:`jobs.runtime`);
- a throughput study, ``imgjobs study NAME`` and ``jobs.study.sweep(NAME, ...)``,
  when the spec says what a study sweeps (:class:`StudySpec`).

Specs name their functions as ``"module:attribute"`` strings, imported on first
use: building the command line imports no job's planner, and a worker process
imports only the tasks it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobs.errors import UsageError

if TYPE_CHECKING:
    from jobs.params import Param

__all__ = ["JOBS", "JobSpec", "StudySpec", "get", "load", "specs"]

#: Every job, in the order the command lists them: ``"module:NAME"`` of its :class:`JobSpec`.
JOBS = (
    "jobs.rle_job.spec:COMPRESS",
    "jobs.rle_job.spec:DECOMPRESS",
    "jobs.rle_job.spec:VERIFY",
    "jobs.resize_job.spec:RESIZE",
    "jobs.stats_job.spec:STATS",
)


def load(ref: str):
    """The object a ``"package.module:attribute"`` reference names (imported now)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class StudySpec:
    """What a throughput study of a job sweeps and measures.

    Attributes
    ----------
    unit : str
        Throughput unit, e.g. ``"images/s"``.
    knob : str
        The job's keyword for work per task, e.g. ``"batch_size"``.
    knob_label : str
        What a task size counts, for people (``"images per task"``).
    per_task : str
        What "work per task" counts on the task-size figure's axis.
    output : str
        Name of the output a study run writes in its scratch folder.
    amount : str
        ``"module:function"``: ``amount(report) -> float``, the work one run did, in ``unit`` x seconds.
    options : tuple of str
        The job's own keywords a study passes on (those that change the work), with their flags.
    settings : str
        ``"module:function"``: ``settings(options) -> dict``, those options as they apply, for the report.
    arguments : str
        ``"module:function"``: adds the sweep of task sizes (``dest="task_sizes"``) and
        any other study-only flag to ``imgjobs study NAME``; the job's :attr:`options`
        get their flags from their declarations.
    sizes_default : tuple
        Task sizes a study sweeps by default.
    grow : str
        How to give a study more work, for the warning about short runs.
    executors : bool
        The classic exercise's executors can run this job (resize).
    auto : object
        What the job's ``knob`` takes for the task size ``"auto"`` (None: its default sizing).
    """

    unit: str
    knob: str
    knob_label: str
    per_task: str
    output: str
    amount: str
    options: tuple
    settings: str
    arguments: str
    sizes_default: tuple = ("auto",)
    grow: str = "more or larger inputs"
    executors: bool = False
    auto: object = "auto"


@dataclass(frozen=True)
class JobSpec:
    """One job: what it is called, what it takes, how it is planned, shown and studied.

    Every input, option and keyword is a :class:`~jobs.params.Param`, declared
    once: the Python function (:func:`jobs.job_function`), the command's
    arguments (:meth:`add_arguments`) and both their docs are made from them.

    Attributes
    ----------
    name : str
        The command (``imgjobs NAME``), the Python function, the study's job and the report's ``job``.
    help : str
        One line for ``imgjobs --help``.
    description : str
        A paragraph for ``imgjobs NAME --help``.
    examples : tuple of str
        Command lines for ``imgjobs NAME --help``.
    inputs : mapping of str to Param
        Its inputs, in order: positional in Python, and on the command line
        unless their ``flag`` names flags (resize's ``--out``, whose ``flag``
        default is the Python default too).
    options : str
        ``"module:Class"``: its :class:`~jobs.params.Options`, whose
        ``resolve(**keywords)`` fills unset ones from ``dask.config`` and checks them.
    planner : str
        ``"module:function"``: ``planner(*inputs, opts, parallelism=) -> Plan``.
    doc : str
        The Python function's summary line and extended summary (numpydoc).
    returns : str
        Its ``Returns`` entry, after the type line.
    writes : str or None
        ``"module:function"``: ``writes(*inputs) -> str``, the directory it writes
        into (the runtime holds its lock); None for a job that writes nothing.
    keywords : mapping of str to Param
        Keywords besides the options: ``executor`` (the classic exercise's
        executors: :class:`~jobs.runtime.schedulers.ExecutorRunner`) and any
        ``options.resolve`` takes besides its fields (resize's ``exact``).
    precheck : str or None
        ``"module:function"``: ``precheck(*inputs, opts) -> Report or None``, a
        report with nothing run (the output is up to date) before any scheduler starts.
    notes : str
        The Python function's ``Notes`` section, if any.
    claims : str or None
        ``"module:function"``: ``claims(*inputs) -> list of str``, every path the
        job reads or writes (a directory: everything under it too), which nothing
        else a run writes (``--report``) may take; None: its inputs as given.
    study : StudySpec or None
        What a throughput study sweeps; None: the job is not studied.
    """

    name: str
    help: str
    description: str
    examples: tuple
    inputs: Mapping[str, Param]
    options: str
    planner: str
    doc: str
    returns: str = "Per-file outcomes and the summary figures (``compute=False``: the graph)."
    writes: str | None = None
    keywords: Mapping[str, Param] = field(default_factory=dict)
    precheck: str | None = None
    notes: str = ""
    claims: str | None = None
    study: StudySpec | None = field(default=None)

    def claimed(self, *inputs) -> list[str]:
        """The paths a run with ``inputs`` reads or writes (see :attr:`claims`), absolute."""
        import os

        paths = load(self.claims)(*inputs) if self.claims else [v for v in inputs if v is not None]
        return [os.path.abspath(os.fspath(p)) for p in paths]

    def option_names(self) -> tuple:
        """Every job keyword: its options' fields and :attr:`keywords`."""
        return tuple(load(self.options).params()) + tuple(self.keywords)

    def add_arguments(self, parser) -> None:
        """Its inputs, options and keywords as arguments of its command ``parser``."""
        for name, p in self.inputs.items():
            if "flags" in p.flag:
                p.add_to(parser, name)
            else:
                parser.add_argument(name, help=p.help(), **p.flag)
        load(self.options).add_arguments(parser)
        for name, p in self.keywords.items():
            if p.cli:
                p.add_to(parser, name)

    def call(self):
        """The Python function that runs this job: ``call()(*inputs, **keywords)``."""
        from jobs.api import job_function

        return job_function(self.name)


_SPECS: dict | None = None


def specs() -> dict:
    """Name -> :class:`JobSpec` of every job in :data:`JOBS`, in order."""
    global _SPECS
    if _SPECS is None:
        found = {}
        for ref in JOBS:
            spec = load(ref)
            if spec.name in found:
                raise ValueError(f"two jobs are named {spec.name!r} ({ref})")
            found[spec.name] = spec
        _SPECS = found
    return _SPECS


def get(name: str) -> JobSpec:
    """The :class:`JobSpec` of job ``name``; :class:`~jobs.errors.UsageError` naming the jobs there are."""
    try:
        return specs()[name]
    except (KeyError, TypeError):
        raise UsageError(f"no job is named {name!r}: the jobs are {', '.join(specs())}") from None
