"""The ``imgjobs`` command line: a thin layer over :mod:`jobs.api` (parse, call, print, exit status).

Exit codes: 0 when every file is fine, 1 when any file failed (or mismatched,
for ``verify``), 2 for usage errors, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable

from jobs.cliargs import add_scheduler_options, examples, list_of, positive, whole

__all__ = ["main"]

log = logging.getLogger("jobs")

_EPILOG = """\
schedulers:
  auto                threads, or processes when {auto_files} small files or more share batch tasks
  threads             dask's thread pool in this process: instant start; large images scale on it
  processes           dask's local process pool: many small files (Python-bound work) scale on it
  local               a distributed LocalCluster, --workers N x --threads-per-worker T,
                      on 127.0.0.1 with the dashboard (the link is printed)
  --scheduler-address / --scheduler-file
                      an existing cluster, e.g. `dask scheduler --scheduler-file f.json`
                      started by a batch job (scripts/pbs_job.sh, scripts/slurm_job.sh)
  --cluster pbs|slurm --jobs N
                      workers submitted as N batch jobs through dask-jobqueue, sized by a
                      profile in configs/imgjobs.yaml; --dry-run prints the job script
  --tls               encrypted, authenticated connections (see `imgjobs certs`)

examples:
  imgjobs compress scans/ rle/ --scheduler local --workers 2
  imgjobs verify scans/ rle/
  imgjobs resize train.txt --num-images 2000 --out batch.npy
  imgjobs study resize train.txt --workers 1,2 --out study-resize
  imgjobs compress scans/ rle/ --cluster pbs --jobs 4 --dry-run

