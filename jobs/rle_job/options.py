"""The RLE job's options (``compress``, ``decompress``, ``verify``) and task sizing, declared once.

Each option is a :class:`~jobs.params.Param`: its keyword, ``--flag``, docstring
entry and ``imgjobs.*`` fallback all come from the declaration here; the
defaults live in ``configs/imgjobs.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs import config
from jobs.cliargs import rows, threshold
from jobs.errors import UsageError
from jobs.params import MAX_PIXELS, OVERWRITE, Options, Param, option

__all__ = ["CompressOptions", "DecompressOptions", "Sizing", "VerifyOptions", "parse_rows_per_task"]


def parse_rows_per_task(value) -> int | str:
    """``"auto"`` or a whole number >= 0 (0: one task per image)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"rows per task must be 'auto' or a whole number >= 0, got {value!r}") from None
    if n < 0 or (n != value and not isinstance(value, str)):
        raise UsageError(f"rows per task must be 'auto' or a whole number >= 0, got {value!r}")
    return n


def _rows(key, value) -> int | str:
    given = value is not None
    value = config.get(key, value)
    try:
        return parse_rows_per_task(value)
    except UsageError as e:
        if given:
            raise
        raise config.ConfigError(f"{e} (imgjobs.{key}, from {config.source(key)})") from None


def _threshold(key, value) -> int | None:
    try:
        return config.get_int(key, value, low=0, high=255, optional=True)
    except config.ConfigError as e:
        raise UsageError(f"threshold must be 0..255: {e}") from None


ROWS_PER_TASK = Param(
    'int or "auto"',
    "rows per task (default {default}): 'auto' batches small files and splits large BMPs into row blocks of about "
    "imgjobs.rle.target-pixels-per-task pixels (~8 MPixel); 0 gives one task per image; N gives blocks of N rows",
    key="rle.rows-per-task",
    check=_rows,
    flag={"type": rows, "metavar": "N"},
)

THRESHOLD = Param(
    "int",
    "white when luminance >= N (0..255), instead of Floyd-Steinberg dithering as Pillow's convert('1')",
    key="rle.threshold",
    check=_threshold,
    flag={"type": threshold, "metavar": "N"},
)

THRESHOLD_USED = Param(
    "int",
    "the threshold the files were compressed with, if any (none: they were dithered)",
    key="rle.threshold",
    check=_threshold,
    flag={"type": threshold, "metavar": "N"},
)


@dataclass(frozen=True)
class CompressOptions(Options):
    """How ``compress`` converts and lays out its tasks (see :func:`jobs.compress`)."""

    rows_per_task: int | str = option(ROWS_PER_TASK)
    threshold: int | None = option(THRESHOLD)
    overwrite: bool = option(OVERWRITE)
    max_pixels: int = option(MAX_PIXELS)


@dataclass(frozen=True)
class DecompressOptions(Options):
    """How ``decompress`` lays out its tasks (see :func:`jobs.decompress`)."""

    rows_per_task: int | str = option(ROWS_PER_TASK)
    overwrite: bool = option(OVERWRITE)


@dataclass(frozen=True)
class VerifyOptions(Options):
    """What ``verify`` compares with (the threshold used when compressing) and its task layout."""

    threshold: int | None = option(THRESHOLD_USED)
    rows_per_task: int | str = option(ROWS_PER_TASK)
    max_pixels: int = option(MAX_PIXELS)


@dataclass(frozen=True)
class Sizing:
    """How big tasks are: pixels per row-block task, bytes per batch of small files.

    Read from ``imgjobs.rle.*`` when a job is planned (see ``configs/imgjobs.yaml``).
    """

    target_pixels: int
    min_pixels: int
    tasks_per_thread: int
    batch_bytes: int
    min_batch_bytes: int
    file_cost_bytes: int

    @classmethod
    def from_config(cls) -> Sizing:
        """The current ``imgjobs.rle.*`` sizing settings."""

        def get(key: str, low: int = 1) -> int:
            return config.get_int(f"rle.{key}", low=low)

        return cls(
            target_pixels=get("target-pixels-per-task"),
            min_pixels=get("min-pixels-per-task"),
            tasks_per_thread=get("tasks-per-thread"),
            batch_bytes=get("batch-bytes"),
            min_batch_bytes=get("min-batch-bytes"),
            file_cost_bytes=get("file-cost-bytes", low=0),
        )
