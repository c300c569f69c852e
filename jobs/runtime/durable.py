"""Durable writes, the one way every job writes a file: a temporary name, a sync, a rename.

* :func:`temp_path` is the one temporary-name scheme: ``.<name>.<token>[-<attempt>].imgjobs.tmp``
  beside the file it becomes, hidden, tied to its run's token;
* :func:`write_atomic` writes one file (a manifest, a sidecar, a state record, an
  assembled output) through its temporary, ``fsync`` and a rename: a
  name only ever points at complete data;
* :class:`BatchWriter` does the same for a task's many small outputs, made
  durable together (one ``syncfs`` on Linux) before any is renamed;
* :func:`sweep_temporaries` is the one sweeper: one listing of a directory
  removes this run's temporaries and those a killed run left;
* :func:`read_json` reads a state file back as hostile input;
* :func:`npy_header` is the one ``.npy`` header imgjobs writes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import io
import json
import logging
import os
import re
import shutil
import stat
import sys
import uuid
from collections.abc import Iterable

import numpy as np

__all__ = [
    "MAX_JSON_BYTES",
    "TEMP_SUFFIX",
    "BatchWriter",
    "flush_file_system",
    "fsync_directory",
    "fsync_path",
    "is_temporary",
    "new_token",
    "npy_header",
    "publish",
    "read_json",
    "remove_path",
    "sweep_temporaries",
    "temp_path",
    "write_atomic",
]

log = logging.getLogger(__name__)

#: Every temporary imgjobs writes ends with this (``.<name>.<token>[-<attempt>].imgjobs.tmp``).
TEMP_SUFFIX = ".imgjobs.tmp"

#: Temporaries of imgjobs 0.2 state files and shards (``.<name>.<pid>-<hex>.part``): swept as ours too.
_LEGACY_PART = re.compile(r"\..+\.[0-9]+-[0-9a-f]{8}\.part")

#: The largest state file (sidecar, plan, done record, manifest) read: a sidecar of a million images is ~150 MB.
MAX_JSON_BYTES = 1 << 30


_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def new_token() -> str:
    """A short random token that makes one run's temporary names unique."""
    return uuid.uuid4().hex[:12]


def temp_path(dst: str, token: str, attempt: str | None = None) -> str:
    """The hidden temporary of ``dst`` for run ``token``: ``.page.rle.<token>[-<attempt>].imgjobs.tmp``.

    Without ``attempt`` the name is the same every time (block tasks of one
    file write into it in place); :func:`write_atomic` and :class:`BatchWriter`
    add a random one, so two attempts at a task never share a temporary.
    """
    head, tail = os.path.split(dst)
    tag = token if attempt is None else f"{token}-{attempt}"
    return os.path.join(head, f".{tail}.{tag}{TEMP_SUFFIX}")


def is_temporary(name: str, *, legacy: bool = False) -> bool:
    """Whether a file name is one of imgjobs' temporaries (:func:`temp_path`).

    ``legacy``: an imgjobs 0.2 temporary counts too (``.<name>.<pid>-<hex>.part``, which
    it wrote only inside a job's work folder).
    """
    if not name.startswith("."):
        return False
    return name.endswith(TEMP_SUFFIX) or (legacy and _LEGACY_PART.fullmatch(name) is not None)


def _token_of(name: str) -> str | None:
    """The run token in a temporary's name (without its attempt), or None if it is not one of ours."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return None
    return name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[-1].split("-", 1)[0]


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


def sweep_temporaries(directory: str, *, token: str | None = None, stale: Iterable[str] = (), every=False) -> int:
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
        Remove every temporary of ours there, an older version's too (a
        directory only imgjobs writes into: a job's work folder).

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
            if not is_temporary(name, legacy=every):
                continue
            if every or name in stale or (token is not None and _token_of(name) == token):
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


def fsync_directory(directory: str) -> None:
    """Make the renames done in ``directory`` durable (``fsync`` of the directory itself)."""
    fsync_path(directory or ".")


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


def _write_file(path: str, parts) -> int:
    fd = os.open(path, _WRITE_FLAGS, 0o666)
    try:
        return _write_all(fd, parts)
    finally:
        os.close(fd)


def publish(tmp: str, dst: str) -> None:
    """Give a temporary written in place (:func:`temp_path` without an attempt) its name: sync it, then rename.

    For an output that several tasks write parts of before one task names it
    (a large BMP decoded a block of rows at a time).  A missing temporary is a
    :class:`FileNotFoundError` (a retry after the rename: the caller checks ``dst``).
    """
    fsync_path(tmp)
    os.replace(tmp, dst)


def write_atomic(dst: str, parts, token: str | None = None, *, sync_directory: bool = False) -> int:
    """Write one file through a temporary, ``fsync`` and a rename; return the bytes written.

    Parameters
    ----------
    dst : str
        The file.
    parts : iterable of bytes-like
        Its content, in order (written with ``writev``: nothing is joined).
    token : str, optional
        The run's token, in the temporary's name (default: a new one).
    sync_directory : bool
        Also ``fsync`` the directory after the rename, so the new name is on disk
        before this returns (a file that replaces one a record already trusts).

    A failure removes the temporary and names the file.  For one file at a
    time; a task's many small outputs go through :class:`BatchWriter`.
    """
    tmp = temp_path(dst, token or new_token(), new_token()[:6])
    try:
        fd = os.open(tmp, _WRITE_FLAGS | os.O_EXCL, 0o666)
        try:
            n = _write_all(fd, parts)
            _datasync(fd)  # the data and the size it needs; the rename is the directory's
        finally:
            os.close(fd)
        os.replace(tmp, dst)
        if sync_directory:
            fsync_directory(os.path.dirname(dst))
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
    attempts at the same task (a retry while a lost worker's attempt still runs)
    never share one.  :meth:`commit` flushes every temporary to disk before the
    first rename: with ``syncfs`` on Linux that is one call per directory instead
    of an ``fsync`` per file (on this project's test machine ~15 us instead of
    ~130 us per small file); elsewhere each file is ``fsync``-ed.  A name therefore
    only ever points at complete data.

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
            n = _write_file(tmp, [data])
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
            except OSError:  # written all the same: the finish stats it itself
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


def _open_regular(path: str) -> int:
    """A descriptor of ``path`` opened for reading: only a regular file, never blocking (a FIFO would)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", path)
    os.set_blocking(fd, True)
    return fd


def read_json(path: str):
    """The JSON in ``path``, or None when it is missing, unreadable, not a regular file or not JSON.

    Every state file is read as hostile: a FIFO or a device never blocks (only a
    regular file is read), a file over :data:`MAX_JSON_BYTES` is not read, and
    JSON nested past Python's recursion limit is garbage like any other.
    """
    try:
        with os.fdopen(_open_regular(path), "rb") as f:
            if os.fstat(f.fileno()).st_size > MAX_JSON_BYTES:
                return None
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


@functools.lru_cache(maxsize=64)
def npy_header(shape: tuple, dtype: str = "|u1") -> bytes:
    """The ``.npy`` header of a C-order array of ``shape`` and ``dtype``, as ``np.save`` writes it (format 1.0)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()
