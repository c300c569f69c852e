"""The resize job's planner: current, reopen, resume or start over; then the tasks.

Planning reads the file list and the output and writes nothing.  The graph has
three steps:

1. one task creates the empty batch in a hidden work folder beside the output,
   ``.batch.npy.imgjobs-partial/`` (a ``.npy`` of the full size, or a zarr group
   whose ``images`` chunks are the tasks' slices), or keeps the one an
   interrupted run left there;
2. batch tasks load their images and write their slice straight into it,
   make it durable, then record it as done (a small file in ``done/``); they
   return only per-image outcomes: the client never gathers pixels;
3. :class:`~jobs.resize_job.finish.ResizeFinish` writes the labels and the sidecar,
   renames the batch into place and removes the work folder.

An interrupted run keeps its work folder: the same command again plans only the
slices not recorded as done (:func:`plan_resize`), and a rerun over a finished
output says it is up to date (:func:`up_to_date`).  A task writes the same bytes
however often it runs, so Dask may retry it freely.  Per-image work is about 1-2 ms,
close to Dask's per-task overhead, so tasks take batches of images.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from jobs import config
from jobs.errors import UsageError
from jobs.resize_job import shards, state
from jobs.resize_job import tasks as resize_tasks
from jobs.resize_job.executors import run_executor
from jobs.resize_job.finish import CurrentFinish, ResizeFinish, up_to_date_report
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.source import name_some, read_labelled
from jobs.resize_job.state import labels_path, partial_dir, sidecar_path
from jobs.resize_job.target import ResizeTarget, batch_identity, labels_digest
from jobs.runtime import stamps
from jobs.runtime.engine import Plan
from jobs.runtime.files import (
    Names,
    check_writable_dir,
    list_outputs,
    new_token,
    read_json,
)
from jobs.runtime.report import Outcomes, Report

__all__ = ["plan_resize", "up_to_date"]

log = logging.getLogger(__name__)


def _check_not_an_input(out: str, outputs, source, paths: list) -> None:
    """Refuse outputs that would overwrite the source, its file list or an image."""
    source = os.path.abspath(os.fspath(source))
    inputs = {source, *map(os.path.abspath, paths)}
    if os.path.isfile(source) and source.lower().endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                listed = json.load(f)["data"]["train_filelist"]
            inputs.add(os.path.abspath(os.path.join(os.path.dirname(source), listed)))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            pass
    for path, what in outputs:
        if os.path.abspath(path) in inputs:
            raise UsageError(f"{path} ({what}) is one of the job's inputs: choose another --out")
    # The same files under other names (a link, a symbolic link to a directory), and images inside a
    # store that --overwrite would remove: what exists of the outputs, by device and inode (a store:
    # every file in it), against every input.
    taken = {}
    for path, what in outputs:
        if what == "its work folder" or not os.path.lexists(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            for root, _, files in os.walk(path):
                for f in files:
                    with contextlib.suppress(OSError):
                        st = os.stat(os.path.join(root, f))
                        taken[(st.st_dev, st.st_ino)] = f"is inside {path} ({what})"
        else:
            with contextlib.suppress(OSError):
                st = os.stat(path)
                taken[(st.st_dev, st.st_ino)] = f"is {path} ({what}) under another name"
    if taken:
        for p in sorted(inputs):
            try:
                st = os.stat(p)
            except OSError:
                continue
            why = taken.get((st.st_dev, st.st_ino))
            if why:
                raise UsageError(f"{p}, one of the job's inputs, {why}: choose another --out")
    if os.path.isdir(source) and state.kind_of(out) != "npy":
        real_out, real_src = os.path.realpath(out), os.path.realpath(source)
        if real_out.startswith(real_src + os.sep):
            raise UsageError(
                f"{out} is inside the source directory {source}: it would be read as a class folder on the next "
                "run; choose an --out outside it"
            )


def _auto_batch(n: int, parallelism: int) -> int:
    per_task = config.get_int("resize.images-per-task", low=1)
    tasks_per_thread = config.get_int("resize.tasks-per-thread", low=1)
    want = math.ceil(n / max(1, tasks_per_thread * parallelism))
    return max(1, min(per_task, want))


def _earlier_work(
    where: ResizeTarget, now: list, opts: ResizeOptions, labelled: bool
) -> tuple[dict, list, int, int] | None:
    """What an interrupted run of the same job left: (its plan, slices still current, images changed, ignored).

    One listing of ``done/``.  None when the folder holds another job's work, an
    incomplete start, or a batch of another size (it is started over).  A slice
    whose images changed since it was recorded (their stamps differ) is not kept,
    nor one whose data is not there: a hole in a ``.npy``, a missing zarr chunk,
    a shard that does not hold exactly its samples (read from its tar headers).
    """
    recorded = state.read_plan(where.plan_file)
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
        if not chunk or state.batch_problem(where.target, (where.n, h, w, 3), False):
            return None
    else:
        chunk = None
        if state.batch_problem(where.target, (where.n, h, w, 3), False):
            return None
    done, ignored = state.read_done(where.done_dir, recorded["token"], where.identity, where.n, chunk)
    kept, changed = [], 0
    offset = _npy_offset(where) if not where.chunked else 0
    image = where.size[0] * where.size[1] * 3
    for d in done:
        moved = sum(1 for a, b in zip(d.stamps, now[d.start : d.stop], strict=True) if a != b)
        if moved:
            changed += moved
        elif where.wds and not shards.shard_holds(
            where.shard_path(d.start),
            shards.members(d.start, d.stop, where.n, [i for i, _ in d.failed], labelled, opts.sample_format),
        ):
            ignored += 1  # a shard missing, cut short, appended to or swapped: redone
        elif not where.wds and not state.slice_written(
            where, d.start, d.stop, chunk or 1, lambda i: offset + i * image
        ):
            ignored += 1  # recorded, but no task wrote it: the record lies
        else:
            kept.append(d)
    return recorded, kept, changed, ignored


def _npy_offset(where) -> int:
    """Where a batch's data starts: the length of the ``.npy`` header create_output writes."""
    w, h = where.size
    return len(state.npy_header((where.n, h, w, 3)))


