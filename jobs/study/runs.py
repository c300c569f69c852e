"""Running a study: every configuration, ``repeats`` times, timed; a row of the table per configuration."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time

from jobs import config, registry
from jobs.errors import UsageError
from jobs.runtime.progress import bar_class, interactive
from jobs.schedulers import open_runner
from jobs.study.configs import OWNED, Configuration, StudiedJob, grid, studied, with_executors
from jobs.study.results import Study
from jobs.study.rows import make_row

__all__ = ["sweep"]

log = logging.getLogger(__name__)


def _open(cfg: Configuration):
    """A LocalCluster for a ``dask local`` configuration (started outside the timings), else nothing."""
    if cfg.mode != "dask local":
        return contextlib.nullcontext(None)
    return open_runner(
        scheduler="local", workers=cfg.workers, threads_per_worker=cfg.threads_per_worker, dashboard_address=":0"
    )


def _run_once(spec: StudiedJob, cfg: Configuration, source, options: dict, runner, tmp: str):
    """Run the job once on ``cfg``; return (seconds, amount of work, tasks)."""
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
    call = registry.get(spec.name).function
    start = time.perf_counter()
    report = call(source, os.path.join(tmp, spec.output), **options, **where)
    seconds = time.perf_counter() - start
    amount = spec.amount(report)
    if not report.ok:  # a failed file is work not done: its time would flatter the throughput
        bad = report.problems
        raise UsageError(
            f"{spec.name} failed on {len(bad)} file(s) during the study, e.g. {bad[0].reason}: a study measures a "
            "job that succeeds; fix or drop those files"
        )
    return seconds, amount, report.tasks


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
    spec = studied(job)
    configurations = list(grid(job) if configurations is None else configurations)
    if not configurations:
        raise UsageError("a study needs at least one configuration")
    configurations = [c if isinstance(c, Configuration) else Configuration(**c) for c in configurations]
    if not spec.executors and any(c.mode.startswith("executor") for c in configurations):
        raise UsageError(
            f"the exercise's executors exist for the {' and '.join(with_executors())} job only, not {spec.name}"
        )
    if 0 not in spec.sizes_default and any(c.task_size == 0 for c in configurations):
        raise UsageError(
            f"a {spec.name} task loads at least one {spec.knob_label.split()[0].removesuffix('s')}: task sizes "
            f"({spec.knob_label}) are >= 1 or 'auto'"
        )
    if not isinstance(repeats, int) or repeats < 1:
        raise UsageError(f"repeats must be a whole number >= 1, got {repeats!r}")
    owned = sorted(set(options) & (OWNED | {spec.knob}))
    if owned:
        raise UsageError(f"a study sets {', '.join(owned)} itself, per configuration: leave it out")
    settings = _settings(spec, options)
    if not os.path.exists(source):
        raise UsageError(f"{source}: no such file or directory")
    if progress is None:
        progress = config.get_bool("progress") and interactive()
    bar = None
    if progress:
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


def _settings(spec: StudiedJob, options: dict) -> dict:
    """The job's options as they will apply (config defaults filled in), for the report; unknown ones refused."""
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        passed = ", ".join(spec.options) or "none of its options"
        raise UsageError(f"{spec.name} has no option {', '.join(unknown)}: a study passes on {passed}")
    return spec.settings(options)


def _width(c: Configuration) -> tuple:
    return (c.mode, c.workers, c.threads_per_worker)
