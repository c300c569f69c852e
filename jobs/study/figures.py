"""A study's figures, drawn with matplotlib (the optional ``plot`` extra).

Each function takes a :class:`jobs.study.Study` and returns a
:class:`matplotlib.figure.Figure` made without pyplot, so a library call never
touches pyplot's global figure list: restyle it (``fig.axes[0]``), save it
(``fig.savefig``) or show it in Jupyter.  :data:`EXPLAIN` holds a paragraph per
figure (and per fit) on how to read it; the Markdown report prints them and
needs no matplotlib.
"""

from __future__ import annotations

__all__ = ["EXPLAIN", "efficiency_figure", "task_size_figure", "throughput_figure"]

#: How to read each figure and fit (the Markdown report prints these).
EXPLAIN = {
    "throughput": (
        "Throughput against workers x threads per worker. One line per configuration, its shaded band (a bar for "
        "a single point) spanning the slowest to the fastest repeat; points of the same width are moved sideways a "
        "little so that none hides another. The dashed line is ideal scaling of the shared baseline (n times its "
        "throughput): a line that hugs it scales perfectly, and the gap is what coordination, the GIL, data "
        "transfer or too little work cost. Dotted curves are the Amdahl fits; where a curve flattens, more workers "
        "stop paying. Fits that noise dominates are not drawn (the report says why)."
    ),
    "efficiency": (
        "Parallel efficiency against workers x threads: the speedup over the shared baseline divided by the width, "
        "with bands from the slowest and fastest repeats. 100% (dashed) is perfect scaling. A mode that starts "
        "below 100% at one worker is behind the baseline before any parallelism (scheduler or process overhead); a "
        "line that falls with width loses part of each added worker to the GIL, coordination or a serial part. "
        "Below about 50%, half of every worker you add is wasted."
    ),
    "task_size": (
        "Throughput against the work each task gets (log scale), at a fixed number of workers. Tasks too small "
        "(left) spend their time on Dask's ~1 ms per task instead of on work; tasks too large (right) leave "
        "workers idle while the last ones finish. A star marks where imgjobs' own sizing ('auto') lands, labelled "
        "with its work per task; a dotted vertical line marks the smallest task that keeps the fitted per-task "
        "overhead under 10% of the work, where that is within the sizes measured. Fits that noise dominates are "
        "not drawn."
    ),
    "amdahl": (
        "Amdahl's law: a run on n workers takes T(n) = S + P/n, a serial part S that no worker shares and a "
        "parallel part P that they divide. Fitted by least squares to every repeat of each line of the throughput "
        "figure, the serial fraction f = S / (S + P) caps the speedup at 1/f, however many workers. Here S holds "
        "planning, starting tasks, finalizing and, for threads, the Python glue that holds the GIL; a fraction that "
        "grows from threads to processes is the cost of the mode, not of the work."
    ),
    "overhead": (
        "At a fixed number of workers, run time grows with the number of tasks: T = W + c x tasks. The slope c is "
        "what one more task costs the whole run; times the width, it is roughly what a task costs a worker "
        "(Dask's own is about 1 ms; processes and LocalClusters add transfers, and a resize task also makes its "
        "slice durable and records it done, for resume). The last column is the smallest "
        "task that keeps this cost under 10% of the work: below it, tasks spend more on scheduling than they "
        "should."
    ),
}

_MARKERS = {
    "dask threads": "o",
    "dask processes": "s",
    "dask local": "^",
    "executor serial": "*",
    "executor threads": "D",
    "executor processes": "v",
}
_STYLES = ["-", "--", "-.", (0, (6, 2, 1, 2, 1, 2))]  # never ":", which marks the fits


def _figure():
    try:
        from matplotlib.figure import Figure  # optional extra: matplotlib (plot)
    except ImportError:
        raise ImportError(
            "study figures need matplotlib: pip install 'imgjobs[plot]' (results.csv and results.md need nothing extra)"
        ) from None
    fig = Figure(figsize=(8, 5), layout="constrained")
    return fig, fig.add_subplot()


def _title(ax, study, what: str) -> None:
    """The title: the job and the figure, then the input and the machine it was measured on."""
    amount = max((r["amount"] for r in study.rows), default=0)
    unit = study.unit.split("/")[0]
    cores = study.facts.get("cores")
    cpu = study.facts.get("cpu")
    machine = f"{cores} cores" + (f", {cpu}" if cpu else "") if cores else "machine unknown"
    ax.set_title(f"imgjobs {study.job}: {what}\n{amount:,.0f} {unit} a run on {machine}", fontsize="medium")


