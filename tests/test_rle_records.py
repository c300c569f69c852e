"""The RLE jobs' records survive a kill, and content stamps see what stat stamps cannot (issue 31, items 2-3).

Named cases beside the model-based test of :mod:`tests.test_rle_ranges` (which kills runs mid-way and edits
inputs at the same size and time among its steps): a real ``kill -9`` of the command, the environment and the
flag that choose content stamps for both compress and decompress, and hostile files in the folder of records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import jobs
import rle
from conftest import ROOT, imgjobs, rewrite
from jobs.errors import UsageError
from jobs.rle_job.journal import PART_HEADER, PARTS, fold, parts, write_part
from jobs.rle_job.manifest import MANIFEST, key, read_records, record

pytestmark = pytest.mark.timeout(120)


def save(path, seed: int, size=(40, 24)) -> None:
    rng = np.random.default_rng(seed)
    rewrite(path, lambda p: Image.fromarray(rng.random(size[::-1]) > 0.5).save(p, format="BMP"))


def source(tmp_path, n: int):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(n):
        save(src / f"{i:04d}.bmp", i)
    return src


def sneaky_edit(path, seed: int) -> None:
    """Other pixels at the same size, the modification time put back (``touch -r``)."""
    st = path.stat()
    save(path, seed)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_first_run_killed_by_sigkill_keeps_the_records_of_its_finished_tasks(tmp_path):
    src, out = source(tmp_path, 400), tmp_path / "out"
    cmd = [sys.executable, "-m", "jobs", "compress", str(src), str(out), "--rows-per-task", "0"]
    proc = subprocess.Popen([*cmd, "--scheduler", "threads", "--workers", "1"], cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(os.listdir(out / PARTS) if (out / PARTS).is_dir() else ()) < 6:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    parts = [n for n in os.listdir(out / PARTS) if not n.startswith(".")]  # not a part being written
    assert len(parts) >= 4 and not (out / MANIFEST).exists()  # no finish ran: only the tasks' records are there
    made = [n for n in os.listdir(out) if not n.startswith(".")]
    report = jobs.compress(src, out, scheduler="threads", progress=False)
    # every output a finished task recorded is trusted; one renamed but not yet recorded is made again
    assert report.counts["skipped"] >= len(parts) and report.counts["skipped"] <= len(made)
    assert report.counts["ok"] + report.counts["skipped"] == 400
    assert not (out / PARTS).exists() and len(read_records(str(out))) == 400
    assert jobs.verify(src, out, progress=False).counts == {"ok": 400}


@pytest.mark.parametrize("job", ["compress", "decompress"])
def test_content_stamps_see_an_edit_at_the_same_size_and_time_from_the_flag_the_config_and_python(tmp_path, job):
    src, rles = source(tmp_path, 3), tmp_path / "rle"
    if job == "decompress":  # one colour: its .rle is as long as one of the other colour
        Image.fromarray(np.zeros((24, 40), dtype=bool)).save(src / "0001.bmp")
    jobs.compress(src, rles, progress=False)
    if job == "compress":
        inp, out, run, edit, made = src, rles, jobs.compress, src / "0001.bmp", rles / "0001.rle"
    else:
        out = tmp_path / "bmp"
        inp, run, edit, made = rles, jobs.decompress, rles / "0001.rle", out / "0001.bmp"
        jobs.decompress(rles, out, progress=False)

    def edit_in_place(seed):
        st = edit.stat()
        if job == "compress":
            save(edit, seed)
        else:  # an image of one colour, the other colour each time: the same size of .rle, other pixels
            white = np.full((24, 40), seed % 2, dtype=np.uint8)
            edit.write_bytes(rle.encode(white))
        assert edit.stat().st_size == st.st_size
        os.utime(edit, ns=(st.st_atime_ns, st.st_mtime_ns))

    edit_in_place(99)
    before = made.read_bytes()
    assert run(inp, out, progress=False).counts == {"skipped": 3}  # stat stamps cannot see it (documented)
    assert made.read_bytes() == before
    # content stamps from the configuration (the environment, as dask reads it): records of stat stamps are
    # not comparable with them, so every output is made again once, saying why; then nothing changed is made
    r = imgjobs(job, inp, out, "--no-progress", env={**os.environ, "DASK_IMGJOBS__STAMPS": "content"})
    assert r.returncode == 0, r.stderr
    assert "recorded with stat stamps, compared with content" in r.stderr
    assert made.read_bytes() != before
    assert run(inp, out, stamps="content", progress=False).counts == {"skipped": 3}
    # another edit at the same size and time: content stamps (the flag) see it, and only it is made again
    edit_in_place(100)
    r = imgjobs(job, inp, out, "--no-progress", "--stamps", "content")
    assert r.returncode == 0, r.stderr
    assert f"{made.name} (its input changed since it was made)" in r.stderr and "1 output(s)" in r.stderr
    assert run(inp, out, stamps="content", progress=False).counts == {"skipped": 3}
    if job == "compress":
        assert jobs.verify(src, out, progress=False).counts == {"ok": 3}
    else:
        assert (rle.read_pixels(made) == (100 % 2)).all()


def test_the_records_folder_is_read_as_hostile(tmp_path, caplog):
    src, out = source(tmp_path, 4), tmp_path / "out"
    jobs.compress(src, out, progress=False)
    # a file where the folder of records goes: refused by name before anything runs
    (out / PARTS).write_bytes(b"not a folder")
    with pytest.raises(UsageError, match=rf"{PARTS}, where imgjobs keeps the records .* is a file, not a directory"):
        jobs.compress(src, out, overwrite=True, progress=False)
    r = imgjobs("compress", src, out, "--no-progress")
    assert r.returncode == 2 and PARTS in r.stderr
    (out / PARTS).unlink()
    # a forged part claiming an edited input's output is current: its stamps do not match, so it is not trusted
    save(src / "0002.bmp", 50)
    (out / PARTS).mkdir()
    forged = b"0002.rle\0" + b"0002.bmp\0" + b"1:1\0" + b"1:1\0\0"
    (out / PARTS / "forged").write_bytes(PART_HEADER + b"0002.rle/\0" + b"0002.rle/\0\0" + forged)
    (out / PARTS / "garbage").write_bytes(b"\x00" * 100)  # not a part: warned about, left as it is
    (out / PARTS / "link").symlink_to(out / MANIFEST)
    report = jobs.compress(src, out, progress=False)
    assert report.counts == {"ok": 1, "skipped": 3}
    assert "garbage is not a record of imgjobs" in caplog.text
    assert "link is a symbolic link, not a record imgjobs wrote" in caplog.text
    assert sorted(os.listdir(out / PARTS)) == ["garbage", "link"]  # not ours: never removed
    assert jobs.verify(src, out, progress=False).counts == {"ok": 4}


def test_of_two_parts_holding_one_output_the_newer_wins_and_each_key_is_kept_once(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for n, stamp in enumerate((b"1:1", b"2:2", b"3:3")):  # three runs killed in turn, each recording a.rle
        recs = [(key(o), record(o, o[:-4] + b".bmp", stamp, b"9:9")) for o in (b"a.rle", b"b%d.rle" % n)]
        write_part(str(out), f"run{n}", recs)
        part = next(p for p in (out / PARTS).iterdir() if p.name.startswith(f"run{n}."))
        os.utime(part, ns=(10**18 + n, 10**18 + n))
    found = parts(str(out))
    assert [p.rank for p in found] == [0, 1, 2]
    assert fold(str(out), "t", None, found)
    records = read_records(str(out))
    assert records["a.rle"] == ("a.bmp", "3:3", "9:9")
    assert sorted(records) == ["a.rle", "b0.rle", "b1.rle", "b2.rle"] and not (out / PARTS).exists()


def test_verbose_logs_one_line_for_a_sweep_of_many_temporaries(tmp_path):
    src, out = source(tmp_path, 3), tmp_path / "out"
    jobs.compress(src, out, progress=False)
    for i in range(40):  # left by a killed run (its token is not this run's)
        (out / f".{i}.rle.0badc0ffee{i:02d}.imgjobs.tmp").write_bytes(b"half")
    (out / "0001.rle").unlink()
    r = imgjobs("-v", "compress", src, out, "--no-progress")
    assert r.returncode == 0, r.stderr
    swept = [line for line in r.stderr.splitlines() if "temporar" in line]
    assert swept == [
        f"INFO jobs.runtime.temporaries: removed 40 temporary file(s) a lost worker or an interrupted run left in {out}"
    ], r.stderr
    assert not [n for n in os.listdir(out) if n.endswith(".imgjobs.tmp")]


def test_a_lock_held_by_a_child_that_outlived_its_run_names_that_child(tmp_path):
    script = (
        "import os, sys, time\n"
        "from jobs.runtime.locks import output_lock\n"
        "output_lock(sys.argv[1]).__enter__()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.close(1), os.close(2)\n"  # the pipes to the test closed: only the lock is held on
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        "print(pid, flush=True)\n"
        "os._exit(0)\n"  # the run ends; its child (forked after the lock was taken) holds it on
    )
    (tmp_path / "out").mkdir()
    r = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    child = int(r.stdout)
    src = source(tmp_path, 1)
    try:
        with pytest.raises(jobs.errors.BusyError, match=rf"has ended, but pid {child} \(.*still holds its lock"):
            jobs.compress(src, tmp_path / "out", progress=False)
    finally:
        os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:  # the kernel lets the lock go as the child exits
        try:
            assert jobs.compress(src, tmp_path / "out", progress=False).ok
            break
        except jobs.errors.BusyError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def one_colour(path, value: int) -> None:
    Image.fromarray(np.full((24, 40), bool(value))).save(path)


@pytest.mark.parametrize("stamps", ["stat", "content"])
@pytest.mark.parametrize("job", ["compress", "decompress"])
def test_outputs_swapped_by_renames_are_not_current(tmp_path, job, stamps):
    """Outputs of one size written in one tick share size and time: the inode in their record tells them
    apart when they are swapped by ``mv`` (a swap keeps inodes), with stat or content stamps."""
    src, rles = tmp_path / "src", tmp_path / "rle"
    src.mkdir()
    one_colour(src / "black.bmp", 0)
    one_colour(src / "white.bmp", 1)
    jobs.compress(src, rles, stamps=stamps, progress=False)
    out, ext = (rles, "rle") if job == "compress" else (tmp_path / "bmp", "bmp")
    run = jobs.compress if job == "compress" else jobs.decompress
    inp = src if job == "compress" else rles
    if job == "decompress":
        jobs.decompress(rles, out, stamps=stamps, progress=False)
    a, b = out / f"black.{ext}", out / f"white.{ext}"
    assert a.stat().st_size == b.stat().st_size
    os.rename(a, out / "t")
    os.rename(b, a)
    os.rename(out / "t", b)
    assert run(inp, out, stamps=stamps, progress=False).counts == {"ok": 2}
    assert run(inp, out, stamps=stamps, progress=False).counts == {"skipped": 2}
    assert jobs.verify(src, rles, progress=False).counts == {"ok": 2}
    if job == "decompress":
        assert (rle.read_pixels(a) == 0).all() and (rle.read_pixels(b) == 1).all()


def test_an_output_made_with_another_threshold_is_made_again(tmp_path, caplog):
    src, out = source(tmp_path, 3), tmp_path / "out"
    jobs.compress(src, out, threshold=128, progress=False)
    report = jobs.compress(src, out, threshold=200, progress=False)
    assert report.counts == {"ok": 3} and "made with threshold=128, this run with threshold=200" in caplog.text
    assert jobs.verify(src, out, threshold=200, progress=False).counts == {"ok": 3}
    assert jobs.compress(src, out, progress=False).counts == {"ok": 3}  # back to dithering: made again
    assert jobs.verify(src, out, progress=False).counts == {"ok": 3}
    assert jobs.compress(src, out, progress=False).counts == {"skipped": 3}


def test_files_named_like_temporaries_that_no_run_wrote_are_never_removed(tmp_path):
    src, out = source(tmp_path, 2), tmp_path / "out"
    jobs.compress(src, out, progress=False)
    mine = [".thesis.pdf.2024-1.imgjobs.tmp", ".a.imgjobs.tmp", ".notes.0123456789AB.imgjobs.tmp"]
    for name in mine:
        (out / name).write_text("mine")
    (tmp_path / "precious").write_text("mine")
    link = out / ".0000.rle.0123456789ab-1.imgjobs.tmp"  # named as ours, but a link: never ours
    link.symlink_to(tmp_path / "precious")
    (src / "0000.bmp").touch()
    for _ in range(2):  # a run that makes something, then one with nothing to do
        assert jobs.compress(src, out, progress=False).ok
        assert all((out / name).read_text() == "mine" for name in mine) and link.is_symlink()
    assert (tmp_path / "precious").read_text() == "mine"


def test_a_manifest_that_cannot_be_written_is_named_and_the_records_wait_for_the_next_run(tmp_path, monkeypatch):
    src, out = source(tmp_path, 3), tmp_path / "out"
    real = jobs.rle_job.journal.write_manifest

    def denied(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(jobs.rle_job.journal, "write_manifest", denied)
    with pytest.raises(OSError, match=rf"cannot record what was made in .*{MANIFEST} .* the outputs are in place"):
        jobs.compress(src, out, progress=False)
    # the next run cannot fold them in either: it stops before any work, exit 2, saying what to do
    with pytest.raises(UsageError, match="make it writable, then run again"):
        jobs.compress(src, out, progress=False)
    monkeypatch.setattr(jobs.rle_job.journal, "write_manifest", real)
    assert jobs.compress(src, out, progress=False).counts == {"skipped": 3}  # the records kept, now folded in


def test_a_lock_file_that_cannot_be_opened_is_a_usage_error(tmp_path, monkeypatch):
    src, out = source(tmp_path, 1), tmp_path / "out"
    real = os.open

    def denied(path, *args, **kwargs):
        if str(path).endswith(".imgjobs.lock"):
            raise PermissionError(1, "Operation not permitted")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(UsageError, match=r"cannot open the lock file .* make it writable, or write elsewhere"):
        jobs.compress(src, out, progress=False)


def test_a_lock_taken_by_a_process_that_never_said_who_it_is_names_that_process(tmp_path):
    (tmp_path / "out").mkdir()
    lock = tmp_path / "out" / ".imgjobs.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True); time.sleep(60)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline()
        with pytest.raises(jobs.errors.BusyError, match=rf"pid {holder.pid} \(.*\) holds the lock of .*stop it"):
            jobs.compress(source(tmp_path, 1), tmp_path / "out", progress=False)
    finally:
        holder.kill()
        holder.wait()


def test_a_file_of_yours_named_like_the_lock_is_refused_not_overwritten(tmp_path):
    src, out = source(tmp_path, 1), tmp_path / "out"
    out.mkdir()
    (out / ".imgjobs.lock").write_text("my notes\n")
    with pytest.raises(UsageError, match=r"\.imgjobs\.lock, where imgjobs keeps the lock of .* imgjobs did not write"):
        jobs.compress(src, out, progress=False)
    assert (out / ".imgjobs.lock").read_text() == "my notes\n"
    (out / ".imgjobs.lock").write_text("")  # as a run killed between its lock and its line leaves it
    assert jobs.compress(src, out, progress=False).ok
