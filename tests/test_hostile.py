"""Hostile and unlucky inputs: every case fails by name with a reason, the rest completes, nothing is lost.

Each file here is built by the test.  Every run goes through the ``imgjobs`` command
in a subprocess, as a user would run it: the assertions are the exit status, the
named error, no traceback, the good files' outputs, and no partial output or
temporary left behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rle
from conftest import ROOT, blobs, imgjobs, pillow_bits, start_imgjobs
from jobs.resize_job.decode import load_rgb
from jobs.rle_job.manifest import LEGACY, MANIFEST
from jobs.runtime.locks import OutputLock


def hidden(d) -> list[str]:
    """Hidden files left in ``d`` (temporaries, locks, work folders), not the manifest of the outputs."""
    return sorted(p.name for p in Path(d).rglob(".*") if p.name != MANIFEST)


def failed_lines(stderr: str) -> dict:
    out = {}
    for line in stderr.splitlines():
        if line.startswith("FAILED "):
            path, _, why = line[len("FAILED ") :].partition(": ")
            out[os.path.basename(path)] = why
    return out


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_hostile(d: Path) -> dict:
    """The issue's cases, built byte by byte; returns name -> what the failure must say."""
    d.mkdir(parents=True, exist_ok=True)
    info = 40, -32, 32, 1, 1, 0, 128, 0, 0, 0, 0  # width -32
    (d / "negative-width.bmp").write_bytes(
        b"BM"
        + struct.pack("<IHHI", 190, 0, 0, 62)
        + struct.pack("<IiiHHIIiiII", *info)
        + bytes([0] * 4 + [255] * 3 + [0])
        + bytes(128)
    )
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0)
    (d / "huge-1bit.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(100)))
        + _png_chunk(b"IEND", b"")
    )
    rle8 = struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 8, 1, 10, 0, 0, 256, 0)
    (d / "rle8-huge.bmp").write_bytes(b"BM" + struct.pack("<IHHI", 1088, 0, 0, 1078) + rle8 + bytes(1024) + bytes(10))
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "JPEG")
    jpeg = bytearray(buf.getvalue())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") * 2
    (d / "huge-claim.jpg").write_bytes(bytes(jpeg))
    ifd = (
        b"II*\x00"
        + struct.pack("<IH", 8, 2)
        + struct.pack("<HHIhH", 0x0100, 8, 1, -5, 0)  # ImageWidth as a signed short
        + struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)  # orientation 6
        + struct.pack("<I", 0)
    )
    Image.new("RGB", (40, 30), (200, 10, 10)).save(d / "bad-exif.jpg", exif=b"Exif\x00\x00" + ifd)
    (d / "not-an-image.png").write_bytes(b"\x89PNG\r\n\x1a\n this is no PNG")
    os.mkfifo(d / "pipe.jpg")
    os.symlink("loop-b.png", d / "loop-a.png")
    os.symlink("loop-a.png", d / "loop-b.png")
    return {
        "negative-width.bmp": "more than the 178,956,970 pixels",
        "huge-1bit.png": "400,000,000 pixels",
        "rle8-huge.bmp": "900,000,000 pixels",
        "huge-claim.jpg": "900,000,000 pixels",
        "not-an-image.png": "not an image",
        "pipe.jpg": "not a regular file (a FIFO)",
        "loop-a.png": "Too many levels of symbolic links",
        "loop-b.png": "Too many levels of symbolic links",
    }


@pytest.fixture
def hostile(tmp_path, rng):
    d = tmp_path / "in"
    expect = write_hostile(d)
    good = {}
    for i in range(3):
        px = blobs(rng, 40, 70)
        Image.fromarray(px.astype(bool)).save(d / f"good{i}.bmp")
        good[f"good{i}.bmp"] = px
    return d, expect, good


def test_compress_a_hostile_directory(hostile, tmp_path):
    d, expect, good = hostile
    r = imgjobs("compress", d, tmp_path / "out")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    failed = failed_lines(r.stderr)
    for name, words in expect.items():
        if name.endswith(".jpg") and name != "huge-claim.jpg":
            continue
        assert words in failed[name], (name, failed.get(name))
    assert "bad-exif.jpg" not in failed  # compress does not apply EXIF orientation
    for name, px in good.items():
        assert (tmp_path / "out" / name.replace(".bmp", ".rle")).read_bytes() == rle.encode(px)
    assert hidden(tmp_path / "out") == []


