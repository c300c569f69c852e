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
    "decode",
    "decode_runs",
    "encode",
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


def _encode_slice(words: np.ndarray, first_bit: int, width: int, height: int, row_bits: int, patterns) -> bytes:
    """Runs of ``height`` rows whose first row starts at bit ``first_bit`` of ``words``."""
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
        _encode_slice(words, r * row_bits, width, min(rows, height - r), row_bits, patterns)
        for r in range(0, height, rows)
    ]
    return b"".join(parts)


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


def _slices(arr: np.ndarray, width: int, height: int, base: int, first_row: int):
    """Check run bytes for ``height`` rows slice by slice; yield ``(part, length, done)``.

    ``part`` is a slice of ``arr``, ``length`` its run lengths (int64) and ``done``
    the pixels before it.  Raises :class:`FormatError` at the first problem, with
    its byte offset (``base`` is the offset of ``arr[0]`` in the file) and row.
    Before anything is yielded, the stream is known to describe no fewer pixels
    than the header claims can fit in it, so a caller may allocate the image.
    """
    npix = width * height
    nruns = arr.size
    cpr = -(-width // CHUNK)
    if nruns > npix:
        raise FormatError(
            f"{nruns} run bytes for {npix} pixels ({width}x{height}): every run byte covers at "
            f"least one pixel, so there are trailing bytes (from byte offset {base + npix})"
        )
    if nruns < height * cpr:  # also guarantees npix <= 127 * nruns
        have = int(np.sum(arr & 127, dtype=np.int64))
        raise FormatError(
            f"truncated: {nruns} run bytes describe {have} pixels, the {width}x{height} image needs "
            f"{npix} (each row needs at least {cpr} run bytes); data is missing after byte offset "
            f"{base + nruns}"
        )
    done = 0
    for s0 in range(0, nruns, _SLICE_RUNS):
        part = arr[s0 : s0 + _SLICE_RUNS]
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
    checked = _slices(arr, width, height, base, first_row)
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


def row_offsets(data, rows) -> list[int]:
    """Byte offsets in an ``.rle`` stream at which the given rows start.

    The whole stream is validated first, so every offset is trustworthy.

    Parameters
    ----------
    data : bytes-like
        Header and runs.
    rows : sequence of int
        Row numbers in 0..height (``height`` gives the end of the data).

    Returns
    -------
    list of int
        One offset per row, counted from the start of ``data``.
    """
    width, height = read_header(data)
    for r in rows:
        if not 0 <= r <= height:
            raise ValueError(f"row {r} is outside 0..{height}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=HEADER_SIZE)
    wanted = np.asarray(rows, dtype=np.int64) * width  # pixel where each row starts
    found = np.full(wanted.size, -1, dtype=np.int64)
    s0 = 0
    for part, length, done in _slices(arr, width, height, HEADER_SIZE, 0):
        starts = np.cumsum(length) - length + done
        here = (wanted >= done) & (wanted < done + int(length.sum()))
        found[here] = HEADER_SIZE + s0 + np.searchsorted(starts, wanted[here])
        s0 += part.size
    found[wanted == width * height] = HEADER_SIZE + arr.size
    return [int(x) for x in found]
