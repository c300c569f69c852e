"""Plain functions that run inside RLE job tasks (no Dask here; see :mod:`jobs.rle_job.graphs`).

Every function takes file names and row ranges, reads what it needs itself,
creates its outputs, and returns small things: run bytes of a block, byte
offsets, mismatch counts, or :class:`~jobs.runtime.report.Outcomes`.  Expected problems
with a file (not an image, truncated, corrupt ``.rle``...) are recorded for that
file, by name, rather than raised, so the rest of a directory completes.
Re-running any of them (Dask retries after a lost worker) gives the same result.

Two kinds of work:

* **batches** of small files (:func:`compress_batch`, :func:`decompress_batch`,
  :func:`verify_batch`): each file is read in one piece, images of one width are
  encoded together in one vectorised pass, and the outputs of the batch are made
  durable together before they are renamed into place;
* **row blocks** of a large file: blocks read or decode only their rows, and a
  last task per file assembles, renames or combines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import rle
from jobs.runtime.files import BatchWriter, Failed, Names, failure, temp_path, write_atomic
from jobs.runtime.report import Outcomes
from rle.bmp import bmp_1bit_header, bmp_1bit_rows, bmp_stride

__all__ = [
    "FileBatch",
    "assemble_rle",
    "compress_batch",
    "compress_block",
    "decompress_batch",
    "decompress_block",
    "finalize_bmp",
    "prepare_bmp",
    "rle_offsets",
    "verify_batch",
    "verify_block",
    "verify_finish",
]

#: What reading, decoding or writing one file may raise: reported for that file, by name, with the
#: reason, and the rest of the job goes on.  A decoder's surprise (``struct.error``, a
#: ``MemoryError``...) is no reason to lose a directory.
EXPECTED = (Exception,)

#: A batch encodes what it has read once this many packed bytes are waiting.
_FLUSH_BYTES = 8 << 20
#: verify lists this many mismatching pixels by position.
_MAX_LISTED = 10


@dataclass(frozen=True)
class FileBatch:
    """The argument of a batch task: inputs, outputs and the input sizes seen while planning.

    Attributes
    ----------
    src : Names
        Input files.
    dst : Names
        Output files (for ``verify``, the ``.rle`` files), index for index.
    sizes : tuple of int
        Input sizes in bytes when planned (``verify``: of the ``.rle`` files).  A
        task never reads more of an ``.rle`` than its planned size: one that grew
        since is refused, never read whole.
    """

    src: Names
    dst: Names
    sizes: tuple

    def __len__(self) -> int:
        return len(self.src)


def _reason(exc: BaseException, path: str) -> str:
    return failure(path, exc)


def _makedirs(directory: str) -> None:
    if directory:
        os.makedirs(directory, exist_ok=True)


def _output_directory(batch: FileBatch, out: Outcomes) -> bool:
    """Create the batch's output directory (a task creates its outputs); if it cannot, every file fails."""
    try:
        _makedirs(batch.dst.directory)
    except OSError as e:
        for i in range(len(batch)):
            out.fail(i, f"{batch.src[i]}: cannot create {batch.dst.directory}: {e.strerror or e}")
        return False
    return True


def _commit(writer: BatchWriter, out: Outcomes, index: dict) -> None:
    """Make a batch's outputs durable and rename them; a rename that fails fails its file."""
    for dst, err in writer.commit().items():
        i = index[dst]
        out.fail(i, f"{out.src[i]}: cannot write {dst}: {err.strerror or err}")
    for dst, (size, mtime) in writer.stamps.items():
        i = index[dst]
        out.out_size[i], out.out_mtime[i] = size, mtime


# --------------------------------------------------------------------------- compress


