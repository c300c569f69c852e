"""A list file read by ranges: what a task carries instead of the names it handles.

A job over millions of files must not put their names in its graph: the graph
would grow with every file (tens of megabytes for a million names) and the
client would hold them all.  So a plan reads a list once, keeps only where
entries start (a column of byte offsets), and gives each task a byte range of
the file; the task reads its own entries (:meth:`ListFile.read`).  The graph
grows with the number of tasks only.

A list can change between planning and running (a user edits it, a graph is
computed later): a task reads only a list whose size, modification time, inode
and change time are those the plan saw, else :class:`~jobs.errors.StalePlan`
(the change time, which no user can set back, catches an edit whose size and
modification time were put back; the inode, a list renamed over the old one).  What the entries
mean (a path and a label per line, say) is the job's to parse.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from jobs.errors import StalePlan, UsageError
from jobs.runtime.stamps import of_url
from jobs.runtime.storage import Storage, is_url, local_path, read_range

__all__ = ["ListFile", "RemoteListFile", "list_file"]


def list_file(path: str, storage: Storage | None = None) -> ListFile | RemoteListFile:
    """The list at ``path`` as it is now: a local file (``file://`` included), or an object at a URL."""
    if is_url(path):
        return RemoteListFile.of(path, storage)
    return ListFile.of(local_path(path))


@dataclass(frozen=True)
class ListFile:
    """A list file as a plan saw it: its path, size, modification time, inode and change time.

    Small and picklable: every task of a job may carry it.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
    ...     _ = f.write(b"a.jpg 0\\nb.jpg 1\\n")
    >>> listed = ListFile.of(f.name)
    >>> listed.read(8, 16)
    b'b.jpg 1\\n'
    >>> os.remove(f.name)
    """

    path: str
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str) -> ListFile:
        """The list at ``path`` as it is now; :class:`~jobs.errors.UsageError` if it is not a readable file."""
        fd, st = _open(path)
        os.close(fd)
        return cls(os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def open(self) -> int:
        """A descriptor of the list, checked to be the one planned (:class:`StalePlan` if it changed)."""
        fd, st = _open(self.path)
        now = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        if now != (self.size, self.mtime_ns, self.inode, self.ctime_ns):
            os.close(fd)
            raise StalePlan(
                f"{self.path} changed since this job was planned ({self.size} bytes then, {st.st_size} now, or "
                "modified since): plan the job again"
            )
        return fd

    def read(self, begin: int, end: int) -> bytes:
        """Bytes ``begin..end`` of the list, as planned (:class:`StalePlan` if the list changed since)."""
        if not 0 <= begin <= end <= self.size:
            raise ValueError(f"bytes {begin}..{end} are outside {self.path} ({self.size} bytes)")
        fd = self.open()
        try:
            parts, at = [], begin
            while at < end:
                chunk = os.pread(fd, min(end - at, 1 << 24), at)
                if not chunk:  # cut short after the check: it changed while read
                    raise StalePlan(f"{self.path} was cut short while it was read: plan the job again")
                parts.append(chunk)
                at += len(chunk)
            return b"".join(parts)
        finally:
            os.close(fd)


def _open(path: str) -> tuple[int, os.stat_result]:
    """Open a regular file for reading without blocking on a FIFO; UsageError naming it otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise UsageError(f"{path}: cannot read the list: {e.strerror or e}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UsageError(f"{path}: not a regular file: give a file list")
    os.set_blocking(fd, True)
    return fd, st


@dataclass(frozen=True)
class RemoteListFile:
    """A list stored at a URL (``s3://``, ``https://``...) as a plan saw it: its size and version (ETag or
    modification time, :func:`jobs.runtime.storage.stamp_of`).  Read by ranges like :class:`ListFile`,
    each read refused (:class:`StalePlan`) if the object is not the one planned."""

    path: str
    size: int
    version: str
    storage: Storage

    @classmethod
    def of(cls, url: str, storage: Storage | None = None) -> RemoteListFile:
        """The list at ``url`` as it is now; :class:`~jobs.errors.UsageError` if it cannot be read."""
        storage = storage or Storage()
        try:
            version = of_url(url, storage)
        except Exception as e:  # the back end's own errors: missing, denied, unreachable
            raise UsageError(f"{url}: cannot read the list: {storage.scrub(str(e))}") from None
        return cls(url, int(version.split(":", 1)[0]), version, storage)

    def read(self, begin: int, end: int) -> bytes:
        """Bytes ``begin..end`` of the list, as planned (:class:`StalePlan` if the object changed since)."""
        if not 0 <= begin <= end <= self.size:
            raise ValueError(f"bytes {begin}..{end} are outside {self.path} ({self.size} bytes)")
        if begin == end:
            return b""
        try:
            now = of_url(self.path, self.storage)
        except Exception as e:  # the back end's own errors: gone, denied, unreachable
            raise OSError(errno.EIO, f"{self.path}: cannot read the list: {self.storage.scrub(str(e))}") from None
        if now != self.version:
            raise StalePlan(
                f"{self.path} changed since this job was planned ({self.version} then, {now} now): plan the job again"
            )
        try:
            data = read_range(self.path, self.storage, begin, end)
        except Exception as e:  # the back end's own errors: gone, denied, unreachable
            raise OSError(errno.EIO, f"{self.path}: cannot read the list: {self.storage.scrub(str(e))}") from None
        if len(data) != end - begin:
            raise StalePlan(f"{self.path} was cut short while it was read: plan the job again")
        return data
