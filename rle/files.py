"""Opening image files as hostile input: only regular files, never blocking, never more pixels than allowed.

Every read of :mod:`rle` goes through here: :func:`open_regular` refuses a FIFO,
a device or a directory without blocking on it, :func:`open_image` opens an
image with Pillow checking its size from the header before anything is decoded,
and :class:`ImageError` names a file that is not a readable image.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
from typing import BinaryIO

__all__ = [
    "MAX_PIXELS",
    "ImageError",
    "describe",
    "open_image",
    "open_regular",
    "open_regular_fd",
    "read_fd",
    "too_many",
]


class ImageError(ValueError):
    """A file is not a readable image of a size the ``.rle`` format can hold."""


#: Default of ``max_pixels``: the most pixels of an image decoded whole (Pillow's own
#: decompression-bomb limit, twice ``PIL.Image.MAX_IMAGE_PIXELS``: about 179 MPixel).
MAX_PIXELS = 178_956_970


def describe(exc: BaseException) -> str:
    """An exception for people: its message, and its type (``struct.error``) when that alone is unclear."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if not isinstance(exc, (OSError, ValueError)):
        kind = type(exc)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        return f"{name}: {text}"
    return text


def open_regular_fd(path) -> tuple[int, os.stat_result]:
    """Open a file for reading, refusing anything but a regular file without blocking (a FIFO would).

    Returns the descriptor and the file's status from the same ``fstat``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a file"
            raise OSError(errno.EINVAL, f"not a regular file ({kind})", path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """A binary file object for a regular file; OSError for a FIFO, a device or a directory (never blocks)."""
    return os.fdopen(open_regular_fd(os.fspath(path))[0], "rb")


@contextlib.contextmanager
def open_image(path, *, data=None, max_pixels: int | None = None):
    """Open an image with Pillow: only a regular file, at most ``max_pixels`` pixels, every failure an ImageError.

    Parameters
    ----------
    path : str or os.PathLike
        The file (or only its name for messages, when ``data`` is given).
    data : bytes-like, optional
        The file's content, already read.
    max_pixels : int, optional
        The most pixels allowed (default :data:`MAX_PIXELS`); checked from the
        header, before anything is decoded.  Pillow's own limit is raised in this
        process when a larger one is asked for.

    Yields
    ------
    PIL.Image.Image
        Opened, not yet loaded.
    """
    from PIL import Image, UnidentifiedImageError  # start-up: Pillow (~25 ms), not for the BMP fast path

    path = os.fspath(path)
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if limit > 2 * (Image.MAX_IMAGE_PIXELS or 0) and Image.MAX_IMAGE_PIXELS is not None:
        Image.MAX_IMAGE_PIXELS = limit // 2 + 1  # asked for: Pillow must not stop below our limit
    try:
        f = io.BytesIO(data) if data is not None else open_regular(path)
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror or e}") from None
    with f:
        try:
            im = Image.open(f)
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not an image (Pillow cannot identify the format)") from None
        except Image.DecompressionBombError as e:
            claimed = re.search(r"\((\d+) pixels\)", str(e))
            raise ImageError(f"{path}: {too_many(int(claimed.group(1)) if claimed else None, limit)}") from None
        except Exception as e:  # any failure in a header parser fails this file, by name
            raise ImageError(f"{path}: cannot read the image header: {describe(e)}") from None
        with im:
            w, h = im.size
            if w <= 0 or h <= 0:
                raise ImageError(f"{path}: the header says the image is {w}x{h}")
            if w * h > limit:
                raise ImageError(f"{path}: {too_many(w * h, limit, f'{w}x{h}')}")
            yield im


def too_many(pixels, limit: int, size: str = "") -> str:
    claim = "" if pixels is None else f" {size + ' = ' if size else ''}{pixels:,} pixels,"
    return (
        f"the header claims{claim} more than the {limit:,} pixels an image decoded whole may have "
        "(--max-pixels, imgjobs.max-pixels; uncompressed BMPs are read by rows and have no such limit)"
    )


def read_fd(fd: int, size: int) -> bytes:
    """A regular file's content, expected to be ``size`` bytes; up to ``size + 1`` (to notice it grew)."""
    data = os.read(fd, size + 1)
    if len(data) >= size:  # all of it, with one call: what a regular file gives
        return data
    parts = [data]
    while True:
        more = os.read(fd, size + 1 - sum(map(len, parts)))
        if not more:
            return b"".join(parts)
        parts.append(more)
