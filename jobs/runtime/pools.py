"""Worker processes imgjobs starts itself: forked from this process where that is safe, and dying with it.

Dask's ``processes`` scheduler (:mod:`jobs.runtime.runners`) and a job's own
``ProcessPoolExecutor`` take their pools here.

A worker started with ``spawn`` is a fresh interpreter that imports Dask and
numpy again: about 0.3 s of both cores here before its first task, which is
most of a batch of small files.  A forked worker starts at once with what this
process has imported.  Forking is safe when no other Python thread runs here
(none can hold a lock the child would inherit held), on Linux; elsewhere the
workers are spawned.  A forked worker also inherits every open file, the output
directory's lock among them, and the other ends of its own task pipes: were its
parent killed, nothing would tell it to stop, and it would keep that lock,
refusing every later run there (a spawned one would linger, idle).  So every
worker asks Linux for its parent's death signal (``PR_SET_PDEATHSIG``) before
anything else.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

from jobs.runtime.libc import linux_call

__all__ = ["fork_refused", "process_pool", "start_method"]

log = logging.getLogger(__name__)

#: ``PR_SET_PDEATHSIG`` of ``<linux/prctl.h>``: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def _libc_prctl():
    """libc's ``prctl`` (Linux; variadic); None elsewhere."""
    return linux_call("prctl")


def fork_refused() -> str | None:
    """Why worker processes may not be forked from this process now, for people; None when they may.

    Returns
    -------
    str or None
        ``"not on darwin"``, ``"2 other thread(s) run here"``...; None on Linux
        with ``prctl`` while this process runs a single Python thread.  Native
        pools (OpenBLAS) do not count: they are fork-safe, and imgjobs keeps
        OpenCV's own pool off.
    """
    if not sys.platform.startswith("linux"):
        return f"not on {sys.platform}"
    if _libc_prctl() is None:
        return "libc's prctl is not available"
    others = threading.active_count() - 1
    if others:
        return f"{others} other thread(s) run here"
    return None


def _die_with(parent: int, then=None) -> None:
    """Start a worker: it gets SIGKILL when ``parent`` dies (Linux), then runs ``then()`` (if any).

    Module-level and given by reference, so a spawned worker can run it too.
    """
    prctl = _libc_prctl()
    if prctl is not None and prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"a worker process cannot ask for its parent's death signal: {os.strerror(err)}")
    if parent and os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)
    if then is not None:
        then()


def process_pool(workers: int, then=None, context: str | None = None):
    """``workers`` processes, each dying with this one (Linux): forked where :func:`fork_refused` allows, else spawned.

    Parameters
    ----------
    workers : int
        Processes in the pool.
    then : callable, optional
        Runs in each worker once it is set up (Dask's worker initializer); a
        module-level function, so a spawned worker can run it.
    context : str, optional
        A start method asked for by name (``fork``, ``spawn``, ``forkserver``):
        kept, whatever :func:`fork_refused` says.  A ``forkserver`` worker dies
        with the fork server, which ends with this process.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        :func:`start_method` says how its workers start.
    """
    if context is None:
        why = fork_refused()
        context = "fork" if why is None else "spawn"
        log.info(
            "worker processes: %d %s",
            workers,
            "forked from this one" if why is None else f"spawned (not forked: {why})",
        )
    parent = os.getpid() if context in ("fork", "spawn") else 0  # a fork server is the forkserver's workers' parent
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(context),
        initializer=functools.partial(_die_with, parent, then),
    )


def start_method(pool) -> str:
    """How the workers of a :func:`process_pool` start: ``fork``, ``spawn`` or ``forkserver``."""
    return pool._mp_context.get_start_method()
