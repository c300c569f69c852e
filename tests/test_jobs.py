"""The RLE job's graphs and tasks on real files, on the threaded scheduler and a real LocalCluster."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import dask.config
import numpy as np
import pytest
from PIL import Image

import jobs
import rle
from conftest import blobs, pillow_bits, reference_encode, write_bmp_raw
from jobs.rle_job.layout import row_bounds
from jobs.rle_job.manifest import MANIFEST
from jobs.rle_job.options import CompressOptions
from jobs.rle_job.planning import plan_compress


def by_name(report):
    return {os.path.basename(r.src): r for r in report}


def read_dir(d):
    """The outputs in ``d`` (not the manifest of what they were made from, which records times)."""
    return {f: (d / f).read_bytes() for f in sorted(os.listdir(d)) if f != MANIFEST}


@pytest.mark.parametrize(("h", "w", "rows", "target"), [(100, 10, 7, 0), (5600, 7200, "auto", 8_000_000), (3, 3, 0, 1)])
def test_row_bounds_cover_every_row_once(h, w, rows, target):
    b = row_bounds(h, w, rows, target)
    assert b[0] == 0 and b[-1] == h and all(x < y for x, y in itertools.pairwise(b))
    if rows == "auto":
        assert max(y - x for x, y in itertools.pairwise(b)) * w <= target * 1.01


def test_compress_directory_matches_reference(image_dir, tmp_path):
    d, expected = image_dir
    out = tmp_path / "out"
    report = jobs.compress(d, out, rows_per_task=7)
    assert {n for n, r in by_name(report).items() if r.status == "ok"} == set(expected)
    assert report.exit_code == 0 and report.counts == {"ok": len(expected)}
    for name, px in expected.items():
        data = (out / (os.path.splitext(name)[0] + ".rle")).read_bytes()
        assert data == reference_encode(px), name


@pytest.mark.parametrize("rows", [0, 1, 13, "auto"])
def test_row_blocks_never_change_a_byte(image_dir, tmp_path, rows):
    d, _ = image_dir
    base = tmp_path / "base"
    jobs.compress(d, base, rows_per_task=0)
    other = tmp_path / f"rows{rows}"
    jobs.compress(d, other, rows_per_task=rows)
    assert read_dir(other) == read_dir(base)


def test_dithered_large_image_split_into_blocks_matches_whole(tmp_path, rng):
    grey = (rng.random((400, 300)) * 255).astype(np.uint8)
    write_bmp_raw(tmp_path / "g.bmp", np.repeat(grey[:, :, None], 3, axis=2), 24)
    plan = plan_compress(tmp_path / "g.bmp", tmp_path / "g.rle", CompressOptions.resolve(rows_per_task=10))
    assert plan.ntasks == 41  # 40 row blocks and the writer
    report = jobs.compress(tmp_path / "g.bmp", tmp_path / "g.rle", rows_per_task=10)
    assert report.ok
    assert (tmp_path / "g.rle").read_bytes() == rle.encode(pillow_bits(tmp_path / "g.bmp"))


def test_auto_batches_small_files_and_splits_large_ones(tmp_path, rng):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        Image.fromarray(blobs(rng, 50, 60).astype(bool)).save(src / f"small{i:02d}.bmp")
    Image.fromarray(blobs(rng, 2000, 1500).astype(bool)).save(src / "big.bmp")
    settings = {"imgjobs.rle.min-pixels-per-task": 100_000, "imgjobs.rle.target-pixels-per-task": 500_000}
    with dask.config.set(settings):
        plan = plan_compress(src, tmp_path / "out", parallelism=2)
        assert plan.nfiles == 21
        small_bytes = sum(os.path.getsize(src / f"small{i:02d}.bmp") for i in range(20))
        budget = max(100_000, min(500_000, (2000 * 1500 + 8 * small_bytes) // (4 * 2)))
        big_blocks = -(-2000 * 1500 // budget)
        writers = [k for k in plan.outputs if "write" in k[0]]
        batches = [k for k in plan.outputs if "batch" in k[0]]
        assert len(writers) == 1 and len(batches) == 1  # 20 tiny files share one task
        assert plan.ntasks == big_blocks + 1 + 1
        report = jobs.compress(src, tmp_path / "out")
    assert report.counts == {"ok": 21}


def test_config_default_and_keyword_override(image_dir, tmp_path):
    d, _ = image_dir
    with dask.config.set({"imgjobs.rle.rows-per-task": 0}):
        p0 = plan_compress(d, tmp_path / "a", CompressOptions.resolve())
        p1 = plan_compress(d, tmp_path / "b", CompressOptions.resolve(rows_per_task=5))
    assert p0.ntasks == len(p0.outputs) == p0.nfiles  # one task per image
    assert p1.ntasks > p0.ntasks


def test_existing_outputs_are_skipped_and_stale_temps_removed(image_dir, tmp_path):
    d, _ = image_dir
    out = tmp_path / "out"
    jobs.compress(d, out)
    kept = (out / "mode1.rle").stat().st_mtime_ns
    stale = out / ".grey.rle.deadbeef0000.imgjobs.tmp"  # a killed run's: its token is twelve hex digits
    stale.write_bytes(b"half")
    os.remove(out / "grey.rle")
    plan = plan_compress(d, out, CompressOptions.resolve())
    assert stale.exists()  # planning never deletes
    results = by_name(jobs.compress(d, out))
    assert results["mode1.bmp"].status == "skipped"
    assert (out / "mode1.rle").stat().st_mtime_ns == kept  # not written again
    assert results["grey.png"].status == "ok"
    assert not stale.exists()
    assert plan.nfiles == 1
    results = by_name(jobs.compress(d, out, overwrite=True))
    assert results["mode1.bmp"].status == "ok"
    assert (out / "mode1.rle").stat().st_mtime_ns != kept
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_bad_inputs_are_reported_and_the_rest_completes(image_dir, tmp_path):
    d, expected = image_dir
    (d / "junk.bmp").write_bytes(b"BM this is not a bitmap")
    (d / "notes.txt").write_text("ignored: not an image extension")
    good = (d / "mode1.bmp").read_bytes()
    (d / "cut.bmp").write_bytes(good[: len(good) - 100])
    png = (d / "grey.png").read_bytes()
    (d / "cut.png").write_bytes(png[: len(png) // 2])
    os.mkfifo(d / "pipe.bmp")  # never opened: a FIFO would block the reader forever
    os.mkdir(d / "folder.png")
    out = tmp_path / "out"
    report = jobs.compress(d, out, rows_per_task=50)
    results = by_name(report)
    assert "notes.txt" not in results
    for bad in ("junk.bmp", "cut.bmp", "cut.png", "pipe.bmp", "folder.png"):
        assert results[bad].status == "failed", bad
        assert bad in results[bad].reason
        assert not (out / (os.path.splitext(bad)[0] + ".rle")).exists()
    assert "not a regular file (a FIFO)" in results["pipe.bmp"].reason
    assert sorted(n for n, r in results.items() if r.status == "ok") == sorted(expected)
    assert [f for f in os.listdir(out) if f.startswith(".")] == [MANIFEST]  # no temporaries, no lock
    assert report.exit_code == 1


def test_decompress_and_verify(image_dir, tmp_path):
    d, expected = image_dir
    rles = tmp_path / "rle"
    jobs.compress(d, rles)
    bmps = tmp_path / "bmp"
    report = jobs.decompress(rles, bmps, rows_per_task=11)
    assert report.counts == {"ok": len(expected)}
    for name, px in expected.items():
        out = bmps / (os.path.splitext(name)[0] + ".bmp")
        np.testing.assert_array_equal(pillow_bits(out), px, err_msg=name)
    whole = tmp_path / "bmp-whole"
    jobs.decompress(rles, whole, rows_per_task=0)
    assert read_dir(whole) == read_dir(bmps)
    auto = tmp_path / "bmp-auto"
    jobs.decompress(rles, auto)
    assert read_dir(auto) == read_dir(bmps)
    for rows in ("auto", 0, 7):
        report = jobs.verify(d, rles, rows_per_task=rows)
        assert report.counts == {"ok": len(expected)}, rows


def test_verify_lists_mismatches(image_dir, tmp_path):
    d, _ = image_dir
    rles = tmp_path / "rle"
    jobs.compress(d, rles)
    data = bytearray((rles / "mode1.rle").read_bytes())
    data[4] ^= 0x80  # flip the colour of the first run
    (rles / "mode1.rle").write_bytes(bytes(data))
    os.remove(rles / "grey.rle")
    (rles / "orphan.rle").write_bytes(rle.encode(np.ones((2, 2), np.uint8)))
    for rows in ("auto", 16):
        results = by_name(jobs.verify(d, rles, rows_per_task=rows))
        assert results["mode1.bmp"].status == "mismatch"
        assert "(row 0, col 0)" in results["mode1.bmp"].reason
        assert results["mode1.bmp"].details["mismatched_pixels"] > 0
        assert results["grey.png"].status == "failed"
        assert "no .rle file" in results["grey.png"].reason
        assert results["orphan.rle"].status == "failed" and "no original image" in results["orphan.rle"].reason
        assert results["topdown.bmp"].status == "ok"


def test_verify_size_mismatch_is_found_from_headers(tmp_path, rng):
    px = blobs(rng, 300, 400)
    Image.fromarray(px.astype(bool)).save(tmp_path / "a.bmp")
    (tmp_path / "a.rle").write_bytes(rle.encode(px[:299]))
    for rows in ("auto", 50):
        (r,) = list(jobs.verify(tmp_path / "a.bmp", tmp_path / "a.rle", rows_per_task=rows))
        assert r.status == "mismatch" and "size differs: image is 400x300, .rle is 400x299" in r.reason


def test_corrupt_rle_is_reported_by_decompress(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.rle").write_bytes(b"\x05\x00\x02\x00\x85\x80")
    (tmp_path / "src" / "good.rle").write_bytes(rle.encode(np.ones((2, 5), np.uint8)))
    for rows in (0, 1, "auto"):
        out = tmp_path / f"out{rows}"
        results = by_name(jobs.decompress(tmp_path / "src", out, rows_per_task=rows))
        assert results["bad.rle"].status == "failed"
        assert "zero-length run at byte offset 5 (row 1, column 0)" in results["bad.rle"].reason, rows
        assert results["good.rle"].status == "ok"
        assert sorted(os.listdir(out)) == [MANIFEST, "good.bmp"]


def test_usage_errors(tmp_path):
    with pytest.raises(jobs.UsageError, match="no such file"):
        jobs.compress(tmp_path / "missing", tmp_path / "o")
    (tmp_path / "d").mkdir()
    (tmp_path / "f.rle").write_bytes(b"")
    with pytest.raises(jobs.UsageError, match="must be one"):
        jobs.compress(tmp_path / "d", tmp_path / "f.rle")
    with pytest.raises(jobs.UsageError, match="rows per task"):
        jobs.compress(tmp_path / "d", tmp_path / "o", rows_per_task=-1)
    with pytest.raises(jobs.UsageError, match="threshold"):
        jobs.compress(tmp_path / "d", tmp_path / "o", threshold=256)
    with pytest.raises(jobs.UsageError, match="does not exist"):
        jobs.compress(tmp_path / "f.rle", tmp_path / "nodir" / "x.rle")
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*rows_per_tsk"):
        jobs.compress(tmp_path / "d", tmp_path / "o", rows_per_tsk=3)
    assert not (tmp_path / "o").exists()  # nothing was created on the way to an error


def test_processes_scheduler_matches_threads(image_dir, tmp_path):
    d, _ = image_dir
    jobs.compress(d, tmp_path / "t", rows_per_task=20)
    report = jobs.compress(d, tmp_path / "p", rows_per_task=20, scheduler="processes")
    assert report.ok
    assert read_dir(tmp_path / "p") == read_dir(tmp_path / "t")


def test_local_cluster_two_workers_byte_identical(image_dir, tmp_path, cluster):
    from distributed import Client, get_task_stream

    d, expected = image_dir
    jobs.compress(d, tmp_path / "threads", rows_per_task=9)
    with Client(cluster) as client:
        with get_task_stream(client) as stream:
            report = jobs.compress(d, tmp_path / "cluster", rows_per_task=9, client=client)
        assert report.ok
        # the job's own tasks ran on both worker processes (the task stream records where each ran)
        assert len({t["worker"] for t in stream.data}) == 2, stream.data
        report = jobs.decompress(tmp_path / "cluster", tmp_path / "bmp", rows_per_task=9, client=client)
        assert report.ok
    assert read_dir(tmp_path / "cluster") == read_dir(tmp_path / "threads")
    for name, pixels in expected.items():  # every decompressed image has the source's pixels
        np.testing.assert_array_equal(pillow_bits(tmp_path / "bmp" / (Path(name).stem + ".bmp")), pixels, name)


def test_progress_counts_bytes_and_files_on_a_local_cluster(image_dir, tmp_path, cluster):
    from distributed import Client

    from jobs.runtime.progress import Progress
    from jobs.schedulers import open_runner

    d, expected = image_dir
    total = sum(os.path.getsize(d / n) for n in expected)
    with dask.config.set({"logging.distributed": "error"}):
        with open_runner(scheduler="local", workers=2, threads_per_worker=1, dashboard_address=":0") as runner:
            assert runner.parallelism == 2
            assert runner.dashboard_link.startswith("http://127.0.0.1:")
            # the workers start with imgjobs' malloc trim threshold, not distributed's 64 KiB
            env = runner.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
            assert set(env.values()) == {str(dask.config.get("imgjobs.scheduler.malloc-trim-threshold"))}
            # A newer client in the same process becomes the default one: the job still
            # runs on the client it was given, on that client's loop.
            with Client(cluster) as newer:
                assert newer is Client.current()
                progress = Progress(enabled=False, dashboard=False)
                report = jobs.compress(d, tmp_path / "o", rows_per_task=16, client=runner.client, progress=progress)
    assert report.ok
    assert progress.files == len(expected)
    assert progress.units == total  # row blocks moved it by their share, the writers by the rest


def test_row_block_task_memory_is_bounded_by_its_block(tmp_path):
    import tracemalloc

    from jobs.rle_job import blocks as rle_tasks

    tall = np.zeros((60000, 2560), np.uint8)
    tall[::7, ::3] = 1
    Image.fromarray(tall.astype(bool)).save(tmp_path / "tall.bmp")
    rgb = np.repeat(tall[:8000, :, None] * 255, 3, axis=2).astype(np.uint8)
    write_bmp_raw(tmp_path / "tall24.bmp", rgb, 24)
    opts = CompressOptions.resolve()
    for name, whole in (("tall.bmp", tall.size // 8), ("tall24.bmp", rgb.size)):
        info = rle.probe(tmp_path / name)
        tracemalloc.start()
        try:
            runs = rle_tasks.compress_block(info, 1000, 1400, opts)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert runs == rle.encode_runs(tall[1000:1400])
        # the whole image is 19 MB (1-bit) or 61 MB (24-bit); a block and its slices stay near 1-3 MB
        assert peak < whole / 4, f"{name}: a 400-row block task peaked at {peak} bytes"


def test_verify_and_decompress_as_graphs_give_what_a_run_gives(image_dir, tmp_path):
    import dask

    d, _ = image_dir
    jobs.compress(d, tmp_path / "rle")
    graph = jobs.verify(d, tmp_path / "rle", compute=False)
    (report,) = dask.compute(graph, scheduler="threads")
    assert report.job == "verify" and report.counts == jobs.verify(d, tmp_path / "rle").counts == {"ok": len(report)}
    (tmp_path / "rle" / "grey.rle").write_bytes((tmp_path / "rle" / "mode1.rle").read_bytes())  # a wrong file
    (report,) = dask.compute(jobs.verify(d, tmp_path / "rle", compute=False), scheduler="threads")
    assert report.counts.get("mismatch") == 1 and report.exit_code == 1
    (report,) = dask.compute(jobs.decompress(tmp_path / "rle", tmp_path / "bmp", compute=False), scheduler="threads")
    assert report.ok and jobs.decompress(tmp_path / "rle", tmp_path / "bmp2").ok
    assert read_dir(tmp_path / "bmp") == read_dir(tmp_path / "bmp2")  # the graph's outputs are a run's
