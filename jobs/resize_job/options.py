"""The resize job's options, declared once (keyword, ``--flag``, docstring, ``imgjobs.*`` fallback).

The defaults live in ``configs/imgjobs.yaml`` (``imgjobs.resize.*``, and the
shared ``overwrite``, ``max-pixels`` and ``stamps``).
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass

from jobs import config
from jobs.cliargs import positive
from jobs.errors import UsageError
from jobs.params import MAX_PIXELS, OVERWRITE_ONE, Options, Param, choice, from_config, one_of, option, truth, whole
from jobs.runtime.stamps import MODES

log = logging.getLogger(__name__)

__all__ = ["EXACT", "EXECUTOR", "FITS", "METHODS", "SAMPLE_FORMATS", "ResizeOptions", "parse_fill", "parse_size"]


def parse_size(text) -> tuple[int, int]:
    """``"100x100"`` (width x height) or a (width, height) pair -> (width, height)."""
    if isinstance(text, (tuple, list)):
        if len(text) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in text):
            raise UsageError(f"size must be two whole numbers (width, height), got {tuple(text)!r}")
        w, h = (int(v) for v in text)
    else:
        try:
            w, h = (int(v) for v in str(text).lower().split("x"))
        except ValueError:
            raise UsageError(f"size must be WIDTHxHEIGHT, e.g. 100x100, got {text!r}") from None
    if not (1 <= w <= 65535 and 1 <= h <= 65535):
        raise UsageError(f"size must be 1..65535 on each side, got {w}x{h}")
    return w, h


#: The resize methods, and what each measured over the 500 ImageNet samples of
#: ``scripts/bench_resize.py`` (PSNR against a full decode resized with Lanczos;
#: worst image / 1st percentile / mean).  ``--help`` and the README quote these.
METHODS = {
    "area": "OpenCV decode at >= 4x the output, area filter: quality-safe (29.3 / 30.6 / 37.8 dB)",
    "exact": "Pillow full decode, bicubic: the exercise's semantics (35.4 / 37.8 / 43.9 dB; slowest)",
    "draft": "decode at ~1x the output, area filter: trades quality for speed (21.6 / 24.7 / 33.4 dB)",
}


#: How an image of another shape goes into W x H (torchvision's ``Resize(s)`` + ``CenterCrop`` is ``crop``).
FITS = {
    "stretch": "scale each side to the output: non-square photos are distorted (the exercise's semantics)",
    "crop": "scale the shorter side to the output, keep the centre: nothing distorted, the edges cut",
    "pad": "scale the longer side to the output, centre it on the fill colour (letterbox): nothing cut",
}

#: How each image is stored in a WebDataset shard (an output ending in ``.wds``).
SAMPLE_FORMATS = {
    "npy": "the (H, W, 3) uint8 array as a .npy file: lossless, fastest, np.load reads it",
    "png": "a PNG (OpenCV, compression level 1): lossless, smaller, any image library reads it",
    "jpg": "a JPEG at quality 95 (libjpeg-turbo): smallest, lossy (not the batch's exact pixels)",
}


def parse_fill(value) -> tuple[int, int, int]:
    """``0``, ``"114"``, ``"124,116,104"`` or an (R, G, B) sequence -> (R, G, B), each 0..255."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        parts: list = [value]
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        parts = [p.strip() for p in str(value).split(",")]
    try:
        rgb = [int(p) if not isinstance(p, bool) else None for p in parts]
    except (TypeError, ValueError):
        rgb = [None]
    if len(rgb) == 1:
        rgb *= 3
    if len(rgb) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in rgb):
        raise UsageError(
            f"pad fill must be one grey level or R,G,B, each 0..255 (e.g. 0 or 124,116,104), got {value!r}"
        )
    return (int(rgb[0] or 0), int(rgb[1] or 0), int(rgb[2] or 0))


def _method(key, value) -> str:
    return config.get_choice(key, value, tuple(METHODS))


def _fraction(key, value) -> float:
    try:
        return config.get_float(key, value, low=0, high=1)
    except config.ConfigError as e:
        raise UsageError(f"draft fraction must be in (0, 1]: {e}") from None


