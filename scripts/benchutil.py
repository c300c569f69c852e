"""Timing helpers shared by the benchmark scripts: medians of repeats, whole processes."""

from __future__ import annotations

import os
import resource
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


def timed_process(cmd, repeats: int) -> tuple[list[float], int]:
    """Wall times of running ``cmd`` ``repeats`` times, and the peak RSS (bytes) of any child so far."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def imgjobs_cmd() -> list[str]:
    """The ``imgjobs`` command of this interpreter's environment (or ``python -m jobs``)."""
    exe = shutil.which("imgjobs", path=os.path.dirname(sys.executable)) or shutil.which("imgjobs")
    return [exe] if exe else [sys.executable, "-m", "jobs"]
