"""Job defaults: ``configs/imgjobs.yaml`` loaded into :mod:`dask.config`, read strictly.

Keyword arguments across :mod:`jobs` default to ``None`` and fall back to the
``imgjobs.*`` keys here, the way dask-jobqueue treats ``jobqueue.*``: flags
override user configuration, which overrides the shipped defaults.

Every key is read through a typed getter (:func:`get_bool`, :func:`get_int`...)
that checks type and range and, when a value is wrong, raises
:class:`ConfigError` naming the key and where the value came from (an
environment variable, a config file, or an argument).  ``"no"`` is false, not a
non-empty string: booleans accept true/false, yes/no, on/off, 1/0 and nothing else.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import NoReturn

import dask.config
import yaml

from jobs.errors import ConfigError

__all__ = [
    "config_path",
    "get",
    "get_bool",
    "get_choice",
    "get_float",
    "get_int",
    "get_str",
    "source",
    "unknown_keys",
    "worker_environ",
]


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
    trim = get_int("scheduler.malloc-trim-threshold", low=0, optional=True)
    return {} if trim is None else {"MALLOC_TRIM_THRESHOLD_": str(trim)}


def _load_defaults() -> None:
    with open(config_path()) as f:
        defaults = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when built with it
    dask.config.update_defaults(defaults)
    _SHIPPED.update(defaults["imgjobs"])


#: The shipped ``imgjobs.*`` keys: every key imgjobs reads (a key set beside them is a misspelling).
_SHIPPED: dict = {}

#: Sub-trees whose keys are the user's own: cluster profiles, named as a site likes, in dask-jobqueue's terms.
_FREE_FORM = frozenset({"clusters"})


def unknown_keys() -> list[str]:
    """Keys set under ``imgjobs`` that imgjobs does not read, each with where it was set and the key it may mean.

    A misspelt key (``DASK_IMGJOBS__SCHEDULER__WORKER=2``) would otherwise be ignored without a word.
    """
    found: list[str] = []

    def walk(have: dict, known: dict, prefix: str) -> None:
        names = {str(k).replace("_", "-"): v for k, v in known.items()}
        for k, v in have.items():
            name = str(k).replace("_", "-")
            if name not in names:
                key = f"{prefix}{name}"
                close = difflib.get_close_matches(name, list(names), n=1)
                hint = f": did you mean imgjobs.{prefix}{close[0]}?" if close else ""
                where = source(key)
                where = "dask.config.set" if where.startswith("imgjobs' defaults") else where
                found.append(f"imgjobs.{key} (from {where}) is not a setting of imgjobs{hint}")
            elif isinstance(v, dict) and isinstance(names[name], dict) and name not in _FREE_FORM:
                walk(v, names[name], f"{prefix}{name}.")

    have = dask.config.get("imgjobs", default={})
    if isinstance(have, dict):
        walk(have, _SHIPPED, "")
    return found


def get(key: str, value=None):
    """Return ``value`` unless it is None, else the config value ``imgjobs.<key>`` (unchecked).

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


def _env_name(key: str) -> str:
    return "DASK_IMGJOBS__" + "__".join(part.upper().replace("-", "_") for part in key.split("."))


def source(key: str) -> str:
    """Where the value of ``imgjobs.<key>`` comes from, for messages."""
    env = _env_name(key)
    if env in os.environ:
        return f"environment variable {env}"
    parts = ["imgjobs", *key.split(".")]
    found = None
    for path in dask.config.paths:
        p = Path(path)
        files = sorted(p.glob("*.y*ml")) + sorted(p.glob("*.json")) if p.is_dir() else [p] if p.is_file() else []
        for f in files:
            try:
                data = yaml.safe_load(f.read_text())
            except (OSError, yaml.YAMLError):
                continue
            for part in parts:
                if not isinstance(data, dict):
                    break
                data = data.get(part, data.get(part.replace("-", "_"), _MISSING))
            else:
                if data is not _MISSING:
                    found = f"config file {f}"  # later files win, as in dask.config
    return found or f"imgjobs' defaults ({config_path()})"


_MISSING = object()


def _fail(key: str, value, want: str, given: bool) -> NoReturn:
    where = "the argument" if given else source(key)
    raise ConfigError(f"imgjobs.{key} must be {want}, got {value!r} (from {where})")


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def get_bool(key: str, value=None) -> bool:
    """A boolean: True/False, or the words true/false, yes/no, on/off, 1/0 (any case)."""
    given = value is not None
    v = get(key, value)
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        word = v.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    _fail(key, v, "true or false (also yes/no, on/off, 1/0)", given)


def get_int(key: str, value=None, *, low: int | None = None, high: int | None = None, optional: bool = False):
    """A whole number in ``low..high`` (None allowed when ``optional``)."""
    given = value is not None
    v = get(key, value)
    if v is None and optional:
        return None
    want = "a whole number" + (f" >= {low}" if low is not None and high is None else "")
    if low is not None and high is not None:
        want = f"a whole number {low}..{high}"
    if optional:
        want += " or null"
    if isinstance(v, bool):
        _fail(key, v, want, given)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or (low is not None and v < low) or (high is not None and v > high):
        _fail(key, v, want, given)
    return v


def get_float(key: str, value=None, *, low: float | None = None, high: float | None = None) -> float:
    """A number in ``(low, high]``."""
    given = value is not None
    v = get(key, value)
    try:
        f = float(v) if not isinstance(v, bool) else math.nan
    except (TypeError, ValueError):
        f = math.nan
    if math.isnan(f) or (low is not None and f <= low) or (high is not None and f > high):
        _fail(key, v, f"a number in ({low}, {high}]", given)
    return f


def get_str(key: str, value=None, *, optional: bool = True):
    """A string (None allowed when ``optional``)."""
    given = value is not None
    v = get(key, value)
    if v is None and optional:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and key.endswith("address"):
        v = str(v)
    if not isinstance(v, str):
        _fail(key, v, "a string" + (" or null" if optional else ""), given)
    return v


def get_choice(key: str, value=None, choices=()) -> str:
    """One of ``choices``."""
    given = value is not None
    v = get(key, value)
    if not isinstance(v, str) or v.strip().lower() not in choices:
        _fail(key, v, "one of " + ", ".join(choices), given)
    return v.strip().lower()


_load_defaults()