Defaults come from configs/imgjobs.yaml through dask.config; flags win.  The scheduler
by default (imgjobs.scheduler.kind): {kind}.
Exit status: 0 all fine, 1 some file failed, 2 usage error, 130 interrupted.
"""


def _version() -> str:
    """``jobs.__version__``, the one place the version is written (pyproject.toml reads it too).

    Not ``importlib.metadata``: it scans every installed distribution, ~12 ms of each command's start.
    """
    import jobs

    return jobs.__version__


def _add_study_parser(sub, verbosity) -> None:
    from jobs import registry

    cores = os.cpu_count() or 1
    workers = ",".join(str(w) for w in sorted({1, 2, cores // 2, cores} - {0}))
    s = sub.add_parser(
        "study",
        parents=[verbosity],
        help="throughput studies: sweeps, CSV, Markdown report, figures",
        description="Run a job under many configurations (--repeats each) and write into --out: results.csv, "
        "results.md (machine, table, shared-baseline speedups, Amdahl and per-task overhead fits, warnings, how "
        "to read each figure) and, with matplotlib (pip install 'imgjobs[plot]'), throughput.png, "
        "efficiency.png and, for a task-size sweep, task_size.png. The same as jobs.study.sweep in Python.",
        epilog=examples(
            "imgjobs study resize train.txt --workers 1,2 --out study-resize",
            "imgjobs study compress scans/",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = s.add_subparsers(dest="study", metavar="JOB", required=True)
    common = argparse.ArgumentParser(add_help=False, parents=[verbosity])
    g = common.add_argument_group("sweep")
    g.add_argument(
        "--workers",
        type=list_of(positive),
        metavar="LIST",
        default=list_of(positive)(workers),
        help=f"worker counts (default {workers}: 1, 2, half the cores, every core)",
    )
    g.add_argument(
        "--threads-per-worker",
        type=list_of(positive),
        default=[1],
        metavar="LIST",
        help="threads per LocalCluster worker (default 1)",
    )
    g.add_argument(
        "--modes",
        type=list_of(str),
        default=["threads", "local"],
        metavar="LIST",
        help="Dask schedulers: threads, processes, local (default threads,local)",
    )
    g.add_argument("--repeats", type=positive, default=3, metavar="R", help="runs per configuration (default 3)")
    g.add_argument("--out", metavar="DIR", help="where results go (default study-JOB)")
    g.add_argument("--no-figures", action="store_true", help="only results.csv and results.md")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    for spec in registry.specs().values():  # every job a study can sweep
        if spec.study is None:
            continue
        first = next(iter(spec.inputs))
        j = ssub.add_parser(
            spec.name,
            parents=[common],
            help=f"sweep the {spec.name} job",
            description=f"Sweep the {spec.name} job: Dask schedulers x workers x {spec.study.knob_label}"
            + (", and the classic exercise's executors" if spec.study.executors else "")
            + f". The job's own options have the {spec.name} command's defaults.",
            epilog=examples(f"imgjobs study {spec.name} {first.upper()} --workers 1,2 --out study-{spec.name}"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        j.add_argument(first, metavar=first.upper(), help=f"what {spec.name} reads (as for imgjobs {spec.name})")
        registry.load(spec.options).add_arguments(j, names=spec.study.options)
        for name in spec.study.options:
            if name in spec.keywords:
                spec.keywords[name].add_to(j, name)
        registry.load(spec.study.arguments)(j)


def _study(args, argv) -> int:
    import shlex

    from tqdm import tqdm

    from jobs import registry, study

    spec = registry.get(args.study)
    assert spec.study is not None  # its subcommand exists only then
    chosen = getattr(args, "executors", [])
    executors = [] if chosen == ["none"] else chosen
    configs = study.grid(
        args.study,
        workers=args.workers,
        modes=args.modes,
        threads_per_worker=args.threads_per_worker,
        task_sizes=args.task_sizes,
        executors=executors,
    )
    options = {k: getattr(args, k) for k in spec.study.options if hasattr(args, k)}
    out = args.out or f"study-{args.study}"
    try:  # before any measurement: a sweep's results are never lost to an --out that cannot take them
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        from jobs.errors import UsageError

        raise UsageError(f"--out {out}: cannot write the study's results there ({e.strerror or e})") from None

    def say(row):
        if not args.quiet:
            threads = f" x {row['threads_per_worker']} threads" if row["threads_per_worker"] > 1 else ""
            tqdm.write(
                f"  {row['mode']:<19} {row['workers']:>3} worker(s){threads:<12} task size {row['task_size']!s:>5}: "
                f"{row['rate']:>10,.1f} {row['unit']} (median {row['median_s']:.3f} s of {row['repeats']})"
            )

    if not args.quiet:
        print(f"study {args.study}: {len(configs)} configuration(s) x {args.repeats} repeat(s), {os.cpu_count()} cores")
    result = study.sweep(
        args.study,
        configs,
        args.repeats,
        source=getattr(args, next(iter(spec.inputs))),
        progress=False if (args.quiet or args.no_progress) else None,
        callback=say,
        **options,
    )
    result.command = "imgjobs " + " ".join(shlex.quote(a) for a in argv)
    paths = result.save(out, figures=not args.no_figures)
    if not args.quiet:
        print("wrote " + ", ".join(paths))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``imgjobs``."""
    from jobs.params import configured

    parser = argparse.ArgumentParser(
        prog="imgjobs",
        description="Image batch jobs on Dask: compress 1-bit images to the classic .rle format and back, "
        "build (N, H, W, 3) training batches from JPEG lists, and measure throughput.",
        epilog=_EPILOG.replace("{auto_files}", configured("scheduler.auto-processes-files")).replace(
            "{kind}", configured("scheduler.kind")
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no summary")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # the same two flags after the subcommand (imgjobs compress ... -q)
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    verbosity.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    from jobs import registry

    for spec in registry.specs().values():  # one command per job
        p = sub.add_parser(
            spec.name,
            parents=[verbosity],
            help=spec.help,
            description=spec.description,
            epilog=examples(*spec.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        spec.add_arguments(p)
        add_scheduler_options(p)

    k = sub.add_parser(
        "certs",
        parents=[verbosity],
        help="make TLS certificates for a private cluster",
        description="Write a self-signed certificate (cert.pem, also the CA file) and its key (key.pem, "
        "mode 600) into DIR, for --tls with a scheduler file, an address or a cluster profile. Put DIR "
        "on a file system the compute nodes share, and give the same files to dask scheduler and "
        "dask worker (--tls-ca-file, --tls-cert, --tls-key).",
        epilog=examples("imgjobs certs ~/imgjobs-certs"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument("dir", metavar="DIR", help="directory for cert.pem and key.pem (created if missing)")

    m = sub.add_parser(
        "samples",
        parents=[verbosity],
        help="write sample JPEGs (class folders and a labelled list) for resize and studies",
        description="Write N photograph-like JPEGs into class folders of DIR, and DIR/train.txt listing each "
        "with its label: input for imgjobs resize, imgjobs study resize and the course notebook, no download "
        "needed. The same --seed writes the same bytes.",
        epilog=examples(
            "imgjobs samples photos/ --jpegs 2000       # photos/train.txt: 2,000 images, 4 classes",
            "imgjobs resize photos/train.txt --size 64x64 --out batch.npy",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("dir", metavar="DIR", help="where the class folders and train.txt go (created if missing)")
    m.add_argument("--jpegs", type=positive, default=200, metavar="N", help="how many images (default 200)")
    m.add_argument(
        "--classes", type=positive, metavar="K", help="class folders (default 4, or the number of images if fewer)"
    )
    m.add_argument(
        "--size", default="500x375", metavar="WxH", help="image size (default 500x375, ImageNet's most common)"
    )
    m.add_argument("--seed", type=whole(0), default=0, metavar="S", help="random seed, >= 0 (default 0)")

    _add_study_parser(sub, verbosity)
    return parser


def _samples(args) -> int:
    from jobs.samples import make_jpegs

    listing = make_jpegs(args.dir, args.jpegs, classes=args.classes, size=args.size, seed=args.seed)
    if not args.quiet:
        n = len({line.split("\t")[1] for line in listing.read_text().splitlines()})
        print(f"wrote {args.jpegs} JPEG(s) in {n} class folder(s) of {args.dir}, listed in {listing}")
    return 0


def _certs(args) -> int:
    from jobs.clusters import write_certificates

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


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # file names in messages never start a line of their own
        handler.setFormatter(_PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_drop_cancelled_handlers)
    logging.getLogger("jobs").setLevel(level)
    if verbose < 2:
        # distributed configures its loggers from dask.config when first imported: keep it to warnings.
        import dask.config

        quiet_level = "error" if quiet else "warning"
        dask.config.set({"logging": {"distributed": quiet_level, "bokeh": "error", "tornado": "critical"}})
    logging.getLogger("tornado.application").addFilter(_drop_interrupted_sync)


def _drop_interrupted_sync(record: logging.LogRecord) -> bool:
    """False for the one traceback Ctrl-C can make distributed log: a NameError of ``sync``'s ``cancel``.

    ``distributed.utils.sync`` schedules ``cancel`` when a KeyboardInterrupt reaches it, and
    ``cancel`` reads a future that does not exist yet if the interrupt came before the call
    started: nothing was running, so nothing is lost, but the loop logs a traceback after our
    own clean message.  Every other record passes.
    """
    exc = record.exc_info[1] if record.exc_info else None
    return not (isinstance(exc, NameError) and "'future'" in str(exc) and "sync.<locals>.cancel" in record.getMessage())


def _drop_cancelled_handlers(record: logging.LogRecord) -> bool:
    """False for distributed's traceback of a handler cancelled while its scheduler closes.

    When a run stops (Ctrl-C, a signal) while a worker is still joining or talking,
    closing the scheduler cancels the coroutine reading that worker's stream, and
    distributed logs the ``asyncio.CancelledError`` as an ERROR with its traceback,
    after our own one-line message.  A cancelled handler is the closing itself, never
    a failure of the job.  So is the ``RuntimeError`` distributed's connection pool
    raises when it closes while a connection attempt's time-out is expiring ("Cannot
    change state of expiring Timeout", seen in CI after SIGTERM).  Every other record passes.
    """
    import asyncio

    exc = record.exc_info[1] if record.exc_info else None
    if not record.name.startswith("distributed"):
        return True
    closing = isinstance(exc, RuntimeError) and str(exc) == "Cannot change state of expiring Timeout"
    return not (isinstance(exc, asyncio.CancelledError) or closing)


class Terminated(KeyboardInterrupt):
    """SIGTERM (from ``timeout``, ``kill``, a batch system's walltime) or SIGHUP, as an interrupt:
    every cleanup that Ctrl-C runs (removing temporaries, closing clusters, cancelling worker jobs)
    runs for it too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.status = 128 + signum


def _handle_termination() -> Callable[[], None]:
    """Install the signal handlers and the unraisable hook of a run; return what puts the old ones back."""
    import signal

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
    import signal
    import threading

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


class _PrintableFormatter(logging.Formatter):
    """Log lines with control characters escaped (tracebacks keep their lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _printable(super().formatMessage(record))


def _printable(text: str) -> str:
    """``text`` with control characters escaped: a file name cannot start a line of its own."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _error(message: str) -> None:
    print(f"imgjobs: error: {_printable(message)}", file=sys.stderr)


def _run_options(args) -> dict:
    """The scheduler options of the command line: every field of :class:`~jobs.options.RunOptions`, by name."""
    from dataclasses import fields

    from jobs.options import RunOptions

    return {f.name: getattr(args, f.name) for f in fields(RunOptions)}


def _write_report(path: str, report) -> None:
    """``report.to_dict()`` as JSON at ``path``, through a temporary file and a rename (never half-written)."""
    import json

    from jobs.runtime.files import new_token, write_atomic

    data = json.dumps(report.to_dict(), indent=1, default=str).encode()
    write_atomic(os.path.abspath(path), [data], new_token())


def _check_report_path(args) -> None:
    """Refuse a ``--report`` path that cannot be written, or that would replace anything but an earlier report.

    Not an input or output of the job, nor inside one (a batch, its sidecar, labels,
    shards or work folder; a source or output directory), and, if something is
    there already, only a JSON report imgjobs wrote.
    """
    from jobs import registry
    from jobs.errors import UsageError
    from jobs.runtime.files import check_writable_file, read_json

    check_writable_file(args.report, "the JSON report")
    spec = registry.get(args.command)
    path = os.path.abspath(args.report)
    for claimed in spec.claimed(*(getattr(args, name) for name in spec.inputs)):
        if path == claimed or path.startswith(claimed.rstrip(os.sep) + os.sep):
            where = "would take the place of" if path == claimed else "lies inside"
            raise UsageError(
                f"the JSON report {args.report} {where} {claimed}, which this job reads or writes: "
                "choose another --report path"
            )
    if os.path.lexists(path):
        old = read_json(path) if os.path.isfile(path) and not os.path.islink(path) else None
        if not (isinstance(old, dict) and isinstance(old.get("job"), str) and isinstance(old.get("files"), list)):
            raise UsageError(
                f"{args.report} exists and is not a JSON report imgjobs wrote: --report replaces only those; "
                "choose another path or remove it"
            )


def _call_api(args, progress):
    """The job the arguments ask for, through its Python function (:meth:`jobs.registry.JobSpec.call`)."""
    from jobs import registry

    spec = registry.get(args.command)
    inputs = [getattr(args, name) for name in spec.inputs]
    options = {k: getattr(args, k) for k in spec.option_names() if hasattr(args, k)}
    return spec.call()(*inputs, progress=progress, **options, **_run_options(args))


def _run_job(args) -> int:
    from jobs.errors import UsageError
    from jobs.runtime.progress import Progress

    if args.dry_run:
        from jobs.options import RunOptions

        run = RunOptions.from_kwargs(_run_options(args), "--dry-run")
        if not run.get("cluster"):
            raise UsageError("--dry-run prints a batch job script: use it with --cluster PROFILE")
        from jobs.clusters import job_script

        print(job_script(run.get("cluster"), tls=run.get("tls")))
        return 0
    if args.report:  # before anything runs: a run's outcomes are never lost to a path that cannot take them
        _check_report_path(args)
    progress = Progress(enabled=False if (args.no_progress or args.quiet) else None, dashboard=not args.quiet)
    from concurrent.futures.process import BrokenProcessPool

    from jobs.errors import ClusterError

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
        print(f"{label} {_printable(r.reason)}", file=sys.stderr)
    if not args.quiet:
        print(report.summary())
    return report.exit_code


def main(argv=None) -> int:
    """Run ``imgjobs``; return the exit status."""
    try:
        return _main(argv)
    finally:
        # The modules and objects of a finished run live until the process exits: keep the
        # cyclic collector off them (CPython's gc.freeze), so neither collections during
        # the job nor the final one at exit walk them (~35 ms of a short run's exit).
        gc.freeze()


def _main(argv) -> int:
    gc.freeze()  # everything imported so far stays for the whole run
    # Pillow warns about images between its limit and twice it; imgjobs applies its own
    # (--max-pixels) and fails such files by name, so the warning would only be noise.
    warnings.filterwarnings("ignore", message="Image size .* exceeds limit", module="PIL")
    try:
        from jobs import config  # noqa: F401 - imports dask, which reads every Dask config file
    except ValueError as e:  # dask found a malformed config file; its message names it
        print(f"imgjobs: error: {e}", file=sys.stderr)
        return 2
    parser = build_parser()  # its help shows the configured defaults
    args = parser.parse_args(argv)
    _setup_logging(args.verbose, args.quiet)
    from jobs.errors import UsageError

    restore = _handle_termination()
    try:
        if args.command == "study":
            return _study(args, sys.argv[1:] if argv is None else list(map(str, argv)))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
