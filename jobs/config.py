"""Job defaults: ``configs/imgjobs.yaml`` loaded into :mod:`dask.config`.

Keyword arguments across :mod:`jobs` default to ``None`` and fall back to the
``imgjobs.*`` keys here, the way dask-jobqueue treats ``jobqueue.*``: flags
override user configuration, which overrides the shipped defaults.
"""

from __future__ import annotations

from pathlib import Path

import dask.config
import yaml

__all__ = ["config_path", "get", "worker_environ"]


def config_path() -> Path:
    """Path of the shipped defaults file.

    Installed packages carry it as ``jobs/configs/imgjobs.yaml``; a source
    checkout has it at the top level in ``configs/``.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "configs" / "imgjobs.yaml", here.parent / "configs" / "imgjobs.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"imgjobs.yaml not found next to {here}: reinstall imgjobs (pip install .)")


def worker_environ() -> dict:
    """Environment variables for the worker processes imgjobs starts (local cluster, profile jobs).

    Glibc's ``MALLOC_TRIM_THRESHOLD_`` from ``imgjobs.scheduler.malloc-trim-threshold``
    (none when that is null, leaving distributed's own value).
    """
    trim = get("scheduler.malloc-trim-threshold")
    return {} if trim is None else {"MALLOC_TRIM_THRESHOLD_": str(int(trim))}


def _load_defaults() -> None:
    with open(config_path()) as f:
        defaults = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when built with it
    dask.config.update_defaults(defaults)


def get(key: str, value=None):
    """Return ``value`` unless it is None, else the config value ``imgjobs.<key>``.

    Parameters
    ----------
    key : str
        Dotted key below ``imgjobs``, e.g. ``"rle.rows-per-task"``.
    value : object, optional
        An explicit setting (a keyword argument or flag).
    """
    if value is not None:
        return value
    return dask.config.get(f"imgjobs.{key}")


_load_defaults()
