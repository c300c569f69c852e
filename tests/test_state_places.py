"""Every state place of every job, checked before any work (:mod:`jobs.runtime.places`).

A job keeps state under fixed names: the RLE jobs' manifest and its format-2
predecessor, a resize batch's sidecar, labels, work folder and what it holds,
the stats job's CSV, and every output directory's lock.  Each is a file or a
directory imgjobs made, or nothing; a directory where a file belongs, a file
where a directory belongs, a symbolic link or a FIFO is refused by name while
the job plans: exit 2, nothing written, the link's target untouched.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from PIL import Image

import jobs
from jobs.errors import UsageError
from jobs.runtime.locks import LOCK_NAME, output_lock
from tests.conftest import imgjobs

PARTIAL = ".b.{}.imgjobs-partial"
# (job, output, the state place inside out/, what imgjobs makes there)
PLACES = [
    ("compress", "out", ".imgjobs-stamps", "file"),
    ("compress", "out", ".imgjobs-stamps.json", "file"),
    ("compress", "out", ".imgjobs.lock", "file"),
    ("decompress", "out", ".imgjobs-stamps", "file"),
    ("resize", "out/b.npy", "b.npy", "file"),
    ("resize", "out/b.npy", "b.npy.json", "file"),
    ("resize", "out/b.npy", "b.labels.npy", "file"),
    ("resize", "out/b.npy", PARTIAL.format("npy"), "directory"),
    ("resize", "out/b.npy", PARTIAL.format("npy") + "/plan.json", "file"),
    ("resize", "out/b.npy", PARTIAL.format("npy") + "/done", "directory"),
    ("resize", "out/b.npy", PARTIAL.format("npy") + "/batch.npy", "file"),
    ("resize", "out/b.npy", ".imgjobs.lock", "file"),
    ("resize", "out/b.wds", "b.wds", "directory"),
    ("resize", "out/b.wds", "b.wds.json", "file"),
    ("resize", "out/b.wds", PARTIAL.format("wds"), "directory"),
    ("resize", "out/b.wds", PARTIAL.format("wds") + "/batch.wds", "directory"),
    ("stats", "out/s.csv", "s.csv", "file"),
    ("stats", "out/s.csv", ".imgjobs.lock", "file"),
]
WRONG = {"file": ("directory", "link", "fifo"), "directory": ("file", "link", "fifo")}
SAID = {"directory": "is a directory", "file": "is a file", "link": "is a symbolic link", "fifo": "is a FIFO"}
CASES = [(*p, shape) for p in PLACES for shape in WRONG[p[3]]]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """1-bit BMPs, .rle files of them, JPEGs and their labelled list: made once for every case."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(5)
    for name in ("bmp", "jpg"):
        (d / name).mkdir()
    for i in range(2):
        Image.fromarray(rng.random((12, 20)) > 0.5).save(d / "bmp" / f"p{i}.bmp")
        Image.fromarray(rng.integers(0, 255, (16, 24, 3), dtype=np.uint8)).save(d / "jpg" / f"{i}.jpg")
    (d / "jpg" / "list.txt").write_text("0.jpg 0\n1.jpg 1\n")
    jobs.compress(d / "bmp", d / "rle", progress=False, scheduler="threads", workers=1)
    return d


def call(job, inputs, out, compute=True):
    """The job's function on the inputs, into ``out``."""
    kw = dict(progress=False, scheduler="threads", workers=1, compute=compute)
    if job == "compress":
        return jobs.compress(inputs / "bmp", out, **kw)
    if job == "decompress":
        return jobs.decompress(inputs / "rle", out, **kw)
    if job == "resize":
        return jobs.resize(inputs / "jpg" / "list.txt", out, size="8x8", **kw)
    return jobs.stats(inputs / "jpg", out, **kw)


