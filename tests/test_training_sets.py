"""Training sets people use: fits, xarray, WebDataset shards, the same pixels at inference, library versions."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import tarfile
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

import jobs
from conftest import imgjobs, read_shards, start_imgjobs
from jobs.errors import UsageError
from jobs.resize_job.decode import load_rgb
from jobs.resize_job.geometry import fit_geometry
from jobs.resize_job.options import ResizeOptions, parse_fill
from rle import ImageError

FITS = ("stretch", "crop", "pad")
METHODS = ("area", "exact", "draft")


def photo(rng, w, h):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), (x * y) % 251], -1)
    return np.clip(base + rng.integers(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def shapes(tmp_path, rng):
    """Wide, tall, square and EXIF-rotated JPEGs, a greyscale one and a PNG, with a labelled list."""
    d = tmp_path / "imgs"
    d.mkdir()
    names = []
    for i, (w, h, orientation) in enumerate(
        [(96, 48, 1), (40, 90, 1), (64, 64, 1), (90, 50, 6), (50, 80, 8), (70, 40, 3), (44, 66, 5), (80, 36, 7)]
    ):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(photo(rng, w, h)).save(d / f"{i}.jpg", quality=92, exif=exif.tobytes())
        names.append(f"{i}.jpg")
    Image.fromarray(photo(rng, 70, 30)).convert("L").save(d / "grey.jpg", quality=92)
    Image.fromarray(photo(rng, 30, 70)).save(d / "p.png")
    names += ["grey.jpg", "p.png"]
    (tmp_path / "list.txt").write_text("".join(f"imgs/{n}\t{'cat' if k % 2 else 'dog'}\n" for k, n in enumerate(names)))
    return tmp_path, names


def upright(path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


# --------------------------------------------------------------------------- fits


@given(
    w=st.integers(1, 5000), h=st.integers(1, 5000), tw=st.integers(1, 1000), th=st.integers(1, 1000),
    fit=st.sampled_from(FITS),
)  # fmt: skip
def test_fit_geometry_keeps_the_aspect_and_the_centre(w, h, tw, th, fit):
    (x0, y0, x1, y1), (iw, ih), (ax, ay) = fit_geometry((w, h), (tw, th), fit)
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert 1 <= iw <= tw and 1 <= ih <= th and ax + iw <= tw and ay + ih <= th
    if fit == "stretch":
        assert ((x0, y0, x1, y1), (iw, ih), (ax, ay)) == ((0, 0, w, h), (tw, th), (0, 0))
    elif fit == "crop":  # the whole output, from a centred region of its shape (one pixel of rounding)
        assert (iw, ih) == (tw, th) and (ax, ay) == (0, 0)
        assert x1 - x0 == w or y1 - y0 == h  # one side whole
        assert abs(x0 - (w - x1)) <= 1 and abs(y0 - (h - y1)) <= 1
        assert abs((x1 - x0) * th - (y1 - y0) * tw) <= max(tw, th)  # aspect within a pixel
    else:  # pad: the whole image, its aspect kept, centred, one side filling the output
        assert (x0, y0, x1, y1) == (0, 0, w, h)
        assert iw == tw or ih == th
        assert abs(ax - (tw - iw - ax)) <= 1 and abs(ay - (th - ih - ay)) <= 1
        assert abs(iw * h - ih * w) <= max(w, h)


@pytest.mark.parametrize("fit", FITS)
@pytest.mark.parametrize("method", ["area", "exact"])
def test_each_fit_equals_a_per_image_reference_exif_included(shapes, fit, method):
    import cv2

    base, names = shapes
    size = (24, 20)  # under a quarter of every image: every method decodes in full
    fill = (200, 10, 90)
    for name in names:
        path = base / "imgs" / name
        im = upright(path)
        box, inner, (ax, ay) = fit_geometry(im.size, size, fit)
        if method == "exact":
            small = np.asarray(im.resize(inner, Image.Resampling.BICUBIC, box=box))
        else:
            small = cv2.resize(np.asarray(im)[box[1] : box[3], box[0] : box[2]], inner, interpolation=cv2.INTER_AREA)
        got = load_rgb(path, size, method, fit=fit, pad_fill=fill)
        assert got.shape == (20, 24, 3), name
        inside = got[ay : ay + inner[1], ax : ax + inner[0]].astype(int)
        assert np.abs(inside - small).max() <= 1, (name, fit)  # OpenCV's and Pillow's decoders may round apart
        border = np.ones(got.shape[:2], bool)
        border[ay : ay + inner[1], ax : ax + inner[0]] = False
        assert (got[border] == fill).all(), name  # pad: exactly the fill around; other fits: no border
        assert border.any() == (fit == "pad" and inner != size)


def fine_texture(w, h, seed):
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (h // 2 + 1, w // 2 + 1, 3))
    return np.kron(cells, np.ones((2, 2, 1)))[:h, :w].astype(np.uint8)


@pytest.mark.parametrize("fit", FITS)
def test_every_fit_holds_the_quality_floor_on_fine_texture(tmp_path, fit):
    """The floor: no image under 28 dB against a full decode of the same geometry resized with Lanczos."""
    values = []
    for i, (w, h) in enumerate([(500, 375), (375, 500), (1200, 900), (2400, 700)]):
        path = tmp_path / f"t{i}.jpg"
        Image.fromarray(fine_texture(w, h, i)).save(path, quality=90)
        for size in [(100, 100), (224, 224), (160, 96)]:
            im = upright(path)
            box, inner, (ax, ay) = fit_geometry(im.size, size, fit)
            ref = np.asarray(im.resize(inner, Image.Resampling.LANCZOS, box=box)).astype(float)
            got = load_rgb(path, size, "area", fit=fit)[ay : ay + inner[1], ax : ax + inner[0]]
            values.append(10 * np.log10(255**2 / np.mean((got - ref) ** 2)))
    assert min(values) >= 28, [round(v, 1) for v in values]


def test_fit_options_are_checked_recorded_and_part_of_the_job(shapes):
    base, _ = shapes
    assert parse_fill(0) == (0, 0, 0) and parse_fill("124, 116,104") == (124, 116, 104) and parse_fill([1, 2, 3])
    for bad in ("256", "1,2", "a", -1, (1, 2, 3, 4), True):
        with pytest.raises(UsageError, match="pad fill"):
            parse_fill(bad)
    with pytest.raises(UsageError, match="fit"):
        ResizeOptions.resolve(fit="squash")
    r = jobs.resize(base / "list.txt", base / "b.npy", size="16x16", fit="pad", pad_fill="1,2,3", progress=False)
    assert r.sidecar["resize"]["fit"] == "pad" and r.sidecar["resize"]["pad_fill"] == [1, 2, 3]
    with pytest.raises(UsageError, match="exists from another job"):  # another fit is another batch
        jobs.resize(base / "list.txt", base / "b.npy", size="16x16", fit="crop", progress=False)
    with pytest.raises(UsageError, match="exists from another job"):
        jobs.resize(base / "list.txt", base / "b.npy", size="16x16", fit="pad", pad_fill=0, progress=False)
    assert jobs.resize(base / "list.txt", base / "b.npy", size="16x16", fit="pad", pad_fill="1,2,3").up_to_date
    r = imgjobs("resize", base / "list.txt", "--out", base / "c.npy", "--size", "16x8", "--fit", "crop")
    assert r.returncode == 0, r.stderr
    assert json.loads((base / "c.npy.json").read_text())["resize"]["fit"] == "crop"
    r = imgjobs("resize", "--help")
    assert "--fit {stretch,crop,pad}" in r.stdout and "--pad-fill RGB" in r.stdout


# --------------------------------------------------------------------------- the same pixels at inference


@pytest.mark.parametrize("fit", FITS)
@pytest.mark.parametrize("method", METHODS)
def test_preprocess_gives_the_batch_rows_for_every_method_and_fit(shapes, fit, method):
    base, names = shapes
    out = base / "b.npy"
    r = jobs.resize(base / "list.txt", out, size="20x12", method=method, fit=fit, pad_fill=7, progress=False)
    batch = np.load(out)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same libraries: no warning
        for i, name in enumerate(names):
            path = base / "imgs" / name
            row = jobs.preprocess(path, like=out)
            assert row.dtype == np.uint8 and row.flags["C_CONTIGUOUS"]
            np.testing.assert_array_equal(row, batch[i], err_msg=name)
            np.testing.assert_array_equal(jobs.preprocess(path.read_bytes(), like=out), batch[i])  # bytes too
            given = jobs.preprocess(path, size="20x12", method=method, fit=fit, pad_fill=7)  # options, no batch
            np.testing.assert_array_equal(given, batch[i])
    assert r.sidecar["libraries"][0]["pillow"] == Image.__version__


def test_preprocess_refuses_contradictions_and_warns_on_other_libraries(shapes):
    base, names = shapes
    out = base / "b.npy"
    jobs.resize(base / "list.txt", out, size="20x12", fit="crop", progress=False)
    path = base / "imgs" / names[0]
    with pytest.raises(UsageError, match="fit='pad' contradicts the batch"):
        jobs.preprocess(path, like=out, fit="pad")
    assert jobs.preprocess(path, like=out, fit="crop", size=(20, 12)).shape == (12, 20, 3)  # agreeing is fine
    with pytest.raises(UsageError, match="sidecar"):
        jobs.preprocess(path, like=base / "nothing.npy")
    with pytest.raises(ImageError, match="<bytes>: not an image"):
        jobs.preprocess(b"not-an-image" * 10, like=out)
    side = base / "b.npy.json"
    sidecar = json.loads(side.read_text())
    sidecar["libraries"][0]["pillow"] = "9.0.0"
    side.write_text(json.dumps(sidecar))
    with pytest.warns(jobs.PixelsMayDiffer, match=r"pillow 9\.0\.0 -> "):
        jobs.preprocess(path, like=out)


def test_a_rerun_under_other_libraries_says_so(shapes, caplog):
    base, _ = shapes
    out = base / "b.npy"
    jobs.resize(base / "list.txt", out, size="16x16", progress=False)
    side = base / "b.npy.json"
    sidecar = json.loads(side.read_text())
    sidecar["libraries"][0]["opencv"] = "3.4.0"
    side.write_text(json.dumps(sidecar))
    with caplog.at_level(logging.WARNING, logger="jobs"):
        assert jobs.resize(base / "list.txt", out, size="16x16", progress=False).up_to_date
    assert "other library versions" in caplog.text and "opencv 3.4.0 -> " in caplog.text
    sidecar["libraries"] = [{"pillow": 5}]  # hostile: not versions
    side.write_text(json.dumps(sidecar))
    with pytest.raises(UsageError, match="libraries is not a list of library versions"):
        jobs.resize(base / "list.txt", out, size="16x16", progress=False)


# --------------------------------------------------------------------------- outputs others open


def test_a_zarr_batch_opens_in_xarray_with_named_axes_labels_and_classes(shapes):
    xr = pytest.importorskip("xarray", reason="xarray is in the test extras")
    base, names = shapes
    r = jobs.resize(base / "list.txt", base / "b.zarr", size="16x12", batch_size=3, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # consolidated: xarray opens it without a warning
        ds = xr.open_zarr(base / "b.zarr")
    assert ds["images"].dims == ("image", "y", "x", "channel")
    assert ds["images"].shape == (len(names), 12, 16, 3) and ds["images"].dtype == np.uint8
    assert ds["labels"].dims == ("image",)
    np.testing.assert_array_equal(ds["labels"].values, r.labels)
    np.testing.assert_array_equal(ds["images"].values, r.array[:])
    assert ds.attrs["classes"] == ["cat", "dog"]
    assert jobs.resize(base / "list.txt", base / "b.zarr", size="16x12", batch_size=3).up_to_date


# --------------------------------------------------------------------------- WebDataset shards


@pytest.fixture
def broken_list(shapes):
    """The shapes list with a broken image in the middle."""
    base, names = shapes
    (base / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a JPEG")
    names = [*names[:3], "broken.jpg", *names[3:]]
    (base / "list.txt").write_text("".join(f"imgs/{n}\t{'cat' if k % 2 else 'dog'}\n" for k, n in enumerate(names)))
    return base, names


def test_shards_read_back_equal_to_the_npy_batch(broken_list):
    wds = pytest.importorskip("webdataset", reason="webdataset is in the test extras")
    base, names = broken_list
    n = len(names)
    ref = jobs.resize(base / "list.txt", base / "b.npy", size="16x12", progress=False)
    r = jobs.resize(base / "list.txt", base / "train.wds", size="16x12", batch_size=3, progress=False)
    assert r.counts == ref.counts == {"ok": n - 1, "failed": 1} and r.exit_code == 1
    shards = r.sidecar["shards"]
    assert shards["count"] == 4 and shards["url"] == str(base / "train.wds" / "train-{000000..000003}.tar")
    assert sorted(os.listdir(base / "train.wds")) == [f"train-00000{k}.tar" for k in range(4)]
    batch = np.load(base / "b.npy")
    labels = np.load(base / "b.labels.npy")
    seen = []
    for sample in wds.WebDataset(shards["url"], shardshuffle=False).decode():
        i = int(sample["__key__"])
        seen.append(i)
        np.testing.assert_array_equal(sample["npy"], batch[i])
        assert sample["cls"] == labels[i]
    assert seen == [i for i in range(n) if i != 3]  # in batch order; the broken image has no sample
    plain, plain_labels = read_shards(base / "train.wds", n, (16, 12))  # and with plain tarfile
    np.testing.assert_array_equal(plain, batch)
    assert plain_labels == labels.tolist()
    assert "4 shard(s)" in r.summary() and "each sample .cls" in r.summary()
    with pytest.raises(ValueError, match="webdataset"):
        _ = r.array
    assert jobs.resize(base / "list.txt", base / "train.wds", size="16x12", batch_size=3).up_to_date


@pytest.mark.parametrize("sample_format", ["png", "jpg"])
def test_shard_samples_as_png_or_jpg(shapes, sample_format):
    base, names = shapes
    ref = jobs.resize(base / "list.txt", base / "b.npy", size="24x16", progress=False).array
    jobs.resize(
        base / "list.txt", base / "s.wds", size="24x16", sample_format=sample_format, batch_size=64, progress=False
    )
    [shard] = (base / "s.wds").glob("*.tar")
    with tarfile.open(shard) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert sorted(members) == sorted(f"{i:06d}.{ext}" for i in range(len(names)) for ext in (sample_format, "cls"))
    for i in range(len(names)):
        with Image.open(io.BytesIO(members[f"{i:06d}.{sample_format}"])) as im:
            pixels = np.asarray(im.convert("RGB")).astype(float)
        if sample_format == "png":
            np.testing.assert_array_equal(pixels, ref[i])  # lossless
        else:
            assert 10 * np.log10(255**2 / max(1e-9, np.mean((pixels - ref[i]) ** 2))) > 30  # quality 95


def test_shards_are_byte_identical_from_run_to_run_and_resume_after_a_kill(shapes, tmp_path):
    """A CLI run killed with SIGKILL mid-way resumes to the same shards as one uninterrupted run."""
    base, _ = shapes
    many = tmp_path / "many.txt"
    lines = (base / "list.txt").read_text().splitlines()
    many.write_text("".join(f"{lines[k % len(lines)]}\n" for k in range(600)))
    args = ("--size", "64x48", "--batch-size", "20", "--scheduler", "threads", "--workers", "1", "--no-progress")
    assert imgjobs("resize", many, "--out", tmp_path / "whole.wds", *args).returncode == 0
    done = tmp_path / ".cut.wds.imgjobs-partial" / "done"
    proc = start_imgjobs("resize", many, "--out", tmp_path / "cut.wds", *args)
    try:
        deadline = time.monotonic() + 60
        while not (done.is_dir() and len(os.listdir(done)) >= 3) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (tmp_path / "cut.wds").exists()  # nothing in place until every shard is
    finished = len([d for d in os.listdir(done) if d.endswith(".json")])
    r = imgjobs("resize", many, "--out", tmp_path / "cut.wds", *args)
    assert r.returncode == 0, r.stderr
    assert f"{finished * 20} image(s) were finished by an earlier run" in r.stdout + r.stderr
    whole = sorted(os.listdir(tmp_path / "whole.wds"))
    assert [n.replace("whole", "cut") for n in whole] == sorted(os.listdir(tmp_path / "cut.wds"))
    assert len(whole) == 30
    for name in whole:
        a = (tmp_path / "whole.wds" / name).read_bytes()
        assert a == (tmp_path / "cut.wds" / name.replace("whole", "cut")).read_bytes(), name


def test_a_shard_half_written_when_its_task_was_killed_never_reaches_the_output(shapes):
    base, names = shapes
    where = _interrupted_wds(base, "t.wds", 2, 1)
    half = os.path.join(where.target, f".{os.path.basename(where.shard_path(2))}.4242-0badcafe.part")
    with open(half, "wb") as f:
        f.write(b"\0" * 700)  # what a task killed mid-write leaves
    r = jobs.resize(base / "list.txt", base / "t.wds", size="16x12", batch_size=2, progress=False)
    assert r.sidecar["timing"]["resumed_images"] == 2
    assert sorted(os.listdir(base / "t.wds")) == [f"t-00000{k}.tar" for k in range(5)]
    batch, _ = read_shards(base / "t.wds", len(names), (16, 12))
    np.testing.assert_array_equal(batch, jobs.resize(base / "list.txt", base / "b.npy", size="16x12").array)


def test_a_changed_image_rewrites_only_its_shard(shapes):
    base, names = shapes
    out = base / "t.wds"
    jobs.resize(base / "list.txt", out, size="16x12", batch_size=2, progress=False)
    before = {p.name: (p.stat().st_ino, p.read_bytes()) for p in out.iterdir()}
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(base / "imgs" / names[2], quality=90)  # shard 1
    r = jobs.resize(base / "list.txt", out, size="16x12", batch_size=2, progress=False)
    assert r.ok and not r.up_to_date
    after = {p.name: (p.stat().st_ino, p.read_bytes()) for p in out.iterdir()}
    assert sorted(after) == sorted(before)
    assert [k for k in sorted(after) if after[k][1] != before[k][1]] == ["t-000001.tar"]
    batch, _ = read_shards(out, len(names), (16, 12))
    assert not batch[2].any() and batch[3].any()  # black now


def test_shard_outputs_refuse_what_they_cannot_own(shapes):
    base, _ = shapes
    (base / "mine.wds").mkdir()
    (base / "mine.wds" / "notes.txt").write_text("mine")
    (base / "mine.wds.json").write_text("{}")
    with pytest.raises(UsageError, match="sidecar"):
        jobs.resize(base / "list.txt", base / "mine.wds", size="8x8", progress=False)
    with pytest.raises(UsageError, match=r"cannot tell which files there are its shards"):
        jobs.resize(base / "list.txt", base / "mine.wds", size="8x8", overwrite=True, progress=False)
    assert (base / "mine.wds" / "notes.txt").read_text() == "mine"
    with pytest.raises(UsageError, match=r"needs a name before \.wds"):
        jobs.resize(base / "list.txt", base / ".wds", size="8x8", progress=False)
    with pytest.raises(UsageError, match="shards need the Dask path"):
        jobs.resize(base / "list.txt", base / "e.wds", size="8x8", executor="serial", progress=False)
    assert not (base / "e.wds").exists()


def test_the_json_report_of_a_resize_holds_its_batch(broken_list):
    base, names = broken_list
    r = imgjobs("resize", base / "list.txt", "--out", base / "t.wds", "--size", "16x12", "--fit", "crop",
                "--report", base / "r.json")  # fmt: skip
    assert r.returncode == 1, r.stderr  # the broken image
    got = json.loads((base / "r.json").read_text())
    want = jobs.resize(base / "list.txt", base / "u.wds", size="16x12", fit="crop", progress=False).to_dict()
    assert got["counts"] == want["counts"] == {"ok": len(names) - 1, "failed": 1}
    assert got["sidecar"] == str(base / "t.wds.json")
    batch = got["batch"]
    assert batch["shape"] == [len(names), 12, 16, 3] and batch["resize"]["fit"] == "crop"
    assert batch["labels"]["classes"] == ["cat", "dog"] and batch["shards"]["count"] == want["batch"]["shards"]["count"]
    assert batch["libraries"] == want["batch"]["libraries"] and "files" not in batch
    assert [f["status"] for f in got["files"]] == [f["status"] for f in want["files"]]
    assert [f["src"] for f in got["files"] if f["status"] == "failed"] == [str(base / "imgs" / "broken.jpg")]


def test_changed_labels_rewrite_the_shards_that_carry_them(shapes):
    base, names = shapes
    out = base / "t.wds"
    jobs.resize(base / "list.txt", out, size="16x12", batch_size=3, progress=False)
    before = read_shards(out, len(names), (16, 12))
    (base / "list.txt").write_text("".join(f"imgs/{n}\t{'cat' if k < 2 else 'dog'}\n" for k, n in enumerate(names)))
    r = jobs.resize(base / "list.txt", out, size="16x12", batch_size=3, progress=False)
    assert r.ok and not r.up_to_date
    batch, labels = read_shards(out, len(names), (16, 12))
    assert labels == [0, 0] + [1] * (len(names) - 2)  # cat=0, dog=1: what the list says now
    assert labels != before[1]
    np.testing.assert_array_equal(batch, before[0])
    assert jobs.resize(base / "list.txt", out, size="16x12", batch_size=3).up_to_date


def test_a_damaged_shard_directory_is_named_and_rebuilt(shapes, caplog):
    from jobs.resize_job.shards import shard_problem

    base, names = shapes
    out = base / "t.wds"
    jobs.resize(base / "list.txt", out, size="16x12", batch_size=3, progress=False)
    n = len(names)
    assert shard_problem(str(out), str(out), n, 3) is None
    (out / "t-000001.tar").rename(base / "aside.tar")
    assert shard_problem(str(out), str(out), n, 3) == "its shard t-000001.tar is missing"
    (base / "aside.tar").rename(out / "t-000001.tar")
    with open(out / "t-000002.tar", "r+b") as f:
        f.truncate(700)
    assert "not whole tar blocks" in shard_problem(str(out), str(out), n, 3)
    (out / "t-000009.tar").write_bytes(b"\0" * 1024)
    assert shard_problem(str(out), str(out), 3, 3) == "it holds t-000009.tar, which is not one of its 1 shard(s)"
    with pytest.raises(UsageError, match=r"t-000009\.tar"):  # not one of its shards: never removed
        jobs.resize(base / "list.txt", out, size="16x12", batch_size=3, progress=False)
    (out / "t-000009.tar").unlink()
    with caplog.at_level(logging.WARNING, logger="jobs"):
        r = jobs.resize(base / "list.txt", out, size="16x12", batch_size=3, progress=False)
    assert r.ok and "is damaged" in caplog.text
    assert sorted(os.listdir(out)) == [f"t-00000{k}.tar" for k in range(4)]
    np.testing.assert_array_equal(
        read_shards(out, n, (16, 12))[0], jobs.resize(base / "list.txt", base / "b.npy", size="16x12").array
    )


@given(name=st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyz._-", min_size=1, max_size=100),
       size=st.integers(0, 8**11 - 1))  # fmt: skip
def test_shard_member_headers_are_what_tarfile_writes(name, size):
    from jobs.resize_job.shards import member_header

    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = size, 0, 0o444, 0, 0, "", ""
    assert member_header(name, size) == info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


# --------------------------------------------------------------------------- hostile review: each break a test


@pytest.mark.parametrize(
    "where",
    ["t.wds", "t.wds.json", "t.wds/t-000000.tar", ".t.wds.imgjobs-partial/plan.json", "list.txt", "imgs/0.jpg"],
)
def test_a_json_report_never_takes_the_place_of_an_input_or_output(shapes, where):
    base, _ = shapes
    assert imgjobs("resize", base / "list.txt", "--out", base / "t.wds", "--size", "8x8").returncode == 0
    before = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}
    r = imgjobs("resize", base / "list.txt", "--out", base / "t.wds", "--size", "8x8", "--report", base / where)
    assert r.returncode == 2 and "JSON report" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert {p: p.read_bytes() for p in base.rglob("*") if p.is_file()} == before
    r = imgjobs("compress", base / "imgs", base / "rle", "--report", base / "imgs" / "r.json")
    assert r.returncode == 2 and "lies inside" in r.stderr


def test_a_json_report_replaces_an_earlier_report_only(shapes):
    base, _ = shapes
    args = ("resize", base / "list.txt", "--out", base / "b.npy", "--size", "8x8", "--report", base / "r.json")
    assert imgjobs(*args).returncode == 0
    assert imgjobs(*args).returncode == 0  # the earlier report is replaced
    assert json.loads((base / "r.json").read_text())["up_to_date"]
    (base / "r.json").write_text('{"mine": 1}')
    r = imgjobs(*args)
    assert r.returncode == 2 and "is not a JSON report imgjobs wrote" in r.stderr
    assert (base / "r.json").read_text() == '{"mine": 1}'


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_users_file_named_like_a_shard_is_never_removed(shapes, overwrite):
    base, _ = shapes
    out = base / "ref.wds"
    jobs.resize(base / "list.txt", out, size="8x8", batch_size=4, progress=False)
    for name in ("ref-000099.tar", "ref-1234567.tar"):
        (out / name).write_text("mine")
    with pytest.raises(UsageError, match=r"ref-(000099|1234567)\.tar"):
        jobs.resize(base / "list.txt", out, size="8x8", batch_size=4, overwrite=overwrite, progress=False)
    assert (out / "ref-000099.tar").read_text() == "mine" and (out / "ref-1234567.tar").read_text() == "mine"


def _interrupted_wds(base, out, batch, done_slices):
    """A .wds run stopped after ``done_slices`` of its tasks (run by hand); returns its target."""
    from jobs.resize_job import tasks
    from jobs.resize_job.planner import plan_resize

    opts = ResizeOptions.resolve(size="16x12", batch_size=batch)
    plan = plan_resize(base / "list.txt", base / out, opts)
    tasks.create_output(plan.finish.where)
    for key in plan.outputs[:done_slices]:
        tasks.fill(*plan.graph[key][1:2], 0, *plan.graph[key][3:])
    return plan.finish.where


@pytest.mark.parametrize("damage", ["truncate", "append", "swap"])
def test_a_resume_redoes_shards_damaged_in_the_work_folder(shapes, damage):
    base, _ = shapes
    where = _interrupted_wds(base, "k.wds", 2, 4)
    first, third = where.shard_path(0), where.shard_path(4)
    if damage == "truncate":
        os.truncate(first, 1024)  # a valid, shorter tar
    elif damage == "append":
        with open(first, "ab") as f:
            f.write(b"garbage")
    else:
        os.replace(third, first)
    r = jobs.resize(base / "list.txt", base / "k.wds", size="16x12", batch_size=2, progress=False)
    assert r.ok
    ref = jobs.resize(base / "list.txt", base / "w.wds", size="16x12", batch_size=2, progress=False)
    for k in range(ref.sidecar["shards"]["count"]):
        a, b = (base / "k.wds" / f"k-{k:06d}.tar").read_bytes(), (base / "w.wds" / f"w-{k:06d}.tar").read_bytes()
        assert a == b, k


def test_a_forged_plan_chunk_starts_the_shards_over(shapes):
    base, names = shapes
    where = _interrupted_wds(base, "k.wds", 4, 2)
    plan = json.loads(open(where.plan_file).read())
    plan["chunk"] = 3
    with open(where.plan_file, "w") as f:
        f.write(json.dumps(plan))
    r = jobs.resize(base / "list.txt", base / "k.wds", progress=False, size="16x12")  # auto: any chunk is its own
    assert r.ok and r.sidecar["timing"]["resumed_images"] == 0
    batch, _ = read_shards(base / "k.wds", len(names), (16, 12))
    np.testing.assert_array_equal(batch, jobs.resize(base / "list.txt", base / "b.npy", size="16x12").array)


def test_a_finish_refuses_shards_changed_while_the_job_ran(shapes):
    from jobs.errors import StalePlan

    base, _ = shapes
    where = _interrupted_wds(base, "k.wds", 2, 99)  # every slice done, not finished
    graph = jobs.resize(base / "list.txt", base / "k.wds", size="16x12", batch_size=2, compute=False)
    with open(where.shard_path(2), "ab") as f:
        f.write(bytes(1024))  # two more zero blocks: still a tar, not the one recorded
    os.utime(where.shard_path(2))
    import dask

    with pytest.raises(StalePlan, match=r"does not hold images 2\.\.3"):
        dask.compute(graph, scheduler="sync")
    assert not (base / "k.wds").exists()
    assert jobs.resize(base / "list.txt", base / "k.wds", size="16x12", batch_size=2, progress=False).ok


@pytest.mark.parametrize("what", ["sidecar", "plan", "done"])
def test_a_fifo_or_deep_json_as_a_state_file_never_hangs_nor_tracebacks(shapes, what):
    base, _ = shapes
    out = base / "n.npy"
    where = _interrupted_wds(base, "z.wds", 2, 2)  # a work folder too
    work = os.path.dirname(where.plan_file)
    jobs.resize(base / "list.txt", out, size="16x12", progress=False)
    target = {"sidecar": str(out) + ".json", "plan": where.plan_file, "done": os.path.join(work, "done", "0-2.json")}
    path = target[what]
    for kind in ("fifo", "deep"):
        os.remove(path)
        if kind == "fifo":
            os.mkfifo(path)
        else:
            with open(path, "w") as f:
                f.write("[" * 100000 + "]" * 100000)
        dst = out if what == "sidecar" else base / "z.wds"
        r = imgjobs("resize", base / "list.txt", "--out", dst, "--size", "16x12", "--batch-size", "2", timeout=20)
        assert "Traceback" not in r.stderr, r.stderr
        if what == "sidecar":
            assert r.returncode == 2 and "sidecar" in r.stderr
            raised = []

            def look(raised=raised):  # in a thread: a FIFO read as a file would block this test for good
                try:
                    jobs.preprocess(base / "imgs" / "0.jpg", like=out)
                except UsageError as e:
                    raised.append(e)

            t = threading.Thread(target=look, daemon=True)
            t.start()
            t.join(timeout=8)
            assert not t.is_alive(), "reading the sidecar hangs on a FIFO"
            assert raised and "sidecar" in str(raised[0])
        elif kind == "fifo":  # not a file imgjobs writes: named, before any work
            assert r.returncode == 2 and path in r.stderr, r.stderr
            assert "where imgjobs keeps" in r.stderr or "did not write there" in r.stderr, r.stderr
        else:
            assert r.returncode == 0, r.stderr  # an unreadable plan or record: that work is redone


def test_an_entry_of_the_work_folder_that_is_not_ours_is_refused_before_any_work(shapes):
    base, _ = shapes
    where = _interrupted_wds(base, "k.wds", 2, 1)
    os.mkdir(os.path.join(os.path.dirname(where.plan_file), "done", "8-12.json"))
    t = time.monotonic()
    with pytest.raises(UsageError, match=r"holds files imgjobs did not write there .*8-12\.json"):
        jobs.resize(base / "list.txt", base / "k.wds", size="16x12", batch_size=2, progress=False)
    assert time.monotonic() - t < 30


def test_the_shard_size_given_is_part_of_the_job_and_the_url_works_from_anywhere(shapes, tmp_path, monkeypatch):
    wds = pytest.importorskip("webdataset", reason="webdataset is in the test extras")
    base, names = shapes
    (base / "sub").mkdir()
    monkeypatch.chdir(base)
    r = jobs.resize("list.txt", "sub/x.wds", size="8x8", batch_size=4, progress=False)
    with pytest.raises(UsageError, match="exists from another job"):
        jobs.resize("list.txt", "sub/x.wds", size="8x8", batch_size=5, progress=False)
    assert jobs.resize("list.txt", "sub/x.wds", size="8x8", batch_size=4).up_to_date
    url = r.sidecar["shards"]["url"]
    assert os.path.isabs(url)
    monkeypatch.chdir(base / "sub")
    assert len(list(wds.WebDataset(url, shardshuffle=False))) == len(names)
    with pytest.raises(UsageError, match="braces"):
        jobs.resize(base / "list.txt", base / "x{0..1}.wds", size="8x8", progress=False)


def test_another_fit_is_named_when_an_output_is_refused(shapes):
    base, _ = shapes
    jobs.resize(base / "list.txt", base / "b.npy", size="8x8", fit="pad", pad_fill=9, progress=False)
    r = imgjobs("resize", base / "list.txt", "--out", base / "b.npy", "--size", "8x8")
    assert r.returncode == 2 and "fit pad on [9, 9, 9]" in r.stderr


# --------------------------------------------------------------------------- code review: each bug a test


def test_relabelling_between_a_kill_and_a_resume_never_keeps_the_old_labels_in_shards(shapes):
    base, names = shapes
    _interrupted_wds(base, "k.wds", 2, 2)  # shards 0 and 1 carry the old labels
    (base / "list.txt").write_text("".join(f"imgs/{n}\t{'cat' if k % 3 else 'dog'}\n" for k, n in enumerate(names)))
    r = jobs.resize(base / "list.txt", base / "k.wds", size="16x12", batch_size=2, progress=False)
    assert r.ok and r.sidecar["timing"]["resumed_images"] == 0  # another labelling: started over
    _, labels = read_shards(base / "k.wds", len(names), (16, 12))
    assert labels == [0 if k % 3 else 1 for k in range(len(names))]  # cat=0, dog=1, as the list says now
    assert jobs.resize(base / "list.txt", base / "k.wds", size="16x12", batch_size=2).up_to_date


@pytest.mark.parametrize("fit", ["crop", "pad"])
@pytest.mark.parametrize("method", ["area", "draft"])
def test_every_orientation_crops_the_same_pixels_at_a_reduced_decode(tmp_path, fit, method):
    """A 1797x1203 photo decodes at 1/2 or more for 64x64: the kept region must not shift with the orientation."""
    base = fine_texture(1797, 1203, 1)
    got = {}
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.jpg"
        Image.fromarray(base).save(path, quality=90, exif=exif.tobytes())
        im = upright(path)
        for size in [(64, 64), (100, 60)]:
            box, inner, (x, y) = fit_geometry(im.size, size, fit)
            ref = np.asarray(im.resize(inner, Image.Resampling.LANCZOS, box=box)).astype(float)
            row = load_rgb(path, size, method, fit=fit)[y : y + inner[1], x : x + inner[0]]
            got[(orientation, size)] = 10 * np.log10(255**2 / np.mean((row - ref) ** 2))
    assert min(got.values()) >= 30, {k: round(v, 1) for k, v in got.items()}
    for size in [(64, 64), (100, 60)]:  # mirrored orientations lose nothing against their unmirrored twins
        for a, b in [(1, 2), (1, 3), (1, 4), (5, 6), (5, 7), (5, 8)]:
            assert abs(got[(a, size)] - got[(b, size)]) < 1.0, (a, b, size)


def test_a_crop_narrower_than_the_decode_scale_is_never_empty(tmp_path, rng):
    path = tmp_path / "sq.jpg"
    Image.fromarray(photo(rng, 64, 64)).save(path, quality=90)
    for w in (1, 2, 3):
        row = load_rgb(path, (w, 64), "draft", draft_fraction=0.1, fit="crop")
        assert row.shape == (64, w, 3)
    from jobs.resize_job.geometry import scaled as _scaled

    for lo, hi, scale, limit in [(9, 11, 8, 100), (12, 20, 8, 3), (0, 1, 8, 1), (15, 17, 2, 9)]:
        a, b = _scaled(lo, hi, scale, limit)
        assert 0 <= a < b <= limit, (lo, hi, scale, limit, a, b)  # never empty, always inside the decode


def test_kept_slices_of_unknown_versions_are_named_in_a_reopened_batch(shapes, caplog):
    base, names = shapes
    out = base / "b.npy"
    jobs.resize(base / "list.txt", out, size="16x12", batch_size=2, progress=False)
    side = base / "b.npy.json"
    sidecar = json.loads(side.read_text())
    del sidecar["libraries"]  # a batch from before versions were recorded
    side.write_text(json.dumps(sidecar))
    Image.fromarray(photo(np.random.default_rng(5), 50, 40)).save(base / "imgs" / names[0], quality=90)
    with caplog.at_level(logging.WARNING, logger="jobs"):
        r = jobs.resize(base / "list.txt", out, size="16x12", batch_size=2, progress=False)
    assert r.ok and "different sets of library versions" in caplog.text
    made = json.loads(side.read_text())["libraries"]
    assert {} in made and len(made) == 2  # the kept slices' versions: unknown, and said so
    with pytest.warns(jobs.PixelsMayDiffer):
        jobs.preprocess(base / "imgs" / names[3], like=out)


def test_hostile_sidecars_of_shards_and_sizes_are_refused(shapes):
    base, _ = shapes
    jobs.resize(base / "list.txt", base / "t.wds", size="16x12", batch_size=3, progress=False)
    side = base / "t.wds.json"
    good = json.loads(side.read_text())
    for key, value in [("shards", ["x"]), ("shards", {"count": 99, "url": "u"}), ("size", "8x8")]:
        forged = dict(good, **{key: value})
        side.write_text(json.dumps(forged))
        with pytest.raises(UsageError, match="sidecar"):
            jobs.preprocess(base / "imgs" / "0.jpg", like=base / "t.wds")
        r = imgjobs("resize", base / "list.txt", "--out", base / "t.wds", "--size", "16x12", "--batch-size", "3")
        assert r.returncode == 2 and "damaged" in r.stderr and "Traceback" not in r.stderr
    side.write_text(json.dumps(good))
    assert jobs.preprocess(base / "imgs" / "0.jpg", like=base / "t.wds", pad_fill=3).shape == (12, 16, 3)  # moot


def test_output_names_with_a_slash_or_only_a_dot(shapes):
    base, _ = shapes
    r = jobs.resize(base / "list.txt", str(base / "s.wds") + os.sep, size="8x8", progress=False)
    assert r.ok and (base / "s.wds").is_dir() and r.output == str(base / "s.wds")
    with pytest.raises(UsageError, match="needs a name before"):
        jobs.resize(base / "list.txt", base / "..wds", size="8x8", progress=False)


def test_a_file_added_to_the_work_folder_after_planning_is_never_removed(shapes):
    """The planner refuses a foreign work folder; the first task checks again, for what came after planning."""
    from jobs.resize_job import tasks
    from jobs.resize_job.planner import plan_resize

    base, _ = shapes
    _interrupted_wds(base, "k.wds", 2, 1)
    plan = plan_resize(base / "list.txt", base / "k.wds", ResizeOptions.resolve(size="17x12", batch_size=2))
    where = plan.finish.where
    assert where.fresh  # another job: the first task starts the folder over
    (base / ".k.wds.imgjobs-partial" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"did not write there .*notes\.txt"):
        tasks.create_output(where)
    assert (base / ".k.wds.imgjobs-partial" / "notes.txt").read_text() == "mine"


def test_an_option_the_fit_or_method_does_not_use_is_named(caplog):
    with caplog.at_level(logging.WARNING, logger="jobs"):
        ResizeOptions.resolve(fit="crop", pad_fill=5)
        ResizeOptions.resolve(method="area", draft_fraction=0.5)
        ResizeOptions.resolve(fit="pad", pad_fill=5, method="draft", draft_fraction=0.5)  # both used: silent
    assert caplog.text.count("has no effect") == 2
    assert "--pad-fill (pad_fill) has no effect with fit crop" in caplog.text
    assert "--draft-fraction (draft_fraction) has no effect with method area" in caplog.text
