"""The stats job's options, resolved from keyword arguments and ``imgjobs.stats.*`` in ``dask.config``."""

from __future__ import annotations

from dataclasses import dataclass

from jobs import config

__all__ = ["StatsOptions"]


@dataclass(frozen=True)
class StatsOptions:
    """How ``stats`` runs.

    Attributes
    ----------
    images_per_task : int
        Images each task reads (``imgjobs.stats.images-per-task``).
    overwrite : bool
        Replace an existing CSV (default: refuse, naming it).
    max_pixels : int
        The most pixels of an image to decode (``imgjobs.max-pixels``).
    """

    images_per_task: int
    overwrite: bool
    max_pixels: int

    @classmethod
    def resolve(cls, images_per_task=None, overwrite=None, max_pixels=None) -> StatsOptions:
        """Fill unset options from config and check them (:class:`~jobs.errors.ConfigError` names the key)."""
        return cls(
            config.get_int("stats.images-per-task", images_per_task, low=1),
            config.get_bool("overwrite", overwrite),
            config.get_int("max-pixels", max_pixels, low=1),
        )
