"""What the RLE job's row-block tasks run: a large file a block of rows at a time (no Dask here).

A large image's blocks read only their rows (:func:`compress_block`), and one
last task joins their runs and writes the ``.rle`` (:func:`assemble_rle`).  A large
``.rle`` is validated a MiB at a time by one task that finds where each block
starts (:func:`prepare_bmp`, :func:`rle_offsets`); block tasks decode their rows and
write them in place (:func:`decompress_block`) or compare them
(:func:`verify_block`), and a last task renames the BMP (:func:`finalize_bmp`) or
adds up the mismatches (:func:`verify_finish`).  A bad file is a
:class:`~jobs.rle_job.tasks.Failed` passed along to its last task, which fails
that file by name.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

import rle
from jobs.rle_job.tasks import (
    APPEARED,
    EXPECTED,
    MAX_LISTED,
    Failed,
    compare,
    in_stamp,
    makedirs,
    mismatch,
    reason_of,
    record_made,
)
from jobs.runtime.durable import AppearedError, preallocate, publish, write_at, write_atomic
from jobs.runtime.report import Outcomes
from jobs.runtime.temporaries import temp_path
from rle.bmp import bmp_stride
from rle.bmpwriter import bmp_1bit_header, bmp_1bit_rows

__all__ = [
    "assemble_rle",
    "compress_block",
    "decompress_block",
    "finalize_bmp",
    "input_stamp",
    "prepare_bmp",
    "rle_offsets",
    "verify_block",
    "verify_finish",
]


def compress_block(info: rle.ImageInfo, r0: int, r1: int, opts):
    """Run bytes of rows ``r0..r1`` of an image, read straight from its file.

    Returns
    -------
    bytes or None or Failed
        The runs; None when the rows cannot be converted apart from the rest of
        the image (dithering), so :func:`assemble_rle` converts the whole image;
        :class:`Failed` for a bad file.
    """
    try:
        packed, row_bits = rle.read_packed_rows(info, r0, r1, opts.threshold)
    except rle.NeedsWholeImage:
        return None
    except EXPECTED as e:
        return Failed(reason_of(e, info.path))
    return rle.encode_packed_runs(packed, info.width, r1 - r0, row_bits)


def _whole_runs(info: rle.ImageInfo, opts) -> bytes:
    try:
        packed, row_bits = rle.read_packed_rows(info, 0, info.height, opts.threshold)
    except rle.NeedsWholeImage:
        packed, width = rle.read_packed(info.path, opts.threshold, max_pixels=opts.max_pixels)
        if (width, packed.shape[0]) != (info.width, info.height):
            raise rle.ImageError(f"{info.path}: the image changed size while the job ran") from None
        row_bits = 8 * packed.shape[1]
    return rle.encode_packed_runs(packed, info.width, info.height, row_bits)


def input_stamp(path: str) -> tuple[int, int] | None:
    """A large input's size and modification time (ns), taken while planning, before any block reads it
    (None when it cannot be read: its tasks say why)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _unchanged(path: str, stamp: tuple[int, int] | None) -> None:
    """Check, after every block read it, that ``path`` is as stamped before."""
    if stamp is None:
        return
    st = os.stat(path)
    if (st.st_size, st.st_mtime_ns) != tuple(stamp):
        raise rle.ImageError(f"{path}: changed while the job read it; run the job again")


def _record(
    out: Outcomes, src: str, dst: str, stamp: tuple[int, int] | None, mode: str, token: str, made_with: bytes = b""
) -> None:
    """Write the record of a large file's output, now in place (none without a stamp of its input)."""
    if stamp is None:
        return
    size, mtime_ns = stamp
    ins = {0: in_stamp(mode, src, size, mtime_ns, None, made_with)}
    record_made(out, ins, {dst: os.lstat(dst)}, os.path.dirname(dst), token)


