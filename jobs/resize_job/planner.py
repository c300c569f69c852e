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

import logging
import math
import os

from jobs import config
from jobs.errors import UsageError
from jobs.resize_job import stores
from jobs.resize_job import tasks as resize_tasks
from jobs.resize_job.checks import check_places, output_name
from jobs.resize_job.finish import CurrentFinish, ResizeFinish
from jobs.resize_job.listed import ListedPaths
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.paths import family, labels_path, out_stamp, partial_dir, sidecar_path
from jobs.resize_job.report import ResizeReport, up_to_date_report
from jobs.resize_job.rerun import Finished, another_job, assess, earlier_work, say_other_libraries, slices_named
from jobs.resize_job.sidecar import check_sidecar
from jobs.resize_job.source import scan_labelled
from jobs.resize_job.target import ResizeTarget, as_recorded, batch_identity, labels_digest, legacy_identity
from jobs.runtime.engine import Plan
from jobs.runtime.listing import Names, check_writable_dir, list_outputs
from jobs.runtime.locks import output_lock
from jobs.runtime.reads import read_json
from jobs.runtime.report import Outcomes
from jobs.runtime.runners import Mapper, local_map
from jobs.runtime.temporaries import new_token, temporary_of

__all__ = ["plan_resize", "up_to_date"]

log = logging.getLogger(__name__)


def _auto_batch(n: int, parallelism: int) -> int:
    """Images per task: at most ``resize.images-per-task``, fewer to give every thread ``resize.tasks-per-thread``
    tasks, and more when that would make over ``imgjobs.max-tasks`` tasks (a graph Dask handles well)."""
    per_task = config.get_int("resize.images-per-task", low=1)
    tasks_per_thread = config.get_int("resize.tasks-per-thread", low=1)
    most = config.get_int("max-tasks", low=1)
    want = math.ceil(n / max(1, tasks_per_thread * parallelism))
    batch = max(1, min(per_task, want))
    if math.ceil(n / batch) > most:
        batch = math.ceil(n / most)
        log.info(
            "resize: %d images per task, so that %d images make at most %d tasks (imgjobs.max-tasks)", batch, n, most
        )
    return batch


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


def up_to_date(source, out, opts: ResizeOptions | None = None, *, map: Mapper | None = None) -> ResizeReport | None:
    """The report of a rerun with nothing to do, or None.

    When ``out`` holds this very job (the same files in the same order with the
    same content stamps, labels, size, method and limits) and the batch and its
    labels are intact, there is nothing to do: the report says so, every image
    ``skipped``, and its exit code is 0.  Holds the output's lock while it looks.
    ``map`` takes the images' stamps (:func:`plan_resize`).
    """
    opts = opts or ResizeOptions.resolve()
    out = os.fspath(out)
    if opts.overwrite or not os.path.lexists(out):
        return None
    disabled = log.disabled
    log.disabled = True  # the run that follows says what it finds; this look says nothing twice
    try:
        with output_lock(os.path.dirname(os.path.abspath(out))):
            current = plan_resize(source, out, opts, map=map).current
        assert current is None or isinstance(current, ResizeReport)
    except UsageError:
        return None
    finally:
        log.disabled = disabled
    if current is not None:  # no run follows: say it here
        say_other_libraries(out, (current.sidecar or {}).get("libraries"))
    return current


