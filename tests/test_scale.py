"""Jobs at scale: tasks carry ranges of a list, not names; a run keeps a bounded window of tasks in flight.

The figures themselves (plan time, graph size and client memory for 1.28M and
10M images) are benchmarks (``scripts/bench_scale.py``); these tests hold the
promises they rest on, at any size: a list read by ranges gives exactly what
reading it whole gives, a graph does not grow with the length of the names, a
list changed after planning is refused, and a run never has more than its
window of tasks on the scheduler.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import jobs
from jobs.errors import StalePlan, UsageError
from jobs.resize_job import listed as listed_mod
from jobs.resize_job.listed import ListedPaths, scan_list, split_list_line
from jobs.runtime.listfile import ListFile

# ---------------------------------------------------------------- a list read by ranges


def reference(path: str):
    """The list read whole, as text, line by line: what any range of the scan must agree with."""
    base = os.path.dirname(os.path.abspath(path))
    paths, texts = [], []
    with open(path, encoding="utf-8-sig", newline=None) as f:  # universal newlines: \n, \r\n and \r
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, label = split_list_line(line)
            paths.append(name if os.path.isabs(name) else os.path.join(base, name))
            texts.append(label)
    return paths, texts


_name = st.text(st.sampled_from("abc XY_-./é"), min_size=1, max_size=12).filter(lambda s: s.strip(" ") == s)
_entry = st.tuples(
    st.one_of(_name, _name.map(lambda n: "/abs/" + n)),
    st.sampled_from([None, " 7", " 12", "\tcat", "\tdog", "\t0"]),
)
_noise = st.sampled_from(["", "# a comment", "   ", "#"])
_end = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=120)
@given(
    entries=st.lists(st.tuples(_entry, st.lists(_noise, max_size=2), _end), min_size=1, max_size=40),
    bom=st.booleans(),
    chunk=st.integers(1, 64),
    cut=st.data(),
)
def test_a_list_scanned_in_chunks_and_read_by_ranges_is_the_list_read_whole(tmp_path_factory, entries, bom, chunk, cut):
    d = tmp_path_factory.mktemp("lists")
    labelled = entries[0][0][1] is not None
    text = "\ufeff" if bom else ""
    for (name, label), noise, end in entries:
        for extra in noise:
            text += extra + end
        text += name + ((label or " 3") if labelled else "") + end
    path = d / "list.txt"
    path.write_bytes(text.encode("utf-8"))
    want_paths, want_texts = reference(str(path))
    old, listed_mod.CHUNK_BYTES = listed_mod.CHUNK_BYTES, chunk  # chunk boundaries anywhere in a line
    try:
        scan = scan_list(str(path))
    finally:
        listed_mod.CHUNK_BYTES = old
    paths = ListedPaths(scan)
    assert list(paths) == want_paths and len(paths) == len(want_paths)
    a = cut.draw(st.integers(0, len(want_paths)))
    b = cut.draw(st.integers(a, len(want_paths)))
    part = pickle.loads(pickle.dumps(paths[a:b]))  # what a task gets: a range, read where it runs
    assert list(part) == want_paths[a:b] and part.load()[1] == want_texts[a:b]
    assert len(pickle.dumps(paths[a:b])) < 400  # a range, whatever it holds
    if labelled:
        whole = all(t.lstrip("+-").isdigit() for t in want_texts)
        classes = None if whole else sorted(set(want_texts))
        expect = [int(t) for t in want_texts] if whole else [classes.index(t) for t in want_texts]
        assert scan.classes == classes and scan.labels.tolist() == expect
    else:
        assert scan.labels is None


def test_a_line_across_a_chunk_boundary_stays_one_line(tmp_path, monkeypatch):
    (tmp_path / "l.txt").write_text("first.jpg 1\r\nsecond one.jpg\t2\n")
    monkeypatch.setattr(listed_mod, "CHUNK_BYTES", 5)
    scan = scan_list(str(tmp_path / "l.txt"))
    assert list(ListedPaths(scan)) == [str(tmp_path / "first.jpg"), str(tmp_path / "second one.jpg")]
    assert scan.labels.tolist() == [1, 2]


@pytest.mark.parametrize("entry", ["b.npy", "./sub/../b.npy", "b.labels.npy", "b.npy.json", "b.npy/"])
def test_a_list_that_names_an_output_is_refused_before_anything_is_written(tmp_path, entry):
    listfile = _list_of(tmp_path, 20, "s")
    with open(listfile, "a") as f:
        f.write(f"{entry} 1\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(UsageError, match="is one of the job's inputs"):
        jobs.resize(listfile, tmp_path / "b.npy", size="8x8")
    assert sorted(os.listdir(tmp_path)) == ["s", "s.txt", "sub"]


def test_a_list_cut_short_by_num_images_digests_only_what_it_takes(tmp_path):
    (tmp_path / "a.txt").write_text("x.jpg 1\n# c\ny.jpg 2\nz.jpg 3\n")
    (tmp_path / "b.txt").write_text("x.jpg 1\n# c\ny.jpg 2\nother.jpg 5\n")
    a, b = scan_list(str(tmp_path / "a.txt"), 2), scan_list(str(tmp_path / "b.txt"), 2)
    assert len(a) == 2 and a.paths_digest == b.paths_digest and a.labels.tolist() == [1, 2]
    assert list(ListedPaths(a)) == [str(tmp_path / "x.jpg"), str(tmp_path / "y.jpg")]


def test_a_list_changed_after_planning_is_refused_where_a_task_reads_it(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a.jpg\nb.jpg\n")
    part = ListedPaths(scan_list(str(path)))[1:2]
    path.write_text("a.jpg\nbb.jpg\n")  # one byte more
    with pytest.raises(StalePlan, match="changed since this job was planned"):
        part.load()
    listed = ListFile.of(str(path))
    os.utime(path, ns=(0, listed.mtime_ns + 10**9))  # the same size, touched
    with pytest.raises(StalePlan):
        listed.read(0, 2)
    for edit in ("swap", "rename"):  # the same size, the modification time put back (a hostile review's break)
        path.write_text("a.jpg\nb.jpg\n")
        listed = ListFile.of(str(path))
        if edit == "swap":
            path.write_text("b.jpg\na.jpg\n")
        else:
            (tmp_path / "new.txt").write_text("b.jpg\na.jpg\n")
            os.replace(tmp_path / "new.txt", path)
        os.utime(path, ns=(listed.mtime_ns, listed.mtime_ns))
        assert os.stat(path).st_size == listed.size
        with pytest.raises(StalePlan, match="changed since this job was planned"):
            listed.read(0, 6)
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        ListFile.of(str(fifo))  # refused, never opened for a blocking read


def test_a_range_whose_bytes_hold_other_entries_is_a_stale_plan(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a.jpg\nb.jpg\n")
    part = ListedPaths(scan_list(str(path)))[0:2]
    forged = listed_mod.ListRange(part.listed, part.base, part.begin, part.end, 0, 3)
    with pytest.raises(StalePlan, match="hold 2 entries, not the 3 planned"):
        forged.load()


# ---------------------------------------------------------------- a resize job's graph carries no names


def _list_of(tmp_path, n: int, prefix: str) -> str:
    d = tmp_path / prefix
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(d / f"im{i}.jpg")
    lines = "".join(f"{prefix}/im{i % 3}.jpg {i % 5}\n" for i in range(n))
    (tmp_path / f"{prefix}.txt").write_text(lines)
    return str(tmp_path / f"{prefix}.txt")


def _graph_bytes(delayed) -> int:
    import cloudpickle

    return len(cloudpickle.dumps(dict(delayed.__dask_graph__())))


def test_a_resize_graph_grows_with_its_tasks_not_with_its_names(tmp_path):
    short = _list_of(tmp_path, 3000, "s")
    long = _list_of(tmp_path, 3000, "a-much-longer-folder-name-" + "x" * 150)
    a = jobs.resize(short, tmp_path / "a.npy", size="8x8", batch_size=100, compute=False)
    b = jobs.resize(long, tmp_path / "b.npy", size="8x8", batch_size=100, compute=False)
    ga, gb = _graph_bytes(a), _graph_bytes(b)
    # 3000 names of ~190 bytes more each would add ~570 kB: the graphs hold ranges, a few hundred bytes a task
    assert abs(gb - ga) < 20_000, (ga, gb)
    assert ga < 32 * 1500, ga  # 30 fill tasks, the first and the last step
    report = b.compute(scheduler="threads")
    assert report.ok and np.load(tmp_path / "b.npy").shape == (3000, 8, 8, 3)
    assert np.load(tmp_path / "b.labels.npy").tolist() == [i % 5 for i in range(3000)]


def test_a_list_edited_between_plan_and_compute_is_a_stale_plan_and_writes_nothing(tmp_path):
    listfile = _list_of(tmp_path, 50, "s")
    graph = jobs.resize(listfile, tmp_path / "b.npy", size="8x8", batch_size=10, compute=False)
    with open(listfile, "a") as f:
        f.write("# an edit\n")
    with pytest.raises(StalePlan, match="changed since this job was planned"):
        graph.compute(scheduler="threads")
    assert not (tmp_path / "b.npy").exists()


# ---------------------------------------------------------------- a bounded window of tasks in flight


def _slow_square(x, *_):
    import time

    time.sleep(0.02)
    return x * x


def _total(*parts):
    return sum(parts[0]) if isinstance(parts[0], list) else sum(parts)


@pytest.mark.timeout(120)
def test_a_run_never_has_more_than_its_window_of_tasks_on_the_scheduler(cluster):
    from distributed import Client, as_completed

    from jobs.runtime.window import submit_windowed

    graph: dict = {("base", 0): (_slow_square, 3)}
    for i in range(60):
        graph[("sq", i)] = (_slow_square, i, ("base", 0))
    graph["total"] = (_total, [("sq", i) for i in range(0, 60, 7)])
    with Client(cluster) as client:
        live: dict = {}
        ready = as_completed(loop=client.loop)
        seen, results = [], {}
        for batch in submit_windowed(client, graph, 5, live, ready):
            assert batch and all(fut.done() for fut in batch)
            results.update(zip([f.key for f in batch], client.gather(batch), strict=True))
            seen.append(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))
        assert results["total"] == sum(i * i for i in range(0, 60, 7))
        assert all(results[("sq", i)] == i * i for i in range(60)) and len(results) == 62
        # the window, plus what a later task still needs (the base, the squares the total adds)
        assert max(seen) <= 5 + 1 + 9, seen
        assert not live  # every future let go once nothing needed it
        # a window is refilled in chunks of a quarter of it, one message each, not one message a task
        flat = {("f", i): (_slow_square, i) for i in range(200)}
        sent = []
        real_get = client.get

        def counting_get(dsk, keys, **kw):
            sent.append(len(keys))
            return real_get(dsk, keys, **kw)

        client.get = counting_get
        try:
            got = [f for batch in submit_windowed(client, flat, 40, {}, as_completed(loop=client.loop)) for f in batch]
        finally:
            del client.get
        assert len(got) == 200 and sum(sent) == 200 and min(sent[:-1]) >= 10 and len(sent) <= 200 // 10 + 1, sent


def test_auto_task_sizes_never_make_more_tasks_than_max_tasks(tmp_path, caplog):
    import dask

    from jobs.resize_job.options import ResizeOptions
    from jobs.resize_job.planner import plan_resize

    listfile = _list_of(tmp_path, 5000, "s")
    with dask.config.set({"imgjobs.max-tasks": 7}), caplog.at_level("INFO", logger="jobs"):
        plan = plan_resize(listfile, str(tmp_path / "b.npy"), ResizeOptions.resolve(size="8x8"), parallelism=2)
    fills = [k for k in plan.graph if "batch" in str(k)]
    assert 1 < len(fills) <= 7 and plan.nfiles == 5000
    assert "at most 7 tasks (imgjobs.max-tasks)" in caplog.text  # it says how it chose
    with dask.config.set({"imgjobs.max-tasks": 10**6}):
        plan = plan_resize(listfile, str(tmp_path / "b.npy"), ResizeOptions.resolve(size="8x8"), parallelism=2)
    assert len([k for k in plan.graph if "batch" in str(k)]) == 5000 // 64 + 1  # images-per-task, 64


# --------------------------------------------------------------------------- reruns: stamps in tasks


def _no_stamps_here(*_a, **_k):
    raise AssertionError("a stamp was taken on the client")


@pytest.mark.timeout(120)
def test_a_rerun_takes_its_stamps_in_tasks_on_the_workers_not_on_the_client(tmp_path, cluster, monkeypatch):
    from distributed import Client

    from jobs.runtime import stamps

    listfile = _list_of(tmp_path, 300, "s")
    out = tmp_path / "b.npy"
    with Client(cluster) as client:
        first = jobs.resize(listfile, out, size="8x8", batch_size=40, client=client)
        assert first.ok and not first.up_to_date
        monkeypatch.setattr(stamps, "of_path", _no_stamps_here)  # the client's copy: the workers have their own
        again = jobs.resize(listfile, out, size="8x8", batch_size=40, client=client)
        assert again.ok and again.up_to_date
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert any(p.startswith("imgjobs-map") for p in prefixes), prefixes
    monkeypatch.undo()
    os.utime(tmp_path / "s" / "im1.jpg", ns=(1, 1))  # in every slice: each is redone, the pixels the same
    with Client(cluster) as client:
        redone = jobs.resize(listfile, out, size="8x8", batch_size=40, client=client)
    assert redone.ok and not redone.up_to_date
    assert redone.sidecar["timing"]["resumed_images"] == 0
    np.testing.assert_array_equal(np.load(out), first.array)


def test_slice_stamps_group_adjacent_slices_into_few_calls_and_keep_their_order(tmp_path):
    from jobs.resize_job import rerun
    from jobs.runtime import stamps

    names = []
    for i in range(10):
        (tmp_path / f"{i}.jpg").write_bytes(bytes([i]) * (i + 1))
        names.append(str(tmp_path / f"{i}.jpg"))
    calls: list = []

    def recording(func, batch):
        calls.extend(batch)
        return [func(*c) for c in batch]

    ranges = [(0, 3), (3, 4), (6, 10)]  # a gap: 4..6 is no slice of these
    got = rerun.slice_stamps(names, ranges, "stat", recording)
    assert got == [stamps.digest(stamps.of_paths(names[a:b])) for a, b in ranges]
    assert [(len(c[0]), c[1]) for c in calls] == [(4, [3, 1]), (4, [4])]  # adjacent slices share a call


@pytest.mark.parametrize(
    "slices, why",
    [
        ([[0, 1, "0" * 32]], "cover 1 image"),  # short
        ([[0, 1, "0" * 32], [2, 3, "0" * 32]], "in order"),  # a gap
        ([[0, 2, "0" * 32], [1, 3, "0" * 32]], "in order"),  # overlapping
        ([[0, 3, "not a digest"]], "in order"),
        ([[0, 3]], "not \\[start, stop, stamp\\]"),
        ("all", "no stamps of its slices"),
    ],
)
def test_a_sidecar_whose_slices_do_not_tile_the_batch_is_damaged(tmp_path, slices, why):
    import json

    listfile = _list_of(tmp_path, 3, "s")
    out = tmp_path / "b.npy"
    jobs.resize(listfile, out, size="8x8", batch_size=1, scheduler="threads")
    side = json.loads((tmp_path / "b.npy.json").read_text())
    side["stamps"]["slices"] = slices
    (tmp_path / "b.npy.json").write_text(json.dumps(side))
    with pytest.raises(UsageError, match=f"b\\.npy\\.json is damaged: .*{why}"):
        jobs.resize(listfile, out, size="8x8", batch_size=1, scheduler="threads")


def test_a_batch_whose_sidecar_has_format_2s_per_image_stamps_is_still_current(tmp_path):
    """Format 2 (one stamp and path per image) is read as slices of images_per_task: a batch built by
    imgjobs 0.2 is current when nothing changed, and one changed image redoes its slice only."""
    import json

    from jobs.runtime import stamps

    listfile = _list_of(tmp_path, 7, "s")
    out = tmp_path / "b.npy"
    first = jobs.resize(listfile, out, size="8x8", batch_size=2, scheduler="threads")
    side = json.loads((tmp_path / "b.npy.json").read_text())
    paths = [str(tmp_path / "s" / f"im{i % 3}.jpg") for i in range(7)]
    side["format"] = "imgjobs-resize-2"
    side["stamps"] = {"mode": "stat", "files": stamps.of_paths(paths)}
    side["files"] = paths
    del side["source"]
    (tmp_path / "b.npy.json").write_text(json.dumps(side))
    again = jobs.resize(listfile, out, size="8x8", batch_size=2, scheduler="threads")
    assert again.up_to_date
    side["stamps"]["files"][5] = "another stamp"  # image 5, in the slice 4..5
    (tmp_path / "b.npy.json").write_text(json.dumps(side))
    redone = jobs.resize(listfile, out, size="8x8", batch_size=2, scheduler="threads")
    assert not redone.up_to_date and redone.sidecar["timing"]["resumed_images"] == 5
    assert redone.sidecar["format"] == "imgjobs-resize-3"
    np.testing.assert_array_equal(np.load(out), first.array)
    # format 2 had no slices: one written into it is never read (nor a reason to trust the batch)
    side["stamps"]["files"] = ["1:1"] * 7
    for forged in ([], 5, [[0, 1]], [[0, 7, "0" * 32]]):
        side["stamps"]["slices"] = forged
        (tmp_path / "b.npy.json").write_text(json.dumps(side))
        again = jobs.resize(listfile, out, size="8x8", batch_size=2, scheduler="threads")
        assert not again.up_to_date and again.sidecar["timing"]["resumed_images"] == 0
        np.testing.assert_array_equal(np.load(out), first.array)
        side = json.loads((tmp_path / "b.npy.json").read_text())
        side.update(format="imgjobs-resize-2", files=paths)
        side["stamps"] = {"mode": "stat", "files": ["1:1"] * 7}


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), max_size=40), st.integers(1, 7))
def test_the_labels_digest_taken_in_parts_is_the_one_earlier_batches_recorded(values, step):
    """Digested a part at a time (no hex string of ten million labels in memory), the labels' digest is
    still what a sidecar written by imgjobs 0.2 holds: its batches' labels stay current."""
    import hashlib
    import json

    from jobs.resize_job import target
    from jobs.runtime import stamps

    labels = np.array(values, dtype=np.int64)
    source = jobs.resize_job.source.Source(["x"] * len(values), labels, ["a", "b"], "list")
    whole = [json.dumps(["a", "b"]), labels.astype("<i8").tobytes().hex()]
    h = hashlib.sha256()
    for item in whole:
        h.update(item.encode() + b"\0")
    assert target.labels_digest(source) == h.hexdigest()[:32] == stamps.digest(whole)
    parts = iter([whole[1][: step * 16], whole[1][step * 16 :]])
    assert stamps.digest([whole[0], parts]) == stamps.digest(whole)
