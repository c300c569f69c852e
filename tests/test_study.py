"""Throughput studies: the fits, the warnings, the figures, and the same study from Python and the command line.

The analysis is checked on synthetic timings whose answer is known (a serial
fraction, a per-task cost); the running is checked on real, small jobs.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import jobs
from conftest import ROOT, imgjobs
from jobs import study
from jobs.study import Configuration, amdahl_fit, make_row, overhead_fit


def synthetic(rows_spec, *, job="resize", amount=1000.0, noise=0.0, seed=0, repeats=3) -> study.Study:
    """A Study from configurations and a time model: {Configuration: (seconds, tasks)}."""
    rng = np.random.default_rng(seed)
    rows, configs = [], []
    for cfg, (seconds, tasks) in rows_spec.items():
        times = seconds * (1 + noise * rng.standard_normal(repeats))
        rows.append(make_row(job, cfg, times, amount, tasks))
        configs.append(cfg)
    return study.Study(job, rows, configs)


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3, 0.7])
def test_amdahl_fit_recovers_a_known_serial_fraction(fraction):
    rng = np.random.default_rng(7)
    ns = [n for n in (1, 2, 4, 8, 16) for _ in range(5)]
    ts = [12.0 * (fraction + (1 - fraction) / n) * (1 + 0.01 * rng.standard_normal()) for n in ns]
    fit = amdahl_fit(ns, ts)
    assert fit.serial_fraction == pytest.approx(fraction, abs=0.02)
    assert fit.serial_s + fit.parallel_s == pytest.approx(12.0, rel=0.03)
    if fraction >= 0.05:
        assert fit.max_speedup == pytest.approx(1 / fraction, rel=0.35)
    with pytest.raises(ValueError, match="two or more worker counts"):
        amdahl_fit([2, 2], [1.0, 1.1])


def test_overhead_fit_recovers_a_known_per_task_cost():
    rng = np.random.default_rng(3)
    tasks = [k for k in (10, 40, 160, 640) for _ in range(3)]
    ts = [4.0 + 0.002 * k + 0.01 * rng.standard_normal() for k in tasks]
    fit = overhead_fit(tasks, ts)
    assert fit.per_task_s == pytest.approx(0.002, rel=0.1)
    assert fit.work_s == pytest.approx(4.0, rel=0.02)
    assert fit.max_tasks(0.1) == pytest.approx(200, rel=0.15)  # 10% of 4 s at 2 ms a task
    assert overhead_fit([10, 20], [1.0, 1.0]).max_tasks() == float("inf")
    assert overhead_fit([10, 20], [1.0, 0.9]).max_tasks() == float("inf")  # faster with more tasks: no cost seen


def test_study_fits_amdahl_per_line_and_overhead_per_width():
    # threads: 20% serial; processes: 50%; task sizes at 2 workers cost 1 ms per task
    spec = {}
    for n in (1, 2, 4):
        spec[Configuration("threads", n)] = (10 * (0.2 + 0.8 / n), 20)
        spec[Configuration("processes", n)] = (10 * (0.5 + 0.5 / n), 20)
    for size, tasks in ((1, 1000), (10, 100)):
        spec[Configuration("threads", 2, task_size=size)] = (6.0 + 0.001 * tasks, tasks)
    s = synthetic(spec)
    fits = {(a["mode"], a["task_size"]): a["fit"] for a in s.amdahl}
    assert fits[("dask threads", "auto")].serial_fraction == pytest.approx(0.2, abs=1e-6)
    assert fits[("dask processes", "auto")].serial_fraction == pytest.approx(0.5, abs=1e-6)
    assert ("dask threads", "1") not in fits  # one width only: nothing to fit
    over = {(o["mode"], o["workers"]): o for o in s.overhead}
    assert over[("dask threads", 2)]["fit"].per_task_s == pytest.approx(0.001, rel=0.05)
    md = s.markdown()
    assert "## Amdahl's law" in md and "20.0%" in md and "50.0%" in md and "## Per-task overhead" in md


def test_a_fit_that_noise_dominates_is_reported_as_no_fit_not_as_a_result():
    # slower with more workers (a busy machine): a negative parallel time is no serial fraction of 100%
    slower = amdahl_fit([1, 2, 4], [1.0, 1.2, 1.5])
    assert slower.parallel_s < 0 and slower.problem.startswith("no fit: noise dominates (runs were no faster")
    scattered = amdahl_fit([1, 1, 2, 2, 4, 4], [1.0, 0.5, 0.9, 0.4, 0.7, 0.6])
    assert scattered.problem and "of the spread of the times" in scattered.problem
    assert amdahl_fit([1, 2, 4], [1.0, 0.6, 0.4]).problem is None
    assert overhead_fit([10, 100], [1.0, 0.5]).problem.startswith("no fit: noise dominates (runs were faster")
    assert overhead_fit([10, 100], [1.0, 1.1]).problem is None
    spec = {Configuration("threads", n): (t, 20) for n, t in ((1, 1.0), (2, 1.2), (4, 1.5))}
    for size, tasks, t in ((1, 1000, 1.0), (10, 100, 1.5)):
        spec[Configuration("threads", 2, task_size=size)] = (t, tasks)
    s = synthetic(spec)
    md = s.markdown()
    assert md.count("no fit: noise dominates") == 2, md  # the Amdahl row and the overhead row
    assert "| dask threads | 1 | auto | no fit: noise dominates" in md
    assert all(o["min_work_per_task"] == 0.0 for o in s.overhead)


def test_one_shared_baseline_is_the_fastest_one_worker_run():
    s = synthetic(
        {
            Configuration("threads", 1): (2.0, 10),
            Configuration("threads", 2): (1.2, 10),
            Configuration("local", 1): (2.5, 10),
            Configuration("local", 2): (1.5, 10),
            Configuration("serial"): (1.6, 1000),
        }
    )
    assert s.baseline["mode"] == "executor serial"
    speed = {(r["mode"], r["workers"]): r["speedup"] for r in s.rows}
    assert speed[("executor serial", 1)] == 1.0
    assert speed[("dask threads", 2)] == pytest.approx(1.6 / 1.2, abs=1e-3)  # against the loop, not threads' own
    assert speed[("dask local", 1)] == pytest.approx(1.6 / 2.5, abs=1e-3)
    chosen = study.Study("resize", s.rows, s.configurations, baseline=Configuration("threads", 1))
    assert chosen.baseline["mode"] == "dask threads" and chosen.rows[0]["speedup"] == 1.0
    with pytest.raises(jobs.UsageError, match="not one of the study's configurations"):
        study.Study("resize", s.rows, s.configurations, baseline=Configuration("threads", 8))


def test_short_and_noisy_runs_warn_with_a_larger_input():
    short = synthetic({Configuration("threads", 1): (0.1, 4), Configuration("threads", 2): (0.06, 4)}, amount=300)
    assert len(short.warnings) == 1
    assert "ran under 1 s" in short.warnings[0] and "0.060 s" in short.warnings[0]
    assert "34x the images, 10,200" in short.warnings[0]  # 2 s / 0.06 s
    assert "## Warnings" in short.markdown()
    noisy = synthetic({Configuration("threads", 1): (3.0, 4)}, noise=0.2, amount=300)
    assert len(noisy.warnings) == 1 and "spread" in noisy.warnings[0] and "more repeats" in noisy.warnings[0]
    pixels = synthetic({Configuration("threads", 1, task_size=0): (0.2, 4)}, job="compress", amount=50)
    assert "MPixel" in pixels.warnings[0]
    quiet = synthetic({Configuration("threads", 1): (3.0, 4), Configuration("threads", 2): (1.6, 4)}, noise=0.01)
    assert quiet.warnings == [] and "## Warnings" not in quiet.markdown()


def _two_line_study():
    spec = {}
    for n in (1, 2, 4):
        for size in (8, "auto"):
            spec[Configuration("threads", n, task_size=size)] = (8 * (0.1 + 0.9 / n) + (0.2 if size == 8 else 0), 40)
        spec[Configuration("local", n)] = (9 * (0.2 + 0.8 / n), 12)
    spec[Configuration("serial")] = (7.5, 1000)
    for k, (size, tasks) in enumerate(((1, 1000), (4, 250), (64, 16))):
        spec[Configuration("threads", 2, task_size=size)] = (5 + 0.002 * tasks + k * 1e-3, tasks)
    return synthetic(spec, noise=0.02)


def test_each_figure_is_drawn_with_the_expected_axes(tmp_path):
    pytest.importorskip("matplotlib")  # the plot extra, installed with the test extra
    s = _two_line_study()
    figs = s.figures()
    assert list(figs) == ["throughput", "efficiency", "task_size"]
    ax = figs["throughput"].axes[0]
    assert ax.get_xlabel() == "workers x threads per worker" and ax.get_ylabel() == "throughput (images/s)"
    labels = [line.get_label() for line in ax.lines]
    assert "ideal: n x the baseline" in labels and "executor serial" in labels
    assert "dask threads, auto task size" in labels and "dask threads, 8 images per task" in labels
    assert len(ax.collections) >= 3  # min-max bands
    ideal = next(line for line in ax.lines if line.get_label().startswith("ideal"))
    np.testing.assert_allclose(ideal.get_ydata(), s.baseline["rate"] * np.array([1, 2, 4]))
    eff = figs["efficiency"].axes[0]
    assert eff.get_ylabel() == "parallel efficiency (%)" and any(
        line.get_label() == "perfect scaling" for line in eff.lines
    )
    size_ax = figs["task_size"].axes[0]
    assert size_ax.get_xscale() == "log" and size_ax.get_xlabel().startswith("work per task (images per task")
    auto = [r for r in s.rows if r["task_size"] == "auto" and r["workers"] == 2 and r["mode"] == "dask threads"]
    assert [t.get_text() for t in size_ax.texts] == [f"auto: {auto[0]['work_per_task']:g}"]
    # every mark is in a legend: the lines, the ideal, the fits, the auto star and the overhead threshold
    legend = {name: [t.get_text() for t in fig.axes[0].get_legend().get_texts()] for name, fig in figs.items()}
    assert "dotted: Amdahl fit of the line of its colour" in legend["throughput"]
    assert "ideal: n x the baseline" in legend["throughput"] and "perfect scaling" in legend["efficiency"]
    assert legend["task_size"] == [
        "dask threads, 2 worker(s)",
        "auto: imgjobs' own task size",
        "dotted: smallest task with < 10% per-task overhead",
    ]
    # plain numbers on the log axis at the task sizes measured, and the machine and input in the title
    ticks = [t.get_text() for t in size_ax.get_xticklabels()]
    sizes = sorted({r["work_per_task"] for r in s.rows if r["mode"] == "dask threads" and r["workers"] == 2})
    assert ticks == [f"{v:g}" for v in sizes], ticks  # e.g. 62.5, never 6.25x10^1
    assert f"on {s.facts['cores']} cores" in size_ax.get_title() and "images a run" in size_ax.get_title()
    # the auto point is a star of its own, not a step in the line
    line = next(ln for ln in size_ax.lines if ln.get_label() == "dask threads, 2 worker(s)")
    fixed = [r for r in s.task_size_sweeps()[("dask threads", 2, 1)] if r["task_size"] != "auto"]
    assert list(line.get_xdata()) == [r["work_per_task"] for r in fixed] and len(fixed) == 4
    paths = s.save(tmp_path / "out")
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "results.csv",
        "results.md",
        "throughput.png",
        "efficiency.png",
        "task_size.png",
    ]
    for p in paths[2:]:
        with Image.open(p) as im:
            px = np.asarray(im.convert("L"))
        assert im.size[0] >= 800 and px.std() > 10  # drawn, not blank
    # no task-size sweep: no task-size figure
    flat = synthetic({Configuration("threads", 1): (2.0, 8), Configuration("threads", 2): (1.1, 8)})
    assert list(flat.figures()) == ["throughput", "efficiency"]


def test_without_matplotlib_the_table_and_report_are_still_written(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    s = synthetic({Configuration("threads", 1): (2.0, 8), Configuration("threads", 2): (1.1, 8)})
    with pytest.raises(ImportError, match=r"pip install 'imgjobs\[plot\]'"):
        s.figures()
    paths = s.save(tmp_path / "out")
    assert [p.rsplit("/", 1)[1] for p in paths] == ["results.csv", "results.md"]
    assert "imgjobs[plot]" in caplog.text


def test_a_saved_study_loads_back_with_the_same_table_and_fits(tmp_path):
    s = _two_line_study()
    s.save(tmp_path / "out", figures=False)
    again = study.load(tmp_path / "out" / "results.csv")
    # as precise as the CSV keeps them (times to the microsecond)
    assert [r["rate"] for r in again.rows] == pytest.approx([r["rate"] for r in s.rows], rel=1e-4)
    assert [r["speedup"] for r in again.rows] == pytest.approx([r["speedup"] for r in s.rows], rel=1e-3)
    assert [a["fit"].serial_fraction for a in again.amdahl] == pytest.approx(
        [a["fit"].serial_fraction for a in s.amdahl]
    )
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(jobs.UsageError, match=r"not a results\.csv"):
        study.load(tmp_path / "other.csv")


def test_configurations_and_sweeps_refuse_what_they_cannot_run(tmp_path):
    with pytest.raises(jobs.UsageError, match="mode is one of"):
        Configuration("gpu")
    with pytest.raises(jobs.UsageError, match="threads_per_worker applies to 'dask local' only"):
        Configuration("threads", 2, threads_per_worker=2)
    with pytest.raises(jobs.UsageError, match="workers=1"):
        Configuration("serial", 2)
    with pytest.raises(jobs.UsageError, match="resize job only"):
        study.grid("compress", executors=["threads"])
    configs = study.grid("resize", workers=[1, 2], modes=["local"], threads_per_worker=[1, 2], executors=["serial"])
    assert [(c.mode, c.workers, c.threads_per_worker) for c in configs] == [
        ("dask local", 1, 1),
        ("dask local", 1, 2),
        ("dask local", 2, 1),
        ("dask local", 2, 2),
        ("executor serial", 1, 1),
    ]
    (tmp_path / "list.txt").write_text("a.jpg\n")
    with pytest.raises(jobs.UsageError, match="batch_size itself"):
        study.sweep("resize", configs, source=tmp_path / "list.txt", batch_size=4)
    with pytest.raises(jobs.UsageError, match="at least one image"):
        study.sweep("resize", [Configuration("threads", task_size=0)], source=tmp_path / "list.txt")
    with pytest.raises(jobs.UsageError, match="no such file"):
        study.sweep("compress", [Configuration("threads")], source=tmp_path / "missing")


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(5)
    d = tmp_path / "photos"
    d.mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(d / f"{i}.jpg", quality=85)
    (tmp_path / "list.txt").write_text("".join(f"photos/{i % 12}.jpg\n" for i in range(48)))
    return tmp_path / "list.txt"


def test_the_api_in_a_plain_script_and_the_cli_give_the_same_study(photos, tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from jobs import study

            if __name__ == "__main__":  # worker processes import this file again
                configs = study.grid("resize", workers=[1, 2], modes=["threads", "processes"], task_sizes=[4, "auto"],
                                     executors=["serial"])
                result = study.sweep("resize", configs, repeats=1, source={str(photos)!r}, size="16x16")
                result.save({str(tmp_path / "api")!r})
            """
        )
    )
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = imgjobs(
        "study",
        "resize",
        photos,
        "--size",
        "16x16",
        "--workers",
        "1,2",
        "--modes",
        "threads,processes",
        "--batch-sizes",
        "4,auto",
        "--executors",
        "serial",
        "--repeats",
        "1",
        "--out",
        tmp_path / "cli",
    )
    assert r.returncode == 0, r.stderr
    assert "task size" in r.stdout and "wrote" in r.stdout

    def table(name):
        with open(tmp_path / name / "results.csv", newline="") as f:
            return [
                (row["mode"], row["workers"], row["task_size"], row["tasks"], row["amount"])
                for row in csv.DictReader(f)
            ]

    api, cli = table("api"), table("cli")
    assert api == cli and len(api) == 9
    assert ("dask threads", "2", "4", "13", "48") in api  # 12 fill tasks of 4 images, and the one that creates
    for name in ("api", "cli"):
        files = sorted(p.name for p in (tmp_path / name).iterdir())
        assert files == ["efficiency.png", "results.csv", "results.md", "task_size.png", "throughput.png"]
        md = (tmp_path / name / "results.md").read_text()
        assert "shared baseline" in md  # the short-run warning: test_short_and_noisy_runs_warn_with_a_larger_input


