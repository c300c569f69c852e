"""The Python API: ``compress``, ``decompress``, ``verify`` and ``resize``, each one call.

Each function is made from its job's spec (:func:`jobs.job_function`): it takes the
command line's options as keyword arguments (None falls back to ``imgjobs.*``
in ``dask.config``), plans the job, runs it and returns a
:class:`~jobs.runtime.report.Report`.  Every job, these four and any other in
the registry, runs through :func:`run_job`.  Where it runs, in this order:

1. on ``client=``, a ``distributed.Client`` you opened;
2. on the scheduler named by ``scheduler=``, ``scheduler_address=``,
   ``scheduler_file=`` or ``cluster=``;
3. on the active ``distributed.Client`` (the one ``Client()`` made current);
4. on the configured scheduler (``imgjobs.scheduler.*``; by default ``auto``: Dask's
   threads, or its processes for ``imgjobs.scheduler.auto-processes-files`` small
   files or more).

With ``compute=False`` nothing runs: you get one :class:`dask.delayed.Delayed`
whose last task finalizes and returns the report, to compute when and where you
like (as :func:`dask.bag.to_textfiles` does).

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")
>>> report.counts, report.exit_code
({'ok': 3}, 0)
>>> batch = jobs.resize("train.txt", "batch.npy", size="64x64").array
>>> batch.shape, batch.dtype
((4, 64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import functools
import inspect
import logging
import os

from jobs.errors import UsageError
from jobs.options import RunOptions
from jobs.params import Param
from jobs.runtime.engine import run as run_plan
from jobs.runtime.engine import to_delayed
from jobs.runtime.files import check_writable_file

__all__ = ["compress", "decompress", "job_function", "resize", "run_job", "verify"]

log = logging.getLogger(__name__)

#: The keywords of every job's function besides its own options and the scheduler's (Python only).
CALL = {
    "client": Param("distributed.Client", "Compute on this client's cluster (it is left open)."),
    "compute": Param(
        "bool",
        "True (default): run now and return the report.  False: return a dask.delayed.Delayed whose last task "
        "finalizes and returns the report; nothing runs until it is computed.",
    ),
    "progress": Param(
        "bool or jobs.runtime.progress.Progress",
        "Draw a progress bar (default: on a terminal or in Jupyter, when {progress} is true).",
    ),
}


def _progress(progress):
    from jobs.runtime.progress import Progress

    if progress is None:
        return Progress()
    if isinstance(progress, bool):  # False: silent (no bar, no dashboard note); True: both
        return Progress(progress, dashboard=progress)
    return progress


def _parallelism(client, run: RunOptions) -> int:
    """Threads a graph built for later will probably get (task sizes only)."""
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return run.get("workers") or os.cpu_count() or 1


def _check_client(client) -> None:
    """A closed or foreign ``client=`` is a clear error, not a traceback from deep in distributed."""
    if client is None:
        return
    status = getattr(client, "status", None)
    if status is None or not hasattr(client, "nthreads"):
        raise UsageError(f"client must be a distributed.Client, got {type(client).__name__}")
    if status != "running":
        raise UsageError(f"the client {client!r} is {status}: open a new distributed.Client (or pass none)")


def _run(plan, client, compute: bool, progress, run: RunOptions, lock_dir):
    """Plan and run through the runtime's one guarded path (:func:`jobs.runtime.engine.run`), or build the graph."""
    from jobs.runtime.schedulers import runner_for

    if run.performance_report:
        check_writable_file(run.performance_report, "the performance report")
    if not compute:
        return to_delayed(plan(_parallelism(client, run)))
    with runner_for(client, run) as runner:
        return run_plan(plan, lock_dir, runner, _progress(progress), performance_report=run.performance_report)


