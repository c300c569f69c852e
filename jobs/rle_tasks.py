"""Plain functions that run inside RLE job tasks (no Dask here; see :mod:`jobs.rle_graphs`).

Every function takes file names and row ranges, reads what it needs itself, and
returns small things: run bytes of a block, byte offsets, or a
:class:`~jobs.files.FileResult`.  Expected problems with a file (not an image,
truncated, corrupt ``.rle``...) come back as :class:`~jobs.files.Failed` or a
failed result rather than an exception, so the rest of a directory completes.
Re-running any of them (Dask retries after a lost worker) gives the same result.
"""

from __future__ import annotations

import os

import numpy as np

import rle
from rle.bmp import bmp_1bit_header, bmp_1bit_rows

from .files import Failed, FileResult, temp_path, write_atomic

__all__ = [
    "assemble_rle",
    "compress_block",
    "compress_files",
    "decompress_block",
    "decompress_files",
    "finalize_bmp",
    "prepare_bmp",
    "verify_files",
]

#: Exceptions that mean "this file is bad", reported by name instead of raised.
EXPECTED = (rle.ImageError, rle.FormatError, OSError, ValueError)


def _reason(exc: BaseException, path: str) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}"
    return text if path in text else f"{path}: {text}"


# --------------------------------------------------------------------------- compress


def compress_block(info: rle.ImageInfo, r0: int, r1: int, threshold: int | None):
    """Run bytes of rows ``r0..r1`` of an image, read straight from its file.

    Returns
    -------
    bytes or None or Failed
        The runs; None when the rows cannot be converted apart from the rest of
        the image (dithering), so :func:`assemble_rle` converts the whole image;
        :class:`Failed` for a bad file.
    """
    try:
        packed, row_bits = rle.read_packed_rows(info, r0, r1, threshold)
    except rle.NeedsWholeImage:
        return None
    except EXPECTED as e:
        return Failed(_reason(e, info.path))
    return rle.encode_packed_runs(packed, info.width, r1 - r0, row_bits)


def _whole_runs(info: rle.ImageInfo, threshold: int | None) -> bytes:
    try:
        packed, row_bits = rle.read_packed_rows(info, 0, info.height, threshold)
    except rle.NeedsWholeImage:
        packed, width = rle.read_packed(info.path, threshold)
        if (width, packed.shape[0]) != (info.width, info.height):
            raise rle.ImageError(f"{info.path}: the image changed size while the job ran") from None
        row_bits = 8 * packed.shape[1]
    return rle.encode_packed_runs(packed, info.width, info.height, row_bits)


def assemble_rle(info: rle.ImageInfo, dst: str, blocks: list, threshold: int | None, token: str) -> FileResult:
    """Write the ``.rle`` of an image from the runs of its row blocks, atomically.

    Parameters
    ----------
    info : rle.ImageInfo
        The input image.
    dst : str
        Output path.
    blocks : list
        Results of :func:`compress_block` for consecutive row ranges covering the
        image, or an empty list to convert the image here in one piece.
    threshold : int or None
        As for :func:`rle.read_packed`.
    token : str
        Makes the temporary name unique to this run.
    """
    for b in blocks:
        if isinstance(b, Failed):
            return FileResult(info.path, dst, "failed", b.reason)
    try:
        if not blocks or any(b is None for b in blocks):
            blocks = [_whole_runs(info, threshold)]
        size = write_atomic(dst, [rle.header(info.width, info.height), *blocks], token)
        bytes_in = os.path.getsize(info.path)
    except EXPECTED as e:
        return FileResult(info.path, dst, "failed", _reason(e, info.path))
    return FileResult(info.path, dst, "ok", pixels=info.pixels, bytes_in=bytes_in, bytes_out=size)


def compress_files(items: list, threshold: int | None, token: str) -> list[FileResult]:
    """Compress several small images in one task: ``items`` holds ``(info, dst)`` pairs."""
    return [assemble_rle(info, dst, [], threshold, token) for info, dst in items]


# --------------------------------------------------------------------------- decompress


