"""Reading images of any format as 1-bit pixels, the way the classic tool saw them.

The classic tool did ``bitarray(Image.open(f).convert('1').getdata())``: white is
1, black is 0, and anything that is not already 1 bit is converted by Pillow's
``convert('1')`` (a palette by a threshold on each colour, greyscale and RGB by
Floyd-Steinberg dithering).  :func:`read_pixels` does exactly that for any
format Pillow reads, and :func:`read_packed_rows` reads just a block of rows of
an uncompressed BMP without touching the rest of the file.

A ``threshold`` (0..255) replaces dithering: a pixel is white when its
``convert('L')`` value is at least the threshold.  Rows are then independent
for every format.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .bmp import BmpLayout, NeedsWholeImage, parse_bmp, read_rows
from .codec import MAX_SIDE
from .files import MAX_PIXELS, ImageError, describe, open_image, open_regular, open_regular_fd, read_fd

__all__ = [
    "MAX_PIXELS",
    "ImageError",
    "ImageInfo",
    "NeedsWholeImage",
    "PackedFile",
    "open_image",
    "open_regular",
    "probe",
    "read_packed",
    "read_packed_file",
    "read_packed_image",
    "read_packed_rows",
    "read_pixels",
]

_HEAD_BYTES = 4096
#: :func:`read_packed_image` reads files up to this size in one piece; larger ones row block by row block.
_WHOLE_READ_BYTES = 16 << 20


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`probe` learns from a file's header without reading its pixels.

    Attributes
    ----------
    path : str
        The file.
    width, height : int
        Size in pixels.
    format : str
        Pillow's format name (``'BMP'``, ``'PNG'``...).
    mode : str
        Pillow's mode for the file.
    bmp : BmpLayout or None
        Set when row blocks can be read straight from the file.
    """

    path: str
    width: int
    height: int
    format: str
    mode: str
    bmp: BmpLayout | None = None

    @property
    def pixels(self) -> int:
        """Number of pixels."""
        return self.width * self.height


def _check_size(path, width: int, height: int) -> None:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ImageError(f"{path}: image is {width}x{height}; the .rle format stores 1..{MAX_SIDE} pixels per side")


def probe(path, *, max_pixels: int | None = None) -> ImageInfo:
    """Read an image file's header: size, format and whether the BMP fast path applies.

    Parameters
    ----------
    path : str or os.PathLike
        An image file in any format Pillow reads.
    max_pixels : int, optional
        Refuse images that must be decoded whole (every format but an
        uncompressed BMP) with more pixels than this; default :data:`MAX_PIXELS`.

    Returns
    -------
    ImageInfo

    Raises
    ------
    ImageError
        If the file cannot be read, is not a regular file, is not an image, is
        truncated, is larger than 65535 pixels on a side, or would be decoded
        whole and has more than ``max_pixels`` pixels.
    """
    path = os.fspath(path)
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(_HEAD_BYTES)
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        layout = parse_bmp(head, size)
    except ValueError as e:
        raise ImageError(f"{path}: {e}") from None
    if layout is not None:
        _check_size(path, layout.width, layout.height)
        return ImageInfo(path, layout.width, layout.height, "BMP", layout.mode, layout)
    with open_image(path, max_pixels=max_pixels) as im:
        width, height = im.size
        fmt, mode = im.format or "?", im.mode
    _check_size(path, width, height)
    return ImageInfo(path, width, height, fmt, mode, None)


def read_packed(path, threshold: int | None = None, *, data=None, max_pixels: int | None = None):
    """Read a whole image with Pillow as packed bits, 1 = white.

    Parameters
    ----------
    path : str or os.PathLike
        Any image Pillow reads (the first frame of a multi-frame file).
    threshold : int, optional
        None for Pillow's ``convert('1')`` (dithering); else white when
        ``convert('L')`` >= threshold.
    data : bytes-like, optional
        The file's content, when it is already in memory (``path`` then only
        names it in messages).
    max_pixels : int, optional
        The most pixels decoded whole; default :data:`MAX_PIXELS`.

    Returns
    -------
    packed : numpy.ndarray
        (height, ceil(width / 8)) uint8, big-endian bit order.
    width : int
        Pixels per row.

    Raises
    ------
    ImageError
        For unreadable, truncated or oversized files.
    """
    path = os.fspath(path)
    with open_image(path, data=data, max_pixels=max_pixels) as im:
        _check_size(path, *im.size)
        try:
            if threshold is None:
                bw = im.convert("1")
            else:
                bw = im.convert("L").point(lambda v: 255 if v >= threshold else 0).convert("1")
            width, height = bw.size
            raw = bw.tobytes()
        except Exception as e:  # any decoder failure fails this file, by name
            raise ImageError(f"{path}: cannot decode the image: {describe(e)}") from None
    packed = np.frombuffer(raw, dtype=np.uint8).reshape(height, -1)
    return packed, width


