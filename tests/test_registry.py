"""A job is a spec: the example ``stats`` job (one subpackage, one registry line) gets the Python call,
the command, progress, the report, ``compute=False``, the lock and a study from the registry alone."""

from __future__ import annotations

import csv
import inspect
import os
import re
import sys

import dask
import numpy as np
import pytest
from dask.delayed import Delayed
from PIL import Image

import jobs
from conftest import imgjobs
from jobs import registry, study
from jobs.cli.helptext import parameter_docs
from jobs.cli.parser import build_parser
from jobs.errors import BusyError, UsageError
from jobs.options import RunOptions, SchedulerOptions
from jobs.params import Options
from jobs.runtime.locks import output_lock
from jobs.runtime.progress import Progress

P_EMPTY = inspect.Parameter.empty


@pytest.fixture
def pictures(tmp_path, rng):
    d = tmp_path / "pictures"
    d.mkdir()
    for i in range(7):
        h, w = 20 + i, 30 + 2 * i
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return d


def expected(d) -> dict:
    """Each image's row, computed here with Pillow and numpy alone."""
    rows = {}
    for name in sorted(os.listdir(d)):
        with Image.open(d / name) as im:
            grey = np.asarray(im.convert("L"))
            rows[str(d / name)] = [
                str(im.width),
                str(im.height),
                im.mode,
                str(grey.min()),
                str(round(float(grey.mean()), 3)),
                str(grey.max()),
            ]
    return rows


def read_csv(path) -> dict:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["path", "width", "height", "mode", "min", "mean", "max"]
        return {row[0]: row[1:] for row in reader}


def test_every_job_is_in_the_registry_once_and_complete():
    specs = registry.specs()
    assert list(specs) == ["compress", "decompress", "verify", "resize", "stats"]
    for name, spec in specs.items():
        assert spec.name == name == spec.function.__name__
        assert callable(spec.function) and issubclass(spec.options, Options)
        assert spec.function.__module__ == f"{spec.options.__module__.rsplit('.', 1)[0]}.api"  # written in its job
    with pytest.raises(UsageError, match="no job is named 'thumbs': the jobs are compress, decompress"):
        registry.get("thumbs")


@pytest.mark.parametrize("name", ["compress", "decompress", "verify", "resize", "stats"])
def test_a_jobs_keywords_flags_and_config_keys_are_the_same_set(name):
    """Each keyword of a job's function is an option (with its config key and flag) or a declared keyword,
    the command has a flag for each and no other, and each is documented in the function's docstring."""
    spec = registry.get(name)
    P = inspect.Parameter
    params = inspect.signature(spec.function).parameters
    inputs = [n for n, p in params.items() if p.kind == P.POSITIONAL_OR_KEYWORD]
    keywords = [n for n, p in params.items() if p.kind == P.KEYWORD_ONLY]
    assert inputs == list(spec.inputs)
    assert keywords[-3:] == ["client", "compute", "progress"]
    own = keywords[:-3]
    assert set(own) == set(spec.options.params()) | set(spec.keywords), name  # the function, its options
    assert [p.kind for p in params.values()][-1] == P.VAR_KEYWORD  # **scheduler: SchedulerOptions
    assert all(params[n].default is None for n in own)  # None: from config
    assert set(SchedulerOptions.__annotations__) == set(RunOptions.params())
    # the command: a flag per keyword and scheduler option, an argument per input, nothing else
    parser = build_parser()
    command = parser._subparsers._group_actions[0].choices[name]
    dests = {a.dest for a in command._actions} - {"help", "verbose", "quiet", "dry_run", "no_progress", "report"}
    assert dests == set(inputs) | set(own) | set(RunOptions.params())
    flags = {a.dest: a for a in command._actions}
    for n, flag in spec.inputs.items():  # an input given by a flag has the function's default
        if "default" in flag:
            assert flags[n].default == params[n].default == flag["default"]
    # config keys: each option with a key falls back to it, and the key exists in imgjobs.yaml
    for n, p in spec.options.params().items():
        if p.key is not None:
            assert dask.config.get(f"imgjobs.{p.key}", "absent") != "absent", (name, n, p.key)
    # every input and keyword, and the shared ones, documented where the help is read from
    docs = parameter_docs(spec.function)
    assert set(inputs) | set(own) | {"client", "compute", "progress", "scheduler"} <= set(docs), name
    assert set(RunOptions.params()) <= set(parameter_docs(SchedulerOptions))


