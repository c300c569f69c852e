"""Files: listing directories once, naming outputs, durable atomic writes, sweeping temporaries.

Shared by every job.  The rules that keep a job's cost linear in its files:

* a directory is listed once per job (:func:`list_inputs`, :func:`list_outputs`),
  never once per file;
* file names travel as :class:`Names` (a directory and the names in it), a few
  bytes per file;
* outputs are written under a hidden temporary name and renamed into place, so
  an interrupted job never leaves a truncated output; a task's outputs are made
  durable together (:class:`BatchWriter`: one ``syncfs`` on Linux) before any is
  renamed, so a name only ever points at complete data on disk;
* temporaries of killed attempts and earlier runs are swept with one listing of
  each output directory (:func:`sweep_temporaries`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import stat
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jobs.errors import BusyError, StalePlan, UsageError

__all__ = [
    "LOCK_NAME",
    "TEMP_SUFFIX",
    "BatchWriter",
    "BusyError",
    "Failed",
    "InputListing",
    "Names",
    "OutputListing",
    "OutputLock",
    "StalePlan",
    "UsageError",
    "check_writable_dir",
    "check_writable_file",
    "failure",
    "flush_file_system",
    "list_inputs",
    "list_outputs",
    "new_token",
    "output_lock",
    "read_json",
    "remove_path",
    "stem",
    "sweep_temporaries",
    "temp_path",
    "write_atomic",
]

log = logging.getLogger(__name__)

#: Every temporary this tool writes ends with this (``.<name>.<token>[-<attempt>].imgjobs.tmp``).
TEMP_SUFFIX = ".imgjobs.tmp"


@dataclass(frozen=True)
class Failed:
    """Returned by a block task instead of raising, so one bad file never stops a job."""

    reason: str


@dataclass(frozen=True)
class Names(Sequence):
    """Paths as one directory and the names in it: a few bytes per file, in task arguments and reports.

    Parameters
    ----------
    directory : str
        Where the files are ("" when ``names`` are whole paths).
    names : tuple of str
        File names in ``directory``.
    suffix : str, optional
        When set, path ``i`` is the name's stem plus this suffix (``page.bmp`` ->
        ``page.rle``): outputs named after their inputs without storing a second name.
    """

    directory: str
    names: tuple
    suffix: str | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Names(self.directory, self.names[i], self.suffix)
        name = self.names[i]
        if self.suffix is not None:
            name = stem(name) + self.suffix
        d = self.directory
        if not d:
            return name
        return d + name if d.endswith(os.sep) else d + os.sep + name

    def __iter__(self):
        return (self[i] for i in range(len(self.names)))

    def basenames(self) -> list[str]:
        """The file name of every path, without building the paths (``os.path.basename`` of each)."""
        if self.suffix is None or any(os.sep in n for n in self.names):
            return [os.path.basename(p) for p in self]
        return [stem(n) + self.suffix for n in self.names]

    def take(self, indices: Iterable[int]) -> Names:
        """The names at ``indices``, in that order."""
        return Names(self.directory, tuple(self.names[i] for i in indices), self.suffix)


def stem(name: str) -> str:
    """A file name without its extension (``os.path.splitext(name)[0]`` for a plain name, cheaper)."""
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


def new_token() -> str:
    """A short random token that makes one run's temporary names unique."""
    return uuid.uuid4().hex[:12]


def temp_path(dst: str, token: str) -> str:
    """Hidden temporary name next to ``dst``, e.g. ``.page.rle.<token>.imgjobs.tmp``."""
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}.{token}{TEMP_SUFFIX}")


def _token_of(temp_name: str) -> str | None:
    """The run token in a temporary's name (without the attempt suffix), or None if it is not one of ours."""
    if not (temp_name.startswith(".") and temp_name.endswith(TEMP_SUFFIX)):
        return None
    stem = temp_name[: -len(TEMP_SUFFIX)]
    return stem.rsplit(".", 1)[-1].split("-", 1)[0]


# --------------------------------------------------------------------------- listings


@dataclass
class InputListing:
    """The input files of one directory, from one ``scandir``.

    Attributes
    ----------
    directory : str
        The directory listed.
    names : list of str
        Regular files with a wanted extension (symbolic links to regular files
        count), sorted.
    sizes : list of int
        Their sizes in bytes.
    others : list of (str, str)
        Entries with a wanted extension that are not regular files (a FIFO, a
        directory, a broken or looping link), with the reason: reported, never
        opened.
    mtimes : list of int
        Their modification times in nanoseconds (what a rerun compares outputs with).
    """

    directory: str
    names: list
    sizes: list
    others: list
    mtimes: list | None = None


