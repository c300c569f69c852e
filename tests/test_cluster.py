"""Scale-out: real `dask scheduler` / `dask worker` processes, TLS, lost workers and clients, batch profiles.

Everything runs on 127.0.0.1: a scheduler started with ``--scheduler-file`` and
two workers, as the batch scripts do; workers killed with SIGKILL in the middle
of a job; the ``imgjobs`` client killed and rerun; and dask-jobqueue clusters
whose ``qsub``/``sbatch`` are small shell scripts that run the job script here.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, blobs, imgjobs, start_imgjobs, write_bmp_raw
from jobs.resize_job.decode import load_rgb
from jobs.rle_job.manifest import MANIFEST

pytest.importorskip("dask_jobqueue", reason='the cluster tests need the "hpc" extra (in the test extra)')
pytest.importorskip("cryptography", reason='TLS needs the "hpc" extra (in the test extra)')


def dask_cmd() -> list[str]:
    exe = shutil.which("dask", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "dask"]


def temps(*dirs) -> list[str]:
    return [str(p) for d in dirs for p in Path(d).rglob("*.imgjobs.tmp")]


class DaskProcesses:
    """``dask scheduler --scheduler-file`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, tmp: Path, tls: dict | None = None, worker_args=()):
        self.tmp = tmp
        self.file = tmp / "scheduler.json"
        self.tls = tls
        self.worker_args = list(worker_args)
        self.procs: list[subprocess.Popen] = []

    def _tls_args(self) -> list[str]:
        if not self.tls:
            return []
        return ["--tls-ca-file", self.tls["ca-file"], "--tls-cert", self.tls["cert"], "--tls-key", self.tls["key"]]

    def _spawn(self, args, name):
        log = open(self.tmp / f"{name}.log", "w")  # the child keeps it; closed when it exits
        self.procs.append(subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True))

    def start(self, nworkers: int = 2):
        protocol = ["--protocol", "tls"] if self.tls else []
        self._spawn(
            [
                *dask_cmd(),
                "scheduler",
                "--scheduler-file",
                str(self.file),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                *protocol,
                *self._tls_args(),
            ],
            "scheduler",
        )
        deadline = time.monotonic() + 60
        while not self.file.exists():
            assert time.monotonic() < deadline, (self.tmp / "scheduler.log").read_text()
            time.sleep(0.1)
        for i in range(nworkers):
            self.add_worker(i)
        with self.client() as c:
            c.wait_for_workers(nworkers, timeout=60)
        return self

    def add_worker(self, i: int):
        args = [*dask_cmd(), "worker", "--scheduler-file", str(self.file), "--nthreads", "1", "--host", "127.0.0.1"]
        self._spawn([*args, "--name", f"w{i}", *self.worker_args, *self._tls_args()], f"worker{i}")

    def client(self):
        from distributed import Client, Security

        sec = None
        if self.tls:
            t = self.tls
            sec = Security(tls_ca_file=t["ca-file"], tls_client_cert=t["cert"], tls_client_key=t["key"])
        return Client(scheduler_file=str(self.file), security=sec, timeout="30s")

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=30)


@pytest.fixture
def dask_processes(tmp_path):
    started = []

    def start(**kwargs):
        d = DaskProcesses(tmp_path, **kwargs)
        started.append(d)
        return d.start()

    yield start
    for d in started:
        d.stop()


def bw_images(d: Path, n: int, rng, height=400, width=600):
    d.mkdir()
    for i in range(n):
        write_bmp_raw(d / f"page{i:02d}.bmp", blobs(rng, height, width), 1, palette=[(0, 0, 0), (255, 255, 255)])
    return d


def jpeg_list(base: Path, n: int, rng) -> Path:
    d = base / "jpegs"
    d.mkdir()
    y, x = np.mgrid[0:120, 0:160]
    for i in range(n):
        img = np.stack([(x + 3 * i) % 256, (y * 2 + i) % 256, (x + y) % 256], -1) + rng.integers(0, 20, (120, 160, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"im{i:03d}.jpg", quality=85)
    (base / "list.txt").write_text("".join(f"jpegs/im{i:03d}.jpg\n" for i in range(n)))
    return base / "list.txt"


def same_dirs(a: Path, b: Path) -> bool:
    """The same outputs, byte for byte (the manifests record times, which differ)."""
    names = sorted(p.name for p in a.iterdir() if p.name != MANIFEST)
    assert names == sorted(p.name for p in b.iterdir() if p.name != MANIFEST)
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


@pytest.fixture
def rng():
    return np.random.default_rng(99)


# --------------------------------------------------------------------------- scheduler file


def test_both_jobs_on_scheduler_file_cluster_match_threads(tmp_path, rng, dask_processes):
    src = bw_images(tmp_path / "src", 4, rng)
    listfile = jpeg_list(tmp_path, 12, rng)
    cl = dask_processes()
    r = imgjobs("compress", src, tmp_path / "ref", "--scheduler", "threads")
    assert r.returncode == 0, r.stderr
    r = imgjobs("-v", "compress", src, tmp_path / "out", "--scheduler-file", cl.file, "--rows-per-task", "50")
    assert r.returncode == 0, r.stderr
    assert "2 worker(s)" in r.stderr and "tcp://127.0.0.1" in r.stderr
    assert same_dirs(tmp_path / "ref", tmp_path / "out")
    r = imgjobs("decompress", tmp_path / "out", tmp_path / "bmp", "--scheduler-file", cl.file)
    assert r.returncode == 0, r.stderr
    r = imgjobs("verify", tmp_path / "bmp", tmp_path / "out", "--scheduler-file", cl.file)
    assert r.returncode == 0, r.stdout + r.stderr
    for out, sched in (("a.npy", ["--scheduler", "threads"]), ("b.npy", ["--scheduler-file", cl.file])):
        r = imgjobs("resize", listfile, "--out", tmp_path / out, "--size", "32x24", "--batch-size", "3", *sched)
        assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    assert json.loads((tmp_path / "b.npy.json").read_text())["failed"] == []
    assert not temps(tmp_path)


def test_tls_cluster_with_certificate_files(tmp_path, rng, dask_processes):
    r = imgjobs("certs", tmp_path / "certs")
    assert r.returncode == 0, r.stderr
    certs = {k: str(tmp_path / "certs" / f) for k, f in (("ca-file", "cert.pem"), ("cert", "cert.pem"))}
    certs["key"] = str(tmp_path / "certs" / "key.pem")
    assert os.stat(certs["key"]).st_mode & 0o077 == 0  # the key is private
    cl = dask_processes(tls=certs)
    assert json.loads(cl.file.read_text())["address"].startswith("tls://")
    src = bw_images(tmp_path / "src", 3, rng)
    listfile = jpeg_list(tmp_path, 6, rng)
    # without certificates the client cannot talk to a TLS scheduler, and says what to do
    r = imgjobs("compress", src, tmp_path / "x", "--scheduler-file", cl.file)
    assert r.returncode == 2 and "imgjobs.tls" in r.stderr
    env = dict(os.environ)
    env.update({f"DASK_IMGJOBS__TLS__{k.upper().replace('-', '_')}": v for k, v in certs.items()})
    r = imgjobs("-v", "compress", src, tmp_path / "out", "--scheduler-file", cl.file, "--tls", env=env)
    assert r.returncode == 0, r.stderr
    assert "tls://127.0.0.1" in r.stderr
    assert imgjobs("compress", src, tmp_path / "ref").returncode == 0
    assert same_dirs(tmp_path / "ref", tmp_path / "out")
    out = tmp_path / "b.npy"
    r = imgjobs("resize", listfile, "--out", out, "--size", "16x16", "--scheduler-file", cl.file, env=env)
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in listfile.read_text().split("\n") if line.strip()]
    want = np.stack([load_rgb(listfile.parent / name, (16, 16)) for name in names])
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), want)  # each image's pixels, decoded on the cluster


def test_local_cluster_with_temporary_tls(tmp_path, rng):
    src = bw_images(tmp_path / "src", 2, rng, 100, 130)
    r = imgjobs("-v", "compress", src, tmp_path / "out", "--scheduler", "local", "--workers", "1", "--tls")
    assert r.returncode == 0, r.stderr
    assert "LocalCluster at tls://127.0.0.1:" in r.stderr
    assert "Dask dashboard: http://127.0.0.1:" in r.stderr  # the dashboard stays on localhost


# --------------------------------------------------------------------------- fault injection


def _kill_a_busy_worker(cl: DaskProcesses, job: subprocess.Popen, timeout=60) -> None:
    """SIGKILL a worker process while it is running one of the job's tasks."""
    with cl.client() as c:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert job.poll() is None, "the job ended before a worker could be killed: " + job.stderr.read()
            busy = [w for w, keys in c.processing().items() if keys]
            if busy:
                pids = c.run(os.getpid, workers=busy[:1])
                os.kill(pids[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.02)
    raise AssertionError("no worker was ever busy")


@pytest.mark.parametrize("job", ["compress", "resize"])
def test_worker_killed_mid_job_changes_nothing(tmp_path, rng, dask_processes, job):
    cl = dask_processes()
    if job == "compress":
        src = bw_images(tmp_path / "src", 10, rng)
        args = ["compress", src, tmp_path / "out", "--rows-per-task", "4"]
        ref_args = ["compress", src, tmp_path / "ref"]
    else:
        listfile = jpeg_list(tmp_path, 150, rng)
        args = ["resize", listfile, "--out", tmp_path / "out.npy", "--batch-size", "1", "--size", "48x48"]
        ref_args = ["resize", listfile, "--out", tmp_path / "ref.npy", "--size", "48x48"]
    run = start_imgjobs("-q", *args, "--scheduler-file", cl.file)
    _kill_a_busy_worker(cl, run)
    _, err = run.communicate()
    assert run.returncode == 0, err
    with open(cl.tmp / "scheduler.log") as f:
        assert "Remove worker" in f.read()  # the scheduler did lose a worker during the job
    assert imgjobs(*ref_args).returncode == 0
    if job == "compress":
        assert same_dirs(tmp_path / "ref", tmp_path / "out")
    else:
        np.testing.assert_array_equal(np.load(tmp_path / "ref.npy"), np.load(tmp_path / "out.npy"))
    assert not temps(tmp_path)


# a lambda: cloudpickle ships it by value (the workers cannot import this test module)
_BUSY_THREADS = lambda dask_worker: len(dask_worker.active_threads)  # noqa: E731


def _wait_idle(cl: DaskProcesses, timeout=60):
    """Wait until no worker thread runs a task, released ones included (their threads run to the end).

    Not "the scheduler lists nothing": a task released when its client died leaves the
    scheduler at once, while its thread on the worker still writes its slice.
    """
    with cl.client() as c:
        deadline = time.monotonic() + timeout
        while any(c.processing().values()) or any(c.run(_BUSY_THREADS).values()):
            assert time.monotonic() < deadline, "workers still ran tasks long after the client died"
            time.sleep(0.05)


def test_client_killed_mid_compress_then_rerun_finishes_the_rest(tmp_path, rng, dask_processes):
    cl = dask_processes()
    src = bw_images(tmp_path / "src", 16, rng)
    out = tmp_path / "out"
    run = start_imgjobs("-q", "compress", src, out, "--rows-per-task", "4", "--scheduler-file", cl.file)
    deadline = time.monotonic() + 60
    while len(list(out.glob("*.rle"))) < 3:
        assert run.poll() is None and time.monotonic() < deadline, "the job ended before it could be killed"
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    _wait_idle(cl)  # tasks already running when the client died are allowed to finish
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.rle")}
    assert len(before) >= 3  # however many the released tasks finished: the rerun must account for each
    assert imgjobs("compress", src, tmp_path / "ref").returncode == 0
    for name in before:  # whatever exists is complete
        assert filecmp.cmp(out / name, tmp_path / "ref" / name, shallow=False)
    r = imgjobs("compress", src, out, "--scheduler-file", cl.file)
    assert r.returncode == 0, r.stderr
    assert f"{len(before)} skipped" in r.stdout
    assert f"16 file(s): {16 - len(before)} ok, {len(before)} skipped" in r.stdout or len(before) == 16
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.rle") if p.name in before} == before  # not redone
    assert same_dirs(tmp_path / "ref", out)
    assert not temps(tmp_path)


@pytest.mark.parametrize("out", ["b.npy", "b.zarr"])
def test_client_killed_mid_resize_then_rerun_redoes_only_the_unfinished_batches(tmp_path, rng, dask_processes, out):
    # Worker processes of their own, as nodes would be: a .npy or zarr batch written by
    # several processes, its client SIGKILLed, then the same command again.
    cl = dask_processes()
    listfile = jpeg_list(tmp_path, 150, rng)
    args = ["resize", listfile, "--out", tmp_path / out, "--batch-size", "2", "--size", "48x48"]
    run = start_imgjobs("-q", *args, "--scheduler-file", cl.file)
    done = tmp_path / f".{out}.imgjobs-partial" / "done"
    deadline = time.monotonic() + 60
    while len(list(done.glob("*.json")) if done.is_dir() else []) < 5:
        assert run.poll() is None and time.monotonic() < deadline, "the job ended before it could be killed"
        time.sleep(0.005)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    _wait_idle(cl)  # a released task's thread still runs to its end and records its slice
    assert not (tmp_path / out).exists()  # no batch under its name until it is complete
    finished = len(list(done.glob("*.json")))
    assert finished >= 5, finished
    r = imgjobs("-v", *args, "--scheduler-file", cl.file)
    assert r.returncode == 0, r.stderr
    assert f"{2 * finished} of 150 image(s) were finished by an earlier run; {75 - finished} task(s) left" in r.stderr
    assert f"resumed: {2 * finished} image(s) were finished by an earlier run" in r.stdout
    assert imgjobs("resize", listfile, "--out", tmp_path / "ref.npy", "--size", "48x48").returncode == 0
    side = json.loads((tmp_path / f"{out}.json").read_text())
    assert side["timing"]["resumed_images"] == 2 * finished
    if out.endswith(".zarr"):
        import zarr

        images = zarr.open_array(str(tmp_path / out), path="images", mode="r")
        assert images.chunks[0] == 2  # one chunk a task: no two tasks wrote one chunk
        batch = images[:]
    else:
        batch = np.load(tmp_path / out)
    np.testing.assert_array_equal(np.load(tmp_path / "ref.npy"), batch)
    assert not temps(tmp_path) and not done.parent.exists()
    r = imgjobs(*args, "--scheduler-file", cl.file)
    assert r.returncode == 0 and "is up to date" in r.stdout


def _retirements(log: Path, start: float, end: float) -> int:
    """How many times a worker in ``log`` reached its lifetime between ``start`` and ``end`` (epoch seconds)."""
    from datetime import datetime

    n = 0
    for line in log.read_text().splitlines():
        if "worker-lifetime-reached" in line and "Closing worker" in line:
            when = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            n += start <= when <= end
    return n


@pytest.mark.timeout(300)  # worker churn makes this slow and variable on a busy 2-core machine
@pytest.mark.serial  # beside another test, its runs of 400 and 1,600 tasks could miss every retirement (159 s once)
def test_workers_that_retire_are_replaced_and_the_job_completes(tmp_path, rng, dask_processes):
    # workers leave after a few seconds, as at a walltime, and their nannies start fresh ones
    # (1 s lifetimes were shorter than a worker's start on a busy machine: none was ever running)
    # A job that spans a retirement on any machine: on a fast one 400 tasks finished between two
    # (a CI run), so the job grows until a retirement falls inside it.
    cl = dask_processes(worker_args=["--lifetime", "3s", "--lifetime-stagger", "1s", "--lifetime-restart"])
    listfile = jpeg_list(tmp_path, 400, rng)
    names = listfile.read_text().splitlines()
    for n in (400, 1600, 6400):
        listfile.write_text("".join(f"{names[i % 400]}\n" for i in range(n)))
        args = ["resize", listfile, "--size", "48x48", "--batch-size", "1"]
        start = time.time()
        r = imgjobs(*args, "--out", tmp_path / "b.npy", "--scheduler-file", cl.file, "--overwrite")
        end = time.time()
        assert r.returncode == 0, r.stderr
        retired = sum(_retirements(cl.tmp / f"worker{i}.log", start, end) for i in range(2))
        if retired:
            break
    assert retired >= 1, "no worker retired during a job of 6400 tasks"
    assert imgjobs(*args, "--out", tmp_path / "ref.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "ref.npy"), np.load(tmp_path / "b.npy"))
    assert not temps(tmp_path)


# --------------------------------------------------------------------------- batch profiles (no batch system)


def cluster_env(tmp_path: Path, profiles: dict, jobqueue: dict | None = None) -> dict:
    """An environment whose dask config holds ``profiles`` (and a site's ``jobqueue.yaml``) and whose
    qsub/sbatch run jobs here."""
    import yaml

    cfg = tmp_path / "dask-config"
    cfg.mkdir(exist_ok=True)
    (cfg / "imgjobs.yaml").write_text(yaml.safe_dump({"imgjobs": {"clusters": profiles}}))
    if jobqueue:
        (cfg / "jobqueue.yaml").write_text(yaml.safe_dump({"jobqueue": jobqueue}))
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    jobs = tmp_path / "batch-jobs"
    jobs.mkdir(exist_ok=True)
    submit = f"""#!/bin/bash
# a batch system of one machine: keep a copy of the script, run it in its own session, print a job id
job=$(mktemp --suffix=.sh {jobs}/jobXXXXXX)
cp "$1" "$job"
setsid bash "$job" > "$job.log" 2>&1 < /dev/null &
echo "$!" > "$job.pid"
echo "$!.fake"
"""
    cancel = '#!/bin/bash\nfor id in "$@"; do kill -- -"${id%%.*}" 2>/dev/null; done; exit 0\n'
    for name, text in (("qsub", submit), ("sbatch", submit), ("qdel", cancel), ("scancel", cancel)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = dict(os.environ)
    env["DASK_CONFIG"] = str(cfg)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


def test_dry_run_prints_pbs_and_slurm_job_scripts(tmp_path):
    (tmp_path / "src").mkdir()
    common = {"cores": 32, "processes": 4, "memory": "64GiB", "walltime": "00:30:00", "account": "imgproj"}
    common["shared-temp-directory"] = str(tmp_path)
    env = cluster_env(
        tmp_path,
        {
            "polaris": {
                "type": "pbs",
                "jobqueue": {
                    **common,
                    "queue": "debug",
                    "job-extra-directives": ["-l filesystems=home:eagle"],
                    "job-script-prologue": ["module load conda", "conda activate imgjobs"],
                    "job-directives-skip": ["-A imgproj"],  # dask-jobqueue's own keys, passed through
                    "local-directory": "/local/scratch",
                    "death-timeout": 120,
                },
            },
            "perlmutter": {
                "type": "slurm",
                "jobqueue": {**common, "queue": "regular", "job-extra-directives": ["--constraint=cpu"]},
                "lifetime": None,  # null turns the inherited 55m lifetime off
            },
        },
        jobqueue={"slurm": {"shebang": "#!/usr/bin/env bash -e"}},  # a site's own jobqueue.yaml
    )
    r = imgjobs("compress", tmp_path / "src", tmp_path / "out", "--cluster", "polaris", "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    script = r.stdout
    for line in (
        "#PBS -N imgjobs-worker",
        "#PBS -q debug",
        "#PBS -l select=1:ncpus=32:mem=64GB",
        "#PBS -l walltime=00:30:00",
        "#PBS -l filesystems=home:eagle",
        "module load conda",
        "conda activate imgjobs",
        "export MALLOC_TRIM_THRESHOLD_=16777216",  # imgjobs.scheduler.malloc-trim-threshold
    ):
        assert line in script.splitlines(), (line, script)
    assert "#PBS -A imgproj" not in script  # skipped by job-directives-skip
    worker = next(line for line in script.splitlines() if "distributed.cli.dask_worker" in line)
    for arg in ("--nthreads 8", "--nworkers 4", "--memory-limit 16.00GiB", "--lifetime 55m", "--lifetime-stagger 4m"):
        assert arg in worker
    assert "--death-timeout 120" in worker and " tls://" in worker  # TLS by default for clusters imgjobs starts
    assert worker.startswith(sys.executable) and "--local-directory /local/scratch" in worker
    assert not (tmp_path / "out").exists()  # a dry run does nothing else
    # whole and quiet: dask-jobqueue's TLS temporaries closed before their folder goes (no "Exception
    # ignored ... FileNotFoundError" per file), and no file named that is gone by the time it is read
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    tls = re.findall(r"--tls-(?:ca-file|cert|key) (\S+)", worker)
    assert len(tls) == 3 and all(f.startswith(f"{tmp_path}/.imgjobs-tls-RUN/") for f in tls), worker
    assert "# .imgjobs-tls-RUN: a real run writes the TLS certificate and key" in script
    assert not list(tmp_path.glob(".imgjobs-tls-*"))

    r = imgjobs("resize", tmp_path / "src", "--cluster", "perlmutter", "--dry-run", "--tls", env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "#!/usr/bin/env bash -e"  # from the site's jobqueue.yaml
    assert "--lifetime" not in r.stdout
    for line in ("#SBATCH -J imgjobs-worker", "#SBATCH -p regular", "#SBATCH -A imgproj", "#SBATCH --constraint=cpu"):
        assert line in lines, (line, r.stdout)
    assert "#SBATCH --cpus-per-task=32" in lines and "#SBATCH --mem=64G" in lines and "#SBATCH -t 00:30:00" in lines
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert " tls://" in worker and "--tls-ca-file" in worker and "--tls-key" in worker
    assert "Exception ignored" not in r.stderr and ".imgjobs-tls-RUN/" in worker, r.stderr
    r = imgjobs("resize", tmp_path / "src", "--cluster", "perlmutter", "--dry-run", "--no-tls", env=env)
    assert r.returncode == 0 and " tcp://" in r.stdout and "--tls-key" not in r.stdout


def test_cluster_profile_errors_are_clear(tmp_path):
    (tmp_path / "src").mkdir()
    env = cluster_env(
        tmp_path,
        {
            "bad": {"type": "loadleveler"},
            "tiny": {"type": "pbs", "jobqueue": {"cores": 2, "processes": 4}},
            "old": {"type": "pbs", "cores": 2},  # the key belongs under jobqueue:
            "nomem": {"type": "slurm", "jobqueue": {"memory": "lots"}},
            "typo": {"type": "slurm", "jobqueue": {"job-script-epilog": ["echo"]}},
        },
    )
    cases = (
        ("nope", "no cluster profile 'nope'"),
        ("bad", "type must be one of pbs, slurm, lsf, sge, htcondor, oar, moab (dask-jobqueue's batch systems)"),
        ("tiny", "exceeds"),
        ("old", "go under its `jobqueue:` section"),
        ("nomem", "jobqueue.memory must be a size"),
        ("typo", "has no slurm option job-script-epilog"),
    )
    for prof, msg in cases:
        r = imgjobs("compress", tmp_path / "src", tmp_path / "o", "--cluster", prof, "--dry-run", env=env)
        assert r.returncode == 2 and msg in r.stderr, r.stderr
    r = imgjobs("compress", tmp_path / "src", tmp_path / "o", "--dry-run", env=env)
    assert r.returncode == 2 and "--cluster" in r.stderr


def one_core_profile(tmp_path: Path, kind: str, lifetime, stagger) -> dict:
    """A profile of one-core, 1 GiB jobs on the loopback for the batch-system stand-ins, its scratch and shared
    folders in ``tmp_path``."""
    return {
        "type": kind,
        "jobqueue": {
            "cores": 1,
            "processes": 1,
            "memory": "1GiB",
            "interface": "lo",
            "walltime": "00:05:00",
            "local-directory": str(tmp_path / "scratch"),
            "shared-temp-directory": str(tmp_path),
            "scheduler-options": {"dashboard_address": "127.0.0.1:0"},
        },
        "lifetime": lifetime,
        "lifetime-stagger": stagger,
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("kind", "lifetime", "images"),
    [("slurm", None, 200), ("pbs", "2s", 500)],  # pbs: jobs retire quickly and fresh ones must be submitted
)
def test_cluster_run_through_fake_batch_system(tmp_path, rng, kind, lifetime, images):
    profile = one_core_profile(tmp_path, kind, lifetime, "1s")
    env = cluster_env(tmp_path, {"site": profile})
    listfile = jpeg_list(tmp_path, images, rng)
    args = ["resize", listfile, "--size", "48x48", "--batch-size", "1"]
    start = time.time()
    r = imgjobs(
        *args, "--out", tmp_path / "b.npy", "--cluster", "site", "--jobs", "2", "--report", tmp_path / "r.json", env=env
    )
    end = time.time()
    assert r.returncode == 0, r.stderr
    assert "from a laptop: ssh -N -L" in r.stderr  # how to reach the dashboard
    submitted = sorted((tmp_path / "batch-jobs").glob("*.sh"), key=lambda p: p.stat().st_mtime_ns)
    header = "#PBS -l walltime=00:05:00" if kind == "pbs" else "#SBATCH -t 00:05:00"
    assert header in submitted[0].read_text()
    if lifetime:
        # every job whose workers retired well before the end (adapt checks each second) was replaced
        early = sum(_retirements(Path(f"{job}.log"), start, end - 2.5) for job in submitted)
        assert len(submitted) >= 2 + min(early, 1), f"{early} early retirement(s), no job was replaced"
        # the first two jobs retire staggered (100% and 75% of the lifetime), every replacement at the
        # whole lifetime, though distributed names it after the job it replaces
        lives = [re.search(r"--lifetime (\S+) ", p.read_text()).group(1) for p in submitted]
        assert sorted(lives[:2]) == ["1s", "2s"] and set(lives[2:]) <= {"2s"}, lives
    else:
        assert len(submitted) == 2
    # the report counts the jobs whose workers joined, as their logs say (a replacement, named as the job it
    # replaces, counted apart); one may join in the moment between the report and the cluster's close
    ran = sum("Registered to:" in Path(f"{job}.log").read_text() for job in submitted)
    counted = json.loads((tmp_path / "r.json").read_text())["usage"]["batch_jobs"]
    assert ran - 1 <= counted["in_all"] <= ran and 1 <= counted["most_at_once"] <= 2, (counted, ran)
    assert imgjobs(*args, "--out", tmp_path / "ref.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "ref.npy"), np.load(tmp_path / "b.npy"))
    assert not temps(tmp_path)


def test_jobs_is_n_or_min_max_and_anything_else_is_a_usage_error_saying_what_is_allowed(tmp_path, capsys):
    from jobs.cli.parser import build_parser
    from jobs.errors import ConfigError, UsageError
    from jobs.options import RunOptions

    parser = build_parser(plugins=False)
    for given, want in (("3", (3, 3)), ("1:4", (1, 4)), ("2:2", (2, 2))):
        assert parser.parse_args(["compress", "a", "b", "--jobs", given]).jobs == want
        assert RunOptions(jobs=given).get("jobs") == want
    assert RunOptions(jobs=(1, 4)).get("jobs") == (1, 4) and RunOptions(jobs=4).get("jobs") == (4, 4)  # Python
    for bad in ("4:1", "0:0", "a:b", "1:2:3", "-1", "0", "1:", "2.5"):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(["compress", "a", "b", "--jobs", bad])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and "argument --jobs: expected N (keep N batch jobs, N >= 1) or MIN:MAX" in err
        assert "1 <= MIN <= MAX" in err and repr(bad) in err, err
    for bad in ((0, 2), (3, 1), (1, 2, 3), True, "x"):
        with pytest.raises(UsageError, match=r"jobs: expected N .* or MIN:MAX"):
            RunOptions(jobs=bad).get("jobs")
    with dask.config.set({"imgjobs.scheduler.jobs": "4:1"}):
        with pytest.raises(ConfigError, match=r"got '4:1' \(imgjobs.scheduler.jobs, from"):
            RunOptions().get("jobs")
    with dask.config.set({"imgjobs.scheduler.jobs": "1:4"}):
        assert RunOptions().get("jobs") == (1, 4)
    # from the command, a configured value that is wrong is a usage error too (exit 2), named with its source
    (tmp_path / "src").mkdir()
    env = dict(cluster_env(tmp_path, {}), DASK_IMGJOBS__SCHEDULER__JOBS="1:2:3")
    r = imgjobs("compress", tmp_path / "src", tmp_path / "o", "--cluster", "slurm", env=env)
    assert r.returncode == 2 and "environment variable DASK_IMGJOBS__SCHEDULER__JOBS" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not list((tmp_path / "batch-jobs").glob("*.sh"))  # nothing submitted


def test_the_job_count_tells_jobs_by_their_id_and_counts_only_those_whose_workers_joined():
    from jobs.clusters.lifecycle import JobCount

    class Job:  # what the count reads of dask-jobqueue's jobs: the batch system's id
        def __init__(self, job_id):
            self.job_id = job_id

    class Cluster:  # a dask-jobqueue cluster's jobs by name, as SpecCluster keeps them
        workers = {"c-0": Job("101"), "c-1": Job("102"), "c-2": Job("103")}  # c-2 stays queued

    cluster = Cluster()
    count = JobCount(cluster)
    count.joined("tcp://a:1", "c-0")
    count.joined("tcp://b:1", "c-1-0")  # a job of two worker processes: <job>-<k>
    count.joined("tcp://b:2", "c-1-1")
    assert (count.most, count.total) == (2, 2)
    count.left("tcp://a:1")  # c-0 retires; its replacement takes its name, with a new id
    cluster.workers["c-0"] = Job("104")
    count.joined("tcp://c:1", "c-0")
    count.left("tcp://b:1")  # one of c-1's two processes: c-1 still runs
    assert (count.most, count.total) == (2, 3)
    count.left("tcp://b:2")
    count.left("tcp://c:1")
    count.left("tcp://nobody:1")  # a worker it never saw join: nothing to undo
    [used] = count.usage()
    assert (used.what, used.most, used.total) == ("batch jobs", 2, 3)
    assert used.line() == "  batch jobs: 2 at most at once, 3 in all"


@pytest.mark.timeout(180)
def test_an_adaptive_cluster_grows_with_the_work_and_the_report_counts_its_batch_jobs(tmp_path, rng):
    # --jobs 1:2 through the sbatch stand-in: one job to start with, a second as soon as there is work
    # (a target duration of 10 ms: any queued task asks for more workers), and the run's report says how
    # many jobs ran, as the jobs' own logs do; the first two lifetimes staggered by the most jobs, 2
    profile = one_core_profile(tmp_path, "slurm", "1h", None)
    env = cluster_env(tmp_path, {"site": profile})
    env.update(DASK_DISTRIBUTED__ADAPTIVE__INTERVAL="200ms", DASK_DISTRIBUTED__ADAPTIVE__TARGET_DURATION="10ms")
    listfile = jpeg_list(tmp_path, 300, rng)
    args = ["resize", listfile, "--size", "48x48", "--batch-size", "1", "--out", tmp_path / "b.npy"]
    r = imgjobs(*args, "--cluster", "site", "--jobs", "1:2", "--report", tmp_path / "r.json", "--no-tls", env=env)
    assert r.returncode == 0, r.stderr
    submitted = sorted((tmp_path / "batch-jobs").glob("*.sh"), key=lambda p: p.stat().st_mtime_ns)
    assert len(submitted) == 2, f"{len(submitted)} job(s) submitted: the cluster did not grow to --jobs 1:2's 2"
    lives = [re.search(r"--lifetime (\S+)", p.read_text()).group(1) for p in submitted]
    assert lives == ["3600s", "2700s"], lives  # staggered as the first 2 jobs of a cluster of at most 2
    ran = [p for p in submitted if "Registered to:" in Path(f"{p}.log").read_text()]
    counted = json.loads((tmp_path / "r.json").read_text())["usage"]["batch_jobs"]
    assert counted["in_all"] == len(ran) >= 1 and 1 <= counted["most_at_once"] <= len(ran), (counted, ran)
    line = f"  batch jobs: {counted['most_at_once']} at most at once, {counted['in_all']} in all"
    assert line in r.stdout.splitlines(), r.stdout
    assert "1 to 2 job(s) as the work needs (adaptive)" in json.loads((tmp_path / "r.json").read_text())["scheduler"]
    assert imgjobs(*args[:-1], tmp_path / "ref.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "ref.npy"), np.load(tmp_path / "b.npy"))


# --------------------------------------------------------------------------- batch scripts


def test_pbs_batch_script_runs_the_job_with_mpiexec(tmp_path, rng):
    """scripts/pbs_job.sh -> run_on_cluster.sh under a fake PBS allocation of 2 nodes."""
    src = bw_images(tmp_path / "src", 4, rng)
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    # mpiexec of one machine: start the command once per rank and wait for them
    (bin_dir / "mpiexec").write_text(
        '#!/bin/bash\nprintf "%s\\n" "$*" >> "$FAKE_LOG"\nn=$2; shift 4\n'
        'for i in $(seq $n); do "$@" --name rank$i & done\nwait\n'
    )
    (bin_dir / "mpiexec").chmod(0o755)
    nodefile = tmp_path / "nodes"
    nodefile.write_text("node1\nnode1\nnode2\n")
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}",
        PBS_NODEFILE=str(nodefile),
        PBS_JOBID="1234.pbs01",
        PBS_O_WORKDIR=str(ROOT),
        JOB=f"compress {src} {tmp_path / 'out'}",
        THREADS="1",
        LOCAL_DIR=str(tmp_path),
        SCHEDULER_FILE=str(tmp_path / "sched.json"),
        DASHBOARD="127.0.0.1:0",
        IMGJOBS=f"{sys.executable} -m jobs",
        FAKE_LOG=str(tmp_path / "mpiexec.log"),
    )
    env["IMGJOBS"] = "imgjobs" if shutil.which("imgjobs", path=os.path.dirname(sys.executable)) else env["IMGJOBS"]
    r = subprocess.run(["bash", "scripts/pbs_job.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "pbs job 1234, 2 worker node(s)" in r.stderr
    assert (tmp_path / "mpiexec.log").read_text().startswith("-n 2 --ppn 1 dask worker --scheduler-file")
    assert imgjobs("compress", src, tmp_path / "ref").returncode == 0
    assert same_dirs(tmp_path / "ref", tmp_path / "out")
    assert not (tmp_path / "sched.json").exists()  # cleaned up


def test_batch_script_commands_for_slurm_tls_and_dask_mpi(tmp_path):
    env = dict(os.environ, DRY_RUN="1", SLURM_JOB_ID="88", SLURM_JOB_NUM_NODES="3", THREADS="4", TLS_DIR="/certs")
    env.pop("PBS_NODEFILE", None)
    r = subprocess.run(
        ["bash", "scripts/run_on_cluster.sh", "resize", "l.txt"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    sched, workers, client = r.stdout.splitlines()
    assert sched.startswith("dask scheduler --scheduler-file") and "--protocol tls" in sched
    assert workers.startswith("srun --nodes 3 --ntasks 3 --ntasks-per-node 1 dask worker")
    assert "--nthreads 4" in workers and "--tls-key /certs/key.pem" in workers
    assert client.startswith("imgjobs resize l.txt --scheduler-file") and client.endswith("scheduler-88.json")
    env["USE_DASK_MPI"] = "1"
    r = subprocess.run(
        ["bash", "scripts/run_on_cluster.sh", "compress", "a", "b"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    mpi, client = r.stdout.splitlines()
    assert mpi.startswith("srun --ntasks 4 dask-mpi --scheduler-file")  # scheduler rank + 3 worker ranks


# --------------------------------------------------------------------------- batch systems that misbehave


def test_missing_batch_commands_are_a_clear_error(tmp_path):
    (tmp_path / "src").mkdir()
    env = cluster_env(tmp_path, {})
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if "fakebin" not in p)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"])
    if shutil.which("qsub", path=env["PATH"]):
        pytest.skip("this machine has a real qsub")
    r = imgjobs("compress", tmp_path / "src", tmp_path / "o", "--cluster", "pbs", env=env)
    assert r.returncode == 1 and "qsub, qdel is not on PATH" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "waiting for workers" not in r.stderr  # refused before any submission


def test_a_cluster_that_cannot_close_still_has_its_jobs_cancelled(tmp_path, caplog):
    # cluster.close() times out on a loaded machine (seen under load: "timed out after 60 s"), while a
    # run stops for Ctrl-C: the jobs are cancelled with the batch system's own command, nothing raises
    from jobs.clusters import close_cluster

    log = tmp_path / "cancelled.log"
    cancel = tmp_path / "scancel"
    cancel.write_text(f'#!/bin/bash\necho "$@" >> {log}\n')
    cancel.chmod(0o755)

    class Job:
        cancel_command = str(cancel)

        def __init__(self, job_id):
            self.job_id = job_id

    class Stuck:
        workers = {"a": Job("101"), "b": Job("102"), "c": Job(None)}  # c: not submitted yet

        def close(self):
            # as a real close that got part of the way: its jobs are forgotten, a replacement was submitted
            self.workers = {"d": Job("103")}
            raise TimeoutError("timed out after 60 s.")

    close_cluster(Stuck())
    assert sorted(log.read_text().split()) == ["101", "102", "103"]
    assert "closing the cluster failed (timed out after 60 s.): cancelling its 3 job(s) directly" in caplog.text

    class Missing(Job):
        cancel_command = str(tmp_path / "no-such-scancel")  # a cancel command that cannot run

    class Mixed(Stuck):
        workers = {"a": Missing("201"), "b": Job("202")}

    log.write_text("")
    close_cluster(Mixed())  # the first cancel fails; the next job is still cancelled
    assert sorted(log.read_text().split()) == ["103", "202"]
    assert "could not cancel job 201" in caplog.text and "cancel it by hand" in caplog.text


def test_a_client_that_cannot_close_never_replaces_what_the_run_stops_for(caplog):
    # Client.close() gives up after 60 s on a loaded machine ("timed out after 60 s.", seen by
    # scripts/soak.sh while a Slurm run stopped for Ctrl-C): the run still ends as Ctrl-C (exit 130),
    # and a finished run stays finished
    from jobs.schedulers import closed_after

    class Stuck:
        closed = 0

        def close(self):
            self.closed += 1
            raise TimeoutError("timed out after 60 s.")

    stuck = Stuck()
    with pytest.raises(KeyboardInterrupt), closed_after(stuck, "the client"):
        raise KeyboardInterrupt
    with closed_after(stuck, "the client") as same:
        assert same is stuck
    assert stuck.closed == 2
    assert caplog.text.count("closing the client failed (timed out after 60 s.); the run's own outcome stands") == 2


def stuck_batch_system(tmp_path: Path, env: dict) -> Path:
    """sbatch that queues jobs which never start, squeue that says so, scancel that records what it cancels."""
    bin_dir = tmp_path / "stuckbin"
    bin_dir.mkdir()
    log = tmp_path / "cancelled.log"
    (bin_dir / "sbatch").write_text('#!/bin/bash\necho "Submitted batch job $((RANDOM + 1000))"\n')
    (bin_dir / "squeue").write_text(
        '#!/bin/bash\nwhile [ $# -gt 0 ]; do [ "$1" = -j ] && ids=$2; shift; done\n'
        'for id in ${ids//,/ }; do echo "$id PENDING Resources"; done\n'
    )
    (bin_dir / "scancel").write_text(f'#!/bin/bash\necho "$@" >> {log}\n')
    for name in ("sbatch", "squeue", "scancel"):
        (bin_dir / name).chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return log


@pytest.mark.timeout(120)
def test_jobs_that_never_start_are_reported_and_stopped(tmp_path, rng):
    src = bw_images(tmp_path / "src", 2, rng)
    profile = {"type": "slurm", "jobqueue": {"cores": 1, "processes": 1, "memory": "1GiB"}, "worker-timeout": "4s"}
    env = cluster_env(tmp_path, {"site": profile})
    cancelled = stuck_batch_system(tmp_path, env)
    r = imgjobs("compress", src, tmp_path / "out", "--cluster", "site", "--jobs", "2", "--no-tls", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "waiting for workers" in r.stderr and "PENDING Resources" in r.stderr  # said while waiting
    assert "no worker joined in 4s" in r.stderr and "cores, memory, queue/partition" in r.stderr
    assert len(cancelled.read_text().split()) == 2  # both jobs cancelled
    assert os.listdir(tmp_path / "out") == []  # made when the run started, and nothing written: no job ever ran


@pytest.mark.timeout(240)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_cluster_run_stopped_by_a_signal_cleans_up(tmp_path, rng, sig):
    profile = {
        "type": "slurm",
        "jobqueue": {
            "cores": 1,
            "processes": 1,
            "memory": "1GiB",
            "interface": "lo",
            "shared-temp-directory": str(tmp_path),
            "scheduler-options": {"dashboard_address": "127.0.0.1:0"},
        },
        "lifetime": None,
    }
    env = cluster_env(tmp_path, {"site": profile})
    listfile = jpeg_list(tmp_path, 400, rng)
    args = ["resize", listfile, "--out", tmp_path / "b.npy", "--size", "48x48", "--batch-size", "1"]
    proc = start_imgjobs(*args, "--cluster", "site", "--jobs", "2", env=env)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".b.npy.*")):  # the batch exists: workers have joined and run tasks
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    [private] = tmp_path.glob(".imgjobs-tls-*")  # TLS by default: the run's certificates, in a folder of its own
    assert private.stat().st_mode & 0o777 == 0o700 and any("key" in p.name for p in private.iterdir())
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (130 if sig == signal.SIGINT else 143), err
    assert not private.exists() and not list(tmp_path.glob(".dask-jobqueue*"))  # no private key left behind
    assert ("interrupted" if sig == signal.SIGINT else "stopped by a signal") in err and "Traceback" not in err
    assert "Dask dashboard: http://127.0.0.1:" in err  # where the dashboard listens, not the interface address
    # no batch under its name; the work folder the tasks started is kept for the same command to resume
    assert not (tmp_path / "b.npy").exists()
    assert [p.name for p in tmp_path.glob(".b.npy*")] == [".b.npy.imgjobs-partial"]
    jobs = [int(p.read_text().split()[0]) for p in (tmp_path / "batch-jobs").glob("*.pid")]
    assert jobs
    for pid in jobs:  # every worker job was cancelled: its process group goes (waited for, not slept on)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"worker job {pid} still runs 60 s after the run stopped")


@pytest.mark.timeout(120)
def test_workers_of_a_cluster_imgjobs_starts_drop_only_what_a_stopping_run_makes_them_say():
    # a Ctrl-C reaches the workers' heartbeat after imgjobs closed the scheduler: two tracebacks under
    # imgjobs' one line, seen once in three interrupted runs of a 1.28M-image list
    from jobs.schedulers import open_runner

    def log_on_this_worker() -> list:  # defined here: cloudpickle sends it by value, not as this test module
        """Log what a stopping run makes a worker say, and a real error; return what reached a handler."""
        import logging

        seen: list = []

        class Keep(logging.Handler):
            def emit(self, record):
                seen.append(record.getMessage())

        keep = Keep()
        loggers = [logging.getLogger(n) for n in ("distributed.worker", "distributed.worker.state_machine")]
        for lg in loggers:
            lg.addHandler(keep)
        try:
            loggers[0].error("Failed to communicate with scheduler during heartbeat.")
            loggers[1].warning("Async instruction for <Task 'x' running> ended with CancelledError")
            loggers[0].error("a real error stays")
        finally:
            for lg in loggers:
                lg.removeHandler(keep)
        return seen

    with open_runner(scheduler="local", workers=1, threads_per_worker=1, dashboard_address=":0") as runner:
        said = runner.client.run(log_on_this_worker)
    assert list(said.values()) == [["a real error stays"]]
