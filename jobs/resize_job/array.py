"""The resize job as a lazy dask array, in the style of dask-image's ``imread``.

File names go to the workers, never pixels."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from jobs import config
from jobs.errors import UsageError
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.source import read_labelled
from jobs.resize_job.tasks import load_block

if TYPE_CHECKING:
    import dask.array

__all__ = ["resize_array"]


def resize_array(
    source: str | os.PathLike[str],
    *,
    num_images: int | None = None,
    size: str | tuple[int, int] | None = None,
    method: Literal["area", "exact", "draft"] | None = None,
    fit: Literal["stretch", "crop", "pad"] | None = None,
    pad_fill: int | str | tuple[int, int, int] | None = None,
    draft_fraction: float | None = None,
    max_pixels: int | None = None,
    chunk: int | None = None,
    errors: Literal["raise", "zero"] = "raise",
) -> dask.array.Array:
    """The batch as a lazy :class:`dask.array.Array`, in the style of dask-image's ``imread``.

    Nothing is read until it is computed: each chunk is one task that gets its
    file names (never pixels) and decodes and resizes them on whatever worker
    runs it, exactly as :func:`jobs.resize` would.  For feeding a model or a
    ``map_blocks`` pipeline without writing a batch file; the labels come from
    :func:`read_labelled`.

    Parameters
    ----------
    source : str or os.PathLike
        File list, JSON config, directory or class folders (see :func:`read_labelled`).
    num_images, size, method, fit, pad_fill, draft_fraction, max_pixels
        As for :func:`jobs.resize` (defaults from ``imgjobs.resize.*``): the same
        pixels as a batch of the same options.
    chunk : int, optional
        Images per chunk (default ``imgjobs.resize.images-per-task``).
    errors : {"raise", "zero"}
        A failed image raises (naming the file) when its chunk is computed, or
        leaves its slot zero.

    Returns
    -------
    dask.array.Array
        Shape (N, H, W, 3), uint8, chunked along the first axis.

    Examples
    --------
    >>> import jobs
    >>> batch = jobs.resize_array("train.txt", size="64x64")  # nothing read yet
    >>> batch.shape, batch.chunksize
    ((4, 64, 64, 3), (4, 64, 64, 3))
    >>> batch.mean(axis=(0, 1, 2)).compute().round(-1)  # the mean colour: random noise
    array([130., 130., 130.])
    """
    import dask.array as da  # start-up: dask.array (and the xarray and pandas it imports) cost ~0.4 s

    if errors not in ("raise", "zero"):
        raise UsageError(f"errors must be 'raise' or 'zero', got {errors!r}")
    opts = ResizeOptions.resolve(
        size=size,
        method=method,
        fit=fit,
        pad_fill=pad_fill,
        draft_fraction=draft_fraction,
        batch_size=chunk,
        num_images=num_images,
        max_pixels=max_pixels,
    )
    paths = [os.path.abspath(p) for p in read_labelled(source, opts.num_images).paths]
    step = opts.batch_size or config.get_int("resize.images-per-task", low=1)
    name = "imgjobs-resize-array-" + tokenize(paths, opts, errors)
    graph: dict[Any, Any] = {}  # (name, k, 0, 0, 0) -> the task of chunk k
    sizes: list[int] = []
    for k, start in enumerate(range(0, len(paths), step)):
        chunk_paths = tuple(paths[start : start + step])
        graph[(name, k, 0, 0, 0)] = (load_block, chunk_paths, opts, errors)
        sizes.append(len(chunk_paths))
    w, h = opts.size
    chunks = (tuple(sizes), (h,), (w,), (3,))
    return da.Array(HighLevelGraph.from_collections(name, graph, dependencies=()), name, chunks, dtype=np.uint8)
