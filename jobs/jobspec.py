"""What a job is to the command line and to studies: a :class:`JobSpec`, holding the objects themselves.

A job is a subpackage of ``jobs`` (its options, planner, tasks, finishing step,
its Python function written out in ``api.py``, and a ``spec.py`` holding its
:class:`JobSpec`), plus one line in :data:`jobs.registry.JOBS` (or an entry point
of another package, see :mod:`jobs.registry`).  From the spec it gets, with no
other edit:

- the command ``imgjobs NAME``: its arguments and flags (each keyword of its
  function, the help read from the function's docstring), the scheduler
  options, exit status and summary;
- ``jobs.run_job(NAME, ...)``;
- a throughput study, ``imgjobs study NAME`` and ``jobs.study.sweep(NAME, ...)``,
  when the spec says what a study sweeps (:class:`StudySpec`).

The lock of the directory it writes into, progress, the report, ``compute=False``
and abort on failure come from the runtime, through :func:`jobs.running.run`,
which the job's function calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.params import Options, Param

__all__ = ["JobSpec", "StudySpec"]


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
    amount : callable
        ``amount(report) -> float``: the work one run did, in ``unit`` x seconds.
    options : tuple of str
        The job's own keywords a study passes on (those that change the work), with their flags.
    settings : callable
        ``settings(options) -> dict``: those options as they apply, for the report.
    arguments : callable
        ``arguments(parser)`` adds the sweep of task sizes (``dest="task_sizes"``)
        and any other study-only flag to ``imgjobs study NAME``; the job's
        :attr:`options` get their flags as the job's command has them.
    tables : tuple of callable
        ``table(rows, unit) -> str``: tables of the job's own in a study's report
        (Markdown; "" when the study lacks the runs a table needs).
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
    amount: Callable[[Any], float]
    options: tuple
    settings: Callable[[dict], dict]
    arguments: Callable[[Any], None]
    tables: tuple = ()
    sizes_default: tuple = ("auto",)
    grow: str = "more or larger inputs"
    executors: bool = False
    auto: object = "auto"


@dataclass(frozen=True)
class JobSpec:
    """One job: its name, its function, and what the command line and studies need to know of it.

    Attributes
    ----------
    name : str
        The command (``imgjobs NAME``), the function's name, the study's job and the report's ``job``.
    function : callable
        The job's Python function (written out in its subpackage): inputs first,
        then its options and keywords, ``client``, ``compute``, ``progress`` and
        ``**scheduler``.  The command calls it; its docstring is the help of every
        argument and flag.
    options : type
        Its :class:`~jobs.params.Options`: where each option falls back to in
        ``dask.config``, how it is checked, its flag.
    help : str
        One line for ``imgjobs --help``.
    description : str
        A paragraph for ``imgjobs NAME --help``.
    examples : tuple of str
        Command lines for ``imgjobs NAME --help``.
    inputs : mapping of str to mapping
        Its inputs, in the function's order, each with the keywords of its
        argument (``metavar``; ``flags`` and ``default`` for an input given by a
        flag, as resize's ``--out``).
    keywords : mapping of str to Param
        Flags of the function's keywords that are not options (resize's ``exact``
        and ``executor``).
    claims : callable or None
        ``claims(*inputs) -> list of str``: every path the job reads or writes (a
        directory: everything under it too), which nothing else a run writes
        (``--report``) may take; None: its inputs as given.
    study : StudySpec or None
        What a throughput study sweeps; None: the job is not studied.
    """

    name: str
    function: Callable[..., Any]
    options: type[Options]
    help: str
    description: str
    examples: tuple
    inputs: Mapping[str, Mapping[str, Any]]
    keywords: Mapping[str, Param] = field(default_factory=dict)
    claims: Callable[..., list] | None = None
    study: StudySpec | None = None

    def claimed(self, *inputs) -> list[str]:
        """The paths a run with ``inputs`` reads or writes (see :attr:`claims`), absolute."""
        paths = self.claims(*inputs) if self.claims else [v for v in inputs if v is not None]
        return [os.path.abspath(os.fspath(p)) for p in paths]

    def option_names(self) -> tuple:
        """Every keyword of the job's own: its options' fields and :attr:`keywords`."""
        return (*self.options.params(), *self.keywords)
