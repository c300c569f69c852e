"""Files: finding inputs, naming outputs, atomic writes and per-file results.

Shared by every job.  Outputs are written to a hidden temporary name in the
destination directory and renamed into place, so an interrupted job never leaves
a truncated output; a rerun removes the temporaries a killed run left behind.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field

__all__ = [
    "Failed",
    "FileResult",
    "image_files",
    "new_token",
    "remove_path",
    "remove_stale_temps",
    "temp_path",
    "write_atomic",
]

log = logging.getLogger(__name__)

_TEMP_SUFFIX = ".imgjobs.tmp"


class UsageError(ValueError):
    """A job was asked for something that cannot be done (bad paths, bad options); the CLI exits 2."""


@dataclass
class FileResult:
    """What happened to one file.

    Attributes
    ----------
    src : str
        Input file.
    dst : str or None
        Output file (None when there is none, as in ``verify``).
    status : str
        ``"ok"``, ``"skipped"`` (output exists), ``"failed"`` or ``"mismatch"`` (verify).
    reason : str
        Why it failed or was skipped, for people.
    pixels, bytes_in, bytes_out : int
        Pixels processed and file sizes, for the summary.
    details : dict
        Job-specific facts (mismatch counts and positions for ``verify``).
    """

    src: str
    dst: str | None
    status: str
    reason: str = ""
    pixels: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True unless the file failed or mismatched."""
        return self.status in ("ok", "skipped")


@dataclass(frozen=True)
class Failed:
    """Returned by a block task instead of raising, so one bad file never stops a job."""

    reason: str


def new_token() -> str:
    """A short random token that makes one run's temporary names unique."""
    return uuid.uuid4().hex[:12]


def temp_path(dst: str, token: str) -> str:
    """Hidden temporary name next to ``dst``, e.g. ``.page.rle.<token>.imgjobs.tmp``."""
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}.{token}{_TEMP_SUFFIX}")


def remove_path(path: str) -> bool:
    """Remove a file, or a directory tree (a zarr store); return whether there was one."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        return False
    return True


def remove_stale_temps(dst: str) -> int:
    """Remove temporaries left for ``dst`` by interrupted runs or killed task attempts; return how many."""
    head, tail = os.path.split(dst)
    n = 0
    for stale in glob.glob(os.path.join(glob.escape(head), f".{glob.escape(tail)}.*{_TEMP_SUFFIX}")):
        if remove_path(stale):
            n += 1
            log.info("removed a temporary file an interrupted run or a lost worker left: %s", stale)
    return n


def write_atomic(dst: str, parts, token: str) -> int:
    """Write ``parts`` (bytes-like pieces) to ``dst`` through a temporary file and a rename.

    The data is flushed to disk before the rename, so ``dst`` is either absent,
    the old file, or complete.  Each call writes its own temporary (``token``
    plus a random suffix), so two attempts at the same task -- a retry after a
    worker was lost while the first attempt still runs -- never share one.
    Returns the number of bytes written.
    """
    tmp = temp_path(dst, f"{token}-{new_token()[:6]}")
    n = 0
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                n += f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return n


def image_files(directory: str, extensions) -> list[str]:
    """Regular files directly in ``directory`` whose extension is in ``extensions``, sorted.

    Hidden files (``.name``), including this tool's temporaries, are ignored.
    """
    out = []
    with os.scandir(directory) as it:
        for entry in it:
            if entry.name.startswith("."):
                continue
            if os.path.splitext(entry.name)[1].lower() in extensions and entry.is_file():
                out.append(entry.path)
    return sorted(out)
