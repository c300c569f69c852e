"""Graph builders for the RLE job: directories in, :func:`dask.delayed` graphs out.

Nothing here computes.  A builder reads file headers on the client (a few bytes
each), decides the task layout and returns a :class:`Plan`; the CLI runs it on
the chosen scheduler.  Layout:

* a large image gets one row-block task per block of rows, each reading just
  its rows from the file, and one task that joins the blocks' runs and writes
  the ``.rle`` atomically;
* small images are batched, several per task, so that no task is much cheaper
  than Dask's ~1 ms overhead per task;
* ``decompress`` mirrors that: a task validates an ``.rle`` and finds where each
  row block starts, block tasks decode rows and write them into the output in
  place, and a last task renames the finished file.

Tasks carry file names, row ranges and byte offsets, never pixels.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from dataclasses import dataclass, field

import dask
from dask.base import tokenize

import rle

from . import config, rle_tasks
from .files import FileResult, UsageError, image_files, new_token, remove_stale_temps

__all__ = [
    "IMAGE_EXTENSIONS",
    "Plan",
    "UsageError",
    "plan_compress",
    "plan_decompress",
    "plan_verify",
    "row_bounds",
]

log = logging.getLogger(__name__)

#: Extensions taken as images when a directory is compressed (case-insensitive).
IMAGE_EXTENSIONS = frozenset(
    ".bmp .dib .png .gif .tif .tiff .pbm .pgm .ppm .pnm .pcx .tga .webp .jpg .jpeg .jp2 .ico .im .sgi".split()
)


@dataclass
class Plan:
    """A job ready to run.

    Attributes
    ----------
    job : str
        ``"compress"``, ``"decompress"`` or ``"verify"``.
    outputs : list of dask.delayed.Delayed
        Each computes to a :class:`~jobs.files.FileResult` or a list of them.
    files_per_output : list of int
        How many files each output covers (for progress in files).
    done : list of FileResult
        Files settled while planning: skipped outputs and unreadable inputs.
    ntasks : int
        Tasks in the graph.
    targets : list of str
        Output files the graph writes; :meth:`cleanup` removes temporaries
        that lost workers left for them.
    """

    job: str
    outputs: list = field(default_factory=list)
    files_per_output: list = field(default_factory=list)
    done: list = field(default_factory=list)
    ntasks: int = 0
    targets: list = field(default_factory=list)

    @property
    def nfiles(self) -> int:
        """Files the graph will process (not counting those settled while planning)."""
        return sum(self.files_per_output)

    def cleanup(self) -> int:
        """After the graph ran: remove temporaries of :attr:`targets` that killed task attempts left."""
        return sum(remove_stale_temps(dst) for dst in self.targets)


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


def _parse_rows_per_task(value) -> int | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"rows per task must be 'auto' or a whole number >= 0, got {value!r}") from None
    if n < 0:
        raise UsageError(f"rows per task must be 'auto' or a whole number >= 0, got {n}")
    return n


def _check_threshold(threshold):
    if threshold is not None and not 0 <= int(threshold) <= 255:
        raise UsageError(f"threshold must be 0..255, got {threshold}")
    return None if threshold is None else int(threshold)


def _pairs(src: str, dst: str, inputs, out_ext: str) -> list[tuple[str, str]]:
    """Match inputs with output paths: a directory maps into a directory, a file to a file."""
    if os.path.isdir(src):
        if os.path.exists(dst) and not os.path.isdir(dst):
            raise UsageError(f"{dst} is a file: when the source is a directory the destination must be one")
        os.makedirs(dst, exist_ok=True)
        files = inputs(src)
        pairs = [(f, os.path.join(dst, os.path.splitext(os.path.basename(f))[0] + out_ext)) for f in files]
    elif os.path.isfile(src):
        if os.path.isdir(dst) or dst.endswith(os.sep):
            os.makedirs(dst, exist_ok=True)
            dst = os.path.join(dst, os.path.splitext(os.path.basename(src))[0] + out_ext)
        else:
            parent = os.path.dirname(os.path.abspath(dst))
            if not os.path.isdir(parent):
                raise UsageError(f"cannot write {dst}: directory {parent} does not exist")
        pairs = [(src, dst)]
    else:
        raise UsageError(f"{src}: no such file or directory")
    return pairs


def _budget(total_pixels: int, parallelism: int) -> int:
    """Pixels per task for the automatic layout."""
    target = int(config.get("rle.target-pixels-per-task"))
    low = int(config.get("rle.min-pixels-per-task"))
    per_thread = int(config.get("rle.tasks-per-thread"))
    want = total_pixels // max(1, per_thread * max(1, parallelism))
    return max(low, min(target, want))


def _batches(items: list, sizes: list[int], budget: int) -> list[list]:
    """Group consecutive small items into lists of about ``budget`` pixels each."""
    groups, cur, cur_px = [], [], 0
    for item, px in zip(items, sizes, strict=False):
        if cur and cur_px + px > budget:
            groups.append(cur)
            cur, cur_px = [], 0
        cur.append(item)
        cur_px += px
    if cur:
        groups.append(cur)
    return groups


def _settle_existing(pairs, overwrite: bool, done: list) -> list[tuple[str, str]]:
    todo, seen = [], {}
    for src, dst in pairs:
        if dst in seen:
            done.append(FileResult(src, dst, "failed", f"{src}: output name {dst} is also the output of {seen[dst]}"))
            continue
        seen[dst] = src
        if not overwrite and os.path.exists(dst):
            done.append(FileResult(src, dst, "skipped", "output exists (use --overwrite to replace it)"))
            continue
        remove_stale_temps(dst)
        todo.append((src, dst))
    return todo


def _delayed(func, *args, name: str):
    return dask.delayed(func, pure=True)(*args, dask_key_name=f"{name}-{tokenize(func.__name__, *args)}")


def plan_compress(src, dst, *, rows_per_task=None, threshold=None, overwrite=None, parallelism: int = 1) -> Plan:
    """Plan compressing an image file or a directory of images into ``.rle`` files.

    Parameters
    ----------
    src : str
        An image file, or a directory whose image files (by extension) are compressed.
    dst : str
        Output ``.rle`` file, or directory (created if missing).
    rows_per_task : int or "auto", optional
        Rows per row-block task; 0 for one task per image.  Default from
        ``imgjobs.rle.rows-per-task``.
    threshold : int, optional
        None dithers as Pillow's ``convert('1')``; 0..255 thresholds luminance.
    overwrite : bool, optional
        Replace existing outputs instead of skipping them.
    parallelism : int
        Threads that will run the graph, for the automatic task size.

    Returns
    -------
    Plan
    """
    rows_per_task = _parse_rows_per_task(config.get("rle.rows-per-task", rows_per_task))
    threshold = _check_threshold(config.get("rle.threshold", threshold))
    overwrite = bool(config.get("overwrite", overwrite))
    src, dst = os.fspath(src), os.fspath(dst)
    plan = Plan("compress")
    pairs = _pairs(src, dst, lambda d: image_files(d, IMAGE_EXTENSIONS), ".rle")
    todo = _settle_existing(pairs, overwrite, plan.done)
    plan.targets = [d for _, d in todo]
    infos = []
    for s, d in todo:
        try:
            infos.append((rle.probe(s), d))
        except rle.ImageError as e:
            plan.done.append(FileResult(s, d, "failed", str(e)))
    token = new_token()
    budget = _budget(sum(i.pixels for i, _ in infos), parallelism)
    small = []
    for info, d in infos:
        if rows_per_task == "auto" and info.pixels <= budget:
            small.append((info, d))
            continue
        if rows_per_task == 0 or info.bmp is None:
            bounds = [0, info.height]  # Pillow formats decode whole images anyway
        else:
            bounds = row_bounds(info.height, info.width, rows_per_task, budget)
        if len(bounds) == 2:
            out = _delayed(rle_tasks.assemble_rle, info, d, [], threshold, token, name="rle-compress")
            plan.ntasks += 1
        else:
            blocks = [
                _delayed(rle_tasks.compress_block, info, r0, r1, threshold, name="rle-block")
                for r0, r1 in itertools.pairwise(bounds)
            ]
            out = _delayed(rle_tasks.assemble_rle, info, d, blocks, threshold, token, name="rle-write")
            plan.ntasks += len(blocks) + 1
        plan.outputs.append(out)
        plan.files_per_output.append(1)
    for group in _batches(small, [i.pixels for i, _ in small], budget):
        plan.outputs.append(_delayed(rle_tasks.compress_files, group, threshold, token, name="rle-compress-files"))
        plan.files_per_output.append(len(group))
        plan.ntasks += 1
    log.info("compress: %d file(s) in %d task(s), %d settled while planning", plan.nfiles, plan.ntasks, len(plan.done))
    return plan


def _rle_files(directory: str) -> list[str]:
    return image_files(directory, {".rle"})


def plan_decompress(src, dst, *, rows_per_task=None, overwrite=None, parallelism: int = 1) -> Plan:
    """Plan decompressing an ``.rle`` file or a directory of them into 1-bit BMPs.

    Parameters are as for :func:`plan_compress`; outputs are ``<name>.bmp``.
    """
    rows_per_task = _parse_rows_per_task(config.get("rle.rows-per-task", rows_per_task))
    overwrite = bool(config.get("overwrite", overwrite))
    src, dst = os.fspath(src), os.fspath(dst)
    plan = Plan("decompress")
    todo = _settle_existing(_pairs(src, dst, _rle_files, ".bmp"), overwrite, plan.done)
    plan.targets = [d for _, d in todo]
    sized = []
    for s, d in todo:
        try:
            with open(s, "rb") as f:
                width, height = rle.read_header(f.read(rle.HEADER_SIZE))
            sized.append((s, d, width, height))
        except (OSError, rle.FormatError) as e:
            plan.done.append(FileResult(s, d, "failed", f"{s}: {e.strerror if isinstance(e, OSError) else e}"))
    token = new_token()
    budget = _budget(sum(w * h for _, _, w, h in sized), parallelism)
    small = []
    for s, d, width, height in sized:
        if rows_per_task == "auto" and width * height <= budget:
            small.append(((s, d), width * height))
            continue
        bounds = row_bounds(height, width, rows_per_task, budget)
        offsets = _delayed(rle_tasks.prepare_bmp, s, d, bounds, token, name="rle-index")
        blocks = [
            _delayed(rle_tasks.decompress_block, s, d, offsets, i, bounds, width, height, token, name="rle-decode")
            for i in range(len(bounds) - 1)
        ]
        plan.outputs.append(_delayed(rle_tasks.finalize_bmp, s, d, blocks, width, height, token, name="bmp-write"))
        plan.files_per_output.append(1)
        plan.ntasks += len(blocks) + 2
    items = [it for it, _ in small]
    for group in _batches(items, [px for _, px in small], budget):
        plan.outputs.append(_delayed(rle_tasks.decompress_files, group, token, name="rle-decompress-files"))
        plan.files_per_output.append(len(group))
        plan.ntasks += 1
    return plan


def plan_verify(orig, rle_src, *, threshold=None, parallelism: int = 1) -> Plan:
    """Plan comparing images with their ``.rle`` files, pixel by pixel.

    Parameters
    ----------
    orig : str
        An image file or a directory of images.
    rle_src : str
        The matching ``.rle`` file, or a directory holding ``<name>.rle`` for each image.
    threshold : int, optional
        The threshold the files were compressed with, if any.
    parallelism : int
        Threads that will run the graph.
    """
    threshold = _check_threshold(config.get("rle.threshold", threshold))
    orig, rle_src = os.fspath(orig), os.fspath(rle_src)
    plan = Plan("verify")
    if os.path.isdir(orig):
        if not os.path.isdir(rle_src):
            raise UsageError(f"{rle_src} must be a directory of .rle files when {orig} is a directory")
        images = image_files(orig, IMAGE_EXTENSIONS)
        pairs = [(f, os.path.join(rle_src, os.path.splitext(os.path.basename(f))[0] + ".rle")) for f in images]
        stems = {os.path.splitext(os.path.basename(f))[0] for f in images}
        for extra in _rle_files(rle_src):
            if os.path.splitext(os.path.basename(extra))[0] not in stems:
                plan.done.append(FileResult(extra, extra, "failed", f"{extra}: no original image for it in {orig}"))
    elif os.path.isfile(orig):
        if os.path.isdir(rle_src):
            rle_src = os.path.join(rle_src, os.path.splitext(os.path.basename(orig))[0] + ".rle")
        pairs = [(orig, rle_src)]
    else:
        raise UsageError(f"{orig}: no such file or directory")
    items = []
    for image, path in pairs:
        if not os.path.isfile(path):
            plan.done.append(FileResult(image, path, "failed", f"{image}: no .rle file {path}"))
            continue
        try:
            info = rle.probe(image)
            items.append(((info, path), info.pixels))
        except rle.ImageError as e:
            plan.done.append(FileResult(image, path, "failed", str(e)))
    budget = _budget(sum(px for _, px in items), parallelism)
    for group in _batches([it for it, _ in items], [px for _, px in items], budget):
        plan.outputs.append(_delayed(rle_tasks.verify_files, group, threshold, name="rle-verify"))
        plan.files_per_output.append(len(group))
        plan.ntasks += 1
    return plan