def list_inputs(directory: str, extensions) -> InputListing:
    """List the files of ``directory`` whose extension is in ``extensions`` (lower case, with the dot).

    One ``scandir`` and one ``stat`` per matching entry.  Hidden entries (``.name``),
    this tool's temporaries among them, are ignored.
    """
    entries = []
    others = []
    with os.scandir(directory) as it:
        for entry in it:
            name = entry.name
            dot = name.rfind(".")
            if dot <= 0 or name[dot:].lower() not in extensions:  # hidden, no extension, not wanted
                continue
            try:
                st = entry.stat()  # follows a link; a loop or a dangling link raises here
            except OSError as e:
                others.append((name, f"cannot read: {e.strerror or e}"))
                continue
            if stat.S_ISREG(st.st_mode):
                entries.append((name, st.st_size, st.st_mtime_ns))
            else:
                others.append((name, f"not a regular file ({_kind(st.st_mode)})"))
    entries.sort()
    others.sort()
    return InputListing(directory, [e[0] for e in entries], [e[1] for e in entries], others, [e[2] for e in entries])


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return word
    return "not a file"


@dataclass
class OutputListing:
    """What an output directory holds, from one ``scandir``: existing names and our temporaries."""

    directory: str
    exists: bool
    names: set
    temporaries: list


def list_outputs(directory: str) -> OutputListing:
    """List an output directory once (it may not exist yet)."""
    names, temps = set(), []
    try:
        with os.scandir(directory or ".") as it:
            for entry in it:
                if entry.name.endswith(TEMP_SUFFIX) and entry.name.startswith("."):
                    temps.append(entry.name)
                else:
                    names.add(entry.name)
    except FileNotFoundError:
        return OutputListing(directory, False, names, temps)
    return OutputListing(directory, True, names, temps)


def failure(path, exc: BaseException) -> str:
    """Why a file failed, for people: names the file (once), the OS's words for OS errors, and the
    exception's type when its message alone is unclear (``struct.error: argument out of range``)."""
    from rle.imageio import describe

    path = str(path)
    text = describe(exc)
    if isinstance(exc, OSError) and exc.strerror and exc.filename and exc.filename != path:
        text = f"{exc.strerror}: {exc.filename}"
    return text if path in text else f"{path}: {text}"


