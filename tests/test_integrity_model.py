"""A randomized model of the integrity promises: runs, kills, edits, damage and graphs, interleaved.

A hypothesis state machine drives both jobs on real files: resize into a
``.npy`` and a ``.zarr`` batch and ``.wds`` tar shards (runs, ``--overwrite``, a ``compute=False`` graph
computed twice, runs interrupted after a random number of slices, a CLI run
killed with SIGKILL at a random moment, a graph computed while another run holds
the directory), compress into a directory, and between them input edits, label
edits and damage to the outputs.  After every step:

* the inputs are exactly what the model wrote (nothing of theirs is touched);
* a run that reports success, or says its output is up to date, leaves an
  output equal to a fresh run's on the current inputs (pixels computed image by
  image by :func:`jobs.resize_job.decode.load_rgb`, labels from the list, ``.rle``
  files from the plain reference encoder);
* a run that fails raises one of imgjobs' own errors, with a message, and
  leaves the output absent or as it was.

CI runs 25 examples of up to 12 steps with a fixed seed (the suite's hypothesis
profile); ``IMGJOBS_MODEL_EXAMPLES=200`` runs more.
"""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import dask
import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from PIL import Image

import jobs
from conftest import blobs, pillow_bits, read_shards, reference_encode, rewrite, start_imgjobs
from jobs.errors import BusyError, StalePlan, UsageError
from jobs.resize_job.decode import load_rgb
from jobs.runtime.locks import output_lock

N = 6
SIZE = (8, 6)
OUTS = ("b.npy", "b.zarr", "b.wds")
ERRORS = (UsageError, BusyError, StalePlan)
EXAMPLES = int(os.environ.get("IMGJOBS_MODEL_EXAMPLES", "25"))