def test_the_functions_are_written_out_with_their_types_and_docstrings():
    for name in ("compress", "decompress", "verify", "resize", "resize_array", "preprocess", "run_job"):
        function = getattr(jobs, name)
        source = inspect.getsource(function)
        assert source.startswith(f"def {name}("), name  # the function as written, not a generated wrapper
        assert function.__doc__ and "Parameters\n    ----------" in source, name
        hints = inspect.signature(function).parameters
        assert all(p.annotation is not P_EMPTY for p in hints.values()), name
    assert "Literal['area', 'exact', 'draft']" in str(inspect.signature(jobs.resize).parameters["method"])


def test_options_drift_is_caught_resize_array_and_preprocess_take_every_pixel_option():
    """The options that change a batch's pixels are keywords of every entry point that makes those pixels."""
    pixels = {"size", "method", "fit", "pad_fill", "draft_fraction", "max_pixels"}
    for function in (jobs.resize, jobs.resize_array, jobs.preprocess):
        assert pixels <= set(inspect.signature(function).parameters), function.__name__


def test_a_misspelt_option_is_an_error_from_every_entry_point(pictures, tmp_path):
    from jobs.rle_job.options import CompressOptions

    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) rows; the options are rows_per_task"):
        CompressOptions.resolve(rows=3)
    with pytest.raises(TypeError, match="rows"):
        jobs.compress(pictures, tmp_path / "a", rows=3)
    with pytest.raises(TypeError, match="rows"):
        jobs.run_job("compress", pictures, tmp_path / "a", rows=3)
    with pytest.raises(UsageError, match="stats has no option images"):
        study.sweep("stats", study.grid("stats", workers=[1], modes=["threads"]), 1, source=pictures, images=3)
    assert not (tmp_path / "a").exists()
    r = imgjobs("stats", pictures, tmp_path / "s.csv", "--images-per-tsk", "3")
    assert r.returncode == 2 and not (tmp_path / "s.csv").exists()


def test_the_example_job_from_python_is_the_same_as_from_the_command_line(pictures, tmp_path):
    progress = []

    class Count(Progress):
        def update(self, units, files=0):
            progress.append((units, files))

    report = jobs.run_job(
        "stats", pictures, tmp_path / "a.csv", images_per_task=3, progress=Count(enabled=False, dashboard=False)
    )
    assert report.job == "stats" and report.counts == {"ok": 7} and report.exit_code == 0
    assert read_csv(tmp_path / "a.csv") == expected(pictures)
    assert sum(u for u, _ in progress) == 7 and len(progress) == 3  # three tasks of 3, 3 and 1 images
    assert report.summary().startswith("stats: 7 file(s): 7 ok")
    r = imgjobs("stats", pictures, tmp_path / "b.csv", "--images-per-task", "2", "--scheduler", "processes")
    assert r.returncode == 0, r.stderr
    assert "stats: 7 file(s): 7 ok" in r.stdout
    assert read_csv(tmp_path / "b.csv") == expected(pictures)
    r = imgjobs("stats", "--help")
    assert r.returncode == 0 and "--images-per-task N" in r.stdout and "(default 64)" in r.stdout
    assert "--scheduler" in r.stdout and "imgjobs stats scans/ stats.csv" in r.stdout


