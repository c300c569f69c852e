"""A rerun of a resize job: what an earlier run left, and what of it is still this job's.

:func:`assess` looks at a finished batch whose sidecar says it is this job's:
current (nothing to do), damaged (rebuilt whole) or partly stale (the slices
holding changed images, or only the labels, redone).  :func:`earlier_work`
looks at an interrupted run's work folder: the slices still current are kept,
the rest redone.  Nothing recorded is believed without checking what it
claims: stamps of every image, the batch's size and header, a shard's members.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jobs.resize_job import records, shards, stores
from jobs.resize_job.libraries import library_changes, pixel_libraries
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.paths import kind_of, labels_path
from jobs.resize_job.sidecar import output_stamp
from jobs.resize_job.source import name_some
from jobs.resize_job.target import ResizeTarget
from jobs.runtime.durable import npy_header

__all__ = ["Finished", "assess", "describe", "earlier_work", "say_other_libraries"]

log = logging.getLogger(__name__)


def earlier_work(
    where: ResizeTarget, now: Callable[[], list], opts: ResizeOptions, labelled: bool
) -> tuple[dict, list, int, int] | None:
    """What an interrupted run of the same job left: (its plan, slices still current, images changed, ignored).

    ``now()`` gives every image's stamp now (called only when there are records to check).

    One listing of ``done/``.  None when the folder holds another job's work, an
    incomplete start, or a batch of another size (it is started over).  A slice
    whose images changed since it was recorded (their stamps differ) is not kept,
    nor one whose data is not there: a hole in a ``.npy``, a missing zarr chunk,
    a shard that does not hold exactly its samples (read from its tar headers).
    """
    recorded = records.read_plan(where.plan_file)
    if recorded is None or recorded["identity"] != where.identity or recorded["n"] != where.n:
        return None
    w, h = where.size
    if where.wds:
        chunk = recorded.get("chunk")
        if not chunk or not os.path.isdir(where.target) or os.path.islink(where.target):
            return None
        if recorded.get("labels") != where.labels_id:
            return None  # its shards carry other labels
        if opts.batch_size is not None and chunk != opts.batch_size:
            return None  # a shard size given is the job's: a plan of another is not this job's work
        expected = set(shards.names(where.out, where.n, chunk))
        if shards.shards_foreign(where.target, shards.prefix(where.out), temporaries=True, expected=expected):
            return None  # shards of another chunking (a forged plan): start over
        where = dataclasses.replace(where, batch=chunk)  # the shards are named by the chunks they were planned in
    elif where.zarr:
        chunk = recorded.get("chunk")
        if not chunk or stores.batch_problem(where.target, (where.n, h, w, 3), False):
            return None
    else:
        chunk = None
        if stores.batch_problem(where.target, (where.n, h, w, 3), False):
            return None
    done, ignored = records.read_done(where.done_dir, recorded["token"], where.identity, where.n, chunk)
    kept, changed = [], 0
    offset = _npy_offset(where) if not where.chunked else 0
    image = where.size[0] * where.size[1] * 3
    for d in done:
        moved = sum(1 for a, b in zip(d.stamps, now()[d.start : d.stop], strict=True) if a != b)
        if moved:
            changed += moved
        elif where.wds and not shards.shard_holds(
            where.shard_path(d.start),
            shards.members(d.start, d.stop, where.n, [i for i, _ in d.failed], labelled, opts.sample_format),
        ):
            ignored += 1  # a shard missing, cut short, appended to or swapped: redone
        elif not where.wds and not stores.slice_written(
            where, d.start, d.stop, chunk or 1, lambda i: offset + i * image
        ):
            ignored += 1  # recorded, but no task wrote it: the record lies
        else:
            kept.append(d)
    return recorded, kept, changed, ignored


def _npy_offset(where) -> int:
    """Where a batch's data starts: the length of the ``.npy`` header create_output writes."""
    w, h = where.size
    return len(npy_header((where.n, h, w, 3)))


def describe(sidecar) -> str:
    if not isinstance(sidecar, dict):
        return "?"
    resize, shape = sidecar.get("resize"), sidecar.get("shape")
    method = resize.get("method", "?") if isinstance(resize, dict) else "?"
    fit = resize.get("fit") or "stretch" if isinstance(resize, dict) else "?"
    fill = resize.get("pad_fill") if isinstance(resize, dict) and fit == "pad" else None
    n = shape[0] if isinstance(shape, list) and shape else "?"
    shown = f"{n} image(s) of {sidecar.get('size', '?')}, method {method}, fit {fit}"
    return shown + (f" on {fill}" if fill is not None else "")


