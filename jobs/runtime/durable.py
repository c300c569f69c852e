"""Durable writes, the one way every job writes a file: a temporary name, a sync, a rename.

* :func:`temp_path` is the one temporary-name scheme: ``.<name>.<token>[-<attempt>].imgjobs.tmp``
  beside the file it becomes, hidden, tied to its run's token;
* :func:`write_atomic` writes one file (a job's record of its state, an
  assembled output) through its temporary, ``fsync`` and a rename: a
  name only ever points at complete data;
* :class:`BatchWriter` does the same for a task's many small outputs, made
  durable together (one ``syncfs`` on Linux) before any is renamed;
* :func:`sweep_temporaries` is the one sweeper: one listing of a directory
  removes this run's temporaries and those a killed run left;
* :func:`npy_header` is the one ``.npy`` header imgjobs writes.

Reading those files back, as hostile input, is :mod:`jobs.runtime.reads`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable

import numpy as np

__all__ = [
    "TEMP_SUFFIX",
    "BatchWriter",
    "flush_file_system",
    "fsync_path",
    "is_temporary",
    "new_token",
    "npy_header",
    "preallocate",
    "publish",
    "remove_path",
    "sweep_temporaries",
    "temp_path",
    "temporary_of",
    "write_at",
    "write_atomic",
]

log = logging.getLogger(__name__)

#: Every temporary imgjobs writes ends with this (``.<name>.<token>[-<attempt>].imgjobs.tmp``).
TEMP_SUFFIX = ".imgjobs.tmp"


_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | _CLOEXEC


def new_token() -> str:
    """A short random token that makes one run's temporary names unique."""
    return uuid.uuid4().hex[:12]


def temp_path(dst: str, token: str, attempt: str | None = None) -> str:
    """The hidden temporary of ``dst`` for run ``token``: ``.<name>.<token>[-<attempt>].imgjobs.tmp``.

    Without ``attempt`` the name is the same every time (tasks writing parts of
    one file in place); :func:`write_atomic` and :class:`BatchWriter` add a random one.
    """
    head, tail = os.path.split(dst)
    tag = token if attempt is None else f"{token}-{attempt}"
    return os.path.join(head, f".{tail}.{tag}{TEMP_SUFFIX}")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of imgjobs' temporaries (:func:`temp_path`)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _split(name: str) -> tuple[str, str]:
    """A temporary's name -> (the name it becomes, its run token); ``("", "")`` for any other name."""
    if not is_temporary(name):
        return "", ""
    final, _, tag = name[1 : -len(TEMP_SUFFIX)].rpartition(".")
    return final, tag.split("-", 1)[0]


def temporary_of(name: str) -> str | None:
    """The name a temporary (:func:`temp_path`) becomes, or None for a name that is not a temporary.

    >>> temporary_of(".page.out.0123456789ab-cd1234.imgjobs.tmp")
    'page.out'
    """
    return _split(name)[0] or None


def remove_path(path: str) -> bool:
    """Remove a file, or a directory tree (a store); return whether there was one."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        return False
    return True


def sweep_temporaries(
    directory: str,
    *,
    token: str | None = None,
    stale: Iterable[str] = (),
    every: bool = False,
    also: Callable[[str], bool] | None = None,
) -> int:
    """Remove imgjobs' temporaries from ``directory`` with one listing; return how many.

    Parameters
    ----------
    directory : str
        A directory imgjobs writes into.
    token : str, optional
        Remove every temporary of this run (attempts that a lost worker or an
        interrupt left).
    stale : iterable of str
        Names of temporaries that were there before this run started (left by a
        killed run); removed if still there.
    every : bool
        Remove every temporary of ours there (a directory only imgjobs writes
        into: a job's work folder).
    also : callable, optional
        ``also(name)``: names a job takes for its temporaries too, with ``every``
        (an older version's, in its work folder).

    The number removed is logged once (``-v``), never a line per file.
    """
    stale = set(stale)
    n = 0
    try:
        it = os.scandir(directory or ".")
    except FileNotFoundError:
        return 0
    with it:
        for entry in it:
            name = entry.name
            if not (is_temporary(name) or (every and also is not None and also(name))):
                continue
            if every or name in stale or (token is not None and _split(name)[1] == token):
                if not entry.is_dir(follow_symlinks=False) and remove_path(entry.path):
                    n += 1
    if n:
        log.info("removed %d temporary file(s) a lost worker or an interrupted run left in %s", n, directory or ".")
    return n


@functools.lru_cache(maxsize=1)
def _libc_syncfs():
    """libc's ``syncfs`` (Linux), found on first use; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


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
    """Write every buffer of ``parts`` with ``os.writev``, a batch of them per call; return the bytes written."""
    total = 0
    views = [memoryview(p).cast("B") for p in parts]
    k = 0
    while k < len(views):
        batch = views[k : k + 512]
        n = os.writev(fd, batch)
        total += n
        for v in batch:  # a short write: go on from where it stopped
            if n >= len(v):
                n -= len(v)
                k += 1
            else:
                views[k] = v[n:]
                break
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


def publish(tmp: str, dst: str) -> None:
    """Give a temporary written in place (:func:`temp_path` without an attempt) its name: sync it, then rename.

    For an output that several tasks write parts of before one task names it
    (an image decoded a block of rows at a time).  A missing temporary is a
    :class:`FileNotFoundError` (a retry after the rename: the caller checks ``dst``).
    """
    fsync_path(tmp)
    os.replace(tmp, dst)


def write_atomic(dst: str, parts, token: str, *, sync_directory: bool = False) -> int:
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

    A failure removes the temporary and names the file.  For one file at a
    time; a task's many small outputs go through :class:`BatchWriter`.
    """
    tmp = temp_path(dst, token, new_token()[:6])
    try:
        n = _create(tmp, parts, sync=True)  # the data and the size it needs; the rename is the directory's
        os.replace(tmp, dst)
        if sync_directory:
            fsync_path(os.path.dirname(dst) or ".")
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError) and e.strerror and dst not in str(e):
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
        self._pending: list[tuple[str, str]] = []  # (temporary, destination)
        self._dirs: set[str] = set()  # the directories they are in
        #: Destination -> its size and modification time (ns) right after its rename (a finish records them).
        self.stamps: dict[str, tuple[int, int]] = {}

    def add(self, dst: str, data) -> int:
        """Write ``data`` (bytes-like) to a temporary for ``dst``; return the bytes written."""
        tmp = temp_path(dst, self.token, self._attempt)
        try:
            n = _create(tmp, [data])
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        self._pending.append((tmp, dst))
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
                for tmp, _ in pending:
                    fsync_path(tmp)
        except BaseException:
            for tmp, _ in pending:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
            raise
        errors = {}
        for tmp, dst in pending:
            try:
                os.replace(tmp, dst)
            except OSError as e:
                errors[dst] = e
                with contextlib.suppress(OSError):
                    os.remove(tmp)
                continue
            try:
                st = os.lstat(dst)
            except OSError:  # written all the same: the finish takes its stamp itself
                continue
            self.stamps[dst] = (st.st_size, st.st_mtime_ns)
        return errors

    def discard(self) -> None:
        """Remove the temporaries of everything added and not committed."""
        pending, self._pending = self._pending, []
        self._dirs = set()
        for tmp, _ in pending:
            with contextlib.suppress(OSError):
                os.remove(tmp)


@functools.lru_cache(maxsize=64)
def npy_header(shape: tuple, dtype: str = "|u1") -> bytes:
    """The ``.npy`` header of a C-order array of ``shape`` and ``dtype``, as ``np.save`` writes it (format 1.0)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()
