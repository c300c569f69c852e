"""The resize job on JPEGs generated here: colour, orientation, bad files, schedulers, studies."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import jobs
from jobs.errors import UsageError
from jobs.resize_job.decode import load_rgb
from jobs.resize_job.geometry import draft_scale
from jobs.resize_job.options import ResizeOptions, parse_size
from jobs.resize_job.planner import plan_resize
from jobs.resize_job.source import read_source
from rle import ImageError

SIZE = (32, 24)


def photo(rng, w, h):
    """A smooth synthetic photo (JPEG-friendly), RGB uint8."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), (x + y) * 255 // max(1, w + h - 2)], -1)
    noise = rng.integers(0, 30, (h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def jpegs(tmp_path, rng):
    """A directory of images of every kind the job must handle, plus a file list."""
    d = tmp_path / "imgs"
    d.mkdir()
    rgb = photo(rng, 240, 180)
    Image.fromarray(rgb).save(d / "rgb.JPEG", quality=90)
    Image.fromarray(rgb).convert("L").save(d / "grey.JPEG", quality=90)
    Image.fromarray(rgb).convert("CMYK").save(d / "cmyk.JPEG", quality=90)
    Image.fromarray(rgb).save(d / "progressive.JPEG", quality=90, progressive=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    Image.fromarray(rgb[:, :120]).save(d / "rotated.JPEG", quality=90, exif=exif.tobytes())
    Image.fromarray(rgb).save(d / "png-inside.JPEG", format="PNG")  # a PNG named .JPEG
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(d / "palette.png")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])).save(d / "rgba.png")
    Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257).save(d / "sixteen.png")
    names = sorted(os.listdir(d))
    (tmp_path / "list.txt").write_text("# a comment\n" + "\n".join(f"imgs/{n} 7" for n in names) + "\n")
    return tmp_path, names


def failures(report):
    """(index, path) of every image that failed, from the report."""
    out, start = [], 0
    for o in report.outcomes:
        out += [(start + i, o.src[i]) for i in np.flatnonzero(o.status == 2).tolist()]
        start += len(o)
    return out


def test_sources_list_json_directory(jpegs):
    base, names = jpegs
    from_list = read_source(base / "list.txt")
    assert [os.path.basename(p) for p in from_list] == names
    assert all(os.path.isabs(p) for p in from_list)
    (base / "cfg").mkdir()
    (base / "cfg" / "ilsvrc.json").write_text(json.dumps({"data": {"train_filelist": "../list.txt", "x": 1}}))
    assert read_source(base / "cfg" / "ilsvrc.json") == from_list
    assert [os.path.basename(p) for p in read_source(base / "imgs")] == names
    assert read_source(base / "list.txt", 3) == from_list[:3]
    with pytest.raises(UsageError, match="fewer than the 99"):
        read_source(base / "list.txt", 99)
    (base / "bad.json").write_text('{"data": {}}')
    with pytest.raises(UsageError, match="train_filelist"):
        read_source(base / "bad.json")
    with pytest.raises(UsageError, match="no such file"):
        read_source(base / "nope.txt")


def test_parse_size():
    assert parse_size("100x80") == (100, 80)
    for bad in ("100", "0x5", "axb", "70000x1"):
        with pytest.raises(UsageError):
            parse_size(bad)


def test_every_kind_becomes_true_rgb(jpegs):
    base, _names = jpegs
    d = base / "imgs"
    grey = load_rgb(d / "grey.JPEG", SIZE)
    assert grey.shape == (24, 32, 3) and grey.dtype == np.uint8
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])
    assert grey.mean() > 50  # not the exercise's "channel 0 only"
    ref = load_rgb(d / "rgb.JPEG", SIZE).astype(int)
    for name in ("cmyk.JPEG", "progressive.JPEG", "png-inside.JPEG", "palette.png", "rgba.png"):
        img = load_rgb(d / name, SIZE)
        assert img.shape == (24, 32, 3) and img.dtype == np.uint8, name
        assert np.abs(img.astype(int) - ref).mean() < 20, name  # the same picture, in colour
    sixteen = load_rgb(d / "sixteen.png", SIZE)
    np.testing.assert_allclose(sixteen[..., 0].astype(int), ref[..., 0], atol=12)


def test_exif_orientation_is_applied(jpegs):
    base, _ = jpegs
    with Image.open(base / "imgs" / "rotated.JPEG") as im:
        assert im.size == (120, 180)  # stored portrait
        upright = np.asarray(im.convert("RGB").transpose(Image.Transpose.ROTATE_270).resize(SIZE))
    got = load_rgb(base / "imgs" / "rotated.JPEG", SIZE, method="exact")
    np.testing.assert_array_equal(got, upright)


