"""The RLE job's planners: directories in, a :class:`~jobs.runtime.engine.Plan` out.

Nothing here computes, and nothing here writes: a planner matches inputs with
outputs (:mod:`jobs.rle_job.pairs`: one listing of each directory), decides the
task layout (:mod:`jobs.rle_job.layout`), and returns a plan that the runtime
runs, finished by :class:`~jobs.rle_job.finish.RleFinish`.  Cost is linear in
the number of files and small per file: a name and a size on the client, one
graph node per batch.  Headers of small files are read inside the tasks, on
the workers; a large file (a BMP that may hold more pixels than a task should
read, an ``.rle`` that may decode to that many) has its header read here.
``decompress`` and ``verify`` size their work from the bytes an ``.rle`` holds,
never from what its header claims: a claim the file's size cannot describe
fails here, at once (:func:`rle.check_length`).
"""

from __future__ import annotations

import logging
import os

import numpy as np

import rle
from jobs.errors import UsageError
from jobs.images import IMAGE_EXTENSIONS
from jobs.rle_job.blocks import (
    assemble_rle,
    compress_block,
    decompress_block,
    finalize_bmp,
    input_stamp,
    prepare_bmp,
    rle_offsets,
    verify_block,
    verify_finish,
)
from jobs.rle_job.currency import REPLACE
from jobs.rle_job.finish import RleFinish
from jobs.rle_job.layout import Graph, row_bounds, split_large
from jobs.rle_job.options import CompressOptions, DecompressOptions, Sizing, VerifyOptions
from jobs.rle_job.pairs import match_outputs, output_dir
from jobs.rle_job.tasks import compress_batch, decompress_batch, size_mismatch, verify_batch
from jobs.runtime.engine import Plan
from jobs.runtime.listing import Names, list_inputs, stem
from jobs.runtime.report import Outcomes
from jobs.runtime.runners import Mapper, local_map
from jobs.runtime.temporaries import new_token

__all__ = ["output_dir", "plan_compress", "plan_decompress", "plan_verify"]

log = logging.getLogger(__name__)

#: Images whose rows can be read apart (the BMP fast path), so large ones are split into row blocks.
BMP_EXTENSIONS = frozenset({".bmp", ".dib"})


def _probe_or_none(path: str, max_pixels: int):
    try:
        return rle.probe(path, max_pixels=max_pixels)
    except Exception:  # the task reads it again and reports why, by name
        return None


def _read_rle_header(path: str, size: int):
    """``(width, height)`` of a large ``.rle``, checked against its size; FormatError/OSError if bad."""
    with rle.open_regular(path) as f:
        width, height = rle.read_header(f.read(rle.HEADER_SIZE))
    rle.check_length(width, height, size - rle.HEADER_SIZE)
    return width, height


def _failed(outcomes: Outcomes, i: int, path: str, exc: BaseException) -> None:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    outcomes.fail(i, text if path in text else f"{path}: {text}")


# --------------------------------------------------------------------------- compress


def plan_compress(
    src, dst, opts: CompressOptions | None = None, *, parallelism: int = 1, map: Mapper = local_map
) -> Plan:
    """Plan compressing an image file or a directory of images into ``.rle`` files.

    Parameters
    ----------
    src : str or os.PathLike
        An image file, or a directory whose image files (by extension) are compressed.
    dst : str or os.PathLike
        Output ``.rle`` file, or directory (created if missing: the run's work list goes there).
    opts : CompressOptions, optional
        Resolved options (default: from config).
    parallelism : int
        Threads that will run the graph, for the automatic task sizes.
    map : callable, optional
        Where the plan's own small tasks run (:data:`jobs.runtime.runners.Mapper`): which outputs are current.

    Returns
    -------
    jobs.runtime.engine.Plan
    """
    opts = opts or CompressOptions.resolve()
    sizing = Sizing.from_config()
    token = new_token()
    pairs = match_outputs(os.fspath(src), os.fspath(dst), IMAGE_EXTENSIONS, ".rle", opts, token, map)
    g = _graph("compress", token, pairs)
    rows = opts.rows_per_task
    todo = pairs.todo()
    sizes = pairs.sizes[todo]
    maybe = todo[sizes * 8 > sizing.min_pixels] if rows == "auto" else todo if rows != 0 else todo[:0]
    large = []
    for i, (path, out) in zip(maybe.tolist(), pairs.paths(maybe), strict=True):
        if os.path.splitext(path)[1].lower() in BMP_EXTENSIONS:
            info = _probe_or_none(path, opts.max_pixels)
            if info is not None and info.bmp is not None:
                large.append((i, info, out))
    small_bytes = int(sizes.sum()) - sum(int(pairs.sizes[i]) for i, _, _ in large)
    budget, split, _ = split_large(small_bytes, large, lambda x: x[1].pixels, 8, rows, parallelism, sizing)
    batched = np.setdiff1d(todo, [i for i, _, _ in split]) if split else todo
    g.ranges("batch", compress_batch, pairs, batched, parallelism, sizing if rows == "auto" else None, opts, token)
    replace = set(np.flatnonzero(pairs.codes == REPLACE).tolist()) if split else set()
    for i, info, d in split:
        bounds = row_bounds(info.height, info.width, rows, budget)
        stamp = input_stamp(info.path)
        g.blocks(
            "write",
            int(pairs.sizes[i]),
            bounds,
            lambda k, info=info, bounds=bounds: (compress_block, info, bounds[k], bounds[k + 1], opts),
            lambda keys, info=info, d=d, r=i in replace, st=stamp: (
                assemble_rle,
                info,
                d,
                list(keys),
                opts,
                token,
                r,
                st,
            ),
        )
    log.info(
        "compress: %d file(s) in %d task(s), %d settled while planning",
        g.plan.nfiles,
        g.plan.ntasks,
        sum(len(o) for o in pairs.settled),
    )
    return g.plan


