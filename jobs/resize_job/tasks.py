"""What the resize job's tasks run: create the empty batch, then fill it a slice at a time (no Dask here).

:func:`create_output` is the first task of a graph: it creates the empty batch
in the work folder (or keeps or reopens the one there).  :func:`fill` loads a
batch of images (:func:`~jobs.resize_job.decode.load_with`) and writes them
straight into their slots of the output (a ``.npy``'s bytes, a zarr store's
chunks, a shard of its own), makes them durable, records the slice done, and
returns only per-image outcomes: the client never gathers pixels.  A failed
image leaves its slot zero.  :func:`load_block` is the same work for a chunk of
:func:`jobs.resize_array`.
"""

from __future__ import annotations

import json
import os
from typing import Literal

import numpy as np

from jobs.errors import StalePlan
from jobs.images import failure
from jobs.resize_job import records, shards, stores
from jobs.resize_job.decode import load_with, read_input
from jobs.resize_job.libraries import pixel_libraries
from jobs.resize_job.paths import out_stamp
from jobs.runtime.durable import flush_file_system, npy_header
from jobs.runtime.report import Outcomes
from jobs.runtime.stamps import MISSING
from jobs.runtime.writeback import RangeWriter
from rle import ImageError

__all__ = ["DIMENSIONS", "create_output", "fill", "load_block", "open_images"]

#: The axes of a batch, as a zarr store names them for xarray (``xarray.open_zarr``); its labels lie along "image".
DIMENSIONS = ("image", "y", "x", "channel")


def open_images(where, mode: Literal["r", "r+"] = "r"):
    """The batch being filled: a memory-mapped ``.npy`` or the zarr group's ``images`` array."""
    if where.zarr:
        import zarr  # optional extra: zarr

        return zarr.open_array(where.target, path="images", mode=mode)
    return np.load(where.target, mmap_mode=mode)