def digest(path: Path) -> str:
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(path.rglob("*")):
            h.update(str(p.relative_to(path)).encode())
            if p.is_file():
                h.update(p.read_bytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


class Integrity(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**32 - 1))
    def setup(self, seed):
        import tempfile

        self.rng = np.random.default_rng(seed)
        self.root = Path(tempfile.mkdtemp(prefix="imgjobs-model-"))
        self.inp = self.root / "in"
        self.inp.mkdir()
        self.labels = [int(i % 3) for i in range(N)]
        for i in range(N):
            self._write_image(i)
        self._write_list()
        self.bw = self.root / "bw"
        self.bw.mkdir()
        for i in range(3):
            self._write_bw(i)
        self.rle = self.root / "rle"

    def teardown(self):
        import shutil

        shutil.rmtree(getattr(self, "root", "/nonexistent"), ignore_errors=True)

    # -- the model's inputs

    def _write_image(self, i):
        y, x = np.mgrid[0:30, 0:40]
        base = np.stack([x * 6, y * 8, (x + y) * 3], -1) + self.rng.integers(0, 60, (30, 40, 3))
        pixels = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        rewrite(self.inp / f"{i}.jpg", lambda p: pixels.save(p, quality=90))

    def _write_list(self):
        (self.inp / "list.txt").write_text("".join(f"{i}.jpg {lab}\n" for i, lab in enumerate(self.labels)))

    def _write_bw(self, i):
        pixels = Image.fromarray(blobs(self.rng, 12, 20).astype(bool))
        rewrite(self.bw / f"{i}.bmp", lambda p: pixels.save(p))

    def _inputs(self) -> dict:
        files = [*self.inp.iterdir(), *self.bw.iterdir()]
        return {p: digest(p) for p in files}

    def _expected_batch(self):
        out = np.zeros((N, SIZE[1], SIZE[0], 3), np.uint8)
        for i in range(N):
            out[i] = load_rgb(self.inp / f"{i}.jpg", SIZE)
        return out

    # -- checks

    def _check_resize_output(self, name):
        out = self.root / name
        if name.endswith(".zarr"):
            import zarr

            group = zarr.open_group(str(out), mode="r")
            batch, labels = group["images"][:], group["labels"][:]
        elif name.endswith(".wds"):
            batch, labels = read_shards(out, N, SIZE)
        else:
            batch, labels = np.load(out), np.load(self.root / "b.labels.npy")
        np.testing.assert_array_equal(batch, self._expected_batch())
        assert list(labels) == self.labels

    def _guarded(self, name, action):
        """Run ``action``; success must leave a fresh run's output, failure an imgjobs error and no change."""
        out = self.root / name
        before = digest(out)
        self.inputs = self._inputs()
        try:
            result = action()
        except ERRORS as e:
            event(f"{name}: {type(e).__name__}")
            assert str(e)
            after = digest(out)
            assert after in (before, "absent"), f"{type(e).__name__}: {e} changed {out}"
            return None
        assert self._inputs() == self.inputs
        up = isinstance(result, jobs.Report) and result.up_to_date
        event(f"{name}: {'up to date' if up else type(result).__name__}")
        return result

    # -- rules: resize

    @rule(name=st.sampled_from(OUTS), overwrite=st.booleans())
    def resize(self, name, overwrite):
        report = self._guarded(name, lambda: self._resize(name, overwrite=overwrite))
        if report is not None:
            assert report.ok
            self._check_resize_output(name)

    def _resize(self, name, **kw):
        return jobs.resize(
            self.inp / "list.txt", self.root / name, size=SIZE, batch_size=2, progress=False,
            scheduler="threads", workers=2, **kw,
        )  # fmt: skip

    @rule(name=st.sampled_from(OUTS))
    def graph_computed_twice(self, name):
        graph = self._guarded(name, lambda: self._resize(name, compute=False))
        if graph is None:
            return
        for _ in range(2):
            result = self._guarded(name, lambda g=graph: dask.compute(g, scheduler="threads")[0])
            if result is not None:
                self._check_resize_output(name)

    @rule(name=st.sampled_from(OUTS), slices=st.integers(0, 2))
    def interrupted(self, name, slices):
        """A run killed after ``slices`` of its slices: the plan's first tasks, run by hand."""
        from jobs.resize_job import tasks as resize_tasks
        from jobs.resize_job.options import ResizeOptions
        from jobs.resize_job.planner import plan_resize

        def start():
            with output_lock(str(self.root)):
                plan = plan_resize(
                    self.inp / "list.txt", self.root / name, ResizeOptions.resolve(size=SIZE, batch_size=2)
                )
                if plan.current is not None:
                    return
                where = plan.finish.where
                [create] = [t for t in plan.graph.values() if t[0] is resize_tasks.create_output]
                offset = create[0](*create[1:])
                for key in plan.outputs[:slices]:
                    task = plan.graph[key]
                    if task[0] is resize_tasks.fill:
                        resize_tasks.fill(where, offset, *task[3:])

        self._guarded(name, start)

    @rule(name=st.sampled_from(OUTS), delay=st.floats(0.0, 2.5))
    def killed(self, name, delay):
        """The CLI killed with SIGKILL at a random moment."""
        before = digest(self.root / name)
        inputs = self._inputs()
        proc = start_imgjobs(
            "resize", self.inp / "list.txt", "--out", self.root / name, "--size", "8x6", "--batch-size", "1",
            "--scheduler", "threads", "--no-progress",
        )  # fmt: skip
        try:
            proc.wait(timeout=delay)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        event(f"killed run: exit {proc.returncode}")
        assert self._inputs() == inputs
        if proc.returncode == 0:
            self._check_resize_output(name)
        elif proc.returncode > 0:  # it ended by itself, with an error: the output is as it was, or gone
            assert digest(self.root / name) in (before, "absent")

    @rule(name=st.sampled_from(OUTS))
    def beside_another_run(self, name):
        graph = self._guarded(name, lambda: self._resize(name, compute=False))
        if graph is None:
            return
        before = digest(self.root / name)
        with output_lock(str(self.root)):
            try:
                dask.compute(graph, scheduler="threads")
            except BusyError:
                pass
            else:
                raise AssertionError("a graph ran while another run held the directory")
        assert digest(self.root / name) == before

    # -- rules: compress

    @rule(overwrite=st.booleans())
    def compress(self, overwrite):
        report = self._guarded("rle", lambda: jobs.compress(self.bw, self.rle, overwrite=overwrite, progress=False))
        if report is not None:
            assert report.ok
            for i in range(3):
                want = reference_encode(pillow_bits(self.bw / f"{i}.bmp"))
                assert (self.rle / f"{i}.rle").read_bytes() == want, f"{i}.rle is not current"

    # -- rules: the world changes

    @rule(i=st.integers(0, N - 1))
    def edit_image(self, i):
        self._write_image(i)

    @rule(i=st.integers(0, N - 1), label=st.integers(0, 4))
    def edit_label(self, i, label):
        self.labels[i] = label
        self._write_list()

    @rule(i=st.integers(0, 2))
    def edit_bw(self, i):
        self._write_bw(i)

    @rule(
        name=st.sampled_from(OUTS),
        how=st.sampled_from(["truncate", "labels", "sidecar", "batch", "done", "plan"]),
    )
    def damage(self, name, how):
        out = self.root / name
        work = self.root / f".{name}.imgjobs-partial"
        if how == "truncate" and out.is_file():
            with open(out, "r+b") as f:
                f.truncate(max(0, out.stat().st_size - 7))
        elif how == "truncate" and out.is_dir() and (out / "images" / "zarr.json").exists():
            (out / "images" / "zarr.json").write_text("{")
        elif how == "truncate" and out.is_dir() and sorted(out.glob("*.tar")):
            shard = sorted(out.glob("*.tar"))[-1]
            with open(shard, "r+b") as f:
                f.truncate(512)
        elif how == "labels" and name.endswith(".npy") and (self.root / "b.labels.npy").exists():
            (self.root / "b.labels.npy").unlink()
        elif how == "sidecar" and (self.root / f"{name}.json").exists():
            (self.root / f"{name}.json").write_text('{"format": "imgjobs-resize-2", "identity": []}')
        elif how == "batch" and out.is_file():
            out.unlink()
        elif how == "done" and (work / "done").is_dir():
            (work / "done" / "0-6.json").write_text('{"token": "forged", "start": 0, "stop": 6}')
        elif how == "plan" and work.is_dir():
            (work / "plan.json").write_text("[]")

    @rule(i=st.integers(0, 2))
    @precondition(lambda self: hasattr(self, "rle") and self.rle.is_dir())
    def damage_rle(self, i):
        path = self.rle / f"{i}.rle"
        if path.exists():
            path.write_bytes(b"")

    @invariant()
    def inputs_are_ours(self):
        if hasattr(self, "inp"):
            assert sorted(p.name for p in self.inp.iterdir()) == sorted([*(f"{i}.jpg" for i in range(N)), "list.txt"])


Integrity.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_integrity_model = Integrity.TestCase
