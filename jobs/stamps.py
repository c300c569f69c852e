"""Content stamps: what a rerun compares to decide whether an output is still current.

A stamp says which content of an input an output was made from.  Two kinds
(``imgjobs.stamps``):

``stat`` (the default)
    The file's size and modification time in nanoseconds, from one ``stat``
    (``fstat`` of the open file, when a task reads it): what ``make`` and
    ``rsync`` trust, at no cost beyond the listing.
``content``
    The size and a BLAKE2b digest of the bytes: for file systems whose
    modification times lie (copies that keep old times, coarse clocks).  A rerun
    reads every input to check it.

A stamp is a short string; :data:`MISSING` stands for a file that could not be
read.  Stamps are compared for equality only: any difference means the input
changed.

>>> from jobs import stamps
>>> s = stamps.of_bytes(b"pixels", os.stat(__file__), "content")
>>> s.startswith("6:b2:")
True
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["MISSING", "MODES", "digest", "of_bytes", "of_path", "of_paths"]

#: The kinds of stamp (``imgjobs.stamps``).
MODES = ("stat", "content")

#: The stamp of a file that could not be read (missing, not regular, no permission).
MISSING = "missing"


def of_bytes(data, st: os.stat_result, mode: str = "stat") -> str:
    """The stamp of a file whose content ``data`` was just read from an open file with status ``st``."""
    if mode == "content":
        return f"{len(data)}:b2:{hashlib.blake2b(data, digest_size=16).hexdigest()}"
    return f"{st.st_size}:{st.st_mtime_ns}"


def of_path(path: str, mode: str = "stat") -> str:
    """The stamp of ``path`` now (following links); :data:`MISSING` when it cannot be read."""
    import stat as _stat

    try:
        st = os.stat(path)
        if not _stat.S_ISREG(st.st_mode):
            return MISSING
        if mode != "content":
            return f"{st.st_size}:{st.st_mtime_ns}"
        h = hashlib.blake2b(digest_size=16)
        n = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                n += len(chunk)
        return f"{n}:b2:{h.hexdigest()}"
    except OSError:
        return MISSING


def of_paths(paths, mode: str = "stat") -> list[str]:
    """The stamps of ``paths``, in order: one ``stat`` each (``content``: one read each)."""
    return [of_path(p, mode) for p in paths]


def digest(items) -> str:
    """A short digest of a sequence of strings (stamps, paths), order included."""
    h = hashlib.sha256()
    for item in items:
        h.update(str(item).encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()[:32]