def _bmp_stride(width: int) -> int:
    return ((width + 31) // 32) * 4


def prepare_bmp(src: str, dst: str, bounds: list[int], token: str):
    """Validate an ``.rle`` file, find where each row block starts, and create the output.

    Creates the temporary output file at its full size with the BMP headers, so
    block tasks can write their rows in place.  Idempotent: a rerun keeps rows
    already written.

    Returns
    -------
    list of int or Failed
        Byte offsets in ``src`` of the rows in ``bounds``.
    """
    try:
        with open(src, "rb") as f:
            data = f.read()
        offsets = rle.row_offsets(data, bounds)
        width, height = rle.read_header(data)
        head = bmp_1bit_header(width, height)
        tmp = temp_path(dst, token)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            os.pwrite(fd, head, 0)
            os.ftruncate(fd, len(head) + _bmp_stride(width) * height)
        finally:
            os.close(fd)
    except EXPECTED as e:
        return Failed(_reason(e, src))
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
        with open(src, "rb") as f:
            f.seek(offsets[i])
            runs = f.read(offsets[i + 1] - offsets[i])
        pixels = rle.decode_runs(runs, width, r1 - r0, base=offsets[i], first_row=r0)
        rows = bmp_1bit_rows(pixels)
        fd = os.open(temp_path(dst, token), os.O_WRONLY)
        try:
            os.pwrite(fd, rows, len(bmp_1bit_header(width, height)) + _bmp_stride(width) * (height - r1))
        finally:
            os.close(fd)
    except EXPECTED as e:
        return Failed(_reason(e, src))
    return r1 - r0


def finalize_bmp(src: str, dst: str, blocks: list, width: int, height: int, token: str) -> FileResult:
    """Flush the temporary output written by the block tasks and rename it into place."""
    tmp = temp_path(dst, token)
    failed = next((b for b in blocks if isinstance(b, Failed)), None)
    if failed is not None:
        try:
            os.remove(tmp)
        except OSError:
            pass
        return FileResult(src, dst, "failed", failed.reason)
    try:
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:
            # A retry after a worker was lost between the rename and reporting it: the output is complete.
            size = len(bmp_1bit_header(width, height)) + _bmp_stride(width) * height
            if not (os.path.exists(dst) and os.path.getsize(dst) == size):
                raise
        else:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dst)
        return FileResult(
            src, dst, "ok", pixels=width * height, bytes_in=os.path.getsize(src), bytes_out=os.path.getsize(dst)
        )
    except EXPECTED as e:
        return FileResult(src, dst, "failed", _reason(e, src))


def _decompress_one(src: str, dst: str, token: str) -> FileResult:
    try:
        with open(src, "rb") as f:
            data = f.read()
        pixels = rle.decode(data)
        h, w = pixels.shape
        size = write_atomic(dst, [bmp_1bit_header(w, h), bmp_1bit_rows(pixels)], token)
    except EXPECTED as e:
        return FileResult(src, dst, "failed", _reason(e, src))
    return FileResult(src, dst, "ok", pixels=w * h, bytes_in=len(data), bytes_out=size)


def decompress_files(items: list, token: str) -> list[FileResult]:
    """Decompress several small ``.rle`` files in one task: ``items`` holds ``(src, dst)`` pairs."""
    return [_decompress_one(src, dst, token) for src, dst in items]


# --------------------------------------------------------------------------- verify

_MAX_LISTED = 10


def _verify_one(info: rle.ImageInfo, rle_path: str, threshold: int | None) -> FileResult:
    try:
        with open(rle_path, "rb") as f:
            data = f.read()
        width, height = rle.read_header(data)
        if (width, height) != (info.width, info.height):
            return FileResult(
                info.path,
                rle_path,
                "mismatch",
                f"size differs: image is {info.width}x{info.height}, .rle is {width}x{height}",
                details={"mismatched_pixels": None},
            )
        decoded = rle.decode(data)
        expected = rle.read_pixels(info.path, threshold)
    except EXPECTED as e:
        return FileResult(info.path, rle_path, "failed", _reason(e, info.path))
    diff = np.flatnonzero(decoded.reshape(-1) != expected.reshape(-1))
    if diff.size:
        where = [divmod(int(p), width) for p in diff[:_MAX_LISTED]]
        listed = ", ".join(f"(row {r}, col {c})" for r, c in where)
        return FileResult(
            info.path,
            rle_path,
            "mismatch",
            f"{diff.size} pixel(s) differ, first at {listed}",
            pixels=info.pixels,
            details={"mismatched_pixels": int(diff.size), "first": where},
        )
    return FileResult(info.path, rle_path, "ok", pixels=info.pixels, bytes_in=len(data))


def verify_files(items: list, threshold: int | None) -> list[FileResult]:
    """Compare images with their ``.rle`` files: ``items`` holds ``(info, rle_path)`` pairs."""
    return [_verify_one(info, path, threshold) for info, path in items]
