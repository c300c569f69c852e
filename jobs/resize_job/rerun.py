"""A rerun of a resize job: what an earlier run left, and what of it is still this job's.

:func:`assess` looks at a finished batch whose sidecar says it is this job's:
current (nothing to do), damaged (rebuilt whole) or partly stale (the slices
holding changed images, or only the labels, redone).  :func:`earlier_work`
looks at an interrupted run's work folder: the slices still current are kept,
the rest redone.  Nothing recorded is believed without checking what it
claims: the stamps of every slice (taken by small tasks where the job's tasks
run, :func:`slice_stamps`), the batch's size and header, a shard's members.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jobs.resize_job import records, shards, stores
from jobs.resize_job.libraries import library_changes, pixel_libraries
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.paths import kind_of, labels_path
from jobs.resize_job.sidecar import output_stamp, recorded_slices
from jobs.resize_job.source import Source, name_some
from jobs.resize_job.target import ResizeTarget
from jobs.runtime import stamps
from jobs.runtime.durable import npy_header
from jobs.runtime.runners import MAP_ITEMS, Mapper
from jobs.runtime.storage import Storage

__all__ = [
    "Finished",
    "another_job",
    "assess",
    "describe",
    "differences",
    "earlier_work",
    "say_other_libraries",
    "slice_stamps",
    "slices_named",
]

log = logging.getLogger(__name__)


def slice_stamps(
    names: Sequence, ranges: Sequence[tuple[int, int]], mode: str, map: Mapper, storage: Storage | None = None
) -> list[str]:
    """Each slice's stamp now (:func:`jobs.runtime.stamps.of_slices`), for ``ranges`` of ``names`` in order.

    The stamps are taken by ``map``'s tasks (the scheduler's workers, in a run),
    each carrying a range of the list and about :data:`~jobs.runtime.runners.MAP_ITEMS` images, and
    only one digest per slice comes back: no serial loop of ``stat`` calls on
    the client, and nothing per image held there.
    """
    calls: list[tuple] = []
    lengths: list[int] = []  # the run of adjacent slices gathered into one task: from image first, total long
    first = total = 0
    for start, stop in ranges:
        if lengths and (start != first + total or total >= MAP_ITEMS):
            calls.append((names[first : first + total], lengths, mode, storage))
            lengths, total = [], 0
        if not lengths:
            first = start
        lengths.append(stop - start)
        total += stop - start
    if lengths:
        calls.append((names[first : first + total], lengths, mode, storage))
    return [stamp for part in map(stamps.of_slices, calls) for stamp in part]


def slices_named(paths: Sequence, slices: Sequence[tuple[int, int]], most: int = 2) -> str:
    """The first ``most`` slices for a message: ``images 3..5: 3.jpg, 4.jpg, 5.jpg``."""
    shown = [f"images {a}..{b - 1}: {name_some(paths, list(range(a, min(b, a + 4))), 3)}" for a, b in slices[:most]]
    return "; ".join(shown) + (f"; and {len(slices) - most} more slice(s)" if len(slices) > most else "")


def earlier_work(
    where: ResizeTarget, names: Sequence, map: Mapper, opts: ResizeOptions, labelled: bool
) -> tuple[dict, list, list, int] | None:
    """What an interrupted run of the same job left: (its plan, slices still current, slices changed, ignored).

    ``names``: the images; ``map`` takes their stamps (:func:`slice_stamps`), for the recorded slices only.

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
    kept, changed = [], []
    offset = _npy_offset(where) if not where.chunked else 0
    image = where.size[0] * where.size[1] * 3
    now = slice_stamps(names, [(d.start, d.stop) for d in done], where.stamp_mode, map, opts.storage_options)
    for d, stamp in zip(done, now, strict=True):
        if stamp != d.stamp:
            changed.append((d.start, d.stop))
        elif where.wds and not shards.shard_holds(
            where.shard_path(d.start),
            shards.members(d.start, d.stop, where.n, [i for i, _ in d.failed], labelled, opts.sample_format),
        ):
            ignored += 1  # a shard missing, cut short, appended to or swapped: redone
        elif not where.wds and not stores.slice_written(
            where, d.start, d.stop, chunk or 1, lambda i: offset + i * image
        ):
            ignored += 1  # recorded, but no task wrote it: the record lies
        elif _failed_slots_not_zero(where.target, [d.start + i for i, _ in d.failed]):
            ignored += 1  # a failure recorded for an image whose slot holds pixels: the record lies
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


