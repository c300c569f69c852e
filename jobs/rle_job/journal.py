"""The RLE jobs' journal: each task's records, written as the task finishes, folded into the manifest.

A task that made outputs writes their records (:func:`jobs.rle_job.manifest.record`)
as one *part*, ``.imgjobs-stamps.parts/<token>.<tag>`` in the output directory
(:func:`write_part`), after the outputs themselves are durable and renamed.  The
run's finish folds every part into the manifest in one streaming pass and removes
them (:func:`fold`); a run killed before its finish leaves its parts, and the next
run folds them before it judges anything.  So an output of a killed run keeps the
record of what made it, and an output without a record is never trusted
(:mod:`jobs.rle_job.currency` makes it again).

A part is a header line, ``imgjobs-stamps-part-1``, its first and last keys
(``first \\0 last \\0 \\0``), then its records in key order, as the manifest holds
them.  Read as untrusted input: a part whose header does not parse is warned
about and left where it is, a damaged record ends its part (what follows is no
record), and a record out of order is dropped by the merge.  Where two parts
hold a record of the same output, the newer part's wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from jobs.errors import UsageError
from jobs.rle_job.manifest import MANIFEST, iter_records, records_of, write_manifest
from jobs.runtime.durable import write_atomic
from jobs.runtime.listfile import ListFile
from jobs.runtime.places import DIRECTORY, Place, check_places, found_at
from jobs.runtime.temporaries import is_temporary

__all__ = ["PARTS", "Part", "check_parts_place", "fold", "fold_left", "parts", "write_part"]

log = logging.getLogger(__name__)

#: The folder, in an output directory, of the records tasks wrote that the manifest does not hold yet.
PARTS = ".imgjobs-stamps.parts"

#: The first line of a part.
PART_HEADER = b"imgjobs-stamps-part-1\n"

#: The longest part header read (its two keys are file names and a "/").
_HEAD_BYTES = 2048


def _folder(out_dir: str) -> str:
    return os.path.join(out_dir or ".", PARTS)


def check_parts_place(out_dir: str) -> bool:
    """Refuse, before anything runs, a parts place that holds something else than a folder imgjobs made
    (:func:`jobs.runtime.places.check_places`); whether the folder is there."""
    path = _folder(out_dir)
    check_places([Place(path, "the records of outputs its tasks made", DIRECTORY)])
    return os.path.isdir(path)


def write_part(out_dir: str, token: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Write one task's records (``(key, record)``, any order) as a part of run ``token``; nothing if none.

    Its name is the same for every attempt of the task (the digest of its first key), so a retry replaces
    what an earlier attempt wrote.
    """
    recs = sorted(records)
    if not recs:
        return
    first, last = recs[0][0], recs[-1][0]
    folder = _folder(out_dir)
    os.makedirs(folder, exist_ok=True)
    name = f"{token}.{hashlib.blake2b(first, digest_size=8).hexdigest()}"
    head = PART_HEADER + first + b"\0" + last + b"\0\0"
    write_atomic(os.path.join(folder, name), [head, *(r for _, r in recs)], token)


@dataclass(frozen=True)
class Part:
    """A part found in an output directory: its file, keys, where its records start, and its age rank."""

    listed: ListFile
    first: bytes
    last: bytes
    start: int
    rank: int  # higher: newer


