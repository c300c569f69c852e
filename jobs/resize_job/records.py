"""The resize job's work folder, read as untrusted input: ``plan.json`` and the ``done/`` records.

While a batch is built, its hidden work folder holds ``plan.json`` (which run
owns the folder, and for which job) and one record per finished slice,
``done/<start>-<stop>.json`` (a digest of the stamps its images were read with, its
failures, the library versions that made its pixels).  Each is written through
a temporary, synced and renamed (:func:`jobs.runtime.durable.write_atomic`), and
read back checking everything: shape and types, ranges, that a record belongs
to this very job and run, that records do not overlap.  Anything that does not
hold is treated as absent (the work is redone); never a traceback, never believed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence

import numpy as np

from jobs.runtime import stamps
from jobs.runtime.durable import write_atomic
from jobs.runtime.reads import read_json
from jobs.runtime.temporaries import temporary_of

__all__ = [
    "DONE_NAME",
    "Done",
    "is_int",
    "is_libraries",
    "ours_temporary",
    "read_done",
    "read_plan",
    "write_done",
    "write_small",
]

#: A done record's name: ``<start>-<stop>.json``.
DONE_NAME = re.compile(r"([0-9]{1,15})-([0-9]{1,15})\.json")

#: A temporary imgjobs 0.2 wrote in a work folder (a state file's or a shard's): ``.<name>.<pid>-<hex>.part``.
_LEGACY_TEMPORARY = re.compile(r"\.(.+)\.[0-9]+-[0-9a-f]{8}\.part")


def ours_temporary(name: str) -> str | None:
    """The name a temporary in a work folder becomes (:func:`jobs.runtime.temporaries.temporary_of`, or the
    ``.part`` files of imgjobs 0.2, so that an upgrade resumes an older run's folder); None if it is none."""
    legacy = _LEGACY_TEMPORARY.fullmatch(name)
    return legacy.group(1) if legacy else temporary_of(name)


def write_small(path: str, text: str, token: str) -> None:
    """Write a small state file of run ``token`` through a hidden temporary, a sync and a rename: never
    half-written.  A failure (a full disk) removes the temporary and names the file."""
    write_atomic(path, [text.encode("utf-8")], token)


def read_plan(path: str) -> dict | None:
    """The work folder's ``plan.json``, or None when it is missing or not of the expected shape."""
    plan = read_json(path)
    if not isinstance(plan, dict):
        return None
    if not (isinstance(plan.get("token"), str) and isinstance(plan.get("identity"), str)):
        return None
    if not is_int(plan.get("n"), 1):
        return None
    chunk = plan.get("chunk")
    if chunk is not None and not is_int(chunk, 1):
        return None
    return plan


class Done:
    """One finished slice, as its record says.

    ``start``, ``stop``, ``stamp`` (one digest of the stamps its images were read
    with: :func:`jobs.runtime.stamps.of_slices` gives the same of them now),
    ``failed`` ((index, reason), ...) and ``libraries`` (the versions that made its
    pixels; None: not recorded).
    """

    __slots__ = ("failed", "libraries", "stamp", "start", "stop")

    def __init__(self, start: int, stop: int, stamp: str, failed: Sequence, libraries: dict | None = None):
        self.start, self.stop, self.stamp, self.failed = start, stop, stamp, tuple(failed)
        self.libraries = libraries

    def __repr__(self) -> str:
        return f"Done({self.start}, {self.stop}, {len(self.failed)} failed)"

    @classmethod
    def of(cls, start: int, outcomes, seen, libraries: dict | None = None) -> Done:
        """The record of a slice from ``start`` whose images ended as ``outcomes``, read with stamps ``seen``."""
        failed = [(int(i), outcomes.reasons.get(int(i), "")) for i in np.flatnonzero(outcomes.status == 2).tolist()]
        return cls(start, start + len(outcomes), stamps.digest(seen), failed, libraries)


def write_done(done_dir: str, token: str, identity: str, slice_: Done) -> None:
    """Record a durable slice as finished: ``done/<start>-<stop>.json``, tied to this job and run."""
    record = {
        "token": token,
        "identity": identity,
        "start": slice_.start,
        "stop": slice_.stop,
        "stamp": slice_.stamp,
        "failed": [[int(i), str(r)] for i, r in slice_.failed],
        "libraries": slice_.libraries,
    }
    write_small(os.path.join(done_dir, f"{slice_.start}-{slice_.stop}.json"), json.dumps(record), token)


def _valid_done(record, name_start: int, name_stop: int, token: str, identity: str, n: int) -> Done | None:
    if not isinstance(record, dict) or record.get("token") != token or record.get("identity") != identity:
        return None
    start, stop = record.get("start"), record.get("stop")
    if start != name_start or stop != name_stop or not (is_int(start, 0) and is_int(stop, 1)):
        return None
    if not start < stop <= n:
        return None
    stamp = record.get("stamp")
    if not stamps.is_digest(stamp):
        return None
    failed = record.get("failed")
    if not isinstance(failed, list):
        return None
    out = []
    for item in failed:
        if not (isinstance(item, list) and len(item) == 2 and is_int(item[0], 0) and isinstance(item[1], str)):
            return None
        if item[0] >= stop - start:
            return None
        out.append((item[0], item[1]))
    libraries = record.get("libraries")
    if libraries is not None and not is_libraries(libraries):
        return None
    return Done(start, stop, stamp, out, libraries)


def is_libraries(value) -> bool:
    """Whether ``value`` is a record of library versions: a small object of names to version strings."""
    return (
        isinstance(value, dict)
        and len(value) <= 32
        and all(isinstance(k, str) and isinstance(v, str) and len(k) + len(v) < 200 for k, v in value.items())
    )


def read_done(done_dir: str, token: str, identity: str, n: int, chunk: int | None = None) -> tuple[list, int]:
    """The finished slices recorded in ``done_dir`` for this job and run, sorted, none overlapping.

    One listing.  A record is believed only if its name and content agree, it
    names this run's ``token`` and this job's ``identity``, its slice lies in
    ``0..n`` (on ``chunk`` boundaries, for a zarr store), its stamps and failures
    have the slice's length and types, and it overlaps no record kept before it.

    Returns
    -------
    (list of Done, int)
        The slices kept, and how many records were ignored.
    """
    try:
        with os.scandir(done_dir) as it:
            names = [e.name for e in it if not e.name.startswith(".")]
    except OSError:
        return [], 0
    found, ignored = [], 0
    for name in names:
        m = DONE_NAME.fullmatch(name)
        if not m:
            ignored += 1
            continue
        start, stop = int(m.group(1)), int(m.group(2))
        if chunk and (start % chunk or (stop % chunk and stop != n)):
            ignored += 1
            continue
        done = _valid_done(read_json(os.path.join(done_dir, name)), start, stop, token, identity, n)
        if done is None:
            ignored += 1
            continue
        found.append(done)
    found.sort(key=lambda d: (d.start, d.stop))
    kept, end = [], 0
    for d in found:
        if d.start < end:
            ignored += 1  # overlaps a slice kept before it: the overlap is redone
            continue
        kept.append(d)
        end = d.stop
    return kept, ignored


def is_int(value, low: int | None = None) -> bool:
    """Whether ``value`` is an int (not a bool), at least ``low``."""
    return isinstance(value, int) and not isinstance(value, bool) and (low is None or value >= low)
