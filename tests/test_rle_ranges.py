"""The RLE jobs at scale: tasks carry ranges of the run's work list, reruns judge outputs in range tasks.

Named cases (names that sort differently as inputs and as outputs, inputs that
share an output name across a range boundary, names no UTF-8 decodes, a
manifest that lies) and a randomized model: a hypothesis state machine adds,
edits and deletes inputs, damages outputs and the manifest, and runs compress
(now, and as a graph computed later) with ranges of two or three entries, so
every boundary case comes up; after every run each input's output is what the
plain reference encoder makes of it, or the input failed by name.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import cloudpickle
import dask
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from PIL import Image

import jobs
import rle
from conftest import imgjobs, pillow_bits, reference_encode, rewrite
from jobs.rle_job import manifest
from jobs.rle_job.journal import PARTS
from jobs.rle_job.manifest import HEADER, MANIFEST, key, read_records, read_window, record
from jobs.rle_job.options import CompressOptions
from jobs.rle_job.planning import plan_compress
from jobs.rle_job.ranges import RangeBatch, split_blob
from jobs.runtime.listfile import ListFile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from make_samples import make_small

#: Input names that test the plan's order and the output names: ``a.c.bmp`` sorts before ``a.bmp`` as an
#: input and after it as an output; ``a.png`` makes ``a.rle`` too; the rest are names people do have.
TRICKY = ["a.bmp", "a.png", "a.c.bmp", "a.rle-b.bmp", "b c.bmp", "new\nline.bmp", "-.png", "Z.BMP", "é.gif"]


def save(path, seed: int, size=(13, 9)) -> None:
    rng = np.random.default_rng(seed)
    fmt = {".png": "PNG", ".gif": "GIF"}.get(os.path.splitext(os.fsdecode(path))[1].lower(), "BMP")
    rewrite(path, lambda p: Image.fromarray(rng.random(size[::-1]) > 0.5).save(p, format=fmt))


def expected(src: Path, name: str) -> bytes:
    return reference_encode(pillow_bits(src / name))


def compressed(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    """A source of ``names`` (image ``k`` made with seed ``k + 1``), compressed once: (source, output)."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for seed, name in enumerate(names, start=1):
        save(src / name, seed)
    assert jobs.compress(src, out, scheduler="threads", progress=False).ok
    return src, out


@pytest.fixture
def small_ranges(monkeypatch):
    """Ranges of three entries: a rerun's judging tasks and their boundaries come up with a few files."""
    monkeypatch.setattr("jobs.rle_job.pairs.MAP_ITEMS", 3)


def test_tasks_carry_ranges_and_the_graph_does_not_grow_with_the_names(tmp_path):
    sizes = {}
    for n in (300, 3000):
        src = tmp_path / f"src{n}"
        make_small(str(src), n)
        with dask.config.set({"imgjobs.rle.batch-bytes": 200_000, "imgjobs.rle.min-batch-bytes": 200_000}):
            plan = plan_compress(src, tmp_path / f"out{n}", CompressOptions.resolve(), parallelism=2)
        data = cloudpickle.dumps(plan.graph)
        assert b"tile-0000001" not in data and b"tile-" not in data  # no file name in the graph
        for task in plan.graph.values():
            assert isinstance(task[1], RangeBatch)
        sizes[n] = len(data) / plan.ntasks
        plan.finish.abort()
    assert sizes[3000] < 1.2 * sizes[300], sizes  # bytes a task: the same for ten times the files


def test_names_that_sort_apart_clash_or_are_not_utf8_compress_and_rerun(tmp_path, small_ranges):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    names = [*TRICKY, os.fsdecode(b"\xff\xfe.bmp")]
    for seed, name in enumerate(names):
        save(src / name, seed)
    (src / ".hidden.bmp").write_bytes(b"not read")
    report = jobs.compress(src, out, scheduler="threads", progress=False)
    assert report.counts == {"ok": len(names) - 1, "failed": 1}
    (bad,) = report.problems
    assert bad.src == str(src / "a.png") and f"is also the output of {src / 'a.bmp'}" in bad.reason
    for name in names:
        if name != "a.png":
            stem = os.path.splitext(name)[0]
            assert (out / f"{stem}.rle").read_bytes() == expected(src, name), name
    recorded = read_records(str(out))
    assert sorted(recorded) == sorted(os.path.splitext(n)[0] + ".rle" for n in names if n != "a.png")
    again = jobs.compress(src, out, scheduler="threads", progress=False)
    assert again.counts == {"skipped": len(names) - 1, "failed": 1}
    save(src / "a.c.bmp", 99)  # one input changes: only its output is made again
    third = jobs.compress(src, out, scheduler="threads", progress=False)
    assert [os.path.basename(r.dst) for r in third if r.status == "ok"] == ["a.c.rle"]
    assert (out / "a.c.rle").read_bytes() == expected(src, "a.c.bmp")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [MANIFEST]


