"""The classic exercise's executors, one image per call, for comparison with Dask.

A plain loop, a ``ThreadPoolExecutor`` or a ``ProcessPoolExecutor``, as in the
exercise: :class:`ExecutorRunner` stands where a Dask runner would
(:func:`jobs.runtime.engine.execute` runs a resize plan on it), so the batch,
its sidecar, resume and the report are the same as on Dask.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jobs.errors import UsageError
from jobs.images import failure
from jobs.options import RunOptions
from jobs.params import one_of
from jobs.resize_job import records
from jobs.resize_job.decode import load_with, read_input
from jobs.resize_job.finish import ResizeFinish
from jobs.resize_job.libraries import pixel_libraries
from jobs.resize_job.options import EXECUTORS
from jobs.resize_job.tasks import create_output, open_images
from jobs.runtime.engine import Plan
from jobs.runtime.pools import process_pool
from jobs.runtime.report import Outcomes
from jobs.runtime.stamps import MISSING

__all__ = ["ExecutorRunner", "exercise_runner", "run_executor"]

log = logging.getLogger(__name__)


def _exercise_one(args):
    path, opts = args
    stamp = MISSING
    try:
        data, stamp = read_input(path, opts.stamps, opts.storage_options)
        img = load_with(opts, path, data)
        return img, None, stamp
    except Exception as e:  # one image fails, by name
        return None, failure(path, e), stamp


def run_executor(finish: ResizeFinish, kind: str, workers: int, progress) -> list:
    """Run a resize plan with the exercise's executors instead of Dask; return its outcomes.

    ``serial`` is a plain loop, ``threads`` a ``ThreadPoolExecutor`` and
    ``processes`` a ``ProcessPoolExecutor`` of ``workers``, one image per call as in the
    exercise.  Images are written into the same output as the Dask path, those the
    plan left to do, and recorded as done together at the end (an interrupted
    executor run starts its part over).
    """
    where, opts = finish.where, finish.opts
    if where.wds:
        raise UsageError(
            f"{where.out}: the exercise's executors write a .npy or .zarr batch; shards need the Dask path "
            "(leave out --executor)"
        )
    create_output(where, finish.kept)
    where.check_owner()
    out = open_images(where, "r+")  # .npy: a memory map, one process writes
    index = [i for start, stop in finish.todo for i in range(start, stop)]
    items = [(finish.paths[i], opts) for i in index]
    groups = [Outcomes(finish.paths[start:stop]) for start, stop in finish.todo]
    slot = [(g, i - start) for g, (start, stop) in zip(groups, finish.todo, strict=True) for i in range(start, stop)]
    seen = [""] * len(items)

    def store(k, result):
        img, reason, stamp = result
        seen[k] = stamp
        if reason is None:
            out[index[k]] = img
        else:
            group, i = slot[k]
            group.fail(i, reason)
        progress.update(1, 1)

    if kind == "serial":
        for k, item in enumerate(items):
            store(k, _exercise_one(item))
    else:
        # processes: forked where that is safe, each dying with this process (it holds the output's lock)
        with ThreadPoolExecutor(max_workers=workers) if kind == "threads" else process_pool(workers) as ex:
            for k, result in enumerate(ex.map(_exercise_one, items)):
                store(k, result)
    if where.kind == "npy":
        out.flush()
    k = 0
    for g, (start, stop) in zip(groups, finish.todo, strict=True):
        record = records.Done.of(start, g, seen[k : k + stop - start], pixel_libraries())
        records.write_done(where.done_dir, where.token, where.identity, record)
        k += stop - start
    return groups


class ExecutorRunner:
    """The classic exercise's executors in this process, in place of a Dask scheduler (for comparison).

    ``serial`` is a plain loop, ``threads`` a ``ThreadPoolExecutor`` and ``processes``
    a ``ProcessPoolExecutor`` of ``workers``, one item per call, as in the exercise.
    It runs resize plans only: another job's plan is refused, by name.
    """

    kind = "executor"
    client = None
    dashboard_link = None
    tunnel = None
    ready = None

    def __init__(self, executor: str, workers=None):
        if executor not in EXECUTORS:
            names = f"{', '.join(EXECUTORS[:-1])} or {EXECUTORS[-1]}"
            raise UsageError(f"executor must be {names}, got {executor!r}")
        self.executor = executor
        self.parallelism = int(workers or os.cpu_count() or 1)
        self.description = f"{executor} executor, {self.parallelism} worker(s)"

    def run(self, plan: Plan, progress, profile: str | None = None) -> tuple[list, int]:
        """Run ``plan`` with the executor, one item per call; return the outcomes and the calls made."""
        if profile:
            raise UsageError("--performance-report needs a Dask scheduler, not --executor")
        if not isinstance(plan.finish, ResizeFinish):
            raise UsageError(f"{plan.job} has no executor path: run it on a Dask scheduler")
        return run_executor(plan.finish, self.executor, self.parallelism, progress), plan.nfiles


def exercise_runner(executor: str, client: Any, compute: bool, scheduler: Mapping[str, Any]) -> ExecutorRunner:
    """The :class:`ExecutorRunner` that ``executor=`` asks for, or why it cannot run here.

    The exercise's pools run in this process: with a client, a cluster, a
    scheduler named elsewhere, ``compute=False`` or a performance report, that
    is a :class:`~jobs.errors.UsageError`.
    """
    kind = one_of("executor", executor, EXECUTORS)
    run = RunOptions.from_kwargs(dict(scheduler), "resize")
    if client is not None or (run.explicit and run.scheduler is None):
        raise UsageError("--executor runs the exercise's pools in this process: drop the cluster options")
    if not compute:
        raise UsageError("compute=False builds a Dask graph: it cannot use the exercise's executors")
    if run.performance_report:
        raise UsageError("--performance-report needs a Dask scheduler, not --executor")
    return ExecutorRunner(kind, run.get("workers"))
