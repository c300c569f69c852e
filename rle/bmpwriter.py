"""The 1-bit BMP writer: what ``decompress`` writes, bottom-up rows with a black/white palette."""

from __future__ import annotations

import os
import struct

import numpy as np

from rle.bmp import bmp_stride

__all__ = ["bmp_1bit_header", "bmp_1bit_rows", "write_bmp"]


def bmp_1bit_header(width: int, height: int) -> bytes:
    """File header, info header and black/white palette of a bottom-up 1-bit BMP.

    Pillow opens such a file as mode ``'1'`` (index 1 = white).
    """
    stride = bmp_stride(width)
    offset = 14 + 40 + 8
    size = offset + stride * height
    return (
        b"BM"
        + struct.pack("<IHHI", size, 0, 0, offset)
        + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 1, 0, stride * height, 2835, 2835, 2, 2)
        + bytes([0, 0, 0, 0, 255, 255, 255, 0])
    )


def bmp_1bit_rows(pixels) -> bytes:
    """Rows of a 1-bit BMP for an (h, w) block of pixels (1 = white), in file (bottom-up) order."""
    arr = np.asarray(pixels)
    h, w = arr.shape
    stride = bmp_stride(w)
    out = np.zeros((h, stride), dtype=np.uint8)
    out[:, : (w + 7) // 8] = np.packbits(arr != 0, axis=1)
    return out[::-1].tobytes()


def write_bmp(path, pixels) -> None:
    """Write an (h, w) array (non-zero = white) as a 1-bit BMP file.

    The file is written whole; for atomic replacement write to a temporary
    name and rename it (as :mod:`jobs` does).
    """
    arr = np.asarray(pixels)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"pixels must be a non-empty 2-D array, got shape {arr.shape}")
    h, w = arr.shape
    with open(os.fspath(path), "wb") as f:
        f.write(bmp_1bit_header(w, h))
        f.write(bmp_1bit_rows(arr))