def check_writable_dir(directory: str) -> None:
    """Refuse, before anything runs, an output directory this process cannot create or write into."""
    d = os.path.abspath(directory or ".")
    probe = d
    while not os.path.exists(probe):  # a directory the tasks will create: its nearest existing parent
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise UsageError(f"cannot write into {d}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "write into" if probe == d else f"create {d} in"
        raise UsageError(f"cannot {what} {probe}: permission denied")


def check_writable_file(path: str, what: str) -> None:
    """Refuse, before anything runs, a file path that cannot be written (a directory, a missing parent...)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a directory: give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {what} {path}: permission denied")


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


def sweep_temporaries(directory: str, *, token: str | None = None, stale: Iterable[str] = ()) -> int:
    """Remove our temporaries from ``directory`` with one listing; return how many.

    Parameters
    ----------
    directory : str
        An output directory.
    token : str, optional
        Remove every temporary of this run (attempts that a lost worker or an
        interrupt left).
    stale : iterable of str
        Names of temporaries that were there before this run started (left by a
        killed run); removed if still there.
    """
    stale = set(stale)
    n = 0
    try:
        it = os.scandir(directory or ".")
    except FileNotFoundError:
        return 0
    with it:
        for entry in it:
            t = _token_of(entry.name)
            if t is None or not (t == token or entry.name in stale):
                continue
            if remove_path(entry.path):
                n += 1
                log.info("removed a temporary file a lost worker or an interrupted run left: %s", entry.path)
    return n


#: The lock file every imgjobs run holds in the directory it writes into (one per directory, so the
#: sibling names of one run's outputs can never be another run's outputs at the same moment).
LOCK_NAME = ".imgjobs.lock"


def output_lock(directory: str, *, shared: bool = False) -> OutputLock:
    """The lock of an output directory: exclusive for a run, ``shared`` for the tasks of a graph computed later."""
    directory = directory or "."
    return OutputLock(os.path.join(directory, LOCK_NAME), directory, shared=shared)


class OutputLock:
    """Exclusive use of an output place for one run: ``flock`` on a hidden lock file beside the outputs.

    Held by the process that runs the job from start to finish, so no other
    imgjobs run can write there or sweep this run's temporaries meanwhile; the
    kernel releases it when that process ends, however it ends, so a killed run
    never leaves a stale lock.  Where the file system has no locks (some parallel
    file systems without ``-o flock``), a warning says so and the run goes on.

    Parameters
    ----------
    path : str
        The lock file (its directory is created if missing).
    place : str
        What it protects, for the message.
    """

    def __init__(self, path: str, place: str, *, shared: bool = False):
        self.path = path
        self.place = place
        self.shared = shared
        self._fd = None

    def __enter__(self):
        import fcntl
        import socket
        import time

        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise BusyError(
                    f"another imgjobs run ({holder}) is writing into {self.place}: wait for it to finish, or "
                    f"write elsewhere (lock file {self.path})"
                ) from None
            except OSError as e:  # no locks on this file system
                log.warning("cannot lock %s (%s): nothing stops two runs writing there at once", self.path, e.strerror)
                os.close(fd)
                return self
            # The run before may have unlinked the file between our open and our lock: then ours
            # is a lock on a file nobody else will find, and we must lock the one at the path.
            try:
                same = os.path.samestat(os.lstat(self.path), os.fstat(fd))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        if not self.shared:  # shared holders (the tasks of one graph) leave the holder's line alone
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.ctime()}".encode(), 0)
        self._fd = fd
        return self

    def _open(self) -> int:
        """The lock file, opened (created if missing); a link, a FIFO or a directory there is refused, untouched.

        Never followed: a link named like the lock file would have imgjobs
        truncate and write whatever file it points to.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as e:
            if os.path.islink(self.path):
                what = "a symbolic link"
            elif os.path.isdir(self.path):
                what = "a directory"
            else:
                raise OSError(e.errno, f"cannot open the lock file {self.path}: {e.strerror}") from None
            raise UsageError(
                f"{self.path}, where imgjobs keeps the lock of {self.place}, is {what} it did not make: move it away"
            ) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise UsageError(
                f"{self.path}, where imgjobs keeps the lock of {self.place}, is {_kind(st.st_mode)}, not a file it "
                "made: move it away"
            )
        os.set_blocking(fd, True)
        return fd

    def __exit__(self, *exc):
        if self._fd is not None:
            if not self.shared:  # never under other shared holders' feet
                with contextlib.suppress(OSError):
                    os.unlink(self.path)  # while still holding it: a waiting run sees the file gone and retries
            os.close(self._fd)
            self._fd = None
        return False


# --------------------------------------------------------------------------- writing


@functools.lru_cache(maxsize=1)
def _libc_syncfs():
    """libc's ``syncfs`` (Linux), found on first use; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
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
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}", directory)
    finally:
        os.close(fd)
    return True


def flush_file_system(directory: str) -> None:
    """Make everything written under ``directory`` durable: ``syncfs`` on Linux, ``sync`` elsewhere."""
    if not _syncfs(directory):
        os.sync()


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _write_bytes(path: str, data) -> int:
    fd = os.open(path, _WRITE_FLAGS, 0o666)
    try:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return total


class BatchWriter:
    """Write a task's outputs through temporaries, make them durable together, then rename them.

    Each temporary carries the run's ``token`` and a random attempt suffix, so two
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
        self._tag = f".{token}-{new_token()[:6]}{TEMP_SUFFIX}"  # one attempt: its outputs have distinct names
        self._pending: list[tuple[str, str]] = []  # (temporary, destination)
        self._dirs: set[str] = set()  # the directories they are in
        #: Destination -> its size and modification time (ns) right after its rename (a finish records them).
        self.stamps: dict[str, tuple[int, int]] = {}

    def add(self, dst: str, data) -> int:
        """Write ``data`` (bytes-like) to a temporary for ``dst``; return the bytes written."""
        head, tail = os.path.split(dst)
        tmp = os.path.join(head, "." + tail + self._tag)
        try:
            n = _write_bytes(tmp, data)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        self._pending.append((tmp, dst))
        self._dirs.add(head)
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
                    _fsync_path(tmp)
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


#: The largest state file (sidecar, plan, done record, manifest) read: a sidecar of a million images is ~150 MB.
MAX_JSON_BYTES = 1 << 30


def read_json(path: str):
    """The JSON in ``path``, or None when it is missing, unreadable, not a regular file or not JSON.

    Every state file is read as hostile: a FIFO or a device never blocks (only a
    regular file is read), a file over :data:`MAX_JSON_BYTES` is not read, and
    JSON nested past Python's recursion limit is garbage like any other.
    """
    import json

    from rle import open_regular

    try:
        with open_regular(path) as f:
            if os.fstat(f.fileno()).st_size > MAX_JSON_BYTES:
                return None
            return json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def write_atomic(dst: str, parts, token: str) -> int:
    """Write one output through a temporary file, ``fsync`` and a rename; return the bytes written.

    For one large output (a file assembled from row blocks); many small ones go
    through :class:`BatchWriter`.
    """
    tmp = temp_path(dst, f"{token}-{new_token()[:6]}")
    try:
        with open(tmp, "wb") as f:
            n = 0
            for part in parts:
                n += f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return n
