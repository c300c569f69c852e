"""Job options: small frozen objects resolved once from keyword arguments and ``dask.config``.

Every keyword defaults to ``None`` and falls back to ``imgjobs.*`` in
``dask.config`` (as dask-jobqueue does with ``jobqueue.*``); ``resolve`` checks the
values and raises :class:`~jobs.errors.UsageError` saying what is wrong.  The
resolved object is what planners and tasks receive.  The defaults are written in
one place, ``configs/imgjobs.yaml``: the fields here have none of their own.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, fields

from jobs import config
from jobs.errors import UsageError

__all__ = [
    "CompressOptions",
    "DecompressOptions",
    "ResizeOptions",
    "RunOptions",
    "Sizing",
    "VerifyOptions",
    "parse_rows_per_task",
    "parse_size",
]


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


def _threshold(value) -> int | None:
    try:
        return config.get_int("rle.threshold", value, low=0, high=255, optional=True)
    except config.ConfigError as e:
        raise UsageError(f"threshold must be 0..255: {e}") from None


def _rows(value) -> int | str:
    given = value is not None
    value = config.get("rle.rows-per-task", value)
    try:
        return parse_rows_per_task(value)
    except UsageError as e:
        if given:
            raise
        where = config.source("rle.rows-per-task")
        raise config.ConfigError(f"{e} (imgjobs.rle.rows-per-task, from {where})") from None


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


@dataclass(frozen=True)
class CompressOptions:
    """How ``compress`` converts and lays out its tasks.

    Attributes
    ----------
    rows_per_task : int or "auto"
        Rows per row-block task; 0 = one task per image; ``auto`` batches small
        files and splits large ones by pixels.
    threshold : int or None
        None dithers as Pillow's ``convert('1')``; 0..255 thresholds luminance.
    overwrite : bool
        Replace existing outputs instead of skipping them.
    max_pixels : int
        The most pixels of an image decoded whole (any format but an
        uncompressed BMP, which is read by rows).
    """

    rows_per_task: int | str
    threshold: int | None
    overwrite: bool
    max_pixels: int

    @classmethod
    def resolve(cls, rows_per_task=None, threshold=None, overwrite=None, max_pixels=None) -> CompressOptions:
        """Fill unset options from ``imgjobs.rle.*`` / ``imgjobs.overwrite`` and check them."""
        return cls(
            _rows(rows_per_task),
            _threshold(threshold),
            config.get_bool("overwrite", overwrite),
            config.get_int("max-pixels", max_pixels, low=1),
        )


@dataclass(frozen=True)
class DecompressOptions:
    """How ``decompress`` lays out its tasks (see :class:`CompressOptions`)."""

    rows_per_task: int | str
    overwrite: bool

    @classmethod
    def resolve(cls, rows_per_task=None, overwrite=None) -> DecompressOptions:
        """Fill unset options from config and check them."""
        return cls(
            _rows(rows_per_task),
            config.get_bool("overwrite", overwrite),
        )


@dataclass(frozen=True)
class VerifyOptions:
    """What ``verify`` compares with (the threshold used when compressing) and its task layout."""

    threshold: int | None
    rows_per_task: int | str
    max_pixels: int

    @classmethod
    def resolve(cls, threshold=None, rows_per_task=None, max_pixels=None) -> VerifyOptions:
        """Fill unset options from config and check them."""
        return cls(
            _threshold(threshold),
            _rows(rows_per_task),
            config.get_int("max-pixels", max_pixels, low=1),
        )


@dataclass(frozen=True)
class ResizeOptions:
    """How ``resize`` builds its batch.

    Attributes
    ----------
    size : (int, int)
        Output width and height of every image.
    method : str
        ``area`` (default), ``exact`` or ``draft``: see :data:`jobs.resize_job.tasks.METHODS`.
    draft_fraction : float
        ``draft`` only: the smallest reduced decode allowed, as a fraction of ``size``.
    batch_size : int or None
        Images per task (None: sized from the images and threads).
    num_images : int or None
        Take the first N images of the source.
    overwrite : bool
        Replace an existing output.
    max_pixels : int
        The most pixels of an image to decode.
    stamps : str
        ``stat`` (size and modification time) or ``content`` (a digest of the
        bytes): how a rerun tells which images changed (:mod:`jobs.runtime.stamps`).
    """

    size: tuple
    method: str
    draft_fraction: float
    batch_size: int | None
    num_images: int | None
    overwrite: bool
    max_pixels: int
    stamps: str

    @classmethod
    def resolve(
        cls,
        size=None,
        method=None,
        draft_fraction=None,
        batch_size=None,
        num_images=None,
        overwrite=None,
        max_pixels=None,
        exact=None,
        stamps=None,
    ) -> ResizeOptions:
        """Fill unset options from ``imgjobs.resize.*`` and check them (``exact=True`` means ``method="exact"``)."""
        from jobs.resize_job.tasks import METHODS

        if exact:
            if method not in (None, "exact"):
                raise UsageError(f"--exact and --method {method} contradict each other: give one")
            method = "exact"
        method = config.get_choice("resize.method", method, tuple(METHODS))
        try:
            fraction = config.get_float("resize.draft-fraction", draft_fraction, low=0, high=1)
        except config.ConfigError as e:
            raise UsageError(f"draft fraction must be in (0, 1]: {e}") from None
        from jobs.runtime.stamps import MODES

        batch_size = _whole("batch size", batch_size)
        num_images = _whole("--num-images", num_images)
        return cls(
            parse_size(config.get("resize.size", size)),
            method,
            fraction,
            batch_size,
            num_images,
            config.get_bool("overwrite", overwrite),
            config.get_int("max-pixels", max_pixels, low=1),
            config.get_choice("stamps", stamps, MODES),
        )


def _whole(what: str, value) -> int | None:
    """A whole number >= 1 given as an int (or its decimal text), or None; anything else is a UsageError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, str)):
        raise UsageError(f"{what} must be a whole number >= 1, got {value!r}")
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"{what} must be a whole number >= 1, got {value!r}") from None
    if n < 1:
        raise UsageError(f"{what} must be >= 1, got {value}")
    return n


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


@dataclass(frozen=True)
class RunOptions:
    """Where a job runs: a scheduler to start or connect to (see :func:`jobs.runtime.schedulers.open_runner`).

    Every field defaults to None, meaning ``imgjobs.scheduler.*`` from config.
    """

    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int | None = None
    host: str | None = None
    dashboard_address: str | None = None
    scheduler_address: str | None = None
    scheduler_file: str | None = None
    cluster: str | None = None
    jobs: int | None = None
    tls: bool | None = None
    performance_report: str | None = None

    @classmethod
    def from_kwargs(cls, kwargs: dict, where: str) -> RunOptions:
        """Build from keyword arguments, refusing any that are not scheduler options."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"{where}() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"scheduler options are {', '.join(sorted(known))}"
            )
        return cls(**kwargs)

    @property
    def explicit(self) -> bool:
        """True when a scheduler was named (not left to an active client or config)."""
        return any(v is not None for v in (self.scheduler, self.scheduler_address, self.scheduler_file, self.cluster))
