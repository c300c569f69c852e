"""What a study's times say: Amdahl's law over workers, and the per-task overhead over task sizes.

Least-squares fits in numpy, with the checks that say when a fit means
nothing (noise dominates, a negative part, too few points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["AmdahlFit", "OverheadFit", "amdahl_fit", "overhead_fit"]


# -- fits


@dataclass(frozen=True)
class AmdahlFit:
    """Amdahl's law fitted to times on n workers: ``T(n) = serial_s + parallel_s / n``.

    Attributes
    ----------
    serial_s, parallel_s : float
        The part of one run that does not shrink with workers, and the part that does.
    serial_fraction : float
        ``serial_s / (serial_s + parallel_s)``, clipped to 0..1: the speedup on any
        number of workers is at most ``1 / serial_fraction``.
    points : int
        Timings fitted.
    r2 : float
        How much of the spread of the times the fit explains (1: all; 0: no more than their mean).
    """

    serial_s: float
    parallel_s: float
    serial_fraction: float
    points: int
    r2: float = 1.0

    @property
    def problem(self) -> str | None:
        """Why this fit is no result ("no fit: noise dominates ..."), or None when it is one."""
        if self.parallel_s <= 0:
            return "no fit: noise dominates (runs were no faster with more workers: parallel time <= 0)"
        if self.serial_s < 0:
            return f"no fit: noise dominates (negative serial time, {self.serial_s:.3f} s)"
        if self.r2 < _MIN_R2:
            return f"no fit: noise dominates (the fit explains {max(self.r2, 0):.0%} of the spread of the times)"
        return None

    @property
    def max_speedup(self) -> float:
        """The speedup no number of workers can pass (infinite for a serial fraction of 0)."""
        return math.inf if self.serial_fraction <= 0 else 1.0 / self.serial_fraction

    def seconds(self, n: float) -> float:
        """The fitted time on ``n`` workers."""
        return self.serial_s + self.parallel_s / n


def amdahl_fit(parallelism, seconds) -> AmdahlFit:
    """Fit Amdahl's law to run times: least squares of ``T = a + b / n``.

    Parameters
    ----------
    parallelism : sequence of int
        Workers (x threads) of each run; at least two different values.
    seconds : sequence of float
        The run times, one per entry of ``parallelism`` (every repeat may be given).

    Returns
    -------
    AmdahlFit

    Examples
    --------
    >>> fit = amdahl_fit([1, 2, 4, 8], [10 * (0.2 + 0.8 / n) for n in (1, 2, 4, 8)])
    >>> round(fit.serial_fraction, 3), round(fit.max_speedup, 2)
    (0.2, 5.0)
    """
    n = np.asarray(parallelism, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if n.shape != t.shape or len(set(n.tolist())) < 2:
        raise ValueError("an Amdahl fit needs run times at two or more worker counts")
    b, a = np.polyfit(1.0 / n, t, 1)
    a, b = float(a), float(b)
    total = a + b
    fraction = min(1.0, max(0.0, a / total)) if total > 0 else 1.0
    return AmdahlFit(serial_s=a, parallel_s=b, serial_fraction=fraction, points=len(t), r2=_r2(t, a + b / n))


#: A fit that explains less of the spread of the times than this is reported as no fit.
_MIN_R2 = 0.5


def _r2(t, predicted) -> float:
    """The coefficient of determination of ``predicted`` for ``t`` (1 when ``t`` has no spread)."""
    spread = float(np.sum((t - t.mean()) ** 2))
    return 1.0 if spread == 0 else 1.0 - float(np.sum((t - predicted) ** 2)) / spread


@dataclass(frozen=True)
class OverheadFit:
    """Run time against the number of tasks at fixed workers: ``T = work_s + per_task_s * tasks``.

    Attributes
    ----------
    work_s : float
        The time the work itself would take with no per-task cost.
    per_task_s : float
        Wall time each extra task adds; ``per_task_s * parallelism`` is about
        what one task costs a worker.
    points : int
        Timings fitted.
    r2 : float
        How much of the spread of the times the fit explains.
    """

    work_s: float
    per_task_s: float
    points: int
    r2: float = 1.0

    @property
    def problem(self) -> str | None:
        """Why this fit is no result ("no fit: noise dominates ..."), or None when it is one."""
        if self.work_s <= 0:
            return f"no fit: noise dominates (work time <= 0: {self.work_s:.3f} s)"
        if self.per_task_s < 0:
            return "no fit: noise dominates (runs were faster with more tasks: negative per-task cost)"
        if self.r2 < _MIN_R2:
            return f"no fit: noise dominates (the fit explains {max(self.r2, 0):.0%} of the spread of the times)"
        return None

    def max_tasks(self, share: float = 0.1) -> float:
        """Tasks at which the per-task cost is ``share`` of the work (infinite without a measurable cost:
        under a microsecond a task)."""
        if self.per_task_s < 1e-6 or self.work_s <= 0:
            return math.inf
        return share * self.work_s / self.per_task_s


def overhead_fit(tasks, seconds) -> OverheadFit:
    """Fit the per-task overhead: least squares of ``T = a + c * tasks``.

    Parameters
    ----------
    tasks : sequence of int
        Tasks of each run; at least two different values.
    seconds : sequence of float
        Run times, one per entry of ``tasks``.

    Examples
    --------
    >>> fit = overhead_fit([10, 100, 1000], [2.0 + 0.001 * k for k in (10, 100, 1000)])
    >>> round(fit.work_s, 3), round(fit.per_task_s * 1000, 3), round(fit.max_tasks())
    (2.0, 1.0, 200)
    """
    k = np.asarray(tasks, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if k.shape != t.shape or len(set(k.tolist())) < 2:
        raise ValueError("an overhead fit needs run times at two or more task counts")
    c, a = np.polyfit(k, t, 1)
    return OverheadFit(work_s=float(a), per_task_s=float(c), points=len(t), r2=_r2(t, a + c * k))
