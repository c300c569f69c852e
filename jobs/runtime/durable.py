"""Durable writes, the one way every job writes a file: a temporary, a sync, a rename.

* :func:`write_atomic` writes one file (a job's record of its state, an
  assembled output) through its temporary (:func:`jobs.runtime.temporaries.temp_path`),
  ``fsync`` and a rename: a name only ever points at complete data;
* :class:`BatchWriter` does the same for a task's many small outputs, made
  durable together (one ``syncfs`` on Linux) before any is renamed;
* :func:`rename_into` gives a temporary its name, and with ``replace=False``
  never over a file that appeared there meanwhile (:class:`AppearedError`);
* :func:`npy_header` is the one ``.npy`` header imgjobs writes.

Reading those files back, as hostile input, is :mod:`jobs.runtime.reads`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import filecmp
import functools
import io
import itertools
import logging
import os
import stat

import numpy as np

from jobs.runtime.libc import linux_call
from jobs.runtime.temporaries import new_token, temp_path

__all__ = [
    "AppearedError",
    "BatchWriter",
    "flush_file_system",
    "fsync_path",
    "npy_header",
    "preallocate",
    "publish",
    "rename_into",
    "write_at",
    "write_atomic",
]

log = logging.getLogger(__name__)

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | _CLOEXEC


def _libc_syncfs():
    """libc's ``syncfs`` (Linux); None elsewhere."""
    return linux_call("syncfs", ctypes.c_int)


def _syncfs(directory: str) -> bool:
    """Flush the file system holding ``directory`` to disk (Linux ``syncfs``); False where unavailable."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}", directory)
    finally:
        os.close(fd)
    return True


class AppearedError(FileExistsError):
    """A file that was not there when its job was planned appeared at an output's name: left as it is."""


def _libc_renameat2():
    """libc's ``renameat2`` (Linux, glibc 2.28+); None elsewhere."""
    return linux_call("renameat2", ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)


_AT_FDCWD, _RENAME_NOREPLACE = -100, 1
#: What a file system without ``RENAME_NOREPLACE`` or hard links answers.
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV}


def _raise_unless_same(tmp: str, dst: str) -> None:
    """Raise :class:`AppearedError` for the file found at ``dst``, unless it holds ``tmp``'s very bytes
    (an earlier attempt of the same task renamed it): then ``tmp`` goes and it counts as written."""
    try:
        st, mine = os.lstat(dst), os.lstat(tmp)
        same = stat.S_ISREG(st.st_mode) and st.st_size == mine.st_size and filecmp.cmp(tmp, dst, shallow=False)
    except OSError:
        same = False
    if not same:
        raise AppearedError(errno.EEXIST, "it appeared after the job was planned: left as it is", dst)
    os.remove(tmp)