def test_the_example_job_names_a_bad_file_and_refuses_what_it_must(pictures, tmp_path):
    (pictures / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    report = jobs.run_job("stats", pictures, tmp_path / "s.csv")
    assert report.counts == {"ok": 7, "failed": 1} and report.exit_code == 1
    [bad] = report.problems
    assert bad.src.endswith("junk.png") and "junk.png" in bad.reason
    assert str(pictures / "junk.png") not in read_csv(tmp_path / "s.csv")  # a row for every image read
    with pytest.raises(UsageError, match=r"s\.csv exists: use --overwrite"):
        jobs.run_job("stats", pictures, tmp_path / "s.csv")
    r = imgjobs("stats", pictures, tmp_path / "s.csv")
    assert r.returncode == 2 and "s.csv exists" in r.stderr
    r = imgjobs("stats", pictures, tmp_path / "s.csv", "--overwrite")
    assert r.returncode == 1 and "FAILED" in r.stderr and "junk.png" in r.stderr


def test_the_example_job_gets_compute_false_and_the_lock(pictures, tmp_path):
    graph = jobs.run_job("stats", pictures, tmp_path / "g.csv", compute=False)
    assert isinstance(graph, Delayed) and not (tmp_path / "g.csv").exists()  # nothing ran
    (report,) = dask.compute(graph, scheduler="threads")
    assert report.counts == {"ok": 7} and read_csv(tmp_path / "g.csv") == expected(pictures)
    with output_lock(str(tmp_path)):  # another run writes there
        with pytest.raises(BusyError):
            jobs.run_job("stats", pictures, tmp_path / "h.csv", overwrite=True)
        with pytest.raises(BusyError):
            dask.compute(jobs.run_job("stats", pictures, tmp_path / "h.csv", compute=False), scheduler="sync")
        (tmp_path / "empty").mkdir()  # no task at all: the finishing step alone still takes the lock
        with pytest.raises(BusyError):
            dask.compute(jobs.run_job("stats", tmp_path / "empty", tmp_path / "h.csv", compute=False))
    assert not (tmp_path / "h.csv").exists()


def test_a_stats_graph_never_replaces_a_csv_that_appeared_since_it_was_planned(pictures, tmp_path):
    from jobs.errors import StalePlan

    graph = jobs.run_job("stats", pictures, tmp_path / "g.csv", compute=False)
    (tmp_path / "g.csv").write_text("the user's own file\n")  # made after planning, without --overwrite
    with pytest.raises(StalePlan, match=r"g\.csv changed since this job was planned"):
        dask.compute(graph, scheduler="threads")
    assert (tmp_path / "g.csv").read_text() == "the user's own file\n"
    twice = jobs.run_job("stats", pictures, tmp_path / "t.csv", compute=False)
    dask.compute(twice, scheduler="threads")
    first = (tmp_path / "t.csv").read_bytes()
    with pytest.raises(StalePlan):  # computed twice: the second finds the first's CSV
        dask.compute(twice, scheduler="threads")
    assert (tmp_path / "t.csv").read_bytes() == first


def test_the_example_job_gets_a_study(pictures, tmp_path):
    configs = study.grid("stats", workers=[1, 2], modes=["threads"], task_sizes=[2, "auto"])
    result = study.sweep("stats", configs, repeats=1, source=pictures, progress=False)
    assert [(r["workers"], str(r["task_size"])) for r in result.rows] == [(1, "2"), (1, "auto"), (2, "2"), (2, "auto")]
    assert {r["unit"] for r in result.rows} == {"images/s"} and {r["amount"] for r in result.rows} == {7}
    r = imgjobs(
        "study", "stats", pictures, "--workers", "1", "--modes", "threads", "--repeats", "1",
        "--images-per-task", "3", "--out", tmp_path / "s", "--no-figures",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "s")) == ["results.csv", "results.md"]
    with open(tmp_path / "s" / "results.csv", newline="") as f:
        [row] = list(csv.DictReader(f))  # one configuration: threads, 1 worker, 3 images per task
    assert (row["job"], row["mode"], row["workers"], row["task_size"], row["amount"]) == (
        "stats", "dask threads", "1", "3", "7"
    )  # fmt: skip
    with pytest.raises(UsageError, match="executors exist for the resize job only, not stats"):
        study.grid("stats", executors=["threads"])


