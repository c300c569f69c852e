#!/usr/bin/env python3
"""Benchmark the resize job against the classic exercise's loop, in one run.

Uses real JPEGs: by default the 500 ImageNet samples in ../shared/data/imagenet-samples
(a list of 2000 repeats them 4 times).  Reports, on this machine and in this run:

1. per core: the fast path (reduced DCT scale, then resize) and ``--exact`` against
   the exercise's per-image function, serial loops in this process, images/s
   (median of ``--repeats``);
2. quality: PSNR of the fast path against ``--exact`` over the images (mean, min);
3. the whole ``imgjobs resize`` process over 2000 images against
   ``scripts/classic_resize.py --threads 2``, timed the same way (median);
4. scaling: images/s with 1 and 2 workers (Dask threads, and a LocalCluster of
   worker processes, startup excluded) and the parallel efficiency;
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
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from benchutil import imgjobs_cmd, median_time, peak_rss, timed_process  # noqa: E402
from classic_resize import build_batch as exercise_batch  # noqa: E402

from jobs.resize_tasks import load_rgb  # noqa: E402

DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "data", "imagenet-samples")


def scaling(listfile, n, repeats):
    from jobs.progress import ProgressBar
    from jobs.resize_graphs import finish, plan_resize
    from jobs.schedulers import open_runner

    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "b.npy")
        for kind in ("threads", "local"):
            for workers in (1, 2):
                with open_runner(kind, workers=workers, threads_per_worker=1, dashboard_address=":0") as runner:

                    def once(runner=runner, kind=kind):
                        plan = plan_resize(listfile, out, num_images=n, overwrite=True, parallelism=runner.parallelism)
                        outs = runner.run(plan.outputs, plan.files_per_output, ProgressBar(0, "", enabled=False))
                        finish(plan, [f for o in outs for f in o], 1.0, kind)

                    once()  # warm the workers
                    rates[(kind, workers)] = n / median_time(once, repeats)
    return rates


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=DEFAULT_IMAGES, help="directory of JPEGs (default: the shared samples)")
    p.add_argument("--count", type=int, default=2000, help="images in the whole-process run (repeats the set)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.images, "*")))
    if not files:
        print(f"no images in {args.images}: pass --images DIR", file=sys.stderr)
        return 2
    res = {"machine": {"cores": os.cpu_count(), "python": platform.python_version()}, "images": len(files)}
    print(f"# imgjobs resize benchmark: {len(files)} JPEGs, {os.cpu_count()} cores\n")

    size = (100, 100)

    def ours(exact):
        batch = np.zeros((len(files), size[1], size[0], 3), dtype=np.uint8)
        for i, f in enumerate(files):
            batch[i] = load_rgb(f, size, exact)

    exercise_batch(files)  # warm the page cache and both libraries
    ours(False)
    t_ex = median_time(lambda: exercise_batch(files), args.repeats)
    t_fast = median_time(lambda: ours(False), args.repeats)
    t_exact = median_time(lambda: ours(True), args.repeats)
    n = len(files)
    res["per_core"] = {
        "exercise": n / t_ex,
        "fast": n / t_fast,
        "exact": n / t_exact,
        "fast_vs_exercise": t_ex / t_fast,
    }
    print("| one core, serial loop | images/s |\n|---|---|")
    print(f"| exercise (open, resize, into its float64 batch) | {n / t_ex:,.0f} |")
    print(f"| imgjobs --exact | {n / t_exact:,.0f} |")
    print(f"| imgjobs fast path | {n / t_fast:,.0f} ({t_ex / t_fast:.2f}x the exercise) |\n")

    psnr = []
    for f in files:
        a = load_rgb(f, size).astype(np.float32)
        b = load_rgb(f, size, exact=True).astype(np.float32)
        mse = float(np.mean((a - b) ** 2))
        psnr.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    res["psnr"] = {"mean": float(np.mean(psnr)), "min": float(np.min(psnr)), "median": float(np.median(psnr))}
    print(
        f"fast path vs --exact: PSNR mean {np.mean(psnr):.1f} dB, median {np.median(psnr):.1f}, "
        f"min {np.min(psnr):.1f} over {n} images\n"
    )

    with tempfile.TemporaryDirectory() as tmp:
        listfile = os.path.join(tmp, "list.txt")
        with open(listfile, "w") as f:
            f.writelines(os.path.abspath(files[i % n]) + "\n" for i in range(args.count))
        cmd = [*imgjobs_cmd(), "-q", "resize", listfile, "--out", os.path.join(tmp, "b.npy"), "--overwrite"]
        ours = timed_process(cmd, args.repeats)
        rss = peak_rss(cmd)
        classic = timed_process(
            [sys.executable, os.path.join(HERE, "classic_resize.py"), listfile, "--threads", "2"], args.repeats
        )
        ours, classic = statistics.median(ours), statistics.median(classic)
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
    res["scaling"] = {f"{k}-{w}": r for (k, w), r in rates.items()}
    print("| scheduler | 1 worker | 2 workers | efficiency |\n|---|---|---|---|")
    for kind, name in (("threads", "Dask threads"), ("local", "LocalCluster, worker processes")):
        one, two = rates[(kind, 1)], rates[(kind, 2)]
        res["scaling"][f"{kind}-efficiency"] = two / (2 * one)
        print(f"| {name} | {one:,.0f} img/s | {two:,.0f} img/s | {two / (2 * one):.0%} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
