"""What a stats task runs: read its images, return their figures (never pixels)."""

from __future__ import annotations

import numpy as np

from jobs.images import failure
from jobs.runtime.report import Outcomes
from rle import open_image

__all__ = ["COLUMNS", "image_stats", "stats_batch"]

#: The CSV's columns after ``path``, in order.
COLUMNS = ("width", "height", "mode", "min", "mean", "max")


def image_stats(path: str, max_pixels: int) -> dict:
    """One image's size, mode and luminance (0..255: min, mean, max); an ImageError names a bad file."""
    with open_image(path, max_pixels=max_pixels) as im:
        grey = np.asarray(im.convert("L"))
        return {
            "width": im.width,
            "height": im.height,
            "mode": im.mode,
            "min": int(grey.min()),
            "mean": round(float(grey.mean()), 3),
            "max": int(grey.max()),
        }


def stats_batch(paths, max_pixels: int) -> Outcomes:
    """The figures of each image in ``paths`` (in ``details``); a file that fails is named, the rest go on."""
    out = Outcomes(paths)
    for i, path in enumerate(paths):
        try:
            figures = image_stats(path, max_pixels)
        except Exception as e:  # one bad file fails alone, by name
            out.fail(i, failure(path, e))
            continue
        out.set(i, "ok", pixels=figures["width"] * figures["height"], details=figures)
    return out
