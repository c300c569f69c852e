"""Uncompressed BMP files: a header parser and a row-block reader (the writer: :mod:`rle.bmpwriter`).

The reader is the fast path of :mod:`rle.imageio`: it reads only the rows it is
asked for, straight from the file, honouring the palette and the bottom-up row
order, and turns them into packed bits exactly as Pillow's ``convert('1')`` would.
It handles the layouts Pillow opens as modes ``1``, ``P`` and ``L`` (1, 4 and 8
bits with a full palette) and ``RGB`` (24 bits), uncompressed; everything else
goes through Pillow.

Pillow turns a palette image into 1 bit with a plain threshold on each palette
colour, so such rows are independent.  ``L`` and ``RGB`` images are dithered
(Floyd-Steinberg), which carries error from row to row: a row block is exact on
its own only when every pixel is pure black or pure white, where the error is
zero.  :func:`read_rows` checks that and raises :class:`NeedsWholeImage`
otherwise, so callers fall back to converting the whole image.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["BmpLayout", "NeedsWholeImage", "bmp_stride", "parse_bmp", "read_rows"]

_INFO_HEADERS = (40, 52, 56, 64, 108, 124)
_SUBBLOCK_BYTES = 1 << 20  # work on ~1 MiB of a block at a time, so passes stay in cache


def bmp_stride(width: int, bits: int = 1) -> int:
    """Bytes per stored row of a BMP ``width`` pixels wide at ``bits`` per pixel: rows are padded to 4 bytes."""
    return ((width * bits + 31) // 32) * 4


class NeedsWholeImage(Exception):
    """Rows of this image cannot be converted apart from the rest (dithering carries error)."""


@dataclass(frozen=True)
class BmpLayout:
    """Where and how an uncompressed BMP stores its pixels.

    Attributes
    ----------
    width, height : int
        Image size in pixels.
    bits : int
        Bits per pixel: 1, 4, 8 or 24.
    mode : str
        The mode Pillow opens the file as: ``'1'``, ``'P'``, ``'L'`` or ``'RGB'``.
    top_down : bool
        True when the first stored row is the top row (negative height).
    offset : int
        Byte offset of the pixel data.
    stride : int
        Bytes per stored row (padded to 4 bytes).
    palette : tuple of (r, g, b), or None
        Palette colours for modes ``'1'`` and ``'P'``.
    """

    width: int
    height: int
    bits: int
    mode: str
    top_down: bool
    offset: int
    stride: int
    palette: tuple | None = None

    @property
    def data_size(self) -> int:
        """Bytes of pixel data, padding included."""
        return self.stride * self.height

    @property
    def last_row_padding(self) -> int:
        """Padding bytes of a row: the file may end without those of its last row (Pillow reads it so)."""
        return self.stride - (self.width * self.bits + 7) // 8


def parse_bmp(head: bytes, file_size: int | None = None) -> BmpLayout | None:
    """Parse the headers of a BMP file, the way Pillow does.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (at least 14 + header + palette; 2 KiB is plenty).
    file_size : int, optional
        The file's size, to detect truncated pixel data.

    Returns
    -------
    BmpLayout or None
        None when the file is not a BMP this fast path reads (compressed, 16 or 32
        bits, OS/2 headers, partial palettes...): read those with Pillow.

    Raises
    ------
    ValueError
        If the headers say the file is a BMP but its pixel data is truncated.
    """
    if len(head) < 18 or head[:2] != b"BM":
        return None
    offset = struct.unpack_from("<I", head, 10)[0]
    hsize = struct.unpack_from("<I", head, 14)[0]
    if hsize not in _INFO_HEADERS or len(head) < 14 + 40:
        return None
    width, raw_height, _planes, bits, compression = struct.unpack_from("<iIHHI", head, 18)
    colors = struct.unpack_from("<I", head, 46)[0]
    top_down = head[14 + 4 + 7] == 0xFF
    height = 2**32 - raw_height if top_down else raw_height
    if width <= 0 or height <= 0 or compression != 0 or bits not in (1, 4, 8, 24):
        return None
    stride = bmp_stride(width, bits)
    palette = None
    mode = "RGB"
    start = 14 + hsize
    if offset == 0:  # Pillow reads the pixels from where the headers (and palette) end
        offset = start + (4 * (colors or (1 << bits)) if bits <= 8 else 0)
    if bits <= 8:
        colors = colors or (1 << bits)
        if colors != 1 << bits:
            return None  # partial palettes: let Pillow decide what missing entries mean
        if len(head) < start + 4 * colors:
            return None
        if offset == start:  # as Pillow: an offset at the palette means after it
            offset += 4 * colors
        raw = head[start : start + 4 * colors]
        palette = tuple((raw[i + 2], raw[i + 1], raw[i]) for i in range(0, 4 * colors, 4))
        indices = (0, 255) if colors == 2 else range(colors)
        grey = all(palette[i] == (v, v, v) for i, v in enumerate(indices))
        if grey:
            mode = "1" if colors == 2 else "L"
            if mode == "L" and bits != 8:
                return None
        else:
            mode = "P"
    layout = BmpLayout(width, height, bits, mode, top_down, offset, stride, palette)
    if file_size is not None and file_size < offset + layout.data_size - layout.last_row_padding:
        raise ValueError(
            f"truncated BMP: {width}x{height} at {bits} bits needs {layout.data_size} bytes of "
            f"pixel data from offset {offset}, the file has {max(0, file_size - offset)}"
        )
    return layout


def _palette_luma(palette) -> np.ndarray:
    """Pillow's ``L`` for each palette colour, times 1000 (ITU-R 601-2, no rounding)."""
    pal = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    return pal @ np.array([299, 587, 114], dtype=np.int64)


