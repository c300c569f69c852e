"""The sample JPEGs: class folders and a labelled list that resize reads, the same bytes for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import jobs
from conftest import imgjobs
from jobs.samples import make_jpegs


def test_samples_are_jpegs_in_class_folders_listed_with_their_labels(tmp_path):
    listing = make_jpegs(tmp_path / "a", 9, classes=3, size=(80, 60), seed=4)
    lines = [line.split("\t") for line in listing.read_text().splitlines()]
    assert [label for _, label in lines] == ["0", "1", "2"] * 3
    for name, label in lines:
        assert name.startswith(f"class-{label}/")
        with Image.open(tmp_path / "a" / name) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (80, 60))
            pixels = np.asarray(im, np.int16)
        # photograph-like: not flat, not pure noise (neighbouring pixels are close more often than not)
        assert pixels.std() > 10 and np.median(np.abs(np.diff(pixels, axis=1))) < 16
    report = jobs.resize(listing, tmp_path / "b.npy", size="16x16", progress=False)
    assert report.exit_code == 0 and report.labels.tolist() == [0, 1, 2] * 3
    # the same seed: the same bytes; another seed: other images
    again = make_jpegs(tmp_path / "c", 9, classes=3, size=(80, 60), seed=4)
    other = make_jpegs(tmp_path / "d", 9, classes=3, size=(80, 60), seed=5)
    for name, _ in lines:
        assert (tmp_path / "a" / name).read_bytes() == (again.parent / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (other.parent / name).read_bytes()


def test_the_samples_command_and_its_bad_input(tmp_path):
    r = imgjobs("samples", tmp_path / "s", "--jpegs", "6", "--classes", "2", "--size", "40x30")
    assert r.returncode == 0, r.stderr
    assert "wrote 6 JPEG(s) in 2 class folder(s)" in r.stdout
    assert len((tmp_path / "s" / "train.txt").read_text().splitlines()) == 6
    r = imgjobs("samples", tmp_path / "t", "--jpegs", "2", "--classes", "3")
    assert (
        r.returncode == 2
        and "classes must be 1..2 (the number of images), got 3" in r.stderr
        and "Traceback" not in r.stderr
    )
    r = imgjobs("samples", tmp_path / "t", "--size", "4x4")
    assert r.returncode == 2 and "size must be 8..8192 on each side, got 4x4" in r.stderr
    with pytest.raises(jobs.UsageError, match=r"the number of images must be 1\.\.1000000, got 0"):
        make_jpegs(tmp_path / "u", 0)


def test_samples_refuse_what_they_cannot_write_by_name_and_leave_nothing(tmp_path):
    # found by a hostile user: tracebacks, a flag never given named, a temporary left behind
    (tmp_path / "afile").write_text("x")
    r = imgjobs("samples", tmp_path / "afile", "--jpegs", "2")
    assert r.returncode == 2 and "cannot make the class folders there" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "d" / "train.txt").mkdir(parents=True)
    r = imgjobs("samples", tmp_path / "d", "--jpegs", "2")
    assert r.returncode == 2 and "train.txt is a directory" in r.stderr
    assert not list((tmp_path / "d").glob(".train.txt*"))
    r = imgjobs("samples", "", "--jpegs", "2")
    assert r.returncode == 2 and "the output directory is empty" in r.stderr
    r = imgjobs("samples", tmp_path / "two", "--jpegs", "2")  # fewer images than the default 4 classes
    assert r.returncode == 0 and "in 2 class folder(s)" in r.stdout, r.stderr
    r = imgjobs("samples", tmp_path / "s", "--seed", "-1")
    assert r.returncode == 2 and "--seed" in r.stderr
    assert make_jpegs(tmp_path / "str", 2, size="16x12").exists()  # the size as resize takes it
    with pytest.raises(jobs.UsageError, match=r"quality must be 1\.\.95, got 0"):
        make_jpegs(tmp_path / "q", 2, quality=0)