def test_exact_batch_equals_per_image_reference(jpegs):
    base, names = jpegs
    out = base / "batch.npy"
    plan = plan_resize(base / "list.txt", out, ResizeOptions.resolve(size="32x24", method="exact", batch_size=3))
    assert len(plan.outputs) == 3 and plan.ntasks == 4  # 3 batches and the task that creates the output
    assert not list(base.glob("*.npy")) and not list(base.glob(".*"))  # planning wrote nothing
    report = jobs.resize(base / "list.txt", out, size="32x24", method="exact", batch_size=3)
    assert report.ok and failures(report) == []
    batch = np.load(out)
    np.testing.assert_array_equal(report.array, batch)
    assert batch.shape == (len(names), 24, 32, 3) and batch.dtype == np.uint8
    for i, name in enumerate(names):
        np.testing.assert_array_equal(batch[i], load_rgb(base / "imgs" / name, SIZE, method="exact"), err_msg=name)
    side = json.loads((base / "batch.npy.json").read_text())
    assert side["shape"] == [len(names), 24, 32, 3] and side["resize"]["method"] == "exact"
    assert side["source"] == {  # what it was built from, not every path: a sidecar stays small at 10M images
        "path": str(base / "list.txt"),
        "entries": len(names),
        "paths_digest": hashlib.sha256(b"".join(str(base / "imgs" / n).encode() + b"\0" for n in names)).hexdigest(),
    }
    assert [a for a, _, _ in side["stamps"]["slices"]] == [0, 3, 6]  # one stamp per task's slice
    assert not [f for f in os.listdir(base) if f.endswith(".tmp")]


def test_fast_path_is_close_to_exact(jpegs):
    base, _ = jpegs
    for name in ("rgb.JPEG", "grey.JPEG", "progressive.JPEG"):
        fast = load_rgb(base / "imgs" / name, SIZE).astype(np.float32)
        exact = load_rgb(base / "imgs" / name, SIZE, method="exact").astype(np.float32)
        psnr = 10 * np.log10(255**2 / max(1e-9, float(np.mean((fast - exact) ** 2))))
        assert psnr > 30, (name, psnr)


def test_draft_scale_is_the_smallest_decode_within_the_fraction():
    assert draft_scale((500, 375), (100, 100), 1.0) == 2  # 1/4 would be 125x94: below 100
    assert draft_scale((500, 375), (100, 100), 0.9) == 4  # 94 rows are within 10% of 100
    assert draft_scale((500, 333), (100, 100), 0.9) == 2  # 84 rows are not
    assert draft_scale((4000, 3000), (100, 100), 1.0) == 8
    assert draft_scale((150, 150), (100, 100), 1.0) == 1  # smaller than twice the target: full decode
    assert draft_scale((90, 90), (100, 100), 0.5) == 1  # never below the target's fraction
    assert draft_scale((6, 3000), (1, 1), 1.0) == 4  # 1/8 would be larger than the short side (6)
    assert draft_scale((500, 100), (100, 100), 0.9) == 1  # each side on its own


