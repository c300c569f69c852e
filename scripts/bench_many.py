#!/usr/bin/env python3
"""Benchmark ``imgjobs compress`` on many small files against a plain loop, in one run.

For each count of small 1-bit BMPs (96x64 tiles of text and line art, generated
once by ``make_samples.make_small``), the same run measures, as whole processes
(Python start-up and imports included):

0. the I/O floor: a bare single-thread loop that copies 120 bytes of each file
   into a new file (``os.open``/``os.read``/``os.write``, nothing decoded);
1. a plain single-process loop over the files (``rle.read_pixels``, ``rle.encode``,
   write the bytes: what a user would write instead);
2. ``imgjobs compress`` with default settings;
3. ``imgjobs compress --scheduler local --workers 2`` (a LocalCluster, its start included);

the three taking turns, ``--repeats`` rounds, medians reported, outputs compared
byte for byte.  Then: the peak resident memory of each imgjobs process, the
rerun of a finished job (every output exists: planning, skipping, no work), and
decompress of 1,000 ten-byte ``.rle`` files whose headers claim 65535x65535 and of
a sparse 5 GiB file named ``.rle`` (time and peak memory).

The machine is shared and its disk is noisy (creating a file costs 20 to 500 us
here, depending on what other tenants do), so read the ratios, measured in the
same round, more than the absolute times; ``--tmpfs`` puts data and outputs in
``/dev/shm`` to take the disk out.

Usage::

    python scripts/bench_many.py                                  # 2,000, 50,000 and 200,000 files
    python scripts/bench_many.py --tmpfs --counts 50000,200000 --repeats 5  # issue 22's floor ratio
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from benchutil import imgjobs_cmd, peak_rss  # noqa: E402


def plain_loop(src: str, dst: str) -> None:
    """The loop a user would write: read each image, encode it, write the bytes."""
    import rle

    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        pixels = rle.read_pixels(os.path.join(src, name))
        with open(os.path.join(dst, os.path.splitext(name)[0] + ".rle"), "wb") as f:
            f.write(rle.encode(pixels))


def floor_loop(src: str, dst: str) -> None:
    """The I/O floor (issue 22): one thread, os.open/os.read/os.write, 120 bytes of each file into a new one.

    No decoding and no encoding: what creating as many files costs on this file
    system, the bound any compressor of small files approaches.
    """
    os.makedirs(dst, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for name in os.listdir(src):
        fd = os.open(os.path.join(src, name), os.O_RDONLY)
        data = os.read(fd, 120)
        os.close(fd)
        fd = os.open(os.path.join(dst, name + ".out"), flags, 0o644)
        os.write(fd, data)
        os.close(fd)


def _env() -> dict:
    """Children run as an installed package does: with their bytecode caches."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_env())
    return time.perf_counter() - t


def _commands(src: str, dst: str) -> dict:
    base = [*imgjobs_cmd(), "-q", "compress", src, dst, "--no-progress"]
    return {
        "floor": [sys.executable, __file__, "--floor", src, dst],
        "loop": [sys.executable, __file__, "--loop", src, dst],
        "imgjobs": base,
        "imgjobs local x2": [*base, "--scheduler", "local", "--workers", "2", "--dashboard-address", ":0"],
    }


def _warm(directory: str) -> None:
    """Read every input once, so no contender pays for a cold page cache."""
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), "rb") as f:
            f.read()


def bench_count(n: int, data: str, work: str, repeats: int) -> dict:
    from make_samples import make_small

    src = os.path.join(data, f"small-{n}")
    make_small(src, n)
    _warm(src)
    times = {name: [] for name in _commands(src, "")}
    outs = {name: os.path.join(work, f"out-{i}") for i, name in enumerate(times)}
    for r in range(repeats):
        for name in times:
            shutil.rmtree(outs[name], ignore_errors=True)
            times[name].append(_run(_commands(src, outs[name])[name]))
            if r == 0 and name not in ("loop", "floor"):
                names = os.listdir(outs["loop"])
                _, mismatch, errors = filecmp.cmpfiles(outs["loop"], outs[name], names, shallow=False)
                assert not mismatch and not errors, f"{name} differs from the loop: {mismatch[:3]} {errors[:3]}"
                assert sum(f.endswith(".rle") for f in os.listdir(outs[name])) == n  # and the manifest
    result = {"files": n, "seconds": times}
    med = {name: statistics.median(ts) for name, ts in times.items()}
    result["median_s"] = med
    result["vs_loop"] = {name: med["loop"] / med[name] for name in med if name not in ("loop", "floor")}
    result["of_floor"] = {name: med["floor"] / med[name] for name in med if name != "floor"}
    # the rerun: every output exists (the default command over the finished imgjobs output)
    rerun = _commands(src, outs["imgjobs"])["imgjobs"]
    result["rerun_s"] = statistics.median(_run(rerun) for _ in range(max(1, repeats)))
    result["peak_rss_mb"] = {}
    for name in ("imgjobs", "imgjobs local x2"):
        shutil.rmtree(outs[name], ignore_errors=True)
        result["peak_rss_mb"][name] = peak_rss(_commands(src, outs[name])[name]) / 1e6
    for d in outs.values():
        shutil.rmtree(d, ignore_errors=True)
    return result


