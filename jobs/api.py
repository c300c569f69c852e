"""The Python API: ``compress``, ``decompress``, ``verify`` and ``resize``, each one call.

Each function takes the command line's options as keyword arguments (None falls
back to ``imgjobs.*`` in ``dask.config``), plans the job, runs it and returns a
:class:`~jobs.runtime.report.Report`.  Where it runs, in this order:

1. on ``client=``, a ``distributed.Client`` you opened;
2. on the scheduler named by ``scheduler=``, ``scheduler_address=``,
   ``scheduler_file=`` or ``cluster=``;
3. on the active ``distributed.Client`` (the one ``Client()`` made current);
4. on the configured scheduler (``imgjobs.scheduler.*``; by default ``auto``: Dask's
   threads, or its processes for 15,000 small files or more).

With ``compute=False`` nothing runs: you get one :class:`dask.delayed.Delayed`
whose last task finalizes and returns the report, to compute when and where you
like (as :func:`dask.bag.to_textfiles` does).

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")
>>> report.counts, report.exit_code
({'ok': 3}, 0)
>>> batch = jobs.resize("train.txt", "batch.npy", size="64x64").array
>>> batch.shape, batch.dtype
((4, 64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import logging
import os

from jobs.errors import UsageError
from jobs.options import ResizeOptions, RunOptions
from jobs.runtime.engine import run as run_plan
from jobs.runtime.engine import to_delayed
from jobs.runtime.files import check_writable_file

__all__ = ["compress", "decompress", "resize", "run_job", "verify"]

log = logging.getLogger(__name__)

_RUN_DOC = """
    Other Parameters
    ----------------
    client : distributed.Client, optional
        Compute on this client's cluster (it is left open).
    compute : bool, default True
        False: return a :class:`dask.delayed.Delayed` whose last task finalizes
        and returns the :class:`~jobs.runtime.report.Report`; nothing runs until it is computed.
    progress : bool or jobs.runtime.progress.Progress, optional
        Draw a progress bar (default: on a terminal or in Jupyter, when
        ``imgjobs.progress`` is true).
    scheduler : {"auto", "threads", "processes", "local"}, optional
        Dask's thread pool, its process pool, or a ``distributed.LocalCluster``;
        ``auto`` picks processes for 15,000 small files or more (their work
        holds the GIL), threads otherwise.
    workers, threads_per_worker : int, optional
        Pool size, or LocalCluster workers x threads (default: one per core, 1 thread).
    host, dashboard_address : str, optional
        Where a LocalCluster listens (default 127.0.0.1 and 127.0.0.1:8787).
    scheduler_address, scheduler_file : str, optional
        A running scheduler, e.g. one started with ``dask scheduler --scheduler-file``.
    cluster : str, optional
        A profile under ``imgjobs.clusters``: worker jobs submitted to PBS or Slurm.
    jobs : int, optional
        Batch jobs to keep running for ``cluster``.
    tls : bool, optional
        TLS on every connection (see ``imgjobs certs``).
    performance_report : str, optional
        Write Dask's performance report (or local task profiles) to this HTML file.
"""


def _doc(func):
    func.__doc__ = func.__doc__.replace("    __RUN__\n", _RUN_DOC + "\n")
    return func


def _progress(progress):
    from jobs.runtime.progress import Progress

    if progress is None:
        return Progress()
    if isinstance(progress, bool):  # False: silent (no bar, no dashboard note); True: both
        return Progress(progress, dashboard=progress)
    return progress


def _parallelism(client, run: RunOptions) -> int:
    """Threads a graph built for later will probably get (task sizes only)."""
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    from jobs import config

    return config.get_int("scheduler.workers", run.workers, low=1, optional=True) or os.cpu_count() or 1


def _check_client(client) -> None:
    """A closed or foreign ``client=`` is a clear error, not a traceback from deep in distributed."""
    if client is None:
        return
    status = getattr(client, "status", None)
    if status is None or not hasattr(client, "nthreads"):
        raise UsageError(f"client must be a distributed.Client, got {type(client).__name__}")
    if status != "running":
        raise UsageError(f"the client {client!r} is {status}: open a new distributed.Client (or pass none)")


def _run(plan, client, compute: bool, progress, run: RunOptions, lock_dir):
    """Plan and run through the runtime's one guarded path (:func:`jobs.runtime.engine.run`), or build the graph."""
    from jobs.runtime.schedulers import runner_for

    _check_client(client)
    if run.performance_report:
        check_writable_file(run.performance_report, "the performance report")
    if not compute:
        return to_delayed(plan(_parallelism(client, run)))
    with runner_for(client, run) as runner:
        return run_plan(plan, lock_dir, runner, _progress(progress), performance_report=run.performance_report)


