"""What the RLE job's batch tasks run, and what its block tasks share (no Dask here).

Every function takes file names (and the sizes seen while planning), reads what
it needs itself, creates its outputs, and returns
:class:`~jobs.runtime.report.Outcomes`.  Expected problems with a file (not an
image, truncated, corrupt ``.rle``...) are recorded for that file, by name,
rather than raised, so the rest of a directory completes.  Re-running any of
them (Dask retries after a lost worker) gives the same result.

A **batch** of small files (:func:`compress_batch`, :func:`decompress_batch`,
:func:`verify_batch`): each file is read in one piece, images of one width are
encoded together in one vectorised pass, and the outputs of the batch are made
durable together before they are renamed into place.  Large files are split
into row blocks (:mod:`jobs.rle_job.blocks`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

import rle
from jobs.images import failure
from jobs.rle_job.journal import write_part
from jobs.rle_job.manifest import key, record
from jobs.rle_job.ranges import FileBatch, RangeBatch
from jobs.runtime.durable import AppearedError, BatchWriter
from jobs.runtime.report import STATUSES, Outcomes
from jobs.runtime.stamps import of_content, of_path, stat_stamp_bytes, written_stamp
from rle.bmpwriter import bmp_1bit_header, bmp_1bit_rows

__all__ = [
    "APPEARED",
    "EXPECTED",
    "Failed",
    "FileBatch",
    "compress_batch",
    "decompress_batch",
    "size_mismatch",
    "verify_batch",
]


@dataclass(frozen=True)
class Failed:
    """Returned by a block task instead of raising, so one bad file never stops a job."""

    reason: str


#: What reading, decoding or writing one file may raise: reported for that file, by name, with the
#: reason, and the rest of the job goes on.  A decoder's surprise (``struct.error``, a
#: ``MemoryError``...) is no reason to lose a directory.
EXPECTED = (Exception,)

#: A batch encodes what it has read once this many packed bytes are waiting.
_FLUSH_BYTES = 8 << 20
#: verify lists this many mismatching pixels by position.
MAX_LISTED = 10


def reason_of(exc: BaseException, path: str) -> str:
    """Why ``path`` failed with ``exc``, for people (:func:`jobs.images.failure`)."""
    return failure(path, exc)


def makedirs(directory: str) -> None:
    """Create an output directory (a task creates its outputs), if it is not there."""
    if directory:
        os.makedirs(directory, exist_ok=True)


def _output_directory(batch: FileBatch, out: Outcomes) -> bool:
    """Create the batch's output directory (a task creates its outputs); if it cannot, every file fails."""
    try:
        makedirs(batch.dst.directory)
    except OSError as e:
        for i in range(len(batch)):
            out.fail(i, f"{batch.src[i]}: cannot create {batch.dst.directory}: {e.strerror or e}")
        return False
    return True


#: Why an output that was not there when the job was planned, and is now, was not written.
APPEARED = "appeared after this job was planned and is left as it is (--overwrite replaces it)"


def in_stamp(mode: str, path: str, size: int, mtime_ns: int, data: bytes | None, made_with: bytes = b"") -> bytes:
    """The stamp of an input as its task read it (:mod:`jobs.runtime.stamps`): ``stat`` from the size and time
    of the open file; ``content`` from the bytes decoded (``data``), or, for a file read in pieces, the file's
    bytes now.  ``made_with`` (the settings that shape the output, ``opts.made_with()``) follows a ``|``."""
    if mode != "content":
        stamp = stat_stamp_bytes(size, mtime_ns)
    elif data is not None:
        stamp = of_content(data).encode()
    else:
        stamp = of_path(path, "content").encode()
    return stamp + b"|" + made_with if made_with else stamp


def record_made(out: Outcomes, ins: dict, written: dict, out_dir: str, token: str) -> None:
    """Write the records of the outputs a task made (:func:`jobs.rle_job.journal.write_part`): each one's
    name, its input's name and stamp (``ins``: position -> stamp) and its own status as written (``written``:
    output path -> ``os.stat_result``, :func:`jobs.runtime.stamps.written_stamp`).

    Written after the outputs are durable and in place.  If it cannot be written, the outputs fail: they are
    there, but without a record the next run makes them again.
    """
    ok = np.flatnonzero(out.status == STATUSES.index("ok")).tolist()
    assert out.dst is not None  # a task that writes has outputs
    recs = []
    for i in ok:
        st = written.get(out.dst[i])
        if i not in ins or st is None:
            continue
        name = os.fsencode(os.path.basename(out.dst[i]))
        recs.append((key(name), record(name, os.fsencode(os.path.basename(out.src[i])), ins[i], written_stamp(st))))
    try:
        write_part(out_dir, token, recs)
    except OSError as e:
        for i in ok:
            out.fail(
                i,
                f"{out.src[i]}: {out.dst[i]} was written, but the record of what made it was not "
                f"({e.strerror or e}): the next run makes it again",
            )


def _commit(writer: BatchWriter, out: Outcomes, index: dict) -> None:
    """Make a batch's outputs durable and rename them; a rename that fails fails its file."""
    for dst, err in writer.commit().items():
        i = index[dst]
        if isinstance(err, AppearedError):
            out.fail(i, f"{out.src[i]}: {dst} {APPEARED}")
        else:
            out.fail(i, f"{out.src[i]}: cannot write {dst}: {err.strerror or err}")


