#!/usr/bin/env python3
"""Benchmark the resize job against the classic exercise's loop, in one run.

Uses real JPEGs: by default the 500 ImageNet samples in ../shared/data/imagenet-samples
(a list of 2000 repeats them 4 times).  Reports, on this machine and in this run:

1. per core: the fast path (reduced DCT scale, then resize) and ``--exact`` against
   the exercise's per-image function, serial loops, each in a fresh process of its
   own, the processes taking turns; images/s (median of ``--repeats``);
2. quality: PSNR of the fast path against ``--exact`` over the images (mean, median,
   worst), with the default draft fraction and with 1.0 (no decode below the target);
3. the whole ``imgjobs resize`` process over 2000 images against
   ``scripts/classic_resize.py --threads 2``, timed the same way (median);
4. scaling: images/s with 1 and 2 workers (Dask threads, and a LocalCluster of
   worker processes, startup excluded; 1- and 2-worker runs take turns) and the
   parallel efficiency;
5. the peak resident memory of the imgjobs process next to the batch's size.

Usage::

    python scripts/bench_resize.py [--images DIR] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from benchutil import imgjobs_cmd, interleaved, peak_rss, run_quiet  # noqa: E402
from classic_resize import build_batch as exercise_batch  # noqa: E402

from jobs.resize_tasks import DRAFT_FRACTION, load_rgb  # noqa: E402

DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "data", "imagenet-samples")


def scaling(listfile, n, repeats):
    """Images/s with 1 and 2 workers per scheduler kind, the two interleaved repeat by repeat.

    Both runners stay open and take turns, so that the machine's drift (other tenants, clock
    changes) weighs on 1 and 2 workers alike; startup is excluded.
    """
    import contextlib

    import jobs
    from jobs.schedulers import open_runner

    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "b.npy")
        for kind in ("threads", "local"):
            with contextlib.ExitStack() as stack:
                runners = {
                    w: stack.enter_context(open_runner(kind, workers=w, threads_per_worker=1, dashboard_address=":0"))
                    for w in (1, 2)
                }

                def once(runner, kind=kind):
                    if runner.client is not None:
                        where = {"client": runner.client}
                    else:
                        where = {"scheduler": kind, "workers": runner.parallelism}
                    jobs.resize(listfile, out, num_images=n, overwrite=True, progress=False, **where)

                for runner in runners.values():
                    once(runner)  # warm the workers
                times = interleaved({w: (lambda r=r: once(r)) for w, r in runners.items()}, repeats)
                for w, ts in times.items():
                    rates[(kind, w)] = n / statistics.median(ts)
                    rates[(kind, w, "best")] = n / min(ts)
    return rates


LOOPS = ("exercise", "fast", "sharp", "exact")


def serial_loop(name: str, files: list, size=(100, 100)) -> np.ndarray:
    """One pass of a one-core loop over ``files``: ``exercise`` or imgjobs' ``fast``, ``sharp``, ``exact``."""
    if name == "exercise":
        return exercise_batch(files, size=size)
    exact, fraction = {"fast": (False, DRAFT_FRACTION), "sharp": (False, 1.0), "exact": (True, 1.0)}[name]
    batch = np.zeros((len(files), size[1], size[0], 3), dtype=np.uint8)
    for i, f in enumerate(files):
        batch[i] = load_rgb(f, size, exact, fraction)
    return batch


