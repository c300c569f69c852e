"""The resize job's Python function: a list of images -> one (N, H, W, 3) uint8 batch, in one call.

>>> import jobs
>>> batch = jobs.resize("train.txt", "batch.npy", size="64x64").array
>>> batch.shape, batch.dtype
((4, 64, 64, 3), dtype('uint8'))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Unpack

from jobs import running
from jobs.errors import UsageError
from jobs.options import SchedulerOptions
from jobs.resize_job.options import EXECUTOR, ResizeOptions
from jobs.resize_job.paths import family
from jobs.resize_job.remote import check_store, check_url_output, mirror_output, output_url, staged
from jobs.resize_job.report import ResizeReport
from jobs.runtime.engine import Plan
from jobs.runtime.progress import Progress
from jobs.runtime.runners import Mapper
from jobs.runtime.storage import is_url
from jobs.runtime.temporaries import new_token

if TYPE_CHECKING:
    from dask.delayed import Delayed
    from distributed import Client


__all__ = ["resize"]


def resize(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str] = "batch.npy",
    *,
    num_images: int | None = None,
    size: str | tuple[int, int] | None = None,
    method: Literal["area", "exact", "draft"] | None = None,
    fit: Literal["stretch", "crop", "pad"] | None = None,
    pad_fill: int | str | tuple[int, int, int] | None = None,
    sample_format: Literal["npy", "png", "jpg"] | None = None,
    draft_fraction: float | None = None,
    batch_size: int | None = None,
    overwrite: bool | None = None,
    max_pixels: int | None = None,
    stamps: Literal["stat", "content"] | None = None,
    storage_options: Mapping[str, Any] | str | None = None,
    exact: bool | None = None,
    executor: Literal["serial", "threads", "processes"] | None = None,
    client: Client | None = None,
    compute: bool = True,
    progress: bool | Progress | None = None,
    **scheduler: Unpack[SchedulerOptions],
) -> ResizeReport | Delayed:
    """Decode and resize a list of images into one (N, H, W, 3) uint8 batch.

    Grey, palette, CMYK, RGBA and 16-bit images become true RGB; EXIF
    orientation is applied.  Labels (a list's second column, or class folders)
    go beside the batch; a JSON sidecar ``<out>.json`` records the files,
    failures, size, resize settings, library versions and timing.

    Parameters
    ----------
    source : str or os.PathLike
        A file list (one path per line, relative to the list; 'path<TAB>label', or
        'path 7' on every line, adds labels), a JSON config with
        data.train_filelist, a directory of images, or a directory of class folders.
    out : str or os.PathLike
        batch.npy (default), a .zarr store, or a .wds directory of WebDataset tar
        shards; a sidecar <out>.json records the files, failures, size, resize mode
        and timing.
    num_images : int, optional
        Take the first N images of the source (an error if fewer exist).
    size : str or (int, int), optional
        Output width x height, e.g. "100x100" (default ``imgjobs.resize.size``).
    method : {"area", "exact", "draft"}, optional
        How to decode and resize (default ``imgjobs.resize.method``); quality over
        500 ImageNet photos as PSNR against a full decode with Lanczos (worst / 1st
        percentile / mean): area: OpenCV decode at >= 4x the output, area filter:
        quality-safe (29.3 / 30.6 / 37.8 dB); exact: Pillow full decode, bicubic:
        the exercise's semantics (35.4 / 37.8 / 43.9 dB; slowest); draft: decode at
        ~1x the output, area filter: trades quality for speed (21.6 / 24.7 / 33.4 dB).
    fit : {"stretch", "crop", "pad"}, optional
        How an image of another shape fills the output (default
        ``imgjobs.resize.fit``): stretch: scale each side to the output: non-square
        photos are distorted (the exercise's semantics); crop: scale the shorter
        side to the output, keep the centre: nothing distorted, the edges cut; pad:
        scale the longer side to the output, centre it on the fill colour
        (letterbox): nothing cut.
    pad_fill : int, str or (int, int, int), optional
        Pad only: the colour around the image, one grey level or R,G,B (default
        ``imgjobs.resize.pad-fill``).
    sample_format : {"npy", "png", "jpg"}, optional
        A .wds output only: how each image is stored in its shard (default
        ``imgjobs.resize.sample-format``): npy: the (H, W, 3) uint8 array as a
        .npy file: lossless, fastest, np.load reads it; png: a PNG (OpenCV,
        compression level 1): lossless, smaller, any image library reads it; jpg: a
        JPEG at quality 95 (libjpeg-turbo): smallest, lossy (not the batch's exact
        pixels).
    draft_fraction : float, optional
        Draft only: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) still at
        least this fraction of the output size (default
        ``imgjobs.resize.draft-fraction``; 1.0 never enlarges).
    batch_size : int, optional
        Images per task (default: sized from the images and threads, at most
        ``imgjobs.resize.images-per-task``, fewer to give every thread
        ``imgjobs.resize.tasks-per-thread`` tasks).
    overwrite : bool, optional
        Replace an existing output (default ``imgjobs.overwrite``: false keeps one
        this very job made, resuming or calling it up to date, and refuses any
        other).
    max_pixels : int, optional
        Refuse (fail by name) images with more pixels than this (default
        ``imgjobs.max-pixels``; as shipped, Pillow's decompression-bomb limit).
    stamps : {"stat", "content"}, optional
        How a rerun tells an image changed (default ``imgjobs.stamps``): stat, its
        size and modification time; content, a digest of its bytes (for file
        systems whose times lie; reads every image on a rerun).
    storage_options : mapping or str, optional
        fsspec's options for the URLs read (a list at s3://, gs://, https://... and
        its entries), as dask and xarray take them: {"anon": true}, or per protocol
        {"s3": {"endpoint_url": "..."}}; a JSON object as text (default
        ``imgjobs.storage-options``). Credentials are better left where the SDK
        finds them (environment, ~/.aws); these options are never shown, logged
        or recorded.
    exact : bool, optional
        The same as method exact (the exercise's Pillow bicubic).
    executor : {"serial", "threads", "processes"}, optional
        Run the classic exercise's executor instead of Dask, for comparison: a
        plain loop, or a ThreadPoolExecutor or ProcessPoolExecutor as wide as the
        workers option.
    client, compute, progress, **scheduler
        Where and when it runs, as for every job: see :func:`jobs.run_job`.

    Returns
    -------
    jobs.resize_job.report.ResizeReport or dask.delayed.Delayed
        ``report.output`` is the batch, ``report.array`` opens it, and
        ``report.labels`` and ``report.classes`` give its labels when the source
        has them (a list's second column, or class folders); failed images keep a
        zero slot and the label -1, and are listed in the report and the sidecar
        (``compute=False``: the graph).

    Raises
    ------
    UsageError
        For a missing input, an output that cannot be written, or bad options.

    Notes
    -----
    An interrupted run keeps its work in a hidden folder beside ``out``; the same
    call again does only what is left.  When ``out`` already holds this very job,
    the report says it is up to date (``report.up_to_date``), with nothing run.
    """
    from jobs.resize_job.executors import exercise_runner  # start-up: ~40 ms, with the planner, loaded to run only
    from jobs.resize_job.planner import plan_resize, up_to_date  # start-up: ~40 ms (Pillow, simplejpeg, the tasks)

    kind = EXECUTOR.resolve(executor)  # a value it does not know is refused first
    check_url_output(os.fspath(out))
    if is_url(os.fspath(out)) and not compute:
        raise UsageError(
            f"output {os.fspath(out)}: an output at a URL is mirrored into the store when the run ends; compute=False "
            "builds a graph for a local output only"
        )
    opts = ResizeOptions.resolve(
        num_images=num_images,
        size=size,
        method=method,
        fit=fit,
        pad_fill=pad_fill,
        sample_format=sample_format,
        draft_fraction=draft_fraction,
        batch_size=batch_size,
        overwrite=overwrite,
        max_pixels=max_pixels,
        stamps=stamps,
        storage_options=storage_options,
        exact=exact,
    )

    url = output_url(os.fspath(out), opts.storage_options)
    local = staged(os.fspath(out), url)  # an output at a URL: built in its stage, then mirrored
    if url is not None:
        check_store(url, local, opts.storage_options, opts.overwrite)

    def plan(parallelism: int, map: Mapper | None = None) -> Plan:  # map: where a rerun stamps its inputs
        return plan_resize(source, local, opts, parallelism=parallelism, map=map, published=url)

    def precheck(map: Mapper) -> ResizeReport | None:
        return up_to_date(source, local, opts, map=map)

    report = running.run(
        "resize",
        plan,
        source=source,
        writes=os.path.dirname(os.path.abspath(local)),
        client=client,
        compute=compute,
        progress=progress,
        scheduler=scheduler,
        claims=(source, *(path for path, _ in family(local))),
        precheck=precheck,
        runner=None if kind is None else lambda: exercise_runner(kind, client, compute, scheduler),
    )
    if url is not None:
        assert isinstance(report, ResizeReport)
        report.mirrored = mirror_output(local, url, opts.storage_options, new_token())
        report.output = url
    return report  # type: ignore[return-value]  # the resize finish makes a ResizeReport