def assemble_rle(
    info: rle.ImageInfo,
    dst: str,
    blocks: list,
    opts,
    token: str,
    replace: bool = True,
    stamp: tuple[int, int] | None = None,
) -> Outcomes:
    """Write the ``.rle`` of a large image from the runs of its row blocks, atomically.

    Parameters
    ----------
    info : rle.ImageInfo
        The input image.
    dst : str
        Output path.
    blocks : list
        Results of :func:`compress_block` for consecutive row ranges covering the
        image (a None among them: convert the whole image here).
    opts : jobs.rle_job.options.CompressOptions
        Uses ``threshold``.
    token : str
        Makes the temporary name unique to this run.
    replace : bool
        Whether ``dst`` was there when planned: only then is a file there replaced
        (:data:`jobs.rle_job.tasks.APPEARED`).
    stamp : (int, int), optional
        The input's size and modification time before any block read it
        (:func:`input_stamp`): the file fails unless it is the same after, and
        the record of the output keeps it.
    """
    out = Outcomes([info.path], [dst])
    failed = next((b for b in blocks if isinstance(b, Failed)), None)
    if failed is not None:
        out.fail(0, failed.reason)
        return out
    try:
        if not blocks or any(b is None for b in blocks):
            blocks = [_whole_runs(info, opts)]
        _unchanged(info.path, stamp)
        makedirs(os.path.dirname(dst))
        size = write_atomic(dst, [rle.header(info.width, info.height), *blocks], token, replace=replace)
        bytes_in = stamp[0] if stamp is not None else os.path.getsize(info.path)
        out.set(0, "ok", pixels=info.pixels, bytes_in=bytes_in, bytes_out=size)
        _record(out, info.path, dst, stamp, opts.stamps, token, opts.made_with())
    except AppearedError:
        out.fail(0, f"{info.path}: {dst} {APPEARED}")
    except EXPECTED as e:
        out.fail(0, reason_of(e, info.path))
    return out


def rle_offsets(src: str, bounds: list[int], width: int, height: int):
    """Validate a whole ``.rle`` file, streaming it, and return where each row block starts.

    Returns
    -------
    list of int or Failed
        Byte offsets of the rows in ``bounds``.
    """
    try:
        with rle.open_regular(src) as f:
            if rle.read_header(f.read(rle.HEADER_SIZE)) != (width, height):
                raise rle.FormatError("the header changed after the job was planned; run the job again")
            f.seek(0)
            return rle.row_offsets(f, bounds)
    except EXPECTED as e:
        return Failed(reason_of(e, src))


def prepare_bmp(src: str, dst: str, bounds: list[int], width: int, height: int, token: str):
    """Validate an ``.rle`` file, find where each row block starts, and create the output.

    The ``.rle`` is read 1 MiB at a time, so memory stays bounded whatever its
    size.  Creates the temporary output at its full size with the BMP headers,
    so block tasks can write their rows in place.  Idempotent: a rerun keeps
    rows already written.

    Returns
    -------
    list of int or Failed
        Byte offsets in ``src`` of the rows in ``bounds``.
    """
    offsets = rle_offsets(src, bounds, width, height)
    if isinstance(offsets, Failed):
        return offsets
    try:
        makedirs(os.path.dirname(dst))
        head = bmp_1bit_header(width, height)
        preallocate(temp_path(dst, token), len(head) + bmp_stride(width) * height, head)
    except EXPECTED as e:
        return Failed(reason_of(e, src))
    return offsets


def decompress_block(src: str, dst: str, offsets, i: int, bounds: list[int], width: int, height: int, token: str):
    """Decode rows ``bounds[i]..bounds[i+1]`` of ``src`` and write them into the output in place.

    Returns
    -------
    int or Failed
        Rows written.
    """
    if isinstance(offsets, Failed):
        return offsets
    r0, r1 = bounds[i], bounds[i + 1]
    try:
        with rle.open_regular(src) as f:
            f.seek(offsets[i])
            runs = f.read(offsets[i + 1] - offsets[i])
        pixels = rle.decode_runs(runs, width, r1 - r0, base=offsets[i], first_row=r0)
        at = len(bmp_1bit_header(width, height)) + bmp_stride(width) * (height - r1)
        write_at(temp_path(dst, token), bmp_1bit_rows(pixels), at)
    except EXPECTED as e:
        return Failed(reason_of(e, src))
    return r1 - r0


