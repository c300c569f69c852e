"""The classic exercise's executors, one image per call, for comparison with Dask.

A plain loop, a ``ThreadPoolExecutor`` or a ``ProcessPoolExecutor``, as in the exercise."""

from __future__ import annotations

import logging

from jobs.resize_job import state
from jobs.resize_job import tasks as resize_tasks
from jobs.resize_job.finish import ResizeFinish
from jobs.runtime.files import (
    failure,
)
from jobs.runtime.report import Outcomes

__all__ = ["run_executor"]

log = logging.getLogger(__name__)


def _exercise_one(args):
    from jobs.runtime.stamps import MISSING

    path, opts = args
    stamp = MISSING
    try:
        data, stamp = resize_tasks.read_input(path, opts.stamps)
        img = resize_tasks.load_with(opts, path, data)
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
    from concurrent.futures import ThreadPoolExecutor

    where, opts = finish.where, finish.opts
    if where.wds:
        from jobs.errors import UsageError

        raise UsageError(
            f"{where.out}: the exercise's executors write a .npy or .zarr batch; shards need the Dask path "
            "(leave out --executor)"
        )
    resize_tasks.create_output(where, finish.kept)
    where.check_owner()
    out = resize_tasks.open_images(where, "r+")  # .npy: a memory map, one process writes
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
        from jobs.runtime.pools import process_pool

        # processes: forked where that is safe, each dying with this process (it holds the output's lock)
        with ThreadPoolExecutor(max_workers=workers) if kind == "threads" else process_pool(workers) as ex:
            for k, result in enumerate(ex.map(_exercise_one, items)):
                store(k, result)
    if where.kind == "npy":
        out.flush()
    k = 0
    for g, (start, stop) in zip(groups, finish.todo, strict=True):
        state.write_done(
            where.done_dir,
            where.token,
            where.identity,
            state.Done.of(start, g, seen[k : k + stop - start], resize_tasks.pixel_libraries()),
        )
        k += stop - start
    return groups