@functools.lru_cache(maxsize=64)
def _palette_lut(layout: BmpLayout, threshold: int | None) -> np.ndarray:
    """0/1 white-ness of each palette index, as ``convert('1')`` (or the threshold) decides.

    Remembered per layout: the small files of one archive share a few.  Read-only.
    """
    lut = _compute_lut(layout, threshold)
    lut.flags.writeable = False
    return lut


def _compute_lut(layout: BmpLayout, threshold: int | None) -> np.ndarray:
    if threshold is None:
        if layout.mode == "1":
            return np.array([0, 1], dtype=np.uint8)
        return (_palette_luma(layout.palette) >= 128000).astype(np.uint8)
    from PIL import Image  # start-up: Pillow (~25 ms) only for a palette's luminance (its own rounding)

    assert layout.palette is not None  # mode "P"
    n = len(layout.palette)
    im = Image.new("P", (n, 1))
    im.putpalette([c for rgb in layout.palette for c in rgb])
    im.putdata(list(range(n)))
    return (np.asarray(im.convert("L"))[0] >= threshold).astype(np.uint8)


def _in_memory(source) -> bool:
    return isinstance(source, (bytes, bytearray, memoryview))


def _short_ok(layout: BmpLayout, first: int, n: int, missing: int) -> bool:
    """True when only padding of the file's last stored row is missing (Pillow reads such files)."""
    return first + n == layout.height and 0 < missing <= layout.last_row_padding


def _stored_rows(buf, layout: BmpLayout, first: int, n: int, r0: int, r1: int) -> np.ndarray:
    """Stored rows ``first..first+n`` of a BMP held in memory, as a read-only (n, stride) view."""
    start = layout.offset + first * layout.stride
    missing = start + n * layout.stride - len(buf)
    if missing > 0:
        if not _short_ok(layout, first, n, missing):
            raise ValueError(f"truncated BMP: rows {r0}..{r1} end past the end of the file")
        rows = np.zeros(n * layout.stride, dtype=np.uint8)  # the last row's missing padding reads as zero
        rows[: n * layout.stride - missing] = np.frombuffer(buf, dtype=np.uint8, offset=start)
        return rows.reshape(n, layout.stride)
    return np.frombuffer(buf, dtype=np.uint8, count=n * layout.stride, offset=start).reshape(n, layout.stride)


