"""Help texts of the command's arguments, read from the docstrings of the functions they call.

A job's function documents each of its keywords once, in numpydoc; ``--help``
shows the same text, with every ``imgjobs.*`` key it names replaced by the
value configured now (so ``imgjobs compress --help`` shows the defaults your
configuration gives), and the markup a terminal does not need removed.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from jobs import config
from jobs.params import SECRET_KEYS, Param

__all__ = ["configured", "help_text", "parameter_docs"]

#: A numpydoc section header: a title line, then a line of dashes.
_SECTIONS = ("Parameters", "Attributes", "Other Parameters")

#: ``imgjobs.some.key`` in double back-quotes: replaced by its configured value.
_KEY = re.compile(r"``imgjobs\.([a-z][a-z0-9.-]*)``")

#: Other inline markup: ``code`` and :role:`~target` / :role:`target`.
_CODE = re.compile(r"``([^`]+)``")
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def parameter_docs(obj: Any) -> dict[str, str]:
    """Name -> text of each entry in ``obj``'s numpydoc Parameters / Attributes sections, joined on one line.

    >>> from jobs.rle_job.api import decompress
    >>> parameter_docs(decompress)["src"]
    'An .rle file or a directory of them.'
    """
    lines = (inspect.getdoc(obj) or "").splitlines()
    docs: dict[str, str] = {}
    names: list[str] = []
    inside = False
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if following.startswith("---") and line.strip():  # a section starts
            inside = line.strip() in _SECTIONS
            names = []
            continue
        if not inside or line.startswith("---") or not line.strip():
            continue
        if not line.startswith(" "):  # "name : type" or "a, b, c"
            names = [n.strip().lstrip("*") for n in line.split(" : ")[0].split(",")]
            for n in names:
                docs[n] = ""
        else:
            for n in names:
                docs[n] = f"{docs[n]} {line.strip()}".strip()
    return docs


def configured(key: str | None, unset: str = "none") -> str:
    """The value ``imgjobs.<key>`` has now, for a help text (``unset`` when null; never a secret's value)."""
    value = None if key is None else config.get(key)
    if key in SECRET_KEYS:
        return "configured, not shown" if value else unset
    if isinstance(value, bool):
        return str(value).lower()
    return unset if value is None else str(value)


def help_text(doc: str, param: Param | None = None) -> str:
    """A docstring entry as ``--help`` shows it: configured values for ``imgjobs.*`` keys, plain text, lower case.

    The option's own key shows ``param.unset`` when it is null; argparse's ``%``
    is escaped.

    >>> help_text("Images each task reads (default ``imgjobs.stats.images-per-task``).")
    'images each task reads (default 64)'
    """
    own = param.key if param is not None else None
    unset = param.unset if param is not None else "none"
    text = _KEY.sub(lambda m: configured(m[1], unset if m[1] == own else "none"), doc)
    text = _ROLE.sub(lambda m: m[1], _CODE.sub(lambda m: m[1], text))
    text = text[:-1] if text.endswith(".") else text
    first = text.split(" ", 1)[0]
    if first[:1].isupper() and not first[1:2].isupper():  # "Rows per task" -> "rows per task"; "TLS" stays
        text = text[0].lower() + text[1:]
    return text.replace("%", "%%")
