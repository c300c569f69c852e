"""Where a resize job writes: the output, its hidden work folder, and what a task must find there."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass

from jobs.errors import StalePlan
from jobs.resize_job import records, shards
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.paths import kind_of
from jobs.resize_job.source import Source
from jobs.runtime import stamps

__all__ = ["LAYOUT", "ResizeTarget", "batch_identity", "labels_digest", "legacy_identity"]

log = logging.getLogger(__name__)


#: Bumped when the layout of the work folder or what a slice holds changes: older work is started over.
LAYOUT = 3


@dataclass(frozen=True)
class ResizeTarget:
    """Where a resize job writes, and what its tasks must find there when they run.

    Attributes
    ----------
    out : str
        The final ``.npy`` file, ``.zarr`` store or ``.wds`` directory of shards.
    work : str
        The hidden work folder: the batch being filled, ``plan.json`` and ``done/``.
    n : int
        Images in the batch.
    size : (int, int)
        Width and height of each image.
    batch : int
        Images per task (the zarr chunk length).
    token : str
        The run that owns the work folder (``plan.json`` names it).
    identity : str
        What the batch holds (files in order, size, method, limits, kind of
        stamp): work recorded for another identity is never reused.
    fresh : bool
        Start the work folder over; False to resume the one ``token`` owns.
    stamp_mode : str
        ``stat`` or ``content`` (:mod:`jobs.runtime.stamps`).
    expect_out : str
        What was at ``out`` when the job was planned (:func:`jobs.resize_job.paths.out_stamp`):
        the first task refuses to go on if that changed (:class:`~jobs.errors.StalePlan`).
    reopen : bool
        The finished batch at ``out`` is moved back into the work folder and only
        the slices the first task is given are kept: inputs or labels changed
        since it was built.  (Those slices travel with that one task only: every
        task carries this target, so it holds nothing that grows with the batch.)
    overwrite : bool
        An old batch at ``out`` is replaced (only one imgjobs wrote).
    labels_id : str
        The digest of the labels (:func:`labels_digest`): shards carry their
        samples' labels, so a ``.wds`` work folder of other labels is not resumed.
    """

    out: str
    work: str
    n: int
    size: tuple
    batch: int
    token: str = ""
    identity: str = ""
    fresh: bool = True
    stamp_mode: str = "stat"
    expect_out: str = "absent"
    reopen: bool = False
    overwrite: bool = False
    labels_id: str = "none"

    @property
    def kind(self) -> str:
        """``npy``, ``zarr`` or ``wds`` (a directory of tar shards)."""
        return kind_of(self.out)

    @property
    def zarr(self) -> bool:
        """True for a zarr store."""
        return self.kind == "zarr"

    @property
    def wds(self) -> bool:
        """True for a directory of WebDataset tar shards."""
        return self.kind == "wds"

    @property
    def chunked(self) -> bool:
        """Whether each task writes a unit of its own (zarr chunks, shards): slices stay on ``batch`` boundaries."""
        return self.kind != "npy"

    @property
    def target(self) -> str:
        """The batch being filled, inside the work folder."""
        return os.path.join(self.work, f"batch.{self.kind}")

    def shard_path(self, start: int) -> str:
        """The shard that holds image ``start`` (a ``.wds`` output), inside the work folder."""
        count = shards.shard_count(self.n, self.batch)
        return os.path.join(self.target, shards.shard_name(self.out, start // self.batch, count))

    @property
    def done_dir(self) -> str:
        """Where each finished slice is recorded, one file each."""
        return os.path.join(self.work, "done")

    @property
    def plan_file(self) -> str:
        """What the work folder holds, and for which run."""
        return os.path.join(self.work, "plan.json")

    def check_owner(self) -> dict:
        """The work folder's plan, if this run owns it; else :class:`~jobs.errors.StalePlan`."""
        recorded = records.read_plan(self.plan_file)
        if recorded is None or recorded["token"] != self.token or recorded["identity"] != self.identity:
            raise StalePlan(
                f"{self.work} no longer holds the run this job was planned for (another run replaced or "
                f"finished it): plan the job again (for {self.out})"
            )
        return recorded

    def finished(self) -> list:
        """The slices recorded as done, which must cover every image exactly once; else :class:`StalePlan`."""
        done, _ = records.read_done(
            self.done_dir, self.token, self.identity, self.n, self.batch if self.chunked else None
        )
        pos = 0
        for d in done:
            if d.start != pos:
                break
            pos = d.stop
        if pos != self.n:
            raise StalePlan(
                f"images {pos}.. of {self.out} are not recorded as finished in {self.done_dir} (the work folder "
                "changed while this job ran, or a graph was computed twice): plan the job again"
            )
        return done


def _identity_head(n: int, opts: ResizeOptions, out: str, layout: int) -> str:
    fraction = opts.draft_fraction if opts.method == "draft" else None
    parts: list = [layout, n, list(opts.size), opts.method, fraction, opts.max_pixels]
    if opts.fit != "stretch":  # stretch batches keep the identity they had before fits existed
        parts += [opts.fit, list(opts.pad_fill) if opts.fit == "pad" else None]
    if kind_of(out) == "wds":  # the shard size is part of what the output is, when it is given
        parts += ["wds", opts.sample_format, opts.batch_size]
    return json.dumps(parts)


def batch_identity(source: Source, opts: ResizeOptions, out: str = "") -> str:
    """A digest of what a batch holds given its files' content: files in order, size, method, fit, limits.

    For shards (an ``out`` ending in ``.wds``), how each sample is stored too.
    The files count through :meth:`Source.paths_digest`, read as the list is scanned.
    """
    return stamps.digest([_identity_head(len(source.paths), opts, out, LAYOUT), source.paths_digest()])


def as_recorded(sidecar: dict, source: Source, opts: ResizeOptions, out: str) -> ResizeOptions:
    """``opts`` with the shard size a ``.wds`` output's identity was made with, when that is all that differs.

    A ``.wds`` identity holds the images per shard as given (None: ``auto``), and ``auto`` keeps the size
    the first run chose: asked again with ``auto``, or with the size ``auto`` chose, it is the same job.
    """
    shards = sidecar.get("shards")
    per = shards.get("images_per_shard") if isinstance(shards, dict) else None
    if kind_of(out) != "wds" or sidecar.get("identity") == batch_identity(source, opts, out):
        return opts
    if opts.batch_size is None and isinstance(per, int) and not isinstance(per, bool):
        other = dataclasses.replace(opts, batch_size=per)
    elif opts.batch_size is not None and opts.batch_size == per:
        other = dataclasses.replace(opts, batch_size=None)
    else:
        return opts
    return other if sidecar.get("identity") == batch_identity(source, other, out) else opts


def legacy_identity(source: Source, opts: ResizeOptions, out: str = "") -> str:
    """The identity imgjobs up to layout 2 gave the same batch (every path a digest item): a batch built
    then is still this job's.  Reads every path: asked only when a sidecar's identity is not :func:`batch_identity`."""
    head = _identity_head(len(source.paths), opts, out, 2)
    return stamps.digest([head, *(os.path.abspath(p) for p in source.paths)])


def labels_digest(source: Source | None) -> str:
    """A digest of a source's labels and classes (``none`` without labels)."""
    if source is None or source.labels is None:
        return "none"
    labels, step = source.labels, 1 << 20  # the hex of every label, a million at a time
    parts = (labels[i : i + step].astype("<i8").tobytes().hex() for i in range(0, len(labels), step))
    return stamps.digest([json.dumps(source.classes), parts])
