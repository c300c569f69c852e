"""The RLE job's options (``compress``, ``decompress``, ``verify``) and task sizing.

Each option is a :class:`~jobs.params.Param`: the ``imgjobs.*`` key it falls
back to, its check and its flag.  What each one does is written in the
docstrings of :func:`jobs.compress`, :func:`jobs.decompress` and
:func:`jobs.verify`; the defaults live in ``configs/imgjobs.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs import config
from jobs.cliargs import rows, threshold
from jobs.errors import UsageError
from jobs.params import MAX_PIXELS, OVERWRITE, STAMPS, STORAGE, Options, Param, from_config, option
from jobs.runtime.storage import Storage

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


def _threshold(key, value) -> int | None:
    try:
        return config.get_int(key, value, low=0, high=255, optional=True)
    except config.ConfigError as e:
        raise UsageError(f"threshold must be 0..255: {e}") from None


ROWS_PER_TASK = Param(
    key="rle.rows-per-task", check=from_config(parse_rows_per_task), flag={"type": rows, "metavar": "N"}
)

THRESHOLD = Param(
    key="rle.threshold", check=_threshold, flag={"type": threshold, "metavar": "N"}, unset="none: dithering"
)

#: verify: the threshold the files were compressed with.
THRESHOLD_USED = Param(
    key="rle.threshold", check=_threshold, flag={"type": threshold, "metavar": "N"}, unset="none: they were dithered"
)


@dataclass(frozen=True)
class CompressOptions(Options):
    """The options of :func:`jobs.compress`, resolved: how it converts and lays out its tasks."""

    rows_per_task: int | str = option(ROWS_PER_TASK)
    threshold: int | None = option(THRESHOLD)
    overwrite: bool = option(OVERWRITE)
    max_pixels: int = option(MAX_PIXELS)
    stamps: str = option(STAMPS)
    storage_options: Storage = option(STORAGE)  # noqa: RUF009 - a field(), not a default

    def made_with(self) -> bytes:
        """What shapes an output besides its input (the threshold, or dithering): recorded with it, and an
        output made with other settings is made again."""
        return b"dither" if self.threshold is None else b"threshold=%d" % self.threshold


@dataclass(frozen=True)
class DecompressOptions(Options):
    """The options of :func:`jobs.decompress`, resolved: how it lays out its tasks."""

    rows_per_task: int | str = option(ROWS_PER_TASK)
    overwrite: bool = option(OVERWRITE)
    stamps: str = option(STAMPS)
    storage_options: Storage = option(STORAGE)  # noqa: RUF009 - a field(), not a default

    def made_with(self) -> bytes:
        """What shapes an output besides its input: nothing (a BMP is the ``.rle``'s pixels)."""
        return b""


@dataclass(frozen=True)
class VerifyOptions(Options):
    """The options of :func:`jobs.verify`, resolved: the threshold used when compressing, and the task layout."""

    threshold: int | None = option(THRESHOLD_USED)
    rows_per_task: int | str = option(ROWS_PER_TASK)
    max_pixels: int = option(MAX_PIXELS)
    storage_options: Storage = option(STORAGE)  # noqa: RUF009 - a field(), not a default


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
    #: Batches of small files never number more than this (``imgjobs.max-tasks``): larger batches instead.
    max_tasks: int = 50_000

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
            max_tasks=config.get_int("max-tasks", low=1),
        )
