"""What hostile reviews of the core broke, one test each: files that change under a running job,
odd kinds of file where a file is expected, and the command's edges (Ctrl-C while it starts,
paths a report must not take, leftovers of a killed run).

Each was a real break; each test fails on the code before its fix.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import numpy as np
import pytest
from PIL import Image

import jobs
import rle
from conftest import ROOT, blobs, imgjobs
from jobs.runtime.durable import AppearedError, BatchWriter, rename_into, write_atomic


def _bmp(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels.astype(bool)).save(path)


@pytest.fixture
def bitmaps(tmp_path, rng):
    d = tmp_path / "src"
    d.mkdir()
    for i in range(6):
        _bmp(d / f"{i}.bmp", blobs(rng, 30 + i, 40))
    _bmp(d / "big.bmp", blobs(rng, 400, 300))  # split into row blocks below
    return d


# --------------------------------------------------------------------------- an output that appears meanwhile


@pytest.mark.parametrize("rows", ["auto", 50])
def test_an_output_that_appears_after_planning_is_never_replaced(bitmaps, tmp_path, rows):
    # Another program writes at an output's name while the job runs: its file is kept, that input fails
    # by name, and outputs that were there when the job was planned (made again) are still replaced.
    out = tmp_path / "out"
    out.mkdir()
    (out / "0.rle").write_bytes(b"stale, older than its input")
    os.utime(out / "0.rle", ns=(1, 1))
    graph = jobs.compress(bitmaps, out, rows_per_task=rows, compute=False)
    for name in ("1.rle", "big.rle"):
        (out / name).write_bytes(b"another program's")
    (report,) = dask.compute(graph, scheduler="threads")
    results = {os.path.basename(r.src): r for r in report}
    for name in ("1.bmp", "big.bmp"):
        assert results[name].status == "failed", name
        assert "appeared after this job was planned and is left as it is" in results[name].reason
        assert (out / name.replace(".bmp", ".rle")).read_bytes() == b"another program's"
    assert results["0.bmp"].ok and rle.decode((out / "0.rle").read_bytes()).shape == (30, 40)
    assert [r.status for n, r in results.items() if n not in ("1.bmp", "big.bmp")] == ["ok"] * 5
    assert not [p for p in os.listdir(out) if p.endswith(".imgjobs.tmp")]


def test_a_decompressed_output_that_appears_after_planning_is_kept(bitmaps, tmp_path):
    rles = tmp_path / "rle"
    jobs.compress(bitmaps, rles, progress=False)
    out = tmp_path / "bmp"
    out.mkdir()
    graph = jobs.decompress(rles, out, rows_per_task=50, compute=False)
    for name in ("2.bmp", "big.bmp"):
        (out / name).write_bytes(b"mine")
    (report,) = dask.compute(graph, scheduler="threads")
    failed = {os.path.basename(r.dst) for r in report if r.status == "failed"}
    assert failed == {"2.bmp", "big.bmp"}
    assert (out / "2.bmp").read_bytes() == (out / "big.bmp").read_bytes() == b"mine"


def test_a_retried_task_takes_its_own_earlier_output_as_written(tmp_path):
    # A worker lost after renaming but before reporting: the retry finds the very same bytes there.
    dst = str(tmp_path / "a.rle")
    for attempt in range(2):
        w = BatchWriter("0123456789ab")
        w.add(dst, b"the same bytes", replace=False)
        assert w.commit() == {}, attempt
    w = BatchWriter("0123456789ab")
    w.add(dst, b"other bytes", replace=False)
    (err,) = w.commit().values()
    assert isinstance(err, AppearedError) and Path(dst).read_bytes() == b"the same bytes"
    with pytest.raises(AppearedError):
        write_atomic(dst, [b"x"], "0123456789ab", replace=False)
    assert sorted(os.listdir(tmp_path)) == ["a.rle"]  # no temporary left by either


def test_without_an_atomic_rename_a_check_still_keeps_what_appeared(tmp_path, monkeypatch):
    # A file system with neither RENAME_NOREPLACE nor hard links (some network and FUSE mounts).
    from jobs.runtime import durable

    monkeypatch.setattr(durable, "_libc_renameat2", lambda: None)

    def no_links(a, b):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(durable.os, "link", no_links)
    (tmp_path / "t1").write_bytes(b"new")
    (tmp_path / "dst").write_bytes(b"theirs")
    with pytest.raises(AppearedError):
        rename_into(str(tmp_path / "t1"), str(tmp_path / "dst"), replace=False)
    rename_into(str(tmp_path / "t1"), str(tmp_path / "fresh"), replace=False)
    assert (tmp_path / "dst").read_bytes() == b"theirs" and (tmp_path / "fresh").read_bytes() == b"new"


# --------------------------------------------------------------------------- odd kinds of file


def test_a_fifo_named_as_the_input_or_an_rle_fails_by_name_and_never_hangs(tmp_path, rng):
    fifo = tmp_path / "scan.bmp"
    os.mkfifo(fifo)
    r = imgjobs("compress", fifo, tmp_path / "scan.rle", "--no-progress", timeout=20)
    assert r.returncode == 1 and "not a regular file (a FIFO)" in r.stderr, r.stderr
    src, rles = tmp_path / "src", tmp_path / "rles"
    src.mkdir()
    _bmp(src / "a.bmp", blobs(rng, 20, 20))
    jobs.compress(src, rles, progress=False)
    os.remove(rles / "a.rle")
    os.mkfifo(rles / "a.rle")
    r = imgjobs("verify", src, rles, "--no-progress", timeout=20)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "a.rle" in r.stderr, r.stderr


def test_a_fifo_where_a_small_rle_was_planned_fails_without_blocking(tmp_path):
    # Replaced by a FIFO after planning: the task refuses it rather than wait for a writer.
    from jobs.rle_job.tasks import read_small_rle

    fifo = tmp_path / "a.rle"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as f:
            f.write(b"x")

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        with pytest.raises(OSError, match="not a regular file"):
            read_small_rle(str(fifo), 100)
    finally:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the writer's open returns
        t.join(5)
        os.close(fd)


def test_a_sidecar_that_is_a_fifo_is_named_with_its_kind(tmp_path):
    from jobs.runtime.reads import load_json

    os.mkfifo(tmp_path / "s.json")
    with pytest.raises(OSError, match=r"not a regular file \(a FIFO\)"):
        load_json(str(tmp_path / "s.json"))


# --------------------------------------------------------------------------- the command's edges


def test_ctrl_c_while_the_command_starts_is_one_line_and_130(monkeypatch, capsys):
    import jobs.cli.command
    from jobs.cli import main

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs.cli.command, "run", interrupted)
    try:
        status = main(["stats", "a", "b.csv"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the command starts is a traceback")
    assert status == 130
    assert capsys.readouterr().err == "imgjobs: interrupted\n"


def test_an_address_that_is_no_address_is_a_usage_error(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    _bmp(src / "a.bmp", blobs(rng, 20, 20))
    r = imgjobs("compress", src, tmp_path / "out", "--scheduler-address", "tcp://[::1:8786", "--no-progress")
    assert r.returncode == 2 and "is not a scheduler's address" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_json_config_whose_train_filelist_is_no_path_is_named(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"data": {"train_filelist": ["a.jpg"]}}))
    r = imgjobs("resize", cfg, "--out", tmp_path / "b.npy", "--no-progress")
    assert r.returncode == 2 and "train_filelist" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("flag", ["--report", "--performance-report"])
def test_a_report_never_takes_the_place_of_an_input(tmp_path, rng, flag):
    src = tmp_path / "src"
    src.mkdir()
    _bmp(src / "a.bmp", blobs(rng, 20, 20))
    before = (src / "a.bmp").read_bytes()
    r = imgjobs("compress", src, tmp_path / "out", flag, src / "a.bmp", "--no-progress")
    assert r.returncode == 2 and "which this job reads or writes" in r.stderr, r.stderr
    assert (src / "a.bmp").read_bytes() == before and not (tmp_path / "out").exists()


def test_a_report_temporary_a_killed_run_left_is_swept(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    _bmp(src / "a.bmp", blobs(rng, 20, 20))
    left = tmp_path / ".r.json.0123456789ab-abcdef.imgjobs.tmp"
    left.write_text("{")
    r = imgjobs("compress", src, tmp_path / "out", "--report", tmp_path / "r.json", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert not left.exists() and json.loads((tmp_path / "r.json").read_text())["job"] == "compress"


# --------------------------------------------------------------------------- the stats job


def test_stats_writes_names_that_are_not_utf8_and_never_over_an_input(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    name = b"caf\xe9.png"  # Latin-1, not UTF-8
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(os.path.join(os.fsencode(src), name))
    report = jobs.stats(src, tmp_path / "s.csv", progress=False)
    assert isinstance(report, jobs.StatsReport) and report.ok
    assert name in (tmp_path / "s.csv").read_bytes()
    os.remove(tmp_path / "s.csv")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(src / "x.png")
    with pytest.raises(jobs.UsageError, match="one of the images it reads"):
        jobs.stats(src, src / "x.png", overwrite=True, progress=False)
    left = tmp_path / ".s.csv.0123456789ab.imgjobs.tmp"
    left.write_text("half")
    jobs.stats(src, tmp_path / "s.csv", progress=False)
    assert not left.exists()


# --------------------------------------------------------------------------- samples


def test_samples_only_ever_show_whole_jpegs_and_a_killed_run_leaves_no_list(tmp_path):
    # Watched while they are written, every JPEG visible under its name is whole (from its
    # start-of-image to its end-of-image marker); a run killed midway lists nothing.
    out = tmp_path / "photos"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", "samples", str(out), "--jpegs", "3000", "--size", "480x360"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    whole: set = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(whole) < 130 and proc.poll() is None:
        for path in set(out.rglob("*.jpg")) - whole:
            data = path.read_bytes()
            assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9", f"{path.name}: {len(data)} bytes, not whole"
            whole.add(path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(whole) >= 130 and not (out / "train.txt").exists()
    with Image.open(min(whole)) as im:
        im.load()