def test_a_clash_across_a_range_boundary_names_the_input_that_makes_the_output(tmp_path, monkeypatch):
    monkeypatch.setattr("jobs.rle_job.pairs.MAP_ITEMS", 1)  # every entry a range of its own
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for seed, name in enumerate(["p.bmp", "p.gif", "p.png", "q.bmp"]):
        save(src / name, seed)
    report = jobs.compress(src, out, scheduler="threads", progress=False)
    reasons = sorted(r.reason for r in report.problems)
    assert [f"is also the output of {src / 'p.bmp'}" in why for why in reasons] == [True, True]
    assert (out / "p.rle").read_bytes() == expected(src, "p.bmp")


def test_split_blob_is_the_partition_of_each_entry(tmp_path):
    rng = np.random.default_rng(3)
    alphabet = [bytes([c]) for c in range(1, 256) if c != ord("/")]
    entries = [
        b"".join(rng.choice(alphabet, rng.integers(1, 9))) + b"/" + b"".join(rng.choice(alphabet, rng.integers(1, 9)))
        for _ in range(2000)
    ]
    blob = b"".join(e + b"\0" for e in entries)
    manifest_split = pytest.MonkeyPatch()
    for chunk in (7, 100, 1 << 22):  # slices cut at entry ends, whatever their size
        manifest_split.setattr("jobs.rle_job.ranges._SPLIT_BYTES", chunk)
        ins, outs = split_blob(blob)
        assert ins == b"".join(e.partition(b"/")[2] + b"\0" for e in entries)
        assert outs == b"".join(e.partition(b"/")[0] + b"\0" for e in entries)
    manifest_split.undo()


def _manifest(path: Path, records: list[tuple[bytes, bytes, bytes, bytes]], junk: bytes = b"") -> ListFile:
    body = b"".join(record(*r) for r in sorted(records, key=lambda r: key(r[0])))
    path.write_bytes(HEADER + body + junk)
    return ListFile.of(str(path))


def test_a_window_finds_every_record_by_bisection_whatever_the_file_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest, "_READ", 64)  # bisection steps over a file of a few KB
    recs = [(b"o%05d.rle" % i, b"i%05d.bmp" % i, b"%d:%d" % (i, i), b"9:%d" % i) for i in range(0, 3000, 3)]
    listed = _manifest(tmp_path / "m", recs, junk=b"\0\0garbage\0\0\0\0")
    for lo in range(0, 1000, 97):
        want = {r[0]: r[1:] for r in recs[lo : lo + 5]}
        got = read_window(listed, key(recs[lo][0]), key(recs[min(lo + 4, len(recs) - 1)][0]))
        assert got == want
    assert read_window(listed, key(b"o00001.rle"), key(b"o00002.rle")) == {}  # between records: none
    # a manifest with a name no file has, or out of order: records are missed, never invented
    shuffled = tmp_path / "s"
    shuffled.write_bytes(HEADER + b"".join(record(*r) for r in reversed(recs)))
    found = read_window(ListFile.of(str(shuffled)), key(recs[500][0]), key(recs[500][0]))
    assert found in ({}, {recs[500][0]: recs[500][1:]})


def _to_format_2(out: Path) -> None:
    """Replace a directory's manifest by the format-2 record imgjobs 0.3.0 would have written."""
    entries = {name: f"{r[1].split('|')[0]}|{r[2].split(':i')[0]}" for name, r in read_records(str(out)).items()}
    (out / MANIFEST).unlink()
    (out / manifest.LEGACY).write_text(json.dumps({"format": "imgjobs-stamps-2", "outputs": entries}))