def test_study_options_come_from_the_jobs_config(photos, tmp_path):
    import os

    env = dict(os.environ, DASK_IMGJOBS__RESIZE__SIZE="12x10")
    out = tmp_path / "s"
    sweep = ["--workers", "1", "--modes", "threads", "--executors", "none", "--repeats", "1", "--no-figures", "-q"]
    for method, flags in (("area", []), ("exact", ["--method", "exact"])):
        r = imgjobs("study", "resize", photos, *flags, *sweep, "--out", out, env=env)
        assert r.returncode == 0, r.stderr
        assert sorted(p.name for p in out.iterdir()) == ["results.csv", "results.md"]
        md = (out / "results.md").read_text()
        assert "| size | 12x10 |" in md and f"| method | {method} |" in md
    help_text = imgjobs("study", "resize", "--help", env=env).stdout
    assert "default 12x10" in help_text and "--method" in help_text and "--max-pixels" in help_text
    with pytest.raises(jobs.UsageError, match="resize has no option threshold"):
        study.sweep("resize", [Configuration("threads")], source=photos, threshold=3)


@pytest.mark.timeout(400)  # about 2 minutes on 2 cores: every study run lasts over a second
@pytest.mark.serial  # its lesson is a speed-up: measured with the cores to itself
def test_the_exercises_notebook_runs_and_is_stored_without_outputs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "exercises.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code), "strip the notebook's outputs"
    # papermill's parameters cell: the first code cell, plain assignments a course overrides
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [code[0]] and {"N_IMAGES", "WORKERS", "REPEATS"} <= set(
        re.findall(r"^(\w+) =", code[0].source, re.M)
    )
    # one run a configuration, as a course may set it (papermill -p REPEATS 1): the lesson must hold on one
    # run each, and the suite keeps to its time (two repeats: ~90 s on 2 cores, one: about half)
    first = code[0].source
    code[0].source = re.sub(r"^REPEATS = \d+", "REPEATS = 1", first, flags=re.M)
    assert code[0].source != first
    # what the lesson rests on, read from the notebook's own results by a cell added here
    check = nbformat.v4.new_code_cell(
        "import json\n"
        "print('RESULTS ' + json.dumps({'warnings': sizes.warnings + modes.warnings + case.warnings, "
        "'best': best['rate'] / serial_rate, 'n': len(paths)}))"
    )
    nb.cells.append(check)
    NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "serial: (1200, 64, 64, 3) uint8" in text and "dashboard: http://" in text
    assert "Traceback" not in text and "CommClosedError" not in text  # the cluster closes quietly
    assert "TqdmWarning" not in text, text  # no "IProgress not found" under every bar without ipywidgets
    results = json.loads(check.outputs[0]["text"].split("RESULTS ", 1)[1])
    short = [w for w in results["warnings"] if "ran under" in w]
    assert not short, short  # every run long enough to mean something
    assert results["best"] > 1.0, results  # the lesson: the best parallel configuration beats the loop
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 3  # task size, throughput, efficiency
    tables = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert "one task per image" in tables and "row-block tasks" in tables
    assert (tmp_path / "exercise-data" / "batch.npy").exists()