def _ranges(n: int, done: list, batch: int, aligned: bool) -> list[tuple[int, int]]:
    """The slices still to do, at most ``batch`` images each (``aligned``: whole chunks of ``batch``)."""
    todo, pos = [], 0
    for start, stop in [*((d.start, d.stop) for d in done), (n, n)]:
        if start > pos:
            k = pos
            while k < start:
                end = min(start, (k // batch + 1) * batch if aligned else k + batch)
                todo.append((k, end))
                k = end
        pos = max(pos, stop)
    return todo


def _describe(sidecar) -> str:
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
class _Finished:
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
    if not index or state.kind_of(out) == "wds":  # shards: a failed image has no sample (the stamps cover them)
        return []
    if out.endswith(".zarr"):
        import zarr

        images = zarr.open_array(out, path="images", mode="r")
    else:
        images = np.load(out, mmap_mode="r")
    return [i for i in index if np.any(images[i])]


def _assess(out: str, sidecar: dict, n: int, size, now: list, mode: str, labels_id: str, paths) -> _Finished:
    """A finished batch whose sidecar says it is this job's: current, to rebuild, or to reopen (and why)."""
    w, h = size
    recorded_mode = sidecar["stamps"]["mode"]
    kind = state.kind_of(out)
    damage = state.batch_problem(out, (n, h, w, 3), False, sidecar["images_per_task"] if kind != "npy" else None)
    if not damage and state.output_stamp(out, recorded_mode) != sidecar["outputs"]["batch"]:
        damage = "it changed since it was built: replaced, copied over or edited"
    if not damage and _failed_slots_not_zero(out, sidecar):
        damage = "its sidecar lists failed images whose slots hold pixels"
    if damage:
        return _Finished(rebuild=f"{out} is damaged ({damage}): rebuilding it", sidecar=sidecar)
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
        problem = state.batch_problem(out, (n, h, w, 3), True)
        if not problem and kind == "npy":
            if state.output_stamp(labels_path(out), recorded_mode) != sidecar["outputs"]["labels"]:
                problem = "changed since it was built"
        if problem:
            why.append(f"its labels are damaged ({problem})")
    if not why:
        return _Finished(current=True, sidecar=sidecar)
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
            kept.append(state.Done(k, stop, recorded[k:stop], failed.get(k // batch, []), libraries))
    return _Finished(reopen=f"{out}: {' and '.join(why)}: redoing that", kept=tuple(kept), batch=batch, sidecar=sidecar)


def _say_other_libraries(what: str, made) -> None:
    """Warn when pixels already made came from other library versions than this process has."""
    now = resize_tasks.pixel_libraries()
    changes: list = []
    for libraries in made or [None]:
        for change in resize_tasks.library_changes(libraries, now):
            if change not in changes:
                changes.append(change)
    if changes:
        log.warning(
            "%s was made with other library versions than this process has (%s): its pixels may differ from a "
            "rebuild; --overwrite rebuilds it with these",
            what,
            "; ".join(changes),
        )


def up_to_date(source, out, opts: ResizeOptions | None = None) -> Report | None:
    """The report of a rerun with nothing to do, or None.

    When ``out`` holds this very job (the same files in the same order with the
    same content stamps, labels, size, method and limits) and the batch and its
    labels are intact, there is nothing to do: the report says so, every image
    ``skipped``, and its exit code is 0.  Holds the output's lock while it looks.
    """
    from jobs.runtime.files import output_lock

    opts = opts or ResizeOptions.resolve()
    out = os.fspath(out)
    if opts.overwrite or not os.path.lexists(out):
        return None
    disabled = log.disabled
    log.disabled = True  # the run that follows says what it finds; this look says nothing twice
    try:
        with output_lock(os.path.dirname(os.path.abspath(out))):
            current = plan_resize(source, out, opts).current
    except UsageError:
        return None
    finally:
        log.disabled = disabled
    if current is not None:  # no run follows: say it here
        _say_other_libraries(out, (current.sidecar or {}).get("libraries"))
    return current


def plan_resize(source, out, opts: ResizeOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan building an (N, H, W, 3) uint8 batch from a list of images, resuming or refreshing earlier work.

    Parameters
    ----------
    source : str
        File list, JSON config, directory or class folders (see :func:`read_labelled`).
    out : str
        ``.npy`` file, ``.zarr`` store or ``.wds`` directory of tar shards.
    opts : ResizeOptions, optional
        Resolved options (default: from config).
    parallelism : int
        Threads that will run the graph.

    Returns
    -------
    jobs.runtime.engine.Plan
        ``plan.current`` is the report when ``out`` is up to date (no tasks).
        Otherwise tasks for the slices to do: all of them; or, resuming an
        interrupted run of the same job, those not recorded as done; or, when
        some images or the labels changed since ``out`` was built, the slices
        holding changed images (the rest of the batch is kept).

    Raises
    ------
    UsageError
        For an output that holds another job (``overwrite`` replaces it, if
        imgjobs wrote it), names an input, or cannot be written.
    """
    opts = opts or ResizeOptions.resolve()
    out = os.fspath(out)
    if out.endswith(os.sep) and out.rstrip(os.sep).endswith((".zarr", ".wds")):
        out = out.rstrip(os.sep)  # a directory output named with its slash (shell completion adds one)
    if not out.endswith(state.KINDS):
        raise UsageError(f"output {out} must end in .npy, .zarr or .wds (a directory of WebDataset tar shards)")
    if state.kind_of(out) == "wds" and (not shards.prefix(out) or shards.prefix(out).startswith(".")):
        raise UsageError(f"output {out} needs a name before .wds (e.g. train.wds): it names the shards")
    if state.kind_of(out) == "wds" and any(c in shards.prefix(out) for c in "{},"):
        raise UsageError(
            f"output {out}: braces and commas in a shard name would be read as a brace pattern by loaders; "
            "choose a name without them"
        )
    found = read_labelled(source, opts.num_images)
    paths = found.paths
    side = sidecar_path(out)
    outputs = state.family(out)
    _check_not_an_input(out, outputs, source, paths)
    if os.path.islink(out):
        raise UsageError(
            f"{out} is a symbolic link: imgjobs writes a batch of its own there, never through a link; "
            "remove the link or choose another --out"
        )
    if out.endswith(".npy") and os.path.lexists(labels_path(out)) and not os.path.isfile(labels_path(out)):
        raise UsageError(f"{labels_path(out)} (its labels) is not a file: move it away or choose another --out")
    if out.endswith(".npy") and os.path.isdir(out):
        raise UsageError(f"{out} is a directory: a .npy output is a file; remove it or choose another name")
    if os.path.isdir(side):
        raise UsageError(f"{side} (the sidecar) is a directory: remove it or choose another output name")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {out}: directory {parent} does not exist")
    if out.endswith(".zarr"):
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise UsageError("writing .zarr needs the zarr package: pip install zarr (or use a .npy output)") from None
    n = len(paths)
    mode = opts.stamps
    identity = batch_identity(paths, opts, out)
    now = stamps.of_paths(paths, mode)
    labels_id = labels_digest(found)
    sidecar = read_json(side) if os.path.lexists(side) else None
    problem = "missing" if sidecar is None and not os.path.lexists(side) else state.check_sidecar(sidecar, out)
    ours = sidecar is not None and problem is None and sidecar["identity"] == identity and sidecar["shape"][0] == n
    assessed = _Finished()
    if os.path.lexists(out):
        if opts.overwrite:
            state.removable(out)  # only an output imgjobs wrote is replaced
        elif problem is not None:
            raise UsageError(
                f"{out} exists and its sidecar {side} is {'missing' if problem == 'missing' else 'damaged: ' + problem}"
                ": imgjobs cannot tell what it holds; use --overwrite to replace it"
            )
        elif not ours:
            raise UsageError(
                f"{out} (the batch) exists from another job (it holds {_describe(sidecar)}): "
                "use --overwrite to replace it"
            )
        else:
            assert sidecar is not None  # ours
            assessed = _assess(out, sidecar, n, opts.size, now, mode, labels_id, paths)
            if assessed.current:
                _say_other_libraries(out, sidecar.get("libraries"))
                plan = Plan("resize", unit="image")
                plan.current = up_to_date_report(out, paths, sidecar)
                plan.finish = CurrentFinish(
                    "resize", new_token(), out, state.out_stamp(out), state.out_stamp(side), plan.current, source, opts
                )
                return plan
            if assessed.rebuild:
                state.removable(out)
                log.warning("%s", assessed.rebuild)
            else:
                log.warning("%s", assessed.reopen)
    elif not opts.overwrite and not ours:
        for path, what in outputs[1:-1]:
            if os.path.lexists(path):
                raise UsageError(f"{path} ({what}) exists: use --overwrite to replace it")
    check_writable_dir(parent)
    token = new_token()
    work = partial_dir(out)
    batch = assessed.batch or opts.batch_size or _auto_batch(n, parallelism)
    common: dict = dict(stamp_mode=mode, expect_out=state.out_stamp(out), labels_id=labels_id)
    probe = ResizeTarget(out, work, n, opts.size, batch, token, identity, fresh=False, **common)
    if os.path.isdir(work) and not os.path.islink(work):  # refused now, not after the work: nothing of ours to lose
        foreign = state.work_foreign(work)
        if foreign:
            shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise UsageError(
                f"{work} (the work folder of {out}) holds files imgjobs did not write there ({shown}): move them away"
            )
    labelled = found.labels is not None
    skip = opts.overwrite or assessed.rebuild or assessed.reopen
    earlier = None if skip else _earlier_work(probe, now, opts, labelled)
    done: list = list(assessed.kept)
    if earlier is not None:
        recorded, done, changed, ignored = earlier
        if probe.chunked:
            batch = recorded["chunk"]  # the store's chunks are the tasks: keep them
        token = recorded["token"]
        if changed:
            log.warning(
                "resize: %d image(s) changed since an interrupted run decoded them: their slices are redone", changed
            )
        if ignored:
            log.warning(
                "resize: %d record(s) in %s were not this job's or were damaged: their slices are redone",
                ignored,
                os.path.join(work, "done"),
            )
        if done:
            _say_other_libraries(work, [d.libraries for d in done])
    elif os.path.isdir(work) and not assessed.reopen:
        log.info("%s holds the work of another job or an incomplete start: starting over", work)
    where = ResizeTarget(
        out,
        work,
        n,
        opts.size,
        batch,
        token,
        identity,
        fresh=earlier is None,
        reopen=bool(assessed.reopen),
        overwrite=bool(opts.overwrite or assessed.rebuild),
        **common,
    )
    todo = _ranges(n, done, batch, aligned=where.chunked)
    prefixes = (
        f".{os.path.basename(out)}.",
        f".{os.path.basename(side)}.",
        f".{os.path.basename(labels_path(out))}.",
    )
    stale = tuple(t for t in list_outputs(os.path.dirname(out)).temporaries if t.startswith(prefixes))
    names = Names("", tuple(paths))
    plan = Plan("resize", unit="image")
    settled, starts = [], []
    for d in done:
        o = Outcomes(names[d.start : d.stop])
        for i, reason in d.failed:
            o.fail(i, reason)
        settled.append(o)
        starts.append(d.start)
    resumed = sum(d.stop - d.start for d in done)
    run = new_token()  # task keys of this run; the files keep the token of the run that created them
    prepare = (f"resize-create-{run}", 0)
    kept = tuple(done) if assessed.reopen else ()
    plan.graph[prepare] = (resize_tasks.create_output, where, kept)
    plan.exclusive.add(prepare)
    for k, (start, stop) in enumerate(todo):
        key = (f"resize-batch-{run}", k)
        labels = found.labels[start:stop].tolist() if where.wds and found.labels is not None else None
        plan.graph[key] = (resize_tasks.fill, where, prepare, start, names[start:stop], opts, labels)
        plan.outputs.append(key)
        plan.watch[key] = (stop - start, stop - start)
        starts.append(start)
    if not todo:
        plan.outputs.append(prepare)  # only the labels change: the first task still runs
    plan.settled = settled
    plan.finish = ResizeFinish(
        "resize",
        run,
        where,
        names,
        opts,
        stale,
        tuple(starts),
        tuple(todo),
        found,
        resumed,
        (source, opts.num_images),
        kept,
    )
    plan.total = plan.nfiles = n - resumed
    plan.executor = lambda kind, workers, progress: run_executor(plan.finish, kind, workers, progress)
    if resumed and not assessed.reopen:
        log.warning(
            "resize: resuming %s: %d of %d image(s) were finished by an earlier run; %d task(s) left",
            work,
            resumed,
            n,
            len(todo),
        )
    log.info("resize: %d image(s) in %d task(s) of %d", n - resumed, len(todo), batch)
    return plan