def _graph(job: str, token: str, pairs) -> Graph:
    g = Graph(job, token)
    g.plan.settled = pairs.settled
    sweep = bool(pairs.stale) or bool(len(pairs.todo()))  # else only the run's own list is left to remove
    g.plan.finish = RleFinish(job, token, pairs.out_dir, pairs.stale, pairs.records, pairs.work.listed.path, sweep)
    return g


# --------------------------------------------------------------------------- decompress


def _rle_large_bytes(sizing: Sizing) -> int:
    """An ``.rle`` larger than this may decode to more pixels than a task should hold (127 per byte)."""
    return sizing.min_pixels // rle.CHUNK


def plan_decompress(
    src, dst, opts: DecompressOptions | None = None, *, parallelism: int = 1, map: Mapper = local_map
) -> Plan:
    """Plan decompressing an ``.rle`` file or a directory of them into 1-bit BMPs.

    Work is sized from the bytes each file holds: a small file (it cannot
    decode to more than ``min-pixels-per-task`` pixels) joins a batch; a larger
    one has its header read here and checked against its size, and gets row
    blocks only when the checked claim is large.

    Parameters are as for :func:`plan_compress`; outputs are ``<name>.bmp``.
    """
    opts = opts or DecompressOptions.resolve()
    sizing = Sizing.from_config()
    token = new_token()
    pairs = match_outputs(os.fspath(src), os.fspath(dst), {".rle"}, ".bmp", opts, token, map)
    g = _graph("decompress", token, pairs)
    rows = opts.rows_per_task
    cap = _rle_large_bytes(sizing)
    todo = pairs.todo()
    sizes = pairs.sizes[todo]
    maybe = todo[sizes > cap] if rows == "auto" else todo if rows != 0 else todo[:0]
    large, bad = [], []
    for i, (s, d) in zip(maybe.tolist(), pairs.paths(maybe), strict=True):
        try:
            width, height = _read_rle_header(s, int(pairs.sizes[i]))
        except Exception as e:  # this file fails, by name; the rest goes on
            bad.append((i, s, d, e))
            continue
        large.append((i, width, height, s, d))
    if bad:
        o = Outcomes([s for _, s, _, _ in bad], [d for _, _, d, _ in bad], "failed")
        for k, (_, s, _, err) in enumerate(bad):
            _failed(o, k, s, err)
        g.plan.settled.append(o)
    small_bytes = (
        int(sizes.sum()) - sum(int(pairs.sizes[x[0]]) for x in large) - sum(int(pairs.sizes[x[0]]) for x in bad)
    )
    budget, split, _ = split_large(small_bytes, large, lambda x: x[1] * x[2], rle.CHUNK, rows, parallelism, sizing)
    apart = [x[0] for x in split] + [x[0] for x in bad]
    batched = np.setdiff1d(todo, apart) if apart else todo
    g.ranges("batch", decompress_batch, pairs, batched, parallelism, sizing if rows == "auto" else None, opts, token)
    replace = set(np.flatnonzero(pairs.codes == REPLACE).tolist()) if split else set()
    for i, w, h, s, d in split:
        bounds = row_bounds(h, w, rows, budget)
        stamp = input_stamp(s)
        index = g.task("index", prepare_bmp, s, d, bounds, w, h, token)
        g.blocks(
            "write",
            int(pairs.sizes[i]),
            bounds,
            lambda k, s=s, d=d, bounds=bounds, w=w, h=h, index=index: (
                decompress_block,
                s,
                d,
                index,
                k,
                bounds,
                w,
                h,
                token,
            ),
            lambda keys, s=s, d=d, w=w, h=h, r=i in replace, st=stamp: (
                finalize_bmp,
                s,
                d,
                list(keys),
                w,
                h,
                token,
                r,
                st,
                opts.stamps,
            ),
        )
    return g.plan


# --------------------------------------------------------------------------- verify