def test_a_study_whose_out_cannot_take_its_results_stops_before_measuring(photos, tmp_path):
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "sub"):
        r = imgjobs("study", "resize", photos, "--workers", "1", "--repeats", "1", "--out", out)
        assert r.returncode == 2 and "cannot write the study's results there" in r.stderr, r.stderr
        assert "study resize:" not in r.stdout  # nothing was measured


def test_a_failing_run_closes_the_cluster_the_study_started(photos, monkeypatch):
    from distributed.deploy.spec import SpecCluster

    from jobs.study import runs as core

    real = core._run_once
    seen = []

    def fail_second(spec, cfg, source, options, runner, tmp):
        seen.append(runner)
        if len(seen) == 2:
            raise RuntimeError("a run failed")
        return real(spec, cfg, source, options, runner, tmp)

    monkeypatch.setattr(core, "_run_once", fail_second)
    with pytest.raises(RuntimeError, match="a run failed"):
        study.sweep("resize", [Configuration("local", 1)], repeats=2, source=photos, size="8x8", progress=False)
    cluster = seen[0].client.cluster
    assert cluster in SpecCluster._instances and cluster.status.name == "closed"


def test_a_study_of_a_job_that_fails_on_a_file_stops_naming_it(photos):
    (photos.parent / "photos" / "3.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(jobs.UsageError, match=r"failed on 4 file\(s\) during the study, e\.g\. .*3\.jpg"):
        study.sweep("resize", [Configuration("threads", 1)], repeats=1, source=photos, size="8x8", progress=False)
