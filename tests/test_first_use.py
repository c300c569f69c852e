"""First use, as a newcomer meets imgjobs: every documented command runs clean, as it is written.

Issue 31, item 9: the commands of README.md and docs/*.md run on one machine without a traceback
or a stray ERROR line; ``--dry-run`` prints a whole job script and nothing else; the outputs of
the first examples are ignored by git; option names are whole words, in the pages as typed; the
long first commands show progress.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jobs.cli.parser import build_parser

ROOT = Path(__file__).resolve().parent.parent

#: A failure a user would see on standard error: a traceback, one Python could not raise, a logged ERROR.
NOISE = re.compile(r"Traceback|Exception ignored|(?:^|[\s-])ERROR(?:[\s:-]|$)", re.M)


def _env() -> dict:
    """The commands of this checkout (a mutant's copy too), wherever they run."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _imgjobs(argv, cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jobs", *argv],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ---- the documented commands ---------------------------------------------------------------------------

#: Sizes for CI, in place of the documented ones (the commands are otherwise as written): 2,000 sample
#: JPEGs take 16 s to draw, and the README's study runs 77 s on 2 cores.  A study keeps its job and
#: source and runs one configuration sweep of the threaded scheduler once, without figures.
SMALLER = (
    ("--jpegs 2000", "--jpegs 12"),
    ("--num-images 2000", "--num-images 12"),
    ("--scheduler local --workers 2", "--scheduler local --workers 1"),  # a LocalCluster all the same
)
STUDY_SMALLER = {
    "resize": ["--workers", "1", "--modes", "threads", "--executors", "none", "--repeats", "1", "--no-figures"],
    "compress": ["--workers", "1", "--modes", "threads", "--repeats", "1", "--no-figures"],
}


def _pages() -> list[Path]:
    """README.md, then the pages in the order of the site's table of contents (docs/index.md), then any other."""
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    named = [
        ROOT / "docs" / f"{n}.md"
        for block in re.findall(r"```\{toctree\}(.*?)```", index, re.S)
        for n in re.findall(r"^(\w[\w-]*)$", block, re.M)
    ]
    rest = sorted(set((ROOT / "docs").glob("*.md")) - set(named) - {ROOT / "docs" / "index.md"})
    return [ROOT / "README.md", *(p for p in named if p.exists()), *rest]


def documented_commands(text: str) -> list[list[str]]:
    """Every ``imgjobs`` command of the fenced code blocks of a Markdown page, in order, as argv.

    A line is a command when its first word is ``imgjobs`` (after a ``$`` prompt, if any); ``&&``
    and ``;`` separate commands on one line; comments are dropped.  Python, YAML and JSON blocks
    hold no commands.
    """
    commands = []
    for lang, body in re.findall(r"^```(\S*)\n(.*?)^```", text, re.S | re.M):
        if lang in ("python", "pycon", "yaml", "json", "toml"):
            continue
        for line in body.splitlines():
            line = line.strip().removeprefix("$ ")
            if not line.startswith("imgjobs "):
                continue
            words = shlex.split(line, comments=True)
            command: list[str] = []
            for w in [*words, ";"]:
                if w in ("&&", ";") or (w.endswith(";") and len(w) > 1):
                    if w not in ("&&", ";"):
                        command.append(w[:-1])
                    if command and command[0] == "imgjobs":
                        commands.append(command[1:])
                    command = []
                else:
                    command.append(w)
    return commands


def why_not_here(argv: list[str]) -> str | None:
    """Why a documented command cannot run on one machine (None: it runs)."""
    if any(re.fullmatch(r"[A-Z]+", w) or "[" in w or "|" in w for w in argv):
        return "a synopsis (SRC DST, [--option]), not a command"
    if "--cluster" in argv and "--dry-run" not in argv:
        return "submits batch jobs"
    if {"--scheduler-address", "--scheduler-file"} & set(argv):
        return "joins a running scheduler"
    if any(re.match(r"([a-z0-9]+::)*[a-z0-9]+://", w) and not w.startswith("file://") for w in argv):
        return "reads a bucket or a server of yours (tests/test_storage.py runs these on its own)"
    return None


def smaller(argv: list[str]) -> list[str]:
    """``argv`` at the sizes of :data:`SMALLER` and :data:`STUDY_SMALLER`."""
    line = " ".join(argv)
    for documented, here in SMALLER:
        line = line.replace(documented, here)
    argv = line.split(" ")
    if argv[0] == "study":
        argv += STUDY_SMALLER[argv[1]]
    return argv


def _given(root: Path) -> None:
    """The inputs the pages take for granted, small: ``samples/`` (what scripts/demo.sh writes) and
    ``scans/`` (1-bit pages), ``train/`` (class folders of JPEGs), ``train.txt`` and ``list.txt``
    (lists of them), ``ilsvrc.json`` (the exercise's config naming ``train.txt``)."""
    from jobs.samples import make_jpegs

    rng = np.random.default_rng(0)
    (root / "samples").mkdir()
    for i in range(3):
        page = np.ones((160, 200), bool)
        page[rng.integers(0, 150) :][:, : rng.integers(20, 200)] = False
        Image.fromarray(page).save(root / "samples" / f"page{i}.png")
    shutil.copytree(root / "samples", root / "scans")
    listing = make_jpegs(root / "train", 12, size=(64, 48), progress=False)
    lines = listing.read_text().splitlines(keepends=True)
    listing.unlink()  # train/ holds class folders only
    for name in ("train.txt", "list.txt"):
        (root / name).write_text("".join(f"train/{line}" for line in lines))
    (root / "ilsvrc.json").write_text(json.dumps({"data": {"train_filelist": "train.txt"}}))


def _ignored_by_git(root: Path, names: list[str]) -> set[str]:
    """Which of ``names`` (relative to the repository root; a folder ends in ``/``) its .gitignore ignores."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = root / ".ignored"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shutil.copy(ROOT / ".gitignore", repo / ".gitignore")
    r = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=repo,
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
    )
    return set(r.stdout.splitlines())


#: Runs ``imgjobs`` commands as ``python -m jobs`` does, each in a process of its own forked from this
#: one once it has imported what every command imports (~0.7 s of each command's start on 2 cores):
#: reads ``[cwd, argv, stdout file, stderr file]`` lines, writes each command's exit status.
_FORKER = """
import json, os, sys
import jobs.cli, jobs.cli.command, jobs.schedulers, distributed, numpy, PIL.Image, tqdm
assert len(__import__("threading").enumerate()) == 1  # a fork copies one thread
for line in sys.stdin:
    cwd, argv, out, err = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.chdir(cwd)
        for fd, path in ((0, os.devnull), (1, out), (2, err)):
            os.dup2(os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC if fd else os.O_RDONLY), fd)
        sys.argv = [sys.argv[0], *argv]
        sys.exit(jobs.cli.main(argv))  # then exits as the command does: finalizers and all
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class Commands:
    """``imgjobs`` commands run one after another by :data:`_FORKER` (where the platform forks)."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.n = 0
        self.proc = None
        if hasattr(os, "fork"):
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _FORKER],
                env=_env(),
                cwd=logs,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )

    def run(self, argv: list[str], cwd: Path) -> tuple[int, str, str]:
        """Exit status, standard output and standard error of ``imgjobs ARGV`` run in ``cwd``."""
        if self.proc is None:
            proc = _imgjobs(argv, cwd)
            out, err = proc.communicate()
            return proc.returncode, out, err
        self.n += 1
        out, err = self.logs / f"{self.n}.out", self.logs / f"{self.n}.err"
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps([str(cwd), argv, str(out), str(err)]) + "\n")
        self.proc.stdin.flush()
        status = self.proc.stdout.readline()
        assert status, "the command runner died"
        return int(status), out.read_text(), err.read_text()

    def close(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # with whatever a command left running
            except ProcessLookupError:
                pass
            self.proc.communicate()


@pytest.mark.timeout(300)
def test_every_documented_command_runs_clean(tmp_path):
    """Every ``imgjobs`` command of README.md and docs/*.md that can run on one machine runs as
    written, in a fresh directory per page (each page's commands in order, so later ones find the
    earlier ones' outputs) holding the inputs the pages assume (:func:`_given`), and exits 0 with
    no traceback, no "Exception ignored" and no ERROR line on standard error.  Cluster
    submissions and synopses are left out (:func:`why_not_here`), ``--dry-run`` ones run; the
    long ones run at the sizes of the visible table :data:`SMALLER` / :data:`STUDY_SMALLER`.
    What the README's and the quick start's commands leave behind is ignored by git.  Each command
    is ``python -m jobs`` in a process of its own, forked from one that has imported the command's
    modules already (:data:`_FORKER`), to save CI each one's start.
    """
    given = tmp_path / "given"
    given.mkdir()
    _given(given)
    logs = tmp_path / "logs"
    logs.mkdir()
    commands = Commands(logs)
    ran, left_out = [], []
    try:
        for page in _pages():
            documented = documented_commands(page.read_text(encoding="utf-8"))
            if not documented:
                continue
            here = tmp_path / page.stem
            shutil.copytree(given, here)
            for argv in documented:
                if why := why_not_here(argv):
                    left_out.append((page.name, argv, why))
                    continue
                code, out, err = commands.run(smaller(argv), here)
                shown = f"{page.name}: imgjobs {shlex.join(argv)}\n{err}"
                assert code == 0, shown
                assert not NOISE.search(err), shown
                ran.append((page.name, argv, out))
            if page.name in ("README.md", "quickstart.md"):
                made = sorted(p.name + "/" * p.is_dir() for p in here.iterdir() if not (given / p.name).exists())
                kept = set(made) - _ignored_by_git(tmp_path, made)
                assert not kept, (
                    f"{page.name}'s commands leave {kept} for git to see: write them under out/, or ignore them"
                )
    finally:
        commands.close()
    pages = {name for name, _, _ in ran}
    assert {"README.md", "quickstart.md", "resize.md", "studies.md", "clusters.md", "usage.md"} <= pages, pages
    assert any("--dry-run" in argv for _, argv, _ in ran)  # the first example of docs/clusters.md
    assert {why for _, _, why in left_out} <= {
        "a synopsis (SRC DST, [--option]), not a command",
        "submits batch jobs",
        "joins a running scheduler",
        "reads a bucket or a server of yours (tests/test_storage.py runs these on its own)",
    }


def test_the_command_extraction_reads_pages_as_a_reader_does():
    page = (
        "```bash\nimgjobs compress a/ b/   # a comment\n"
        "imgjobs --version; imgjobs resize --help\n"
        "imgjobs samples p/ --jpegs 5 && imgjobs resize p/train.txt\n"
        "sbatch --wrap 'imgjobs compress a b'\n```\n"
        "```python\nimgjobs = 1\n```\n"
        "```text\n$ imgjobs verify a/ b/\n```\n"
    )
    assert documented_commands(page) == [
        ["compress", "a/", "b/"],
        ["--version"],
        ["resize", "--help"],
        ["samples", "p/", "--jpegs", "5"],
        ["resize", "p/train.txt"],
        ["verify", "a/", "b/"],
    ]
    assert why_not_here(["compress", "SRC", "DST"]) and why_not_here(["resize", "x", "[--size", "WxH]"])
    assert why_not_here(["compress", "a", "b", "--cluster", "pbs"])
    assert why_not_here(["compress", "a", "b", "--cluster", "pbs", "--dry-run"]) is None
    assert smaller(["samples", "p/", "--jpegs", "2000"]) == ["samples", "p/", "--jpegs", "12"]


def test_the_notebooks_and_first_examples_outputs_are_ignored_by_git(tmp_path):
    """The notebook writes exercise-data/ where it runs (the repository root, with papermill as the
    README shows), papermill out.ipynb; the first run photos/, batch.npy..., train.wds, train.zarr."""
    names = [
        "exercise-data/train.txt",
        "notebooks/exercise-data/train.txt",
        "out.ipynb",
        "photos/train.txt",
        "batch.npy",
        "batch.npy.json",
        "batch.labels.npy",
        "train.wds/train-000000.tar",
        "train.wds.json",
        "train.zarr/zarr.json",
        "out/rle/a.rle",
        # what an interrupted first run keeps for its rerun, a killed one's lock, a cluster run's TLS folder
        ".batch.npy.imgjobs-partial/plan.json",
        ".train.wds.imgjobs-partial/done/0-5.json",
        ".imgjobs.lock",
        ".imgjobs-tls-0123abcd/ca.pem",
    ]
    assert _ignored_by_git(tmp_path, names) == set(names)
    assert not _ignored_by_git(tmp_path, ["jobs/api.py", "docs/quickstart.md", "tests/photos.py"])


# ---- option names as typed ------------------------------------------------------------------------------


def test_abbreviated_options_are_refused(capsys):
    """``--overwrit`` is not ``--overwrite``: argparse's prefix matching is off in every parser."""
    parser = build_parser()
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["compress", "a", "b", "--overwrit"])
    assert e.value.code == 2 and "unrecognized arguments: --overwrit" in capsys.readouterr().err
    for argv in (["study", "resize", "x", "--repeat", "2"], ["samples", "d", "--jpeg", "3"], ["--verb"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    assert parser.parse_args(["compress", "a", "b", "--overwrite", "-vv"]).overwrite is True  # whole names work

    def parsers(p):
        yield p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    yield from parsers(child)

    every = list(parsers(parser))
    assert len(every) > 8 and not [p.prog for p in every if p.allow_abbrev]


def test_the_pages_show_option_names_as_typed():
    """Sphinx's smart quotes turn ``--`` into an en dash (U+2013 before "overwrite", which a shell does
    not take) in prose and in the generated command reference; the site keeps quotes and ellipses."""
    from docutils.utils.smartquotes import smartyPants

    conf = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    values = {
        t.id: n.value.value
        for n in conf.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    action = values.get("smartquotes_action", "qDe")  # Sphinx's default educates dashes
    smart = values.get("smartquotes", True)
    text = 'kept unless --overwrite, "quoted"...'
    assert not smart or smartyPants(text, action) == "kept unless --overwrite, “quoted”…", action
    built = ROOT / "docs" / "_build" / "html"  # when scripts/docs.sh has built the site (scripts/test.sh does)
    if built.is_dir() and (built / "cli.html").stat().st_mtime >= (ROOT / "docs" / "conf.py").stat().st_mtime:
        dashed = {p.name for p in built.glob("*.html") if re.search("\u2013[a-z]", p.read_text(encoding="utf-8"))}
        assert not dashed, f"an en dash before an option name in {dashed}"


# ---- --dry-run ------------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_dry_run_prints_a_whole_job_script_and_nothing_else(tmp_path):
    """The first example of docs/clusters.md, TLS on (the default): no "Exception ignored ...
    FileNotFoundError" per TLS file removed under dask-jobqueue, and a script that names no file
    already deleted (the folder a real run makes, and a comment saying so).  Slurm's and a site's
    profiles: tests/test_cluster.py."""
    (tmp_path / "scans").mkdir()
    proc = _imgjobs(["compress", "scans/", "rle/", "--cluster", "pbs", "--jobs", "4", "--dry-run"], tmp_path)
    out, err = proc.communicate()
    assert proc.returncode == 0 and not NOISE.search(err), err
    flags = re.findall(r"--tls-(?:ca-file|cert|key) (\S+)", out)
    assert len(flags) == 3 and all(f.startswith(f"{tmp_path}/.imgjobs-tls-RUN/") for f in flags), out
    assert "# .imgjobs-tls-RUN: a real run writes the TLS certificate and key" in out
    assert sorted(os.listdir(tmp_path)) == ["scans"]  # nothing left: no TLS folder, no output


# ---- quiet shutdowns ------------------------------------------------------------------------------------


def test_a_closing_workers_heartbeat_logs_no_traceback():
    """A worker whose heartbeat is cut by its own connection pool closing, as the run ends, logs
    "Failed to communicate with scheduler during heartbeat" with two chained tracebacks (seen once
    under the demo's compress): dropped like distributed's other closing noise; failures are not."""
    from distributed.comm.core import CommClosedError

    from jobs.cli.logs import drop_cancelled_handlers

    def record(exc, message="Failed to communicate with scheduler during heartbeat.", name="distributed.worker"):
        return logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, (type(exc), exc, None))

    assert not drop_cancelled_handlers(record(CommClosedError("ConnectionPool closing.")))
    assert drop_cancelled_handlers(record(OSError("Timed out trying to connect to tcp://10.0.0.1:8786")))
    assert drop_cancelled_handlers(record(CommClosedError("in <TCP (closed)>: Stream is closed")))
    assert drop_cancelled_handlers(record(CommClosedError("ConnectionPool closing."), "Some other failure"))
    assert not drop_cancelled_handlers(record(asyncio.CancelledError()))  # the other closing noise still goes


# ---- progress -------------------------------------------------------------------------------------------


def test_samples_show_their_progress(tmp_path, capsys):
    """2,000 sample JPEGs take about 16 s: a bar counts them as they are written."""
    from jobs.samples import make_jpegs

    make_jpegs(tmp_path / "p", 70, size=(16, 16), progress=True)
    err = capsys.readouterr().err
    assert "samples:" in err and " 0/70 " in err and " 70/70 " in err, err
    make_jpegs(tmp_path / "q", 3, size=(16, 16), progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.timeout(120)
def test_a_bar_in_jupyter_without_ipywidgets_warns_nothing(tmp_path):
    """tqdm.auto's widget bar needs ipywidgets; without it every bar in the notebook printed
    "TqdmWarning: IProgress not found".  The course extra does not install ipywidgets."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    code = (
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from jobs.runtime.progress import Progress\n"
        "print('widgets', importlib.util.find_spec('ipywidgets') is not None)\n"
        "bar = Progress(True)\n"
        "bar.start('resize', 3, 'image', 3)\n"
        "bar.update(3)\n"
        "bar.close()\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert not [o for o in outputs if o.output_type == "error"], outputs
    if "widgets True" in text:
        pytest.skip("ipywidgets is installed here: the widget bar draws")
    assert "3/3" in text and "TqdmWarning" not in text and "IProgress" not in text, text
