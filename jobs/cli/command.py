"""What the ``imgjobs`` command does once its arguments are parsed: call the API, print, set the exit status.

A thin layer: a job's command calls its Python function (the job's spec names
it) with the arguments as keywords, prints each failed file and the summary,
and exits 0 when every file is fine, 1 when any failed (or mismatched, for
``verify``), 2 for usage errors, 130 (or 128 + the signal) when interrupted.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import warnings
from concurrent.futures.process import BrokenProcessPool
from dataclasses import fields

from jobs import registry
from jobs.cli.logs import printable, setup_logging
from jobs.cli.parser import build_parser
from jobs.cli.signals import Terminated, handle_termination
from jobs.cli.study import run_study
from jobs.clusters import job_script, write_certificates
from jobs.errors import ClusterError, UsageError
from jobs.options import RunOptions
from jobs.running import check_report_path
from jobs.runtime.durable import write_atomic
from jobs.runtime.progress import Progress
from jobs.runtime.reads import read_json
from jobs.runtime.temporaries import new_token, sweep_temporaries

__all__ = ["run"]


def _samples(args) -> int:
    from jobs.samples import make_jpegs  # start-up: ~18 ms (Pillow's drawing), for imgjobs samples only

    progress = False if args.quiet else None  # a bar on a terminal: 2,000 images take about 16 s
    listing = make_jpegs(args.dir, args.jpegs, classes=args.classes, size=args.size, seed=args.seed, progress=progress)
    if not args.quiet:
        n = len({line.split("\t")[1] for line in listing.read_text().splitlines()})
        print(f"wrote {args.jpegs} JPEG(s) in {n} class folder(s) of {args.dir}, listed in {listing}")
    return 0


def _certs(args) -> int:
    paths = write_certificates(args.dir)
    if not args.quiet:
        print(
            f"wrote {paths['cert']} (certificate and CA file) and {paths['key']} (private key)\n"
            "use them in ~/.config/dask/imgjobs.yaml:\n"
            f"  imgjobs:\n    tls:\n      ca-file: {paths['ca-file']}\n      cert: {paths['cert']}\n"
            f"      key: {paths['key']}\n"
            "and start the scheduler and workers with\n"
            f"  --protocol tls --tls-ca-file {paths['ca-file']} --tls-cert {paths['cert']} --tls-key {paths['key']}"
        )
    return 0


def _error(message: str) -> None:
    print(f"imgjobs: error: {printable(message)}", file=sys.stderr)


def _run_options(args) -> dict:
    """The scheduler options of the command line: every field of :class:`~jobs.options.RunOptions`, by name."""
    return {f.name: getattr(args, f.name) for f in fields(RunOptions)}


def _write_report(path: str, report) -> None:
    """``report.to_dict()`` as JSON at ``path``, through a temporary file and a rename (never half-written).

    A temporary of it that a killed run left is removed first (one listing of its directory).
    """
    data = json.dumps(report.to_dict(), indent=1, default=str).encode()
    path = os.path.abspath(path)
    sweep_temporaries(os.path.dirname(path), of=os.path.basename(path))
    write_atomic(path, [data], new_token())


def _check_report_path(args) -> None:
    """Refuse a ``--report`` path that cannot be written, or that would replace anything but an earlier report.

    Not an input or output of the job, nor inside one (a batch, its sidecar, labels,
    shards or work folder; a source or output directory), and, if something is
    there already, only a JSON report imgjobs wrote.
    """
    spec = registry.get(args.command)
    claims = spec.claimed(*(getattr(args, name) for name in spec.inputs))
    check_report_path(args.report, claims, "the JSON report", "--report", _is_json_report)


def _is_json_report(path: str) -> bool:
    """Whether ``path`` holds a JSON report imgjobs wrote (``--report``)."""
    old = read_json(path)
    return isinstance(old, dict) and isinstance(old.get("job"), str) and isinstance(old.get("files"), list)


def _call_api(args, progress):
    """The job the arguments ask for, through its Python function (its spec's ``function``)."""
    spec = registry.get(args.command)
    inputs = [getattr(args, name) for name in spec.inputs]
    options = {k: getattr(args, k) for k in spec.option_names() if hasattr(args, k)}
    return spec.function(*inputs, progress=progress, **options, **_run_options(args))


def _run_job(args) -> int:
    if args.dry_run:
        run = RunOptions.from_kwargs(_run_options(args), "--dry-run")
        if not run.get("cluster"):
            raise UsageError("--dry-run prints a batch job script: use it with --cluster PROFILE")
        print(job_script(run.get("cluster"), tls=run.get("tls")))
        return 0
    if args.report:  # before anything runs: a run's outcomes are never lost to a path that cannot take them
        _check_report_path(args)
    progress = Progress(enabled=False if (args.no_progress or args.quiet) else None, dashboard=not args.quiet)
    try:
        report = _call_api(args, progress)
    except UsageError:
        raise
    except ClusterError as e:  # the batch system gives no worker
        _error(str(e))
        return 1
    except BrokenProcessPool:  # a worker of the processes scheduler died (killed, out of memory)
        _error(
            "a worker process died while it ran tasks (killed, or out of memory). Finished outputs are complete and "
            "nothing half-written is left: run the same command again to do the rest"
        )
        return 1
    except (FileNotFoundError, ValueError) as e:  # bad scheduler settings
        _error(str(e))
        return 2
    except OSError as e:  # e.g. no scheduler at the given address, a full disk
        _error(str(e))
        return 1
    if args.report:
        _write_report(args.report, report)
    for r in report.problems:
        label = "MISMATCH" if r.status == "mismatch" else "FAILED"
        print(f"{label} {printable(r.reason)}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
        for used in report.usage:  # what where it ran counted: a cluster's batch jobs
            print(used.line())
    return report.exit_code


def _built_in(argv: list) -> bool:
    """Whether ``argv`` asks for a command of imgjobs' own (so other packages' jobs need not be looked for)."""
    words = [a for a in argv if not a.startswith("-")][:2]
    own = set(registry.specs(plugins=False))
    if not words or words[0] not in own | {"study", "certs", "samples"}:
        return False
    return words[0] != "study" or (len(words) > 1 and words[1] in own)


def run(argv) -> int:
    """Parse ``argv``, run what it asks for, print the outcome; return the exit status."""
    gc.freeze()  # everything imported so far stays for the whole run
    # Pillow warns about images between its limit and twice it; imgjobs applies its own
    # (--max-pixels) and fails such files by name, so the warning would only be noise.
    warnings.filterwarnings("ignore", message="Image size .* exceeds limit", module="PIL")
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(plugins=not _built_in(argv))  # its help shows the configured defaults
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    restore = handle_termination()
    try:
        if args.command == "study":
            return run_study(args, argv)
        if args.command == "certs":
            return _certs(args)
        if args.command == "samples":
            return _samples(args)
        return _run_job(args)
    except UsageError as e:  # found after parsing: the message says what; no usage line
        _error(str(e))
        return 2
    except KeyboardInterrupt as e:
        what = "stopped by a signal" if isinstance(e, Terminated) else "interrupted"
        print(
            f"\nimgjobs: {what}. Finished outputs are complete and nothing half-written is left; "
            "run the same command again to do the rest.",
            file=sys.stderr,
        )
        return e.status if isinstance(e, Terminated) else 130
    except BrokenPipeError:  # the reader went away (imgjobs ... | head): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        restore()
