"""Where a job keeps its state, checked before any work: a place holding what imgjobs did not make is refused.

A job keeps state under fixed names beside its outputs (a record of what each
output was made from, a description of a finished output, a work folder, the
lock of the directory).  Each is a regular file or a directory that imgjobs
made there, or nothing.  Anything else (a directory where a file belongs, a
file where a directory belongs, any symbolic link, a FIFO, a socket, a device)
was put there by someone else: reading it would fail after the work (a
directory), block (a FIFO), or reach through it (a link), and replacing it would
lose it.  So every job names its places while it plans and hands them to
:func:`check_places`, which refuses the first wrong one by name, saying what is
there and what to do, before anything is read or written.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> os.mkdir(os.path.join(d, "state.json"))
>>> try:
...     check_places([Place(os.path.join(d, "state.json"), "the record of this run")])
... except UsageError as e:
...     print(e)
/.../state.json, where imgjobs keeps the record of this run, is a directory,
not a file it made: move it away, or write elsewhere
>>> os.rmdir(os.path.join(d, "state.json")); os.rmdir(d)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from jobs.errors import UsageError
from jobs.runtime.listing import kind_of_mode

__all__ = ["DIRECTORY", "FILE", "Place", "check_places", "found_at", "refusal"]

#: A place that holds a regular file imgjobs wrote.
FILE = "file"

#: A place that holds a directory imgjobs made.
DIRECTORY = "directory"


@dataclass(frozen=True)
class Place:
    """A name where a job keeps state.

    Attributes
    ----------
    path : str
        Where it is.
    what : str
        What is kept there, for people (``the lock of out/``).
    kind : str
        :data:`FILE` or :data:`DIRECTORY`: what imgjobs makes there.
    """

    path: str
    what: str
    kind: str = FILE


def found_at(path: str, kind: str = FILE) -> str | None:
    """What is at ``path`` when it is not a ``kind`` imgjobs could have made (``a FIFO``...); None otherwise.

    Nothing there, or a place under something that is no directory (the check
    of that one names it), is None.  Never follows a link: a link is refused
    whatever it points to.
    """
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if (stat.S_ISDIR(mode) if kind == DIRECTORY else stat.S_ISREG(mode)) and not stat.S_ISLNK(mode):
        return None
    return "a file" if stat.S_ISREG(mode) else kind_of_mode(mode)


def refusal(place: Place, found: str) -> UsageError:
    """The error for ``place`` holding ``found`` (what :func:`found_at` says): what, where, and what to do."""
    return UsageError(
        f"{place.path}, where imgjobs keeps {place.what}, is {found}, not a {place.kind} it made: "
        "move it away, or write elsewhere"
    )


def check_places(places: Iterable[Place]) -> None:
    """Refuse (:class:`~jobs.errors.UsageError`) the first of ``places`` holding what imgjobs did not make there.

    One ``lstat`` a place: called while a job plans, before it reads or writes
    any of them.  Give a folder before the places inside it.
    """
    for place in places:
        found = found_at(place.path, place.kind)
        if found is not None:
            raise refusal(place, found)
