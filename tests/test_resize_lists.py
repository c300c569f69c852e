"""A resize job's file list as its writer means it, and the refusal of another job's output fact by fact.

A list is labelled by spaces (ImageNet's ``path 7``) only when every line
without a TAB ends in a space and a whole number; otherwise such a line is a
path, whole (``scan 12``).  A line ended by a TAB has no label.  What the
documented writer writes reads back exactly, in any chunks and any range.  An
output of another job is refused naming each fact that differs (the list's
length, whether it only grew, its content, size, fit, method...) and what to do.
"""

from __future__ import annotations

import logging
import os
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import jobs
from jobs.errors import UsageError
from jobs.resize_job import listed as listed_mod
from jobs.resize_job.listed import ListedPaths, scan_list

# ---------------------------------------------------------------- the list format, round trip

_NUMBERED = re.compile(r".* [+-]?[0-9]+")
_path = st.text(st.sampled_from("ab Z09._-/é#"), min_size=1, max_size=12).filter(
    lambda s: s == s.strip() and not s.startswith("#")
)
_label = st.one_of(
    st.integers(0, 10**6).map(str), st.text(st.sampled_from("ab n0 1"), min_size=1, max_size=6).map(str.strip)
).filter(bool)


def write_list(entries, style: str, end: str) -> str:
    """What a writer of the documented format writes: ``path label`` (a whole number) or ``path<TAB>label``;
    unlabelled, each path on its line, ended by a TAB when every path ends in a space and a whole number."""
    lines = []
    every_numbered = all(_NUMBERED.fullmatch(p) for p, _, _ in entries)
    for path, label, tab in entries:
        if style == "none":
            lines.append(path + ("\t" if every_numbered else ""))
        elif tab or not label.isdigit():
            lines.append(f"{path}\t{label}")
        else:
            lines.append(f"{path} {label}")
    return "".join(line + end for line in lines)


@settings(max_examples=100)
@given(
    entries=st.lists(st.tuples(_path, _label, st.booleans()), min_size=1, max_size=25),
    style=st.sampled_from(["none", "labelled"]),
    end=st.sampled_from(["\n", "\r\n"]),
    chunk=st.integers(1, 48),
    cut=st.data(),
)
def test_what_a_writer_of_the_documented_format_writes_reads_back_exactly(
    tmp_path_factory, entries, style, end, chunk, cut
):
    d = tmp_path_factory.mktemp("lists")
    path = d / "list.txt"
    path.write_bytes(write_list(entries, style, end).encode("utf-8"))
    old, listed_mod.CHUNK_BYTES = listed_mod.CHUNK_BYTES, chunk  # lines of either kind in any chunk
    try:
        scan = scan_list(str(path))
    finally:
        listed_mod.CHUNK_BYTES = old
    want = [p if p.startswith("/") else f"{d}/{p}" for p, _, _ in entries]
    assert list(ListedPaths(scan)) == want
    a = cut.draw(st.integers(0, len(want)))
    b = cut.draw(st.integers(a, len(want)))
    part = pickle.loads(pickle.dumps(ListedPaths(scan)[a:b]))  # a task's range, parsed as the scan decided
    assert list(part) == want[a:b]
    if style == "none":
        assert scan.labels is None
        return
    texts = [label for _, label, _ in entries]
    if all(t.isdigit() for t in texts):
        assert scan.classes is None and scan.labels.tolist() == [int(t) for t in texts]
    else:
        assert scan.classes == sorted(set(texts)) and scan.labels.tolist() == [scan.classes.index(t) for t in texts]


def test_a_name_ending_in_a_number_in_an_unlabelled_list_is_a_path_whole(tmp_path, rng, caplog):
    Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(tmp_path / "scan 12", format="JPEG")
    (tmp_path / "list.txt").write_text("a.jpg\nscan 12\n")
    with caplog.at_level(logging.WARNING):
        report = jobs.resize(tmp_path / "list.txt", tmp_path / "b.npy", size="8x8", progress=False)
    assert report.ok and report.labels is None
    assert [os.path.basename(r.src) for r in report.results] == ["a.jpg", "scan 12"]
    assert "line 2 (scan 12) ends in a space and a whole number but line 1 (a.jpg) does not" in caplog.text
    scan = scan_list(str(tmp_path / "list.txt"))
    assert list(pickle.loads(pickle.dumps(ListedPaths(scan)[1:2]))) == [str(tmp_path / "scan 12")]
    (tmp_path / "tabs.txt").write_text("scan 12\t\nscan 13 \t\n")  # every path numbered: a TAB says no label
    scan = scan_list(str(tmp_path / "tabs.txt"))
    assert scan.labels is None and list(ListedPaths(scan)) == [str(tmp_path / n) for n in ("scan 12", "scan 13")]
    (tmp_path / "imagenet.txt").write_text("scan 12 3\nb.jpg 4\n")  # every line numbered: ImageNet's labels
    scan = scan_list(str(tmp_path / "imagenet.txt"))
    assert scan.labels.tolist() == [3, 4] and next(iter(ListedPaths(scan))) == str(tmp_path / "scan 12")