def parts(out_dir: str, warn: bool = True) -> list[Part]:
    """The parts of ``out_dir``, oldest first (one listing of the parts folder, which holds a file per task).

    A temporary there (a task killed while writing its part) is removed; anything else that is not a part is
    left, and warned about unless ``warn`` is False (the finish: the plan warned already).
    """
    say = log.warning if warn else log.debug
    folder = _folder(out_dir)
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        path = os.path.join(folder, name)
        if is_temporary(name):
            with contextlib.suppress(OSError):
                os.remove(path)
            continue
        found_there = found_at(path)
        if found_there is not None:
            say("%s is %s, not a record imgjobs wrote: left as it is", path, found_there)
            continue
        try:
            listed = ListFile.of(path)
            fd = listed.open()
            try:
                head = os.pread(fd, _HEAD_BYTES, 0)
            finally:
                os.close(fd)
        except (OSError, UsageError) as e:
            say("%s is not a record imgjobs can read (%s): left as it is", path, e)
            continue
        fields = head[len(PART_HEADER) :].split(b"\0", 2)
        if not head.startswith(PART_HEADER) or len(fields) < 3 or not fields[2].startswith(b"\0"):
            say("%s is not a record of imgjobs: left as it is", path)
            continue
        start = len(PART_HEADER) + len(fields[0]) + len(fields[1]) + 3
        found.append((listed.mtime_ns, name, listed, fields[0], fields[1], start))
    found.sort(key=lambda f: (f[0], f[1]))
    return [Part(listed, first, last, start, rank) for rank, (_, _, listed, first, last, start) in enumerate(found)]


def _ranked(p: Part) -> Iterator[tuple[tuple[bytes, int], bytes]]:
    """A part's records as ``((key, -rank), record)``: of one key, the newest part's sorts first."""
    for k, r in iter_records(p.listed, p.start):
        yield (k, -p.rank), r


def _newest_first(group: list[Part]) -> Iterator[tuple[bytes, bytes]]:
    """The records of overlapping parts in key order, one per key: the newest part's."""
    if len(group) == 1:
        yield from iter_records(group[0].listed, group[0].start)
        return
    streams = [_ranked(p) for p in group]
    last = None
    for (k, _), r in heapq.merge(*streams):
        if k != last:
            last = k
            yield k, r


def _in_order(found: list[Part]) -> Iterator[tuple[bytes, bytes]]:
    """Every part's records in key order: parts that do not overlap chained, those that do merged."""
    group: list[Part] = []
    end = b""
    for p in sorted(found, key=lambda p: (p.first, p.last)):
        if group and p.first > end:
            yield from _newest_first(group)
            group = []
        group.append(p)
        end = max(end, p.last) if len(group) > 1 else p.last
    if group:
        yield from _newest_first(group)


def fold(out_dir: str, token: str, old: ListFile | None, found: list[Part]) -> bool:
    """Write the manifest of ``out_dir``: ``old``'s records with those of ``found`` over them; remove the parts.

    Returns whether anything was folded.  The parts go only once the manifest holding them is in place: a kill
    in between leaves them to be folded again, which gives the same manifest.
    """
    if not found:
        return False
    try:
        write_manifest(out_dir, token, old, _in_order(found))
    except OSError as e:
        raise OSError(
            e.errno,
            f"cannot record what was made in {os.path.join(out_dir or '.', MANIFEST)} ({e.strerror or e}): "
            f"the outputs are in place, and their records stay in {_folder(out_dir)} until it can be written",
        ) from None
    for p in found:
        with contextlib.suppress(FileNotFoundError):
            os.remove(p.listed.path)
    with contextlib.suppress(OSError):
        os.rmdir(_folder(out_dir))  # empty now, unless a part was left as not ours
    return True


def fold_left(out_dir: str, token: str) -> int:
    """Fold the parts an earlier run left (killed before its finish) into the manifest; how many there were.

    Called while planning, under the output directory's lock, before any output is judged.
    """
    found = parts(out_dir)
    if not found:
        return 0
    old = records_of(out_dir, token)
    try:
        fold(out_dir, token, old, found)
    except OSError as e:  # before any work: the run cannot keep its records, so it does not run
        raise UsageError(f"{e.strerror}: make it writable, then run again") from None
    finally:
        if old is not None and is_temporary(os.path.basename(old.path)):  # a format-2 record converted
            with contextlib.suppress(FileNotFoundError):
                os.remove(old.path)
    log.info("kept the records of %d task(s) of an earlier run in %s that stopped before its end", len(found), out_dir)
    return len(found)
