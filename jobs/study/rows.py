"""A study's table: one row per configuration (its times and what they mean), and the machine it ran on."""

from __future__ import annotations

import os
import platform
import statistics

import dask
import numpy
import PIL

from jobs.study.configs import Configuration, studied

__all__ = ["machine_facts", "make_row"]


def machine_facts() -> dict:
    """Cores, CPU model, memory and library versions of this machine."""
    import distributed  # start-up: distributed costs ~0.5 s; a study of Dask's threads never needs it otherwise

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


def make_row(job: str, cfg: Configuration, times, amount: float, tasks: int | None) -> dict:
    """One row of a study's table: a configuration's run times and what they mean.

    Parameters
    ----------
    job : {"resize", "compress"}
    cfg : Configuration
    times : sequence of float
        Seconds of each repeat.
    amount : float
        Work one run does: images (resize) or MPixel (compress).
    tasks : int or None
        Tasks one run computes.

    Returns
    -------
    dict
        The columns of ``results.csv`` (speedup and efficiency are added by :class:`Study`).
    """
    spec = studied(job)
    times = [float(t) for t in times]
    med = statistics.median(times)
    return {
        "job": spec.name,
        "mode": cfg.mode,
        "workers": cfg.workers,
        "threads_per_worker": cfg.threads_per_worker,
        "parallelism": cfg.parallelism,
        "task_size": cfg.task_size,
        "tasks": tasks,
        "work_per_task": round(amount / tasks, 4) if tasks else None,
        "repeats": len(times),
        "median_s": round(med, 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "spread": round((max(times) - min(times)) / med, 3) if med > 0 else 0.0,
        "rate": round(amount / med, 3),
        "rate_low": round(amount / max(times), 3),
        "rate_high": round(amount / min(times), 3),
        "unit": spec.unit,
        "amount": round(amount, 3),
        "times_s": " ".join(f"{t:.6f}" for t in times),
    }