@pytest.mark.parametrize("job", ["compress", "decompress", "resize", "stats"])
def test_every_job_that_writes_plans_with_its_output_directory_locked(job, pictures, tmp_path, monkeypatch):
    import importlib

    out = tmp_path / "out"
    out.mkdir()  # a directory that exists is locked before planning (one that does not is made by the run)
    inputs = {
        "compress": (pictures, out),
        "decompress": (out, out),  # an empty directory of .rle files: planned, nothing to do
        "resize": (pictures, out / "b.npy"),
        "stats": (pictures, out / "s.csv"),
    }[job]
    spec = registry.get(job)
    module, attr = {  # each job's planner, where its function imports it from when it runs
        "compress": ("jobs.rle_job.planning", "plan_compress"),
        "decompress": ("jobs.rle_job.planning", "plan_decompress"),
        "resize": ("jobs.resize_job.planner", "plan_resize"),
        "stats": ("jobs.stats_job.planner", "plan_stats"),
    }[job]
    real = getattr(importlib.import_module(module), attr)
    seen = []

    def planner(*args, **kwargs):
        try:  # a second lock of the same directory, from this process: refused while the run holds it
            with output_lock(str(out)):
                seen.append("free")
        except BusyError:
            seen.append("held")
        return real(*args, **kwargs)

    monkeypatch.setattr(importlib.import_module(module), attr, planner)
    spec.function(*inputs, progress=False, scheduler="threads")
    assert seen == ["held"]


def test_the_registry_and_runners_refuse_what_they_cannot_do(pictures, tmp_path, monkeypatch):
    from jobs.resize_job.executors import ExecutorRunner
    from jobs.runtime.engine import Plan

    with pytest.raises(TypeError, match=r"stats\(\) takes 2 input\(s\) \(src, out\), got 1"):
        jobs.run_job("stats", pictures)
    with pytest.raises(UsageError, match="executor must be serial, threads or processes, got 'gpu'"):
        ExecutorRunner("gpu")
    with pytest.raises(UsageError, match="stats has no executor path: run it on a Dask scheduler"):
        ExecutorRunner("threads", 2).run(Plan("stats"), progress=None)
    with pytest.raises(UsageError, match="--performance-report needs a Dask scheduler"):
        ExecutorRunner("threads", 2).run(Plan("resize"), None, str(tmp_path / "r.html"))
    with pytest.raises(UsageError, match="cluster options"):
        jobs.resize(pictures, tmp_path / "b.npy", executor="threads", scheduler_file="s.json")
    with pytest.raises(UsageError, match="compute=False builds a Dask graph"):
        jobs.resize(pictures, tmp_path / "b.npy", executor="threads", compute=False)
    monkeypatch.setattr(registry, "JOBS", (*registry.JOBS, registry.get("stats")))
    monkeypatch.setattr(registry, "_SPECS", None)
    with pytest.raises(ValueError, match="two jobs are named 'stats'"):
        registry.specs()