def create_output(where, kept: tuple = ()) -> int:
    """Create the empty batch in the work folder (or keep an unfinished one); return where a ``.npy``'s data starts.

    The first task of a resize graph, run holding the output's lock alone.  It
    first checks the output is as planned (:class:`~jobs.errors.StalePlan` if not:
    a graph computed twice, or after another run wrote there): what is at
    ``out`` has not changed, and a resumed work folder still belongs to the run
    it resumes.  A fresh run then clears what another run left in the work folder
    (only the entries imgjobs writes there).  A ``.npy`` is created at its full
    size, sparse (unwritten slots read as zero); a zarr group gets an ``images``
    array with chunks of ``where.batch`` images, so each task writes whole chunks
    of its own and no two tasks ever write one chunk.  Reopening a finished batch
    (``where.reopen``) records its current slices (``kept``) as done and moves it
    back into the work folder.  ``plan.json`` records what the folder holds and for which run.

    Idempotent within a run: Dask may run it again (its result lived on a worker
    that left) after fill tasks wrote their slices, so once ``plan.json`` names
    this run it never truncates or replaces what is there.  Returns 0 for zarr.
    """
    recorded = records.read_plan(where.plan_file)
    mine = recorded is not None and recorded["token"] == where.token and recorded["identity"] == where.identity
    if not mine:
        if out_stamp(where.out) != where.expect_out:
            raise StalePlan(
                f"{where.out} changed since this job was planned (another run wrote it, or this graph was computed "
                "before): plan the job again"
            )
        if not where.fresh:
            raise StalePlan(f"{where.work} no longer holds the interrupted run this job resumes: plan the job again")
        stores.remove_work(where.work)  # only what imgjobs writes there; anything else: refused, nothing removed
    os.makedirs(where.done_dir, exist_ok=True)
    w, h = where.size
    shape = (where.n, h, w, 3)
    if not mine:
        plan = {"token": where.token, "identity": where.identity, "n": where.n, "size": list(where.size)}
        plan["chunk"] = where.batch if where.chunked else None
        plan["labels"] = where.labels_id
        records.write_small(where.plan_file, json.dumps(plan), where.token)
        if where.reopen:
            for d in kept:
                records.write_done(where.done_dir, where.token, where.identity, d)
    if where.reopen and not os.path.lexists(where.target) and os.path.lexists(where.out):
        problem = stores.batch_problem(where.out, shape, False, where.batch if where.chunked else None)
        if problem or os.path.islink(where.out):
            raise StalePlan(f"{where.out} is not the batch this job planned to reopen ({problem or 'a link'})")
        os.replace(where.out, where.target)  # last: a run killed before this reopens it again
    if where.wds:
        os.makedirs(where.target, exist_ok=True)  # one shard per task, each renamed into place whole
        return 0
    if where.zarr:
        import zarr  # optional extra: zarr

        group = zarr.open_group(where.target, mode="a")
        if "images" in group:
            images = group["images"]
            if not isinstance(images, zarr.Array) or images.shape != shape or images.chunks[0] != where.batch:
                raise StalePlan(f"{where.target}: an array of another shape is already there: plan the job again")
        else:
            group.create_array(
                "images",
                shape=shape,
                chunks=(where.batch, h, w, 3),
                dtype="uint8",
                fill_value=0,
                dimension_names=DIMENSIONS,  # what xarray.open_zarr names the axes
            )
        return 0
    head = npy_header(shape)
    size = len(head) + where.n * h * w * 3
    try:
        fd = os.open(where.target, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            if where.reopen and os.pread(fd, len(head), 0) != head:
                raise StalePlan(f"{where.target}: not the .npy header imgjobs writes: rebuild it with --overwrite")
            if os.fstat(fd).st_size not in (0, size) and not mine:
                os.ftruncate(fd, 0)
            os.pwrite(fd, head, 0)
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
        finally:
            os.close(fd)
    except OSError as e:  # a full disk or a quota: say where
        raise OSError(e.errno, f"cannot create the batch {where.target} ({size:,} bytes): {e.strerror}") from None
    return len(head)


def _load_into(dest: np.ndarray, paths, opts, outcomes, first: int = 0) -> list[str]:
    """Load ``paths`` into ``dest``; return each file's stamp as it was read (:data:`~jobs.runtime.stamps.MISSING`).

    ``first``: the position of ``paths[0]`` in ``outcomes``.
    """
    seen = []
    for i, path in enumerate(paths, start=first):
        stamp = MISSING
        try:
            data, stamp = read_input(path, opts.stamps, opts.storage_options)
            dest[i - first] = load_with(opts, path, data)
        except Exception as e:  # any failure of one image fails that image, by name; the batch goes on
            dest[i - first] = 0
            outcomes.fail(i, failure(path, e))
        seen.append(stamp)
    return seen


def load_block(paths, opts, errors: str = "raise") -> np.ndarray:
    """Load ``paths`` into one (len(paths), H, W, 3) uint8 block: a chunk of :func:`jobs.resize_array`.

    ``errors="raise"`` lets the first failure through (it names the file);
    ``"zero"`` leaves a failed image's slot zero.
    """
    outcomes = Outcomes(paths)
    block = np.zeros((len(paths), opts.size[1], opts.size[0], 3), dtype=np.uint8)
    _load_into(block, paths, opts, outcomes)
    if errors == "raise":
        for problem in outcomes.problems():
            raise ImageError(problem.reason)
    return block


def _record_done(where, start: int, outcomes, seen: list) -> None:
    """Record a durable slice as finished: ``done/<start>-<stop>.json`` with its stamps and failures."""
    record = records.Done.of(start, outcomes, seen, pixel_libraries())
    records.write_done(where.done_dir, where.token, where.identity, record)


def fill(where, offset: int, start: int, paths, opts, labels=None):
    """Load ``paths`` into slots ``start..`` of the batch; make them durable, record them done; return outcomes.

    A shard output's slice is its own tar shard, written through a temporary
    and renamed whole (:func:`jobs.resize_job.shards.write_shard`).  A ``.npy``
    slice is written with ``pwrite`` at its own offset (data at byte ``offset``),
    :data:`PIECE_IMAGES` images at a time as they load, each piece's write-back
    started as it lands (:class:`~jobs.runtime.writeback.RangeWriter`), and
    ``fdatasync``-ed at the end: tasks never overlap, a rerun writes the same bytes,
    and it works on shared file systems where a memory map written from several
    nodes would not be coherent.  A zarr slice is whole chunks of its
    own, flushed with its file system.  Only then is the slice recorded in
    ``done/``, so a resumed run never skips a slice that is not on disk.  A failed
    image leaves its slot zero.  Before it writes, it checks the work folder
    still belongs to its run (:class:`~jobs.errors.StalePlan` if not).

    Parameters
    ----------
    where : jobs.resize_job.target.ResizeTarget
        The batch.
    offset : int
        What :func:`create_output` returned.
    start : int
        Index of the first image.
    paths : sequence of str
        The images.
    opts : jobs.resize_job.options.ResizeOptions
        Size and resize mode.
    labels : list of int, optional
        A shard output's labels for these images (its samples' ``.cls``).

    Returns
    -------
    jobs.runtime.report.Outcomes
    """
    outcomes = Outcomes(paths)
    size = opts.size
    block = np.zeros((len(paths), size[1], size[0], 3), dtype=np.uint8)
    if not (where.wds or where.zarr):
        return _fill_npy(where, offset, start, paths, opts, outcomes, block)
    seen = _load_into(block, paths, opts, outcomes)
    where.check_owner()
    if where.wds:  # a shard of its own, written whole (see jobs.resize_job.shards)
        ok = (outcomes.status != 2).tolist()
        shards.write_shard(where.shard_path(start), start, where.n, block, ok, labels, opts.sample_format, where.token)
        _record_done(where, start, outcomes, seen)
        return outcomes
    open_images(where, "r+")[start : start + len(paths)] = block  # zarr: whole chunks of its own
    flush_file_system(where.target)
    _record_done(where, start, outcomes, seen)
    return outcomes


#: A ``.npy`` slice is loaded and written this many images at a time, each piece's write-back started as it
#: lands (:class:`~jobs.runtime.writeback.RangeWriter`): the disk writes while the next piece decodes.
PIECE_IMAGES = 16


def _fill_npy(where, offset: int, start: int, paths, opts, outcomes, block: np.ndarray):
    """:func:`fill` of a ``.npy`` slice: pieces written as they are loaded, one ``fdatasync`` at the end."""
    image_bytes = opts.size[0] * opts.size[1] * 3
    seen: list = []
    where.check_owner()
    paths = list(paths)  # read from the list before anything is written: a list that fails is its own error
    try:
        with RangeWriter(where.target) as w:
            for a in range(0, len(paths), PIECE_IMAGES):
                b = min(a + PIECE_IMAGES, len(paths))
                seen += _load_into(block[a:b], paths[a:b], opts, outcomes, first=a)
                w.write(block[a:b], offset + (start + a) * image_bytes)
            w.sync()  # only then is the slice recorded done
    except OSError as e:  # a full disk fails the batch: say where
        raise OSError(e.errno, f"cannot write images {start}.. into {where.target}: {e.strerror}") from None
    _record_done(where, start, outcomes, seen)
    return outcomes