def plan_verify(orig, rle_src, opts: VerifyOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan comparing images with their ``.rle`` files, pixel by pixel, in bounded memory.

    Parameters
    ----------
    orig : str or os.PathLike
        An image file or a directory of images.
    rle_src : str or os.PathLike
        The matching ``.rle`` file, or a directory holding ``<name>.rle`` for each image.
    opts : VerifyOptions, optional
        The threshold the files were compressed with, if any, and the task layout.
    parallelism : int
        Threads that will run the graph.
    """
    opts = opts or VerifyOptions.resolve()
    sizing = Sizing.from_config()
    orig, rle_src = os.fspath(orig), os.fspath(rle_src)
    token = new_token()
    g = Graph("verify", token)
    g.plan.finish = RleFinish("verify", token)
    settled = g.plan.settled
    if os.path.isdir(orig):
        if not os.path.isdir(rle_src):
            raise UsageError(f"{rle_src} must be a directory of .rle files when {orig} is a directory")
        images = list_inputs(orig, IMAGE_EXTENSIONS)
        rles = list_inputs(rle_src, {".rle"})
        rle_size = dict(zip(rles.names, rles.sizes, strict=True))
        stems = {stem(n) for n in images.names}
        extra = [n for n in rles.names if stem(n) not in stems]
        if extra:
            o = Outcomes(
                Names(rle_src, tuple(extra)),
                Names(rle_src, tuple(extra)),
                "failed",
                f"no original image for it in {orig}",
            )
            settled.append(o)
        if images.others:
            o = Outcomes(Names(orig, tuple(n for n, _ in images.others)), None, "failed")
            for k, (_, why) in enumerate(images.others):
                o.reasons[k] = why
            settled.append(o)
        src_all = Names(orig, tuple(images.names))
        dst_all = Names(rle_src, tuple(images.names), ".rle")
    elif os.path.exists(orig):
        if os.path.isdir(rle_src):
            rle_src = os.path.join(rle_src, os.path.splitext(os.path.basename(orig))[0] + ".rle")
        src_all = Names("", (orig,))
        dst_all = Names("", (rle_src,))
        try:
            rle_size = {os.path.basename(rle_src): os.path.getsize(rle_src)}
        except OSError:
            rle_size = {}
    else:
        raise UsageError(f"{orig}: no such file or directory")
    keep, sizes, missing = [], [], []
    for i in range(len(src_all)):
        size = rle_size.get(os.path.basename(dst_all[i]))
        if size is None:
            missing.append(i)
        else:
            keep.append(i)
            sizes.append(size)
    if missing:
        o = Outcomes(src_all.take(missing), dst_all.take(missing), "failed")
        for k, i in enumerate(missing):
            o.reasons[k] = f"{src_all[i]}: no .rle file {dst_all[i]}"
        settled.append(o)
    src_v, dst_v = src_all.take(keep), dst_all.take(keep)
    rows = opts.rows_per_task
    cap = _rle_large_bytes(sizing)
    small, large, bad, differ = [], [], [], []
    for i, size in enumerate(sizes):
        if rows == 0 or (rows == "auto" and size <= cap):
            small.append(i)
            continue
        try:
            width, height = _read_rle_header(dst_v[i], size)
            info = rle.probe(src_v[i], max_pixels=opts.max_pixels)
        except Exception as e:  # this pair fails, by name; the rest goes on
            bad.append((i, e))
            continue
        if (info.width, info.height) != (width, height):
            differ.append((i, (info.width, info.height), (width, height)))
        else:
            large.append((i, info))
    if bad:
        o = Outcomes(src_v.take(i for i, _ in bad), dst_v.take(i for i, _ in bad), "failed")
        for k, (i, err) in enumerate(bad):
            _failed(o, k, src_v[i], err)
        settled.append(o)
    if differ:
        o = Outcomes(src_v.take(i for i, _, _ in differ), dst_v.take(i for i, _, _ in differ))
        for k, (_, a, b) in enumerate(differ):
            size_mismatch(o, k, a, b)
        settled.append(o)
    small_bytes = sum(sizes[i] for i in small)
    budget, split, rejoin = split_large(small_bytes, large, lambda x: x[1].pixels, rle.CHUNK, rows, parallelism, sizing)
    small = sorted(small + rejoin)
    g.batches("batch", verify_batch, src_v, dst_v, sizes, small, parallelism, sizing if rows == "auto" else None, opts)
    for i, info in split:
        path = dst_v[i]
        bounds = row_bounds(info.height, info.width, rows, budget)
        index = g.task("index", rle_offsets, path, bounds, info.width, info.height)
        g.blocks(
            "compare",
            sizes[i],
            bounds,
            lambda k, info=info, path=path, index=index, bounds=bounds: (
                verify_block,
                info,
                path,
                index,
                k,
                bounds,
                opts,
            ),
            lambda keys, info=info, path=path, index=index, bounds=bounds: (
                verify_finish,
                info,
                path,
                index,
                list(keys),
                bounds,
                opts,
            ),
        )
    return g.plan