def finalize_bmp(
    src: str,
    dst: str,
    blocks: list,
    width: int,
    height: int,
    token: str,
    replace: bool = True,
    stamp: tuple[int, int] | None = None,
    mode: str = "stat",
) -> Outcomes:
    """Flush the temporary output written by the block tasks and rename it into place (``replace`` and
    ``stamp``: as :func:`assemble_rle`; ``mode``: the kind of stamp recorded, ``imgjobs.stamps``)."""
    out = Outcomes([src], [dst])
    tmp = temp_path(dst, token)
    failed = next((b for b in blocks if isinstance(b, Failed)), None)
    if failed is not None:
        try:
            os.remove(tmp)
        except OSError:
            pass
        out.fail(0, failed.reason)
        return out
    try:
        _unchanged(src, stamp)
        try:
            publish(tmp, dst, replace=replace)
        except FileNotFoundError:
            # A retry after a worker was lost between the rename and reporting it: the output is complete.
            size = len(bmp_1bit_header(width, height)) + bmp_stride(width) * height
            if not (os.path.exists(dst) and os.path.getsize(dst) == size):
                raise
        bytes_in = stamp[0] if stamp is not None else os.path.getsize(src)
        out.set(0, "ok", pixels=width * height, bytes_in=bytes_in, bytes_out=os.path.getsize(dst))
        _record(out, src, dst, stamp, mode, token)
    except AppearedError:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        out.fail(0, f"{src}: {dst} {APPEARED}")
    except EXPECTED as e:
        out.fail(0, reason_of(e, src))
    return out


def _decode_block(path: str, offsets, i: int, bounds, width: int) -> np.ndarray:
    r0, r1 = bounds[i], bounds[i + 1]
    with rle.open_regular(path) as f:
        f.seek(offsets[i])
        runs = f.read(offsets[i + 1] - offsets[i])
    return rle.decode_runs(runs, width, r1 - r0, base=offsets[i], first_row=r0)


def verify_block(info: rle.ImageInfo, path: str, offsets, i: int, bounds: list[int], opts):
    """Compare rows ``bounds[i]..bounds[i+1]`` of an image with the same rows of its ``.rle``.

    Returns
    -------
    (int, list) or None or Failed
        Mismatch count and first positions; None when the image's rows cannot be
        read apart (the last task compares the whole image); :class:`Failed`.
    """
    if isinstance(offsets, Failed):
        return offsets
    r0, r1 = bounds[i], bounds[i + 1]
    try:
        packed, _ = rle.read_packed_rows(info, r0, r1, opts.threshold)
        decoded = _decode_block(path, offsets, i, bounds, info.width)
    except rle.NeedsWholeImage:
        return None
    except EXPECTED as e:
        return Failed(reason_of(e, info.path))
    return compare(packed, decoded, r0)


def verify_finish(info: rle.ImageInfo, path: str, offsets, blocks: list, bounds: list[int], opts) -> Outcomes:
    """Combine the blocks of a large pair; compare the whole image here when its rows cannot be read apart.

    The ``.rle`` is still decoded one row block at a time, so only the image
    (packed, 1 bit per pixel) is held whole.
    """
    out = Outcomes([info.path], [path])
    failed = offsets if isinstance(offsets, Failed) else next((b for b in blocks if isinstance(b, Failed)), None)
    if failed is not None:
        out.fail(0, failed.reason)
        return out
    try:
        if any(b is None for b in blocks):
            packed, _, _ = rle.read_packed_image(info.path, opts.threshold, max_pixels=opts.max_pixels)
            if packed.shape[0] != info.height:
                raise rle.ImageError(f"{info.path}: the image changed size while the job ran")
            blocks = [
                compare(
                    packed[bounds[i] : bounds[i + 1]], _decode_block(path, offsets, i, bounds, info.width), bounds[i]
                )
                for i in range(len(bounds) - 1)
            ]
        bytes_in = os.path.getsize(path)
    except EXPECTED as e:
        out.fail(0, reason_of(e, info.path))
        return out
    count = sum(c for c, _ in blocks)
    if count:
        first = [p for _, f in blocks for p in f][:MAX_LISTED]
        mismatch(out, 0, count, first, info.pixels, bytes_in)
    else:
        out.set(0, "ok", pixels=info.pixels, bytes_in=bytes_in)
    return out
