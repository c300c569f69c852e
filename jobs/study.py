"""Throughput studies: sweep schedulers, workers, threads and task sizes; tables and a plot.

``imgjobs study resize SOURCE`` and ``imgjobs study compress SRC`` run the job
under every configuration asked for, ``--repeats`` times each, and write into
``--out``:

* ``results.csv``: one row per configuration: wall times (median, min, max),
  throughput, speedup over the same configuration with one worker and parallel
  efficiency (speedup / workers);
* ``results.md``: the machine's facts and the same table in Markdown (and, for
  ``compress``, the case study's 2x2 table: worker processes vs threads x one
  task per image vs row blocks);
* ``throughput.png``: throughput against workers, one line per configuration,
  with the ideal-scaling line.

Times cover planning, running and writing; starting a cluster is excluded.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time

__all__ = ["add_study_parser", "machine_facts", "run_study"]

log = logging.getLogger(__name__)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"expected comma-separated whole numbers >= 1, got {text!r}")
    return values


def _words(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def add_study_parser(sub) -> None:
    """Add ``imgjobs study resize|compress`` to the CLI's subparsers."""
    import argparse

    def ints(text):
        try:
            return _int_list(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    cores = os.cpu_count() or 1
    default_workers = ",".join(str(w) for w in sorted({1, 2, cores // 2, cores} - {0}))
    s = sub.add_parser(
        "study",
        help="throughput studies: sweeps, CSV, Markdown table, plot",
        description="Run a job under many configurations (median of repeats) and write results.csv, "
        "results.md and throughput.png into --out.",
        epilog="examples:\n  imgjobs study resize train.txt --workers 1,2\n  imgjobs study compress scans/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = s.add_subparsers(dest="study", metavar="JOB", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workers",
        type=ints,
        default=_int_list(default_workers),
        metavar="LIST",
        help=f"worker counts to sweep (default {default_workers})",
    )
    common.add_argument(
        "--threads-per-worker",
        type=ints,
        default=[1],
        metavar="LIST",
        help="LocalCluster threads per worker to sweep (default 1)",
    )
    common.add_argument(
        "--modes",
        type=_words,
        metavar="LIST",
        help="Dask schedulers to sweep: threads, processes, local (default threads,local)",
    )
    common.add_argument("--repeats", type=int, default=3, metavar="R", help="runs per configuration (median)")
    common.add_argument("--out", metavar="DIR", help="where results go (default study-<job>)")
    common.add_argument("-q", "--quiet", action="store_true", help="no per-configuration lines")

    r = ssub.add_parser(
        "resize",
        parents=[common],
        help="sweep the resize job",
        description="Sweep the resize job: Dask schedulers x workers x batch sizes, and the exercise's executors.",
        epilog="examples:\n"
        "  imgjobs study resize train.txt --num-images 2000 --workers 1,2 --out study-resize\n"
        "  imgjobs study resize train.txt --batch-sizes 1,8,64,auto --modes threads,local --executors none",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("source", metavar="SOURCE", help="file list, JSON config or directory of images")
    r.add_argument("--num-images", type=int, metavar="N", help="first N images")
    r.add_argument("--size", metavar="WxH", help="output width x height (default from imgjobs.resize.size)")
    r.add_argument("--method", choices=["area", "exact", "draft"], help="resize method (see imgjobs resize --help)")
    r.add_argument("--exact", action="store_true", default=None, help="shorthand for --method exact")
    r.add_argument("--draft-fraction", type=float, metavar="F", help="--method draft's smallest decode, of the size")
    r.add_argument(
        "--batch-sizes",
        type=_words,
        default=["auto"],
        metavar="LIST",
        help="images per task to sweep, e.g. 1,8,64,auto (default auto)",
    )
    r.add_argument(
        "--executors",
        type=_words,
        default=["serial", "threads", "processes"],
        metavar="LIST",
        help="exercise executors to include: serial, threads, processes (default all; 'none' for none)",
    )
    c = ssub.add_parser(
        "compress",
        parents=[common],
        help="sweep the RLE compress job",
        description="Sweep the compress job: worker processes vs threads, one task per image vs "
        "row blocks, and rows per task.",
        epilog="examples:\n"
        "  imgjobs study compress scans/ --workers 1,2 --out study-compress\n"
        "  imgjobs study compress scans/ --rows-per-task 0,64,1024 --modes processes,threads",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("src", metavar="SRC", help="a directory of images")
    c.add_argument(
        "--rows-per-task",
        type=_words,
        default=["0", "auto", "64", "256", "1024"],
        metavar="LIST",
        help="rows per task to sweep; 0 = one task per image (default 0,auto,64,256,1024)",
    )
    c.add_argument("--threshold", type=int, metavar="N", help="as for compress")


def machine_facts() -> dict:
    """Cores, CPU model, memory and library versions of this machine."""
    import platform

    import dask
    import distributed
    import numpy
    import PIL

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory, 1) if memory else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
    }


def _time_runs(run, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return times


def _where(cfg: dict, runner) -> dict:
    """Keyword arguments that run a job on this configuration's scheduler."""
    if runner is not None and runner.client is not None:
        return {"client": runner.client}
    return {"scheduler": cfg["kind"], "workers": cfg["workers"]}


def _resize_configs(args):
    modes = args.modes or ["threads", "local"]
    executors = [] if args.executors == ["none"] else args.executors
    for mode, w in itertools.product(modes, args.workers):
        tpws = args.threads_per_worker if mode == "local" else [1]
        for t in tpws:
            yield {"mode": f"dask {mode}", "kind": mode, "workers": w, "threads_per_worker": t}
    for ex in executors:
        for w in [1] if ex == "serial" else args.workers:
            yield {"mode": f"executor {ex}", "kind": ex, "workers": w, "threads_per_worker": 1}


def _open(cfg):
    """A LocalCluster for ``local`` configurations (started once, outside the timings), else nothing."""
    import contextlib

    from .schedulers import open_runner

    if cfg["kind"] != "local":
        return contextlib.nullcontext(None)
    return open_runner(
        "local", workers=cfg["workers"], threads_per_worker=cfg["threads_per_worker"], dashboard_address=":0"
    )


def _study_resize(args, tmp) -> tuple[list, str, str]:
    from . import api
    from .resize_graphs import read_source

    n = len(read_source(args.source, args.num_images))
    rows = []
    for cfg in _resize_configs(args):
        batches = args.batch_sizes if cfg["mode"].startswith("dask") else ["-"]
        out = os.path.join(tmp, "batch.npy")
        with _open(cfg) as runner:
            for batch in batches:

                def once(cfg=cfg, batch=batch, runner=runner, out=out):
                    common = {
                        "num_images": args.num_images,
                        "size": args.size,
                        "method": args.method,
                        "exact": args.exact,
                        "draft_fraction": args.draft_fraction,
                        "overwrite": True,
                        "progress": False,
                    }
                    if cfg["mode"].startswith("executor"):
                        api.resize(args.source, out, executor=cfg["kind"], workers=cfg["workers"], **common)
                    else:
                        size = None if batch == "auto" else int(batch)
                        api.resize(args.source, out, batch_size=size, **common, **_where(cfg, runner))

                times = _time_runs(once, args.repeats)
                rows.append(_row("resize", cfg, {"batch_size": batch}, times, n, "images/s"))
                _say(args, rows[-1])
    return rows, "images/s", "batch_size"


def _study_compress(args, tmp) -> tuple[list, str, str]:
    import shutil

    from . import api

    modes = args.modes or ["threads", "local"]
    pixels = None
    rows = []
    for mode, w in itertools.product(modes, args.workers):
        for t in args.threads_per_worker if mode == "local" else [1]:
            cfg = {"mode": f"dask {mode}", "kind": mode, "workers": w, "threads_per_worker": t}
            with _open(cfg) as runner:
                for rpt in args.rows_per_task:
                    out = os.path.join(tmp, "rle")

                    def once(cfg=cfg, runner=runner, rpt=rpt, out=out):
                        nonlocal pixels
                        shutil.rmtree(out, ignore_errors=True)
                        report = api.compress(
                            args.src,
                            out,
                            rows_per_task=rpt,
                            threshold=args.threshold,
                            overwrite=True,
                            progress=False,
                            **_where(cfg, runner),
                        )
                        if not report.ok:
                            raise ValueError(f"compress failed during the study: {report.problems[0].reason}")
                        pixels = report.pixels

                    times = _time_runs(once, args.repeats)
                    rows.append(_row("compress", cfg, {"rows_per_task": rpt}, times, pixels / 1e6, "MPixel/s"))
                    _say(args, rows[-1])
    return rows, "MPixel/s", "rows_per_task"


def _row(job, cfg, extra, times, amount, unit) -> dict:
    import statistics

    med = statistics.median(times)
    return {
        "job": job,
        "mode": cfg["mode"],
        "workers": cfg["workers"],
        "threads_per_worker": cfg["threads_per_worker"],
        **extra,
        "repeats": len(times),
        "median_s": round(med, 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "rate": round(amount / med, 2),
        "unit": unit,
    }


def _say(args, row) -> None:
    if not args.quiet:
        knob = row.get("batch_size", row.get("rows_per_task"))
        print(
            f"  {row['mode']:<20} workers {row['workers']:>2} x {row['threads_per_worker']} threads, "
            f"{knob!s:>5}: {row['rate']:>9,.1f} {row['unit']} (median {row['median_s']:.3f} s)",
            flush=True,
        )


def _add_scaling(rows, knob: str) -> None:
    """Speedup over the same configuration with one worker, and efficiency = speedup / workers."""
    base = {}
    for r in rows:
        if r["workers"] == 1:
            base[(r["mode"], r["threads_per_worker"], r[knob])] = r["rate"]
    for r in rows:
        one = base.get((r["mode"], r["threads_per_worker"], r[knob]))
        r["speedup"] = round(r["rate"] / one, 3) if one else None
        r["efficiency"] = round(r["speedup"] / r["workers"], 3) if one else None


def _markdown(rows, facts, job, unit, knob, argv) -> str:
    lines = [f"# imgjobs study: {job}", "", f"Command: `{argv}`", "", "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]
    lines += [
        "",
        f"| mode | workers | threads/worker | {knob} | median s | {unit} | speedup | efficiency |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sp = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
        ef = f"{r['efficiency']:.0%}" if r["efficiency"] else "-"
        lines.append(
            f"| {r['mode']} | {r['workers']} | {r['threads_per_worker']} | {r[knob]} | "
            f"{r['median_s']:.3f} | {r['rate']:,.1f} | {sp} | {ef} |"
        )
    if job == "compress":
        top = max(r["workers"] for r in rows)
        cell = {(r["mode"], str(r[knob])): r for r in rows if r["workers"] == top and r["threads_per_worker"] == 1}
        modes = [m for m in ("dask local", "dask processes", "dask threads") if any(k[0] == m for k in cell)]
        if len(modes) >= 2 and any(k[1] == "0" for k in cell) and any(k[1] == "auto" for k in cell):
            lines += [
                "",
                f"The case study's 2x2 table as Dask configurations ({top} workers, {unit}):",
                "",
                "| | " + " | ".join("worker processes" if m != "dask threads" else "threads" for m in modes) + " |",
                "|---|" + "---|" * len(modes),
            ]
            for rpt, name in (("0", "one task per image"), ("auto", "row-block tasks")):
                vals = [f"{cell[(m, rpt)]['rate']:,.1f}" if (m, rpt) in cell else "-" for m in modes]
                lines.append(f"| {name} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def _plot(rows, path, job, unit, knob) -> None:
    from .plot import line_plot

    groups = {}
    for r in rows:
        label = f"{r['mode']}" + (f" x{r['threads_per_worker']}t" if r["threads_per_worker"] != 1 else "")
        if r[knob] not in ("-", None):
            label += f", {knob.replace('_', ' ')} {r[knob]}"
        groups.setdefault(label, []).append((r["workers"], r["rate"]))
    series = [(label, [x for x, _ in pts], [y for _, y in pts]) for label, pts in groups.items()]
    ideal = None
    ones = [(r["rate"], r) for r in rows if r["workers"] == 1]
    if ones:
        best = max(ones, key=lambda t: t[0])[0]
        xs = sorted({r["workers"] for r in rows})
        ideal = ("ideal scaling of the best 1-worker run", xs, [best * x for x in xs])
    line_plot(
        path, series, title=f"imgjobs {job}: throughput against workers", xlabel="workers", ylabel=unit, ideal=ideal
    )


def _check(args) -> None:
    from .files import UsageError

    bad = [m for m in args.modes or [] if m not in ("threads", "processes", "local")]
    if bad:
        raise UsageError(f"--modes takes threads, processes, local; not {', '.join(bad)}")
    if args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
    if args.study == "resize":
        bad = [e for e in args.executors if e not in ("serial", "threads", "processes", "none")]
        knobs, name, low = args.batch_sizes, "--batch-sizes", 1
    else:
        bad = []
        knobs, name, low = args.rows_per_task, "--rows-per-task", 0
    if bad:
        raise UsageError(f"--executors takes serial, threads, processes or none; not {', '.join(bad)}")
    for k in knobs:
        if k != "auto" and not (k.isdigit() and int(k) >= low):
            raise UsageError(f"{name} takes 'auto' or whole numbers >= {low}, not {k!r}")


def run_study(args) -> int:
    """Run ``imgjobs study``; return the exit status."""
    import csv
    import tempfile

    _check(args)
    job = args.study
    out = args.out or f"study-{job}"
    os.makedirs(out, exist_ok=True)
    facts = machine_facts()
    if not args.quiet:
        print(f"study {job}: {facts['cores']} cores, {facts['cpu']}; {args.repeats} repeat(s) per configuration")
    with tempfile.TemporaryDirectory(prefix="imgjobs-study-") as tmp:
        rows, unit, knob = (_study_resize if job == "resize" else _study_compress)(args, tmp)
    _add_scaling(rows, knob)
    fields = list(rows[0].keys())
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    argv = "imgjobs " + " ".join(sys.argv[1:]) if sys.argv and "imgjobs" in sys.argv[0] else f"imgjobs study {job}"
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(_markdown(rows, facts, job, unit, knob, argv))
    _plot(rows, os.path.join(out, "throughput.png"), job, unit, knob)
    if not args.quiet:
        print(f"wrote {out}/results.csv, {out}/results.md and {out}/throughput.png")
    return 0