@_doc
def run_job(name: str, *inputs, client=None, compute=True, progress=None, **keywords):
    """Run the job ``name`` of the registry (:mod:`jobs.registry`) on ``inputs``: the one path of every job.

    ``compress``, ``decompress``, ``verify`` and ``resize`` are this call with a
    docstring of their own; a job added to the registry is reached through it, from
    Python and from ``imgjobs NAME`` alike.

    Parameters
    ----------
    name : str
        The job (``jobs.registry.specs()`` lists them).
    *inputs
        Its positional inputs, as its spec names them (e.g. ``src, dst``).
    **keywords
        Its options (None or absent: ``imgjobs.*`` from config) and the scheduler
        options below.
    __RUN__
    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed

    Raises
    ------
    UsageError
        For an unknown job, bad inputs or bad options.
    """
    from jobs import registry

    spec = registry.get(name)
    if len(inputs) != len(spec.inputs):
        raise TypeError(f"{name}() takes {len(spec.inputs)} input(s) ({', '.join(spec.inputs)}), got {len(inputs)}")
    names = spec.option_names()
    options = {k: keywords.pop(k) for k in list(keywords) if k in names}
    opts = registry.load(spec.options).resolve(**options)
    run = RunOptions.from_kwargs(keywords, name)
    planner = registry.load(spec.planner)
    lock_dir = registry.load(spec.writes)(*inputs) if spec.writes else None
    return _run(lambda p: planner(*inputs, opts, parallelism=p), client, compute, progress, run, lock_dir)


@_doc
def compress(
    src,
    dst,
    *,
    rows_per_task=None,
    threshold=None,
    overwrite=None,
    max_pixels=None,
    client=None,
    compute=True,
    progress=None,
    **run,
):
    """Compress an image, or every image in a directory, into ``.rle`` files.

    Parameters
    ----------
    src : str or os.PathLike
        An image file, or a directory whose image files (by extension: BMP, PNG,
        TIFF, GIF, JPEG, PBM...) are compressed.
    dst : str or os.PathLike
        The ``.rle`` file, or a directory for ``<name>.rle`` files (created if missing).
    rows_per_task : int or "auto", optional
        ``auto`` (default) batches small files and splits large BMPs into row
        blocks of about ``imgjobs.rle.target-pixels-per-task`` pixels; 0 gives one
        task per image; N gives blocks of N rows.
    threshold : int, optional
        White when luminance >= threshold (0..255), instead of Floyd-Steinberg
        dithering as Pillow's ``convert('1')``.
    overwrite : bool, optional
        Replace existing outputs (default: keep them, so a rerun finishes the rest).
    max_pixels : int, optional
        Fail (by name) images decoded whole with more pixels than this (default
        ``imgjobs.max-pixels``, Pillow's decompression-bomb limit); uncompressed
        BMPs are read by rows and have no such limit.
    __RUN__
    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed
        Per-file outcomes and the summary figures (``compute=False``: the graph).

    Raises
    ------
    UsageError
        For a missing source, a file as the destination of a directory, or bad options.
    """
    options = {"rows_per_task": rows_per_task, "threshold": threshold, "overwrite": overwrite, "max_pixels": max_pixels}
    return run_job("compress", src, dst, client=client, compute=compute, progress=progress, **options, **run)


@_doc
def decompress(src, dst, *, rows_per_task=None, overwrite=None, client=None, compute=True, progress=None, **run):
    """Decompress an ``.rle`` file, or every ``.rle`` file in a directory, into 1-bit BMPs.

    Work is sized from the bytes each file holds, never from what its header
    claims: a file too short or too long for its header's size fails at once,
    by name, and the rest completes.

    Parameters
    ----------
    src : str or os.PathLike
        An ``.rle`` file or a directory of them.
    dst : str or os.PathLike
        The ``.bmp`` file, or a directory for ``<name>.bmp`` files.
    rows_per_task : int or "auto", optional
        As for :func:`compress`.
    overwrite : bool, optional
        Replace existing outputs.
    __RUN__
    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed
    """
    options = {"rows_per_task": rows_per_task, "overwrite": overwrite}
    return run_job("decompress", src, dst, client=client, compute=compute, progress=progress, **options, **run)