def differences(sidecar, found: Source, opts: ResizeOptions, out: str) -> tuple[list[str], bool]:
    """What differs between the job a sound sidecar records and this one, a fact each (for the refusal of an
    output of another job); and whether this list is that one with images added after it (``grown``)."""
    resize = sidecar.get("resize") if isinstance(sidecar.get("resize"), dict) else {}
    source = sidecar.get("source") if isinstance(sidecar.get("source"), dict) else {}
    was, now = sidecar["shape"][0], len(found.paths)
    facts, grown = [], False
    recorded = source.get("paths_digest")
    if was != now:
        grown = was < now and recorded == found.prefix_digest(was)
        after = f", its first {was} the same: this list only grew" if grown else ""
        facts.append(f"its list had {was} image(s), this one has {now}{after}")
    elif not isinstance(recorded, str):
        facts.append("its list is not recorded (an older imgjobs): it cannot be compared with this one")
    elif recorded != found.paths_digest():
        facts.append(f"its list of {was} image(s) differs from this one (other paths, or another order)")
    size = f"{opts.size[0]}x{opts.size[1]}"
    fit, old_fit = opts.fit, resize.get("fit") or "stretch"
    both_pad, both_draft = fit == old_fit == "pad", opts.method == resize.get("method") == "draft"  # else said
    old_fill, fill = (resize.get("pad_fill"), list(opts.pad_fill)) if both_pad else (None, None)
    old_fraction, fraction = (resize.get("draft_fraction"), opts.draft_fraction) if both_draft else (None, None)
    shards = sidecar.get("shards") if isinstance(sidecar.get("shards"), dict) else {}
    per_task = opts.batch_size if opts.batch_size is not None else sidecar["images_per_task"]
    for name, old, new in (
        ("size", sidecar["size"], size),
        ("method", resize.get("method"), opts.method),
        ("draft fraction", old_fraction, fraction),
        ("fit", old_fit, fit),
        ("pad fill", old_fill, fill),
        ("max pixels", resize.get("max_pixels"), opts.max_pixels),
        ("sample format", shards.get("sample_format"), opts.sample_format if kind_of(out) == "wds" else None),
        ("images per shard", shards.get("images_per_shard"), per_task if kind_of(out) == "wds" else None),
    ):
        if old != new and (new is not None or old is not None):
            facts.append(f"{name} {_shown(old)}, here {_shown(new)}")
    if not facts:
        facts.append("its recorded job is this one's, but its identity is not (made by another imgjobs version)")
    return facts, grown


def another_job(out: str, sidecar: dict, found: Source, opts: ResizeOptions) -> str:
    """The refusal of ``out``, the output of another job: what it holds, what differs, and what to do."""
    facts, grown = differences(sidecar, found, opts, out)
    said = (
        f"{out} (the batch) exists from another job (it holds {describe(sidecar)}); what differs: "
        f"{'; '.join(facts)}. Use --overwrite to replace it, or choose another --out"
    )
    if grown and len(facts) == 1:  # only the list grew
        was = sidecar["shape"][0]
        keep = "give your loader both shard patterns" if kind_of(out) == "wds" else "use both batches"
        said += (
            f"; to keep it and add only the {len(found.paths) - was} new image(s), put the entries after the first "
            f"{was} in a list of their own, resize that into another output and {keep} (--overwrite makes every "
            "image again)"
        )
    return said


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


@dataclass
class Finished:
    """What a rerun found at a finished output of this job."""

    current: bool = False
    rebuild: str = ""  # why it is rebuilt whole (damaged batch)
    reopen: str = ""  # why some slices (or only the labels) are redone
    kept: tuple = ()
    batch: int = 0
    sidecar: dict | None = None


