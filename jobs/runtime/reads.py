"""Reading a job's own state files back, as hostile input: a record is never trusted for being ours.

A state file (a record of what made an output, of a finished slice, of a run)
may be missing, truncated, replaced by a FIFO, a directory or a link, or hold
anything at all.  :func:`load_json` says why one cannot be read; :func:`read_json`
gives None for all of those.  What a record says is checked where it is used.
"""

from __future__ import annotations

import errno
import json
import os
import stat

from jobs.runtime.listing import kind_of_mode

__all__ = ["MAX_JSON_BYTES", "load_json", "read_json"]

#: The largest state file read (a job's records of a million inputs are ~150 MB).
MAX_JSON_BYTES = 1 << 30


def _open_regular(path: str) -> int:
    """A descriptor of ``path`` opened for reading: only a regular file, never blocking (a FIFO would)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file ({kind_of_mode(mode)})", path)
    os.set_blocking(fd, True)
    return fd


def load_json(path: str, limit: int = MAX_JSON_BYTES):
    """The JSON in the state file ``path``, read as hostile input; an error saying why it cannot be read.

    A FIFO or a device never blocks (only a regular file is read), a file over
    ``limit`` bytes (:data:`MAX_JSON_BYTES`) is not read, and JSON nested past Python's recursion
    limit is garbage like any other.

    Raises
    ------
    FileNotFoundError
        There is none.
    OSError, ValueError
        It cannot be read (not a regular file, no permission), or it is not
        (small enough) JSON in UTF-8.
    """
    with os.fdopen(_open_regular(path), "rb") as f:
        if os.fstat(f.fileno()).st_size > limit:
            raise ValueError(f"over {limit:,} bytes")
        try:
            return json.loads(f.read().decode("utf-8"))  # UnicodeDecodeError is a ValueError
        except RecursionError:
            raise ValueError("nested too deep") from None


def read_json(path: str):
    """The JSON in ``path`` (:func:`load_json`), or None when it is missing or cannot be read as JSON."""
    try:
        return load_json(path)
    except (OSError, ValueError):
        return None
