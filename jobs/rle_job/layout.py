"""How an RLE job's work is cut into tasks: batches of small files, row blocks of large ones.

With ``rows_per_task="auto"`` (the default), small files are **batched**, many to
a task, so that a task is far above Dask's ~1 ms overhead: consecutive files
until the batch holds ``batch-bytes`` of input (each file counting
``file-cost-bytes`` extra for opening and writing it), fewer when that is needed
to give every thread ``tasks-per-thread`` tasks.  A **large** file gets one task
per block of rows (about ``target-pixels-per-task`` pixels) plus a task that
assembles, renames or combines.  ``rows_per_task=0`` gives one task per image
and a number N blocks of N rows: the knobs of a throughput study.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np

from jobs.rle_job.currency import REPLACE
from jobs.rle_job.options import Sizing
from jobs.rle_job.pairs import Pairs
from jobs.rle_job.ranges import FileBatch, RangeBatch
from jobs.runtime.engine import Plan

__all__ = ["Graph", "row_bounds", "split_large"]

log = logging.getLogger(__name__)


def row_bounds(height: int, width: int, rows_per_task: int | str, target: int) -> list[int]:
    """Row numbers where blocks start, plus ``height``: ``[0, r1, r2, ..., height]``.

    ``rows_per_task`` is a row count, 0 for one block, or ``"auto"`` for blocks of
    about ``target`` pixels of even height.
    """
    if rows_per_task == "auto":
        nblocks = max(1, math.ceil(height * width / max(1, target)))
        rows = math.ceil(height / nblocks)
    elif int(rows_per_task) <= 0:
        rows = height
    else:
        rows = int(rows_per_task)
    return [*list(range(0, height, rows)), height]


def _budget(total_pixels: int, parallelism: int, sizing: Sizing) -> int:
    """Pixels per row-block task for the automatic layout."""
    want = total_pixels // max(1, sizing.tasks_per_thread * max(1, parallelism))
    return max(sizing.min_pixels, min(sizing.target_pixels, want))


def split_large(small_bytes: int, large: list, pixels, per_byte: int, rows, parallelism, sizing):
    """Size row blocks from the job's pixels; return the budget, the large files to split and those that rejoin
    the batches (their index: the first item of their tuple).

    ``large`` holds tuples whose first item is a file's index and ``pixels(item)``
    its pixels; the small files' ``small_bytes`` count ``per_byte`` pixels a byte
    (8 for a BMP's bits, 127 for an ``.rle``'s runs: what they can hold at most).
    """
    total = sum(pixels(item) for item in large) + per_byte * small_bytes
    budget = _budget(total, parallelism, sizing)
    split, rejoin = [], []
    for item in large:
        if rows == "auto" and pixels(item) <= budget:
            rejoin.append(item[0])
        else:
            split.append(item)
    return budget, split, rejoin


def _batch_bounds(sizes: list, parallelism: int, sizing: Sizing) -> list[int]:
    """Where consecutive batches of small files start, plus the end: ``[0, b1, ..., n]``."""
    if not sizes:
        return [0]
    costs = [s + sizing.file_cost_bytes for s in sizes]
    total = sum(costs)
    want = total // max(1, sizing.tasks_per_thread * max(1, parallelism))
    budget = max(sizing.min_batch_bytes, min(sizing.batch_bytes, want))
    if total > budget * sizing.max_tasks:  # more batches than a graph should hold: larger ones instead
        budget = -(-total // sizing.max_tasks) + max(costs)  # a greedy batch holds more than total / max-tasks
        log.info(
            "batches of %d bytes, so that %d files make at most %d tasks (imgjobs.max-tasks)",
            budget,
            len(sizes),
            sizing.max_tasks,
        )
    bounds, acc = [0], 0
    for i, c in enumerate(costs):
        if acc and acc + c > budget:
            bounds.append(i)
            acc = 0
        acc += c
    bounds.append(len(sizes))
    return bounds


class Graph:
    """Builds a plan's graph: keys per kind of task, progress per key."""

    def __init__(self, job: str, token: str):
        self.plan = Plan(job)
        self.token = token
        self._n = itertools.count()

    def task(self, kind: str, *task, units: int = 0, files: int = 0, output: bool = False):
        key = (f"{self.plan.job}-{kind}-{self.token}", next(self._n))
        self.plan.graph[key] = task
        if units or files:
            self.plan.watch[key] = (units, files)
        if output:
            self.plan.outputs.append(key)
        self.plan.total += units
        self.plan.nfiles += files
        return key

    def batches(self, kind: str, func, src, dst, sizes: list, idx: list, parallelism, sizing, *args):
        """Batch tasks of named files over ``idx`` (indices into ``src``, ``dst`` and ``sizes``), in order."""
        part_sizes = [sizes[i] for i in idx]
        bounds = list(range(len(idx) + 1)) if sizing is None else _batch_bounds(part_sizes, parallelism, sizing)
        for a, b in itertools.pairwise(bounds):
            part = idx[a:b]
            batch = FileBatch(src.take(part), dst.take(part), tuple(part_sizes[a:b]))
            self.task(kind, func, batch, *args, units=sum(part_sizes[a:b]), files=len(part), output=True)
        self.plan.batched_files += len(idx)

    def ranges(self, kind: str, func, pairs: Pairs, idx: np.ndarray, parallelism, sizing, *args):
        """Batch tasks over entries ``idx`` of ``pairs``' work list (sorted), each a range of it and its bits."""
        sizes = pairs.sizes[idx]
        n = len(idx)
        bounds = list(range(n + 1)) if sizing is None else _batch_bounds(sizes.tolist(), parallelism, sizing)
        for a, b in itertools.pairwise(bounds):
            part = idx[a:b]
            first, last = int(part[0]), int(part[-1]) + 1
            do = np.zeros(last - first, dtype=bool)
            do[part - first] = True
            replace = pairs.codes[first:last] == REPLACE
            batch = RangeBatch(
                pairs.work.range(first, last),
                pairs.target,
                np.packbits(do).tobytes(),
                np.packbits(replace).tobytes(),
                int(sizes[a:b].max()),
            )
            self.task(kind, func, batch, *args, units=int(sizes[a:b].sum()), files=b - a, output=True)
        self.plan.batched_files += n

    def blocks(self, kind: str, nbytes: int, bounds: list, make_block, make_last):
        """Row-block tasks of one large file and its last task; the blocks move progress by their share."""
        height = bounds[-1]
        shares = [nbytes * (r1 - r0) // max(1, height) for r0, r1 in itertools.pairwise(bounds)]
        keys = [self.task(f"{kind}-block", *make_block(i), units=u) for i, u in enumerate(shares)]
        return self.task(kind, *make_last(keys), units=nbytes - sum(shares), files=1, output=True)
