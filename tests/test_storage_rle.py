"""compress, decompress and verify between buckets of a real S3 API server (moto's).

The promises: the objects written are the bytes the same job writes locally;
a rerun after one input object is replaced remakes and uploads only its
output (and the manifest); a run killed with SIGKILL leaves no manifest in the
store (nothing says its outputs are whole) and the next run finishes them.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import imgjobs, start_imgjobs

s3fs = pytest.importorskip("s3fs", reason="the S3 tests need s3fs and moto (pip install -e '.[test]')")


@pytest.fixture
def staged_env(env, tmp_path):
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def scans(root: Path, n: int, seed: int = 0) -> Path:
    """``n`` 1-bit BMPs of several sizes."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        page = rng.random((40 + 3 * (i % 7), 64 + 8 * (i % 5))) > 0.6
        Image.fromarray(page).convert("1").save(root / f"p{i:03d}.bmp")
    return root


def objects(fs, prefix: str) -> dict:
    return {k[len(prefix) + 1 :]: fs.cat_file(k) for k in fs.find(prefix)}


def outputs(root: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file() and not p.name.startswith(".")}


def test_compress_decompress_and_verify_between_buckets_write_the_local_bytes(tmp_path, bucket, staged_env):
    fs, name = bucket
    local = scans(tmp_path / "scans", 8)
    fs.put(str(local) + "/", f"{name}/scans/", recursive=True)
    run = imgjobs("compress", f"s3://{name}/scans/", f"s3://{name}/rle/", env=staged_env)
    assert run.returncode == 0, run.stderr
    assert "8 ok" in run.stdout and "9 object(s) uploaded" in run.stdout  # the outputs and the manifest
    assert imgjobs("-q", "compress", local, tmp_path / "rle", env=staged_env).returncode == 0
    remote = objects(fs, f"{name}/rle")
    assert {k: v for k, v in remote.items() if not k.startswith(".")} == outputs(tmp_path / "rle")
    assert ".imgjobs-stamps" in remote
    back = imgjobs("decompress", f"s3://{name}/rle/", f"s3://{name}/back/", env=staged_env)
    assert back.returncode == 0, back.stderr
    assert imgjobs("-q", "decompress", tmp_path / "rle", tmp_path / "back", env=staged_env).returncode == 0
    assert {k: v for k, v in objects(fs, f"{name}/back").items() if not k.startswith(".")} == outputs(tmp_path / "back")
    check = imgjobs("verify", f"s3://{name}/scans/", f"s3://{name}/rle/", env=staged_env)
    assert check.returncode == 0 and "8 ok" in check.stdout, check.stdout + check.stderr
    # one input replaced in the bucket: only its output is made again and uploaded, with the manifest
    other = scans(tmp_path / "other", 1, seed=7) / "p000.bmp"
    fs.put_file(str(other), f"{name}/scans/p003.bmp")
    again = imgjobs("compress", f"s3://{name}/scans/", f"s3://{name}/rle/", env=staged_env)
    assert again.returncode == 0 and "1 ok, 7 skipped" in again.stdout, again.stdout
    assert "2 object(s) uploaded, 7 already there" in again.stdout
    (tmp_path / "scans" / "p003.bmp").write_bytes(other.read_bytes())
    assert imgjobs("-q", "compress", local, tmp_path / "rle", env=staged_env).returncode == 0
    assert objects(fs, f"{name}/rle")["p003.rle"] == (tmp_path / "rle" / "p003.rle").read_bytes()


def test_a_compress_killed_before_its_outputs_are_whole_leaves_no_manifest_in_the_store(tmp_path, bucket, staged_env):
    fs, name = bucket
    local = scans(tmp_path / "scans", 120)
    fs.put(str(local) + "/", f"{name}/scans/", recursive=True)
    proc = start_imgjobs(
        "compress",
        f"s3://{name}/scans/",
        f"s3://{name}/rle/",
        "--rows-per-task",
        "0",
        "--scheduler",
        "threads",
        "--workers",
        "1",
        env=staged_env,
    )
    stage = tmp_path / "cache" / "imgjobs" / "stage"
    deadline = time.monotonic() + 60
    while len([p for p in stage.glob("*/rle/.imgjobs-stamps.parts/*") if not p.name.endswith(".imgjobs.tmp")]) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not fs.exists(f"{name}/rle/.imgjobs-stamps")
    again = imgjobs("compress", f"s3://{name}/scans/", f"s3://{name}/rle/", env=staged_env)
    assert again.returncode == 0, again.stderr
    assert "skipped" in again.stdout  # what the killed run finished is kept
    assert imgjobs("-q", "compress", local, tmp_path / "rle", env=staged_env).returncode == 0
    assert {k: v for k, v in objects(fs, f"{name}/rle").items() if not k.startswith(".")} == outputs(tmp_path / "rle")


def test_a_missing_source_bucket_is_named(tmp_path, staged_env):
    run = imgjobs("compress", "s3://no-such-bucket-here/scans/", tmp_path / "rle", env=staged_env)
    assert run.returncode == 2 and "s3://no-such-bucket-here/scans/: cannot read" in run.stderr
    assert "Traceback" not in run.stderr