def test_a_list_where_some_lines_have_a_tab_label_and_others_none_names_the_first_without(tmp_path):
    (tmp_path / "l.txt").write_text("# classes\na.jpg\tcat\n\nscan 12\nb.jpg\tdog\nc.jpg\n")
    with pytest.raises(UsageError, match=r"l\.txt, line 4: scan 12 has no label while 2 others have one"):
        scan_list(str(tmp_path / "l.txt"))


# ---------------------------------------------------------------- another job's output, fact by fact


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    """Five JPEGs; a list of the first four and one of all five (the same four first)."""
    d = tmp_path_factory.mktemp("listed")
    rng = np.random.default_rng(3)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(d / f"{i}.jpg")
    (d / "four.txt").write_text("".join(f"{i}.jpg {i % 2}\n" for i in range(4)))
    (d / "five.txt").write_text("".join(f"{i}.jpg {i % 2}\n" for i in range(5)))
    (d / "swapped.txt").write_text("".join(f"{i}.jpg {i % 2}\n" for i in (1, 0, 2, 3)))
    return d


def resize(listed, name, out, **kw):
    kw = {"size": "8x8", "batch_size": 2, **kw}
    return jobs.resize(listed / name, out, progress=False, scheduler="threads", workers=1, **kw)


def files(root) -> dict:
    return {p: (os.path.getsize(p), os.stat(p).st_mtime_ns) for p in map(str, root.rglob("*")) if os.path.isfile(p)}


@pytest.mark.parametrize("out", ["b.wds", "b.npy"])
def test_the_refusal_of_another_jobs_output_names_each_fact_that_differs(tmp_path, listed, out):
    out = tmp_path / out
    assert resize(listed, "four.txt", out).ok
    before = files(tmp_path)
    with pytest.raises(UsageError) as e:
        resize(listed, "five.txt", out)
    said = str(e.value)
    assert "exists from another job" in said and "its list had 4 image(s), this one has 5" in said, said
    assert "its first 4 the same: this list only grew" in said and "Use --overwrite to replace it" in said, said
    assert "add only the 1 new image(s), put the entries after the first 4 in a list of their own" in said, said
    assert ("give your loader both shard patterns" in said) == (out.suffix == ".wds"), said
    with pytest.raises(UsageError, match=r"its list of 4 image\(s\) differs from this one \(other paths, or an"):
        resize(listed, "swapped.txt", out)
    with pytest.raises(UsageError, match=r"what differs: size 8x8, here 8x6; fit stretch, here crop\. Use --over"):
        resize(listed, "four.txt", out, size="8x6", fit="crop")
    with pytest.raises(UsageError) as e:
        resize(listed, "five.txt", out, method="exact")  # grown, and another method: no advice to extend
    assert "this list only grew; method area, here exact. Use" in str(e.value) and "add only" not in str(e.value)
    if out.suffix == ".wds":
        with pytest.raises(UsageError, match="images per shard 2, here 3"):
            resize(listed, "four.txt", out, batch_size=3)
    assert files(tmp_path) == before  # every refusal before any work


def test_a_wds_asked_again_with_auto_or_with_the_size_auto_chose_is_the_same_job(tmp_path):
    """The shard size is part of a .wds output's identity as given (auto: none), and auto keeps the size the
    first run chose: asked again either way, the output is up to date; another size is refused, by name."""
    d = tmp_path / "imgs"
    d.mkdir()
    for i in range(12):
        Image.fromarray(np.full((20, 30, 3), 10 * i, np.uint8)).save(d / f"{i}.jpg")
    listfile = tmp_path / "list.txt"
    listfile.write_text("".join(f"imgs/{i}.jpg\n" for i in range(12)))
    for first, again in ((5, None), (None, "chosen")):
        out = tmp_path / f"t{first}.wds"
        made = jobs.resize(listfile, out, size="8x8", batch_size=first, progress=False)
        per = made.sidecar["shards"]["images_per_shard"]
        report = jobs.resize(listfile, out, size="8x8", batch_size=per if again else None, progress=False)
        assert report.up_to_date, (first, again)
        with pytest.raises(UsageError, match=rf"images per shard {per}, here {per + 1}"):
            jobs.resize(listfile, out, size="8x8", batch_size=per + 1, progress=False)