def compress_batch(batch: FileBatch, opts, token: str) -> Outcomes:
    """Compress a batch of images into ``.rle`` files.

    Each file is read once (:func:`rle.read_packed_image`); images of the same
    width are encoded in one pass (:func:`rle.encode_packed_blocks`), so a small
    image costs little more than opening, reading and writing it.

    Parameters
    ----------
    batch : FileBatch
        Images and their ``.rle`` outputs.
    opts : jobs.rle_job.options.CompressOptions
        Uses ``threshold``.
    token : str
        The run's token, in the name of every temporary.
    """
    out = Outcomes(batch.src, batch.dst)
    writer = BatchWriter(token)
    index = {}
    pending: list = []  # (i, packed, width, row_bits)
    waiting = 0

    def flush():
        groups: dict = {}
        for item in pending:
            groups.setdefault((item[2], item[1].shape[1]), []).append(item)
        for (width, row_bytes), items in groups.items():
            heights = [p.shape[0] for _, p, _, _ in items]
            stacked = items[0][1] if len(items) == 1 else np.concatenate([p for _, p, _, _ in items])
            runs = rle.encode_packed_blocks(stacked, width, heights, 8 * row_bytes)
            for (i, _p, _w, _rb), r, h in zip(items, runs, heights, strict=True):
                dst = batch.dst[i]
                try:
                    n = writer.add(dst, rle.header(width, h) + r)
                except OSError as e:
                    out.fail(i, f"{batch.src[i]}: cannot write {dst}: {e.strerror or e}")
                    continue
                index[dst] = i
                out.set(i, "ok", pixels=width * h, bytes_in=batch.sizes[i], bytes_out=n)
        pending.clear()

    if not _output_directory(batch, out):
        return out
    try:
        for i in range(len(batch)):
            src = batch.src[i]
            try:
                packed, width, _row_bits = rle.read_packed_image(src, opts.threshold, max_pixels=opts.max_pixels)
            except EXPECTED as e:
                out.fail(i, _reason(e, src))
                continue
            pending.append((i, packed, width, 8 * packed.shape[1]))
            waiting += packed.nbytes
            if waiting >= _FLUSH_BYTES:
                flush()
                waiting = 0
        flush()
        _commit(writer, out, index)
    except BaseException:
        writer.discard()
        raise
    return out


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
        return Failed(_reason(e, info.path))
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


def assemble_rle(info: rle.ImageInfo, dst: str, blocks: list, opts, token: str) -> Outcomes:
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
    """
    out = Outcomes([info.path], [dst])
    failed = next((b for b in blocks if isinstance(b, Failed)), None)
    if failed is not None:
        out.fail(0, failed.reason)
        return out
    try:
        if not blocks or any(b is None for b in blocks):
            blocks = [_whole_runs(info, opts)]
        _makedirs(os.path.dirname(dst))
        size = write_atomic(dst, [rle.header(info.width, info.height), *blocks], token)
        bytes_in = os.path.getsize(info.path)
    except EXPECTED as e:
        out.fail(0, _reason(e, info.path))
        return out
    out.set(0, "ok", pixels=info.pixels, bytes_in=bytes_in, bytes_out=size)
    return out


# --------------------------------------------------------------------------- decompress


def _read_small_rle(path: str, planned: int) -> bytes:
    """A small ``.rle`` file's bytes, never more than the ``planned`` size it was listed with."""
    with open(path, "rb") as f:
        data = f.read(planned + 1)
    if len(data) > planned:
        raise rle.FormatError(f"{path}: grew past its {planned} bytes after the job was planned; run the job again")
    return data


def decompress_batch(batch: FileBatch, token: str) -> Outcomes:
    """Decompress a batch of small ``.rle`` files into 1-bit BMPs.

    Each file is read whole (no more than its planned size) and validated by
    :func:`rle.decode` before anything the size of its image is allocated.
    """
    out = Outcomes(batch.src, batch.dst)
    writer = BatchWriter(token)
    index = {}
    if not _output_directory(batch, out):
        return out
    try:
        for i in range(len(batch)):
            src, dst = batch.src[i], batch.dst[i]
            try:
                data = _read_small_rle(src, batch.sizes[i])
                pixels = rle.decode(data)
                h, w = pixels.shape
                n = writer.add(dst, bmp_1bit_header(w, h) + bmp_1bit_rows(pixels))
            except EXPECTED as e:
                out.fail(i, _reason(e, src))
                continue
            index[dst] = i
            out.set(i, "ok", pixels=w * h, bytes_in=len(data), bytes_out=n)
        _commit(writer, out, index)
    except BaseException:
        writer.discard()
        raise
    return out


def rle_offsets(src: str, bounds: list[int], width: int, height: int):
    """Validate a whole ``.rle`` file, streaming it, and return where each row block starts.

    Returns
    -------
    list of int or Failed
        Byte offsets of the rows in ``bounds``.
    """
    try:
        with open(src, "rb") as f:
            if rle.read_header(f.read(rle.HEADER_SIZE)) != (width, height):
                raise rle.FormatError("the header changed after the job was planned; run the job again")
            f.seek(0)
            return rle.row_offsets(f, bounds)
    except EXPECTED as e:
        return Failed(_reason(e, src))


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
        _makedirs(os.path.dirname(dst))
        head = bmp_1bit_header(width, height)
        fd = os.open(temp_path(dst, token), os.O_WRONLY | os.O_CREAT, 0o666)
        try:
            os.pwrite(fd, head, 0)
            os.ftruncate(fd, len(head) + bmp_stride(width) * height)
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
            os.pwrite(fd, rows, len(bmp_1bit_header(width, height)) + bmp_stride(width) * (height - r1))
        finally:
            os.close(fd)
    except EXPECTED as e:
        return Failed(_reason(e, src))
    return r1 - r0