def test_resize_a_hostile_list(hostile, tmp_path):
    names = ["good0.bmp", "huge-1bit.png", "pipe.jpg", "bad-exif.jpg", "huge-claim.jpg", "loop-a.png", "good1.bmp"]
    (tmp_path / "list.txt").write_text("".join(f"in/{n}\n" for n in names))
    r = imgjobs("resize", tmp_path / "list.txt", "--out", tmp_path / "b.npy", "--size", "8x8", timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    failed = failed_lines(r.stderr)
    assert set(failed) == set(names) - {"good0.bmp", "good1.bmp", "bad-exif.jpg"}
    assert "not a regular file (a FIFO)" in failed["pipe.jpg"]  # reported, not waited on
    batch = np.load(tmp_path / "b.npy")
    for i in (1, 2, 4, 5):  # the failed images' slots stay zero
        np.testing.assert_array_equal(batch[i], np.zeros((8, 8, 3), np.uint8), names[i])
    for i in (0, 6):  # the good ones hold their own pixels
        np.testing.assert_array_equal(batch[i], load_rgb(tmp_path / "in" / names[i], (8, 8)), names[i])
    # a malformed EXIF tag beside a good orientation: only the orientation is read, so it decodes
    assert np.abs(batch[3].astype(int) - (200, 10, 10)).max() < 8
    side = json.loads((tmp_path / "b.npy.json").read_text())
    assert [f["index"] for f in side["failed"]] == [1, 2, 4, 5]


def test_bmp_with_pixel_offset_zero_compresses_and_verifies_as_pillow_sees_it(tmp_path):
    info = struct.pack("<IiiHHIIiiII", 40, 16, 16, 1, 1, 0, 64, 0, 0, 2, 0)
    data = b"BM" + struct.pack("<IHHI", 126, 0, 0, 0) + info + bytes([0, 0, 0, 0, 255, 255, 255, 0]) + b"\xff" * 64
    (tmp_path / "oz.bmp").write_bytes(data)
    assert imgjobs("compress", tmp_path / "oz.bmp", tmp_path / "oz.rle").returncode == 0
    assert (tmp_path / "oz.rle").read_bytes() == rle.encode(pillow_bits(tmp_path / "oz.bmp"))
    assert imgjobs("verify", tmp_path / "oz.bmp", tmp_path / "oz.rle").returncode == 0


def test_flipped_header_bytes_of_gif_png_and_jp2_fail_by_name(tmp_path, rng):
    px = (blobs(rng, 30, 40) * 255).astype(np.uint8)
    d = tmp_path / "flips"
    d.mkdir()
    made = 0
    for ext in ("gif", "png", "jp2", "tif"):
        buf = io.BytesIO()
        try:
            Image.fromarray(px).save(buf, format={"jp2": "JPEG2000", "tif": "TIFF"}.get(ext, ext.upper()))
        except (KeyError, OSError):  # a Pillow built without that codec
            continue
        good = buf.getvalue()
        for pos in range(2, min(60, len(good))):
            bad = bytearray(good)
            bad[pos] ^= 0xFF
            (d / f"{ext}{pos:03d}.{ext}").write_bytes(bytes(bad))
            made += 1
    r = imgjobs("compress", d, tmp_path / "out")
    assert made > 100 and "Traceback" not in r.stderr, r.stderr[-2000:]
    failed = failed_lines(r.stderr)
    assert failed and r.returncode == 1  # flipped header bytes: some files fail, by name
    done = {p.stem for p in (tmp_path / "out").glob("*.rle")}
    assert len(failed) + len(done) == made  # every file either compressed or failed by name
    assert hidden(tmp_path / "out") == []


def test_outputs_never_overwrite_inputs(tmp_path, rng):
    px = blobs(rng, 20, 30)
    Image.fromarray(px.astype(bool)).save(tmp_path / "a.bmp")
    before = (tmp_path / "a.bmp").read_bytes()
    r = imgjobs("compress", tmp_path / "a.bmp", tmp_path / "a.bmp", "--overwrite")
    assert r.returncode == 2 and "is the input itself" in r.stderr
    scans = tmp_path / "scans"
    scans.mkdir()
    Image.fromarray(px.astype(bool)).save(scans / "p.bmp")
    assert imgjobs("compress", scans, scans).returncode == 0  # .rle beside the images: nothing replaced
    r = imgjobs("decompress", scans, scans, "--overwrite")
    assert r.returncode == 2 and "source directory" in r.stderr
    assert (scans / "p.bmp").read_bytes() == (tmp_path / "a.bmp").read_bytes() == before


def test_resize_sidecar_never_replaces_an_input_or_a_file_without_overwrite(tmp_path, rng):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(d / f"{i}.jpg")
    (tmp_path / "list.txt").write_text("imgs/0.jpg\nimgs/1.jpg\nimgs/2.jpg\n")
    cfg = tmp_path / "x.npy.json"  # a config whose name is the sidecar of x.npy
    cfg.write_text(json.dumps({"data": {"train_filelist": "list.txt"}}))
    r = imgjobs("resize", cfg, "--out", tmp_path / "x.npy", "--overwrite")
    assert r.returncode == 2 and "is one of the job's inputs" in r.stderr
    assert json.loads(cfg.read_text()) == {"data": {"train_filelist": "list.txt"}}
    (tmp_path / "ilsvrc.json").write_text(json.dumps({"data": {"train_filelist": "list.txt"}}))
    assert imgjobs("resize", tmp_path / "ilsvrc.json", "--out", tmp_path / "ilsvrc.npy").returncode == 0
    assert json.loads((tmp_path / "ilsvrc.json").read_text()) == {"data": {"train_filelist": "list.txt"}}
    side = tmp_path / "other.npy.json"
    side.write_text("my notes")
    r = imgjobs("resize", tmp_path / "list.txt", "--out", tmp_path / "other.npy")
    assert r.returncode == 2 and "other.npy.json (its sidecar) exists" in r.stderr
    assert side.read_text() == "my notes" and not (tmp_path / "other.npy").exists()
    assert imgjobs("resize", tmp_path / "list.txt", "--out", tmp_path / "other.npy", "--overwrite").returncode == 0
    assert json.loads(side.read_text())["shape"][0] == 3
    assert hidden(tmp_path) == []


def test_odd_output_paths_are_refused_before_anything_runs(tmp_path, rng):
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "0.jpg")
    (tmp_path / "list.txt").write_text("0.jpg\n")
    (tmp_path / "dir.npy").mkdir()
    r = imgjobs("resize", tmp_path / "list.txt", "--out", tmp_path / "dir.npy", "--overwrite")
    assert r.returncode == 2 and "is a directory" in r.stderr and "Traceback" not in r.stderr
    r = imgjobs(
        "resize", tmp_path / "list.txt", "--out", tmp_path / "b.npy", "--performance-report", tmp_path / "no" / "r.html"
    )
    assert r.returncode == 2 and "performance report" in r.stderr and not (tmp_path / "b.npy").exists()
    r = imgjobs("compress", tmp_path / "0.jpg", tmp_path / "o.rle", "--performance-report", tmp_path / "dir.npy")
    assert r.returncode == 2 and "is a directory" in r.stderr and not (tmp_path / "o.rle").exists()


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_names_the_path_and_leaves_nothing(tmp_path, rng):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(d / f"{i:02d}.jpg")
    r = imgjobs("resize", d, "--out", tmp_path / "b.npy", "--size", "64x64", preexec=_file_size_limit(200_000))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "File too large" in r.stderr and ".b.npy." in r.stderr  # the batch's path
    assert not (tmp_path / "b.npy").exists()
    assert hidden(tmp_path) == [".b.npy.imgjobs-partial"] and "run the same command again" in r.stderr
    r = imgjobs("resize", d, "--out", tmp_path / "b.npy", "--size", "64x64")  # room again: it finishes
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "b.npy").shape == (40, 64, 64, 3) and hidden(tmp_path) == []
    src = tmp_path / "bw"
    src.mkdir()
    for i in range(5):
        Image.fromarray(blobs(rng, 200 + 100 * i, 300).astype(bool)).save(src / f"{i}.bmp")
    r = imgjobs("compress", src, tmp_path / "rle", preexec=_file_size_limit(3000))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    failed = failed_lines(r.stderr)
    assert failed and all("cannot write" in why and "File too large" in why for why in failed.values())
    assert hidden(tmp_path / "rle") == []
    for p in (tmp_path / "rle").glob("*.rle"):  # what was written is complete
        rle.decode(p.read_bytes())


