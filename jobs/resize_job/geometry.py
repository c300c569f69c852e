"""Where an image goes in a resize output: the geometry every method, the batch and ``preprocess`` share.

:func:`fit_geometry` says which region of an upright image is kept and what it
becomes under a fit (stretch, crop, pad); :func:`stored_box` and :func:`orient`
go between the upright image and the stored one (EXIF orientation), and
:func:`draft_scale` picks the JPEG DCT scale to decode at.  Pure arithmetic on
sizes and numpy views: no decoding here.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ANTIALIAS_SIGMA",
    "AREA_MARGIN",
    "SWAPS_AXES",
    "TRANSPOSE",
    "antialias_sigmas",
    "draft_scale",
    "fit_geometry",
    "orient",
    "place",
    "resize_filter",
    "scaled",
    "stored_box",
]

#: ``area`` decodes at a reduced DCT scale only while the decode stays this many times the output.  At 2 the
#: worst ImageNet sample lost up to 2.6 dB against a full decode at 64x64 and 125x96 (a 1/2-scale IDCT, then
#: a 2x area filter); at 4 no size from 64x64 up loses anything measurable, and large photos still decode small.
AREA_MARGIN = 4.0

#: The antialiasing blur of an axis reduced ``f`` times while the other is enlarged: a Gaussian of
#: ``ANTIALIAS_SIGMA * sqrt(f**2 - 1)`` pixels (``scripts/bench_resize.py --only floor``: 0.42 gave the best worst
#: case against Lanczos of the 500 ImageNet samples, 32.2 dB, where the area filter gave 28.2).
ANTIALIAS_SIGMA = 0.42

#: EXIF orientations that swap width and height (transpose, 90 and 270 degree rotations).
SWAPS_AXES = (5, 6, 7, 8)

#: EXIF orientation -> the ``Image.transpose`` that turns it upright (as ``ImageOps.exif_transpose``).
TRANSPOSE: dict = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # PIL.Image.Transpose values


def draft_scale(image_size, size, fraction: float) -> int:
    """Return the JPEG DCT scale denominator (1, 2, 4 or 8) to decode at.

    The largest scale whose decode, ``ceil(W / s) x ceil(H / s)``, is still at
    least ``fraction`` times the target ``size`` in both directions.  ``area``
    uses ``fraction=4`` (:data:`AREA_MARGIN`): a reduced decode only where it is
    still four times the output, where it costs no quality.  ``draft`` uses a fraction
    near 1: a 500x375 photo decodes at 1/4 scale (125x94) for 100x100 with 0.9,
    which the resize then stretches by 6% in height: faster, and softer.

    Parameters
    ----------
    image_size : (int, int)
        Stored width and height of the JPEG.
    size : (int, int)
        Target width and height, in the stored orientation.
    fraction : float
        Positive: the smallest decode allowed, as a multiple of ``size``.
    """
    w, h = image_size
    tw, th = size
    for s in (8, 4, 2):
        if s <= min(w, h) and -(-w // s) >= fraction * tw and -(-h // s) >= fraction * th:
            return s
    return 1


def resize_filter(region, target) -> str:
    """How ``area`` resizes a region of ``region`` (width, height) pixels to ``target``: the filter that keeps
    the quality floor against Lanczos (worst 28 dB, 1st percentile 30 dB) at the least cost.

    ``"area"`` where both axes shrink (OpenCV's area filter, a box: close to ideal, and the fastest);
    ``"interpolate"`` where both grow (Lanczos interpolation: a box enlarges like nearest-neighbour);
    ``"antialias"`` where one shrinks and the other grows (the shrinking axis blurred first,
    :func:`antialias_sigmas`, then interpolated).

    >>> resize_filter((500, 375), (224, 224)), resize_filter((75, 56), (112, 112)), resize_filter((500, 75), (224, 224))
    ('area', 'interpolate', 'antialias')
    """
    shrinks = (region[0] >= target[0], region[1] >= target[1])
    if all(shrinks):
        return "area"
    return "antialias" if any(shrinks) else "interpolate"


def antialias_sigmas(region, target) -> tuple[float, float]:
    """The Gaussian blur (x, y), in pixels of ``region``, that keeps each axis reduced ``f`` times from
    aliasing before it is interpolated: :data:`ANTIALIAS_SIGMA` ``* sqrt(f**2 - 1)``, none on an enlarged axis."""
    fx, fy = region[0] / target[0], region[1] / target[1]
    return ANTIALIAS_SIGMA * max(fx * fx - 1, 0) ** 0.5, ANTIALIAS_SIGMA * max(fy * fy - 1, 0) ** 0.5


def fit_geometry(image_size, size, fit: str = "stretch") -> tuple[tuple, tuple, tuple]:
    """Where an upright image of ``image_size`` goes in an output of ``size`` under ``fit``.

    Parameters
    ----------
    image_size : (int, int)
        Upright width and height of the image.
    size : (int, int)
        Output width and height.
    fit : {"stretch", "crop", "pad"}
        ``stretch`` resizes the whole image to ``size``; ``crop`` keeps the
        centred region of the output's aspect ratio (the shorter side scaled to
        the output); ``pad`` resizes the whole image to fit inside ``size``, aspect
        ratio kept, centred.

    Returns
    -------
    box : (int, int, int, int)
        ``(left, top, right, bottom)`` of the image that is kept.
    inner : (int, int)
        Width and height that region is resized to.
    at : (int, int)
        Where its top-left corner goes in the output (the rest is the pad fill).

    Examples
    --------
    >>> fit_geometry((500, 375), (224, 224), "crop")
    ((62, 0, 437, 375), (224, 224), (0, 0))
    >>> fit_geometry((500, 375), (224, 224), "pad")
    ((0, 0, 500, 375), (224, 168), (0, 28))
    """
    w, h = image_size
    tw, th = size
    if fit == "crop":
        scale = max(tw / w, th / h)
        cw, ch = min(w, max(1, round(tw / scale))), min(h, max(1, round(th / scale)))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return (x0, y0, x0 + cw, y0 + ch), (tw, th), (0, 0)
    if fit == "pad":
        scale = min(tw / w, th / h)
        iw, ih = min(tw, max(1, round(w * scale))), min(th, max(1, round(h * scale)))
        return (0, 0, w, h), (iw, ih), ((tw - iw) // 2, (th - ih) // 2)
    if fit != "stretch":
        raise ValueError(f"fit must be stretch, crop or pad, got {fit!r}")
    return (0, 0, w, h), (tw, th), (0, 0)


def place(small: np.ndarray, size, at, fill) -> np.ndarray:
    """``small`` on a canvas of ``size`` filled with ``fill``, its corner at ``at`` (itself when it fills it)."""
    tw, th = size
    ih, iw = small.shape[:2]
    if (iw, ih) == (tw, th):
        return small
    canvas = np.empty((th, tw, 3), dtype=np.uint8)
    canvas[...] = np.asarray(fill, dtype=np.uint8)
    x, y = at
    canvas[y : y + ih, x : x + iw] = small
    return canvas


def stored_box(box, orientation: int, stored_size) -> tuple[int, int, int, int]:
    """An upright ``(left, top, right, bottom)`` box as the same pixels' box in the stored (un-oriented) image.

    ``stored_size`` is the stored width and height; the inverse of :func:`orient`.
    """
    x0, y0, x1, y1 = box
    w, h = stored_size
    if orientation == 2:
        return (w - x1, y0, w - x0, y1)
    if orientation == 3:
        return (w - x1, h - y1, w - x0, h - y0)
    if orientation == 4:
        return (x0, h - y1, x1, h - y0)
    if orientation == 5:
        return (y0, x0, y1, x1)
    if orientation == 6:
        return (y0, h - x1, y1, h - x0)
    if orientation == 7:
        return (w - y1, h - x1, w - y0, h - x0)
    if orientation == 8:
        return (w - y1, x0, w - y0, x1)
    return (x0, y0, x1, y1)


def scaled(lo: int, hi: int, scale: int, limit: int) -> tuple[int, int]:
    """A stored pixel range ``lo..hi`` on a 1/``scale`` decode of ``limit`` pixels: rounded half up, never empty."""
    a = min(limit - 1, (2 * lo + scale) // (2 * scale))
    return a, max(a + 1, min(limit, (2 * hi + scale) // (2 * scale)))


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an (H, W, ...) array stored with EXIF ``orientation`` upright, as ``ImageOps.exif_transpose`` does.

    Returns a view where it can.
    """
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a, 1)
    return a
