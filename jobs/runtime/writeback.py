"""A task's byte range of a file, written in pieces whose write-back starts as each lands.

A task that fills its range of a shared file (:func:`jobs.runtime.durable.preallocate`) and
must have it on disk before it records it finished used to write it all, then wait for one
``fdatasync`` of all of it: the disk sat idle while the task computed, and the task sat idle
while the disk wrote.  :class:`RangeWriter` starts the write-back of each piece as soon as it is
written (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, which queues the pages and returns at
once), so the disk writes while the task computes its next piece; :meth:`RangeWriter.sync` then
waits with ``fdatasync`` for what is left.  What is durable, and when the task may say so, is
unchanged: all of the range, after :meth:`~RangeWriter.sync`.  Elsewhere than Linux the pieces
are written and the one ``fdatasync`` at the end does all the work, as before.
"""

from __future__ import annotations

import ctypes
import os

from jobs.runtime.libc import linux_call

__all__ = ["RangeWriter"]

#: ``SYNC_FILE_RANGE_WRITE`` (linux/fs.h): start write-back of the range's dirty pages, do not wait.
_WRITE = 2


def _sync_file_range():
    """libc's ``sync_file_range`` (Linux); None elsewhere."""
    return linux_call("sync_file_range", ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint)


class RangeWriter:
    """Write pieces of one byte range of an existing file (never through a link), starting each piece's
    write-back as it lands; :meth:`sync` makes all of them durable.  A context manager (closes the file).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(bytes(8))
    >>> with RangeWriter(f.name) as w:
    ...     w.write(b"ab", 2)
    ...     w.write(b"cd", 4)
    ...     w.sync()
    >>> open(f.name, "rb").read()
    b'\\x00\\x00abcd\\x00\\x00'
    >>> os.remove(f.name)
    """

    def __init__(self, path: str):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))

    def write(self, data, offset: int) -> None:
        """Write all of ``data`` at byte ``offset`` and start its write-back (a short write goes on)."""
        view = memoryview(data).cast("B")
        at, n = offset, len(view)
        while view:
            k = os.pwrite(self._fd, view, at)
            view, at = view[k:], at + k
        start = _sync_file_range()
        if start is not None and n:
            start(self._fd, offset, n, _WRITE)  # a hint: an error here is found by the fdatasync of sync()

    def sync(self) -> None:
        """Wait until everything written is on disk (``fdatasync``, or ``fsync`` where there is none)."""
        getattr(os, "fdatasync", os.fsync)(self._fd)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RangeWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
