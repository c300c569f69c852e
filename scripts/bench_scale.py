#!/usr/bin/env python3
"""Benchmark jobs at scale: plan time, graph size, client memory and throughput as the file count grows.

Builds its inputs itself, in ``--dir`` (default: a folder under ``/dev/shm``, so
the disk stays out of the figures):

* ``resize``: file lists of N entries repeating a few hundred real JPEGs (the
  ImageNet samples in ``../shared`` when present, else generated ones);
* ``compress``: directories of N small 1-bit BMPs (``make_samples.make_small``).

For each count, in a fresh process of its own: the plan of
``compute=False`` (seconds), the pickled graph (bytes, as Dask sends it), the
number of tasks, whether building and pickling it raised Dask's large-graph
warning, and the process's peak resident memory (the client).  With
``--seconds S`` (resize), the job then runs on a LocalCluster of 2 workers for S
seconds and is stopped: images/s over that time, from the slices recorded done
in the work folder, against the same job at the smallest count, in the same run.

Usage::

    python scripts/bench_scale.py resize --counts 20000,1280000 --seconds 60
    python scripts/bench_scale.py resize --counts 10000000            # plan and client only
    python scripts/bench_scale.py compress --counts 20000,1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchutil import imgjobs_cmd  # noqa: E402

SAMPLES = os.path.join(ROOT, "..", "shared", "data", "imagenet-samples")

#: Run in a fresh interpreter: plan with compute=False, pickle the graph, print what was measured as JSON.
_PLAN = r"""
import json, resource, sys, time, warnings
import cloudpickle
import jobs
job, src, out = sys.argv[1:4]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t = time.perf_counter()
    if job == "resize":
        graph = jobs.resize(src, out, size="32x32", compute=False)
    else:
        graph = jobs.compress(src, out, compute=False)
    plan = time.perf_counter() - t
    tasks = len(graph.__dask_graph__())
    size = len(cloudpickle.dumps(dict(graph.__dask_graph__())))
large = any("large graph" in str(w.message) for w in caught)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"plan_s": plan, "graph_bytes": size, "tasks": tasks, "large_graph_warning": large, "peak": peak}))
"""


def jpeg_pool(where: str) -> list[str]:
    """The JPEGs the lists repeat: the shared ImageNet samples, or 200 generated ones."""
    if os.path.isdir(SAMPLES):
        return sorted(os.path.abspath(os.path.join(SAMPLES, n)) for n in os.listdir(SAMPLES))
    import numpy as np
    from PIL import Image

    d = os.path.join(where, "jpegs")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(200):
        Image.fromarray(rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)).save(os.path.join(d, f"{i}.jpg"))
    return [os.path.join(d, f"{i}.jpg") for i in range(200)]


def make_list(where: str, n: int, pool: list[str]) -> str:
    path = os.path.join(where, f"list-{n}.txt")
    if not os.path.exists(path):
        with open(path, "w") as f:
            step = 100_000
            for start in range(0, n, step):
                f.write("".join(f"{pool[i % len(pool)]} {i % 1000}\n" for i in range(start, min(n, start + step))))
    return path


def make_dir(where: str, n: int) -> str:
    from make_samples import make_small

    d = os.path.join(where, f"bmps-{n}")
    make_small(d, n)
    return d


def plan_figures(job: str, src: str, out: str) -> dict:
    r = subprocess.run([sys.executable, "-c", _PLAN, job, src, out], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout.splitlines()[-1])


def throughput(src: str, out: str, seconds: float) -> float:
    """Images/s of ``imgjobs resize`` on a LocalCluster of 2 workers over ``seconds`` after its plan."""
    cmd = [*imgjobs_cmd(), "resize", src, "--out", out, "--size", "32x32", "--scheduler", "local", "--workers", "2"]
    proc = subprocess.Popen([*cmd, "-q", "--no-progress"], cwd=ROOT, start_new_session=True)
    done_dir = os.path.join(os.path.dirname(out), "." + os.path.basename(out) + ".imgjobs-partial", "done")
    start = None
    try:
        while proc.poll() is None:
            if start is None and os.path.isdir(done_dir) and os.listdir(done_dir):
                start, base = (
                    time.monotonic(),
                    _done(done_dir),
                )  # from the first finished slice: plan, start-up excluded
            if start is not None and time.monotonic() - start >= seconds:
                return (_done(done_dir) - base) / (time.monotonic() - start)
            time.sleep(0.2)
        raise SystemExit(f"the run ended before {seconds} s: give more images or fewer seconds")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(120)


def _done(done_dir: str) -> int:
    total = 0
    for name in os.listdir(done_dir):
        if name.endswith(".json") and not name.startswith("."):
            a, b = name[:-5].split("-")
            total += int(b) - int(a)
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("job", choices=["resize", "compress"])
    ap.add_argument("--counts", default="20000,1280000", help="comma-separated file counts")
    ap.add_argument("--seconds", type=float, default=0, help="resize: run each for this long (0: plan only)")
    ap.add_argument("--dir", help="where the inputs are built and kept (default: a folder in /dev/shm)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    where = args.dir or os.path.join(
        "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(), "imgjobs-scale"
    )
    os.makedirs(where, exist_ok=True)
    pool = jpeg_pool(where) if args.job == "resize" else []
    rows = []
    for n in counts:
        src = make_list(where, n, pool) if args.job == "resize" else make_dir(where, n)
        out = os.path.join(where, f"out-{n}" + (".npy" if args.job == "resize" else ""))
        for stale in (out, out + ".json", os.path.join(where, f".out-{n}.npy.imgjobs-partial")):
            shutil.rmtree(stale, ignore_errors=True) if os.path.isdir(stale) else None
            if os.path.isfile(stale):
                os.remove(stale)
        row = {"job": args.job, "count": n, **plan_figures(args.job, src, out)}
        if args.seconds and args.job == "resize":
            row["images_per_s"] = throughput(src, out, args.seconds)
        rows.append(row)
        print(
            f"{args.job} {n:>10,}: plan {row['plan_s']:6.2f} s, graph {row['graph_bytes'] / 1e6:6.2f} MB in "
            f"{row['tasks']:,} tasks, client peak {row['peak'] / 2**20:5.0f} MiB, large-graph warning: "
            f"{'yes' if row['large_graph_warning'] else 'no'}"
            + (f", {row['images_per_s']:.0f} images/s" if "images_per_s" in row else ""),
            flush=True,
        )
    if len(rows) > 1 and all("images_per_s" in r for r in rows):
        for r in rows[1:]:
            ratio = r["images_per_s"] / rows[0]["images_per_s"]
            print(f"throughput at {r['count']:,} / at {rows[0]['count']:,}: {ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
