"""The job registry: one :class:`JobSpec` per job, which the API, the CLI and studies loop over.

A job is a subpackage of ``jobs`` (its planner, its tasks, its finishing step,
its options and a ``spec.py`` holding its :class:`JobSpec`) plus one line in
:data:`JOBS`.  From the spec it gets, with no other edit:

- the Python call: ``jobs.run_job(name, *inputs, **options)``
  (:func:`jobs.api.run_job`), with ``client=``, ``compute=False``, ``progress=``
  and every scheduler keyword;
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
from dataclasses import dataclass, field

from jobs.errors import UsageError

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
        The job's own keywords a study passes on (those that change the work).
    settings : str
        ``"module:function"``: ``settings(options) -> dict``, those options as they apply, for the report.
    arguments : str
        ``"module:function"``: adds the job's study arguments (its options and the
        ``task_sizes`` list) to ``imgjobs study NAME``.
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

    Attributes
    ----------
    name : str
        The command (``imgjobs NAME``), the study's job and the report's ``job``.
    help : str
        One line for ``imgjobs --help``.
    description : str
        A paragraph for ``imgjobs NAME --help``.
    examples : tuple of str
        Command lines for ``imgjobs NAME --help``.
    inputs : tuple of str
        The Python names of its positional inputs, in order (the CLI's ``dest`` names too).
    options : str
        ``"module:Class"``: its options, with ``Class.resolve(**keywords)`` filling
        unset ones from ``dask.config`` and checking them.
    planner : str
        ``"module:function"``: ``planner(*inputs, opts, parallelism=) -> Plan``.
    arguments : str
        ``"module:function"``: adds its positional inputs and own flags to its subparser.
    writes : str or None
        ``"module:function"``: ``writes(*inputs) -> str``, the directory it writes
        into (the runtime holds its lock); None for a job that writes nothing.
    function : str or None
        ``"module:function"``: its public Python function when it has one (a
        docstring of its own, extra keywords); None: :func:`jobs.api.run_job`.
    keywords : tuple of str
        Keywords its function takes besides those of ``options.resolve``.
    study : StudySpec or None
        What a throughput study sweeps; None: the job is not studied.
    """

    name: str
    help: str
    description: str
    examples: tuple
    inputs: tuple
    options: str
    planner: str
    arguments: str
    writes: str | None = None
    function: str | None = None
    keywords: tuple = ()
    study: StudySpec | None = field(default=None)

    def option_names(self) -> tuple:
        """Every job keyword: the parameters of ``options.resolve`` and :attr:`keywords`."""
        import inspect

        resolve = load(self.options).resolve
        return tuple(inspect.signature(resolve).parameters) + tuple(self.keywords)

    def call(self):
        """The Python function that runs this job: ``call()(*inputs, **keywords)``."""
        if self.function:
            return load(self.function)
        import functools

        from jobs.api import run_job

        return functools.partial(run_job, self.name)


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