@pytest.mark.parametrize("w,h", [(500, 375), (375, 500), (17, 9), (2400, 68), (8, 8), (15, 15), (1023, 769)])
def test_reduced_decodes_are_exactly_the_scale_asked_for(tmp_path, w, h):
    # imgjobs' own decoder (libjpeg-turbo through simplejpeg), at every DCT scale it may pick:
    # ceil(w / s) x ceil(h / s), the image's colours, for odd and tiny sizes alike
    from jobs.resize_job.decode import _decode_jpeg

    path = tmp_path / "a.jpg"
    Image.new("RGB", (w, h), (200, 100, 50)).save(path, quality=95)
    data = path.read_bytes()
    for s in (1, 2, 4, 8):
        if s > min(w, h):
            continue
        rgb = _decode_jpeg(path, data, s, (w, h))
        assert rgb.shape == (-(-h // s), -(-w // s), 3), s
        assert np.abs(rgb.astype(int) - (200, 100, 50)).max() <= 3, s


def test_fast_path_compares_the_target_in_the_stored_orientation(tmp_path, rng):
    # Stored 300x400, shown 400x300 (EXIF 6). A 50x200 target needs 200 rows of the
    # upright image, i.e. 200 stored columns: more than a 1/2 decode (150) has, so the
    # draft method must decode in full, as area does.
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "tall.jpg"
    Image.fromarray(photo(rng, 300, 400)).save(path, quality=90, exif=exif.tobytes())
    fast = load_rgb(path, (50, 200), method="draft", draft_fraction=0.9)
    np.testing.assert_array_equal(fast, load_rgb(path, (50, 200), method="area"))  # both decode in full
    wide = load_rgb(path, (200, 50), method="draft", draft_fraction=0.9)  # a 1/2 decode (200x150 upright)
    assert wide.shape == (50, 200, 3)
    assert not np.array_equal(wide, load_rgb(path, (200, 50), method="area"))


def test_draft_fraction_is_checked_and_recorded(jpegs):
    base, names = jpegs
    with pytest.raises(UsageError, match="draft fraction"):
        jobs.resize(base / "list.txt", base / "x.npy", draft_fraction=1.5)
    assert jobs.resize(base / "list.txt", base / "sharp.npy", size="32x24", method="draft", draft_fraction=1.0).ok
    side = json.loads((base / "sharp.npy.json").read_text())
    assert side["resize"]["method"] == "draft" and side["resize"]["draft_fraction"] == 1.0
    batch = np.load(base / "sharp.npy")
    for i, name in enumerate(names):
        want = load_rgb(base / "imgs" / name, SIZE, method="draft", draft_fraction=1.0)
        np.testing.assert_array_equal(batch[i], want)


def test_bad_files_keep_zero_slots_and_are_listed(jpegs):
    base, _names = jpegs
    d = base / "imgs"
    data = (d / "rgb.JPEG").read_bytes()
    (d / "truncated.JPEG").write_bytes(data[: len(data) // 3])
    (d / "text.JPEG").write_text("not an image")
    paths = read_source(d)
    report = jobs.resize(d, base / "b.npy", size="32x24", batch_size=4)
    failed = failures(report)
    bad = {os.path.basename(paths[i]) for i, _ in failed}
    assert bad == {"truncated.JPEG", "text.JPEG"}
    assert report.exit_code == 1 and report.counts == {"ok": len(paths) - 2, "failed": 2}
    batch = np.load(base / "b.npy")
    for i, _ in failed:
        np.testing.assert_array_equal(batch[i], np.zeros((24, 32, 3), np.uint8))
    for i in range(len(paths)):
        if os.path.basename(paths[i]) not in bad:
            np.testing.assert_array_equal(batch[i], load_rgb(paths[i], (32, 24)), paths[i])
    side = json.loads((base / "b.npy.json").read_text())
    assert {os.path.basename(f["path"]) for f in side["failed"]} == bad
    assert all(f["reason"] for f in side["failed"])


def test_existing_output_needs_overwrite(jpegs):
    base, _ = jpegs
    (base / "b.npy").write_bytes(b"x")
    with pytest.raises(UsageError, match="--overwrite"):
        jobs.resize(base / "list.txt", base / "b.npy")
    with pytest.raises(UsageError, match=r"\.npy, \.zarr or \.wds"):
        jobs.resize(base / "list.txt", base / "b.png")


@pytest.mark.parametrize("kind", ["serial", "threads", "processes"])
def test_exercise_executors_write_the_same_batch(jpegs, kind):
    base, _names = jpegs
    jobs.resize(base / "list.txt", base / "dask.npy", size="32x24")
    report = jobs.resize(base / "list.txt", base / f"{kind}.npy", size="32x24", executor=kind, workers=2)
    assert report.ok and report.scheduler == f"{kind} executor, 2 worker(s)"
    np.testing.assert_array_equal(np.load(base / f"{kind}.npy"), np.load(base / "dask.npy"))
    assert json.loads((base / f"{kind}.npy.json").read_text())["timing"]["scheduler"] == report.scheduler


def test_threads_processes_and_a_local_cluster_give_the_same_batch(jpegs, cluster):
    from distributed import Client

    base, _ = jpegs
    jobs.resize(base / "list.txt", base / "t.npy", size="32x24", batch_size=2, scheduler="threads")
    jobs.resize(base / "list.txt", base / "p.npy", size="32x24", batch_size=3, scheduler="processes", workers=2)
    with Client(cluster) as client:
        report = jobs.resize(base / "list.txt", base / "c.npy", size="32x24", batch_size=2, client=client)
        assert report.ok
        report = jobs.resize(base / "list.txt", base / "c.zarr", size="32x24", batch_size=2, client=client)
        assert report.ok
    for other in ("p.npy", "c.npy"):
        np.testing.assert_array_equal(np.load(base / other), np.load(base / "t.npy"), err_msg=other)
    np.testing.assert_array_equal(report.array[:], np.load(base / "t.npy"))
    np.testing.assert_array_equal(report.labels, np.load(base / "t.labels.npy"))


def test_zarr_output(jpegs):
    zarr = pytest.importorskip("zarr", reason="zarr is in the test extras")
    base, _ = jpegs
    jobs.resize(base / "list.txt", base / "b.npy", size="32x24")
    report = jobs.resize(base / "list.txt", base / "b.zarr", size="32x24", batch_size=4)
    group = zarr.open_group(str(base / "b.zarr"), mode="r")
    np.testing.assert_array_equal(group["images"][:], np.load(base / "b.npy"))
    np.testing.assert_array_equal(group["labels"][:], np.load(base / "b.labels.npy"))  # the list's "7"s
    assert report.array.chunks[0] == 4  # a task's slice is whole chunks of its own
    np.testing.assert_array_equal(report.array[:], np.load(base / "b.npy"))


def test_fill_task_allocates_only_its_block(jpegs):
    import tracemalloc

    from jobs.resize_job.tasks import create_output, fill

    base, _names = jpegs
    plan = plan_resize(base / "list.txt", base / "b.npy", ResizeOptions.resolve(size="64x64", batch_size=100))
    where = plan.finish.where
    offset = create_output(where)
    paths = plan.finish.paths
    tracemalloc.start()
    try:
        fill(where, offset, 0, paths[:2], ResizeOptions.resolve(size="64x64"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # two decodes and a 2-image block, never the batch
    batch = np.load(where.target)  # the slice landed at its place in a valid .npy
    assert batch.shape == (len(paths), 64, 64, 3)
    np.testing.assert_array_equal(batch[:2], np.stack([load_rgb(p, (64, 64)) for p in paths[:2]]))
    np.testing.assert_array_equal(batch[2:], np.zeros_like(batch[2:]))  # nothing else was touched


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jobs", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_cli_resize_summary_and_exit_codes(jpegs):
    base, names = jpegs
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--size", "16x16")
    assert r.returncode == 0, r.stderr
    assert f"resize: {len(names)} image(s), {len(names)} ok, 0 failed" in r.stdout and "images/s" in r.stdout
    assert np.load(base / "o.npy").shape == (len(names), 16, 16, 3)
    (base / "imgs" / "zz-bad.JPEG").write_bytes(b"\xff\xd8\xff garbage")
    r = cli("resize", base / "imgs", "--out", base / "o2.npy", "--executor", "threads", "--workers", "2")
    assert r.returncode == 1 and "zz-bad.JPEG" in r.stderr and "Traceback" not in r.stderr
    r = cli("resize", base / "list.txt", "--out", base / "o.npy")
    assert r.returncode == 2 and "--overwrite" in r.stderr
    r = cli("resize", base / "list.txt", "--num-images", "500", "--out", base / "o3.npy")
    assert r.returncode == 2 and "fewer than" in r.stderr
    r = cli("resize", base / "list.txt", "--out", base / "o4.npy", "--draft-fraction", "0")
    assert r.returncode == 2 and "draft fraction must be in (0, 1]" in r.stderr
    r = cli("resize", base / "list.txt", "--out", base / "o4.npy", "--method", "draft", "--draft-fraction", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads((base / "o4.npy.json").read_text())["resize"]["draft_fraction"] == 1.0


def test_performance_report_threads_and_cluster(jpegs):
    base, _ = jpegs
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--performance-report", base / "t.html")
    assert r.returncode == 0, r.stderr
    r = cli(
        "compress",
        base / "imgs",
        base / "rle",
        "--scheduler",
        "local",
        "--workers",
        "1",
        "--dashboard-address",
        ":0",
        "--performance-report",
        base / "c.html",
    )
    assert r.returncode == 0, r.stderr  # some inputs are not black and white (they are dithered), all are images
    for name in ("t.html", "c.html"):
        text = (base / name).read_text()
        assert "<html" in text.lower() and "bokeh" in text.lower()


def test_study_resize_writes_csv_table_and_plot(jpegs):
    base, _names = jpegs
    out = base / "study"
    r = cli(
        "study",
        "resize",
        base / "list.txt",
        "--size",
        "16x16",
        "--workers",
        "1,2",
        "--modes",
        "threads",
        "--executors",
        "serial,threads",
        "--batch-sizes",
        "2,auto",
        "--repeats",
        "2",
        "--out",
        out,
        "-q",
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    modes = {(row["mode"], row["workers"], row["task_size"]) for row in rows}
    assert ("dask threads", "2", "auto") in modes and ("executor serial", "1", "-") in modes
    assert ("executor threads", "2", "-") in modes
    for row in rows:
        assert float(row["rate"]) > 0 and int(row["repeats"]) == 2 and len(row["times_s"].split()) == 2
    fastest_one = max((row for row in rows if row["workers"] == "1"), key=lambda row: float(row["rate"]))
    assert float(fastest_one["speedup"]) == 1.0  # the shared baseline
    md = (out / "results.md").read_text()
    assert "| cores |" in md and "images/s" in md and "efficiency" in md and "Amdahl" in md
    for name in ("throughput", "efficiency", "task_size"):
        with Image.open(out / f"{name}.png") as im:
            assert im.format == "PNG" and im.size[0] > 400


def test_study_compress_has_the_2x2_table(image_dir, tmp_path):
    d, _ = image_dir
    out = tmp_path / "study"
    r = cli(
        "study",
        "compress",
        d,
        "--workers",
        "2",
        "--modes",
        "threads,local",
        "--rows-per-task",
        "0,auto,64",
        "--repeats",
        "1",
        "--out",
        out,
        "-q",
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert len(rows) == 2 * 3 and all(row["unit"] == "MPixel/s" for row in rows)
    assert all(row["speedup"] == "" for row in rows)  # no one-worker run: no baseline, no speedups
    md = (out / "results.md").read_text()
    assert "add a configuration with one worker" in md
    assert "2x2 table" in md and "one task per image" in md and "row-block tasks" in md
    assert (out / "throughput.png").stat().st_size > 1000 and (out / "task_size.png").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("resize", "LIST", "--modes", "gpu"),
        ("resize", "LIST", "--batch-sizes", "0"),
        ("resize", "LIST", "--executors", "mpi"),
        ("compress", "DIR", "--rows-per-task", "x"),
        ("resize", "LIST", "--workers", "0"),
    ],
)
def test_study_usage_errors(jpegs, args):
    base, _ = jpegs
    args = [str(base / "list.txt") if a == "LIST" else str(base / "imgs") if a == "DIR" else a for a in args]
    r = cli("study", *args, "--out", base / "s")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr


def test_list_lines_keep_paths_with_spaces_and_name_a_bad_list(tmp_path, rng):
    from jobs.resize_job.source import split_list_line

    assert split_list_line("my photo.jpg") == ("my photo.jpg", None)
    assert split_list_line("my photo.jpg 7") == ("my photo.jpg", "7")
    assert split_list_line("n01440764/a b.JPEG\t0") == ("n01440764/a b.JPEG", "0")
    d = tmp_path / "holiday pics"
    d.mkdir()
    Image.fromarray(photo(rng, 40, 30)).save(d / "my photo.jpg")
    (tmp_path / "list.txt").write_text("holiday pics/my photo.jpg 3\nholiday pics/my photo.jpg\t5\n")
    report = jobs.resize(tmp_path / "list.txt", tmp_path / "b.npy", size="8x8", progress=False)
    assert report.ok and report.array.shape == (2, 8, 8, 3) and report.labels.tolist() == [3, 5]
    (tmp_path / "mixed.txt").write_text("holiday pics/my photo.jpg\t3\nholiday pics/my photo.jpg\n")
    with pytest.raises(UsageError, match=r"mixed\.txt, line 2: holiday pics/my photo\.jpg has no label while 1 others"):
        read_source(tmp_path / "mixed.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9.jpg\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin1\.txt, line 1: not UTF-8 text"):
        read_source(tmp_path / "latin1.txt")


def test_a_16_bit_pgm_and_png_with_the_same_values_give_the_same_pixels(tmp_path):
    for values in (np.arange(32 * 32).reshape(32, 32) * 64, np.arange(32 * 32).reshape(32, 32) % 200):
        values = values.astype(np.uint16)
        Image.fromarray(values).save(tmp_path / "v.png")
        (tmp_path / "v.pgm").write_bytes(b"P5\n32 32\n65535\n" + values.astype(">u2").tobytes())
        png = load_rgb(tmp_path / "v.png", (32, 32), method="exact")
        pgm = load_rgb(tmp_path / "v.pgm", (32, 32), method="exact")
        np.testing.assert_array_equal(png, pgm)
        np.testing.assert_array_equal(png[..., 0], (values >> 8).astype(np.uint8))


def fine_texture(w, h, cell, seed):
    """Random colour cells ``cell`` pixels wide, smoothly interpolated: fur- or foliage-like detail."""
    r = np.random.default_rng(seed)
    small = r.integers(0, 256, (int(h / cell) + 2, int(w / cell) + 2, 3)).astype(np.uint8)
    size = (int(small.shape[1] * cell), int(small.shape[0] * cell))
    return np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC))[:h, :w]


def psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def test_default_method_holds_the_quality_floor_on_fine_texture(tmp_path):
    # The floor of the issue: no image under 28 dB against a full decode, EXIF applied,
    # resized with Lanczos.  Fine texture is where reduced DCT decodes lose; the draft
    # method's loss here shows the test can tell the two apart.
    exif = Image.Exif()
    exif[0x0112] = 8
    got = {"area": [], "exact": [], "draft": []}
    for i, (w, h) in enumerate([(500, 375), (375, 500), (640, 480), (1200, 900)]):
        for cell in (1.5, 2.5, 4):
            path = tmp_path / f"t{w}x{h}-{cell}.jpg"
            extra = {"exif": exif.tobytes()} if i == 1 else {}
            Image.fromarray(fine_texture(w, h, cell, i * 10 + int(cell * 2))).save(path, quality=90, **extra)
            with Image.open(path) as im:
                from PIL import ImageOps

                ref = ImageOps.exif_transpose(im).convert("RGB").resize((100, 100), Image.Resampling.LANCZOS)
            for method, values in got.items():
                values.append(psnr(load_rgb(path, (100, 100), method=method), ref))
    assert min(got["area"]) >= 28, got["area"]
    assert min(got["exact"]) >= 30, got["exact"]
    assert min(got["draft"]) < 26 < min(got["area"]), got["draft"]  # the trade the draft method names


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("method", ["area", "exact", "draft"])
def test_every_exif_orientation_matches_pillows_exif_transpose(tmp_path, rng, orientation, method):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "o.jpg"
    Image.fromarray(photo(rng, 64, 48)).save(path, quality=95, exif=exif.tobytes())
    with Image.open(path) as im:
        from PIL import ImageOps

        upright = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    size = (upright.shape[1] * 3 // 4, upright.shape[0] * 3 // 4)  # every method decodes in full
    got = load_rgb(path, size, method=method)
    if method == "exact":
        want = np.asarray(Image.fromarray(upright).resize(size, Image.Resampling.BICUBIC))
    else:  # the area filter, applied to the upright full decode
        import cv2

        want = cv2.resize(upright, size, interpolation=cv2.INTER_AREA)
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want).max() <= 1  # OpenCV's and Pillow's decoders may round apart


def _forged_size(data: bytes, w: int, h: int) -> bytes:
    """The JPEG ``data`` with its frame header claiming ``w`` x ``h``."""
    at = data.find(b"\xff\xc0")
    assert at > 0
    return data[: at + 5] + h.to_bytes(2, "big") + w.to_bytes(2, "big") + data[at + 9 :]


def test_damaged_jpegs_fail_by_name_with_the_decoders_reason(tmp_path, rng):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(photo(rng, 200, 150)).save(whole, quality=90)
    data = whole.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) - 40])  # no end marker
    patched = tmp_path / "patched.jpg"
    patched.write_bytes(data[: len(data) // 2] + b"\xff\xd9")  # cut short, an end marker appended
    forged = tmp_path / "forged.jpg"
    head = _forged_size(data, 13000, 13000)
    sos = head.find(b"\xff\xda")
    forged.write_bytes(head[: sos + 2 + int.from_bytes(head[sos + 2 : sos + 4], "big") + 20] + b"\xff\xd9")
    assert forged.stat().st_size < 1000  # the tables, 20 bytes of scan and an end: 169 MPixel claimed
    for method in ("area", "draft", "exact"):
        assert load_rgb(whole, (32, 32), method=method).shape == (32, 32, 3)
        for path, reason in ((cut, "damaged JPEG"), (patched, "premature end of data segment")):
            with pytest.raises(ImageError, match=rf"{path.name}: .*{reason}"):
                load_rgb(path, (32, 32), method=method)
        with pytest.raises(ImageError, match=r"forged.jpg: damaged JPEG: its header claims 13000x13000 pixels"):
            load_rgb(forged, (32, 32), method=method, max_pixels=10**9)
    with pytest.raises(ValueError, match="method must be one of"):
        load_rgb(whole, (32, 32), method="nearest")


def test_a_damaged_jpeg_is_named_in_the_report_and_its_slot_is_zero(tmp_path, rng):
    names = []
    for i in range(3):
        p = tmp_path / f"{i}.jpg"
        Image.fromarray(photo(rng, 64, 48)).save(p, quality=90)
        names.append(p.name)
    data = (tmp_path / "1.jpg").read_bytes()
    (tmp_path / "1.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    (tmp_path / "list.txt").write_text("\n".join(names) + "\n")
    report = jobs.resize(tmp_path / "list.txt", tmp_path / "b.npy", size="16x16", progress=False)
    assert report.counts == {"ok": 2, "failed": 1} and report.exit_code == 1
    [problem] = report.problems
    assert problem.src.endswith("1.jpg") and "premature end of data segment" in problem.reason
    batch = np.load(tmp_path / "b.npy")
    np.testing.assert_array_equal(batch[1], np.zeros((16, 16, 3), np.uint8))
    for i in (0, 2):
        np.testing.assert_array_equal(batch[i], load_rgb(tmp_path / names[i], (16, 16)))


@pytest.fixture
def class_folders(tmp_path, rng):
    """ImageNet's training layout: a folder per class, one image in it broken."""
    root = tmp_path / "train"
    for k, name in enumerate(["n02", "n01", "n03"]):  # listed out of order: classes are sorted
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(photo(rng, 60 + k, 40)).save(root / name / f"{name}_{i}.JPEG", quality=90)
    (root / "n03" / "n03_1.JPEG").write_bytes(b"\xff\xd8\xff not really")
    (root / "README.txt").write_text("not an image, not a class")
    return root


@pytest.mark.parametrize("out", ["b.npy", "b.zarr"])
def test_class_folders_give_labels_classes_and_marked_failures(class_folders, tmp_path, out):
    pytest.importorskip("zarr", reason="zarr is in the test extras")
    report = jobs.resize(class_folders, tmp_path / out, size="16x16", batch_size=2, progress=False)
    assert report.counts == {"ok": 8, "failed": 1} and report.exit_code == 1
    assert report.classes == ["n01", "n02", "n03"]
    assert report.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, -1, 2]  # the broken n03_1 is marked -1
    assert report.labels.dtype == np.int64
    side = json.loads((tmp_path / f"{out}.json").read_text())
    assert side["labels"]["classes"] == ["n01", "n02", "n03"] and side["labels"]["failed"] == -1
    assert side["labels"]["from"] == "class folders"
    assert [f["index"] for f in side["failed"]] == [7]
    if out.endswith(".npy"):
        assert side["labels"]["file"] == "b.labels.npy"  # a name beside the batch, never a path elsewhere
        np.testing.assert_array_equal(np.load(tmp_path / "b.labels.npy"), report.labels)
    else:
        import zarr

        group = zarr.open_group(str(tmp_path / out), mode="r")
        assert group.attrs["classes"] == ["n01", "n02", "n03"] and group["labels"].shape == (9,)
    assert "labels (3 classes, from class folders)" in report.summary()


def test_list_labels_whole_numbers_or_names(tmp_path, rng):
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(4):
        Image.fromarray(photo(rng, 30, 20)).save(d / f"{i}.jpg")
    (tmp_path / "ints.txt").write_text("imgs/0.jpg 5\nimgs/1.jpg 0\nimgs/2.jpg 999\nimgs/3.jpg 5\n")
    report = jobs.resize(tmp_path / "ints.txt", tmp_path / "i.npy", size="8x8", progress=False)
    assert report.labels.tolist() == [5, 0, 999, 5] and report.classes is None  # ImageNet's convention, as given
    lines = ["imgs/0.jpg\ttench", "imgs/1.jpg\tgoldfish", "imgs/2.jpg\ttench", "imgs/3.jpg\tashcan"]
    (tmp_path / "names.txt").write_text("\n".join(lines) + "\n")
    report = jobs.resize(tmp_path / "names.txt", tmp_path / "n.npy", size="8x8", progress=False)
    assert report.classes == ["ashcan", "goldfish", "tench"] and report.labels.tolist() == [2, 1, 2, 0]
    (tmp_path / "none.txt").write_text("imgs/0.jpg\nimgs/1.jpg\n")
    report = jobs.resize(tmp_path / "none.txt", tmp_path / "x.npy", size="8x8", progress=False)
    assert report.labels is None and not (tmp_path / "x.labels.npy").exists()
    assert json.loads((tmp_path / "x.npy.json").read_text())["labels"] is None
    # --overwrite of a labelled batch by an unlabelled one leaves no stale labels beside it
    jobs.resize(tmp_path / "none.txt", tmp_path / "i.npy", size="8x8", overwrite=True, progress=False)
    assert not (tmp_path / "i.labels.npy").exists()
    (tmp_path / "j.labels.npy").write_text("mine")
    with pytest.raises(UsageError, match=r"j\.labels\.npy \(its labels\) exists"):
        jobs.resize(tmp_path / "ints.txt", tmp_path / "j.npy", size="8x8", progress=False)
    assert (tmp_path / "j.labels.npy").read_text() == "mine"


def test_a_rerun_is_up_to_date_and_a_changed_job_needs_overwrite(jpegs):
    base, names = jpegs
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--size", "16x16")
    assert r.returncode == 0, r.stderr
    before = (base / "o.npy").stat().st_mtime_ns
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--size", "16x16")
    assert r.returncode == 0, r.stderr
    assert "o.npy is up to date (use --overwrite to rebuild it)" in r.stdout and "nothing to do" in r.stdout
    assert (base / "o.npy").stat().st_mtime_ns == before  # nothing was rewritten
    report = jobs.resize(base / "list.txt", base / "o.npy", size="16x16")
    assert report.up_to_date and report.counts == {"skipped": len(names)} and report.array.shape[0] == len(names)
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--size", "20x20")
    assert r.returncode == 2 and "exists from another job" in r.stderr and "of 16x16, method area" in r.stderr
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--size", "16x16", "--method", "exact")
    assert r.returncode == 2 and "--overwrite" in r.stderr
    r = cli("resize", base / "list.txt", "--out", base / "o.npy", "--size", "20x20", "--overwrite")
    assert r.returncode == 0 and np.load(base / "o.npy").shape[1:] == (20, 20, 3)


@pytest.mark.parametrize("out", ["b.npy", "b.zarr"])
def test_resume_plans_only_the_slices_not_recorded_done(jpegs, out):
    pytest.importorskip("zarr", reason="zarr is in the test extras")
    from jobs.resize_job.tasks import create_output, fill

    base, names = jpegs
    opts = ResizeOptions.resolve(size="16x16", batch_size=2)
    plan = plan_resize(base / "list.txt", base / out, opts)
    where = plan.finish.where
    offset = create_output(where)
    slices = [(s, e) for s, e in plan.finish.todo]
    assert len(slices) == 5 and len(names) == 9
    for s, e in slices[1:3]:  # an interrupted run finished slices 1 and 2
        fill(where, offset, s, plan.finish.paths[s:e], opts)
    again = plan_resize(base / "list.txt", base / out, ResizeOptions.resolve(size="16x16", batch_size=3))
    todo = list(again.finish.todo)
    if out.endswith(".zarr"):
        assert todo == [(0, 2), (6, 8), (8, 9)]  # the store's chunks (2) are kept
    else:
        assert todo == [(0, 2), (6, 9)]  # a new batch size for what is left
    assert again.total == 5 and sum(len(o) for o in again.settled) == 4
    report = jobs.resize(base / "list.txt", base / out, size="16x16", batch_size=3, progress=False)
    assert report.sidecar["timing"]["resumed_images"] == 4
    jobs.resize(base / "list.txt", base / "ref.npy", size="16x16", progress=False)
    np.testing.assert_array_equal(report.array[:], np.load(base / "ref.npy"))
    # another job into the same place starts over rather than reusing the other's slices
    plan = plan_resize(base / "list.txt", base / "c.npy", opts)
    fill(plan.finish.where, create_output(plan.finish.where), 0, plan.finish.paths[:2], opts)
    other = plan_resize(base / "list.txt", base / "c.npy", ResizeOptions.resolve(size="17x16"))
    assert other.finish.where.fresh and other.total == len(names)


def test_resize_array_is_lazy_ships_file_names_and_equals_the_batch(jpegs, tmp_path):
    import dask

    base, names = jpegs
    arr = jobs.resize_array(base / "list.txt", size="32x24", chunk=4)
    assert arr.shape == (len(names), 24, 32, 3) and arr.dtype == np.uint8 and arr.chunks[0] == (4, 4, 1)
    for task in dict(arr.__dask_graph__()).values():  # every task carries names, never pixels
        assert not any(isinstance(a, np.ndarray) for a in task[1:]) and all(isinstance(p, str) for p in task[1])
    jobs.resize(base / "list.txt", base / "b.npy", size="32x24", progress=False)
    np.testing.assert_array_equal(arr.compute(scheduler="threads"), np.load(base / "b.npy"))
    with dask.config.set(scheduler="processes"):
        np.testing.assert_array_equal(arr[2:5].compute(), np.load(base / "b.npy")[2:5])
    (base / "imgs" / "zz.JPEG").write_bytes(b"\xff\xd8\xff broken")
    with open(base / "list.txt", "a") as f:
        f.write("imgs/zz.JPEG 7\n")
    broken = jobs.resize_array(base / "list.txt", size="32x24", chunk=4)
    with pytest.raises(Exception, match=r"zz\.JPEG"):
        broken.compute(scheduler="threads")
    zeroed = jobs.resize_array(base / "list.txt", size="32x24", chunk=4, errors="zero").compute(scheduler="threads")
    np.testing.assert_array_equal(zeroed[-1], np.zeros((24, 32, 3), np.uint8))
    np.testing.assert_array_equal(zeroed[:-1], np.load(base / "b.npy"))


@pytest.mark.parametrize("out", ["b.npy", "b.wds"])
def test_a_rerun_of_a_batch_with_failures_fails_them_again_by_name(tmp_path, rng, out):
    # `imgjobs resize ... && train` must not go on over rows that are zeros (issue 31, item 5)
    good = tmp_path / "good.jpg"
    Image.fromarray(photo(rng, 40, 30)).save(good)
    empty = [tmp_path / f"empty{i}.jpg" for i in range(3)]
    for p in empty:
        p.write_bytes(b"")
    listfile = tmp_path / "list.txt"
    listfile.write_text("".join(f"{p}\n" for p in [good, *empty]))
    args = ["resize", listfile, "--out", tmp_path / out, "--size", "8x8", "--no-progress"]
    first = cli(*args)
    assert first.returncode == 1 and all(str(p) in first.stderr for p in empty), first.stderr
    again = cli(*args)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "nothing to do" in again.stdout and all(f"FAILED {p}" in again.stderr for p in empty), again.stderr
    report = jobs.resize(listfile, tmp_path / out, size="8x8", progress=False)
    assert report.up_to_date and report.counts == {"skipped": 1, "failed": 3} and report.exit_code == 1


def test_a_slice_is_on_disk_before_it_is_recorded_done_and_written_in_pieces(tmp_path, rng, monkeypatch):
    """A .npy slice is written a piece at a time, each piece's write-back started as it lands, and
    ``fdatasync``-ed whole before its ``done/`` record: a resumed run never skips a slice not on disk."""
    from jobs.resize_job import records, tasks
    from jobs.runtime import writeback

    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(40):
        Image.fromarray(photo(rng, 64, 48)).save(d / f"{i}.jpg", quality=90)
    (tmp_path / "list.txt").write_text("".join(f"imgs/{i}.jpg\n" for i in range(40)))
    monkeypatch.setattr(tasks, "PIECE_IMAGES", 8)
    events: list = []
    writes, syncs, done = writeback.RangeWriter.write, writeback.RangeWriter.sync, records.write_done
    monkeypatch.setattr(writeback.RangeWriter, "write", lambda s, *a: events.append("write") or writes(s, *a))
    monkeypatch.setattr(writeback.RangeWriter, "sync", lambda s: events.append("sync") or syncs(s))
    monkeypatch.setattr(records, "write_done", lambda *a, **k: events.append("done") or done(*a, **k))
    report = jobs.resize(
        tmp_path / "list.txt", tmp_path / "b.npy", size="16x12", batch_size=20, scheduler="threads", workers=1
    )
    assert report.ok and events == (["write"] * 3 + ["sync", "done"]) * 2  # pieces of 8, 8 and 4 images
    assert np.array_equal(np.load(tmp_path / "b.npy")[39], load_rgb(d / "39.jpg", (16, 12)))
