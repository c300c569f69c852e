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

__all__ = ["main"]

log = logging.getLogger("jobs")

_EPILOG = """\
schedulers:
  auto (default)      threads, or processes when 15,000 small files or more share batch tasks
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

Defaults come from configs/imgjobs.yaml through dask.config; flags win.
Exit status: 0 all fine, 1 some file failed, 2 usage error, 130 interrupted.
"""


def _whole(low: int, high: int | None = None, *, auto: bool = False):
    """An argparse type: a whole number in low..high (or 'auto' when allowed)."""
    want = f"a whole number {low}..{high}" if high is not None else f"a whole number >= {low}"
    if auto:
        want = f"'auto' or {want}"

    def parse(text: str):
        if auto and text.strip().lower() == "auto":
            return "auto"
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or n < low or (high is not None and n > high):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return n

    return parse


_positive = _whole(1)
_rows = _whole(0, auto=True)
_threshold = _whole(0, 255)


def _default(key: str, none: str = "none") -> str:
    """The value ``imgjobs.<key>`` has in the configuration now, for a help text."""
    try:
        from jobs import config

        value = config.get(key)
    except Exception:  # a malformed config file: the run itself reports it (exit 2)
        return none
    return none if value is None else str(value)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imgjobs")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _add_scheduler_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scheduler")
    g.add_argument(
        "--scheduler",
        choices=["auto", "threads", "processes", "local"],
        default=None,
        help=f"where tasks run (default {_default('scheduler.kind')}; auto: Dask's threads, or its processes for "
        f"{int(_default('scheduler.auto-processes-files', '15000')):,} small files or more)",
    )
    g.add_argument("--scheduler-address", metavar="ADDR", help="connect to a running scheduler, e.g. tcp://node1:8786")
    g.add_argument(
        "--scheduler-file",
        metavar="FILE",
        help="connect to the scheduler that wrote FILE (dask scheduler --scheduler-file FILE)",
    )
    g.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help=f"threads/processes: pool size; local: worker processes (default {_default('scheduler.workers', '')}"
        f"{'' if _default('scheduler.workers', '') else f'one per core: {os.cpu_count()}'})",
    )
    g.add_argument(
        "--threads-per-worker",
        type=_positive,
        metavar="T",
        help=f"local: threads per worker (default {_default('scheduler.threads-per-worker')})",
    )
    g.add_argument(
        "--host", metavar="HOST", help=f"local: interface to listen on (default {_default('scheduler.host')})"
    )
    g.add_argument(
        "--dashboard-address",
        metavar="ADDR",
        help=f"local: dashboard address (default {_default('scheduler.dashboard-address')}; ':0' picks a free port)",
    )
    g.add_argument(
        "--cluster",
        metavar="PROFILE",
        help="submit workers as batch jobs through dask-jobqueue: a profile under imgjobs.clusters "
        "(pbs, slurm, or your own); the scheduler runs in this process",
    )
    g.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help=f"cluster: batch jobs to keep running (default {_default('scheduler.jobs')})",
    )
    g.add_argument(
        "--dry-run", action="store_true", help="cluster: print the job script a worker job would run, and exit"
    )
    g.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TLS on every connection: on by default for clusters imgjobs starts (local, --cluster: temporary "
        "certificates, or the files in imgjobs.tls); --no-tls to opt out; a running scheduler's address decides",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument(
        "--performance-report",
        metavar="HTML",
        help="write Dask's performance report (distributed schedulers) or task/resource profiles (threads, "
        "processes) to this HTML file",
    )


def _add_max_pixels(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-pixels",
        type=_positive,
        metavar="N",
        help=f"refuse (fail by name) images decoded whole with more pixels than N (default {_default('max-pixels')}, "
        "Pillow's decompression-bomb limit); uncompressed BMPs are read by rows and have no such limit",
    )


def _add_compress_options(p: argparse.ArgumentParser) -> None:
    """compress's options that change its output (shared with ``imgjobs study compress``)."""
    p.add_argument(
        "--threshold",
        type=_threshold,
        metavar="N",
        help="white when luminance >= N (0..255) instead of Floyd-Steinberg dithering as Pillow's convert('1')",
    )
    _add_max_pixels(p)


def _add_resize_options(p: argparse.ArgumentParser) -> None:
    """resize's options that change its output (shared with ``imgjobs study resize``)."""
    from jobs.resize_job import tasks as resize_tasks

    p.add_argument("--num-images", type=_positive, metavar="N", help="take the first N images (error if fewer)")
    p.add_argument("--size", metavar="WxH", help=f"output width x height (default {_default('resize.size')})")
    p.add_argument(
        "--method",
        choices=list(resize_tasks.METHODS),
        help=f"how to decode and resize (default {_default('resize.method')}); quality over 500 ImageNet photos as "
        "PSNR against a full decode with Lanczos (worst / 1st percentile / mean): "
        + "; ".join(f"{k}: {v}" for k, v in resize_tasks.METHODS.items()),
    )
    p.add_argument("--exact", action="store_true", default=None, help="shorthand for --method exact")
    p.add_argument(
        "--draft-fraction",
        type=float,
        metavar="F",
        help="--method draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) still at least F of the "
        f"output size (default {_default('resize.draft-fraction')}; 1.0 never enlarges)",
    )
    _add_max_pixels(p)
    p.add_argument(
        "--stamps",
        choices=["stat", "content"],
        help="how a rerun tells an image changed: stat (its size and modification time) or content (a digest of "
        f"its bytes, for file systems whose times lie; reads every image on a rerun) (default {_default('stamps')})",
    )


def _compress_options(args) -> dict:
    return {"threshold": args.threshold, "max_pixels": args.max_pixels}


def _resize_options(args) -> dict:
    return {
        "num_images": args.num_images,
        "size": args.size,
        "method": args.method,
        "exact": args.exact,
        "draft_fraction": args.draft_fraction,
        "max_pixels": args.max_pixels,
    }


def _list_of(kind):
    """An argparse type: comma-separated values, each parsed by ``kind``."""

    def parse(text: str) -> list:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return values

    return parse


def _add_study_parser(sub, verbosity) -> None:
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
        epilog=_examples(
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
        type=_list_of(_positive),
        metavar="LIST",
        default=_list_of(_positive)(workers),
        help=f"worker counts (default {workers}: 1, 2, half the cores, every core)",
    )
    g.add_argument(
        "--threads-per-worker",
        type=_list_of(_positive),
        default=[1],
        metavar="LIST",
        help="threads per LocalCluster worker (default 1)",
    )
    g.add_argument(
        "--modes",
        type=_list_of(str),
        default=["threads", "local"],
        metavar="LIST",
        help="Dask schedulers: threads, processes, local (default threads,local)",
    )
    g.add_argument("--repeats", type=_positive, default=3, metavar="R", help="runs per configuration (default 3)")
    g.add_argument("--out", metavar="DIR", help="where results go (default study-JOB)")
    g.add_argument("--no-figures", action="store_true", help="only results.csv and results.md")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = ssub.add_parser(
        "resize",
        parents=[common],
        help="sweep the resize job",
        description="Sweep the resize job: Dask schedulers x workers x images per task, and the exercise's "
        "executors. The job's own options (--size, --method, ...) have the resize command's defaults.",
        epilog=_examples(
            "imgjobs study resize train.txt --num-images 2000 --workers 1,2 --out study-resize",
            "imgjobs study resize train.txt --batch-sizes 1,8,64,auto --modes threads,local --executors none",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("source", metavar="SOURCE", help="file list, JSON config or directory of images")
    _add_resize_options(r)
    r.add_argument(
        "--batch-sizes",
        type=_list_of(_whole(1, auto=True)),
        default=["auto"],
        metavar="LIST",
        help="images per task, e.g. 1,8,64,auto (default auto)",
    )
    r.add_argument(
        "--executors",
        type=_list_of(str),
        default=["serial", "threads", "processes"],
        metavar="LIST",
        help="the exercise's executors to include: serial, threads, processes (default all; 'none' for none)",
    )
    c = ssub.add_parser(
        "compress",
        parents=[common],
        help="sweep the RLE compress job",
        description="Sweep the compress job: worker processes vs threads, one task per image vs row blocks, "
        "and rows per task; results.md adds the case study's 2x2 table.",
        epilog=_examples(
            "imgjobs study compress scans/ --workers 1,2 --out study-compress",
            "imgjobs study compress scans/ --rows-per-task 0,64,1024 --modes processes,threads",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("src", metavar="SRC", help="a directory of images")
    _add_compress_options(c)
    c.add_argument(
        "--rows-per-task",
        type=_list_of(_rows),
        default=[0, "auto", 64, 256, 1024],
        metavar="LIST",
        help="rows per task; 0 = one task per image (default 0,auto,64,256,1024)",
    )


def _study(args, argv) -> int:
    import shlex

    from tqdm import tqdm

    from jobs import study

    resize = args.study == "resize"
    executors = [] if not resize or args.executors == ["none"] else args.executors
    configs = study.grid(
        args.study,
        workers=args.workers,
        modes=args.modes,
        threads_per_worker=args.threads_per_worker,
        task_sizes=args.batch_sizes if resize else args.rows_per_task,
        executors=executors,
    )
    options = _resize_options(args) if resize else _compress_options(args)
    out = args.out or f"study-{args.study}"

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
        source=args.source if resize else args.src,
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
    parser = argparse.ArgumentParser(
        prog="imgjobs",
        description="Image batch jobs on Dask: compress 1-bit images to the classic .rle format and back, "
        "build (N, H, W, 3) training batches from JPEG lists, and measure throughput.",
        epilog=_EPILOG,
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

    c = sub.add_parser(
        "compress",
        parents=[verbosity],
        help="images -> .rle",
        description="Compress an image, or every image in a directory, into .rle files "
        "(1 bit per pixel, 127-pixel chunks, one byte per run). Existing outputs are kept "
        "unless --overwrite, so rerunning an interrupted job finishes the rest.",
        epilog=_examples(
            "imgjobs compress scans/ rle/                           # every image of scans/ into rle/",
            "imgjobs compress page.bmp page.rle --threshold 128     # one file, a fixed threshold",
            "imgjobs compress scans/ rle/ --scheduler local --workers 2   # a LocalCluster with its dashboard",
            "imgjobs compress scans/ rle/ --cluster slurm --jobs 4  # workers as Slurm jobs",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("src", metavar="SRC", help="an image file or a directory of images (BMP, PNG, TIFF, ...)")
    c.add_argument("dst", metavar="DST", help="the .rle file, or a directory for <name>.rle files")
    c.add_argument(
        "--rows-per-task",
        type=_rows,
        metavar="N",
        help="rows per row-block task; 'auto' (default) sizes tasks to ~8 MPixel; 0 = one task per image",
    )
    _add_compress_options(c)
    c.add_argument("--overwrite", action="store_true", default=None, help="replace existing outputs")
    _add_scheduler_options(c)

    d = sub.add_parser(
        "decompress",
        parents=[verbosity],
        help=".rle -> 1-bit BMP",
        description="Decompress an .rle file, or every .rle file in a directory, into 1-bit BMPs.",
        epilog=_examples(
            "imgjobs decompress rle/ bmp/",
            "imgjobs decompress page.rle page.bmp",
            "imgjobs decompress rle/ bmp/ --scheduler-file ~/scheduler.json   # on a running cluster",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("src", metavar="SRC", help="an .rle file or a directory of them")
    d.add_argument("dst", metavar="DST", help="the .bmp file, or a directory for <name>.bmp files")
    d.add_argument("--rows-per-task", type=_rows, metavar="N", help="rows per decode task (default auto)")
    d.add_argument("--overwrite", action="store_true", default=None, help="replace existing outputs")
    _add_scheduler_options(d)

    v = sub.add_parser(
        "verify",
        parents=[verbosity],
        help="check .rle files against their images",
        description="Decode each .rle and compare it pixel by pixel with its original image; "
        "list every mismatch and exit 1 if there is any.",
        epilog=_examples(
            "imgjobs verify scans/ rle/                 # exit 0 when every .rle decodes to its image",
            "imgjobs verify page.bmp page.rle --threshold 128",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("orig", metavar="ORIG", help="an image file or a directory of images")
    v.add_argument("rle", metavar="RLE", help="the .rle file, or a directory holding <name>.rle for each image")
    v.add_argument("--threshold", type=_threshold, metavar="N", help="the threshold used when compressing, if any")
    v.add_argument("--rows-per-task", type=_rows, metavar="N", help="rows per compare task (default auto)")
    _add_max_pixels(v)
    _add_scheduler_options(v)

    r = sub.add_parser(
        "resize",
        parents=[verbosity],
        help="JPEG list -> (N, H, W, 3) uint8 batch",
        description="Decode and resize a list of images into one (N, H, W, 3) uint8 numpy batch "
        "(a memory-mapped .npy or a .zarr store), with a JSON sidecar of files, failures and timing. "
        "Grey, palette, CMYK, RGBA and 16-bit images become true RGB; EXIF orientation is applied. "
        "Labels (a list's second column, or class folders) go beside it; an interrupted run resumes.",
        epilog=_examples(
            "imgjobs resize train.txt --num-images 2000 --out batch.npy   # lines 'path label'",
            "imgjobs resize train/ --size 64x64 --out train.zarr          # class folders -> labels",
            "imgjobs resize train.txt --method exact                      # the exercise's Pillow bicubic",
            "imgjobs resize ilsvrc.json --executor threads --workers 2    # the exercise's ThreadPoolExecutor",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument(
        "source",
        metavar="SOURCE",
        help="a file list (one path per line, relative to the list; 'path<TAB>label' or 'path 7' adds labels), "
        "a JSON config with data.train_filelist, a directory of images, or a directory of class folders",
    )
    r.add_argument("--out", default="batch.npy", metavar="PATH", help="batch.npy (default) or a .zarr store")
    _add_resize_options(r)
    r.add_argument(
        "--batch-size",
        type=_positive,
        metavar="B",
        help=f"images per task (default auto: at most {_default('resize.images-per-task')}, fewer to give every "
        f"thread {_default('resize.tasks-per-thread')} tasks)",
    )
    r.add_argument(
        "--executor",
        choices=["serial", "threads", "processes"],
        help="run the classic exercise's executor (plain loop, ThreadPoolExecutor, ProcessPoolExecutor of "
        "--workers) instead of Dask, for comparison",
    )
    r.add_argument("--overwrite", action="store_true", default=None, help="replace an existing output")
    _add_scheduler_options(r)

    k = sub.add_parser(
        "certs",
        parents=[verbosity],
        help="make TLS certificates for a private cluster",
        description="Write a self-signed certificate (cert.pem, also the CA file) and its key (key.pem, "
        "mode 600) into DIR, for --tls with a scheduler file, an address or a cluster profile. Put DIR "
        "on a file system the compute nodes share, and give the same files to dask scheduler and "
        "dask worker (--tls-ca-file, --tls-cert, --tls-key).",
        epilog=_examples("imgjobs certs ~/imgjobs-certs"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument("dir", metavar="DIR", help="directory for cert.pem and key.pem (created if missing)")

    _add_study_parser(sub, verbosity)
    return parser


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


class Terminated(KeyboardInterrupt):
    """SIGTERM (from ``timeout``, ``kill``, a batch system's walltime) or SIGHUP, as an interrupt:
    every cleanup that Ctrl-C runs (removing temporaries, closing clusters, cancelling worker jobs)
    runs for it too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.status = 128 + signum


def _handle_termination() -> None:
    import signal

    def stop(signum, frame):
        raise Terminated(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    # Ctrl-C raises KeyboardInterrupt, whatever a library installed (dask-jobqueue sets its own)
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
    return {
        "scheduler": args.scheduler,
        "workers": args.workers,
        "threads_per_worker": args.threads_per_worker,
        "host": args.host,
        "dashboard_address": args.dashboard_address,
        "scheduler_address": args.scheduler_address,
        "scheduler_file": args.scheduler_file,
        "cluster": args.cluster,
        "jobs": args.jobs,
        "tls": args.tls,
        "performance_report": args.performance_report,
    }


def _call_api(args, progress):
    """The job the arguments ask for, through the Python API (:mod:`jobs.api`)."""
    from jobs import api

    run = _run_options(args)
    if args.command == "compress":
        return api.compress(
            args.src,
            args.dst,
            rows_per_task=args.rows_per_task,
            overwrite=args.overwrite,
            progress=progress,
            **_compress_options(args),
            **run,
        )
    if args.command == "decompress":
        return api.decompress(
            args.src, args.dst, rows_per_task=args.rows_per_task, overwrite=args.overwrite, progress=progress, **run
        )
    if args.command == "verify":
        return api.verify(
            args.orig,
            args.rle,
            threshold=args.threshold,
            rows_per_task=args.rows_per_task,
            max_pixels=args.max_pixels,
            progress=progress,
            **run,
        )
    return api.resize(
        args.source,
        args.out,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        executor=args.executor,
        progress=progress,
        stamps=args.stamps,
        **_resize_options(args),
        **run,
    )


def _run_job(args) -> int:
    from jobs import config
    from jobs.errors import UsageError
    from jobs.runtime.progress import Progress

    if args.dry_run:
        cluster = config.get_str("scheduler.cluster", args.cluster)
        if not cluster:
            raise UsageError("--dry-run prints a batch job script: use it with --cluster PROFILE")
        from jobs.clusters import job_script

        print(job_script(cluster, tls=config.get_bool("scheduler.tls", args.tls)))
        return 0
    progress = Progress(enabled=False if (args.no_progress or args.quiet) else None, dashboard=not args.quiet)
    from jobs.errors import ClusterError

    try:
        report = _call_api(args, progress)
    except UsageError:
        raise
    except ClusterError as e:  # the batch system gives no worker
        _error(str(e))
        return 1
    except (FileNotFoundError, ValueError) as e:  # bad scheduler settings
        _error(str(e))
        return 2
    except OSError as e:  # e.g. no scheduler at the given address, a full disk
        _error(str(e))
        return 1
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from jobs import config  # noqa: F401 - imports dask, which reads every Dask config file
    except ValueError as e:  # dask found a malformed config file; its message names it
        print(f"imgjobs: error: {e}", file=sys.stderr)
        return 2
    _setup_logging(args.verbose, args.quiet)
    from jobs.errors import UsageError

    _handle_termination()
    try:
        if args.command == "study":
            return _study(args, sys.argv[1:] if argv is None else list(map(str, argv)))
        if args.command == "certs":
            return _certs(args)
        first = {"verify": "orig", "resize": "source"}.get(args.command, "src")
        if not os.path.lexists(getattr(args, first)):
            raise UsageError(f"{getattr(args, first)}: no such file or directory")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
