"""Timing helpers shared by the benchmark scripts: medians of repeats, whole processes."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time


def median_time(fn, repeats: int, warmup: int = 0) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(fns: dict, repeats: int) -> dict:
    """Wall times of each of ``fns`` (name -> callable; a list per name), the calls taking turns.

    One call of each per round, ``repeats`` rounds: a shared, noisy machine drifts
    over minutes, and taking turns makes the drift weigh on every contender alike,
    so their ratios hold even when the absolute times move.
    """
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def installed_env() -> dict:
    """The environment of a child that runs as an installed package does: with its bytecode caches.

    ``PYTHONDONTWRITEBYTECODE`` (set in some sandboxes and CI images) would make
    every run compile every module again, which no installed tool pays.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_caches() -> None:
    """Write the bytecode caches of this interpreter's packages and of imgjobs, as ``pip install`` does."""
    import sysconfig

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [sysconfig.get_paths()["purelib"], os.path.join(here, "jobs"), os.path.join(here, "rle")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *paths],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=installed_env(),
    )


def run_quiet(cmd) -> None:
    """Run ``cmd`` to completion as an installed tool runs (bytecode caches on), its output discarded."""
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=installed_env())


def timed_process(cmd, repeats: int) -> list[float]:
    """Wall times of running ``cmd`` ``repeats`` times."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run_quiet(cmd)
        times.append(time.perf_counter() - t)
    return times


_PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss(cmd) -> int:
    """Peak resident memory (bytes) of one run of ``cmd``.

    Measured from a small interpreter that starts it: a child forked from a large
    parent (this benchmark, say) counts the parent's pages until it execs.
    """
    out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) * 1024


def imgjobs_cmd() -> list[str]:
    """The ``imgjobs`` command of this interpreter's environment (or ``python -m jobs``)."""
    exe = shutil.which("imgjobs", path=os.path.dirname(sys.executable)) or shutil.which("imgjobs")
    return [exe] if exe else [sys.executable, "-m", "jobs"]