def _legend(ax, *extra) -> None:
    """The legend: every line drawn, and ``extra`` (style, label) entries for marks drawn per line."""
    from matplotlib.lines import Line2D  # optional extra: matplotlib (plot)

    handles, labels = ax.get_legend_handles_labels()
    for style, label in extra:
        handles.append(Line2D([], [], color="0.3", **style))
        labels.append(label)
    ax.legend(handles, labels, fontsize="small")


def _plain_log_ticks(axis, values) -> None:
    """Ticks of a log axis at ``values``, labelled as plain numbers (8, 64), not 8x10^0."""
    from matplotlib.ticker import NullFormatter, NullLocator  # optional extra: matplotlib (plot)

    ticks: list = []
    for v in sorted({float(v) for v in values if v and v > 0}):
        if not ticks or v / ticks[-1] > 1.3:  # labels never run into each other
            ticks.append(v)
    axis.set_ticks(ticks, [f"{v:.3g}" for v in ticks])
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def _colours(study) -> dict:
    from matplotlib import colormaps  # optional extra: matplotlib (plot)

    palette = colormaps["tab10"].colors  # type: ignore[attr-defined]  # a ListedColormap
    return {key: palette[k % len(palette)] for k, key in enumerate(study.series())}


def _label(study, mode: str, tpw: int, size: str) -> str:
    sizes = {str(r["task_size"]) for r in study.rows if r["task_size"] != "-"}
    label = mode + (f" x{tpw} threads" if tpw > 1 else "")
    if len(sizes) > 1 and size != "-":
        label += ", auto task size" if size == "auto" else f", {size} {study.knob_label}"
    return label


def _width_axis(ax, study) -> tuple:
    """Worker counts on the x axis (log 2 when they span more than 4x); returns (ticks, log)."""
    xs = sorted({r["parallelism"] for r in study.rows})
    log = xs[-1] / xs[0] > 4
    if log:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("workers x threads per worker")
    return xs, log


def _dodge(x: float, k: int, count: int, log: bool, span: float) -> float:
    if count < 2:
        return x
    step = (k - (count - 1) / 2) * 0.025
    return x * 2 ** (step * 2) if log else x + step * span


def _lines(ax, study, value, low, high, *, fits: bool) -> None:
    colours = _colours(study)
    xs, log = _width_axis(ax, study)
    span = max(1, xs[-1] - xs[0])
    series = study.series()
    fitted = {
        (a["mode"], a["threads_per_worker"], a["task_size"]): a["fit"] for a in study.amdahl if not a["fit"].problem
    }
    sizes = sorted({k[2] for k in series})
    for k, (key, rows) in enumerate(series.items()):
        mode, tpw, size = key
        c = colours[key]
        x = [_dodge(r["parallelism"], k, len(series), log, span) for r in rows]
        y, lo, hi = [value(r) for r in rows], [low(r) for r in rows], [high(r) for r in rows]
        ax.plot(
            x,
            y,
            marker=_MARKERS[mode],
            markersize=10 if mode == "executor serial" else 6,
            color=c,
            linestyle=_STYLES[sizes.index(size) % len(_STYLES)],
            label=_label(study, mode, tpw, size),
            zorder=3,
        )
        if len(rows) > 1:
            ax.fill_between(x, lo, hi, color=c, alpha=0.15, linewidth=0)
        else:
            ax.errorbar(x, y, yerr=[[y[0] - lo[0]], [hi[0] - y[0]]], fmt="none", color=c, capsize=4, zorder=3)
        if fits and key in fitted:
            fit, amount = fitted[key], rows[0]["amount"]
            dense = [xs[0] + (xs[-1] - xs[0]) * i / 50 for i in range(51)]
            ax.plot(dense, [amount / fit.seconds(n) for n in dense], ":", color=c, linewidth=1)


