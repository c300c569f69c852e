"""What a study measured, and what it means: the table, speedups against one baseline, fits, warnings.

:class:`Study` renders it as ``results.csv`` and ``results.md`` (and, with
matplotlib, figures: :mod:`jobs.study.figures`); :func:`load` reads a
``results.csv`` back.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

from jobs.errors import UsageError
from jobs.runtime.durable import write_atomic
from jobs.runtime.temporaries import new_token
from jobs.study.configs import Configuration, studied
from jobs.study.figures import EXPLAIN, efficiency_figure, task_size_figure, throughput_figure
from jobs.study.fits import amdahl_fit, overhead_fit
from jobs.study.rows import machine_facts, make_row

__all__ = ["FIGURES", "Study", "load"]

log = logging.getLogger(__name__)

#: The figures a study draws, by name (each ``figure(study) -> matplotlib.figure.Figure``).
FIGURES = {"throughput": throughput_figure, "efficiency": efficiency_figure, "task_size": task_size_figure}


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
        spec = studied(self.job)
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
            spec = studied(self.job)
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
        """Write the table as CSV, one row per configuration (through a temporary: never half a table)."""
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(os.fspath(path), [buf.getvalue().encode()], new_token())

    def markdown(self) -> str:
        """The report: machine, table, fits, warnings, and how to read each figure."""
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
        table = self.job_tables()
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

    def job_tables(self) -> str:
        """The tables the job's study adds to the report (:attr:`~jobs.jobspec.StudySpec.tables`), in Markdown:
        compress's is the case study's 2x2 table.  "" when it has none, or this study lacks their runs."""
        tables = [table(self.rows, self.unit) for table in studied(self.job).tables]
        return "\n".join(t for t in tables if t)

    def figure_names(self) -> list:
        """The figures this study has: ``throughput`` and ``efficiency``, and ``task_size`` for a task-size sweep."""
        return ["throughput", "efficiency"] + (["task_size"] if self.task_size_sweeps() else [])

    def figures(self) -> dict:
        """The study's matplotlib figures, by name (needs matplotlib: ``pip install 'imgjobs[plot]'``)."""
        return {name: FIGURES[name](self) for name in self.figure_names()}

    def save(self, out, *, figures: bool = True) -> list:
        """Write ``results.csv``, ``results.md`` and (with matplotlib) a PNG per figure into ``out``.

        Returns the paths written.  Without matplotlib the figures are left out
        with a warning in the log; ``figures=False`` leaves them out silently.
        """
        os.makedirs(out, exist_ok=True)
        paths = [os.path.join(out, "results.csv"), os.path.join(out, "results.md")]
        self.to_csv(paths[0])
        write_atomic(paths[1], [self.markdown().encode()], new_token())
        if figures:
            try:
                drawn = self.figures()
            except ImportError as e:
                log.warning("%s", e)
                drawn = {}
            for name, fig in drawn.items():
                paths.append(os.path.join(out, f"{name}.png"))
                png = io.BytesIO()
                fig.savefig(png, format="png", dpi=120)
                write_atomic(paths[-1], [png.getbuffer()], new_token())
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
