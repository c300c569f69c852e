"""The job runtime and the Python API: protocol, linear cost, bounded memory, schedulers.

Structural, never timed: directory listings and graph nodes are counted, memory
is bounded by resource limits on real subprocesses, and outputs are compared
byte for byte across schedulers.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import pytest
from dask.delayed import Delayed
from PIL import Image

import jobs
import rle
from conftest import blobs, imgjobs, pillow_bits, write_bmp_raw
from jobs.rle_job.journal import PARTS
from jobs.rle_job.manifest import MANIFEST
from jobs.rle_job.options import CompressOptions
from jobs.rle_job.planning import plan_compress
from jobs.rle_job.ranges import RangeBatch
from jobs.runtime.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from make_samples import make_small  # noqa: E402


def temps(d) -> list[str]:
    return [str(p) for p in Path(d).rglob("*.imgjobs.tmp")]


def read_dir(d) -> dict:
    """The outputs in ``d`` (not the manifest of what they were made from, which records times)."""
    return {f: (Path(d) / f).read_bytes() for f in sorted(os.listdir(d)) if f != MANIFEST}


@pytest.fixture
def tiles(tmp_path):
    def make(n: int, name: str = "tiles") -> Path:
        d = tmp_path / name
        make_small(str(d), n)
        return d

    return make


# --------------------------------------------------------------------------- linear cost


class CountListings:
    """Counts the listings (os.scandir, os.listdir) of directories under ``root`` made while active.

    Other threads of the process list other things (distributed's system monitor
    counts its open files in /proc): those are not the job's.
    """

    def __init__(self, monkeypatch, root):
        self.calls = []
        root = str(root)
        real_scandir, real_listdir = os.scandir, os.listdir

        def scandir(path="."):
            if os.path.abspath(os.fsdecode(path)).startswith(root):
                self.calls.append(os.fsdecode(path))
            return real_scandir(path)

        def listdir(path="."):
            if os.path.abspath(os.fsdecode(path)).startswith(root):
                self.calls.append(os.fsdecode(path))
            return real_listdir(path)

        monkeypatch.setattr(os, "scandir", scandir)
        monkeypatch.setattr(os, "listdir", listdir)


@pytest.mark.parametrize("job", ["compress", "rerun", "decompress", "verify"])
def test_directory_listings_do_not_grow_with_the_number_of_files(tiles, tmp_path, monkeypatch, job):
    counts = {}
    for n in (40, 400):
        src = tiles(n, f"src{n}")
        rles = tmp_path / f"rle{n}"
        if job != "compress":
            jobs.compress(src, rles, scheduler="threads")
        stale = rles / ".tile-0000001.rle.0badc0ffee00.imgjobs.tmp"
        if job == "rerun":
            stale.write_bytes(b"half")  # an earlier run's leftover: swept with the same listing
        counter = CountListings(monkeypatch, tmp_path)
        if job in ("compress", "rerun"):
            report = jobs.compress(src, rles, scheduler="threads")
        elif job == "decompress":
            report = jobs.decompress(rles, tmp_path / f"bmp{n}", scheduler="threads")
        else:
            report = jobs.verify(src, rles, scheduler="threads")
        monkeypatch.undo()
        assert len(report) == n and report.ok
        assert not stale.exists()
        counts[n] = len(counter.calls)
    # source, output, one sweep at the end, and the folder of the records tasks wrote (a file per task)
    assert counts[40] == counts[400] <= 4, counts


def test_graph_has_one_node_per_batch_not_per_file(tiles, tmp_path):
    src = tiles(2000)
    plan = plan_compress(src, tmp_path / "out", CompressOptions.resolve(), parallelism=2)
    assert plan.nfiles == 2000 and plan.batched_files == 2000
    assert plan.ntasks == len(plan.outputs) <= 16  # 2000 files in a handful of batch tasks
    graph = jobs.compress(src, tmp_path / "out", compute=False)
    assert len(graph.dask) == plan.ntasks + 1  # the batches and the task that finalizes
    # building the graph wrote only its work list, a hidden temporary the run sweeps
    assert [p.name.startswith(".imgjobs-worklist.") for p in (tmp_path / "out").iterdir()] == [True, True]
    # each batch task carries a range of the work list, never a name, nor a delayed call per file
    for key in plan.outputs:
        func, batch, *_ = plan.graph[key]
        assert func.__name__ == "compress_batch" and 100 <= len(batch) <= 2000
        assert isinstance(batch, RangeBatch) and len(pickle.dumps(batch)) < 1000
        assert len(batch.load().src) == len(batch) and batch.load().src[0].startswith(str(src))


# --------------------------------------------------------------------------- protocol


def test_compute_false_gives_a_graph_whose_last_task_finalizes(image_dir, tmp_path):
    d, expected = image_dir
    graph = jobs.compress(d, tmp_path / "lazy", compute=False)
    assert isinstance(graph, Delayed)
    assert [p.name for p in (tmp_path / "lazy").iterdir() if not p.name.startswith(".imgjobs-worklist.")] == []
    (report,) = dask.compute(graph, scheduler="threads")
    assert isinstance(report, jobs.Report) and report.counts == {"ok": len(expected)}
    eager = jobs.compress(d, tmp_path / "eager")
    assert read_dir(tmp_path / "lazy") == read_dir(tmp_path / "eager")
    assert eager.bytes_out == report.bytes_out > 0


def test_compute_false_resize_finalizes_on_a_worker(tmp_path, rng, cluster):
    from distributed import Client

    d = tmp_path / "jpgs"
    d.mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(d / f"{i}.jpg")
    graph = jobs.resize(d, tmp_path / "b.npy", size="16x8", compute=False)
    assert not list(tmp_path.glob("*.npy")) and not list(tmp_path.glob(".*"))
    with Client(cluster) as client:
        report = client.compute(graph).result()
    assert report.output == str(tmp_path / "b.npy") and report.array.shape == (6, 8, 16, 3)
    assert (tmp_path / "b.npy.json").exists() and not list(tmp_path.glob(".*"))


def test_active_client_is_used_and_explicit_settings_win(image_dir, tmp_path, cluster):
    from distributed import Client

    d, _ = image_dir
    with Client(cluster) as client:
        report = jobs.compress(d, tmp_path / "a", progress=False)
        assert client.scheduler.address in report.scheduler
        report = jobs.compress(d, tmp_path / "b", scheduler="threads", progress=False)
        assert report.scheduler.startswith("dask threads")
    assert read_dir(tmp_path / "a") == read_dir(tmp_path / "b")


def test_api_in_a_plain_script_matches_the_cli(image_dir, tmp_path):
    d, _ = image_dir
    script = f"import jobs; r = jobs.compress({str(d)!r}, {str(tmp_path / 'api')!r}); print(r.exit_code, len(r))"
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["0", str(len(os.listdir(d)))], r.stderr
    cmd = [sys.executable, "-m", "jobs", "-q", "compress", d, tmp_path / "cli"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert read_dir(tmp_path / "api") == read_dir(tmp_path / "cli")


def test_a_failing_task_aborts_and_leaves_no_temporaries(tiles, tmp_path, monkeypatch):
    src = tiles(300)
    calls = []
    real = rle.encode_packed_blocks

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk controller on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(rle, "encode_packed_blocks", flaky)
    with pytest.raises(RuntimeError, match="on fire"):
        jobs.compress(src, tmp_path / "out", scheduler="threads", workers=1)
    assert temps(tmp_path) == []
    done = [n for n in os.listdir(tmp_path / "out") if not n.startswith(".")]
    assert done and os.listdir(tmp_path / "out" / PARTS)  # the finished task's records stay for the next run
    for name in done:  # what finished is complete
        assert rle.decode((tmp_path / "out" / name).read_bytes()).shape == (64, 96)
    monkeypatch.undo()
    report = jobs.compress(src, tmp_path / "out", scheduler="threads")
    assert report.counts == {"ok": 300 - len(done), "skipped": len(done)}  # what finished is trusted, by its record


def test_an_interrupted_resize_keeps_its_finished_slices_and_resumes(tmp_path, rng):
    from jobs.resize_job.planner import plan_resize

    d = tmp_path / "jpgs"
    d.mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(d / f"{i}.jpg")

    class CtrlC(Progress):
        def update(self, units, files=0):
            raise KeyboardInterrupt

    # One worker thread: dask's local scheduler runs one task at a time and reports it (our progress
    # callback) before it starts the next, so Ctrl-C after the first slice leaves exactly one done.
    ctrl_c = CtrlC(enabled=False, dashboard=False)
    with pytest.raises(KeyboardInterrupt):
        jobs.resize(d, tmp_path / "b.npy", batch_size=2, scheduler="threads", workers=1, progress=ctrl_c)
    assert not list(tmp_path.glob("*.npy"))  # no batch under its name until it is complete
    done = sorted(p.name for p in (tmp_path / ".b.npy.imgjobs-partial" / "done").iterdir())
    assert len(done) == 1 and done[0].endswith(".json"), done
    opts = jobs.resize_job.options.ResizeOptions.resolve(batch_size=2)
    assert len(plan_resize(d, tmp_path / "b.npy", opts).outputs) == 4 - len(done)  # only the rest is planned
    report = jobs.resize(d, tmp_path / "b.npy", batch_size=2, progress=False)
    assert report.sidecar["timing"]["resumed_images"] == 2 * len(done) and "resumed" in report.summary()
    jobs.resize(d, tmp_path / "ref.npy", batch_size=2, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.load(tmp_path / "ref.npy"))
    assert not list(tmp_path.glob(".b.npy*"))  # the work folder is gone


def test_create_output_is_idempotent_after_slices_are_written(tmp_path, rng):
    from jobs.resize_job.decode import load_rgb
    from jobs.resize_job.options import ResizeOptions
    from jobs.resize_job.planner import plan_resize
    from jobs.resize_job.tasks import create_output, fill, open_images

    d = tmp_path / "jpgs"
    d.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(d / f"{i}.jpg")
    for out in ("b.npy", "b.zarr"):
        opts = ResizeOptions.resolve(size="8x8", batch_size=2)
        plan = plan_resize(d, tmp_path / out, opts)
        where = plan.finish.where
        offset = create_output(where)
        fill(where, offset, 0, plan.finish.paths[:2], opts)
        assert create_output(where) == offset  # Dask ran it again: a worker holding its result left
        written = open_images(where)[:2]  # the slices written before are still there
        np.testing.assert_array_equal(written, np.stack([load_rgb(p, (8, 8)) for p in plan.finish.paths[:2]]), out)


def test_auto_scheduler_picks_processes_for_many_small_files(tiles, tmp_path):
    src = tiles(30)
    with dask.config.set({"imgjobs.scheduler.auto-processes-files": 20}):
        many = jobs.compress(src, tmp_path / "p", workers=2, progress=False)
    with dask.config.set({"imgjobs.scheduler.auto-processes-files": 31}):
        few = jobs.compress(src, tmp_path / "t", workers=2, progress=False)
    assert "processes" in many.scheduler and "(auto" in many.scheduler
    assert "threads" in few.scheduler
    assert read_dir(tmp_path / "p") == read_dir(tmp_path / "t")


# --------------------------------------------------------------------------- bounded memory

#: Address space for a subprocess: an imgjobs run peaks near 370 MB of it here; the
#: old code needed 2.2-5.3 GB for the inputs below.
LIMIT = 800 << 20


def limited_imgjobs(*args):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    return imgjobs(*args, preexec=limit)


def test_decompress_bombs_fail_by_name_in_bounded_memory(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(1000):  # ten bytes each, claiming 65535x65535
        (src / f"liar{i:04d}.rle").write_bytes(rle.header(65535, 65535) + b"\xff" * 6)
    with open(src / "sparse-zeros.rle", "wb") as f:  # 5 GiB of nothing
        f.truncate(5 << 30)
    with open(src / "sparse-claim.rle", "wb") as f:  # a plausible claim, then zeros: fails at byte 4
        f.write(rle.header(65535, 65535))
        f.truncate(1 << 30)
    good = blobs(rng, 200, 300)
    (src / "good.rle").write_bytes(rle.encode(good))
    r = limited_imgjobs("decompress", src, tmp_path / "out")
    assert r.returncode == 1, r.stderr
    failed = {line.split()[1] for line in r.stderr.splitlines() if line.startswith("FAILED")}
    assert len(failed) == 1002 and "Traceback" not in r.stderr
    assert any("liar0000.rle" in f for f in failed)
    assert "sparse-claim.rle: zero-length run at byte offset 4" in r.stderr
    assert "sparse-zeros.rle" in r.stderr
    assert "1003 file(s): 1 ok, 1002 failed" in r.stdout
    np.testing.assert_array_equal(pillow_bits(tmp_path / "out" / "good.bmp"), good)
    assert sorted(os.listdir(tmp_path / "out")) == [MANIFEST, "good.bmp"]


def test_verify_of_a_tall_image_is_bounded_by_its_blocks(tmp_path):
    width, height = 30000, 30000  # 900 MPixel; 112 MB as a 1-bit BMP
    stride = width // 8 + 2  # 3752: padded to 4 bytes
    rows = np.zeros((10, stride), np.uint8)
    for k in range(10):  # runs of 50..140 pixels, shifting from row to row, like a scanned page
        rows[k, : width // 8] = np.packbits((np.arange(width) + 7 * k) // (50 + 10 * k) % 2)
    path = tmp_path / "tall.bmp"
    with open(path, "wb") as f:
        f.write(rle.bmpwriter.bmp_1bit_header(width, height))
        block = np.tile(rows, (100, 1)).tobytes()
        for _ in range(height // 1000):
            f.write(block)
    assert jobs.compress(path, tmp_path / "tall.rle", progress=False).ok
    r = limited_imgjobs("verify", path, tmp_path / "tall.rle")
    assert r.returncode == 0, r.stderr
    assert "verify: 1 file(s): 1 ok" in r.stdout
    data = bytearray((tmp_path / "tall.rle").read_bytes())
    data[-1] ^= 0x80  # the last run of the last row changes colour
    (tmp_path / "tall.rle").write_bytes(bytes(data))
    r = limited_imgjobs("verify", path, tmp_path / "tall.rle")
    assert r.returncode == 1 and "MISMATCH" in r.stderr and "(row 29999," in r.stderr, r.stderr


# --------------------------------------------------------------------------- schedulers


def test_many_small_and_a_few_large_files_identical_on_every_scheduler(tiles, tmp_path, rng, cluster):
    from distributed import Client

    src = tiles(2000, "mixed")
    big = blobs(rng, 1500, 2000)
    Image.fromarray(big.astype(bool)).save(src / "big-1bit.bmp")
    write_bmp_raw(src / "big-24bit.bmp", np.repeat(big[:900, :1200, None] * 255, 3, axis=2).astype(np.uint8), 24)
    grey = (rng.random((700, 500)) * 255).astype(np.uint8)
    write_bmp_raw(src / "big-grey.bmp", np.repeat(grey[:, :, None], 3, axis=2), 24)  # dithered: converted whole
    Image.fromarray(big.astype(bool)).save(src / "big.png")
    settings = {"imgjobs.rle.min-pixels-per-task": 200_000, "imgjobs.rle.target-pixels-per-task": 400_000}
    outs = {}
    with dask.config.set(settings):
        plan = plan_compress(src, tmp_path / "x", CompressOptions.resolve(), parallelism=2)
        assert any("block" in k[0] for k in plan.graph)  # the large BMPs really are split
        plan.finish.abort()  # a plan never run: its work list goes
        for kind in ("threads", "processes"):
            report = jobs.compress(src, tmp_path / kind, scheduler=kind, progress=False)
            assert report.counts == {"ok": 2004}, kind
            outs[kind] = read_dir(tmp_path / kind)
        with Client(cluster) as client:
            assert jobs.compress(src, tmp_path / "cluster", client=client, progress=False).ok
        outs["cluster"] = read_dir(tmp_path / "cluster")
    assert outs["threads"] == outs["processes"] == outs["cluster"]
    for name in ("big-1bit.bmp", "big-24bit.bmp", "big-grey.bmp", "big.png", "tile-0000000.bmp", "tile-0001999.bmp"):
        stem = os.path.splitext(name)[0]
        assert outs["threads"][f"{stem}.rle"] == rle.encode(pillow_bits(src / name)), name
    assert temps(tmp_path) == []


def test_a_file_that_grows_after_planning_is_not_read_past_its_planned_size(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.rle").write_bytes(rle.encode(blobs(rng, 20, 30)))
    graph = jobs.decompress(src, tmp_path / "out", compute=False)
    with open(src / "1.rle", "ab") as f:  # someone appends after the job was planned
        f.write(b"\x81" * 100)
    (report,) = dask.compute(graph, scheduler="threads")
    results = {os.path.basename(r.src): r for r in report}
    assert results["1.rle"].status == "failed" and "grew past its" in results["1.rle"].reason
    assert results["0.rle"].ok and results["2.rle"].ok


# --------------------------------------------------------------------------- worker processes


def test_a_one_thread_command_forks_its_worker_processes(tiles, tmp_path):
    # The processes scheduler starts in ~0 s instead of ~0.3 s of imports per worker
    # (issue 22); the outputs are those of the threads scheduler.
    src = tiles(12)
    args = ["--scheduler", "processes", "--workers", "2", "--no-progress", "--report", tmp_path / "r.json"]
    r = imgjobs("-v", "compress", src, tmp_path / "p", *args)
    assert r.returncode == 0, r.stderr
    assert "worker processes: 2 forked from this one" in r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["scheduler"].endswith(", forked workers")
    jobs.compress(src, tmp_path / "t", scheduler="threads", progress=False)
    assert read_dir(tmp_path / "p") == read_dir(tmp_path / "t")


def test_workers_are_forked_only_where_that_is_safe_and_not_against_dasks_configuration(monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from jobs.errors import ConfigError
    from jobs.runtime import pools
    from jobs.runtime.runners import dask_pool

    def method(pool):
        pool.shutdown()
        return pools.start_method(pool)

    monkeypatch.setattr(pools.threading, "active_count", lambda: 1)  # this test process's own threads aside
    assert method(dask_pool(1)) == "fork"
    with dask.config.set({"multiprocessing.context": "spawn"}):
        assert method(dask_pool(1)) == "spawn"  # the start method a user names is kept
    with ThreadPoolExecutor(1) as theirs:
        for key, value in [("multiprocessing.initializer", print), ("pool", theirs)]:
            with dask.config.set({key: value}):
                assert dask_pool(1) is None, key  # a user's pool or worker set-up: Dask starts the workers
    for key, value in [("pool", 1), ("multiprocessing.initializer", "os.getpid"), ("multiprocessing.context", "x")]:
        with dask.config.set({key: value}), pytest.raises(ConfigError, match=key):
            dask_pool(1)
    monkeypatch.setattr(pools.threading, "active_count", lambda: 2)
    assert pools.fork_refused() == "1 other thread(s) run here"  # one could hold a lock the child inherits held
    assert method(dask_pool(1)) == "spawn" and method(pools.process_pool(1)) == "spawn"
    monkeypatch.setattr(pools.threading, "active_count", threading.active_count)
    monkeypatch.setattr(pools.sys, "platform", "darwin")
    assert pools.fork_refused() == "not on darwin" and method(dask_pool(1)) == "spawn"


def test_a_bad_chunksize_in_dasks_configuration_is_named(tiles, tmp_path):
    env = {**os.environ, "DASK_CHUNKSIZE": "0"}
    r = imgjobs("compress", tiles(3), tmp_path / "o", "--scheduler", "processes", env=env)
    assert r.returncode == 2 and "chunksize (Dask's configuration) must be a whole number" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_batch_tasks_stamp_what_they_wrote_and_a_later_change_is_redone(tiles, tmp_path):
    from jobs.rle_job.manifest import read_records
    from jobs.runtime.stamps import written_stamp

    src, out = tiles(5), tmp_path / "out"
    plan = plan_compress(src, out, CompressOptions.resolve())
    task = next(iter(plan.graph.values()))
    outcomes = task[0](*task[1:])
    taken = {}
    for i in range(5):
        taken[os.path.basename(outcomes.dst[i])] = written_stamp(os.lstat(outcomes.dst[i])).decode()
    touched = Path(outcomes.dst[2])
    os.utime(touched, ns=(1, 1))  # changed after its task wrote it, before the finish
    plan.finish.finalize([outcomes], 0.0, "test")
    recorded = {name: entry[2] for name, entry in read_records(str(out)).items()}
    assert recorded == taken  # what the tasks wrote, not what is there now
    again = jobs.compress(src, out, progress=False)
    made = {os.path.basename(r.dst) for r in again.results if r.status == "ok"}
    assert made == {touched.name} and again.counts["skipped"] == 4


@pytest.mark.parametrize("context", ["forked", "spawn"])
def test_worker_processes_die_with_a_killed_run_and_free_the_output(tiles, tmp_path, context):
    # A forked worker holds the parent's lock file open: were it to outlive a killed run,
    # every later run into that directory would be refused as busy; a spawned one lingers.
    import signal
    import time

    import psutil

    from jobs.runtime.locks import output_lock

    src, out = tiles(15000), tmp_path / "out"
    env = dict(os.environ, **({"DASK_MULTIPROCESSING__CONTEXT": context} if context == "spawn" else {}))
    cmd = [sys.executable, "-m", "jobs", "-q", "compress", src, out, "--scheduler", "processes", "--workers", "2"]
    run = subprocess.Popen([*map(str, cmd), "--no-progress"], cwd=Path(__file__).parent.parent, env=env)
    parent = psutil.Process(run.pid)
    deadline = time.monotonic() + 60
    while len(list(out.glob("*.rle"))) < 50 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # the workers run tasks
    workers = parent.children(recursive=True)
    assert len(workers) >= 2, "the run ended before its workers could be seen: give it more files"
    run.send_signal(signal.SIGKILL)
    run.wait()
    _, alive = psutil.wait_procs(workers, timeout=5)
    try:
        with output_lock(str(out)):  # not BusyError: "another imgjobs run is writing into ..."
            pass
        assert not alive, alive
    finally:
        for orphan in alive:  # never left behind, whatever the outcome
            orphan.kill()


def test_a_worker_process_killed_mid_run_is_one_line_and_the_rerun_completes(tiles, tmp_path):
    import signal
    import time

    import psutil

    src, out = tiles(15000), tmp_path / "out"
    cmd = [sys.executable, "-m", "jobs", "-q", "compress", src, out, "--scheduler", "processes", "--workers", "2"]
    run = subprocess.Popen(
        [*map(str, cmd), "--no-progress"], cwd=Path(__file__).parent.parent, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while len(list(out.glob("*.rle"))) < 50 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    workers = psutil.Process(run.pid).children()
    assert workers, "the run ended before its workers could be seen: give it more files"
    workers[0].send_signal(signal.SIGKILL)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 1 and "a worker process died while it ran tasks" in err, err
    assert "Traceback" not in err
    again = imgjobs("compress", src, out, "--no-progress")
    assert again.returncode == 0 and "compress: 15000 file(s): " in again.stdout, again.stderr
    assert "failed" not in again.stdout and not temps(tmp_path)