def finalize_bmp(src: str, dst: str, blocks: list, width: int, height: int, token: str) -> Outcomes:
    """Flush the temporary output written by the block tasks and rename it into place."""
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
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:
            # A retry after a worker was lost between the rename and reporting it: the output is complete.
            size = len(bmp_1bit_header(width, height)) + bmp_stride(width) * height
            if not (os.path.exists(dst) and os.path.getsize(dst) == size):
                raise
        else:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dst)
        out.set(0, "ok", pixels=width * height, bytes_in=os.path.getsize(src), bytes_out=os.path.getsize(dst))
    except EXPECTED as e:
        out.fail(0, _reason(e, src))
    return out


# --------------------------------------------------------------------------- verify


def _compare(expected_packed: np.ndarray, decoded: np.ndarray, first_row: int):
    """Mismatching pixels of a block: ``(count, [(row, col), ...])`` (the first few)."""
    width = decoded.shape[1]
    expected = np.unpackbits(expected_packed, axis=1, count=width)
    diff = np.flatnonzero(expected.reshape(-1) != decoded.reshape(-1))
    first = [(first_row + int(p) // width, int(p) % width) for p in diff[:_MAX_LISTED]]
    return int(diff.size), first


def _mismatch(out: Outcomes, i: int, count: int, first: list, pixels: int, bytes_in: int) -> None:
    listed = ", ".join(f"(row {r}, col {c})" for r, c in first)
    out.set(
        i,
        "mismatch",
        f"{count} pixel(s) differ, first at {listed}",
        pixels=pixels,
        bytes_in=bytes_in,
        details={"mismatched_pixels": count, "first": first},
    )


def size_mismatch(out: Outcomes, i: int, image_size, rle_size) -> None:
    """Record that an image and its ``.rle`` differ in size."""
    out.set(
        i,
        "mismatch",
        f"size differs: image is {image_size[0]}x{image_size[1]}, .rle is {rle_size[0]}x{rle_size[1]}",
        details={"mismatched_pixels": None},
    )


def verify_batch(batch: FileBatch, opts) -> Outcomes:
    """Compare a batch of images with their small ``.rle`` files, pixel by pixel.

    The sizes are compared from the headers first, so an image is decoded only
    when it is no larger than its ``.rle`` can describe (memory bounded by the
    ``.rle``'s size, whatever the image claims).
    """
    out = Outcomes(batch.src, batch.dst)
    for i in range(len(batch)):
        image, path = batch.src[i], batch.dst[i]
        try:
            data = _read_small_rle(path, batch.sizes[i])
            width, height = rle.read_header(data)
            info = rle.probe(image, max_pixels=opts.max_pixels)
            if (info.width, info.height) != (width, height):
                size_mismatch(out, i, (info.width, info.height), (width, height))
                continue
            decoded = rle.decode(data)
            packed, _, _ = rle.read_packed_image(image, opts.threshold, max_pixels=opts.max_pixels)
        except EXPECTED as e:
            out.fail(i, _reason(e, image))
            continue
        count, first = _compare(packed, decoded, 0)
        if count:
            _mismatch(out, i, count, first, width * height, len(data))
        else:
            out.set(i, "ok", pixels=width * height, bytes_in=len(data))
    return out


def _decode_block(path: str, offsets, i: int, bounds, width: int) -> np.ndarray:
    r0, r1 = bounds[i], bounds[i + 1]
    with open(path, "rb") as f:
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
        return Failed(_reason(e, info.path))
    return _compare(packed, decoded, r0)


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
                _compare(
                    packed[bounds[i] : bounds[i + 1]], _decode_block(path, offsets, i, bounds, info.width), bounds[i]
                )
                for i in range(len(bounds) - 1)
            ]
        bytes_in = os.path.getsize(path)
    except EXPECTED as e:
        out.fail(0, _reason(e, info.path))
        return out
    count = sum(c for c, _ in blocks)
    if count:
        first = [p for _, f in blocks for p in f][:_MAX_LISTED]
        _mismatch(out, 0, count, first, info.pixels, bytes_in)
    else:
        out.set(0, "ok", pixels=info.pixels, bytes_in=bytes_in)
    return out