def bench_bombs(work: str, repeats: int) -> dict:
    liars = os.path.join(work, "liars")
    os.makedirs(liars, exist_ok=True)
    claim = (65535).to_bytes(2, "little") * 2
    for i in range(1000):
        with open(os.path.join(liars, f"liar{i:04d}.rle"), "wb") as f:
            f.write(claim + b"\xff" * 6)
    sparse = os.path.join(work, "sparse")
    os.makedirs(sparse, exist_ok=True)
    with open(os.path.join(sparse, "big.rle"), "wb") as f:
        f.truncate(5 << 30)
    out = {}
    for label, src in (("1,000 lying ten-byte files", liars), ("a sparse 5 GiB file", sparse)):
        for sched in ("default", "local x2"):
            dst = os.path.join(work, "bomb-out")
            cmd = [*imgjobs_cmd(), "-q", "decompress", src, dst, "--no-progress"]
            if sched != "default":
                cmd += ["--scheduler", "local", "--workers", "2", "--dashboard-address", ":0"]
            ts = []
            for _ in range(repeats):
                shutil.rmtree(dst, ignore_errors=True)
                t = time.perf_counter()
                rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env()).returncode
                ts.append(time.perf_counter() - t)
                assert rc == 1, f"decompress of {label} should fail every file (exit 1), got {rc}"
            shutil.rmtree(dst, ignore_errors=True)
            rss = _peak_rss_failing(cmd) / 1e6
            out[f"{label}, {sched}"] = {"median_s": statistics.median(ts), "peak_rss_mb": rss}
    return out


def _peak_rss_failing(cmd) -> int:
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True, env=_env())
    return int(out.stdout.split()[-1]) * 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counts", default="2000,50000,200000", help="numbers of small files (comma-separated)")
    p.add_argument("--repeats", type=int, default=3, help="rounds; each contender runs once per round")
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "imgjobs-bench"), help="generated inputs")
    p.add_argument("--tmpfs", action="store_true", help="data and outputs in /dev/shm: the disk out of the picture")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--loop", nargs=2, metavar=("SRC", "DST"), help=argparse.SUPPRESS)  # the plain loop, as a child
    p.add_argument("--floor", nargs=2, metavar=("SRC", "DST"), help=argparse.SUPPRESS)  # the I/O floor, as a child
    args = p.parse_args(argv)
    if args.loop:
        plain_loop(*args.loop)
        return 0
    if args.floor:
        floor_loop(*args.floor)
        return 0
    data = "/dev/shm/imgjobs-bench" if args.tmpfs else args.data
    counts = [int(c) for c in args.counts.split(",")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", os.path.join(HERE, "..", "jobs"), os.path.join(HERE, "..", "rle")],
        check=False,
        stdout=subprocess.DEVNULL,
        env=_env(),
    )
    results = {"cores": os.cpu_count(), "where": data, "counts": []}
    print(f"# imgjobs compress on many small files ({os.cpu_count()} cores, data in {data})\n")
    os.makedirs(data, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data) as work:  # outputs on the inputs' file system
        for n in counts:
            r = bench_count(n, data, work, args.repeats)
            results["counts"].append(r)
            print(f"{n} files: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["median_s"].items()), flush=True)
        results["bombs"] = bench_bombs(work, args.repeats)
    print(
        "\n| files | plain loop | imgjobs (default) | vs loop | imgjobs local x2 | vs loop | rerun, all done "
        "| peak RSS default / local |\n|---|---|---|---|---|---|---|---|"
    )
    for r in results["counts"]:
        m, v, rss = r["median_s"], r["vs_loop"], r["peak_rss_mb"]
        print(
            f"| {r['files']:,} | {m['loop']:.2f} s | {m['imgjobs']:.2f} s | {v['imgjobs']:.2f}x "
            f"| {m['imgjobs local x2']:.2f} s | {v['imgjobs local x2']:.2f}x | {r['rerun_s']:.2f} s "
            f"| {rss['imgjobs']:.0f} / {rss['imgjobs local x2']:.0f} MB |"
        )
    print("\n| files | I/O floor (bare read+write loop) | imgjobs (default) | of the floor |\n|---|---|---|---|")
    for r in results["counts"]:
        m = r["median_s"]
        print(f"| {r['files']:,} | {m['floor']:.2f} s | {m['imgjobs']:.2f} s | {r['of_floor']['imgjobs']:.2f} |")
    print("\nAsked (issue 22): at least 0.4 of the floor on tmpfs (--tmpfs) at 50,000 and 200,000 files.")
    per_file = {r["files"]: r["median_s"]["imgjobs"] / r["files"] for r in results["counts"]}
    if 50000 in per_file and 200000 in per_file:
        change = per_file[200000] / per_file[50000] - 1
        results["per_file_change_50k_to_200k"] = change
        print(f"\ntime per file, 50,000 -> 200,000 files: {change:+.0%} (default settings)")
    print("\n| decompress | seconds | peak RSS |\n|---|---|---|")
    for label, b in results["bombs"].items():
        print(f"| {label} | {b['median_s']:.2f} | {b['peak_rss_mb']:.0f} MB |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