def _read_block(source, layout: BmpLayout, r0: int, r1: int) -> np.ndarray:
    """Stored bytes of image rows r0..r1 (top-down numbering), top row first."""
    n = r1 - r0
    first = r0 if layout.top_down else layout.height - r1
    if _in_memory(source):
        buf = _stored_rows(source, layout, first, n, r0, r1)
    else:
        buf = np.empty((n, layout.stride), dtype=np.uint8)
        with open(source, "rb") as f:
            _read_rows_into(f, layout, first, buf, r0, r1)
    return buf if layout.top_down else buf[::-1]


def _read_rows_into(f, layout: BmpLayout, first: int, buf: np.ndarray, r0: int, r1: int) -> None:
    f.seek(layout.offset + first * layout.stride)
    flat = memoryview(buf).cast("B")  # type: ignore[arg-type]  # numpy arrays are buffers
    got = f.readinto(flat)
    if got != buf.nbytes:
        if not _short_ok(layout, first, buf.shape[0], buf.nbytes - got):
            raise ValueError(f"truncated BMP: rows {r0}..{r1} end past the end of the file")
        flat[got:] = bytes(buf.nbytes - got)


def _sub_blocks(source, layout: BmpLayout, r0: int, r1: int):
    """Yield ``(row, rows)``: stored bytes of image rows r0..r1, about 1 MiB at a time, top row first.

    From a file, one buffer is reused throughout, so memory stays small and nothing
    is page-faulted afresh for each sub-block; from memory, the rows are views.
    """
    per = max(1, _SUBBLOCK_BYTES // layout.stride)
    if _in_memory(source):
        for a in range(r0, r1, per):
            b = min(a + per, r1)
            yield a, _read_block(source, layout, a, b)
        return
    buf = np.empty((min(per, r1 - r0), layout.stride), dtype=np.uint8)
    with open(source, "rb") as f:
        for a in range(r0, r1, per):
            b = min(a + per, r1)
            view = buf[: b - a]
            _read_rows_into(f, layout, a if layout.top_down else layout.height - b, view, a, b)
            yield a, (view if layout.top_down else view[::-1])


def _triple_tables() -> tuple[np.ndarray, np.ndarray]:
    """Tables for 24-bit pixels packed as 3 bits each (8 pixels in 3 bytes).

    ``gather[j][v]``: the bits of the pixels whose first bit is in byte ``j`` of a
    group, placed where they go in the 1-bit-per-pixel byte.  ``same``: for each
    of the 3 bytes, the bits whose right neighbour belongs to the same pixel.
    """
    values = np.arange(256)
    gather = np.zeros((3, 256), dtype=np.uint8)
    same = np.zeros(3, dtype=np.uint8)
    for bit in range(24):
        j, pos = divmod(bit, 8)
        if bit % 3 == 0:  # the first of a pixel's three bits
            gather[j] |= (((values >> (7 - pos)) & 1) << (7 - bit // 3)).astype(np.uint8)
        if bit % 3 != 2:
            same[j] |= 1 << (7 - pos)
    return gather, same


_GATHER, _SAME = _triple_tables()


def _rgb_rows(block: np.ndarray, width: int, threshold: int | None, out: np.ndarray) -> None:
    """Pack 24-bit BGR rows into bits; without a threshold only pure black/white is exact.

    Pure rows are checked and packed without per-pixel Python and without strided
    passes: one bit per byte (``byte == 255``), checked against "any bit set" to
    catch other values; then each pixel's three bits must be equal, and lookup
    tables compact every 3 bytes of bits (8 pixels) to 1 byte.
    """
    b = block[:, : 3 * width]
    if threshold is not None:
        px = b.reshape(b.shape[0], width, 3).astype(np.uint32)
        luma = (px[..., 2] * 19595 + px[..., 1] * 38470 + px[..., 0] * 7471 + 0x8000) >> 16
        out[:] = np.packbits(luma >= threshold, axis=1)
        return
    groups = (width + 7) // 8
    full = np.packbits(b == 255, axis=1)
    if not np.array_equal(full, np.packbits(b, axis=1)):  # some byte is neither 0 nor 255
        raise NeedsWholeImage
    if full.shape[1] != 3 * groups:  # pad the last group of 8 pixels with black
        padded = np.zeros((full.shape[0], 3 * groups), dtype=np.uint8)
        padded[:, : full.shape[1]] = full
        full = padded
    # Every pixel's three bits must be equal: compare each bit with its right neighbour.
    shifted = full << 1
    shifted[:, :-1] |= full[:, 1:] >> 7
    shifted ^= full
    shifted &= np.tile(_SAME, groups)
    if shifted.any():  # some pixel's three channels differ
        raise NeedsWholeImage
    pix = np.take(_GATHER[0], full[:, 0::3])
    pix |= np.take(_GATHER[1], full[:, 1::3])
    pix |= np.take(_GATHER[2], full[:, 2::3])
    out[:] = pix


def read_rows(source, layout: BmpLayout, r0: int, r1: int, threshold: int | None = None):
    """Read image rows ``r0..r1`` of a BMP as packed bits, 1 = white.

    Parameters
    ----------
    source : str, os.PathLike or bytes-like
        The file, or its whole content already in memory.
    layout : BmpLayout
        From :func:`parse_bmp` on the same file.
    r0, r1 : int
        Half-open range of rows, numbered from the top.
    threshold : int, optional
        None converts as Pillow's ``convert('1')`` does; a number 0..255 makes a
        pixel white when its ``convert('L')`` value is at least that.

    Returns
    -------
    packed : numpy.ndarray
        (r1 - r0, row_bytes) uint8, big-endian bit order.
    row_bits : int
        Bits from one row start to the next (``8 * row_bytes``).

    Raises
    ------
    NeedsWholeImage
        For dithered modes (``L``, ``RGB``) when a pixel is not pure black or white.
    """
    if not 0 <= r0 <= r1 <= layout.height:
        raise ValueError(f"rows {r0}..{r1} are outside 0..{layout.height}")
    w = layout.width
    if layout.bits == 1:  # already 1 bit per pixel: read the block whole, at most flip it
        block = _read_block(source, layout, r0, r1)
        bit = _palette_lut(layout, threshold)
        if bit[0] == 0 and bit[1] == 1:
            return block, 8 * layout.stride
        if bit[0] == 1 and bit[1] == 0:
            return np.invert(block), 8 * layout.stride
        return np.full_like(block, 0xFF if bit[0] else 0), 8 * layout.stride
    out = np.empty((r1 - r0, (w + 7) // 8), dtype=np.uint8)
    lut = _palette_lut(layout, threshold) if layout.mode == "P" else None
    for a, rows in _sub_blocks(source, layout, r0, r1):
        dest = out[a - r0 : a - r0 + rows.shape[0]]
        if layout.bits == 24:
            _rgb_rows(rows, w, threshold, dest)
            continue
        if layout.bits == 4:
            idx = np.empty((rows.shape[0], 2 * rows.shape[1]), dtype=np.uint8)
            idx[:, 0::2] = rows >> 4
            idx[:, 1::2] = rows & 15
            idx = idx[:, :w]
        else:
            idx = rows[:, :w]
        if lut is not None:
            bits = lut[idx]
        elif threshold is not None:  # 8-bit greyscale: value == index
            bits = idx >= threshold
        else:  # 8-bit greyscale, dithered by convert('1'): exact only when pure
            x = idx.view(np.int8)
            if not np.array_equal(x, x >> 7):
                raise NeedsWholeImage
            bits = idx
        dest[:] = np.packbits(bits, axis=1)
    return out, 8 * out.shape[1]