def rename_into(tmp: str, dst: str, *, replace: bool = True) -> None:
    """Rename the temporary ``tmp`` to ``dst``; with ``replace=False`` never over a file there.

    ``replace=False`` is for an output that was not there when its job was
    planned: a file that appeared at its name since (another program's) is
    kept, and :class:`AppearedError` raised.  Atomic where the file system
    allows (``renameat2(RENAME_NOREPLACE)``, else a hard link); elsewhere a check
    just before the rename.  A file there with the very bytes of ``tmp`` (a retry
    of a task whose first attempt renamed it) is taken as written.  The caller
    removes ``tmp`` on any error.
    """
    if replace:
        os.replace(tmp, dst)
        return
    fn = _libc_renameat2()
    if fn is not None:
        if fn(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            _raise_unless_same(tmp, dst)
            return
        if err not in _UNSUPPORTED:
            raise OSError(err, os.strerror(err), dst)
    try:
        os.link(tmp, dst)
    except FileExistsError:
        _raise_unless_same(tmp, dst)
        return
    except OSError as e:
        if e.errno not in _UNSUPPORTED:
            raise
        if os.path.lexists(dst):  # no atomic way on this file system: a check, then the rename
            _raise_unless_same(tmp, dst)
            return
        os.replace(tmp, dst)
        return
    os.remove(tmp)


def flush_file_system(directory: str) -> None:
    """Make everything written under ``directory`` durable: ``syncfs`` on Linux, ``sync`` elsewhere."""
    if not _syncfs(directory):
        os.sync()


def fsync_path(path: str) -> None:
    """Make a file's data, or a directory's entries (the renames done in it), durable: ``fsync`` of it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _datasync(fd: int) -> None:
    """``fdatasync`` where the OS has it (the data and the size a reader needs, not the times), else ``fsync``."""
    getattr(os, "fdatasync", os.fsync)(fd)


def _write_all(fd: int, parts) -> int:
    """Write every buffer of ``parts`` with ``os.writev``, 512 of them per call; return the bytes written.

    ``parts`` may be a generator: it is taken 512 buffers at a time, never held whole.
    """
    total = 0
    it = iter(parts)
    while views := [memoryview(p).cast("B") for p in itertools.islice(it, 512)]:
        k = 0
        while k < len(views):
            n = os.writev(fd, views[k:])
            total += n
            while k < len(views) and n >= len(views[k]):  # a short write: go on from where it stopped
                n -= len(views[k])
                k += 1
            if n:
                views[k] = views[k][n:]
    return total


def write_at(path: str, data, offset: int, *, sync: bool = False) -> None:
    """Write all of ``data`` at byte ``offset`` of the existing file ``path`` (never through a link): a
    task's own byte range of a file made by :func:`preallocate`.  ``sync``: on disk before this returns."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | _CLOEXEC)
    try:
        view = memoryview(data).cast("B")
        while view:  # a short write: go on from where it stopped
            n = os.pwrite(fd, view, offset)
            view, offset = view[n:], offset + n
        if sync:
            _datasync(fd)
    finally:
        os.close(fd)


def _create(path: str, parts, *, sync: bool = False) -> int:
    """Write a new file (a temporary: never one that is there) of ``parts``; ``sync``: its data on disk."""
    fd = os.open(path, _WRITE_FLAGS | os.O_EXCL, 0o666)
    try:
        n = _write_all(fd, parts)
        if sync:
            _datasync(fd)
        return n
    finally:
        os.close(fd)


def preallocate(path: str, size: int, head: bytes = b"") -> None:
    """Create ``path`` (or keep it) at ``size`` bytes, starting with ``head``: a file tasks fill in place.

    Sparse where the file system allows; what is there beyond ``head`` is kept (a
    task run again loses no range another wrote).  Never through a link.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | _CLOEXEC, 0o666)
    try:
        if head:
            os.pwrite(fd, head, 0)
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
    finally:
        os.close(fd)


def publish(tmp: str, dst: str, *, replace: bool = True) -> None:
    """Give a temporary written in place (:func:`temp_path` without an attempt) its name: sync it, then rename.

    For an output that several tasks write parts of before one task names it
    (an image decoded a block of rows at a time).  A missing temporary is a
    :class:`FileNotFoundError` (a retry after the rename: the caller checks ``dst``).
    ``replace``: as :func:`rename_into`.
    """
    fsync_path(tmp)
    rename_into(tmp, dst, replace=replace)


def write_atomic(dst: str, parts, token: str, *, sync_directory: bool = False, replace: bool = True) -> int:
    """Write one file through a temporary, ``fsync`` and a rename; return the bytes written.

    Parameters
    ----------
    dst : str
        The file.
    parts : iterable of bytes-like
        Its content, in order (written with ``writev``: nothing is joined).
    token : str
        The run's token, in the temporary's name: the run's sweep finds it.
    sync_directory : bool
        Also ``fsync`` the directory after the rename, so the new name is on disk
        before this returns (a file that replaces one a record already trusts).
    replace : bool
        Replace a file at ``dst``; False keeps one that is there (:func:`rename_into`).

    A failure removes the temporary and names the file.  For one file at a
    time; a task's many small outputs go through :class:`BatchWriter`.
    """
    tmp = temp_path(dst, token, new_token()[:6])
    try:
        n = _create(tmp, parts, sync=True)  # the data and the size it needs; the rename is the directory's
        rename_into(tmp, dst, replace=replace)
        if sync_directory:
            fsync_path(os.path.dirname(dst) or ".")
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, AppearedError) and e.strerror and dst not in str(e):
            raise OSError(e.errno, f"cannot write {dst}: {e.strerror}") from None
        raise
    return n


class BatchWriter:
    """Write a task's outputs through temporaries, make them durable together, then rename them.

    Each temporary carries the run's ``token`` and a random attempt, so two
    attempts at a task never share one.  :meth:`commit` flushes every temporary
    before the first rename: one ``syncfs`` per directory on Linux (~15 us a small
    file here, against ~130 us for an ``fsync`` each, as elsewhere).

    Parameters
    ----------
    token : str
        The run's token.
    """

    def __init__(self, token: str):
        self.token = token
        self._attempt = new_token()[:6]  # one attempt: its outputs have distinct names
        self._pending: list[tuple[str, str, bool]] = []  # (temporary, destination, may replace)
        self._dirs: set[str] = set()  # the directories they are in
        #: Destination -> its status right after its rename (what a record of it says it was written as).
        self.stamps: dict[str, os.stat_result] = {}

    def add(self, dst: str, data, *, replace: bool = True) -> int:
        """Write ``data`` (bytes-like) to a temporary for ``dst``; return the bytes written.

        ``replace=False``: :meth:`commit` keeps a file that is at ``dst`` by then
        and names it among its errors (:class:`AppearedError`).
        """
        tmp = temp_path(dst, self.token, self._attempt)
        try:
            n = _create(tmp, [data])
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        self._pending.append((tmp, dst, replace))
        self._dirs.add(os.path.dirname(dst))
        return n

    def commit(self) -> dict:
        """Flush and rename everything added; return ``{dst: OSError}`` for outputs that failed to rename.

        Each renamed output's size and modification time are taken here, in the
        task, into :attr:`stamps`: the finish records them without a second pass
        over the outputs, and a change made to an output after this shows as a
        change on the next run.
        """
        pending, self._pending = self._pending, []
        dirs, self._dirs = self._dirs, set()
        if not pending:
            return {}
        try:
            if not all(_syncfs(d) for d in dirs):
                for tmp, _, _ in pending:
                    fsync_path(tmp)
        except BaseException:
            for tmp, _, _ in pending:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
            raise
        errors = {}
        for tmp, dst, replace in pending:
            try:
                rename_into(tmp, dst, replace=replace)
            except OSError as e:
                errors[dst] = e
                with contextlib.suppress(OSError):
                    os.remove(tmp)
                continue
            try:
                st = os.lstat(dst)
            except OSError:  # written all the same: the finish takes its stamp itself
                continue
            self.stamps[dst] = st
        return errors

    def discard(self) -> None:
        """Remove the temporaries of everything added and not committed."""
        pending, self._pending = self._pending, []
        self._dirs = set()
        for tmp, _, _ in pending:
            with contextlib.suppress(OSError):
                os.remove(tmp)


@functools.lru_cache(maxsize=64)
def npy_header(shape: tuple, dtype: str = "|u1") -> bytes:
    """The ``.npy`` header of a C-order array of ``shape`` and ``dtype``, as ``np.save`` writes it (format 1.0)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()
