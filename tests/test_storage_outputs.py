"""Outputs at URLs: a ``.wds`` and a ``.zarr`` in a bucket of a real S3 API server (moto's).

The promises: the objects are the bytes the same job writes locally, and open
with webdataset and xarray straight from the bucket; a run killed with SIGKILL
resumes from its stage; the sidecar, which says the output is whole, is the
last object written and the first removed when anything changes, so no reader
finds it beside other objects; objects imgjobs did not put there are never
deleted; a store that refuses is named, the output kept whole in its stage.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import jobs
from jobs.errors import UsageError
from jobs.runtime import mirror as mirror_module
from jobs.runtime.storage import Storage
from tests.conftest import imgjobs, start_imgjobs
from tests.servers import N, upload

s3fs = pytest.importorskip("s3fs", reason="the S3 tests need s3fs and moto (pip install -e '.[test]')")


@pytest.fixture
def staged_env(env, tmp_path):
    """The store's environment, with the stage in this test's folder."""
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def objects(fs, prefix: str) -> dict:
    """name below ``prefix`` -> bytes, of every object there."""
    return {k[len(prefix) + 1 :]: fs.cat_file(k) for k in fs.find(prefix)}


def files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def without_places(sidecar: dict) -> dict:
    """A sidecar without what names where the output is, and its timing."""
    out = {k: v for k, v in sidecar.items() if k not in ("output", "outputs", "timing", "source", "shards")}
    out["shards"] = {k: v for k, v in (sidecar.get("shards") or {}).items() if k != "url"}
    return out


@pytest.mark.parametrize("kind", ["wds", "zarr"])
def test_an_output_in_a_bucket_is_the_local_one_object_for_object(
    tmp_path, photos, bucket, staged_env, kind, reference
):
    fs, name = bucket
    url = upload(fs, name, photos)
    local = tmp_path / f"local.{kind}"  # the same job into a local output, in this process
    jobs.resize(url, local, batch_size=5, progress=False, scheduler="threads")
    out = f"s3://{name}/out/train.{kind}"
    run = imgjobs("resize", url, "--out", out, "--batch-size", "5", env=staged_env)
    assert run.returncode == 0, run.stderr
    assert f"{out}:" in run.stdout and "object(s) uploaded" in run.stdout
    remote = objects(fs, f"{name}/out/train.{kind}")
    here = files(local)
    if kind == "wds":  # the shards are named after the output: local.wds holds local-*.tar
        here = {k.replace("local-", "train-"): v for k, v in here.items()}
    assert remote == here
    side = json.loads(fs.cat_file(f"{name}/out/train.{kind}.json"))
    assert side["output"] == out
    ref = without_places(json.loads(local.with_name(local.name + ".json").read_text()))
    assert without_places(side) == ref
    if kind == "wds":  # as users read shards from a bucket: a pipe from the store's client
        import webdataset as wds

        assert side["shards"]["url"] == f"{out}/train-{{000000..000002}}.tar"
        key = f"{name}/out/train.wds/train-{{000000..000002}}.tar"
        script = "import s3fs,sys; sys.stdout.buffer.write(s3fs.S3FileSystem().cat(sys.argv[1]))"
        cat = f"pipe:{sys.executable} -c '{script}' "
        old = {k: os.environ.get(k) for k in staged_env}
        os.environ.update(staged_env)
        try:
            samples = list(wds.WebDataset(cat + key, shardshuffle=False).decode())
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
        assert len(samples) == N
        batch = np.stack([s["npy"] for s in samples])
    else:
        import xarray as xr

        batch = xr.open_zarr(out, consolidated=True)["images"].values
    assert np.array_equal(batch, np.load(reference()))
    # a rerun finds it up to date and uploads nothing; a shard or chunk lost in the store is put back
    again = imgjobs("resize", url, "--out", out, "--batch-size", "5", env=staged_env)
    assert "up to date" in again.stdout and "0 object(s) uploaded" in again.stdout
    lost = sorted(k for k in fs.find(f"{name}/out/train.{kind}") if not k.endswith(".json"))[-1]
    fs.rm_file(lost)
    mended = imgjobs("resize", url, "--out", out, "--batch-size", "5", env=staged_env)
    assert "2 object(s) uploaded" in mended.stdout, mended.stdout + mended.stderr
    assert objects(fs, f"{name}/out/train.{kind}") == remote


def test_a_run_killed_before_its_output_is_whole_leaves_no_sidecar_in_the_store_and_resumes(
    tmp_path, photos, bucket, staged_env
):
    fs, name = bucket
    upload(fs, name, photos)
    lines = (photos / "train.txt").read_text().splitlines()
    many = "".join(f"s3://{name}/data/{lines[i % N].split(chr(9))[0]}\t{i % 3}\n" for i in range(120))
    (tmp_path / "many.txt").write_text(many)
    out = f"s3://{name}/killed.wds"
    stage = tmp_path / "cache" / "imgjobs" / "stage"
    proc = start_imgjobs("resize", tmp_path / "many.txt", "--out", out, "--batch-size", "4", env=staged_env)
    deadline = time.monotonic() + 60
    while not list(stage.glob("*/.killed.wds.imgjobs-partial/done/*.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not fs.exists(f"{name}/killed.wds.json")  # nothing in the store says it is whole
    again = imgjobs("resize", tmp_path / "many.txt", "--out", out, "--batch-size", "4", env=staged_env)
    assert again.returncode == 0, again.stderr
    assert "resumed:" in again.stdout
    clean = imgjobs(
        "-q", "resize", tmp_path / "many.txt", "--out", tmp_path / "clean.wds", "--batch-size", "4", env=staged_env
    )
    assert clean.returncode == 0
    here = {k.replace("clean-", "killed-"): v for k, v in files(tmp_path / "clean.wds").items()}
    assert objects(fs, f"{name}/killed.wds") == here


def test_only_objects_imgjobs_put_there_are_removed(tmp_path, photos, bucket, staged_env):
    fs, name = bucket
    url = upload(fs, name, photos)
    out = f"s3://{name}/o.wds"
    assert imgjobs("-q", "resize", url, "--out", out, "--batch-size", "4", env=staged_env).returncode == 0
    assert len(fs.find(f"{name}/o.wds")) == 3
    fs.pipe_file(f"{name}/o.wds/notes.txt", b"mine")
    over = imgjobs("resize", url, "--out", out, "--batch-size", "6", "--overwrite", env=staged_env)
    assert over.returncode == 0, over.stderr
    assert "1 removed" in over.stdout and "notes.txt" in over.stderr  # named, left
    assert sorted(k.rsplit("/", 1)[1] for k in fs.find(f"{name}/o.wds")) == [
        "notes.txt",
        "o-000000.tar",
        "o-000001.tar",
    ]
    assert json.loads(fs.cat_file(f"{name}/o.wds.json"))["shards"]["count"] == 2


def test_a_store_that_refuses_is_named_and_the_output_waits_whole_in_its_stage(tmp_path, photos, bucket, staged_env):
    fs, name = bucket
    url = upload(fs, name, photos)
    missing = f"later-{uuid.uuid4().hex[:8]}"
    out = f"s3://{missing}/b.zarr"
    run = imgjobs("resize", url, "--out", out, env=staged_env)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{out}: the finished output could not be mirrored into the store" in run.stderr
    assert "run the same command again to mirror it" in run.stderr
    fs.mkdir(missing)
    again = imgjobs("resize", url, "--out", out, env=staged_env)
    assert again.returncode == 0 and "up to date" in again.stdout and "uploaded" in again.stdout
    assert fs.exists(f"{missing}/b.zarr.json")


def test_an_upload_that_fails_mid_way_leaves_no_sidecar_beside_the_new_objects(
    tmp_path, photos, bucket, env, monkeypatch
):
    fs, name = bucket
    url = upload(fs, name, photos)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = f"s3://{name}/m.wds"
    jobs.resize(url, out, batch_size=4, progress=False)
    assert fs.exists(f"{name}/m.wds.json")
    calls = []
    store, _ = Storage().filesystem(out)  # the client the run uses (fsspec keeps one per set of options)
    real = store.put_file

    def failing(lpath, rpath, *args, **kwargs):  # the store takes one object, then fails
        calls.append(rpath)
        if len(calls) > 1:
            raise OSError("the store stopped answering")
        return real(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(store, "put_file", failing)
    with pytest.raises(OSError, match="could not be mirrored"):
        jobs.resize(url, out, batch_size=6, overwrite=True, progress=False, scheduler="threads")
    assert calls and not fs.exists(f"{name}/m.wds.json")  # objects changed: the old record went first
    monkeypatch.setattr(store, "put_file", real)
    done = jobs.resize(url, out, batch_size=6, progress=False)
    assert done.up_to_date and done.mirrored.uploaded >= 1 and fs.exists(f"{name}/m.wds.json")


def test_a_graph_for_an_output_at_a_url_is_refused(tmp_path, photos):
    with pytest.raises(UsageError, match="mirrored into the store when the run ends"):
        jobs.resize(photos / "train.txt", "s3://b/x.wds", compute=False)
    assert mirror_module.RECORD_NAME.startswith(".")


def test_every_spelling_of_an_output_url_is_one_output_with_one_stage(tmp_path, photos, bucket, staged_env):
    """``s3a://`` and ``//`` spell the same keys: one stage, one lock, one record (hostile review of issue 32)."""
    fs, name = bucket
    url = upload(fs, name, photos)
    first = imgjobs("-q", "resize", url, "--out", f"s3://{name}/a/t.wds", env=staged_env)
    assert first.returncode == 0, first.stderr
    for spelling in (f"s3a://{name}/a/t.wds", f"s3://{name}//a/t.wds/", f"s3://{name}/a//t.wds"):
        again = imgjobs("resize", url, "--out", spelling, env=staged_env)
        assert again.returncode == 0 and "up to date" in again.stdout, spelling + again.stdout + again.stderr
        assert "0 object(s) uploaded" in again.stdout
    assert len(list((tmp_path / "cache" / "imgjobs" / "stage").iterdir())) == 1


def test_an_output_another_stage_put_in_the_store_is_refused_without_overwrite(tmp_path, photos, bucket, staged_env):
    fs, name = bucket
    url = upload(fs, name, photos)
    out = f"s3://{name}/theirs.wds"
    made = imgjobs("-q", "resize", url, "--out", out, "--num-images", "8", env=staged_env)
    assert made.returncode == 0, made.stderr
    before = objects(fs, f"{name}/theirs.wds")
    elsewhere = {**staged_env, "XDG_CACHE_HOME": str(tmp_path / "another-machine")}
    refused = imgjobs("resize", url, "--out", out, env=elsewhere)
    assert refused.returncode == 2 and "holds an output this machine's stage" in refused.stderr
    assert objects(fs, f"{name}/theirs.wds") == before and fs.exists(f"{name}/theirs.wds.json")
    replaced = imgjobs("-q", "resize", url, "--out", out, "--overwrite", env=elsewhere)
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(fs.cat_file(f"{name}/theirs.wds.json"))["shape"][0] == N