def test_a_format_2_record_is_read_and_replaced(tmp_path, caplog):
    src, rles = compressed(tmp_path, "a.bmp", "b.bmp")
    bmps = tmp_path / "bmp"
    jobs.decompress(rles, bmps, scheduler="threads", progress=False)
    # decompress: nothing but its input shapes an output, so 0.3.0's records still say what is current
    os.utime(bmps / "a.bmp", ns=(1, 1))  # older than its input: by the times alone, made again
    _to_format_2(bmps)
    entries = json.loads((bmps / manifest.LEGACY).read_text())["outputs"]
    entries["a.bmp"] = entries["a.bmp"].split("|")[0] + f"|{(bmps / 'a.bmp').stat().st_size}:1"
    (bmps / manifest.LEGACY).write_text(json.dumps({"format": "imgjobs-stamps-2", "outputs": entries}))
    assert jobs.decompress(rles, bmps, scheduler="threads", progress=False).counts == {"skipped": 2}
    save(src / "b.bmp", 3)
    jobs.compress(src, rles, scheduler="threads", progress=False)
    report = jobs.decompress(rles, bmps, scheduler="threads", progress=False)
    assert report.counts == {"ok": 1, "skipped": 1}
    assert not (bmps / manifest.LEGACY).exists() and sorted(read_records(str(bmps))) == ["a.bmp", "b.bmp"]
    # compress: 0.3.0 recorded no threshold, so its outputs cannot be vouched for: made again, once, saying why
    _to_format_2(rles)
    assert jobs.compress(src, rles, scheduler="threads", progress=False).counts == {"ok": 2}
    assert "made with settings it did not record, this run with dither" in caplog.text
    assert jobs.compress(src, rles, scheduler="threads", progress=False).counts == {"skipped": 2}


# --------------------------------------------------------------------------- the model

POOL = ["a.bmp", "a.png", "a.c.bmp", "b c.bmp", "new\nline.bmp", "z.gif", "z.bmp"]