@dataclass
class Finished:
    """What a rerun found at a finished output of this job."""

    current: bool = False
    rebuild: str = ""  # why it is rebuilt whole (damaged batch)
    reopen: str = ""  # why some slices (or only the labels) are redone
    kept: tuple = ()
    batch: int = 0
    sidecar: dict | None = None


def _failed_slots_not_zero(out: str, sidecar: dict) -> list:
    """Images the sidecar lists as failed whose slots hold pixels (a failed image leaves its slot zero)."""
    index = [f["index"] for f in sidecar["failed"]]
    if not index or kind_of(out) == "wds":  # shards: a failed image has no sample (the stamps cover them)
        return []
    if out.endswith(".zarr"):
        import zarr  # optional extra: zarr

        images = zarr.open_array(out, path="images", mode="r")
    else:
        images = np.load(out, mmap_mode="r")
    return [i for i in index if np.any(images[i])]


def assess(out: str, sidecar: dict, n: int, size, now: list, mode: str, labels_id: str, paths) -> Finished:
    """A finished batch whose sidecar says it is this job's: current, to rebuild, or to reopen (and why)."""
    w, h = size
    recorded_mode = sidecar["stamps"]["mode"]
    kind = kind_of(out)
    damage = stores.batch_problem(out, (n, h, w, 3), False, sidecar["images_per_task"] if kind != "npy" else None)
    if not damage and output_stamp(out, recorded_mode) != sidecar["outputs"]["batch"]:
        damage = "it changed since it was built: replaced, copied over or edited"
    if not damage and _failed_slots_not_zero(out, sidecar):
        damage = "its sidecar lists failed images whose slots hold pixels"
    if damage:
        return Finished(rebuild=f"{out} is damaged ({damage}): rebuilding it", sidecar=sidecar)
    recorded = sidecar["stamps"]["files"]
    why = []
    if sidecar["stamps"]["mode"] != mode:
        changed = list(range(n))
        why.append(
            f"its images were stamped by {sidecar['stamps']['mode']}, now by {mode}: every image is decoded again"
        )
    else:
        changed = [i for i in range(n) if recorded[i] != now[i]]
    if changed and not why:
        why.append(f"{len(changed)} image(s) changed since it was built ({name_some(paths, changed)})")
    if sidecar["labels_digest"] != labels_id:
        why.append("its labels changed")
        if kind == "wds":
            changed = list(range(n))  # every shard carries its samples' labels
    elif sidecar["labels"] is not None and kind != "wds":
        problem = stores.batch_problem(out, (n, h, w, 3), True)
        if not problem and kind == "npy":
            if output_stamp(labels_path(out), recorded_mode) != sidecar["outputs"]["labels"]:
                problem = "changed since it was built"
        if problem:
            why.append(f"its labels are damaged ({problem})")
    if not why:
        return Finished(current=True, sidecar=sidecar)
    batch = sidecar["images_per_task"]
    made = sidecar.get("libraries") or []
    libraries = made[0] if len(made) == 1 else {}  # {}: unknown (not recorded, or several)
    moved = set(changed)
    failed: dict = {}
    for f in sidecar["failed"]:
        failed.setdefault(f["index"] // batch, []).append((f["index"] % batch, f["reason"]))
    kept = []
    for k in range(0, n, batch):
        stop = min(k + batch, n)
        if not any(i in moved for i in range(k, stop)):
            kept.append(records.Done(k, stop, recorded[k:stop], failed.get(k // batch, []), libraries))
    return Finished(reopen=f"{out}: {' and '.join(why)}: redoing that", kept=tuple(kept), batch=batch, sidecar=sidecar)


def say_other_libraries(what: str, made) -> None:
    """Warn when pixels already made came from other library versions than this process has."""
    now = pixel_libraries()
    changes: list = []
    for libraries in made or [None]:
        for change in library_changes(libraries, now):
            if change not in changes:
                changes.append(change)
    if changes:
        log.warning(
            "%s was made with other library versions than this process has (%s): its pixels may differ from a "
            "rebuild; --overwrite rebuilds it with these",
            what,
            "; ".join(changes),
        )
