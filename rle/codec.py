"""The classic ``.rle`` run-length format for 1-bit images: encoder and decoder.

Format (byte-compatible with the classic case-study tool):

* header: width then height, unsigned 16-bit little-endian (4 bytes), each 1..65535;
* rows top to bottom; each row is cut into chunks of 127 pixels (the last one shorter);
* inside a chunk every run of equal pixels is one byte ``(colour << 7) | length``
  with ``length`` in 1..127 and ``colour`` 1 for white, 0 for black; a run never
  crosses a chunk or a row boundary.

Both directions are vectorised numpy on packed bits (no per-pixel Python).  The
encoder lays every 127-pixel chunk into a 128-bit slot, so a run start's chunk
and offset are a shift and a mask away, finds run starts with one XOR over the
slots and extracts them from the non-zero bytes only.  The decoder validates the
whole stream before it allocates the image.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = [
    "CHUNK",
    "HEADER_SIZE",
    "MAX_SIDE",
    "FormatError",
    "check_length",
    "decode",
    "decode_runs",
    "encode",
    "encode_packed_blocks",
    "encode_packed_runs",
    "encode_runs",
    "header",
    "read_header",
    "row_offsets",
]

#: Pixels per chunk: a run never crosses a multiple of 127 within a row.
CHUNK = 127
#: Bytes in the header (width, height as ``<u2``).
HEADER_SIZE = 4
#: Largest width or height the header can hold.
MAX_SIDE = 65535

_U64 = np.uint64
_SLICE_PIXELS = 1 << 20  # pixels the encoder works on at a time
_SLICE_RUNS = 1 << 16  # run bytes the decoder works on at a time


class FormatError(ValueError):
    """A byte string is not a valid ``.rle`` stream; the message says what and where."""


def header(width: int, height: int) -> bytes:
    """Return the 4-byte header for an image of ``width`` x ``height`` pixels.

    Raises
    ------
    ValueError
        If a side is outside 1..65535, which the format cannot store.
    """
    for name, side in (("width", width), ("height", height)):
        if not 1 <= side <= MAX_SIDE:
            raise ValueError(
                f"image {name} {side} is outside 1..{MAX_SIDE}, which the .rle header "
                "(two unsigned 16-bit integers) cannot store"
            )
    return int(width).to_bytes(2, "little") + int(height).to_bytes(2, "little")


def read_header(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Return ``(width, height)`` from the first 4 bytes of an ``.rle`` stream.

    Raises
    ------
    FormatError
        If fewer than 4 bytes are given or a side is 0.
    """
    if len(data) < HEADER_SIZE:
        raise FormatError(f"truncated header: an .rle file starts with 4 bytes (width, height), got {len(data)}")
    width = int.from_bytes(bytes(data[0:2]), "little")
    height = int.from_bytes(bytes(data[2:4]), "little")
    if width == 0 or height == 0:
        raise FormatError(f"header claims a {width}x{height} image: width and height must be 1..65535")
    return width, height


# --------------------------------------------------------------------------- encoder