@dataclass(frozen=True)
class ResizeOptions(Options):
    """How ``resize`` builds its batch (see :func:`jobs.resize`)."""

    num_images: int | None = option(
        Param(
            "int",
            "take the first N images of the source (an error if fewer exist)",
            check=whole("--num-images"),
            flag={"type": positive, "metavar": "N"},
        )
    )
    size: tuple = option(
        Param(
            "str or (int, int)",
            'output width x height, e.g. "100x100" (default {default})',
            key="resize.size",
            check=from_config(parse_size),
            flag={"metavar": "WxH"},
        )
    )
    method: str = option(
        Param(
            '{"area", "exact", "draft"}',
            "how to decode and resize (default {default}); quality over 500 ImageNet photos as PSNR against a full "
            "decode with Lanczos (worst / 1st percentile / mean): "
            + "; ".join(f"{k}: {v}" for k, v in METHODS.items()),
            key="resize.method",
            check=_method,
            flag={"choices": list(METHODS)},
        )
    )
    fit: str = option(
        Param(
            '{"stretch", "crop", "pad"}',
            "how an image of another shape fills the output (default {default}): "
            + "; ".join(f"{k}: {v}" for k, v in FITS.items()),
            key="resize.fit",
            check=choice(*FITS),
            flag={"choices": list(FITS)},
        )
    )
    pad_fill: tuple = option(
        Param(
            "int or (int, int, int)",
            "pad only: the colour around the image, one grey level or R,G,B (default {default})",
            key="resize.pad-fill",
            check=from_config(parse_fill),
            flag={"metavar": "RGB"},
        )
    )
    sample_format: str = option(
        Param(
            '{"npy", "png", "jpg"}',
            "a .wds output only: how each image is stored in its shard (default {default}): "
            + "; ".join(f"{k}: {v}" for k, v in SAMPLE_FORMATS.items()),
            key="resize.sample-format",
            check=choice(*SAMPLE_FORMATS),
            flag={"choices": list(SAMPLE_FORMATS)},
        )
    )
    draft_fraction: float = option(
        Param(
            "float",
            "draft only: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) still at least this fraction of "
            "the output size (default {default}; 1.0 never enlarges)",
            key="resize.draft-fraction",
            check=_fraction,
            flag={"type": float, "metavar": "F"},
        )
    )
    batch_size: int | None = option(
        Param(
            "int",
            "images per task (default: sized from the images and threads, at most {resize.images-per-task}, "
            "fewer to give every thread {resize.tasks-per-thread} tasks)",
            check=whole("batch size"),
            flag={"type": positive, "metavar": "B"},
        )
    )
    overwrite: bool = option(OVERWRITE_ONE)
    max_pixels: int = option(MAX_PIXELS)
    stamps: str = option(
        Param(
            '{"stat", "content"}',
            "how a rerun tells an image changed (default {default}): stat, its size and modification time; "
            "content, a digest of its bytes (for file systems whose times lie; reads every image on a rerun)",
            key="stamps",
            check=choice(*MODES),
            flag={"choices": list(MODES)},
        )
    )

    @classmethod
    def resolve(cls, *, exact=None, **keywords) -> ResizeOptions:
        """Fill unset options from ``imgjobs.resize.*`` and check them (``exact=True`` means ``method="exact"``)."""
        if truth("exact", exact):
            method = keywords.get("method")
            if method is not None and str(method).strip().lower() != "exact":
                raise UsageError(f"--exact and --method {method} contradict each other: give one")
            keywords["method"] = "exact"
        opts = super().resolve(**keywords)
        moot = [
            ("pad_fill", "--pad-fill", opts.fit != "pad", f"fit {opts.fit}"),
            ("draft_fraction", "--draft-fraction", opts.method != "draft", f"method {opts.method}"),
        ]
        for key, flag, unused, why in moot:
            if unused and keywords.get(key) is not None:
                log.warning("%s (%s) has no effect with %s", flag, key, why)
        return opts


#: ``exact=True``: shorthand for ``method="exact"`` (a keyword of :meth:`ResizeOptions.resolve`).
EXACT = Param("bool", "the same as method exact (the exercise's Pillow bicubic)", flag={"action": "store_true"})

#: The classic exercise's executors, instead of Dask (a keyword of the resize job, not an option of its output).
EXECUTORS = ("serial", "threads", "processes")

EXECUTOR = Param(
    '{"serial", "threads", "processes"}',
    "run the classic exercise's executor instead of Dask, for comparison: a plain loop, or a "
    "ThreadPoolExecutor or ProcessPoolExecutor as wide as the workers option",
    check=lambda key, value: None if value is None else one_of("executor", value, EXECUTORS),
    flag={"choices": list(EXECUTORS)},
)
