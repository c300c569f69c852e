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
import math

from jobs.rle_job.options import Sizing
from jobs.rle_job.pairs import Pairs
from jobs.rle_job.tasks import FileBatch
from jobs.runtime.engine import Plan

__all__ = ["Graph", "row_bounds", "split_large"]


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


def split_large(pairs: Pairs, small: list, large: list, pixels, per_byte: int, rows, parallelism, sizing):
    """Size row blocks from the job's pixels; large files that fit one block rejoin the batches.

    ``large`` holds tuples whose first item is a file's index and ``pixels(item)``
    its pixels; a small file counts ``per_byte`` pixels per byte of input (8 for a
    BMP's bits, 127 for an ``.rle``'s runs: what it can hold at most).  Sorts
    ``small`` back into directory order.  Returns the budget and the files to split.
    """
    total = sum(pixels(item) for item in large) + per_byte * sum(pairs.sizes[i] for i in small)
    budget = _budget(total, parallelism, sizing)
    split = []
    for item in large:
        if rows == "auto" and pixels(item) <= budget:
            small.append(item[0])
        else:
            split.append(item)
    small.sort()
    return budget, split


def _batch_bounds(sizes: list, parallelism: int, sizing: Sizing) -> list[int]:
    """Where consecutive batches of small files start, plus the end: ``[0, b1, ..., n]``."""
    if not sizes:
        return [0]
    costs = [s + sizing.file_cost_bytes for s in sizes]
    want = sum(costs) // max(1, sizing.tasks_per_thread * max(1, parallelism))
    budget = max(sizing.min_batch_bytes, min(sizing.batch_bytes, want))
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

    def batches(self, kind: str, func, pairs: Pairs, idx: list, parallelism, sizing, *args):
        """Batch tasks over ``idx`` (indices into ``pairs``), consecutive files together."""
        sizes = [pairs.sizes[i] for i in idx]
        if sizing is None:  # one task per file
            bounds = list(range(len(idx) + 1))
        else:
            bounds = _batch_bounds(sizes, parallelism, sizing)
        for a, b in itertools.pairwise(bounds):
            part = idx[a:b]
            replace = frozenset(k for k, i in enumerate(part) if i in pairs.existed)
            batch = FileBatch(pairs.src.take(part), pairs.dst.take(part), tuple(sizes[a:b]), replace)
            self.task(kind, func, batch, *args, units=sum(sizes[a:b]), files=len(part), output=True)
        self.plan.batched_files += len(idx)

    def blocks(self, kind: str, nbytes: int, bounds: list, make_block, make_last):
        """Row-block tasks of one large file and its last task; the blocks move progress by their share."""
        height = bounds[-1]
        shares = [nbytes * (r1 - r0) // max(1, height) for r0, r1 in itertools.pairwise(bounds)]
        keys = [self.task(f"{kind}-block", *make_block(i), units=u) for i, u in enumerate(shares)]
        return self.task(kind, *make_last(keys), units=nbytes - sum(shares), files=1, output=True)
