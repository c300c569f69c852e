"""Option declarations: every option of a job or of the scheduler written once.

A :class:`Param` says what an option is: its type and its text, the
``imgjobs.*`` key of ``dask.config`` it falls back to and how a value is
checked, and its command-line flag.  An options class (a frozen dataclass
deriving :class:`Options`) declares each field with :func:`option`, and from
those declarations come, with nothing written twice:

- the keyword arguments: ``Options.resolve(**keywords)`` fills unset ones from
  ``dask.config`` and checks them (the Python function of a job takes exactly
  these keywords, :func:`jobs.job_function`);
- the command-line flags: ``Options.add_arguments(parser)``, whose help shows the
  default configured now;
- the docstrings: ``Options.doc()``, the numpydoc entries of the job's function.

A text may hold ``{default}``: the command line shows the configured value
there, a docstring the ``imgjobs.*`` key it comes from (``{a.key}`` does the
same for another key of ``imgjobs``).

>>> from jobs.rle_job.options import CompressOptions
>>> CompressOptions.resolve(rows_per_task=0).rows_per_task
0
>>> print(CompressOptions.doc().splitlines()[0])
rows_per_task : int or "auto", optional
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs import config
from jobs.cliargs import positive
from jobs.errors import UsageError

__all__ = [
    "MAX_PIXELS",
    "OVERWRITE",
    "OVERWRITE_ONE",
    "Options",
    "Param",
    "boolean",
    "choice",
    "configured",
    "from_config",
    "one_of",
    "option",
    "text",
    "truth",
    "whole",
    "whole_number",
]


@dataclass(frozen=True)
class Param:
    """One option: what it is, where its default lives, how it is checked, its flag.

    Attributes
    ----------
    type : str
        Its type for the docstring, e.g. ``'int or "auto"'``.
    doc : str
        What it does, for both ``--help`` and the docstring; ``{default}`` in it
        is the configured value (CLI) or its config key (docstring).
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
        What ``{default}`` reads in ``--help`` when the configured value is null.
    """

    type: str
    doc: str
    key: str | None = None
    check: Callable[..., Any] | None = None
    flag: Mapping[str, Any] = field(default_factory=dict)
    cli: bool = True
    unset: str = "none"

    def resolve(self, value):
        """The value to use: ``value``, or the configured one when it is None, checked."""
        return self.check(self.key, value) if self.check else value

    def help(self) -> str:
        """The ``--help`` text: the doc with the configured default in place of ``{default}``."""

        def value(m) -> str:
            return configured(self.key, self.unset) if m[1] == "default" else configured(m[1])

        return _PLACE.sub(value, self.doc).replace("%", "%%")

    def docstring(self, name: str) -> str:
        """The numpydoc entry: ``name : type, optional`` and the doc, indented."""
        text = _PLACE.sub(lambda m: f"``imgjobs.{self.key if m[1] == 'default' else m[1]}``", self.doc)
        body = textwrap.fill(text, 88, initial_indent="    ", subsequent_indent="    ", break_on_hyphens=False)
        return f"{name} : {self.type}, optional\n{body}"

    def add_to(self, parser, name: str) -> None:
        """Add this option's flag, ``--name-with-dashes`` unless ``flag["flags"]`` says otherwise."""
        kw = dict(self.flag)
        flags = kw.pop("flags", [f"--{name.replace('_', '-')}"])
        kw.setdefault("default", None)
        parser.add_argument(*flags, dest=name, help=self.help(), **kw)


#: ``{default}`` (the option's own key) or ``{a.config-key}`` in a text.
_PLACE = re.compile(r"\{(default|[a-z][a-z0-9.-]*)\}")


def configured(key: str | None, unset: str = "none") -> str:
    """The value ``imgjobs.<key>`` has now, for a help text (``unset`` when null)."""
    value = None if key is None else config.get(key)
    if isinstance(value, bool):
        return str(value).lower()
    return unset if value is None else str(value)


def option(param: Param, **kwargs):
    """A dataclass field declared by ``param``: no default (:meth:`Options.resolve` fills it) unless
    ``kwargs`` give one (``default=None`` for options kept as given, such as the scheduler's)."""
    return field(metadata={"param": param}, **kwargs)


class Options:
    """Base of the option classes: their fields are :func:`option` declarations.

    A subclass's docstring gets an ``Attributes`` section made from them.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = [
            p.docstring(name).replace(", optional", "", 1)
            for name, p in ((n, getattr(v, "metadata", {}).get("param")) for n, v in vars(cls).items())
            if isinstance(p, Param)
        ]
        if declared and cls.__doc__:
            cls.__doc__ = inspect.cleandoc(cls.__doc__) + "\n\nAttributes\n----------\n" + "\n".join(declared) + "\n"

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Field name -> :class:`Param`, in declaration order."""
        return {f.name: f.metadata["param"] for f in dataclasses.fields(cls) if "param" in f.metadata}  # type: ignore[arg-type]

    @classmethod
    def resolve(cls, **keywords):
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

    @classmethod
    def add_arguments(cls, parser, names=None) -> None:
        """Add the flags of the options ``names`` (default: every one with a flag) to ``parser``."""
        for name, p in cls.params().items():
            if p.cli and (names is None or name in names):
                p.add_to(parser, name)

    @classmethod
    def doc(cls, names=None) -> str:
        """The numpydoc entries of the options ``names`` (default: all), one after another."""
        return "\n".join(p.docstring(n) for n, p in cls.params().items() if names is None or n in names)


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

OVERWRITE = Param(
    "bool",
    "replace existing outputs (default {default}: false keeps them, so a rerun finishes the rest)",
    key="overwrite",
    check=boolean,
    flag={"action": "store_true"},
)

#: ``overwrite`` of a job with one output, which a different job's output there is never silently kept as.
OVERWRITE_ONE = dataclasses.replace(
    OVERWRITE,
    doc="replace an existing output (default {default}: false keeps one this very job made, resuming or "
    "calling it up to date, and refuses any other)",
)

MAX_PIXELS = Param(
    "int",
    "refuse (fail by name) images decoded whole with more pixels than this (default {default}; as shipped, Pillow's "
    "decompression-bomb limit); uncompressed BMPs are read by rows and have no such limit",
    key="max-pixels",
    check=whole_number(1),
    flag={"type": positive, "metavar": "N"},
)
