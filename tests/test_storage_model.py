"""A randomized model of reruns over images in a bucket: objects replaced, put again, deleted and restored,
runs interleaved, on a real S3 API server.

After every run: the batch equals what a fresh decode of the bucket's objects
now gives, image by image (a missing object a zero row, named as failed);
nothing replaced since the last run is kept (nothing stale called current),
and an object put again with the same bytes is not decoded again.
CI runs a fixed, derandomized set (the suite's hypothesis profile).
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from PIL import Image

import jobs
from jobs.resize_job.decode import load_rgb
from jobs.samples import make_jpegs
from tests.servers import S3_SECRET, S3Server

s3fs = pytest.importorskip("s3fs", reason="the S3 tests need s3fs and moto (pip install -e '.[test]')")

N = 5  # slots in the batch
POOL = 4  # distinct photographs the objects are drawn from
SIZE = (12, 9)


def test_reruns_over_a_bucket_keep_nothing_stale(tmp_path, monkeypatch):
    server = S3Server().start()
    try:
        for k, v in server.environ().items():
            monkeypatch.setenv(k, v)
        s3fs.S3FileSystem.clear_instance_cache()  # fsspec keeps clients: one made for another server's test
        fs = s3fs.S3FileSystem(key="k", secret=S3_SECRET, endpoint_url=server.endpoint, skip_instance_cache=True)
        make_jpegs(tmp_path / "pool", POOL, classes=1, size=(40, 30), progress=False)
        for k in range(POOL):  # BMPs of one size: only their ETags (or digests) tell them apart
            Image.open(tmp_path / f"pool/class-0/{k:04d}.jpg").save(tmp_path / f"{k}.bmp")
        pool = [(tmp_path / f"{k}.bmp").read_bytes() for k in range(POOL)]
        assert len({len(b) for b in pool}) == 1
        rows = [load_rgb(str(tmp_path / f"{k}.bmp"), SIZE) for k in range(POOL)]

        class Bucket(RuleBasedStateMachine):
            @initialize()
            def start(self):
                self.bucket = f"model-{uuid.uuid4().hex[:10]}"
                fs.mkdir(self.bucket)
                self.slots: list[int | None] = [k % POOL for k in range(N)]
                for i, k in enumerate(self.slots):
                    fs.pipe_file(self.key(i), pool[k])
                listed = "".join(f"s3://{self.bucket}/img/{i}.bmp\n" for i in range(N))
                fs.pipe_file(f"{self.bucket}/train.txt", listed.encode())
                self.out = tmp_path / f"{self.bucket}.npy"
                self.ran = self.changed = False

            def key(self, i: int) -> str:
                return f"{self.bucket}/img/{i}.bmp"

            @rule(i=st.integers(0, N - 1), k=st.integers(0, POOL - 1))
            def put(self, i, k):
                fs.pipe_file(self.key(i), pool[k])  # the same bytes again, or others
                self.changed |= self.slots[i] != k
                self.slots[i] = k

            @rule(i=st.integers(0, N - 1))
            def delete(self, i):
                if self.slots[i] is not None:
                    fs.rm_file(self.key(i))
                    self.slots[i] = None
                    self.changed = True

            @rule(batch=st.sampled_from([1, 2, 5]))
            def run(self, batch):
                report = jobs.resize(
                    f"s3://{self.bucket}/train.txt",
                    self.out,
                    size=SIZE,
                    batch_size=batch,
                    overwrite=not self.ran,
                    progress=False,
                    scheduler="threads",
                )
                if self.ran and not self.changed:  # only the same bytes put again: nothing is decoded
                    assert report.up_to_date, report.summary()
                self.ran, self.changed = True, False
                got = np.load(self.out)
                for i, k in enumerate(self.slots):
                    want = np.zeros_like(rows[0]) if k is None else rows[k]
                    assert np.array_equal(got[i], want), (i, k, report.summary())
                sidecar = json.loads(self.out.with_name(self.out.name + ".json").read_text())
                assert [f["index"] for f in sidecar["failed"]] == [i for i, k in enumerate(self.slots) if k is None]

            @invariant()
            def objects_are_the_models(self):
                for i, k in enumerate(self.slots):
                    assert (fs.cat_file(self.key(i)) == pool[k]) if k is not None else not fs.exists(self.key(i))

        Bucket.TestCase.settings = settings(
            max_examples=6, stateful_step_count=6, deadline=None, suppress_health_check=list(HealthCheck)
        )
        run_state_machine_as_test(Bucket, settings=Bucket.TestCase.settings)
    finally:
        server.stop()
        s3fs.S3FileSystem.clear_instance_cache()