def test_each_entry_point_checks_and_names_what_it_is_given(pictures, tmp_path):
    # found by a hostile review of the declarations
    import pickle
    import signal
    import sys

    from jobs.cli import main
    from jobs.options import RunOptions
    from jobs.resize_job.options import ResizeOptions
    from jobs.schedulers import open_runner

    with pytest.raises(TypeError):
        ResizeOptions.resolve("8x8")  # a positional is not taken as exact=...
    assert ResizeOptions.resolve(exact="no").method != "exact"
    assert ResizeOptions.resolve(exact="yes", method="EXACT").method == "exact"
    with pytest.raises(UsageError, match="exact must be true or false"):
        ResizeOptions.resolve(exact="maybe")
    with pytest.raises(TypeError, match=r"^resize\(\) got an unexpected keyword argument 'sise'"):
        jobs.resize(pictures, tmp_path / "b.npy", sise="8x8")
    with pytest.raises(TypeError, match=r"^compress\(\) missing 1 required positional argument: 'dst'"):
        jobs.compress(pictures)
    with pytest.raises(TypeError, match=r"stats\(\) got unexpected keyword argument\(s\) images; its options are"):
        jobs.run_job("stats", pictures, tmp_path / "s.csv", images=3)
    with pytest.raises(UsageError, match="executor must be one of serial, threads, processes, got 'bogus'"):
        jobs.resize(pictures, tmp_path / "b.npy", executor="bogus")
    with pytest.raises(TypeError, match="open_runner"), open_runner(RunOptions(scheduler="threads"), workers=7):
        pass
    # a missing input: the same message from Python and from the command line
    with pytest.raises(UsageError, match="nowhere: no such file or directory"):
        jobs.run_job("stats", tmp_path / "nowhere", tmp_path / "s.csv")
    r = imgjobs("stats", tmp_path / "nowhere", tmp_path / "s.csv")
    assert r.returncode == 2 and "nowhere: no such file or directory" in r.stderr
    # a configured value a check refuses names its key and where it came from
    with dask.config.set({"imgjobs.resize.size": "abc"}):
        with pytest.raises(jobs.ConfigError, match=r"got 'abc' \(imgjobs.resize.size, from"):
            ResizeOptions.resolve()
    # a job of the registry without a name in jobs is still a picklable function
    assert pickle.loads(pickle.dumps(registry.get("stats").function)) is registry.get("stats").function
    # the command in a process of someone else's (a notebook, a test) gives the process its handlers back
    import logging

    before = signal.getsignal(signal.SIGTERM), sys.unraisablehook
    level = logging.getLogger("jobs").level
    try:
        with dask.config.set({}):  # the command sets distributed's log level in dask.config: put it back after
            assert main(["-q", "stats", str(pictures), str(tmp_path / "t.csv")]) == 0
    finally:
        logging.getLogger("jobs").setLevel(level)  # -q: errors only, for the rest of this process
    assert (signal.getsignal(signal.SIGTERM), sys.unraisablehook) == before


def test_help_shows_the_defaults_configured_now():
    env = dict(os.environ, DASK_IMGJOBS__OVERWRITE="true", DASK_IMGJOBS__SCHEDULER__TLS="false")
    env["DASK_IMGJOBS__RLE__TARGET_PIXELS_PER_TASK"] = "1000000"
    out = " ".join(imgjobs("compress", "--help", env=env).stdout.split())
    assert "replace existing outputs (default true:" in out and "of about 1000000 pixels" in out
    assert "(default false; local, cluster:" in out