def test_a_second_run_into_the_same_place_is_refused_and_harms_nothing(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        Image.fromarray(blobs(rng, 30, 40).astype(bool)).save(src / f"{i}.bmp")
    out = tmp_path / "out"
    out.mkdir()
    live = out / ".0.rle.abcdef123456-aaaaaa.imgjobs.tmp"  # the other run's temporary, being written
    live.write_bytes(b"half")
    with OutputLock(str(out / ".imgjobs.lock"), str(out)):
        r = imgjobs("compress", src, out, "--overwrite")
        assert r.returncode == 2 and "another imgjobs run (pid" in r.stderr and "Traceback" not in r.stderr
        assert live.read_bytes() == b"half"
        r = imgjobs("resize", src, "--out", out / "b.npy", "--size", "8x8")
        assert r.returncode == 2 and "another imgjobs run (pid" in r.stderr  # one lock per directory
        assert not (out / "b.npy").exists() and not (out / ".b.npy.imgjobs-partial").exists()
        r = imgjobs("resize", src, "--out", tmp_path / "b.npy", "--size", "8x8")
        assert r.returncode == 0, r.stderr  # another directory: another lock
    r = imgjobs("compress", src, out)
    assert r.returncode == 0 and not live.exists()  # the other run is gone: its leftover is swept
    assert sorted(p.name for p in out.glob("*.rle")) == [f"{i}.rle" for i in range(4)]


def test_ctrl_c_of_a_local_cluster_run_is_one_clean_message(tmp_path, rng):
    src = tmp_path / "many"
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_samples import make_small

    make_small(str(src), 30000)
    args = ["compress", src, tmp_path / "out", "--scheduler", "local", "--workers", "2", "--dashboard-address", ":0"]
    proc = start_imgjobs(*args, "--no-progress")
    deadline = time.monotonic() + 60
    while not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole foreground group, workers too
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and len(err.splitlines()) <= 4, err
    assert hidden(tmp_path / "out") == []
    for p in (tmp_path / "out").glob("*.rle"):
        rle.decode(p.read_bytes())  # every output there is complete


def test_a_writer_killed_mid_write_leaves_nothing_under_the_final_name(tmp_path):
    """SIGKILL in the middle of writing an output: the old file is whole, no new one half-written."""
    code = (
        "import os, signal, sys\n"
        "from jobs.runtime.durable import write_atomic\n"
        "def parts():\n"
        "    yield b'new data, first half'\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "    yield b'second half'\n"
        "write_atomic(sys.argv[1], parts(), 'abcdef123456')\n"
        "write_atomic(sys.argv[2], parts(), 'abcdef123456')\n"
    )
    old = tmp_path / "old.rle"
    old.write_bytes(b"the old output, whole")
    r = subprocess.run([sys.executable, "-c", code, str(old), str(tmp_path / "new.rle")], cwd=ROOT, timeout=60)
    assert r.returncode == -signal.SIGKILL
    assert old.read_bytes() == b"the old output, whole"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "old.rle"]
    assert (
        len(leftovers) == 1
        and leftovers[0].startswith(".old.rle.abcdef123456")
        and leftovers[0].endswith(".imgjobs.tmp")
    )  # a hidden temporary the next run sweeps; never a name a user reads