def read_packed_rows(info: ImageInfo, r0: int, r1: int, threshold: int | None = None):
    """Read rows ``r0..r1`` of an image as packed bits, reading only those rows when possible.

    Parameters
    ----------
    info : ImageInfo
        From :func:`probe`.
    r0, r1 : int
        Half-open row range, numbered from the top.
    threshold : int, optional
        As in :func:`read_packed`.

    Returns
    -------
    packed : numpy.ndarray
        (r1 - r0, row_bytes) uint8.
    row_bits : int
        Bits between row starts.

    Raises
    ------
    NeedsWholeImage
        When the rows cannot be converted on their own (not a fast-path BMP, or
        dithering that carries error into these rows); read the whole image instead.
    ImageError
        If the file changed or is truncated.
    """
    if info.bmp is None:
        raise NeedsWholeImage
    try:
        return read_rows(info.path, info.bmp, r0, r1, threshold)
    except OSError as e:
        raise ImageError(f"{info.path}: cannot read rows {r0}..{r1}: {e.strerror or e}") from None
    except ValueError as e:
        raise ImageError(f"{info.path}: {e}") from None


@functools.lru_cache(maxsize=256)
def _parse_cached(head: bytes, size: int):
    return parse_bmp(head, size)


def _parse_head(data: bytes, size: int):
    """:func:`parse_bmp` of a file in memory, remembered by its header bytes and size.

    The many small files of one archive share a few headers: the bytes before
    the pixel data (file and info headers, palette) are the key, never pixels.
    """
    if len(data) >= 54 and data[:2] == b"BM":
        offset = int.from_bytes(data[10:14], "little")
        if 54 <= offset <= _HEAD_BYTES:
            layout = _parse_cached(bytes(data[:offset]), size)
            if layout is not None:
                return layout
    return parse_bmp(data[:_HEAD_BYTES], size)


class PackedFile(NamedTuple):
    """An image read by :func:`read_packed_file`: packed bits, and the file as it was opened."""

    packed: np.ndarray
    width: int
    row_bits: int
    #: The file's size and modification time (ns) from the ``fstat`` of its open descriptor, before reading:
    #: content changed while it was read shows a later time.
    size: int
    mtime_ns: int
    #: The bytes decoded, when asked for (``keep_data``) and the file was read in one piece; else None.
    data: bytes | None = None


def read_packed_image(path, threshold: int | None = None, *, max_pixels: int | None = None):
    """Read a whole image as packed bits, 1 = white, opening the file once.

    A file of up to 16 MiB is read in one piece and decoded from memory (the BMP
    fast path when it applies, Pillow otherwise); a larger one is read a block of
    rows at a time.  This is how a batch task reads many small files cheaply.

    Parameters
    ----------
    path : str or os.PathLike
        An image file in any format Pillow reads.
    threshold : int, optional
        As in :func:`read_packed`.
    max_pixels : int, optional
        As in :func:`read_packed` (a BMP read by rows has no such limit).

    Returns
    -------
    packed : numpy.ndarray
        (height, row_bytes) uint8, big-endian bit order.
    width : int
        Pixels per row.
    row_bits : int
        Bits from one row start to the next (``8 * row_bytes``).

    Raises
    ------
    ImageError
        For unreadable, non-regular, truncated, oversized or non-image files.
    """
    return read_packed_file(path, threshold, max_pixels=max_pixels)[:3]


def read_packed_file(
    path, threshold: int | None = None, *, max_pixels: int | None = None, keep_data: bool = False
) -> PackedFile:
    """:func:`read_packed_image`, and the file's size and modification time as it was opened (a :class:`PackedFile`).

    ``keep_data``: the :class:`PackedFile` also holds the bytes decoded, when the file was read in one piece
    (up to 16 MiB), so that a caller can digest exactly what was decoded.
    """
    path = os.fspath(path)
    try:
        fd, st = open_regular_fd(path)
        try:
            size = st.st_size
            data = read_fd(fd, size) if size <= _WHOLE_READ_BYTES else None
        finally:
            os.close(fd)
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror or e}") from None
    stamp = (size, st.st_mtime_ns)
    if data is None or len(data) > size:  # large, or growing while we read: the streaming path
        info = probe(path, max_pixels=max_pixels)
        try:
            packed, row_bits = read_packed_rows(info, 0, info.height, threshold)
            return PackedFile(packed, info.width, row_bits, *stamp)
        except NeedsWholeImage:
            packed, width = read_packed(path, threshold, max_pixels=max_pixels)
            return PackedFile(packed, width, 8 * packed.shape[1], *stamp)
    try:
        layout = _parse_head(data, len(data))
    except ValueError as e:
        raise ImageError(f"{path}: {e}") from None
    if layout is not None:
        _check_size(path, layout.width, layout.height)
        try:
            packed, row_bits = read_rows(data, layout, 0, layout.height, threshold)
            return PackedFile(packed, layout.width, row_bits, *stamp, data if keep_data else None)
        except NeedsWholeImage:
            pass
        except ValueError as e:
            raise ImageError(f"{path}: {e}") from None
    packed, width = read_packed(path, threshold, data=data, max_pixels=max_pixels)
    return PackedFile(packed, width, 8 * packed.shape[1], *stamp, data if keep_data else None)


def read_pixels(path, threshold: int | None = None, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an image as an (height, width) uint8 array, 1 = white, 0 = black.

    Uses the BMP fast path when it is exact and Pillow otherwise; the result is
    the same either way.

    Parameters
    ----------
    path : str or os.PathLike
        An image file.
    threshold : int, optional
        As in :func:`read_packed`.

    Returns
    -------
    numpy.ndarray
    """
    packed, width, _ = read_packed_image(path, threshold, max_pixels=max_pixels)
    return np.unpackbits(packed, axis=1, count=width)
