"""The ``imgjobs`` command line: a thin layer over :mod:`jobs.api` (parse, call, print, exit status).

One concern per module: :mod:`~jobs.cli.parser` (the parser),
:mod:`~jobs.cli.flags` and :mod:`~jobs.cli.helptext` (a job's flags and their
help, from what the job declares), :mod:`~jobs.cli.command` (running what was
asked), :mod:`~jobs.cli.study` (``imgjobs study``), :mod:`~jobs.cli.signals`
(SIGTERM, SIGHUP and Ctrl-C) and :mod:`~jobs.cli.logs` (log lines, and
distributed's tracebacks of closing dropped).

Exit codes: 0 when every file is fine, 1 when any file failed (or mismatched,
for ``verify``), 2 for usage errors, 130 when interrupted.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["main"]


def main(argv=None) -> int:
    """Run ``imgjobs`` with ``argv`` (default: the process's arguments); return the exit status."""
    try:
        if (sys.argv[1:] if argv is None else list(argv)) == ["--version"]:
            from jobs.version import __version__  # start-up: --version in ~20 ms, without dask (~150 ms)

            print(f"imgjobs {__version__}")
            return 0
        try:
            # dask reads every Dask config file when first imported: a malformed one is an error
            # message naming it, not a traceback
            import dask.config  # noqa: F401 - start-up: dask (~150 ms) loads past --version only
        except ValueError as e:
            print(f"imgjobs: error: {e}", file=sys.stderr)
            return 2
        from jobs.cli.command import run  # start-up: the command (~300 ms) loads past --version only

        return run(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting up, before the run's own handling: no traceback
        print("imgjobs: interrupted", file=sys.stderr)
        return 130
    finally:
        # The modules and objects of a finished run live until the process exits: keep the
        # cyclic collector off them (CPython's gc.freeze), so neither collections during
        # the job nor the final one at exit walk them (~35 ms of a short run's exit).
        gc.freeze()
