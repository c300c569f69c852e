"""The --cluster slurm path on a real Slurm: a single node on 127.0.0.1 started by scripts/start_slurm.sh.

CI (as root) installs Debian's slurm-wlm and munge, starts it, and sets
``IMGJOBS_REQUIRE_SLURM=1`` so that these tests run (never skip) there.
Elsewhere they run when ``SLURM_CONF`` names a running Slurm, and are skipped
with the command that starts one otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import dask
import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import ROOT, imgjobs, start_imgjobs
from jobs.rle_job.manifest import MANIFEST


def _slurm_up() -> bool:
    if not (os.environ.get("SLURM_CONF") and shutil.which("sinfo") and shutil.which("sbatch")):
        return False
    r = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return r.returncode == 0 and any(s.startswith(("idle", "mix", "alloc")) for s in r.stdout.split())


if not _slurm_up():
    if os.environ.get("IMGJOBS_REQUIRE_SLURM") == "1":
        raise RuntimeError("IMGJOBS_REQUIRE_SLURM=1 but no Slurm answers: see scripts/start_slurm.sh")
    pytest.skip(
        "needs a running Slurm: sudo bash scripts/start_slurm.sh; export SLURM_CONF=/tmp/imgjobs-slurm/slurm.conf",
        allow_module_level=True,
    )

pytestmark = [pytest.mark.timeout(300), pytest.mark.serial]  # a real batch system's node: its cores, alone


def squeue(name: str) -> list[tuple[str, str]]:
    out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i %T"], capture_output=True, text=True).stdout
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


@pytest.fixture
def site(tmp_path):
    """A profile for this node: 1-core jobs, logs in tmp_path, a job name of its own."""
    name = f"imgjobs-test-{uuid.uuid4().hex[:8]}"
    logs = tmp_path / "logs"
    logs.mkdir()

    def make(**own) -> dict:
        profile = {
            "type": "slurm",
            "jobqueue": {
                "name": name,
                "cores": 1,
                "processes": 1,
                "memory": "1GiB",
                "walltime": "00:10:00",
                "interface": "lo",
                "log-directory": str(logs),
                "shared-temp-directory": str(tmp_path),
                "scheduler-options": {"dashboard_address": "127.0.0.1:0"},
            },
            "lifetime": None,
            "worker-timeout": "2m",
            **own,
        }
        cfg = tmp_path / "dask-config"
        cfg.mkdir(exist_ok=True)
        (cfg / "imgjobs.yaml").write_text(yaml.safe_dump({"imgjobs": {"clusters": {"site": profile}}}))
        return dict(os.environ, DASK_CONFIG=str(cfg))

    make.job_name = name
    make.logs = logs
    yield make
    for job, _ in squeue(name):  # never leave a job behind, whatever the test did
        subprocess.run(["scancel", job])


def photos(tmp_path: Path, n: int, rng, distinct: int = 20, shape=(60, 80)) -> Path:
    d = tmp_path / "photos"
    d.mkdir(exist_ok=True)
    for i in range(distinct):
        Image.fromarray(rng.integers(0, 255, (*shape, 3), dtype=np.uint8)).save(d / f"{i}.jpg", quality=85)
    listfile = tmp_path / "list.txt"
    listfile.write_text("".join(f"photos/{i % distinct}.jpg\n" for i in range(n)))
    return listfile


def bw(tmp_path: Path, n: int, rng) -> Path:
    d = tmp_path / "bw"
    d.mkdir(exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.random((300, 400)) < 0.5).save(d / f"{i}.bmp")
    return d


def test_real_slurm_runs_both_jobs_like_threads(tmp_path, rng, site):
    env = site()
    src = bw(tmp_path, 6, rng)
    r = imgjobs("compress", src, tmp_path / "rle", "--cluster", "site", "--jobs", "2", env=env)
    assert r.returncode == 0, r.stderr
    assert imgjobs("compress", src, tmp_path / "ref").returncode == 0
    for f in sorted(os.listdir(tmp_path / "ref")):
        if f != MANIFEST:  # the outputs; the manifest records times
            assert (tmp_path / "rle" / f).read_bytes() == (tmp_path / "ref" / f).read_bytes()
    listfile = photos(tmp_path, 60, rng)
    r = imgjobs("resize", listfile, "--out", tmp_path / "b.npy", "--size", "32x32", "--cluster", "site", env=env)
    assert r.returncode == 0, r.stderr
    assert imgjobs("resize", listfile, "--out", tmp_path / "t.npy", "--size", "32x32").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "t.npy"))
    assert squeue(site.job_name) == []  # every worker job ended with the run


def _running(proc, name: str, jobs: int, marker: Path) -> list[str]:
    deadline = time.monotonic() + 120
    while True:
        running = [j for j, state in squeue(name) if state == "RUNNING"]
        if len(running) >= jobs and list(marker.parent.glob(marker.name)):
            return running
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.3)


def test_scancel_of_a_worker_job_mid_run_loses_nothing(tmp_path, rng, site):
    env = site()
    listfile = photos(tmp_path, 1500, rng)
    args = ["resize", listfile, "--out", tmp_path / "b.npy", "--size", "32x32", "--batch-size", "1"]
    proc = start_imgjobs(*args, "--cluster", "site", "--jobs", "2", env=env)
    running = _running(proc, site.job_name, 2, tmp_path / ".b.npy.imgjobs-partial" / "done" / "*.json")
    subprocess.run(["scancel", running[0]], check=True)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert imgjobs(*args[:-2], "--out", tmp_path / "t.npy").returncode == 0
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "t.npy"))


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_leave_no_job_in_squeue(tmp_path, rng, site, sig, status):
    env = site()
    listfile = photos(tmp_path, 3000, rng)
    args = ["resize", listfile, "--out", tmp_path / "b.npy", "--size", "32x32", "--batch-size", "1"]
    proc = start_imgjobs(*args, "--cluster", "site", "--jobs", "2", env=env)
    _running(proc, site.job_name, 2, tmp_path / ".b.npy.imgjobs-partial" / "done" / "*.json")
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status and "Traceback" not in err, err
    deadline = time.monotonic() + 30
    while squeue(site.job_name):
        assert time.monotonic() < deadline, f"jobs left in squeue: {squeue(site.job_name)}"
        time.sleep(0.5)
    assert not (tmp_path / "b.npy").exists()
    assert [p.name for p in tmp_path.glob(".b.npy*")] == [".b.npy.imgjobs-partial"]  # kept for the rerun


def test_jobs_min_max_grows_while_there_is_work_and_shrinks_back_when_idle(site):
    # --jobs 1:4 as jobs=(1, 4) from Python, on this 2-CPU node of 1-core jobs: work for many workers
    # makes the cluster ask Slurm for more jobs (two RUNNING at once, the rest PENDING for cores), and
    # once the work is gone, for fewer, down to one; seen in squeue and on the scheduler, not only in
    # imgjobs' own count.  Adaptive decisions every 300 ms, after 2 alike (distributed's: 1 s, 3).
    from jobs.schedulers import open_runner

    env = site()
    profile = yaml.safe_load((Path(env["DASK_CONFIG"]) / "imgjobs.yaml").read_text())["imgjobs"]["clusters"]["site"]
    quick = {"distributed.adaptive.interval": "300ms", "distributed.adaptive.wait-count": 2}
    name = site.job_name

    def jobs(state: str | None = None) -> list[str]:
        return [j for j, s in squeue(name) if state is None or s == state]

    def wait(what: str, done, timeout: float = 40):
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"{what}: squeue says {squeue(name)}"
            time.sleep(0.3)

    with dask.config.set({"imgjobs.clusters.site": profile, **quick}):
        with open_runner(cluster="site", jobs=(1, 4), tls=False) as runner:
            client = runner.client
            runner.ready(lambda line: None)  # the first worker, as a run waits for it
            assert len(jobs()) == 1  # MIN, before any work
            work = client.map(time.sleep, [0.5] * 400, pure=False)  # ~200 s of work for one worker
            workers = lambda: len(client.scheduler_info()["workers"])  # noqa: E731
            wait("the cluster never grew above 1 job", lambda: len(jobs("RUNNING")) >= 2 and workers() >= 2)
            asked = len(jobs())
            assert 2 <= asked <= 4, squeue(name)  # more than MIN, never more than MAX
            client.cancel(work)
            del work
            wait("the idle cluster never shrank back to 1 job", lambda: len(jobs()) == 1 and workers() == 1)
            [used] = runner.usage()  # and imgjobs' own count agrees
            assert used.what == "batch jobs" and used.most >= 2 and used.total >= 2, used
    wait("jobs left after the cluster closed", lambda: jobs() == [], 30)


_STAMP = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - distributed\.worker - INFO - +(Start worker|Stopping worker)(.*)"
)


def _worker_intervals(logs: Path) -> list[tuple[float, float, bool]]:
    """(start, stop, retired) of each worker job: retired when it stopped at its lifetime."""
    out = []
    for f in sorted(logs.glob("*.err")):
        start = stop = None
        retired = False
        for line in f.read_text().splitlines():
            m = _STAMP.match(line)
            if m:
                t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if m.group(2) == "Start worker":
                    start = t
                elif stop is None:  # the first "Stopping worker": it no longer takes tasks
                    stop, retired = t, "worker-lifetime-reached" in m.group(3)
        if start is not None:
            out.append((start, stop if stop is not None else float("inf"), retired))
    return out


def test_a_job_of_50000_tasks_runs_steadily_through_staggered_worker_lifetimes(tmp_path, rng, site):
    # Two promises on one long run (a real batch system's run is the slow part of the suite):
    # - scale: a job of 50,000 tasks (one image each) goes to the scheduler a window at a time
    #   (imgjobs.scheduler.window), so slices finish from the start, with no "Sending large graph"
    #   (graphs of 20,000 tasks or more sent whole once finished no slice in 80 s here);
    # - lifetimes: 55 s, the first two jobs retire 14 s apart, less the gap between their starts (up
    #   to 3-4 s on a loaded 2-core machine), more than a replacement takes to start here (5-7 s).
    env = site(lifetime="55s", **{"lifetime-stagger": None})
    # A job longer than the test needs, sized from this machine's own speed at the same work (the
    # two 1-core workers of the cluster decode about twice what one thread does here), watched
    # through the workers' logs and stopped once the first generation has retired and been
    # replaced: what it checks never depends on a fixed guess of how fast the machine is.
    # Images large enough that decoding, not start-up, is what the sample measures.
    sample = photos(tmp_path, 400, rng, shape=(240, 320))
    t = time.perf_counter()
    one = ["--size", "32x32", "--batch-size", "1", "--scheduler", "threads", "--workers", "1"]
    assert imgjobs("resize", sample, "--out", tmp_path / "s.npy", *one).returncode == 0
    rate = 400 / (time.perf_counter() - t)  # images/s of one thread, start-up included: an underestimate
    n = int(max(50_000, 2 * rate * 150))  # >= 50,000 tasks, and ~150 s of work or more, past the ~90 s needed
    listfile = photos(tmp_path, n, rng, shape=(240, 320))
    args = ["resize", listfile, "--out", tmp_path / "b.npy", "--size", "32x32", "--batch-size", "1"]
    proc = start_imgjobs(*args, "--cluster", "site", "--jobs", "2", env=env)
    deadline = time.monotonic() + 240
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, (
            f"the first generation did not retire in 240 s: {_worker_intervals(site.logs)}"
        )
        spans = sorted(_worker_intervals(site.logs))
        retired = sorted(stop for _, stop, gone in spans[:2] if gone)
        if len(retired) == 2 and len(spans) > 2 and time.time() > retired[1] + 10:
            break
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    end = time.time()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "Sending large graph" not in err, err
    spans = sorted(_worker_intervals(site.logs))
    first = spans[0][0]
    retire = sorted(stop for _, stop, _ in spans[:2])
    assert retire[1] - retire[0] > 8, f"the first two jobs retired together: {spans}"
    # a replacement lives the whole lifetime, though it takes the name of the job it replaces
    early = [(a - first, b - first) for a, b, retired in spans[2:] if retired and b - a < 50]
    assert not early, f"replacements retired before their 55 s lifetime: {early} of {spans}"
    # What the stagger guarantees, checked up to the replacement of the first generation's last
    # job: the cluster is never empty.  Later generations keep the spread less the drift of
    # their start-ups (a few seconds each), so a run of many lifetimes may lose it.
    t = first
    while t < min(end - 1, retire[1] + 10):
        assert any(a <= t <= b for a, b, _ in spans), f"no worker at {t - first:.1f} s: {spans}"
        t += 0.25
    # and the work went on through the retirements: slices were finished after the second one
    done = list((tmp_path / ".b.npy.imgjobs-partial" / "done").glob("*.json"))
    assert done, f"no slice was finished in {end - first:.0f} s of workers {spans}: {err}"
    times = sorted(p.stat().st_mtime for p in done)
    assert times[0] < retire[0], "no slice finished before the first worker retired: the graph was slow to go"
    assert times[-1] > retire[1], "no slice finished after the second retirement"
    assert len(done) < n  # stopped mid-run: each task is one slice, and most were still to come


def test_a_profile_the_cluster_cannot_schedule_is_reported(tmp_path, rng, site):
    env = site(**{"worker-timeout": "6s"})
    import dask.config  # noqa: F401 - the cfg written by site() is read by the subprocess

    cfg = Path(env["DASK_CONFIG"]) / "imgjobs.yaml"
    data = yaml.safe_load(cfg.read_text())
    data["imgjobs"]["clusters"]["site"]["jobqueue"].update(cores=64, processes=1, memory="4TiB")  # more than the node
    cfg.write_text(yaml.safe_dump(data))
    r = imgjobs("compress", bw(tmp_path, 2, rng), tmp_path / "o", "--cluster", "site", env=env, timeout=120)
    assert r.returncode == 1 and "no worker joined in 6s" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert squeue(site.job_name) == []


def test_sbatch_of_the_batch_script(tmp_path, rng):
    src = bw(tmp_path, 4, rng)
    env = dict(
        os.environ,
        IMGJOBS_HOME=str(ROOT),
        IMGJOBS_ACTIVATE=f"export PATH={os.path.dirname(sys.executable)}:$PATH",
        THREADS="1",
        DASHBOARD="127.0.0.1:0",
    )
    log = tmp_path / "job.log"
    r = subprocess.run(
        ["sbatch", "--wait", "-o", str(log), str(ROOT / "scripts" / "slurm_job.sh"), "compress", str(src), "out"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, log.read_text() if log.exists() else r.stderr
    assert "slurm job" in log.read_text() and "1 worker node(s)" in log.read_text()
    assert imgjobs("compress", src, tmp_path / "ref").returncode == 0
    for f in sorted(os.listdir(tmp_path / "ref")):
        if f != MANIFEST:  # the outputs; the manifest records times
            assert (tmp_path / "out" / f).read_bytes() == (tmp_path / "ref" / f).read_bytes()
    bad = dict(env, IMGJOBS_ACTIVATE="true", PATH="/usr/bin:/bin")  # nothing puts imgjobs on PATH
    r = subprocess.run(
        [
            "sbatch",
            "--wait",
            "-o",
            str(tmp_path / "bad.log"),
            str(ROOT / "scripts" / "slurm_job.sh"),
            "verify",
            "a",
            "b",
        ],
        cwd=tmp_path,
        env=bad,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "is not on PATH in this job" in (tmp_path / "bad.log").read_text()
