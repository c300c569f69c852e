"""The ``.rle`` encoder: packed 1-bit rows in, run bytes out, vectorised (:mod:`rle.codec` has the format).

Every 127-pixel chunk is laid into a 128-bit slot (two ``uint64``), so a run
start's chunk and offset are a shift and a mask away; one XOR with the slot
shifted by a bit marks every run start, and only the non-zero bytes are
unpacked.  It works on about 1 MPixel at a time so every temporary stays in
cache.
"""

from __future__ import annotations

import numpy as np

from rle.codec import CHUNK, header

__all__ = ["encode", "encode_packed_blocks", "encode_packed_runs", "encode_runs"]

_U64 = np.uint64
_SLICE_PIXELS = 1 << 20  # pixels the encoder works on at a time


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
