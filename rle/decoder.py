"""The ``.rle`` decoder: run bytes in, validated before anything is allocated, pixels out (:mod:`rle.codec`).

Run lengths are validated with a cumulative sum in slices (their chunk and row
boundaries, the total the header claims) and pixels filled with ``np.repeat``;
:func:`row_offsets` finds where rows start, streaming a file a MiB at a time.
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from rle.codec import CHUNK, HEADER_SIZE, FormatError, check_length, read_header

__all__ = ["decode", "decode_runs", "row_offsets"]

_SLICE_RUNS = 1 << 16  # run bytes the decoder works on at a time


def _slices(chunks, nruns: int, width: int, height: int, base: int, first_row: int):
    """Check run bytes for ``height`` rows slice by slice; yield ``(part, length, done)``.

    ``chunks`` yields uint8 arrays that together are the ``nruns`` run bytes, in
    order (one array for data in memory, pieces of a file when streaming).
    ``part`` is a slice of a chunk, ``length`` its run lengths (int64) and ``done``
    the pixels before it.  Raises :class:`FormatError` at the first problem, with
    its byte offset (``base`` is the offset of the first run byte in the file) and
    row.  Before anything is read, the stream is known to describe no fewer
    pixels than the header claims can fit in it (:func:`check_length`), so a
    caller may allocate the image.
    """
    npix = width * height
    check_length(width, height, nruns, base=base)
    done = 0
    s0 = 0
    for chunk in chunks:
        for c0 in range(0, chunk.size, _SLICE_RUNS):
            part = chunk[c0 : c0 + _SLICE_RUNS]
            length = (part & 127).astype(np.int64)
            ends = np.cumsum(length)
            ends += done
            starts = ends - length
            inside = int(np.searchsorted(starts, npix, side="left"))  # runs that start in the image
            s = starts[:inside]
            e = ends[:inside] - 1
            zero = length[:inside] == 0
            srow = s // width
            erow = e // width
            bad = zero | (srow != erow) | ((s - srow * width) // CHUNK != (e - erow * width) // CHUNK)
            hits = np.flatnonzero(bad)
            if hits.size:
                i = int(hits[0])
                offset = base + s0 + i
                row = int(srow[i]) + first_row
                col = int(s[i] - srow[i] * width)
                where = f"row {row}, column {col}"
                if zero[i]:
                    raise FormatError(f"zero-length run at byte offset {offset} ({where}): lengths are 1..127")
                if srow[i] != erow[i]:
                    over = int(e[i] + 1 - (srow[i] + 1) * width)
                    raise FormatError(
                        f"row {row}: runs do not add up to the width {width}: the run at byte offset "
                        f"{offset} ({where}, length {int(length[i])}) goes {over} pixel(s) past the row end"
                    )
                boundary = (col // CHUNK + 1) * CHUNK
                raise FormatError(
                    f"run at byte offset {offset} ({where}, length {int(length[i])}) crosses the "
                    f"127-pixel chunk boundary at column {boundary}"
                )
            if inside < part.size:
                raise FormatError(
                    f"{nruns - s0 - inside} trailing byte(s) after the last row, from byte offset {base + s0 + inside}"
                )
            yield part, length, done
            done = int(ends[-1])
            s0 += part.size
    if s0 != nruns:
        raise FormatError(f"truncated: expected {nruns} run bytes, the data ended after {s0} (byte offset {base + s0})")
    if done < npix:
        row, col = divmod(done, width)
        raise FormatError(
            f"truncated: the runs describe {done} of the {npix} pixels of a {width}x{height} "
            f"image (data ends at row {row + first_row}, column {col}, byte offset {base + nruns})"
        )


def decode_runs(runs, width: int, height: int, *, base: int = HEADER_SIZE, first_row: int = 0, out=None):
    """Decode the run bytes of ``height`` rows of ``width`` pixels.

    Parameters
    ----------
    runs : bytes-like
        Run bytes only (no header), exactly those of these rows.
    width, height : int
        Size of the block.
    base, first_row : int, optional
        Byte offset of ``runs[0]`` in its file and row number of the first row,
        used only to say where an error is.
    out : numpy.ndarray, optional
        A C-contiguous (height, width) uint8 array to decode into.

    Returns
    -------
    numpy.ndarray
        (height, width) uint8, 1 = white, 0 = black.

    Raises
    ------
    FormatError
        If the runs are not exactly a valid encoding of such a block.
    """
    arr = np.frombuffer(runs, dtype=np.uint8)
    if out is not None and (out.shape != (height, width) or out.dtype != np.uint8 or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous ({height}, {width}) uint8 array, got {out.shape} {out.dtype}")
    if height == 0:
        if arr.size:
            raise FormatError(f"{arr.size} trailing byte(s) from byte offset {base}")
        return np.zeros((0, width), dtype=np.uint8) if out is None else out
    checked = _slices([arr], arr.size, width, height, base, first_row)
    first = next(checked)  # the header's claim fits the data: now allocating is safe
    result = np.empty((height, width), dtype=np.uint8) if out is None else out
    flat = result.reshape(-1)
    for part, length, done in itertools.chain([first], checked):
        flat[done : done + int(length.sum())] = np.repeat(part >> 7, length)
    return result


def decode(data, out=None) -> np.ndarray:
    """Decode a whole ``.rle`` stream.

    Parameters
    ----------
    data : bytes-like
        Header and runs.
    out : numpy.ndarray, optional
        A (height, width) uint8 array to decode into.

    Returns
    -------
    numpy.ndarray
        (height, width) uint8 pixels, 1 = white, 0 = black.

    Raises
    ------
    FormatError
        For a short header, a zero-length run, a run crossing a chunk, a row whose
        runs do not add up to the width, or missing or trailing bytes.  Nothing
        larger than the data can describe is ever allocated.

    Examples
    --------
    >>> decode(bytes.fromhex('030001008201'))
    array([[1, 1, 0]], dtype=uint8)
    """
    mv = memoryview(data).cast("B") if not isinstance(data, (bytes, bytearray)) else data
    width, height = read_header(mv)
    return decode_runs(mv[HEADER_SIZE:], width, height, out=out)


#: Bytes :func:`row_offsets` reads from a file at a time.
_SCAN_BYTES = 1 << 20


def _file_chunks(f, nruns: int):
    """The next ``nruns`` bytes of a binary file, as uint8 arrays of at most 1 MiB, one buffer reused."""
    buf = np.empty(min(nruns, _SCAN_BYTES), dtype=np.uint8)
    left = nruns
    while left > 0:
        view = buf[: min(left, buf.size)]
        n = f.readinto(memoryview(view))  # type: ignore[arg-type]  # numpy arrays are buffers
        if not n:
            return  # the file is shorter than it was: _slices reports the truncation
        left -= n
        yield view[:n]


def row_offsets(source, rows) -> list[int]:
    """Byte offsets in an ``.rle`` stream at which the given rows start.

    The whole stream is validated first, so every offset is trustworthy.

    Parameters
    ----------
    source : bytes-like or binary file
        Header and runs, in memory or as a file opened for reading at its start.
        A file is read 1 MiB at a time, so memory stays bounded whatever its
        size, and its length is checked against the header's claim before the
        first run is read (:func:`check_length`).
    rows : sequence of int
        Row numbers in 0..height (``height`` gives the end of the data).

    Returns
    -------
    list of int
        One offset per row, counted from the start of the stream.
    """
    if hasattr(source, "readinto"):
        total = os.fstat(source.fileno()).st_size - source.tell()
        width, height = read_header(source.read(HEADER_SIZE))
        nruns = total - HEADER_SIZE
        chunks = _file_chunks(source, nruns)
    else:
        width, height = read_header(source)
        arr = np.frombuffer(source, dtype=np.uint8, offset=HEADER_SIZE)
        nruns = arr.size
        chunks = [arr]
    for r in rows:
        if not 0 <= r <= height:
            raise ValueError(f"row {r} is outside 0..{height}")
    wanted = np.asarray(rows, dtype=np.int64) * width  # pixel where each row starts
    found = np.full(wanted.size, -1, dtype=np.int64)
    s0 = 0
    for part, length, done in _slices(chunks, nruns, width, height, HEADER_SIZE, 0):
        starts = np.cumsum(length) - length + done
        here = (wanted >= done) & (wanted < done + int(length.sum()))
        found[here] = HEADER_SIZE + s0 + np.searchsorted(starts, wanted[here])
        s0 += part.size
    found[wanted == width * height] = HEADER_SIZE + nruns
    return [int(x) for x in found]