@pytest.mark.parametrize("where", ["gc callback", "__del__"])
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_that_lands_where_python_ignores_exceptions_still_stops_the_run(where, sig, status):
    # seen in CI: Ctrl-C of a Slurm run landed in distributed's garbage-collector callback, Python
    # printed "Exception ignored" and the run went on to its end (it ignored the Ctrl-C)
    script = textwrap.dedent(
        f"""
        import gc, os, sys, time
        from jobs.cli import signals as cli

        def land_here():  # the signal's handler runs inside this, where Python swallows exceptions
            os.kill(os.getpid(), {int(sig)})
            for _ in range(10_000):
                pass

        class Dying:
            def __del__(self):
                land_here()

        def callback(phase, info):
            if phase == "start" and not fired:
                fired.append(1)
                land_here()

        fired = []
        cli.handle_termination()
        try:
            if {where!r} == "gc callback":
                gc.callbacks.append(callback)
                gc.collect()
            else:
                Dying()
            for _ in range(100):  # 5 s: what the run would have gone on doing (a resent signal stops it in ms)
                time.sleep(0.05)
            print("went on")
        except KeyboardInterrupt as e:
            print("stopped", getattr(e, "status", 130))
        """
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["stopped", str(status)], (r.stdout, r.stderr)
    assert "Exception ignored" not in r.stderr, r.stderr


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_of_a_local_run_clean_up_and_exit_by_convention(tmp_path, sig, status):
    """Outside --cluster too: the signal's exit status, the work kept for a rerun, nothing half-written."""
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / "list.txt").write_text("a.jpg\n" * 20_000)  # long enough to be stopped mid-run anywhere
    out = tmp_path / "b.npy"
    proc = start_imgjobs("resize", tmp_path / "list.txt", "--out", out, "--size", "8x8", "--batch-size", "1",
                         "--scheduler", "threads")  # fmt: skip
    done = tmp_path / ".b.npy.imgjobs-partial" / "done"
    deadline = time.monotonic() + 120
    while not (done.is_dir() and any(done.iterdir())):  # an event, not a sleep: the first slice is recorded
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, sig)
    _, err = proc.communicate()
    assert proc.returncode == status and "stopped by a signal" in err and "Traceback" not in err, err
    assert not out.exists() and [p.name for p in tmp_path.glob(".b.npy*")] == [".b.npy.imgjobs-partial"]
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.imgjobs.tmp"))


