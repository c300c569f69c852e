"""Throughput studies: run a job under many configurations; a table, fits, warnings and figures.

A study sweeps where a job runs (Dask's threads, its processes, a
``LocalCluster``, or for resize the exercise's executors), how many workers and
threads, and how much work each task gets.  Every configuration runs
``repeats`` times; times cover planning, running and writing, never starting a
cluster.  What comes back (:class:`Study`) is the table, one shared one-worker
baseline so that modes compare, a fit of Amdahl's law per configuration, a fit
of the per-task overhead from a task-size sweep, warnings about runs too short
or too noisy to trust, and matplotlib figures (:mod:`jobs.study.figures`).

>>> from jobs import study
>>> configs = study.grid("resize", workers=[1, 2], modes=["threads", "local"], task_sizes=[8, "auto"])
>>> len(configs), configs[0]
(8, Configuration(mode='dask threads', workers=1, threads_per_worker=1, task_size=8))
>>> threads = [c for c in configs if c.mode == "dask threads"]  # here: the four threads runs, once each
>>> result = study.sweep("resize", threads, repeats=1, source="train.txt", size="64x64")
>>> len(result.rows), result.rows[0]["amount"], result.rows[0]["unit"]  # a row per configuration
(4, 4, 'images/s')
>>> "throughput" in result.figures()   # matplotlib Figures; in Jupyter, `result` shows the report
True
>>> [os.path.basename(p) for p in result.save("study-resize")][:2]
['results.csv', 'results.md']

``imgjobs study resize|compress`` is the same call from the command line.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AmdahlFit",
    "Configuration",
    "OverheadFit",
    "Study",
    "amdahl_fit",
    "grid",
    "load",
    "machine_facts",
    "make_row",
    "overhead_fit",
    "sweep",
]

log = logging.getLogger(__name__)

#: Where a configuration runs: Dask's schedulers, or (resize) the classic exercise's executors.
MODES = ("dask threads", "dask processes", "dask local", "executor serial", "executor threads", "executor processes")
_SHORT = {m.split()[1]: m for m in MODES[:3]} | {"serial": "executor serial"}


@dataclass(frozen=True)
class _Job:
    """A job as a study sees it: its name and its :class:`~jobs.registry.StudySpec`."""

    name: str
    study: object  # jobs.registry.StudySpec

    def __getattr__(self, key):  # unit, knob, knob_label, per_task, output, ... of the StudySpec
        if key == "study":  # not set yet (a copy being built): no recursion
            raise AttributeError(key)
        return getattr(self.study, key)


# keywords a sweep sets itself, per configuration (the jobs' task-size knobs are added from the registry)
_OWNED = {"scheduler", "workers", "threads_per_worker", "executor", "client"}
_OWNED |= {"scheduler_address", "scheduler_file", "cluster", "overwrite", "progress", "compute"}


def _job(job: str) -> _Job:
    """The study side of job ``job`` from the registry; :class:`~jobs.errors.UsageError` if it cannot be studied."""
    from jobs import registry
    from jobs.errors import UsageError

    studied = [name for name, spec in registry.specs().items() if spec.study is not None]
    spec = registry.specs().get(job) if isinstance(job, str) else None
    if spec is None or spec.study is None:
        raise UsageError(f"a study runs one of {', '.join(repr(n) for n in studied)}, not {job!r}")
    return _Job(spec.name, spec.study)


@dataclass(frozen=True)
class Configuration:
    """One point of a study: where the job runs, how wide, and how much work per task.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`; ``"threads"``, ``"processes"``, ``"local"`` and
        ``"serial"`` are short for ``"dask threads"``, ... and ``"executor serial"``.
    workers : int
        Pool size, LocalCluster worker processes, or executor workers.
    threads_per_worker : int
        Threads in each LocalCluster worker (1 for every other mode).
    task_size : int or "auto"
        resize: images per task; compress: rows per task (0: one task per
        image).  The executors take one image per call: ``"-"``.
    """

    mode: str
    workers: int = 1
    threads_per_worker: int = 1
    task_size: int | str = "auto"

    def __post_init__(self):
        from jobs.errors import UsageError

        mode = _SHORT.get(self.mode, self.mode)
        object.__setattr__(self, "mode", mode)
        if mode not in MODES:
            raise UsageError(
                f"a study's mode is one of {', '.join(MODES)} (or threads, processes, local, serial); not {self.mode!r}"
            )
        for name in ("workers", "threads_per_worker"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{name} must be a whole number >= 1, got {value!r} ({mode})")
        if self.threads_per_worker != 1 and mode != "dask local":
            raise UsageError(f"threads_per_worker applies to 'dask local' only, not {mode!r}")
        if mode == "executor serial" and self.workers != 1:
            raise UsageError("the serial executor is one plain loop: workers=1")
        if mode.startswith("executor"):
            object.__setattr__(self, "task_size", "-")
        elif self.task_size != "auto" and not (isinstance(self.task_size, int) and self.task_size >= 0):
            try:
                object.__setattr__(self, "task_size", int(self.task_size))
            except (TypeError, ValueError):
                raise UsageError(f"task_size is 'auto' or a whole number, not {self.task_size!r}") from None
            if self.task_size < 0:
                raise UsageError(f"task_size is 'auto' or a whole number >= 0, not {self.task_size!r}")

    @property
    def parallelism(self) -> int:
        """Workers x threads per worker: how many tasks can run at once."""
        return self.workers * self.threads_per_worker

    @property
    def series(self) -> tuple:
        """What stays fixed along a line of the throughput figure (all but the workers)."""
        return (self.mode, self.threads_per_worker, str(self.task_size))


def grid(
    job, *, workers=None, modes=("threads", "local"), threads_per_worker=(1,), task_sizes=("auto",), executors=()
) -> list[Configuration]:
    """Every combination of the given settings, as a list of :class:`Configuration`.

    Parameters
    ----------
    job : {"resize", "compress"}
    workers : list of int, optional
        Worker counts (default 1, 2, half the cores and every core).
    modes : list of str
        Dask schedulers: ``threads``, ``processes``, ``local``.
    threads_per_worker : list of int
        For ``local`` only; the other modes run one thread per worker.
    task_sizes : list of int or "auto"
        Images per task (resize) or rows per task (compress; 0: one task per image).
    executors : list of str
        resize only: the exercise's ``serial`` loop (one worker), ``threads`` and
        ``processes`` pools, for comparison.
    """
    from jobs.errors import UsageError

    spec = _job(job)
    if workers is None:
        cores = os.cpu_count() or 1
        workers = sorted({1, 2, cores // 2, cores} - {0})
    if executors and not spec.executors:
        raise UsageError(f"the exercise's executors exist for the resize job only, not {spec.name}")
    configs = []
    for mode in modes:
        if _SHORT.get(mode, mode) not in MODES[:3]:
            raise UsageError(f"modes are Dask schedulers: threads, processes, local; not {mode!r}")
        for w in workers:
            for t in threads_per_worker if _SHORT.get(mode, mode) == "dask local" else [1]:
                configs += [Configuration(mode, w, t, size) for size in task_sizes]
    for ex in executors:
        if ex not in ("serial", "threads", "processes"):
            raise UsageError(f"executors are serial, threads, processes; not {ex!r}")
        configs += [Configuration(f"executor {ex}", w) for w in ([1] if ex == "serial" else workers)]
    return configs


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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

    k = np.asarray(tasks, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if k.shape != t.shape or len(set(k.tolist())) < 2:
        raise ValueError("an overhead fit needs run times at two or more task counts")
    c, a = np.polyfit(k, t, 1)
    return OverheadFit(work_s=float(a), per_task_s=float(c), points=len(t), r2=_r2(t, a + c * k))


# -- the machine


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


# -- running


def _open(cfg: Configuration):
    """A LocalCluster for a ``dask local`` configuration (started outside the timings), else nothing."""
    import contextlib

    from jobs.runtime.schedulers import open_runner

    if cfg.mode != "dask local":
        return contextlib.nullcontext(None)
    return open_runner(
        scheduler="local", workers=cfg.workers, threads_per_worker=cfg.threads_per_worker, dashboard_address=":0"
    )


def _run_once(spec: _Job, cfg: Configuration, source, options: dict, runner, tmp: str):
    """Run the job once on ``cfg``; return (seconds, amount of work, tasks)."""
    import shutil

    from jobs import registry

    where: dict = {"progress": False, "overwrite": True}
    if cfg.mode.startswith("executor"):
        where |= {"executor": cfg.mode.split()[1], "workers": cfg.workers}
    else:
        where[spec.knob] = spec.auto if cfg.task_size == "auto" else cfg.task_size
        if runner is not None:
            where["client"] = runner.client
        else:
            where |= {"scheduler": cfg.mode.split()[1], "workers": cfg.workers}
    shutil.rmtree(tmp, ignore_errors=True)  # every run writes everything, outside the timing
    os.makedirs(tmp)
    call = registry.get(spec.name).call()
    start = time.perf_counter()
    report = call(source, os.path.join(tmp, spec.output), **options, **where)
    seconds = time.perf_counter() - start
    amount = registry.load(spec.amount)(report)
    if not report.ok:  # a failed file is work not done: its time would flatter the throughput
        from jobs.errors import UsageError

        bad = report.problems
        raise UsageError(
            f"{spec.name} failed on {len(bad)} file(s) during the study, e.g. {bad[0].reason}: a study measures a "
            "job that succeeds; fix or drop those files"
        )
    return seconds, amount, report.tasks


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
    spec = _job(job)
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


def sweep(
    job: str,
    configurations=None,
    repeats: int = 3,
    *,
    source,
    progress=None,
    baseline: Configuration | None = None,
    min_seconds: float = 1.0,
    max_spread: float = 0.10,
    callback=None,
    **options,
) -> Study:
    """Run ``job`` under every configuration, ``repeats`` times each, and study the times.

    Parameters
    ----------
    job : {"resize", "compress"}
    configurations : list of Configuration, optional
        What to run (default :func:`grid` of ``job`` with its defaults).
    repeats : int
        Runs per configuration; the table gives their median, minimum and maximum.
    source : str or os.PathLike
        The job's input: resize's list, JSON config or directory; compress's directory.
    progress : bool, optional
        A progress bar over the runs (default: on a terminal or in Jupyter).
    baseline : Configuration, optional
        The run every speedup is measured against (default: the fastest one-worker
        configuration, so modes compare on one scale).
    min_seconds, max_spread : float
        Warn about configurations whose median run is shorter than this, or whose
        repeats spread (max - min) / median more than this.
    callback : callable, optional
        Called with each row of the table as soon as its configuration is done.
    **options
        The job's own keyword arguments (resize: ``num_images``, ``size``,
        ``method``, ``exact``, ``draft_fraction``, ``max_pixels``; compress:
        ``threshold``, ``max_pixels``), with the same config defaults as the job.

    Returns
    -------
    Study
    """
    import contextlib
    import tempfile

    from jobs.errors import UsageError
    from jobs.runtime.progress import interactive

    spec = _job(job)
    configurations = list(grid(job) if configurations is None else configurations)
    if not configurations:
        raise UsageError("a study needs at least one configuration")
    configurations = [c if isinstance(c, Configuration) else Configuration(**c) for c in configurations]
    if not spec.executors and any(c.mode.startswith("executor") for c in configurations):
        raise UsageError(f"the exercise's executors exist for the resize job only, not {spec.name}")
    if 0 not in spec.sizes_default and any(c.task_size == 0 for c in configurations):
        raise UsageError(
            f"a {spec.name} task loads at least one {spec.knob_label.split()[0].removesuffix('s')}: task sizes "
            f"({spec.knob_label}) are >= 1 or 'auto'"
        )
    if not isinstance(repeats, int) or repeats < 1:
        raise UsageError(f"repeats must be a whole number >= 1, got {repeats!r}")
    owned = sorted(set(options) & (_OWNED | {spec.knob}))
    if owned:
        raise UsageError(f"a study sets {', '.join(owned)} itself, per configuration: leave it out")
    settings = _settings(spec, options)
    if not os.path.exists(source):
        raise UsageError(f"{source}: no such file or directory")
    if progress is None:
        from jobs import config

        progress = config.get_bool("progress") and interactive()
    bar = None
    if progress:
        from jobs.runtime.progress import bar_class

        runs = len(configurations) * repeats
        bar = bar_class()(total=runs, desc=f"study {spec.name}", unit="run", dynamic_ncols=True)
    rows: list = []
    # in the order given, except that configurations sharing a LocalCluster run together: it starts
    # once, outside the timings
    first: dict = {}
    for i, c in enumerate(configurations):
        first.setdefault((c.mode, c.workers, c.threads_per_worker), i)
    order = sorted(range(len(configurations)), key=lambda i: first[_width(configurations[i])])
    try:
        with tempfile.TemporaryDirectory(prefix="imgjobs-study-") as tmp, contextlib.ExitStack() as always:
            opened, runner, cluster = None, None, contextlib.ExitStack()
            always.callback(lambda: cluster.close())  # an error or Ctrl-C still closes the open cluster
            for i in order:
                cfg = configurations[i]
                key = (cfg.workers, cfg.threads_per_worker) if cfg.mode == "dask local" else None
                if key != opened:
                    cluster.close()
                    cluster = contextlib.ExitStack()
                    runner = cluster.enter_context(_open(cfg))
                    opened = key
                times, amount, tasks = [], 0.0, None
                for _ in range(repeats):
                    if bar is not None:
                        bar.set_postfix_str(f"{cfg.mode}, {cfg.parallelism} worker(s), {cfg.task_size}", refresh=False)
                    seconds, amount, tasks = _run_once(spec, cfg, source, options, runner, tmp)
                    times.append(seconds)
                    if bar is not None:
                        bar.update(1)
                row = make_row(spec.name, cfg, times, amount, tasks)
                rows.append((i, row))
                log.info("study %s: %s", spec.name, row)
                if callback is not None:
                    callback(row)
    finally:
        if bar is not None:
            bar.close()
    table = [row for _, row in sorted(rows, key=lambda t: t[0])]
    settings = {"source": os.fspath(source), **settings}
    return Study(
        spec.name,
        table,
        configurations,
        baseline=baseline,
        min_seconds=min_seconds,
        max_spread=max_spread,
        options=settings,
    )


def _settings(spec: _Job, options: dict) -> dict:
    """The job's options as they will apply (config defaults filled in), for the report; unknown ones refused."""
    from jobs import registry
    from jobs.errors import UsageError

    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        passed = ", ".join(spec.options) or "none of its options"
        raise UsageError(f"{spec.name} has no option {', '.join(unknown)}: a study passes on {passed}")
    return registry.load(spec.settings)(options)


def _width(c: Configuration) -> tuple:
    return (c.mode, c.workers, c.threads_per_worker)


# -- the result


@dataclass
class Study:
    """What a study measured, and what it means.

    Attributes
    ----------
    job : str
    rows : list of dict
        The table, one row per configuration (the columns of ``results.csv``).
    configurations : list of Configuration
    baseline : dict or None
        The row every speedup is measured against.
    amdahl : list of dict
        Per line of the throughput figure with two worker counts or more: its
        :class:`AmdahlFit`.
    overhead : list of dict
        Per mode and width with two task counts or more: its :class:`OverheadFit`.
    options : dict
        What was measured: the source and the job's options as they applied.
    warnings : list of str
        Runs too short or too noisy to trust, each with what to do.
    facts : dict
        The machine (:func:`machine_facts`).
    """

    job: str
    rows: list
    configurations: list
    baseline: Any = None  # given: a row, a Configuration or None; kept: the row
    min_seconds: float = 1.0
    max_spread: float = 0.10
    options: dict = field(default_factory=dict)
    command: str | None = None
    facts: dict = field(default_factory=machine_facts)
    amdahl: list = field(default_factory=list)
    overhead: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def __post_init__(self):
        spec = _job(self.job)
        self.unit, self.knob_label, self.per_task_label = spec.unit, spec.knob_label, spec.per_task
        self.baseline = self._pick_baseline(self.baseline)
        base = self.baseline["rate"] if self.baseline else None
        for r in self.rows:
            r["speedup"] = round(r["rate"] / base, 3) if base else None
            r["efficiency"] = round(r["speedup"] / r["parallelism"], 3) if base else None
        self.amdahl = self._fit_amdahl()
        self.overhead = self._fit_overhead()
        self.warnings = self._check()
        for w in self.warnings:
            log.warning("%s", w)

    # -- analysis

    def _pick_baseline(self, baseline):
        if isinstance(baseline, dict):
            return baseline
        if baseline is not None:
            cfg = baseline if isinstance(baseline, Configuration) else Configuration(**baseline)
            for c, r in zip(self.configurations, self.rows, strict=True):
                if c == cfg:
                    return r
            from jobs.errors import UsageError

            raise UsageError(f"the baseline {cfg} is not one of the study's configurations")
        ones = [r for r in self.rows if r["parallelism"] == 1]
        return max(ones, key=lambda r: r["rate"]) if ones else None

    def series(self) -> dict:
        """Rows by line of the throughput figure: (mode, threads per worker, task size) -> rows by parallelism."""
        out: dict = {}
        for r in self.rows:
            out.setdefault((r["mode"], r["threads_per_worker"], str(r["task_size"])), []).append(r)
        return {k: sorted(v, key=lambda r: r["parallelism"]) for k, v in out.items()}

    def task_size_sweeps(self) -> dict:
        """Rows of Dask runs by width, (mode, workers, threads per worker) -> rows by work per task,
        for the widths that ran two task sizes or more (the task-size figure's lines)."""
        out: dict = {}
        for r in self.rows:
            if r["tasks"] and not r["mode"].startswith("executor"):
                out.setdefault((r["mode"], r["workers"], r["threads_per_worker"]), []).append(r)
        return {
            k: sorted(v, key=lambda r: r["work_per_task"]) for k, v in out.items() if len({r["tasks"] for r in v}) > 1
        }

    def _fit_amdahl(self) -> list:
        fits = []
        for (mode, tpw, size), rows in self.series().items():
            if len({r["parallelism"] for r in rows}) < 2:
                continue
            fit = amdahl_fit(*_every_repeat(rows, "parallelism"))
            fits.append({"mode": mode, "threads_per_worker": tpw, "task_size": size, "fit": fit})
        return fits

    def _fit_overhead(self) -> list:
        fits = []
        for (mode, w, tpw), rows in self.task_size_sweeps().items():
            fit = overhead_fit(*_every_repeat(rows, "tasks"))
            amount = rows[0]["amount"]
            fits.append(
                {
                    "mode": mode,
                    "workers": w,
                    "threads_per_worker": tpw,
                    "fit": fit,
                    "min_work_per_task": 0.0
                    if fit.problem or fit.max_tasks() == math.inf
                    else amount / fit.max_tasks(),
                }
            )
        return fits

    def _check(self) -> list:
        out = []
        short = [r for r in self.rows if r["median_s"] < self.min_seconds]
        if short:
            low = min(short, key=lambda r: r["median_s"])
            factor = max(2, math.ceil(2 * self.min_seconds / max(low["median_s"], 1e-3)))
            amount = low["amount"]
            spec = _job(self.job)
            work = spec.unit.removesuffix("/s")  # "images", "MPixel"
            if work == "images":
                bigger = f"about {factor}x the images, {int(amount) * factor:,} ({spec.grow})"
            else:
                bigger = f"about {factor}x the pixels, {amount * factor:,.0f} {work} ({spec.grow})"
            out.append(
                f"{len(short)} of {len(self.rows)} configuration(s) ran under {self.min_seconds:g} s (shortest "
                f"{low['median_s']:.3f} s: {_name(low)}): start-up and noise outweigh the work, so speedups "
                f"and fits mean little. Use a larger input: {bigger}."
            )
        noisy = [r for r in self.rows if r["repeats"] > 1 and r["spread"] > self.max_spread]
        if noisy:
            worst = sorted(noisy, key=lambda r: -r["spread"])
            listed = "; ".join(f"{_name(r)}: {r['spread']:.0%}" for r in worst[:5])
            more = f"; and {len(worst) - 5} more" if len(worst) > 5 else ""
            out.append(
                f"{len(noisy)} of {len(self.rows)} configuration(s) spread more than {self.max_spread:.0%} of their "
                f"median between the fastest and slowest repeat ({listed}{more}): the machine is busy or the runs "
                "are short; use more repeats, a larger input or a quieter machine."
            )
        return out

    # -- outputs

    def to_csv(self, path) -> None:
        """Write the table as CSV, one row per configuration."""
        import csv

        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)

    def markdown(self) -> str:
        """The report: machine, table, fits, warnings, and how to read each figure."""
        from jobs.study.figures import EXPLAIN

        unit, knob = self.unit, self.knob_label
        lines = [f"# imgjobs study: {self.job}", ""]
        if self.command:
            lines += [f"Command: `{self.command}`", ""]
        lines += ["| machine | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in self.facts.items()]
        if self.options:
            lines += ["", "| job | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in self.options.items()]
        if self.warnings:
            lines += ["", "## Warnings", ""] + [f"- {w}" for w in self.warnings]
        base = self.baseline
        lines += ["", "## Results", ""]
        if base:
            lines += [
                f"Speedup and efficiency are against one shared baseline, the fastest one-worker run: "
                f"{_name(base)}, {base['rate']:,.1f} {unit}. Efficiency = speedup / (workers x threads).",
                "",
            ]
        else:
            lines += ["No one-worker run, so no speedups: add a configuration with one worker.", ""]
        lines += [
            f"| mode | workers | threads/worker | {knob} | tasks | median s | min..max s | {unit} | speedup | "
            "efficiency |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            sp = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
            ef = f"{r['efficiency']:.0%}" if r["efficiency"] else "-"
            lines.append(
                f"| {r['mode']} | {r['workers']} | {r['threads_per_worker']} | {r['task_size']} | "
                f"{r['tasks'] if r['tasks'] is not None else '-'} | {r['median_s']:.3f} | "
                f"{r['min_s']:.3f}..{r['max_s']:.3f} | {r['rate']:,.1f} | {sp} | {ef} |"
            )
        table = self.case_study_table()
        if table:
            lines += ["", table.rstrip()]
        if self.amdahl:
            lines += [
                "",
                "## Amdahl's law",
                "",
                EXPLAIN["amdahl"],
                "",
                f"| mode | threads/worker | {knob} | serial s | parallel s | serial fraction | max speedup |",
                "|---|---|---|---|---|---|---|",
            ]
            for a in self.amdahl:
                f = a["fit"]
                head = f"| {a['mode']} | {a['threads_per_worker']} | {a['task_size']} |"
                if f.problem:
                    lines.append(f"{head} {f.problem} | | | |")
                    continue
                most = "unbounded" if f.max_speedup == math.inf else f"{f.max_speedup:.1f}x"
                lines.append(f"{head} {f.serial_s:.3f} | {f.parallel_s:.3f} | {f.serial_fraction:.1%} | {most} |")
        if self.overhead:
            lines += [
                "",
                "## Per-task overhead",
                "",
                EXPLAIN["overhead"],
                "",
                f"| mode | workers x threads | work s | ms per extra task | ms of a worker per task | "
                f"smallest {self.per_task_label} for < 10% overhead |",
                "|---|---|---|---|---|---|",
            ]
            for o in self.overhead:
                f = o["fit"]
                p = o["workers"] * o["threads_per_worker"]
                if f.problem:
                    lines.append(f"| {o['mode']} | {o['workers']} x {o['threads_per_worker']} | {f.problem} | | | |")
                    continue
                lines.append(
                    f"| {o['mode']} | {o['workers']} x {o['threads_per_worker']} | {f.work_s:.3f} | "
                    f"{f.per_task_s * 1e3:.2f} | {f.per_task_s * 1e3 * p:.2f} | "
                    f"{o['min_work_per_task']:.3g} |"
                )
        lines += ["", "## Figures", ""]
        for name in self.figure_names():
            lines += [f"**{name}.png**: {EXPLAIN[name]}", ""]
        return "\n".join(lines).rstrip() + "\n"

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def case_study_table(self) -> str:
        """compress: the case study's 2x2 table in Markdown, worker processes vs threads x one task per
        image vs row-block tasks, at the widest parallelism ("" when the study lacks those runs)."""
        if self.job != "compress":
            return ""
        top = max(r["parallelism"] for r in self.rows)
        cell = {
            (r["mode"], str(r["task_size"])): r
            for r in self.rows
            if r["parallelism"] == top and r["threads_per_worker"] == 1
        }
        modes = [m for m in ("dask local", "dask processes", "dask threads") if any(k[0] == m for k in cell)]
        if len(modes) < 2 or not any(k[1] == "0" for k in cell) or not any(k[1] == "auto" for k in cell):
            return ""
        lines = [
            f"The case study's 2x2 table as Dask configurations ({top} workers, {self.unit}):",
            "",
            "| | " + " | ".join("worker processes" if m != "dask threads" else "threads" for m in modes) + " |",
            "|---|" + "---|" * len(modes),
        ]
        for size, name in (("0", "one task per image"), ("auto", "row-block tasks")):
            vals = [f"{cell[(m, size)]['rate']:,.1f}" if (m, size) in cell else "-" for m in modes]
            lines.append(f"| {name} | " + " | ".join(vals) + " |")
        return "\n".join(lines) + "\n"

    def figure_names(self) -> list:
        """The figures this study has: ``throughput`` and ``efficiency``, and ``task_size`` for a task-size sweep."""
        return ["throughput", "efficiency"] + (["task_size"] if self.task_size_sweeps() else [])

    def figures(self) -> dict:
        """The study's matplotlib figures, by name (needs matplotlib: ``pip install 'imgjobs[plot]'``)."""
        from jobs.study import figures

        return {name: getattr(figures, f"{name}_figure")(self) for name in self.figure_names()}

    def save(self, out, *, figures: bool = True) -> list:
        """Write ``results.csv``, ``results.md`` and (with matplotlib) a PNG per figure into ``out``.

        Returns the paths written.  Without matplotlib the figures are left out
        with a warning in the log; ``figures=False`` leaves them out silently.
        """
        os.makedirs(out, exist_ok=True)
        paths = [os.path.join(out, "results.csv"), os.path.join(out, "results.md")]
        self.to_csv(paths[0])
        with open(paths[1], "w") as f:
            f.write(self.markdown())
        if figures:
            try:
                drawn = self.figures()
            except ImportError as e:
                log.warning("%s", e)
                drawn = {}
            for name, fig in drawn.items():
                paths.append(os.path.join(out, f"{name}.png"))
                fig.savefig(paths[-1], dpi=120)
        return paths


def _every_repeat(rows: list, column: str) -> tuple[list, list]:
    """(x, seconds) for every repeat of ``rows``, x from ``column``: what the fits take."""
    xs = [r[column] for r in rows for _ in r["times_s"].split()]
    return xs, [float(t) for r in rows for t in r["times_s"].split()]


def _name(r: dict) -> str:
    width = f"{r['workers']} worker(s)" + (
        f" x {r['threads_per_worker']} threads" if r["threads_per_worker"] > 1 else ""
    )
    size = "" if r["task_size"] == "-" else f", task size {r['task_size']}"
    return f"{r['mode']}, {width}{size}"


def load(path, *, baseline: Configuration | None = None) -> Study:
    """Read a study's ``results.csv`` back: the table, fits, warnings and figures again, e.g. to re-plot.

    Parameters
    ----------
    path : str or os.PathLike
        A ``results.csv`` written by :meth:`Study.save` or ``imgjobs study``.
    baseline : Configuration, optional
        Measure speedups against this configuration instead of the fastest one-worker run.
    """
    import csv

    from jobs.errors import UsageError

    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    if not records or "times_s" not in records[0]:
        raise UsageError(f"{path}: not a results.csv of imgjobs study (no rows, or no times_s column)")
    rows, configs = [], []
    for rec in records:
        size = rec["task_size"]
        cfg = Configuration(
            rec["mode"],
            int(rec["workers"]),
            int(rec["threads_per_worker"]),
            size if size in ("auto", "-") else int(size),
        )
        tasks = int(rec["tasks"]) if rec.get("tasks") else None
        rows.append(make_row(rec["job"], cfg, rec["times_s"].split(), float(rec["amount"]), tasks))
        configs.append(cfg)
    facts = {"machine": f"see the results.md beside {os.fspath(path)}"}
    return Study(rows[0]["job"], rows, configs, baseline=baseline, facts=facts)
