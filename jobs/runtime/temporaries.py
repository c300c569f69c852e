"""Temporary files: the one naming scheme and the one sweeper.

* :func:`temp_path` names a file's temporary ``.<name>.<token>[-<attempt>].imgjobs.tmp``
  beside the file it becomes, hidden, tied to its run's token;
* :func:`sweep_temporaries` is the one sweeper: one listing of a directory
  removes this run's temporaries and those a killed run left.

Writing through them is :mod:`jobs.runtime.durable`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable

__all__ = [
    "TEMP_SUFFIX",
    "is_temporary",
    "new_token",
    "remove_path",
    "sweep_temporaries",
    "temp_path",
    "temporary_of",
]

log = logging.getLogger(__name__)

#: Every temporary imgjobs writes ends with this (``.<name>.<token>[-<attempt>].imgjobs.tmp``).
TEMP_SUFFIX = ".imgjobs.tmp"


def new_token() -> str:
    """A short random token that makes one run's temporary names unique."""
    return uuid.uuid4().hex[:12]


def temp_path(dst: str, token: str, attempt: str | None = None) -> str:
    """The hidden temporary of ``dst`` for run ``token``: ``.<name>.<token>[-<attempt>].imgjobs.tmp``.

    Without ``attempt`` the name is the same every time (tasks writing parts of
    one file in place); :func:`write_atomic` and :class:`BatchWriter` add a random one.
    """
    head, tail = os.path.split(dst)
    tag = token if attempt is None else f"{token}-{attempt}"
    return os.path.join(head, f".{tail}.{tag}{TEMP_SUFFIX}")


#: A temporary's tag: a run's token (:func:`new_token`), and an attempt's.
_TAG = re.compile(r"[0-9a-f]{12}(-[0-9a-z]{1,12})?")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of imgjobs' temporaries (:func:`temp_path`): ``.<name>.<token>[-<attempt>]``
    and the suffix, the token twelve hex digits; a user's ``.notes.2024-1.imgjobs.tmp`` is not.

    >>> is_temporary(".page.out.0123456789ab-cd1234.imgjobs.tmp"), is_temporary(".thesis.2024-1.imgjobs.tmp")
    (True, False)
    """
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return False
    final, _, tag = name[1 : -len(TEMP_SUFFIX)].rpartition(".")
    return bool(final) and _TAG.fullmatch(tag) is not None


def _split(name: str) -> tuple[str, str]:
    """A temporary's name -> (the name it becomes, its run token); ``("", "")`` for any other name."""
    if not is_temporary(name):
        return "", ""
    final, _, tag = name[1 : -len(TEMP_SUFFIX)].rpartition(".")
    return final, tag.split("-", 1)[0]


def temporary_of(name: str) -> str | None:
    """The name a temporary (:func:`temp_path`) becomes, or None for a name that is not a temporary.

    >>> temporary_of(".page.out.0123456789ab-cd1234.imgjobs.tmp")
    'page.out'
    """
    return _split(name)[0] or None


def remove_path(path: str) -> bool:
    """Remove a file, or a directory tree (a store); return whether there was one."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    except FileNotFoundError:
        return False
    return True


def sweep_temporaries(
    directory: str,
    *,
    token: str | None = None,
    stale: Iterable[str] = (),
    every: bool = False,
    also: Callable[[str], bool] | None = None,
    of: str | None = None,
) -> int:
    """Remove imgjobs' temporaries from ``directory`` with one listing; return how many.

    Parameters
    ----------
    directory : str
        A directory imgjobs writes into.
    token : str, optional
        Remove every temporary of this run (attempts that a lost worker or an
        interrupt left).
    stale : iterable of str
        Names of temporaries that were there before this run started (left by a
        killed run); removed if still there.
    every : bool
        Remove every temporary of ours there (a directory only imgjobs writes
        into: a job's work folder).
    also : callable, optional
        ``also(name)``: names a job takes for its temporaries too, with ``every``
        (an older version's, in its work folder).
    of : str, optional
        Remove every temporary of the file of this name (the file is written by
        one run at a time: any other run's temporary of it was left by a kill).

    The number removed is logged once (``-v``), never a line per file.
    """
    stale = set(stale)
    n = 0
    try:
        it = os.scandir(directory or ".")
    except FileNotFoundError:
        return 0
    with it:
        for entry in it:
            name = entry.name
            if not (is_temporary(name) or (every and also is not None and also(name))):
                continue
            final, owner = _split(name)
            if every or name in stale or (token is not None and owner == token) or (of is not None and final == of):
                if entry.is_file(follow_symlinks=False) and remove_path(entry.path):  # ours are files, never links
                    n += 1
    if n:
        log.info("removed %d temporary file(s) a lost worker or an interrupted run left in %s", n, directory or ".")
    return n
