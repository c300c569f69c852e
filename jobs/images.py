"""What every job knows of image files: which names are images, and how a failure to read one is told.

Shared by the jobs (not by the runtime, which knows no image): a directory of
images is every file whose extension is in :data:`IMAGE_EXTENSIONS`, and a file
that fails is named with the reason :func:`failure` gives.
"""

from __future__ import annotations

from rle.files import describe

__all__ = ["IMAGE_EXTENSIONS", "failure"]

#: Extensions taken as images when a directory is read (case-insensitive).
IMAGE_EXTENSIONS = frozenset(
    ".bmp .dib .png .gif .tif .tiff .pbm .pgm .ppm .pnm .pcx .tga .webp .jpg .jpeg .jp2 .ico .im .sgi".split()
)


def failure(path, exc: BaseException) -> str:
    """Why a file failed, for people: names the file (once), the OS's words for OS errors, and the
    exception's type when its message alone is unclear (``struct.error: argument out of range``)."""
    path = str(path)
    text = describe(exc)
    if isinstance(exc, OSError) and exc.strerror and exc.filename and exc.filename != path:
        text = f"{exc.strerror}: {exc.filename}"
    return text if path in text else f"{path}: {text}"
