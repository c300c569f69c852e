"""How the command stops: SIGTERM and SIGHUP as an interrupt, and a Ctrl-C that Python swallowed sent again.

A batch system's walltime (SIGTERM), a closed terminal (SIGHUP) and Ctrl-C all
run the same cleanup: temporaries removed, clusters closed, worker jobs
cancelled.  :func:`handle_termination` installs that for a run and gives back
what it replaced, so :func:`jobs.cli.main` called in a notebook or a
test leaves the process as it was.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

__all__ = ["Terminated", "handle_termination"]

log = logging.getLogger("jobs")


class Terminated(KeyboardInterrupt):
    """SIGTERM (from ``timeout``, ``kill``, a batch system's walltime) or SIGHUP, as an interrupt:
    every cleanup that Ctrl-C runs (removing temporaries, closing clusters, cancelling worker jobs)
    runs for it too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.status = 128 + signum


def handle_termination() -> Callable[[], None]:
    """Install the signal handlers and the unraisable hook of a run; return what puts the old ones back."""

    def stop(signum, frame):
        raise Terminated(signum)

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    hook = sys.unraisablehook
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    # Ctrl-C raises KeyboardInterrupt, whatever a library installed (dask-jobqueue sets its own)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hook is not _redeliver_swallowed_interrupts:
        _redeliver_swallowed_interrupts.previous = hook  # type: ignore[attr-defined]
        sys.unraisablehook = _redeliver_swallowed_interrupts

    def restore() -> None:  # main() called in a notebook or a test: the process gets its own back
        for sig, handler in before.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = hook

    return restore


def _redeliver_swallowed_interrupts(unraisable) -> None:
    """``sys.unraisablehook``: a Ctrl-C or stopping signal that Python swallowed is sent again.

    A signal's handler raises in whatever Python code runs when it arrives.  If that is a
    garbage-collector callback (distributed installs one that asks the OS for the process's
    memory at each full collection), a ``__del__`` or a weakref callback, Python prints
    "Exception ignored" and goes on: the run would ignore the Ctrl-C and work to its end.
    The signal is sent again a moment later, when the main thread has left that code; any
    other unraisable exception goes to the hook that was there before.
    """
    exc = unraisable.exc_value
    if not isinstance(exc, KeyboardInterrupt):
        _redeliver_swallowed_interrupts.previous(unraisable)  # type: ignore[attr-defined]
        return
    signum = exc.status - 128 if isinstance(exc, Terminated) else signal.SIGINT
    log.debug("a signal landed where Python ignores exceptions (%s); sending it again", unraisable.object)
    resend = threading.Timer(0.05, os.kill, (os.getpid(), signum))
    resend.daemon = True
    resend.start()


_redeliver_swallowed_interrupts.previous = sys.__unraisablehook__  # type: ignore[attr-defined]
