"""The resize job's options: for each keyword of :func:`jobs.resize`, its ``imgjobs.*`` fallback, check and flag.

What each one does is written in :func:`jobs.resize`'s docstring; the defaults
live in ``configs/imgjobs.yaml`` (``imgjobs.resize.*``, and the shared
``overwrite``, ``max-pixels`` and ``stamps``).
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from typing import Literal, get_args

from jobs import config
from jobs.cliargs import positive
from jobs.errors import UsageError
from jobs.params import (
    MAX_PIXELS,
    OVERWRITE,
    STAMPS,
    STORAGE,
    Options,
    Param,
    choice,
    from_config,
    one_of,
    option,
    truth,
    whole,
)
from jobs.runtime.storage import Storage

log = logging.getLogger(__name__)

__all__ = [
    "EXACT",
    "EXECUTOR",
    "EXECUTORS",
    "FITS",
    "METHODS",
    "SAMPLE_FORMATS",
    "Executor",
    "Fit",
    "Method",
    "ResizeOptions",
    "SampleFormat",
    "parse_fill",
    "parse_size",
]


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


#: How an image is decoded and resized (the ``resize`` function's docstring says what each one measured).
Method = Literal["area", "exact", "draft"]
METHODS: tuple[str, ...] = get_args(Method)

#: How an image of another shape goes into W x H (torchvision's ``Resize(s)`` + ``CenterCrop`` is ``crop``).
Fit = Literal["stretch", "crop", "pad"]
FITS: tuple[str, ...] = get_args(Fit)

#: How each image is stored in a WebDataset shard (an output ending in ``.wds``).
SampleFormat = Literal["npy", "png", "jpg"]
SAMPLE_FORMATS: tuple[str, ...] = get_args(SampleFormat)

#: The classic exercise's executors, instead of Dask (a keyword of the resize job, not an option of its output).
Executor = Literal["serial", "threads", "processes"]
EXECUTORS: tuple[str, ...] = get_args(Executor)


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
    return config.get_choice(key, value, METHODS)


def _fraction(key, value) -> float:
    try:
        return config.get_float(key, value, low=0, high=1)
    except config.ConfigError as e:
        raise UsageError(f"draft fraction must be in (0, 1]: {e}") from None


@dataclass(frozen=True)
class ResizeOptions(Options):
    """The options of :func:`jobs.resize`, resolved: how it builds its batch."""

    num_images: int | None = option(Param(check=whole("--num-images"), flag={"type": positive, "metavar": "N"}))
    size: tuple = option(Param(key="resize.size", check=from_config(parse_size), flag={"metavar": "WxH"}))
    method: str = option(Param(key="resize.method", check=_method, flag={"choices": list(METHODS)}))
    fit: str = option(Param(key="resize.fit", check=choice(*FITS), flag={"choices": list(FITS)}))
    pad_fill: tuple = option(Param(key="resize.pad-fill", check=from_config(parse_fill), flag={"metavar": "RGB"}))
    sample_format: str = option(
        Param(key="resize.sample-format", check=choice(*SAMPLE_FORMATS), flag={"choices": list(SAMPLE_FORMATS)})
    )
    draft_fraction: float = option(
        Param(key="resize.draft-fraction", check=_fraction, flag={"type": float, "metavar": "F"})
    )
    batch_size: int | None = option(Param(check=whole("batch size"), flag={"type": positive, "metavar": "B"}))
    overwrite: bool = option(OVERWRITE)
    max_pixels: int = option(MAX_PIXELS)
    stamps: str = option(STAMPS)
    storage_options: Storage = option(STORAGE)  # noqa: RUF009 - a field(), not a default

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


#: ``exact``: shorthand for ``method="exact"`` (a keyword of :meth:`ResizeOptions.resolve`).
EXACT = Param(flag={"action": "store_true"})

#: ``executor``: the classic exercise's executors instead of Dask (:mod:`jobs.resize_job.executors`).
EXECUTOR = Param(
    check=lambda key, value: None if value is None else one_of("executor", value, EXECUTORS),
    flag={"choices": list(EXECUTORS)},
)