def compress_batch(batch: FileBatch | RangeBatch, opts, token: str) -> Outcomes:
    """Compress a batch of images into ``.rle`` files.

    Each file is read once (:func:`rle.read_packed_image`); images of the same
    width are encoded in one pass (:func:`rle.encode_packed_blocks`), so a small
    image costs little more than opening, reading and writing it.

    Parameters
    ----------
    batch : FileBatch or RangeBatch
        Images and their ``.rle`` outputs (a range of the run's work list: read here).
    opts : jobs.rle_job.options.CompressOptions
        Uses ``threshold``.
    token : str
        The run's token, in the name of every temporary.
    """
    if isinstance(batch, RangeBatch):
        batch = batch.load()
    out = Outcomes(batch.src, batch.dst)
    writer = BatchWriter(token)
    index = {}
    ins: dict = {}  # position -> the stamp of what was read
    content = opts.stamps == "content"
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
                    n = writer.add(dst, rle.header(width, h) + r, replace=i in batch.replace)
                except OSError as e:
                    out.fail(i, f"{batch.src[i]}: cannot write {dst}: {e.strerror or e}")
                    continue
                index[dst] = i
                out.set(i, "ok", pixels=width * h, bytes_in=out.bytes_in[i], bytes_out=n)
        pending.clear()

    if not _output_directory(batch, out):
        return out
    try:
        for i in range(len(batch)):
            src = batch.src[i]
            try:
                image = rle.read_packed_file(src, opts.threshold, max_pixels=opts.max_pixels, keep_data=content)
                ins[i] = in_stamp(opts.stamps, src, image.size, image.mtime_ns, image.data, opts.made_with())
            except EXPECTED as e:
                out.fail(i, reason_of(e, src))
                continue
            packed, width = image.packed, image.width
            out.bytes_in[i] = image.size
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
    record_made(out, ins, writer.stamps, batch.dst.directory, token)
    return out


def read_small_rle(path: str, planned: int) -> bytes:
    """A small ``.rle`` file's bytes, never more than the ``planned`` size it was listed with."""
    return read_small_rle_stat(path, planned)[0]


def read_small_rle_stat(path: str, planned: int) -> tuple[bytes, os.stat_result]:
    """:func:`read_small_rle`, and the file's status as it was opened (before reading)."""
    with rle.open_regular(path) as f:
        st = os.fstat(f.fileno())
        data = f.read(planned + 1)
    if len(data) > planned:
        raise rle.FormatError(f"{path}: grew past its {planned} bytes after the job was planned; run the job again")
    return data, st


def decompress_batch(batch: FileBatch | RangeBatch, opts, token: str) -> Outcomes:
    """Decompress a batch of small ``.rle`` files into 1-bit BMPs.

    Each file is read whole (no more than its planned size) and validated by
    :func:`rle.decode` before anything the size of its image is allocated.
    ``opts`` (:class:`~jobs.rle_job.options.DecompressOptions`): uses ``stamps``.
    """
    if isinstance(batch, RangeBatch):
        batch = batch.load()
    out = Outcomes(batch.src, batch.dst)
    writer = BatchWriter(token)
    index = {}
    ins: dict = {}
    if not _output_directory(batch, out):
        return out
    try:
        for i in range(len(batch)):
            src, dst = batch.src[i], batch.dst[i]
            try:
                data, st = read_small_rle_stat(src, batch.sizes[i])
                ins[i] = in_stamp(opts.stamps, src, st.st_size, st.st_mtime_ns, data)
                out.bytes_in[i] = st.st_size
                pixels = rle.decode(data)
                h, w = pixels.shape
                n = writer.add(dst, bmp_1bit_header(w, h) + bmp_1bit_rows(pixels), replace=i in batch.replace)
            except EXPECTED as e:
                out.fail(i, reason_of(e, src))
                continue
            index[dst] = i
            out.set(i, "ok", pixels=w * h, bytes_in=out.bytes_in[i], bytes_out=n)
        _commit(writer, out, index)
    except BaseException:
        writer.discard()
        raise
    record_made(out, ins, writer.stamps, batch.dst.directory, token)
    return out


def compare(expected_packed: np.ndarray, decoded: np.ndarray, first_row: int):
    """Mismatching pixels of a block: ``(count, [(row, col), ...])`` (the first few)."""
    width = decoded.shape[1]
    expected = np.unpackbits(expected_packed, axis=1, count=width)
    diff = np.flatnonzero(expected.reshape(-1) != decoded.reshape(-1))
    first = [(first_row + int(p) // width, int(p) % width) for p in diff[:MAX_LISTED]]
    return int(diff.size), first


def mismatch(out: Outcomes, i: int, count: int, first: list, pixels: int, bytes_in: int) -> None:
    """Record that file ``i`` decodes to other pixels: how many, and where the first few are."""
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
            data = read_small_rle(path, batch.sizes[i])
            width, height = rle.read_header(data)
            info = rle.probe(image, max_pixels=opts.max_pixels)
            if (info.width, info.height) != (width, height):
                size_mismatch(out, i, (info.width, info.height), (width, height))
                continue
            decoded = rle.decode(data)
            packed, _, _ = rle.read_packed_image(image, opts.threshold, max_pixels=opts.max_pixels)
        except EXPECTED as e:
            out.fail(i, reason_of(e, image))
            continue
        count, first = compare(packed, decoded, 0)
        if count:
            mismatch(out, i, count, first, width * height, len(data))
        else:
            out.set(i, "ok", pixels=width * height, bytes_in=len(data))
    return out
