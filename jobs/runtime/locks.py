"""The lock of an output directory: one imgjobs run writes there at a time.

Every run holds it from planning to the report (:func:`jobs.runtime.engine.run`),
and every task of a graph computed later takes it while it runs
(:func:`jobs.runtime.engine.to_delayed`).  The kernel releases it when the
holding process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import stat
import time

from jobs.errors import BusyError, UsageError
from jobs.runtime.listing import kind_of_mode
from jobs.runtime.places import Place, refusal

__all__ = ["LOCK_NAME", "OutputLock", "lock_place", "output_lock"]

log = logging.getLogger(__name__)


#: The lock file every imgjobs run holds in the directory it writes into (one per directory, so the
#: sibling names of one run's outputs can never be another run's outputs at the same moment).
LOCK_NAME = ".imgjobs.lock"


def output_lock(directory: str, *, shared: bool = False) -> OutputLock:
    """The lock of an output directory: exclusive for a run, ``shared`` for the tasks of a graph computed later."""
    directory = directory or "."
    return OutputLock(os.path.join(directory, LOCK_NAME), directory, shared=shared)


def lock_place(directory: str) -> Place:
    """Where the lock of ``directory`` is, for a job's check of its places while it plans
    (:func:`jobs.runtime.places.check_places`)."""
    directory = directory or "."
    return Place(os.path.join(directory, LOCK_NAME), f"the lock of {directory}")


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
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                st = os.fstat(fd)
                os.close(fd)
                raise BusyError(_busy(holder, self.place, self.path, st)) from None
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
        there = os.pread(fd, 64, 0)
        if there and not there.startswith(b"pid "):  # a file of someone else's by our name: never overwritten
            os.close(fd)
            raise refusal(self._place(), "a file imgjobs did not write (it names no run)")
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
            else:  # no right to write there (a read-only or immutable folder): nothing can run
                raise UsageError(
                    f"cannot open the lock file {self.path} ({e.strerror}): imgjobs writes into {self.place} "
                    "and must be able to create files there; make it writable, or write elsewhere"
                ) from None
            raise refusal(self._place(), what) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise refusal(self._place(), kind_of_mode(st.st_mode))
        os.set_blocking(fd, True)
        return fd

    def _place(self) -> Place:
        return Place(self.path, f"the lock of {self.place}")

    def __exit__(self, *exc):
        if self._fd is not None:
            if not self.shared:  # never under other shared holders' feet
                with contextlib.suppress(OSError):
                    os.unlink(self.path)  # while still holding it: a waiting run sees the file gone and retries
            os.close(self._fd)
            self._fd = None
        return False


def _busy(holder: str, place: str, path: str, st: os.stat_result) -> str:
    """Why a run is refused: the run the lock file names, or, when that process is gone, the processes that
    still have the lock file open (a child it started that outlived it, found in ``/proc``)."""
    pid = holder.split()[1] if holder.startswith("pid ") and len(holder.split()) > 1 else ""
    if not pid:  # taken, and the run gone before it wrote who it is, or a process that is no run of ours
        others = ", ".join(f"pid {p} ({cmd})" for p, cmd in _openers(st))
        if others:
            return (
                f"{others} holds the lock of {place}, with no word of which run it is: if no imgjobs run of "
                f"yours is writing there, stop it (kill PID), then run again (lock file {path})"
            )
    if not (pid.isdigit() and _on_this_host(holder) and not _alive(int(pid))):
        return (
            f"another imgjobs run ({holder}) is writing into {place}: wait for it to finish, or "
            f"write elsewhere (lock file {path})"
        )
    others = ", ".join(f"pid {p} ({cmd})" for p, cmd in _openers(st)) or "a process this user cannot see"
    return (
        f"the imgjobs run that locked {place} (pid {pid}) has ended, but {others} still holds its lock, "
        f"a process it started that outlived it: stop it (kill PID), then run again (lock file {path})"
    )


def _on_this_host(holder: str) -> bool:
    """Whether a lock file's line names a process of this machine (a pid elsewhere says nothing here)."""
    return f" on {socket.gethostname()} " in f" {holder} "


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _openers(st: os.stat_result) -> list[tuple[int, str]]:
    """The processes with the file of ``st`` open (Linux ``/proc``; empty elsewhere): pid and command line."""
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{name}/fd"):
                    with contextlib.suppress(OSError):
                        if os.path.samestat(os.stat(f"/proc/{name}/fd/{fd}"), st):
                            with open(f"/proc/{name}/cmdline", "rb") as f:
                                cmd = " ".join(f.read(200).replace(b"\0", b" ").decode(errors="replace").split())
                            found.append((int(name), cmd or "?"))
                            break
    return found
