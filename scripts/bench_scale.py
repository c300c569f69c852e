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
seconds (or to its end, if sooner) and is stopped: images/s over that time, from
the slices recorded done in the work folder, against the same job at the
smallest count, in the same run, and the peak memory of the client's process.

Usage::

    python scripts/bench_scale.py resize --counts 20000,1280000 --seconds 30 --repeats 3
    python scripts/bench_scale.py resize --counts 10000000            # plan and client only
    python scripts/bench_scale.py resize --counts 1280000 --rerun     # a finished job's up-to-date rerun
    python scripts/bench_scale.py compress --counts 20000,1000000
    python scripts/bench_scale.py compress --counts 1000000 --rerun   # the whole run, then up-to-date reruns
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
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
import json, sys, time, warnings
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
# VmHWM: this process's own peak (ru_maxrss would count the parent's memory, which it forked from)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
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


def make_list(where: str, n: int, pool: list[str], name: str = "") -> str:
    path = os.path.join(where, name or f"list-{n}.txt")
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


def throughput(src: str, out: str, seconds: float) -> tuple[float, float, int]:
    """Images/s of ``imgjobs resize`` on a LocalCluster of 2 workers over ``seconds`` from its first finished
    slice (plan and start-up excluded), or up to its last slice seen when it ends sooner; the seconds that
    covers; the peak resident memory of the command's process (the client, with the LocalCluster's scheduler)."""
    cmd = [*imgjobs_cmd(), "resize", src, "--out", out, "--size", "32x32", "--scheduler", "local", "--workers", "2"]
    proc = subprocess.Popen([*cmd, "-q", "--no-progress"], cwd=ROOT, start_new_session=True)
    done_dir = os.path.join(os.path.dirname(out), "." + os.path.basename(out) + ".imgjobs-partial", "done")
    start = last = None
    peak = 0
    try:
        while proc.poll() is None:
            now, count = time.monotonic(), _done(done_dir)
            peak = max(peak, _peak(proc.pid))
            if start is None and count:
                start = (now, count)
            elif start is not None and count > start[1]:
                last = (now, count)
            if last is not None and last[0] - start[0] >= seconds:
                break
            time.sleep(0.2)
        if last is None:
            raise SystemExit("the run ended before two of its slices were seen: give it more images")
        return (last[1] - start[1]) / (last[0] - start[0]), last[0] - start[0], peak
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(120)


def _peak(pid: int) -> int:
    """The peak resident memory of a running process (``VmHWM``), in bytes; 0 where /proc has none."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def _done(done_dir: str) -> int:
    total = 0
    try:
        names = os.listdir(done_dir)
    except FileNotFoundError:  # not made yet, or the run finished and removed its work folder
        return 0
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            a, b = name[:-5].split("-")
            total += int(b) - int(a)
    return total


def rerun_figures(where: str, n: int, repeats: int) -> dict:
    """A finished job of ``n`` tiny JPEGs (so that it finishes in minutes), then reruns with nothing to do:
    the first run's seconds, each rerun's, and each one's peak memory (``imgjobs resize`` on threads)."""
    import numpy as np
    from PIL import Image

    d = os.path.join(where, "tiny")
    os.makedirs(d, exist_ok=True)
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 60 * i, np.uint8)).save(os.path.join(d, f"{i}.jpg"))
    src = make_list(where, n, [os.path.join(d, f"{i}.jpg") for i in range(4)], name=f"tiny-{n}.txt")
    out = os.path.join(where, f"tiny-{n}.npy")
    for stale in (out, out + ".json", os.path.join(where, f"tiny-{n}.labels.npy")):
        if os.path.exists(stale):
            os.remove(stale)
    cmd = [*imgjobs_cmd(), "resize", src, "--out", out, "--size", "8x8", "--scheduler", "threads", "-q"]
    runs = _timed_runs([*cmd, "--no-progress"], 1 + repeats)
    return {"first_s": runs[0]["s"], "rerun_s": [x["s"] for x in runs[1:]], "rerun_peak": [x["peak"] for x in runs[1:]]}


#: Run a command, print its wall seconds and its peak resident memory (of the child, from rusage) as JSON.
_TIMED = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:]).returncode
s = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"s": s, "peak": peak}))
sys.exit(rc)
"""


def _timed_runs(cmd: list, times: int) -> list[dict]:
    """Run ``cmd`` ``times`` times, one after another: each run's seconds and peak memory (:data:`_TIMED`)."""
    runs = []
    for _ in range(times):
        r = subprocess.run([sys.executable, "-c", _TIMED, *cmd], capture_output=True, text=True, cwd=ROOT)
        if r.returncode:
            raise SystemExit(r.stderr)
        runs.append(json.loads(r.stdout.splitlines()[-1]))
    return runs