def throughput_figure(study):
    """Throughput against workers x threads: min-max bands, the ideal line, Amdahl fits.

    Parameters
    ----------
    study : jobs.study.Study

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure()
    _lines(ax, study, lambda r: r["rate"], lambda r: r["rate_low"], lambda r: r["rate_high"], fits=True)
    base = study.baseline
    if base:
        xs = sorted({r["parallelism"] for r in study.rows})
        ax.plot(xs, [base["rate"] * n for n in xs], "--", color="black", alpha=0.6, label="ideal: n x the baseline",
                zorder=2)  # fmt: skip
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"throughput ({study.unit})")
    _title(ax, study, "throughput against workers")
    ax.grid(alpha=0.3)
    fitted = any(not a["fit"].problem for a in study.amdahl)
    _legend(ax, *([({"linestyle": ":"}, "dotted: Amdahl fit of the line of its colour")] if fitted else []))
    return fig


def efficiency_figure(study):
    """Parallel efficiency (speedup over the shared baseline / width) against workers x threads.

    Parameters
    ----------
    study : jobs.study.Study

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _figure()
    base = study.baseline
    if base is None:
        ax.text(0.5, 0.5, "no one-worker run: no baseline, no efficiency", ha="center", transform=ax.transAxes)
    else:

        def eff(rate):
            return lambda r: 100 * r[rate] / base["rate"] / r["parallelism"]

        _lines(ax, study, eff("rate"), eff("rate_low"), eff("rate_high"), fits=False)
        ax.axhline(100, linestyle="--", color="black", alpha=0.6, label="perfect scaling", zorder=2)
        ax.set_ylim(0, max(110, max(eff("rate_high")(r) for r in study.rows) * 1.05))
        _legend(ax)
    ax.set_ylabel("parallel efficiency (%)")
    _title(ax, study, "parallel efficiency against workers")
    ax.grid(alpha=0.3)
    return fig


def task_size_figure(study):
    """Throughput against work per task (log scale), one line per mode and width.

    Parameters
    ----------
    study : jobs.study.Study

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import colormaps  # optional extra: matplotlib (plot)

    fig, ax = _figure()
    palette = colormaps["tab10"].colors
    fits = {(o["mode"], o["workers"], o["threads_per_worker"]): o for o in study.overhead}
    xs, thresholds = [], False
    for k, (key, rows) in enumerate(study.task_size_sweeps().items()):
        mode, w, tpw = key
        c = palette[k % len(palette)]
        label = f"{mode}, {w} worker(s)" + (f" x{tpw} threads" if tpw > 1 else "")
        fixed = [r for r in rows if r["task_size"] != "auto"]  # the line: the sizes asked for
        x = [r["work_per_task"] for r in fixed]
        xs += [r["work_per_task"] for r in rows]
        ax.plot(x, [r["rate"] for r in fixed], marker=_MARKERS[mode], color=c, label=label, zorder=3)
        ax.fill_between(
            x, [r["rate_low"] for r in fixed], [r["rate_high"] for r in fixed], color=c, alpha=0.15, linewidth=0
        )
        for r in rows:  # auto: a point of its own where imgjobs' sizing landed, labelled with its size
            if r["task_size"] == "auto":
                ax.plot([r["work_per_task"]], [r["rate"]], marker="*", markersize=14, color=c, zorder=4,
                        linestyle="none", markeredgecolor="black", markeredgewidth=0.5)  # fmt: skip
                ax.annotate(
                    f"auto: {r['work_per_task']:g}",
                    (r["work_per_task"], r["rate"]),
                    textcoords="offset points",
                    xytext=(6, -14 - 12 * k),  # below the star, one under another: never over a title
                    fontsize="small",
                    color=c,
                )
        fit = fits.get(key)
        lo, hi = min(r["work_per_task"] for r in rows), max(r["work_per_task"] for r in rows)
        if fit and not fit["fit"].problem and lo / 2 <= fit["min_work_per_task"] <= hi * 2:  # on the axis
            ax.axvline(fit["min_work_per_task"], linestyle=":", color=c, linewidth=1)
            thresholds = True
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis, xs)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"work per task ({study.per_task_label}, log scale)")
    ax.set_ylabel(f"throughput ({study.unit})")
    _title(ax, study, "throughput against task size")
    ax.grid(alpha=0.3, which="both")
    extra = [({"marker": "*", "linestyle": "none", "markersize": 10}, "auto: imgjobs' own task size")]
    if thresholds:
        extra.append(({"linestyle": ":"}, "dotted: smallest task with < 10% per-task overhead"))
    _legend(ax, *extra)
    return fig
