"""The command's log output: levels, one line per message, and distributed's tracebacks of closing dropped.

A file name in a message never starts a line of its own (control characters
are escaped); the few tracebacks distributed and tornado log while a run stops
on purpose (Ctrl-C, a signal), and bokeh's when a dashboard tab closes early,
are dropped by the filters here, each matching one known record, so they never
follow imgjobs' own one-line message or fill a run's log.
"""

from __future__ import annotations

import logging
import os
import sys

import dask.config

__all__ = [
    "drop_cancelled_handlers",
    "drop_closed_dashboard_sockets",
    "drop_interrupted_sync",
    "printable",
    "setup_logging",
]


def setup_logging(verbose: int, quiet: bool) -> None:
    """Log to standard error at the level ``-v`` / ``-q`` ask for; distributed's loggers at warnings unless ``-vv``."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # file names in messages never start a line of their own
        handler.setFormatter(_PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(drop_cancelled_handlers)
        handler.addFilter(drop_closed_dashboard_sockets)
    logging.getLogger("jobs").setLevel(level)
    if verbose < 2:
        # distributed configures its loggers from dask.config when first imported: keep it to warnings.
        quiet_level = "error" if quiet else "warning"
        dask.config.set({"logging": {"distributed": quiet_level, "bokeh": "error", "tornado": "critical"}})
    logging.getLogger("tornado.application").addFilter(drop_interrupted_sync)


def drop_interrupted_sync(record: logging.LogRecord) -> bool:
    """False for the one traceback Ctrl-C can make distributed log: a NameError of ``sync``'s ``cancel``.

    ``distributed.utils.sync`` schedules ``cancel`` when a KeyboardInterrupt reaches it, and
    ``cancel`` reads a future that does not exist yet if the interrupt came before the call
    started: nothing was running, so nothing is lost, but the loop logs a traceback after our
    own clean message.  Every other record passes.
    """
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, NameError) and "'future'" in str(exc) and "sync.<locals>.cancel" in record.getMessage())


def drop_cancelled_handlers(record: logging.LogRecord) -> bool:
    """False for distributed's traceback of a handler cancelled while its scheduler closes.

    When a run stops (Ctrl-C, a signal) while a worker is still joining or talking,
    closing the scheduler cancels the coroutine reading that worker's stream, and
    distributed logs the ``asyncio.CancelledError`` as an ERROR with its traceback,
    after our own one-line message.  A cancelled handler is the closing itself, never
    a failure of the job.  So is the ``RuntimeError`` distributed's connection pool
    raises when it closes while a connection attempt's time-out is expiring ("Cannot
    change state of expiring Timeout", seen in CI after SIGTERM), and the scheduler's
    ``CommClosedError`` when a task ends after the stopped run's client has left (it
    cannot say so to the client), and a worker's heartbeat cut by its own connection
    pool closing ("Failed to communicate with scheduler during heartbeat", a
    ``CommClosedError: ConnectionPool closing.``, with two chained tracebacks): the
    worker itself is closing as the run ends.  Every other record passes.
    """
    exc = record.exc_info[1] if record.exc_info else None
    if not record.name.startswith("distributed"):
        return True
    import asyncio  # start-up: asyncio (~20 ms) only for distributed's records; it is loaded by then

    closing = isinstance(exc, RuntimeError) and str(exc) == "Cannot change state of expiring Timeout"
    # A task that ends after the stopped run's client left: the scheduler cannot tell the client it finished.
    from distributed.comm.core import CommClosedError  # start-up: distributed (~0.5 s), loaded by its records then

    gone = isinstance(exc, CommClosedError) and record.msg == "Closed comm %r while trying to write %s"
    heartbeat = (
        isinstance(exc, CommClosedError)
        and "ConnectionPool closing" in str(exc)
        and record.getMessage().startswith("Failed to communicate with scheduler during heartbeat")
    )
    if heartbeat:  # a worker's heartbeat cut by its own connection pool: the worker closes with the run
        return False
    return not (isinstance(exc, asyncio.CancelledError) or closing or gone)


def drop_closed_dashboard_sockets(record: logging.LogRecord) -> bool:
    """False for bokeh's traceback of a dashboard tab that closed its websocket early.

    When a browser tab of the Dask dashboard goes away without closing its
    websocket, bokeh's keep-alive ping finds the socket closed and detaches its
    session; when tornado then closes the handler, bokeh's ``on_close`` asks for
    that session, and ``bokeh/server/connection.py``'s ``assert self._session is
    not None`` fails: tornado logs an "Uncaught exception GET /status/ws" with
    25 lines of traceback on the command's standard error (seen with a headless
    Chromium killed during a run).  Nothing of the run or of the dashboard is
    lost: the tab is gone.  Dropped, whichever logger carries it, is exactly an
    ``AssertionError`` raised in that property; every other record passes.
    """
    exc = record.exc_info[1] if record.exc_info else None
    if not isinstance(exc, AssertionError) or exc.__traceback__ is None:
        return True
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    where = code.co_filename.replace(os.sep, "/")
    return not (code.co_name == "session" and where.endswith("bokeh/server/connection.py"))


class _PrintableFormatter(logging.Formatter):
    """Log lines with control characters escaped (tracebacks keep their lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))


def printable(text: str) -> str:
    """``text`` with control characters escaped: a file name cannot start a line of its own."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