def run_job(name: str, *inputs, client=None, compute=True, progress=None, **keywords):
    """Run the job ``name`` of the registry (:mod:`jobs.registry`) on ``inputs``: the one path of every job.

    ``compress``, ``decompress``, ``verify`` and ``resize`` are this call with
    their signature and docstring made from their spec (:func:`jobs.job_function`);
    the command ``imgjobs NAME`` calls it too.

    Parameters
    ----------
    name : str
        The job (``jobs.registry.specs()`` lists them).
    *inputs
        Its inputs, as its spec names them (e.g. ``src, dst``).
    client, compute, progress
        As for every job function (e.g. :func:`jobs.compress`).
    **keywords
        Its options (None or absent: ``imgjobs.*`` from config), its keywords and
        the scheduler options (:class:`~jobs.options.RunOptions`).

    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed

    Raises
    ------
    UsageError
        For an unknown job, bad inputs or bad options.
    """
    from jobs import registry

    spec = registry.get(name)
    if len(inputs) != len(spec.inputs):
        raise TypeError(f"{name}() takes {len(spec.inputs)} input(s) ({', '.join(spec.inputs)}), got {len(inputs)}")
    names = spec.option_names()
    unknown = sorted(set(keywords) - set(names) - set(RunOptions.params()))
    if unknown:
        raise TypeError(
            f"{name}() got unexpected keyword argument(s) {', '.join(unknown)}; its options are "
            f"{', '.join(names)}, and the scheduler's {', '.join(RunOptions.params())}"
        )
    options = {k: keywords.pop(k) for k in list(keywords) if k in names}
    executor = spec.keywords["executor"].resolve(options.pop("executor")) if "executor" in options else None
    opts = registry.load(spec.options).resolve(**options)
    run = RunOptions.from_kwargs(keywords, name)
    _check_client(client)
    compute = True if compute is None else compute
    first = inputs[0] if inputs else None
    if isinstance(first, (str, os.PathLike)) and not os.path.lexists(first):
        raise UsageError(f"{os.fspath(first)}: no such file or directory")
    if spec.precheck and compute:  # before a cluster starts for nothing
        done = registry.load(spec.precheck)(*inputs, opts)
        if done is not None:
            log.info("%s", done.up_to_date)
            return done
    planner = registry.load(spec.planner)
    lock_dir = registry.load(spec.writes)(*inputs) if spec.writes else None

    def plan(parallelism):
        return planner(*inputs, opts, parallelism=parallelism)

    if executor is None:
        return _run(plan, client, compute, progress, run, lock_dir)
    if client is not None or (run.explicit and run.scheduler is None):
        raise UsageError("--executor runs the exercise's pools in this process: drop the cluster options")
    if not compute:
        raise UsageError("compute=False builds a Dask graph: it cannot use the exercise's executors")
    if run.performance_report:
        raise UsageError("--performance-report needs a Dask scheduler, not --executor")
    from jobs.runtime.schedulers import ExecutorRunner

    return run_plan(plan, lock_dir, ExecutorRunner(executor, run.get("workers")), _progress(progress))


@functools.cache
def job_function(name: str):
    """The Python function of job ``name``: its signature and docstring made from its spec.

    Its inputs come first (positional), then its options and keywords,
    ``client``, ``compute`` and ``progress``, and the scheduler options, all
    keyword-only with None for "from config".  Calling it is :func:`run_job`.

    >>> import inspect
    >>> list(inspect.signature(job_function("decompress")).parameters)[:4]
    ['src', 'dst', 'rows_per_task', 'overwrite']
    """
    from jobs import registry

    spec = registry.get(name)
    options = registry.load(spec.options)
    P = inspect.Parameter
    params = [
        P(n, P.POSITIONAL_OR_KEYWORD, default=p.flag["default"] if "default" in p.flag else P.empty)
        for n, p in spec.inputs.items()
    ]
    keywords = [*options.params(), *spec.keywords]
    calls = {"client": None, "compute": True, "progress": None}
    params += [P(n, P.KEYWORD_ONLY, default=None) for n in keywords]
    params += [P(n, P.KEYWORD_ONLY, default=d) for n, d in calls.items()]
    params += [P(n, P.KEYWORD_ONLY, default=None) for n in RunOptions.params()]
    signature = inspect.Signature(params)

    def call(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:  # as Python says it for a function written out: with its name
            raise TypeError(f"{name}() {e}") from None
        bound.apply_defaults()
        given = dict(bound.arguments)
        inputs = [given.pop(n) for n in spec.inputs]
        return run_job(name, *inputs, **given)

    call.__name__ = call.__qualname__ = name
    call.__module__ = __name__
    call.__signature__ = signature  # type: ignore[attr-defined]
    call.__doc__ = _docstring(spec, options)
    globals().setdefault(name, call)  # jobs.api.<name>: where pickle (and a reader) finds it
    return call


def _docstring(spec, options) -> str:
    """A job function's numpydoc docstring, from its spec and the declarations of what it takes."""
    inputs = "\n".join(p.docstring(n).replace(", optional", "", 1) for n, p in spec.inputs.items())
    own = "\n".join([options.doc(), *(p.docstring(n) for n, p in spec.keywords.items())])
    other = "\n".join([*(p.docstring(n) for n, p in CALL.items()), RunOptions.doc()])
    parts = [
        spec.doc,
        f"Parameters\n----------\n{inputs}\n{own}",
        f"Other Parameters\n----------------\n{other}",
        "Returns\n-------\njobs.runtime.report.Report or dask.delayed.Delayed\n"
        + "\n".join("    " + line for line in _fill(spec.returns)),
        "Raises\n------\nUsageError\n    For a missing input, an output that cannot be written, or bad options.",
    ]
    if spec.notes:
        parts.append("Notes\n-----\n" + "\n".join(_fill(spec.notes)))
    return "\n\n".join(parts) + "\n"


def _fill(text: str) -> list:
    import textwrap

    return textwrap.wrap(text, 84, break_on_hyphens=False)


# The jobs' Python functions (any other job of the registry: job_function(name), or run_job).
compress = job_function("compress")
decompress = job_function("decompress")
verify = job_function("verify")
resize = job_function("resize")