def time_loop(name: str, files: list, passes: int = 2) -> float:
    """Median seconds of ``passes`` timed passes of :func:`serial_loop`, after a warm-up pass."""
    serial_loop(name, files)
    times = []
    for _ in range(passes):
        t = time.perf_counter()
        serial_loop(name, files)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=DEFAULT_IMAGES, help="directory of JPEGs (default: the shared samples)")
    p.add_argument("--count", type=int, default=2000, help="images in the whole-process run (repeats the set)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--loop", choices=LOOPS, help=argparse.SUPPRESS)  # one timed loop, for the parent
    args = p.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.images, "*")))
    if not files:
        print(f"no images in {args.images}: pass --images DIR", file=sys.stderr)
        return 2
    if args.loop:
        print(time_loop(args.loop, files))
        return 0
    res = {"machine": {"cores": os.cpu_count(), "python": platform.python_version()}, "images": len(files)}
    print(f"# imgjobs resize benchmark: {len(files)} JPEGs, {os.cpu_count()} cores\n")

    size = (100, 100)

    # Each serial loop runs in a fresh process of its own (a warm-up pass, then timed passes),
    # the processes taking turns round by round.  In one process the loops leave state behind
    # that changes the next one's speed: the exercise ran ~15% slower right after the fast path
    # than right after itself.
    times = {name: [] for name in LOOPS}
    for _ in range(args.repeats):
        for name in LOOPS:
            cmd = [sys.executable, os.path.abspath(__file__), "--images", args.images, "--loop", name]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            times[name].append(float(out.split()[-1]))
    t_ex, t_fast, t_sharp, t_exact = (statistics.median(times[k]) for k in ("exercise", "fast", "sharp", "exact"))
    n = len(files)
    exact = serial_loop("exact", files).astype(np.float32)

    def psnr(loop):
        fast = serial_loop(loop, files).astype(np.float32)
        mse = np.mean((fast - exact) ** 2, axis=(1, 2, 3))
        db = np.where(mse == 0, 99.0, 10 * np.log10(255.0**2 / np.maximum(mse, 1e-12)))  # 99: identical
        return {"mean": float(np.mean(db)), "median": float(np.median(db)), "min": float(np.min(db))}

    q_fast, q_sharp = psnr("fast"), psnr("sharp")
    res["per_core"] = {
        "exercise": n / t_ex,
        "fast": n / t_fast,
        "fast_fraction_1": n / t_sharp,
        "exact": n / t_exact,
        "fast_vs_exercise": t_ex / t_fast,
    }
    res["psnr"] = q_fast
    res["psnr_fraction_1"] = q_sharp
    print("| one core, serial loop | images/s | PSNR vs --exact (mean / median / worst) |\n|---|---|---|")
    print(f"| exercise (open, resize, into its float64 batch) | {n / t_ex:,.0f} | |")
    print(f"| imgjobs --exact | {n / t_exact:,.0f} | |")
    for name, t, q in (
        ("--draft-fraction 1.0 (never enlarge)", t_sharp, q_sharp),
        (f"fast path (default, draft fraction {DRAFT_FRACTION})", t_fast, q_fast),
    ):
        print(
            f"| imgjobs {name} | {n / t:,.0f} ({t_ex / t:.2f}x the exercise) "
            f"| {q['mean']:.1f} / {q['median']:.1f} / {q['min']:.1f} dB |"
        )
    print()

    with tempfile.TemporaryDirectory() as tmp:
        listfile = os.path.join(tmp, "list.txt")
        with open(listfile, "w") as f:
            f.writelines(os.path.abspath(files[i % n]) + "\n" for i in range(args.count))
        cmd = [*imgjobs_cmd(), "-q", "resize", listfile, "--out", os.path.join(tmp, "b.npy"), "--overwrite"]
        exercise = [sys.executable, os.path.join(HERE, "classic_resize.py"), listfile, "--threads", "2"]
        t = interleaved({"ours": lambda: run_quiet(cmd), "exercise": lambda: run_quiet(exercise)}, args.repeats)
        ours, classic = statistics.median(t["ours"]), statistics.median(t["exercise"])
        rss = peak_rss(cmd)
        batch_mb = args.count * size[0] * size[1] * 3 / 1e6
        res["whole_process"] = {
            "images": args.count,
            "imgjobs_s": ours,
            "exercise_2_threads_s": classic,
            "speedup": classic / ours,
            "imgjobs_peak_rss_mb": rss / 1e6,
            "batch_mb": batch_mb,
        }
        print(f"| whole process, {args.count} images, {os.cpu_count()} cores | seconds | images/s |\n|---|---|---|")
        print(f"| exercise, ThreadPoolExecutor(2) | {classic:.2f} | {args.count / classic:,.0f} |")
        print(f"| imgjobs resize (Dask threads) | {ours:.2f} | {args.count / ours:,.0f} ({classic / ours:.2f}x) |\n")
        print(
            f"imgjobs peak RSS {rss / 1e6:.0f} MB (interpreter and libraries; the {batch_mb:.0f} MB batch "
            "goes to its file a slice at a time)\n"
        )
        rates = scaling(listfile, args.count, args.repeats)
    res["scaling"] = {"-".join(map(str, k)): r for k, r in rates.items()}
    print(
        "| scheduler | 1 worker | 2 workers | efficiency (median) | efficiency (best run of each) |\n"
        "|---|---|---|---|---|"
    )
    for kind, name in (("threads", "Dask threads"), ("local", "LocalCluster, worker processes")):
        one, two = rates[(kind, 1)], rates[(kind, 2)]
        best = rates[(kind, 2, "best")] / (2 * rates[(kind, 1, "best")])
        res["scaling"][f"{kind}-efficiency"] = two / (2 * one)
        res["scaling"][f"{kind}-efficiency-best"] = best
        print(f"| {name} | {one:,.0f} img/s | {two:,.0f} img/s | {two / (2 * one):.0%} | {best:.0%} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