def compress_figures(src: str, out: str, repeats: int) -> dict:
    """``imgjobs compress SRC OUT`` from nothing (files/s, its peak memory), then reruns with nothing to do."""
    shutil.rmtree(out, ignore_errors=True)
    runs = _timed_runs([*imgjobs_cmd(), "compress", src, out, "-q", "--no-progress"], 1 + repeats)
    return {
        "first_s": runs[0]["s"],
        "first_peak": runs[0]["peak"],
        "rerun_s": [x["s"] for x in runs[1:]],
        "rerun_peak": [x["peak"] for x in runs[1:]],
    }


def _clean(where: str, n: int, out: str) -> None:
    """Remove what an earlier run left for count ``n``: the output, its sidecar, labels and work folder."""
    labels = os.path.join(where, f"out-{n}.labels.npy")
    for stale in (out, out + ".json", labels, os.path.join(where, f".out-{n}.npy.imgjobs-partial")):
        if os.path.isdir(stale):
            shutil.rmtree(stale, ignore_errors=True)
        elif os.path.isfile(stale):
            os.remove(stale)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("job", choices=["resize", "compress"])
    ap.add_argument("--counts", default="20000,1280000", help="comma-separated file counts")
    ap.add_argument("--seconds", type=float, default=0, help="resize: run each for this long (0: plan only)")
    ap.add_argument("--repeats", type=int, default=3, help="resize: runs of each count, alternating (median)")
    ap.add_argument(
        "--rerun",
        action="store_true",
        help="resize: finish a job of tiny JPEGs, then time reruns with nothing to do; compress: time the whole "
        "run, then reruns with nothing to do",
    )
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
        _clean(where, n, out)
        row = {"job": args.job, "count": n, "src": src, "out": out, **plan_figures(args.job, src, out)}
        rows.append(row)
        print(
            f"{args.job} {n:>10,}: plan {row['plan_s']:6.2f} s, graph {row['graph_bytes'] / 1e6:6.2f} MB in "
            f"{row['tasks']:,} tasks, client peak {row['peak'] / 2**20:5.0f} MiB, large-graph warning: "
            f"{'yes' if row['large_graph_warning'] else 'no'}",
            flush=True,
        )
    if args.seconds and args.job == "resize":
        for r in range(args.repeats):  # the counts alternate, so that a busy spell of the machine hits both
            for row in rows:
                _clean(where, row["count"], row["out"])
                rate, over, peak = throughput(row["src"], row["out"], args.seconds)
                row.setdefault("images_per_s", []).append(rate)
                row.setdefault("run_peak", []).append(peak)
                print(
                    f"  run {r + 1}, {row['count']:>10,}: {rate:.0f} images/s over {over:.0f} s, client peak "
                    f"{peak / 2**20:.0f} MiB",
                    flush=True,
                )
        base = statistics.median(rows[0]["images_per_s"])
        for row in rows:
            rate = statistics.median(row["images_per_s"])
            print(
                f"resize {row['count']:>10,}: median {rate:.0f} images/s ({rate / base:.2f} of the "
                f"{rows[0]['count']:,}-image job's), client peak at most {max(row['run_peak']) / 2**20:.0f} MiB"
            )
    if args.rerun and args.job == "resize":
        for row in rows:
            row.update(rerun_figures(where, row["count"], args.repeats))
            print(
                f"resize {row['count']:>10,} tiny JPEGs: first run {row['first_s']:.1f} s, up-to-date rerun median "
                f"{statistics.median(row['rerun_s']):.2f} s ({statistics.median(row['rerun_s']) / row['first_s']:.3f} "
                f"of the first), peak {max(row['rerun_peak']) / 2**20:.0f} MiB"
            )
    if args.rerun and args.job == "compress":
        for row in rows:
            row.update(compress_figures(row["src"], row["out"], args.repeats))
            rerun, rate = statistics.median(row["rerun_s"]), row["count"] / row["first_s"]
            print(
                f"compress {row['count']:>10,} files: whole run {row['first_s']:.1f} s ({rate:,.0f} files/s), peak "
                f"{row['first_peak'] / 2**20:.0f} MiB; up-to-date rerun median {rerun:.2f} s, peak "
                f"{max(row['rerun_peak']) / 2**20:.0f} MiB",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