def _chunk_patterns(width: int) -> tuple[int, int, np.ndarray]:
    """Chunks per row, length of the last chunk, and the transition masks per chunk kind."""
    cpr = -(-width // CHUNK)
    last = width - (cpr - 1) * CHUNK

    def mask(length: int) -> np.ndarray:
        # Offsets 0..length-1 of a 128-bit slot, as two big-endian-ordered uint64 words.
        bits = np.zeros(128, dtype=bool)
        bits[:length] = True
        return np.packbits(bits).view(">u8").astype(_U64)

    kinds = [mask(CHUNK)] * (cpr - 1) + [mask(last)]
    return cpr, last, np.stack(kinds)


def _encode_slice(
    words: np.ndarray, first_bit: int, width: int, height: int, row_bits: int, patterns, counts=None
) -> bytes:
    """Runs of ``height`` rows whose first row starts at bit ``first_bit`` of ``words``.

    ``counts``, when given, is an int64 array of ``height`` that receives the number
    of run bytes of each row.
    """
    cpr, last, kinds = patterns
    nch = height * cpr
    # Bit position of every chunk start, then its 127 bits shifted into a 128-bit slot.
    start = (np.arange(height, dtype=np.int64) * row_bits + first_bit)[:, None] + np.arange(
        0, cpr * CHUNK, CHUNK, dtype=np.int64
    )[None, :]
    start = start.reshape(-1)
    k = start >> 6
    sh = (start & 63).astype(_U64)
    rsh = _U64(63) - sh  # (x >> 1) >> (63 - s) is x >> (64 - s), and 0 when s == 0
    w1 = words[k + 1]
    slots = np.empty((nch, 2), dtype=_U64)
    hi = slots[:, 0]
    lo = slots[:, 1]
    np.left_shift(words[k], sh, out=hi)
    hi |= (w1 >> _U64(1)) >> rsh
    np.left_shift(w1, sh, out=lo)
    lo |= (words[k + 2] >> _U64(1)) >> rsh
    mask = np.broadcast_to(kinds, (height, cpr, 2)).reshape(nch, 2)

    # Run starts: offset 0 of every chunk, and every pixel that differs from its left neighbour.
    starts = np.empty((nch, 2), dtype=">u8")
    starts[:, 0] = ((hi ^ (hi >> _U64(1))) & mask[:, 0]) | _U64(1 << 63)
    starts[:, 1] = (lo ^ ((lo >> _U64(1)) | (hi << _U64(63)))) & mask[:, 1]
    start_bytes = starts.view(np.uint8).reshape(-1)
    pixel_bytes = slots.astype(">u8").view(np.uint8).reshape(-1)

    nz = np.flatnonzero(start_bytes.view(bool))
    idx = np.flatnonzero(np.unpackbits(start_bytes[nz]).view(bool))
    colour = np.unpackbits(pixel_bytes[nz])[idx]
    pos = idx >> 3
    np.take(nz, pos, out=pos)
    pos <<= 3
    idx &= 7
    pos |= idx  # bit position of each run start in the slot layout
    if counts is not None:  # runs per row: a slot is 128 bits, a row is cpr slots
        counts[:] = np.bincount((pos >> 7) // cpr, minlength=height)
    length = idx  # reuse the buffer
    np.subtract(pos[1:], pos[:-1], out=length[:-1])
    length[-1] = 128 * nch - pos[-1]
    # The last run of a chunk also spans the slot's padding: take it off.
    first = np.flatnonzero((pos & 127) == 0)
    pad = np.tile(np.array([128 - CHUNK] * (cpr - 1) + [128 - last], dtype=np.int64), height)
    length[first[1:] - 1] -= pad[:-1]
    length[-1] -= pad[-1]

    out = np.empty(pos.size, dtype=np.uint8)
    colour <<= 7
    np.bitwise_or(colour, length, out=out, casting="unsafe")
    return out.tobytes()


def _encode(packed, width: int, height: int, row_bits: int | None, counts=None) -> bytes:
    if row_bits is None:
        row_bits = width
    if width < 1 or row_bits < width:
        raise ValueError(f"width must be >= 1 and row_bits >= width, got {width} and {row_bits}")
    if height == 0:
        return b""
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    need = -(-((height - 1) * row_bits + width) // 8)
    if packed.size < need:
        raise ValueError(f"{height} rows of {width} pixels need {need} packed bytes, got {packed.size}")
    # Zero-padded copy as native uint64 words, plus two spare words for the gather below.
    nwords = -(-need // 8) + 2
    buf = np.zeros(nwords * 8, dtype=np.uint8)
    buf[:need] = packed[:need]
    words = buf.view(">u8").astype(_U64)
    patterns = _chunk_patterns(width)
    # Slices of about _SLICE_PIXELS keep every temporary small: cache-resident, and reused
    # by the allocator instead of being mapped (and page-faulted) afresh for each call.
    rows = max(1, _SLICE_PIXELS // width)
    parts = [
        _encode_slice(
            words,
            r * row_bits,
            width,
            min(rows, height - r),
            row_bits,
            patterns,
            None if counts is None else counts[r : r + rows],
        )
        for r in range(0, height, rows)
    ]
    return b"".join(parts)


def encode_packed_runs(packed, width: int, height: int, row_bits: int | None = None) -> bytes:
    """Encode rows given as packed bits (big-endian bit order, 1 = white) into run bytes.

    Parameters
    ----------
    packed : array_like of uint8
        The bits of all rows; row ``r`` starts at bit ``r * row_bits``.  This is
        ``np.packbits(pixels, axis=None)`` (``row_bits == width``) or the rows of a
        1-bit BMP, each padded to 4 bytes (``row_bits == 8 * stride``).
    width, height : int
        Pixels per row and number of rows.  ``height`` may be 0.
    row_bits : int, optional
        Distance between row starts in bits; defaults to ``width``.

    Returns
    -------
    bytes
        The runs of these rows, without a header: exactly what the format stores
        for them, so the runs of consecutive row blocks concatenate.
    """
    return _encode(packed, width, height, row_bits)


def encode_packed_blocks(packed, width: int, heights, row_bits: int | None = None) -> list[bytes]:
    """Encode several images of the same width, stacked row after row, in one pass.

    Many small images cost one vectorised pass instead of one per image: the
    per-call overhead of numpy, not the pixels, is what a 96x64 image costs.

    Parameters
    ----------
    packed : array_like of uint8
        The rows of every image, one image after the other, laid out as for
        :func:`encode_packed_runs`.
    width : int
        Pixels per row, the same for every image.
    heights : sequence of int
        Rows of each image (each >= 1), in the order they are stacked.
    row_bits : int, optional
        Distance between row starts in bits; defaults to ``width``.

    Returns
    -------
    list of bytes
        The run bytes of each image (no header), as :func:`encode_packed_runs`
        gives for that image alone.

    Examples
    --------
    >>> import numpy as np
    >>> two = np.packbits(np.array([[1, 1, 0], [0, 0, 0], [1, 0, 1]], dtype=bool), axis=1)
    >>> [b.hex() for b in encode_packed_blocks(two, 3, [1, 2], row_bits=8)]
    ['8201', '03810181']
    """
    heights = np.asarray(heights, dtype=np.int64)
    if heights.size == 0:
        return []
    if heights.min() < 1:
        raise ValueError(f"every image needs at least one row, got heights {heights.tolist()}")
    total = int(heights.sum())
    counts = np.zeros(total, dtype=np.int64)
    runs = _encode(packed, width, total, row_bits, counts)
    ends = np.cumsum(counts)[np.cumsum(heights) - 1].tolist()
    return [runs[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def _check_pixels(pixels) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.ndim != 2:
        raise ValueError(f"pixels must be a 2-D (height, width) array, got shape {arr.shape}")
    if arr.dtype != bool and arr.dtype.kind not in "ui":
        raise ValueError(f"pixels must be bool or integer (1 = white, 0 = black), got {arr.dtype}")
    return arr


def encode_runs(pixels) -> bytes:
    """Encode an (h, w) array of pixels (non-zero = white) into run bytes, without a header.

    See Also
    --------
    encode : the same with the header.
    """
    arr = _check_pixels(pixels)
    height, width = arr.shape
    if width == 0:
        raise ValueError("pixels must have at least one column")
    return encode_packed_runs(np.packbits(arr, axis=None), width, height)  # packbits: non-zero -> 1


def encode(pixels) -> bytes:
    """Encode an image into the ``.rle`` format.

    Parameters
    ----------
    pixels : array_like
        An (height, width) bool or integer array, 1 (non-zero) = white, 0 = black.

    Returns
    -------
    bytes
        Header and runs.

    Raises
    ------
    ValueError
        For an array that is not 2-D, or a side outside 1..65535.

    Examples
    --------
    >>> import numpy as np
    >>> encode(np.array([[1, 1, 0]], dtype=bool)).hex()
    '030001008201'
    """
    arr = _check_pixels(pixels)
    height, width = arr.shape
    return header(width, height) + encode_runs(arr)


# --------------------------------------------------------------------------- decoder


def check_length(width: int, height: int, nruns: int, *, base: int = HEADER_SIZE) -> None:
    """Check that ``nruns`` run bytes can describe a ``width`` x ``height`` image at all.

    Every run byte covers 1..127 pixels of one chunk, so a valid stream holds
    between ``height * ceil(width / 127)`` and ``width * height`` run bytes.  This
    needs only the header and the file's size, so a file that lies about its
    size fails before anything is read or planned from its claim.

    Parameters
    ----------
    width, height : int
        What the header claims.
    nruns : int
        Run bytes the stream holds (a file's size minus the 4-byte header).
    base : int, optional
        Byte offset of the first run byte, used in the message.

    Raises
    ------
    FormatError
        When the stream is too short or too long for the claim.

    Examples
    --------
    >>> check_length(65535, 65535, 6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rle.codec.FormatError: truncated: 6 run bytes cannot describe a 65535x65535 image (each row needs at least 517 ...
    """
    npix = width * height
    cpr = -(-width // CHUNK)
    if nruns > npix:
        raise FormatError(
            f"{nruns} run bytes for {npix} pixels ({width}x{height}): every run byte covers at "
            f"least one pixel, so there are trailing bytes (from byte offset {base + npix})"
        )
    if nruns < height * cpr:
        raise FormatError(
            f"truncated: {nruns} run bytes cannot describe a {width}x{height} image (each row needs at "
            f"least {cpr} run bytes); data is missing after byte offset {base + nruns}"
        )


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
        import os

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
