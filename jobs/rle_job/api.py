"""The RLE job's Python functions: ``compress``, ``decompress`` and ``verify``, each one call.

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")
>>> report.counts, report.exit_code
({'ok': 3}, 0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack

from jobs import running
from jobs.images import IMAGE_EXTENSIONS
from jobs.options import SchedulerOptions
from jobs.rle_job.options import CompressOptions, DecompressOptions, VerifyOptions
from jobs.rle_job.remote import Places, fetched
from jobs.runtime.engine import Plan
from jobs.runtime.progress import Progress
from jobs.runtime.runners import Mapper, local_map

if TYPE_CHECKING:
    from dask.delayed import Delayed
    from distributed import Client

    from jobs.rle_job.report import RleReport

__all__ = ["compress", "decompress", "verify"]

StrPath = str | os.PathLike[str]


def _run(
    job: str,
    plan: Callable[[int, Mapper], Plan],
    src: StrPath,
    dst: StrPath,
    writes: str | None,
    client: Client | None,
    compute: bool,
    progress: bool | Progress | None,
    scheduler: SchedulerOptions,
) -> RleReport | Delayed:
    report = running.run(
        job,
        plan,
        source=src,
        writes=writes,
        client=client,
        compute=compute,
        progress=progress,
        scheduler=scheduler,
        claims=(src, dst),
    )
    return report  # type: ignore[return-value]  # an RLE job's finish makes an RleReport


def compress(
    src: StrPath,
    dst: StrPath,
    *,
    rows_per_task: int | Literal["auto"] | None = None,
    threshold: int | None = None,
    overwrite: bool | None = None,
    max_pixels: int | None = None,
    stamps: Literal["stat", "content"] | None = None,
    storage_options: Mapping[str, Any] | str | None = None,
    client: Client | None = None,
    compute: bool = True,
    progress: bool | Progress | None = None,
    **scheduler: Unpack[SchedulerOptions],
) -> RleReport | Delayed:
    """Compress an image, or every image in a directory, into ``.rle`` files.

    Existing outputs made from their input as it is now are kept, so the same
    call again finishes what an interrupted one left.

    Parameters
    ----------
    src : str or os.PathLike
        An image file, or a directory whose image files (by extension: BMP, PNG,
        TIFF, GIF, JPEG, PBM...) are compressed.
    dst : str or os.PathLike
        The .rle file, or a directory for <name>.rle files (created if missing).
    rows_per_task : int or "auto", optional
        Rows per task (default ``imgjobs.rle.rows-per-task``): 'auto' batches small
        files and splits large BMPs into row blocks of about
        ``imgjobs.rle.target-pixels-per-task`` pixels; 0 gives one task per image;
        N gives blocks of N rows.
    threshold : int, optional
        White when luminance >= this (0..255), instead of Floyd-Steinberg dithering
        as Pillow's convert('1') (default ``imgjobs.rle.threshold``).
    overwrite : bool, optional
        Replace existing outputs (default ``imgjobs.overwrite``: false keeps them,
        so a rerun finishes the rest).
    max_pixels : int, optional
        Refuse (fail by name) images decoded whole with more pixels than this
        (default ``imgjobs.max-pixels``; as shipped, Pillow's decompression-bomb
        limit); uncompressed BMPs are read by rows and have no such limit.
    stamps : {"stat", "content"}, optional
        How a rerun tells an input changed (default ``imgjobs.stamps``): stat, its
        size and modification time; content, a digest of its bytes (for file
        systems whose times lie; reads every input whose output is there).
    storage_options : mapping or str, optional
        fsspec's options for a source or destination at a URL (s3://bucket/scans/),
        as for :func:`jobs.resize` (default ``imgjobs.storage-options``); never
        shown, logged or recorded.
    client, compute, progress, **scheduler
        Where and when it runs, as for every job: see :func:`jobs.run_job`.

    Returns
    -------
    jobs.rle_job.report.RleReport or dask.delayed.Delayed
        Every file's outcome and the summary figures (``compute=False``: the graph).

    Raises
    ------
    UsageError
        For a missing input, an output that cannot be written, or bad options.
    """
    from jobs.rle_job.planning import output_dir, plan_compress  # start-up: ~10 ms, loaded to run only

    opts = CompressOptions.resolve(
        rows_per_task=rows_per_task,
        threshold=threshold,
        overwrite=overwrite,
        max_pixels=max_pixels,
        stamps=stamps,
        storage_options=storage_options,
    )
    where = Places.of(src, dst, opts.storage_options, IMAGE_EXTENSIONS, compute)
    writes = output_dir(where.src, where.dst)

    def plan(parallelism: int, map: Mapper | None = None) -> Plan:
        return plan_compress(where.src, where.dst, opts, parallelism=parallelism, map=map or local_map)

    return where.mirrored(_run("compress", plan, where.src, where.dst, writes, client, compute, progress, scheduler))


def decompress(
    src: StrPath,
    dst: StrPath,
    *,
    rows_per_task: int | Literal["auto"] | None = None,
    overwrite: bool | None = None,
    stamps: Literal["stat", "content"] | None = None,
    storage_options: Mapping[str, Any] | str | None = None,
    client: Client | None = None,
    compute: bool = True,
    progress: bool | Progress | None = None,
    **scheduler: Unpack[SchedulerOptions],
) -> RleReport | Delayed:
    """Decompress an ``.rle`` file, or every ``.rle`` file in a directory, into 1-bit BMPs.

    Work is sized from the bytes each file holds, never from what its header
    claims: a file too short or too long for its header's size fails at once,
    by name, and the rest completes.

    Parameters
    ----------
    src : str or os.PathLike
        An .rle file or a directory of them.
    dst : str or os.PathLike
        The .bmp file, or a directory for <name>.bmp files.
    rows_per_task : int or "auto", optional
        Rows per task (default ``imgjobs.rle.rows-per-task``): 'auto' batches small
        files and splits large ones into row blocks of about
        ``imgjobs.rle.target-pixels-per-task`` pixels; 0 gives one task per file; N
        gives blocks of N rows.
    overwrite : bool, optional
        Replace existing outputs (default ``imgjobs.overwrite``: false keeps them,
        so a rerun finishes the rest).
    stamps : {"stat", "content"}, optional
        How a rerun tells an input changed (default ``imgjobs.stamps``): stat, its
        size and modification time; content, a digest of its bytes (for file
        systems whose times lie; reads every input whose output is there).
    storage_options : mapping or str, optional
        fsspec's options for a source or destination at a URL (s3://bucket/scans/),
        as for :func:`jobs.resize` (default ``imgjobs.storage-options``); never
        shown, logged or recorded.
    client, compute, progress, **scheduler
        Where and when it runs, as for every job: see :func:`jobs.run_job`.

    Returns
    -------
    jobs.rle_job.report.RleReport or dask.delayed.Delayed
        Every file's outcome and the summary figures (``compute=False``: the graph).

    Raises
    ------
    UsageError
        For a missing input, an output that cannot be written, or bad options.
    """
    from jobs.rle_job.planning import output_dir, plan_decompress  # start-up: ~10 ms, loaded to run only

    opts = DecompressOptions.resolve(
        rows_per_task=rows_per_task, overwrite=overwrite, stamps=stamps, storage_options=storage_options
    )
    where = Places.of(src, dst, opts.storage_options, {".rle"}, compute)
    writes = output_dir(where.src, where.dst)

    def plan(parallelism: int, map: Mapper | None = None) -> Plan:
        return plan_decompress(where.src, where.dst, opts, parallelism=parallelism, map=map or local_map)

    return where.mirrored(_run("decompress", plan, where.src, where.dst, writes, client, compute, progress, scheduler))


def verify(
    orig: StrPath,
    rle: StrPath,
    *,
    threshold: int | None = None,
    rows_per_task: int | Literal["auto"] | None = None,
    max_pixels: int | None = None,
    storage_options: Mapping[str, Any] | str | None = None,
    client: Client | None = None,
    compute: bool = True,
    progress: bool | Progress | None = None,
    **scheduler: Unpack[SchedulerOptions],
) -> RleReport | Delayed:
    """Decode ``.rle`` files and compare them with their images, pixel by pixel.

    Large pairs are compared a block of rows at a time, so memory is bounded like
    compress's (a whole image is held, packed, only when its rows cannot be read
    apart: dithered images, formats Pillow decodes whole).  Nothing is written.

    Parameters
    ----------
    orig : str or os.PathLike
        An image file or a directory of images.
    rle : str or os.PathLike
        The .rle file, or a directory holding <name>.rle for each image.
    threshold : int, optional
        The threshold the files were compressed with, if any (default
        ``imgjobs.rle.threshold``).
    rows_per_task : int or "auto", optional
        Rows per task (default ``imgjobs.rle.rows-per-task``): 'auto' batches small
        files and splits large ones into row blocks of about
        ``imgjobs.rle.target-pixels-per-task`` pixels; 0 gives one task per file; N
        gives blocks of N rows.
    max_pixels : int, optional
        Refuse (fail by name) images decoded whole with more pixels than this
        (default ``imgjobs.max-pixels``; as shipped, Pillow's decompression-bomb
        limit); uncompressed BMPs are read by rows and have no such limit.
    storage_options : mapping or str, optional
        fsspec's options for images or .rle files at a URL, as for
        :func:`jobs.resize` (default ``imgjobs.storage-options``); never shown,
        logged or recorded.
    client, compute, progress, **scheduler
        Where and when it runs, as for every job: see :func:`jobs.run_job`.

    Returns
    -------
    jobs.rle_job.report.RleReport or dask.delayed.Delayed
        A mismatching file has status ``"mismatch"``, its count and first
        positions in the reason and ``details`` (``compute=False``: the graph).

    Raises
    ------
    UsageError
        For a missing input or bad options.
    """
    from jobs.rle_job.planning import plan_verify  # start-up: ~10 ms, loaded to run only

    opts = VerifyOptions.resolve(
        threshold=threshold, rows_per_task=rows_per_task, max_pixels=max_pixels, storage_options=storage_options
    )
    images = fetched(os.fspath(orig), opts.storage_options, IMAGE_EXTENSIONS)
    rles = fetched(os.fspath(rle), opts.storage_options, {".rle"})

    def plan(parallelism: int, map: Mapper | None = None) -> Plan:  # map: not needed by this job's plans
        return plan_verify(images, rles, opts, parallelism=parallelism)

    return _run("verify", plan, images, rles, None, client, compute, progress, scheduler)