@_doc
def verify(
    orig, rle, *, threshold=None, rows_per_task=None, max_pixels=None, client=None, compute=True, progress=None, **run
):
    """Decode ``.rle`` files and compare them with their images, pixel by pixel.

    Large pairs are compared a block of rows at a time, so memory is bounded like
    compress's (a whole image is held, packed, only when its rows cannot be read
    apart: dithered images, formats Pillow decodes whole).

    Parameters
    ----------
    orig : str or os.PathLike
        An image file or a directory of images.
    rle : str or os.PathLike
        The ``.rle`` file, or a directory holding ``<name>.rle`` for each image.
    threshold : int, optional
        The threshold the files were compressed with, if any.
    rows_per_task : int or "auto", optional
        As for :func:`compress`.
    max_pixels : int, optional
        As for :func:`compress`.
    __RUN__
    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed
        A mismatching file has status ``"mismatch"``, its count and first
        positions in the reason and ``details``.
    """
    options = {"threshold": threshold, "rows_per_task": rows_per_task, "max_pixels": max_pixels}
    return run_job("verify", orig, rle, client=client, compute=compute, progress=progress, **options, **run)


@_doc
def resize(
    source,
    out="batch.npy",
    *,
    num_images=None,
    size=None,
    method=None,
    draft_fraction=None,
    batch_size=None,
    overwrite=None,
    max_pixels=None,
    stamps=None,
    executor=None,
    client=None,
    compute=True,
    progress=None,
    exact=None,
    **run,
):
    """Decode and resize a list of images into one (N, H, W, 3) uint8 batch.

    Parameters
    ----------
    source : str or os.PathLike
        A file list (one path per line, relative to the list), a JSON config with
        ``data.train_filelist``, or a directory of images.
    out : str or os.PathLike
        ``batch.npy`` (default) or a ``.zarr`` store; a sidecar ``<out>.json``
        records the files, failures, size, resize mode and timing.
    num_images : int, optional
        Take the first N images (an error if fewer exist).
    size : str or (int, int), optional
        Output width x height, e.g. ``"100x100"`` (default from ``imgjobs.resize.size``).
    method : {"area", "exact", "draft"}, optional
        ``area`` (default: OpenCV's decode and area filter, quality-safe),
        ``exact`` (Pillow's full decode and bicubic filter, the exercise's
        semantics) or ``draft`` (a reduced DCT decode near the output size:
        faster, trades quality); see :data:`jobs.resize_job.tasks.METHODS`.
    draft_fraction : float, optional
        ``draft`` only: decode at the smallest DCT scale still at least this
        fraction of the output size (default 0.9).
    exact : bool, optional
        Shorthand for ``method="exact"``.
    batch_size : int, optional
        Images per task (default: sized from the images and threads, at most 64).
    overwrite : bool, optional
        Replace an existing output.
    max_pixels : int, optional
        Fail (by name) images with more pixels than this (default ``imgjobs.max-pixels``).
    stamps : {"stat", "content"}, optional
        How a rerun tells that an image changed: its size and modification time
        (default), or a digest of its bytes (reads every image on a rerun); see
        :mod:`jobs.runtime.stamps`.
    executor : {"serial", "threads", "processes"}, optional
        Run the classic exercise's executor (a loop, ``ThreadPoolExecutor``,
        ``ProcessPoolExecutor`` of ``workers``) instead of Dask, for comparison.
    __RUN__
    Returns
    -------
    jobs.runtime.report.Report or dask.delayed.Delayed
        ``report.output`` is the batch, ``report.array`` opens it, and
        ``report.labels`` and ``report.classes`` give its labels when the source
        has them (a list's second column, or class folders); failed images keep
        a zero slot and the label -1, and are listed in the report and the sidecar.

    Notes
    -----
    An interrupted run keeps its work in a hidden folder beside ``out``; the same
    call again does only what is left.  When ``out`` already holds this very job,
    the report says it is up to date (``report.up_to_date``), with nothing run.
    """
    from jobs.resize_job.planner import plan_resize, up_to_date

    opts = ResizeOptions.resolve(
        size, method, draft_fraction, batch_size, num_images, overwrite, max_pixels, exact, stamps
    )
    run = RunOptions.from_kwargs(run, "resize")
    _check_client(client)
    done = up_to_date(source, out, opts) if compute else None  # before a cluster starts for nothing
    if done is not None:
        log.info("%s", done.up_to_date)
        return done

    def plan(p):
        return plan_resize(source, out, opts, parallelism=p)

    from jobs.resize_job.spec import writes

    lock_dir = writes(source, out)
    if executor is None:
        return _run(plan, client, compute, progress, run, lock_dir)
    if client is not None or (run.explicit and run.scheduler is None):
        raise UsageError("--executor runs the exercise's pools in this process: drop the cluster options")
    if not compute:
        raise UsageError("compute=False builds a Dask graph: it cannot use the exercise's executors")
    from jobs.runtime.schedulers import ExecutorRunner

    runner = ExecutorRunner(executor, run.workers)
    if run.performance_report:
        raise UsageError("--performance-report needs a Dask scheduler, not --executor")
    return run_plan(plan, lock_dir, runner, _progress(progress))