def plan_resize(
    source,
    out,
    opts: ResizeOptions | None = None,
    *,
    parallelism: int = 1,
    map: Mapper | None = None,
    published: str | None = None,
) -> Plan:
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
    map : callable, optional
        Where a rerun takes the stamps of its images, in small tasks
        (:meth:`jobs.runtime.runners.Runner.map`: a run's scheduler); default:
        this process (:func:`jobs.runtime.runners.local_map`).
    published : str, optional
        The URL ``out`` is mirrored to when finished (:mod:`jobs.resize_job.remote`): what its sidecar names.

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
    out = output_name(os.fspath(out))
    watch = {os.path.basename(os.path.abspath(p)) for p, _ in family(out)}  # names an input must not have
    found = scan_labelled(source, opts.num_images, watch, opts.storage_options)
    paths = found.paths
    map = map or local_map
    check_places(out, source, paths, map)
    side = sidecar_path(out)
    parent = os.path.dirname(os.path.abspath(out))
    n = len(paths)
    mode = opts.stamps
    sidecar = read_json(side) if os.path.lexists(side) else None
    problem = "missing" if sidecar is None and not os.path.lexists(side) else check_sidecar(sidecar, out)
    if sidecar is not None and problem is None:  # auto, or the size auto chose: one .wds job
        opts = as_recorded(sidecar, found, opts, out)
    identity = batch_identity(found, opts, out)
    names = paths if isinstance(paths, ListedPaths) else Names("", tuple(paths))  # tasks carry ranges of a list
    labels_id = labels_digest(found)
    ours = (
        sidecar is not None
        and problem is None
        and sidecar["shape"][0] == n
        and (sidecar["identity"] == identity or sidecar["identity"] == legacy_identity(found, opts, out))
    )
    assessed = Finished()
    if os.path.lexists(out):
        if opts.overwrite:
            stores.removable(out)  # only an output imgjobs wrote is replaced
        elif problem is not None:
            raise UsageError(
                f"{out} exists and its sidecar {side} is {'missing' if problem == 'missing' else 'damaged: ' + problem}"
                ": imgjobs cannot tell what it holds; use --overwrite to replace it"
            )
        elif not ours:
            assert sidecar is not None  # a sound one (problem is None)
            raise UsageError(another_job(out, sidecar, found, opts))
        else:
            assert sidecar is not None  # ours
            assessed = assess(out, sidecar, opts.size, names, map, mode, labels_id, opts.storage_options)
            if assessed.current:
                say_other_libraries(out, sidecar.get("libraries"))
                plan = Plan("resize", unit="image")
                plan.current = up_to_date_report(out, paths, sidecar)
                plan.finish = CurrentFinish(
                    "resize", new_token(), out, out_stamp(out), out_stamp(side), plan.current, plan_resize, source, opts
                )
                return plan
            if assessed.rebuild:
                stores.removable(out)
                log.warning("%s", assessed.rebuild)
            else:
                log.warning("%s", assessed.reopen)
    elif not opts.overwrite and not ours:
        for path, what in family(out)[1:-1]:
            if os.path.lexists(path):
                raise UsageError(f"{path} ({what}) exists: use --overwrite to replace it")
    check_writable_dir(parent)
    token = new_token()
    work = partial_dir(out)
    batch = assessed.batch or opts.batch_size or _auto_batch(n, parallelism)
    common: dict = dict(stamp_mode=mode, expect_out=out_stamp(out), labels_id=labels_id)
    probe = ResizeTarget(out, work, n, opts.size, batch, token, identity, fresh=False, **common)
    if os.path.isdir(work) and not os.path.islink(work):  # refused now, not after the work: nothing of ours to lose
        foreign = stores.work_foreign(work)
        if foreign:
            shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            raise UsageError(
                f"{work} (the work folder of {out}) holds files imgjobs did not write there ({shown}): move them away"
            )
    labelled = found.labels is not None
    skip = opts.overwrite or assessed.rebuild or assessed.reopen
    earlier = None if skip else earlier_work(probe, names, map, opts, labelled)
    done: list = list(assessed.kept)
    if earlier is not None:
        recorded, done, changed, ignored = earlier
        if probe.chunked:
            batch = recorded["chunk"]  # the store's chunks are the tasks: keep them
        token = recorded["token"]
        if changed:
            log.warning(
                "resize: images changed since an interrupted run decoded them in %d slice(s) (%s): they are redone",
                len(changed),
                slices_named(names, changed),
            )
        if ignored:
            log.warning(
                "resize: %d record(s) in %s were not this job's or were damaged: their slices are redone",
                ignored,
                os.path.join(work, "done"),
            )
        if done:
            say_other_libraries(work, [d.libraries for d in done])
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
    ours = {os.path.basename(p) for p in (out, side, labels_path(out))}  # temporaries of these, left by killed runs
    stale = tuple(t for t in list_outputs(os.path.dirname(out)).temporaries if temporary_of(t) in ours)
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
        published,
    )
    plan.total = plan.nfiles = n - resumed
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
