"""Option declarations: where each option of a job or of the scheduler falls back to, and how it is checked.

A job's Python function is written out (its typed keywords and numpydoc);
its options class (a frozen dataclass deriving :class:`Options`) declares, for
each of those keywords, a :class:`Param`: the ``imgjobs.*`` key of ``dask.config``
it falls back to, how a value is checked, and its command-line flag.  So:

- ``Options.resolve(**keywords)`` fills unset options from ``dask.config`` and
  checks them (what the job's function calls first);
- the command line (:mod:`jobs.cli`) adds each option's flag, its help text read
  from the function's docstring, with the value configured now in place of the
  ``imgjobs.*`` keys it names;
- ``tests/test_registry.py`` holds a job's function keywords, its options, its
  flags and its config keys to the same set.

>>> from jobs.rle_job.options import CompressOptions
>>> CompressOptions.resolve(rows_per_task=0).rows_per_task
0
>>> CompressOptions.params()["rows_per_task"].key
'rle.rows-per-task'
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jobs import config
from jobs.cliargs import positive
from jobs.errors import UsageError
from jobs.runtime.stamps import MODES
from jobs.runtime.storage import Storage

__all__ = [
    "MAX_PIXELS",
    "OVERWRITE",
    "SECRET_KEYS",
    "STAMPS",
    "STORAGE",
    "Options",
    "Param",
    "boolean",
    "choice",
    "from_config",
    "one_of",
    "option",
    "text",
    "truth",
    "whole",
    "whole_number",
]

OptionsT = TypeVar("OptionsT", bound="Options")


@dataclass(frozen=True)
class Param:
    """Where one option's value comes from and how it is checked, and its command-line flag.

    Attributes
    ----------
    key : str or None
        ``imgjobs.<key>`` in ``dask.config``: its value when the option is not given.
    check : callable or None
        ``check(key, value) -> value``: the value given (None: not given), looked
        up in config when ``key`` is set and checked; raises
        :class:`~jobs.errors.UsageError` (a given value) or
        :class:`~jobs.errors.ConfigError` (a configured one).  None: taken as given.
    flag : mapping
        Keywords of ``argparse.add_argument`` (``type``, ``metavar``, ``choices``,
        ``action``...), and ``"flags"`` for names other than ``--<name>``.
    cli : bool
        False for a Python-only option.
    unset : str
        What ``--help`` shows for the default when the configured value is null.
    """

    key: str | None = None
    check: Callable[..., Any] | None = None
    flag: Mapping[str, Any] = field(default_factory=dict)
    cli: bool = True
    unset: str = "none"

    def resolve(self, value: Any) -> Any:
        """The value to use: ``value``, or the configured one when it is None, checked."""
        return self.check(self.key, value) if self.check else value


def option(param: Param, **kwargs):
    """A dataclass field declared by ``param``: no default (:meth:`Options.resolve` fills it) unless
    ``kwargs`` give one (``default=None`` for options kept as given, such as the scheduler's)."""
    return field(metadata={"param": param}, **kwargs)


class Options:
    """Base of the option classes: their fields are :func:`option` declarations."""

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Field name -> :class:`Param`, in declaration order."""
        return {f.name: f.metadata["param"] for f in dataclasses.fields(cls) if "param" in f.metadata}  # type: ignore[arg-type]

    @classmethod
    def resolve(cls: type[OptionsT], **keywords: Any) -> OptionsT:
        """The options from keyword arguments: unset ones from ``dask.config``, each checked.

        Raises
        ------
        TypeError
            For a keyword that is not one of the options.
        UsageError, ConfigError
            For a value out of range, naming the option (and the config key and file).
        """
        params = cls.params()
        unknown = sorted(set(keywords) - set(params))
        if unknown:
            raise TypeError(
                f"{cls.__name__} got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"the options are {', '.join(params)}"
            )
        return cls(**{name: p.resolve(keywords.get(name)) for name, p in params.items()})


# --------------------------------------------------------------------------- checks


def whole_number(low: int = 1, high: int | None = None, *, optional: bool = False):
    """A check: a whole number in low..high (None allowed when ``optional``), from config when not given."""

    def check(key, value):
        return config.get_int(key, value, low=low, high=high, optional=optional)

    return check


def whole(what: str):
    """A check for an option with no config key: a whole number >= 1 given as an int (or its
    decimal text), or None; anything else is a :class:`~jobs.errors.UsageError` naming ``what``."""

    def check(key, value) -> int | None:
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

    return check


def from_config(parse):
    """A check: ``parse(value)``, the value given or else the configured one; a configured value that
    ``parse`` refuses is a :class:`~jobs.errors.ConfigError` naming the key and where it came from."""

    def check(key, value):
        given = value is not None
        value = config.get(key, value)
        try:
            return parse(value)
        except UsageError as e:
            if given:
                raise
            raise config.ConfigError(f"{e} (imgjobs.{key}, from {config.source(key)})") from None

    return check


def one_of(what: str, value, choices) -> str:
    """``value`` (any case) if it is one of ``choices``; else a :class:`~jobs.errors.UsageError` naming ``what``."""
    text = str(value).strip().lower()
    if text not in choices:
        raise UsageError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return text


def truth(what: str, value) -> bool | None:
    """True, False or None from a bool or its text (true/false, yes/no, on/off, 1/0), as config reads them."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise UsageError(f"{what} must be true or false, got {value!r}")


def boolean(key, value) -> bool:
    """A check: True or False, from config when not given."""
    return config.get_bool(key, value)


def choice(*choices: str):
    """A check: one of ``choices``, from config when not given."""

    def check(key, value):
        return config.get_choice(key, value, choices)

    return check


def text(key, value) -> str | None:
    """A check: a string or None, from config when not given."""
    return config.get_str(key, value)


# --------------------------------------------------------------------------- options every job shares

#: ``overwrite``: replace existing outputs (``imgjobs.overwrite``).
OVERWRITE = Param(key="overwrite", check=boolean, flag={"action": argparse.BooleanOptionalAction})

#: ``max_pixels``: the most pixels of an image decoded whole (``imgjobs.max-pixels``).
MAX_PIXELS = Param(key="max-pixels", check=whole_number(1), flag={"type": positive, "metavar": "N"})

#: ``stamps``: how a rerun tells an input changed (``imgjobs.stamps``: stat or content).
STAMPS = Param(key="stamps", check=choice(*MODES), flag={"choices": list(MODES)})


def storage_options(key, value) -> Storage:
    """A check: fsspec's storage options, a mapping (or its JSON text, from the flag or an environment
    variable), from config when not given.  A message never shows the value: it may hold credentials."""
    given = value is not None
    value = config.get(key, value)
    error = config.ConfigError if not given else UsageError
    where = f"imgjobs.{key}, from {config.source(key)}" if not given else "--storage-options"
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as e:
            raise error(
                f"storage options must be a JSON object such as '{{\"anon\": true}}' ({where}: {e.msg} "
                f"at character {e.pos})"
            ) from None
    if value is None:
        value = {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise error(f"storage options must be a mapping of fsspec's options, got a {type(value).__name__} ({where})")
    return Storage(value)


#: ``storage_options``: fsspec's options for the URLs a job reads and writes (``imgjobs.storage-options``).
STORAGE = Param(key="storage-options", check=storage_options, flag={"metavar": "JSON"})

#: Config keys whose values ``--help`` and messages never show: they may hold credentials.
SECRET_KEYS = frozenset({STORAGE.key})