def _config_keys(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for k, v in tree.items():
        if isinstance(v, dict) and k not in ("clusters", "tls"):  # profiles and TLS files: their own readers
            keys |= _config_keys(v, f"{prefix}{k}.")
        elif not isinstance(v, dict):
            keys.add(f"{prefix}{k}")
    return keys


def test_every_config_key_is_an_option_or_read_by_name_and_every_option_key_exists():
    """Both ways: an option's key is in imgjobs.yaml, and a key there is an option's or one the code reads."""
    import yaml

    from conftest import ROOT

    keys = _config_keys(yaml.safe_load((ROOT / "configs" / "imgjobs.yaml").read_text())["imgjobs"])
    declared = {p.key for spec in registry.specs().values() for p in spec.options.params().values() if p.key}
    declared |= {p.key for p in RunOptions.params().values() if p.key}
    assert declared <= keys, declared - keys
    source = "".join(p.read_text() for p in (ROOT / "jobs").rglob("*.py"))
    unread = sorted(k for k in keys - declared if f'"{k}"' not in source and f'"{k.rsplit(".", 1)[-1]}"' not in source)
    assert unread == [], f"keys of configs/imgjobs.yaml nothing reads: {unread}"


def test_each_choice_is_written_alike_in_the_signature_the_flag_and_the_docstring():
    """A keyword with choices: its Literal annotation, its flag's choices and its docstring's {...} agree."""
    for spec in registry.specs().values():
        params = inspect.signature(spec.function).parameters
        docs_types = {}
        for line in (inspect.getdoc(spec.function) or "").splitlines():
            if " : {" in line:
                name, _, kind = line.partition(" : ")
                docs_types[name.strip()] = set(re.findall(r'"([^"]+)"', kind))
        for name, p in {**spec.options.params(), **spec.keywords}.items():
            choices = p.flag.get("choices")
            if not choices:
                continue
            literal = set(re.findall(r"'([^']+)'", str(params[name].annotation)))
            assert literal == set(choices) == docs_types.get(name), (spec.name, name)
    annotation = SchedulerOptions.__annotations__["scheduler"]  # a ForwardRef (postponed annotations)
    literal = set(re.findall(r"[\"']([^\"']+)[\"']", getattr(annotation, "__forward_arg__", str(annotation))))
    assert literal == set(RunOptions.params()["scheduler"].flag["choices"]), literal


def test_a_job_of_another_package_is_found_by_its_entry_point_and_a_broken_one_left_out(
    pictures, tmp_path, monkeypatch, caplog
):
    import dataclasses
    import importlib.metadata
    import logging

    from jobs.cli import main
    from jobs.stats_job.spec import STATS

    class EntryPoint:  # as importlib.metadata gives one
        def __init__(self, name, value, load):
            self.name, self.value, self._load = name, value, load

        def load(self):
            return self._load()

    def broken():
        raise ImportError("No module named 'thumbs_job'")

    def exits():
        sys.exit(3)

    thumbs = dataclasses.replace(STATS, name="thumbs", help="a job of another package")
    found = [
        EntryPoint("thumbs", "pkg.thumbs_job.spec:THUMBS", lambda: thumbs),
        EntryPoint("broken", "pkg.broken_job.spec:BROKEN", broken),
        EntryPoint("stats", "pkg.copy:STATS", lambda: dataclasses.replace(STATS, help="an impostor")),
        EntryPoint("odd", "pkg.odd:ODD", lambda: object()),
        EntryPoint("exits", "pkg.exits:EXITS", exits),  # a module that calls sys.exit when imported
        EntryPoint("study", "pkg.study:STUDY", lambda: dataclasses.replace(STATS, name="study")),  # a command's
        EntryPoint("spaced", "pkg.spaced:S", lambda: dataclasses.replace(STATS, name="-x y")),  # not a command
    ]
    monkeypatch.setattr(
        importlib.metadata, "entry_points", lambda group: found if group == registry.ENTRY_POINTS else []
    )
    monkeypatch.setattr(registry, "_PLUGINS", None)
    with caplog.at_level(logging.WARNING, logger="jobs.registry"):
        specs = registry.specs()
    assert list(specs) == ["compress", "decompress", "verify", "resize", "stats", "thumbs"]
    assert specs["stats"] is STATS and registry.get("thumbs") is thumbs  # a built-in is never replaced
    assert "'broken' of entry point pkg.broken_job.spec:BROKEN does not load (ImportError: No module" in caplog.text
    assert "'exits' of entry point pkg.exits:EXITS does not load (SystemExit: 3)" in caplog.text
    assert "'study' of entry point pkg.study:STUDY takes a name already taken" in caplog.text
    assert "'-x y' of entry point pkg.spaced:S is not named like a command" in caplog.text
    assert "'stats' of entry point pkg.copy:STATS takes a name already taken" in caplog.text
    assert "pkg.odd:ODD) is not a jobs.jobspec.JobSpec" in caplog.text
    assert list(registry.specs(plugins=False)) == ["compress", "decompress", "verify", "resize", "stats"]
    level = logging.getLogger("jobs").level
    try:  # the command has it, and runs it
        with dask.config.set({}):
            assert main(["-q", "thumbs", str(pictures), str(tmp_path / "t.csv")]) == 0
    finally:
        logging.getLogger("jobs").setLevel(level)
    assert read_csv(tmp_path / "t.csv") == expected(pictures)
    assert "thumbs" in build_parser()._subparsers._group_actions[0].choices


def test_the_names_no_job_may_take_are_the_commands_other_commands():
    commands = set(build_parser(plugins=False)._subparsers._group_actions[0].choices)
    assert registry.RESERVED == commands - set(registry.specs(plugins=False))