def put(place, shape, precious) -> None:
    """Something imgjobs did not make at ``place``: a link goes to ``precious`` (a file, or a folder with one)."""
    place.parent.mkdir(parents=True, exist_ok=True)
    if shape == "directory":
        place.mkdir()
        (place / "notes.txt").write_text("mine")
    elif shape == "file":
        place.write_text("mine")
    elif shape == "fifo":
        os.mkfifo(place)
    else:
        place.symlink_to(precious)


def snapshot(root) -> dict:
    """Every entry under ``root``: its kind, size, time (a file's: a run's lock, made and gone, changes its
    folder's) and what a link points to."""
    found = {}
    for where, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(where, name)
            st = os.lstat(p)
            when = None if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns
            found[p] = (st.st_mode, st.st_size, when, os.readlink(p) if os.path.islink(p) else None)
    return found


@pytest.mark.parametrize(("job", "out", "name", "kind", "shape"), CASES, ids=lambda v: str(v).replace("/", "|"))
def test_a_state_place_holding_what_imgjobs_did_not_make_is_refused_by_name_before_any_work(
    tmp_path, inputs, job, out, name, kind, shape
):
    precious = tmp_path / "precious"
    if kind == "directory":
        precious.mkdir()
        (precious / "keep.txt").write_text("keep")
    else:
        precious.write_text("keep")
    (tmp_path / "out").mkdir()
    place = tmp_path / "out" / name
    put(place, shape, precious)
    before = snapshot(tmp_path)
    # compute=False: a graph computed later is refused as early (its lock, too, while it is planned)
    with pytest.raises(UsageError) as e:
        call(job, inputs, tmp_path / out, compute=False)
    said = str(e.value)
    assert said.startswith(f"{place}, where imgjobs keeps ") and SAID[shape] in said, said
    assert f"not a {kind} it made: move it away" in said, said
    assert snapshot(tmp_path) == before  # nothing written, nothing removed, the link's target untouched


@pytest.mark.parametrize(
    ("args", "name", "shape"),
    [
        (("compress", "{in}/bmp", "{out}"), ".imgjobs-stamps.json", "directory"),  # issue 31: Errno 21 after the work
        (("resize", "{in}/jpg/list.txt", "--out", "{out}/b.wds", "--size", "8x8"), "b.wds.json", "fifo"),
        (("resize", "{in}/jpg/list.txt", "--out", "{out}/b.npy", "--size", "8x8"), PARTIAL.format("npy"), "link"),
        (("stats", "{in}/jpg", "{out}/s.csv", "--overwrite"), ".imgjobs.lock", "link"),
    ],
    ids=["legacy-manifest-directory", "sidecar-fifo", "work-folder-link", "lock-link"],
)
def test_the_command_exits_2_naming_the_place_and_a_rerun_says_the_same(tmp_path, inputs, args, name, shape):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    place = tmp_path / "out" / name
    put(place, shape, tmp_path / "elsewhere")
    before = snapshot(tmp_path)
    argv = [a.format(**{"in": inputs, "out": tmp_path / "out"}) for a in args]
    for _ in range(2):  # a rerun meets the same refusal, not another error
        r = imgjobs(*argv, timeout=60)
        assert r.returncode == 2, r.stderr
        assert f"{place}, where imgjobs keeps " in r.stderr and "move it away" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and "Errno" not in r.stderr, r.stderr
        assert snapshot(tmp_path) == before


@pytest.mark.timeout(5)  # a followed link makes the lock retry for ever: a mutant fails here, not in minutes
@pytest.mark.parametrize("shape", ["link", "fifo", "directory"])
def test_the_lock_refuses_a_place_that_changed_after_the_check_and_never_follows_a_link(tmp_path, shape):
    (tmp_path / "out").mkdir()
    precious = tmp_path / "precious"
    precious.write_text("keep")
    lock = tmp_path / "out" / LOCK_NAME
    put(lock, shape, precious)  # as if it appeared between the job's check and its lock
    with pytest.raises(UsageError, match=f"{lock}, where imgjobs keeps the lock of .*out, is {SAID[shape][3:]}"):
        with output_lock(str(tmp_path / "out")):
            pass
    assert precious.read_text() == "keep" and os.path.lexists(lock)