def _failed_slots_not_zero(out: str, index: list) -> list:
    """Of images listed as failed (by a sidecar or a done record), those whose slots in the batch (or the
    work folder's) at ``out`` hold pixels: a failed image leaves its slot zero, so the list lies."""
    if not index or kind_of(out) == "wds":  # shards: a failed image has no sample (the stamps cover them)
        return []
    if out.endswith(".zarr"):
        import zarr  # optional extra: zarr

        images = zarr.open_array(out, path="images", mode="r")
    else:
        images = np.load(out, mmap_mode="r")
    return [i for i in index if np.any(images[i])]


def assess(
    out: str,
    sidecar: dict,
    size,
    names: Sequence,
    map: Mapper,
    mode: str,
    labels_id: str,
    storage: Storage | None = None,
) -> Finished:
    """A finished batch whose sidecar says it is this job's: current, to rebuild, or to reopen (and why).

    Its slices' stamps are taken now by ``map`` (:func:`slice_stamps`, URLs with ``storage``) and compared
    with the sidecar's; a slice whose images changed is redone, the rest kept.
    """
    w, h = size
    n = sidecar["shape"][0]
    recorded_mode = sidecar["stamps"]["mode"]
    kind = kind_of(out)
    damage = stores.batch_problem(out, (n, h, w, 3), False, sidecar["images_per_task"] if kind != "npy" else None)
    if not damage and output_stamp(out, recorded_mode) != sidecar["outputs"]["batch"]:
        damage = "it changed since it was built: replaced, copied over or edited"
    if not damage and _failed_slots_not_zero(out, [f["index"] for f in sidecar["failed"]]):
        damage = "its sidecar lists failed images whose slots hold pixels"
    if damage:
        return Finished(rebuild=f"{out} is damaged ({damage}): rebuilding it", sidecar=sidecar)
    slices = recorded_slices(sidecar)
    why = []
    if recorded_mode != mode:
        changed = set(range(len(slices)))
        why.append(f"its images were stamped by {recorded_mode}, now by {mode}: every image is decoded again")
    else:
        now = slice_stamps(names, [(a, b) for a, b, _ in slices], mode, map, storage)
        changed = {k for k, ((_, _, was), stamp) in enumerate(zip(slices, now, strict=True)) if was != stamp}
        if changed:
            moved = [slices[k][:2] for k in sorted(changed)]
            why.append(
                f"images changed since it was built in {len(changed)} of its {len(slices)} slice(s) "
                f"({slices_named(names, moved)})"
            )
    if sidecar["labels_digest"] != labels_id:
        why.append("its labels changed")
        if kind == "wds":
            changed = set(range(len(slices)))  # every shard carries its samples' labels
    elif sidecar["labels"] is not None and kind != "wds":
        problem = stores.batch_problem(out, (n, h, w, 3), True)
        if not problem and kind == "npy":
            if output_stamp(labels_path(out), recorded_mode) != sidecar["outputs"]["labels"]:
                problem = "changed since it was built"
        if problem:
            why.append(f"its labels are damaged ({problem})")
    if not why:
        return Finished(current=True, sidecar=sidecar)
    made = sidecar.get("libraries") or []
    libraries = made[0] if len(made) == 1 else {}  # {}: unknown (not recorded, or several)
    starts = [a for a, _, _ in slices]
    failed: dict = {}
    for f in sidecar["failed"]:
        k = bisect.bisect_right(starts, f["index"]) - 1
        failed.setdefault(k, []).append((f["index"] - starts[k], f["reason"]))
    kept = tuple(
        records.Done(a, b, stamp, failed.get(k, []), libraries)
        for k, (a, b, stamp) in enumerate(slices)
        if k not in changed
    )
    batch = sidecar["images_per_task"]
    return Finished(reopen=f"{out}: {' and '.join(why)}: redoing that", kept=kept, batch=batch, sidecar=sidecar)


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
