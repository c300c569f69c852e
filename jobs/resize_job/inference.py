"""The same pixels at inference: one image in, exactly the row a resize batch holds for it.

A model trained on a batch must see, when it runs, images prepared the same way:
the same decoder, scale, geometry and filter.  :func:`preprocess` is the very
function the batch tasks call for each image (:func:`~jobs.resize_job.decode.load_with`),
with the options read from the batch's sidecar (``like=``) or given, and it warns
when this process's libraries are not those that made the batch.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Literal

import numpy as np

from jobs.errors import UsageError
from jobs.resize_job.decode import load_with, read_input
from jobs.resize_job.libraries import library_changes, pixel_libraries
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.paths import sidecar_path
from jobs.resize_job.sidecar import check_sidecar
from jobs.runtime.reads import read_json

__all__ = ["PixelsMayDiffer", "batch_options", "preprocess"]


class PixelsMayDiffer(UserWarning):
    """This process's libraries are not the versions that made the batch: its pixels may differ from the batch's."""


def batch_options(like: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The resize options a finished batch was made with, and the library versions that made it.

    Parameters
    ----------
    like : str or os.PathLike
        The batch (``.npy``, ``.zarr`` or ``.wds``); its sidecar ``<like>.json`` is read.

    Returns
    -------
    (dict, list)
        Keyword arguments of :class:`~jobs.resize_job.options.ResizeOptions`, and
        the sidecar's list of library versions (empty when not recorded).

    Raises
    ------
    UsageError
        For a missing or damaged sidecar.
    """
    out = os.fspath(like)
    side = sidecar_path(out)
    sidecar = read_json(side)
    problem = "missing or not JSON" if sidecar is None else check_sidecar(sidecar, out)
    resize = sidecar.get("resize") if isinstance(sidecar, dict) else None
    if problem is None and not isinstance(resize, dict):
        problem = "without resize settings"
    if problem is not None:
        raise UsageError(f"{side} (the sidecar of {out}): {problem}: cannot tell how that batch was made")
    assert isinstance(sidecar, dict) and isinstance(resize, dict)
    options = {
        "size": sidecar.get("size"),
        "method": resize.get("method"),
        "fit": resize.get("fit") or "stretch",  # batches from before fits existed were stretched
        "pad_fill": resize.get("pad_fill"),
        "draft_fraction": resize.get("draft_fraction"),
        "max_pixels": resize.get("max_pixels"),
    }
    return {k: v for k, v in options.items() if v is not None}, list(sidecar.get("libraries") or [])


def preprocess(
    image: str | os.PathLike[str] | bytes | bytearray | memoryview,
    like: str | os.PathLike[str] | None = None,
    *,
    size: str | tuple[int, int] | None = None,
    method: Literal["area", "exact", "draft"] | None = None,
    fit: Literal["stretch", "crop", "pad"] | None = None,
    pad_fill: int | str | tuple[int, int, int] | None = None,
    draft_fraction: float | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Turn one image into exactly the (H, W, 3) uint8 row a resize batch holds for it.

    Parameters
    ----------
    image : str, os.PathLike or bytes-like
        An image file, or its content (a JPEG from a request, a tar member...).
    like : str or os.PathLike, optional
        A batch built by ``imgjobs resize``: its sidecar gives every option
        below.  Options given as well must agree with it.
    size, method, fit, pad_fill, draft_fraction, max_pixels
        As :func:`jobs.resize`; unset ones come from ``like``, else from the
        ``imgjobs.resize.*`` configuration, as a batch job takes them.

    Returns
    -------
    numpy.ndarray
        (height, width, 3) uint8, C-contiguous: equal to the batch's row for the
        same file, with the same library versions (for shards with
        ``sample_format="jpg"``, the pixels before that lossy encoding).

    Raises
    ------
    rle.ImageError
        For a file that is not an image, is damaged or too large (as a batch names
        a failed image).
    UsageError
        For options that contradict the batch's, or a batch without a readable sidecar.

    Warns
    -----
    PixelsMayDiffer
        When the batch was made by other versions of the libraries that decode and
        resize (``imgjobs``, ``numpy``, ``pillow``, ``simplejpeg``, ``opencv``).

    Examples
    --------
    >>> import jobs
    >>> batch = jobs.resize("train.txt", "batch.npy", size="32x24", fit="pad").array
    >>> row = jobs.preprocess("photos/2.jpg", like="batch.npy")
    >>> row.shape, row.dtype, bool((row == batch[2]).all())
    ((24, 32, 3), dtype('uint8'), True)
    """
    given = {
        "size": size,
        "method": method,
        "fit": fit,
        "pad_fill": pad_fill,
        "draft_fraction": draft_fraction,
        "max_pixels": max_pixels,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if like is not None:
        recorded, made = batch_options(like)
        wanted = ResizeOptions.resolve(**given) if given else None
        built = ResizeOptions.resolve(**recorded)
        moot = {"pad_fill": built.fit != "pad", "draft_fraction": built.method != "draft"}
        for key in given:
            if moot.get(key):
                continue  # an option the batch's method or fit does not use
            if wanted is not None and getattr(wanted, key) != getattr(built, key):
                raise UsageError(
                    f"{key}={given[key]!r} contradicts the batch {os.fspath(like)}, made with "
                    f"{key}={getattr(built, key)!r}: give one or the other"
                )
        opts = built
        now = pixel_libraries()
        versions: list[dict[str, str] | None] = [*made] or [None]  # None: not recorded
        changes = sorted({c for m in versions for c in library_changes(m, now)})
        if changes:
            warnings.warn(
                PixelsMayDiffer(
                    f"{os.fspath(like)} was made with other library versions than this process has "
                    f"({'; '.join(changes)}): these pixels may differ from the batch's"
                ),
                stacklevel=2,
            )
    else:
        opts = ResizeOptions.resolve(**given)
    if isinstance(image, (bytes, bytearray, memoryview)):
        name, data = "<bytes>", bytes(image)
    else:
        name = os.fspath(image)
        data, _ = read_input(name)
    return np.ascontiguousarray(load_with(opts, name, data))