# --------------------------------------------------------------------------- the lock file and the manifest


@pytest.mark.parametrize("shape", ["link", "fifo", "directory"])
def test_a_lock_file_that_is_not_a_plain_file_is_refused_and_never_followed(tmp_path, rng, shape):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.fromarray(blobs(rng, 20, 30).astype(bool)).save(src / "a.bmp")
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    lock = out / ".imgjobs.lock"
    {"link": lambda: lock.symlink_to(precious), "fifo": lambda: os.mkfifo(lock), "directory": lock.mkdir}[shape]()
    r = imgjobs("compress", src, out, timeout=15)
    assert r.returncode == 2, r.stderr
    assert f"{lock}, where imgjobs keeps the lock of" in r.stderr and "move it away" in r.stderr
    assert precious.read_text() == "mine"  # a link is never followed: what it points to is untouched
    assert os.path.lexists(lock) and not (out / "a.rle").exists()  # nothing removed, nothing made


@pytest.mark.parametrize("name", [MANIFEST, LEGACY])
def test_a_huge_manifest_is_not_read(tmp_path, rng, caplog, name):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    Image.fromarray(blobs(rng, 20, 30).astype(bool)).save(src / "a.bmp")
    out.mkdir()
    with open(out / name, "wb") as f:
        f.truncate(100 << 30)  # 100 GiB, sparse: read whole, it would be a MemoryError on every run
    import jobs

    assert jobs.compress(src, out, progress=False).counts == {"ok": 1}
    assert "is unreadable (over" in caplog.text


@pytest.mark.timeout(120)
def test_a_run_killed_with_a_performance_report_leaves_no_process_holding_its_output(tmp_path):
    # issue 31, item 1: Dask's resource tracker, forked, inherited the output's lock and slept for ever
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_samples import make_small

    src, out = tmp_path / "src", tmp_path / "out"
    make_small(str(src), 2000)
    args = ["compress", src, out, "--scheduler", "threads", "--rows-per-task", "0", "--no-progress"]
    proc = start_imgjobs(*args, "--performance-report", tmp_path / "r.html")
    deadline = time.monotonic() + 60
    while not (out.is_dir() and any(p.suffix == ".rle" for p in out.iterdir())):  # tasks are running
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert kids, "no resource tracker was started"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10  # they go within a second or two, even on a loaded machine
    try:
        while any(os.path.exists(f"/proc/{k}") for k in kids):  # they read the end of their pipe and go
            assert time.monotonic() < deadline, f"processes of the killed run still alive: {kids}"
            time.sleep(0.1)
    finally:  # a tracker that failed this test (a forked one sleeps for ever) does not outlive it
        for k in kids:
            with contextlib.suppress(OSError):
                os.kill(int(k), signal.SIGKILL)
    r = imgjobs(*args, timeout=60)
    assert r.returncode == 0, r.stderr  # not "another imgjobs run (pid ...) is writing into ..."