class RangesModel(RuleBasedStateMachine):
    """Inputs come and go and change; outputs and the manifest are damaged; compress runs in between."""

    @initialize(seed=st.integers(0, 2**16))
    def setup(self, seed):
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="imgjobs-ranges-"))
        self.src, self.out = self.root / "src", self.root / "out"
        self.src.mkdir()
        self.seed = seed
        self.patch = pytest.MonkeyPatch()
        self.patch.setattr("jobs.rle_job.pairs.MAP_ITEMS", 2 + seed % 2)
        #: Inputs edited at the same size with their times put back: name -> what their output was before.
        self.sneaky: dict = {}
        self.killed = False
        for k, name in enumerate(POOL[seed % 3 :: 2]):  # a directory made once already: outputs to edit under
            save(self.src / name, seed + k)
        jobs.compress(self.src, self.out, scheduler="threads", progress=False)

    def teardown(self):
        import shutil

        self.patch.undo()
        shutil.rmtree(self.root, ignore_errors=True)

    def _makers(self) -> dict:
        """Output name -> the input that makes it (the first by name, in bytes), of the inputs there now."""
        makers: dict = {}
        for name in sorted(os.listdir(os.fsencode(self.src))):
            makers.setdefault(os.path.splitext(name)[0] + b".rle", name)
        return {os.fsdecode(k): os.fsdecode(v) for k, v in makers.items()}

    @rule(name=st.sampled_from(POOL), seed=st.integers(0, 50))
    def write_input(self, name, seed):
        path = self.src / name
        save(path, seed, size=(5 + seed % 7, 3 + seed % 5))
        made = self.out / (os.path.splitext(name)[0] + ".rle")
        if made.exists() and made.stat().st_mtime_ns >= path.stat().st_mtime_ns:  # an edit after the output,
            os.utime(path, ns=(0, made.stat().st_mtime_ns + 1_000_000))  # as a coarse clock might not show

    @rule(name=st.sampled_from(POOL))
    def delete_input(self, name):
        if (self.src / name).exists():
            (self.src / name).unlink()
        self.sneaky.pop(name, None)

    @rule(name=st.sampled_from(POOL))
    def break_input(self, name):
        """An input that is no image (0 bytes): it fails by name on every run until it is mended."""
        (self.src / name).write_bytes(b"")
        self.sneaky.pop(name, None)

    @rule(name=st.sampled_from(POOL), seed=st.integers(51, 99))
    def edit_pixels_keep_size_and_time(self, name, seed):
        """Other pixels, the same size and modification time (``touch -r``): only content stamps see it."""
        path = self.src / name
        made = self.out / (os.path.splitext(name)[0] + ".rle")
        if not path.exists() or not made.exists() or name in self.sneaky:
            return
        before, old = path.stat(), made.read_bytes()
        with Image.open(path) as im:
            size = im.size
        save(path, seed, size=size)
        if path.stat().st_size != before.st_size or expected(self.src, name) == old:
            return  # not an edit stat stamps cannot see (another size, or the same pixels)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        self.sneaky[name] = old

    @rule(at=st.integers(1, 3))
    def kill_mid_run(self, at):
        """A run that stops after ``at - 1`` batches' encoding (as a kill -9 would): no finish, no manifest."""
        calls = []
        real = rle.encode_packed_blocks

        def dies(*args, **kwargs):
            calls.append(1)
            if len(calls) >= at:
                raise RuntimeError("killed")
            return real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(rle, "encode_packed_blocks", dies)
            try:
                jobs.compress(self.src, self.out, rows_per_task=0, scheduler="threads", workers=1, progress=False)
            except RuntimeError:
                self.killed = True

    @rule(name=st.sampled_from(POOL), how=st.sampled_from(["delete", "empty", "old garbage"]))
    def damage_output(self, name, how):
        path = self.out / (os.path.splitext(name)[0] + ".rle")
        if not path.exists():
            return
        if how == "delete":
            path.unlink()
        elif how == "empty":
            path.write_bytes(b"")
        else:
            path.write_bytes(b"\x05\x00\x03\x00garbage")
            os.utime(path, ns=(1, 1))  # older than any input: made again with or without its record

    @rule(how=st.sampled_from(["truncate", "flip", "delete", "junk", "reverse"]), at=st.integers(0, 400))
    def damage_manifest(self, how, at):
        path = self.out / MANIFEST
        if not path.exists():
            return
        data = path.read_bytes()
        if how == "truncate":
            path.write_bytes(data[: at % (len(data) + 1)])
        elif how == "flip" and len(data) > len(HEADER):
            k = len(HEADER) + at % (len(data) - len(HEADER))
            path.write_bytes(data[:k] + bytes([data[k] ^ 0x01]) + data[k + 1 :])
        elif how == "delete":
            path.unlink()
        elif how == "junk":
            path.write_bytes(data + b"x\0y\0" * (at % 5) + b"\0\0")
        else:
            recs = data[len(HEADER) :].split(b"\0\0")[:-1]
            path.write_bytes(HEADER + b"".join(r + b"\0\0" for r in reversed(recs)))

    @rule(later=st.booleans(), overwrite=st.booleans(), stamps=st.sampled_from(["stat", "content"]))
    def compress(self, later, overwrite, stamps):
        if later:
            graph = jobs.compress(self.src, self.out, overwrite=overwrite, stamps=stamps, compute=False)
            (report,) = dask.compute(graph, scheduler="sync")
        else:
            report = jobs.compress(
                self.src, self.out, overwrite=overwrite, stamps=stamps, scheduler="threads", progress=False
            )
        self.killed = False
        makers = self._makers()
        inputs = sorted(os.listdir(self.src))
        assert len(report) == len(inputs)
        for r in report:
            name = os.path.basename(r.src)
            out_name = os.path.splitext(name)[0] + ".rle"
            if makers[out_name] == name and (self.src / name).stat().st_size == 0:
                assert r.status == "failed" and str(self.src / name) in r.reason, r  # every rerun, not only the first
            elif makers[out_name] == name:
                assert r.status in ("ok", "skipped"), r
                now = (self.out / out_name).read_bytes()
                if stamps == "stat" and r.status == "skipped" and name in self.sneaky:
                    assert now == self.sneaky[name], name  # stat stamps cannot see it (documented): kept as it was
                    continue
                assert now == expected(self.src, name), (name, r.status, stamps)
                self.sneaky.pop(name, None)
            else:
                assert r.status == "failed" and f"is also the output of {self.src / makers[out_name]}" in r.reason

    @invariant()
    def nothing_left_behind(self):
        if self.out.exists():
            hidden = [p.name for p in self.out.iterdir() if p.name.startswith(".")]
            # the records of a killed run's finished tasks stay until the next run folds them
            assert set(hidden) <= ({MANIFEST, PARTS} if self.killed else {MANIFEST}), hidden


RangesModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("IMGJOBS_MODEL_EXAMPLES", "25")),
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_ranges_model = RangesModel.TestCase


def test_pickled_range_batches_are_small_and_load_what_was_planned(tmp_path):
    src = tmp_path / "src"
    make_small(str(src), 50)
    plan = plan_compress(src, tmp_path / "out", CompressOptions.resolve(), parallelism=1)
    (task,) = plan.graph.values()
    batch = pickle.loads(pickle.dumps(task[1]))
    loaded = batch.load()
    assert [os.path.basename(p) for p in loaded.src] == sorted(os.listdir(src))
    assert [os.path.basename(p) for p in loaded.dst] == [f"tile-{i:07d}.rle" for i in range(50)]
    plan.finish.abort()


def test_not_regular_files_are_settled_while_planning_and_never_handed_to_a_task(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe.bmp")
    (src / "dir.png").mkdir()
    (src / "gone.bmp").symlink_to(tmp_path / "nowhere.bmp")
    plan = plan_compress(src, tmp_path / "out", CompressOptions.resolve())
    assert plan.nfiles == 0 and plan.ntasks == 0
    reasons = sorted(r.reason for o in plan.settled for r in o)
    assert [("a directory" in reasons[0]), ("No such file" in reasons[1]), ("a FIFO" in reasons[2])] == [True] * 3
    plan.finish.abort()


def test_a_window_reads_little_of_a_huge_manifest(tmp_path, monkeypatch):
    recs = [(b"o%06d.rle" % i, b"i%06d.bmp" % i, b"1:%d" % i, b"2:%d" % i) for i in range(100_000)]
    listed = _manifest(tmp_path / "m", recs, junk=b"x" * (32 << 20))  # 3.5 MB of records, 32 MB past them
    read = []
    real = os.pread

    def pread(fd, n, at):
        data = real(fd, n, at)
        read.append(len(data))
        return data

    monkeypatch.setattr(manifest.os, "pread", pread)
    got = read_window(listed, key(b"o050090.rle"), key(b"o050099.rle"))
    assert len(got) == 10 and sum(read) < 1 << 20, sum(read)


def test_a_worklist_range_that_does_not_hold_its_entries_is_a_stale_plan(tmp_path):
    from jobs.errors import StalePlan
    from jobs.runtime.worklist import WorkRange, write_worklist

    work = write_worklist(str(tmp_path), "0123456789ab", [b"a.rle/a.bmp", b"b.rle/b.bmp", b"c.rle/c.bmp"])
    assert work.range(1, 3).entries() == [b"b.rle/b.bmp", b"c.rle/c.bmp"]
    for begin, end, count in ((0, 12, 2), (3, 24, 2), (0, 10, 1)):  # too few entries, cut inside one
        with pytest.raises(StalePlan, match="plan the job again"):
            WorkRange(work.listed, begin, end, 0, count).entries()
    with pytest.raises(ValueError, match="NUL"):
        write_worklist(str(tmp_path), "0123456789ac", [b"a\0b"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [os.path.basename(work.listed.path)]


def test_large_files_split_inside_a_batch_range_are_recorded_in_order(tmp_path, rng):
    src, out = tmp_path / "src", tmp_path / "out"
    make_small(str(src), 60)
    big = rng.random((900, 1300)) > 0.5
    Image.fromarray(big).save(src / "tile-0000030x.bmp")  # sorts inside the batch's range
    Image.fromarray(big[:500]).save(src / "tile-0000010x.bmp")
    settings_ = {"imgjobs.rle.min-pixels-per-task": 100_000, "imgjobs.rle.target-pixels-per-task": 200_000}
    with dask.config.set(settings_):
        plan = plan_compress(src, out, CompressOptions.resolve(), parallelism=1)
        assert sum("block" in k[0] for k in plan.graph) > 2  # the large ones really are split
        plan.finish.abort()
        assert jobs.compress(src, out, scheduler="threads", progress=False).counts == {"ok": 62}
        assert sorted(read_records(str(out))) == sorted(os.path.splitext(n)[0] + ".rle" for n in os.listdir(src))
        assert jobs.compress(src, out, scheduler="threads", progress=False).counts == {"skipped": 62}
    assert (out / "tile-0000030x.rle").read_bytes() == expected(src, "tile-0000030x.bmp")


def test_overwrite_keeps_the_records_of_outputs_it_could_not_make_again(tmp_path):
    src, out = compressed(tmp_path, "a.bmp", "b.bmp")
    before = read_records(str(out))
    rewrite(src / "b.bmp", lambda p: p.write_bytes(b"not an image"))
    report = jobs.compress(src, out, overwrite=True, scheduler="threads", progress=False)
    assert report.counts == {"ok": 1, "failed": 1}
    after = read_records(str(out))
    assert after["b.rle"] == before["b.rle"] and after["a.rle"] != before["a.rle"]  # b.rle is still what it was
    save(src / "b.bmp", 2)  # a good input again: its old record says the input changed, so it is made
    assert jobs.compress(src, out, scheduler="threads", progress=False).counts == {"ok": 1, "skipped": 1}


@pytest.mark.parametrize("most", [1, 3, 7])
def test_automatic_batches_never_make_more_tasks_than_max_tasks(tmp_path, most):
    src = tmp_path / "src"
    make_small(str(src), 200)
    tiny = {"imgjobs.rle.batch-bytes": 1, "imgjobs.rle.min-batch-bytes": 1, "imgjobs.max-tasks": most}
    with dask.config.set(tiny):
        plan = plan_compress(src, tmp_path / "out", CompressOptions.resolve(), parallelism=2)
    assert plan.ntasks <= most and plan.nfiles == 200
    assert sum(len(task[1]) for task in plan.graph.values()) == 200
    plan.finish.abort()


# --------------------------------------------------------------------------- breaks found by a hostile review


@pytest.mark.parametrize("sibling", ["a.rle-x.bmp", "a.rle.bmp", "a b.bmp"])
def test_an_input_replaced_by_an_older_file_is_seen_beside_a_name_that_extends_its_output(tmp_path, sibling):
    # "a.rle/" sorts after "a.rle-x.rle/": the window of a range is bounded by keys, not by raw names
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    save(src / "a.bmp", 1)
    save(src / sibling, 2)
    assert jobs.compress(src, out, scheduler="threads", progress=False).ok
    save(src / "a.bmp", 3, size=(17, 5))
    os.utime(src / "a.bmp", ns=(1, 978307200 * 10**9))  # older than its output: only its record tells
    report = jobs.compress(src, out, scheduler="threads", progress=False)
    assert report.counts == {"ok": 1, "skipped": 1}
    assert (out / "a.rle").read_bytes() == expected(src, "a.bmp")


def test_a_converted_format_2_record_keeps_every_output(tmp_path):
    src, rles = compressed(tmp_path, "a.bmp", "a.bmp-x.bmp", "b.bmp")  # outputs a.bmp, a.bmp-x.bmp, b.bmp
    bmps = tmp_path / "bmp"
    jobs.decompress(rles, bmps, scheduler="threads", progress=False)
    _to_format_2(bmps)
    save(src / "b.bmp", 9)
    jobs.compress(src, rles, scheduler="threads", progress=False)
    assert jobs.decompress(rles, bmps, scheduler="threads", progress=False).counts == {"ok": 1, "skipped": 2}
    assert sorted(read_records(str(bmps))) == ["a.bmp", "a.bmp-x.bmp", "b.bmp"]


def test_records_of_deleted_inputs_never_hide_the_records_of_those_there(tmp_path, monkeypatch):
    monkeypatch.setattr(manifest, "_READ", 512)  # bisection and reads over a manifest of a few hundred KB
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    long = "p" * 200
    for i in range(300):
        save(src / f"{long}{i:05d}.bmp", i % 7, size=(3, 2))
    assert jobs.compress(src, out, scheduler="threads", progress=False).ok
    for i in range(2, 299):
        (src / f"{long}{i:05d}.bmp").unlink()  # their outputs and records stay
    last = f"{long}00299.bmp"
    save(src / last, 100, size=(9, 9))
    os.utime(src / last, ns=(1, 978307200 * 10**9))
    report = jobs.compress(src, out, scheduler="threads", progress=False)
    assert report.counts == {"ok": 1, "skipped": 2}
    assert (out / f"{long}00299.rle").read_bytes() == expected(src, last)


def test_a_manifest_without_records_is_read_no_further_than_a_record(tmp_path, monkeypatch):
    path = tmp_path / "m"
    path.write_bytes(HEADER + b"x" * (8 << 20))  # no NUL at all: no record, and never held whole
    read = []
    real = os.pread
    monkeypatch.setattr(manifest.os, "pread", lambda fd, n, at: read.append(n) or real(fd, n, at))
    assert list(manifest.iter_records(ListFile.of(str(path)))) == []
    assert sum(read) < 1 << 20
    read.clear()
    nuls = tmp_path / "z"
    nuls.write_bytes(HEADER + record(b"a.rle", b"a.bmp", b"1:1", b"2:2") + b"\0" * (8 << 20))
    assert [k for k, _ in manifest.iter_records(ListFile.of(str(nuls)))] == [b"a.rle/"]  # up to the damage
    assert sum(read) < 1 << 20


@pytest.mark.parametrize("shape", ["directory", "fifo", "link"])
def test_a_manifest_place_that_is_not_a_file_is_refused_before_anything_is_written(tmp_path, shape):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    save(src / "a.bmp", 1)
    precious = tmp_path / "precious"
    precious.write_bytes(b"mine")
    place = out / MANIFEST
    {"directory": place.mkdir, "fifo": lambda: os.mkfifo(place), "link": lambda: place.symlink_to(precious)}[shape]()
    r = imgjobs("compress", src, out, timeout=30)
    assert r.returncode == 2 and "where imgjobs keeps the record of what each output" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and sorted(p.name for p in out.iterdir()) == [MANIFEST]
    assert precious.read_bytes() == b"mine"


def test_a_huge_format_2_record_is_not_read(tmp_path, caplog):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    save(src / "a.bmp", 1)
    with open(out / manifest.LEGACY, "wb") as f:
        f.truncate(manifest.LEGACY_MAX_BYTES + 1)  # sparse: read whole, it would take GBs of memory
    assert jobs.compress(src, out, scheduler="threads", progress=False).counts == {"ok": 1}
    assert f"is unreadable (over {manifest.LEGACY_MAX_BYTES:,} bytes)" in caplog.text


def test_a_graph_computed_twice_is_a_stale_plan(tmp_path):
    from jobs.errors import StalePlan

    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    save(src / "a.bmp", 1)
    graph = jobs.compress(src, out, compute=False)
    dask.compute(graph, scheduler="sync")
    with pytest.raises(StalePlan, match="is gone: the run it was written for has ended"):
        dask.compute(graph, scheduler="sync")


def test_an_up_to_date_rerun_lists_each_directory_once(tmp_path, monkeypatch):
    src, out = tmp_path / "src", tmp_path / "out"
    make_small(str(src), 30)
    assert jobs.compress(src, out, scheduler="threads", progress=False).ok
    listed = []
    real = os.listdir, os.scandir
    monkeypatch.setattr(os, "listdir", lambda p=".": listed.append(os.fsdecode(p)) or real[0](p))
    monkeypatch.setattr(os, "scandir", lambda p=".": listed.append(os.fsdecode(p)) or real[1](p))
    assert jobs.compress(src, out, scheduler="threads", progress=False).counts == {"skipped": 30}
    monkeypatch.undo()
    listed = [p for p in listed if p.startswith(str(tmp_path))]  # not distributed's system monitor's /proc
    assert sorted(listed) == sorted([str(src), str(out)]), listed  # no sweep: nothing there to sweep
    leftover = out / ".tile-0000001.rle.0badc0ffee00.imgjobs.tmp"
    leftover.write_bytes(b"half")  # a killed run's: the next run sweeps it, with nothing else to do
    assert jobs.compress(src, out, scheduler="threads", progress=False).counts == {"skipped": 30}
    assert not leftover.exists()
