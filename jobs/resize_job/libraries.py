"""The library versions that make a batch's pixels, as a sidecar records them and a rerun compares them."""

from __future__ import annotations

import numpy as np
import PIL
import simplejpeg
from PIL import features

from jobs.resize_job.decode import opencv
from jobs.version import __version__

__all__ = ["library_changes", "pixel_libraries"]


_LIBRARIES: dict | None = None


def pixel_libraries() -> dict:
    """The versions of what makes a batch's pixels in this process, as a sidecar records them.

    ``simplejpeg`` decodes JPEGs (its wheel carries its own libjpeg-turbo, so its
    version pins the decoder), ``opencv`` resizes (``area``, ``draft``),
    ``pillow`` and ``pillow-libjpeg`` decode other formats and CMYK JPEGs and
    resize ``exact``, ``numpy`` holds them, and ``imgjobs`` chooses scales and
    geometry.  The same versions give the same pixels; other versions may not.
    """
    global _LIBRARIES
    if _LIBRARIES is None:
        _LIBRARIES = {
            "imgjobs": __version__,
            "numpy": np.__version__,
            "pillow": PIL.__version__,
            "pillow-libjpeg": str(features.version("jpg")),
            "simplejpeg": simplejpeg.__version__,
            "opencv": opencv().__version__,
        }
    return dict(_LIBRARIES)


def library_changes(recorded, now: dict) -> list[str]:
    """``["pillow 12.0.0 -> 13.0.0", ...]``: where ``recorded`` library versions differ from ``now``."""
    if not isinstance(recorded, dict):
        return ["the library versions were not recorded"]
    return [f"{k} {recorded.get(k, '?')} -> {v}" for k, v in now.items() if recorded.get(k) != v]
