"""The RLE jobs' manifest: what each output of a directory was made from, read by range.

``.imgjobs-stamps`` in an output directory holds a record per output: its name,
its input's name, the input's stamp when it was read and the output's stamp
when it was written (:mod:`jobs.runtime.stamps`).  A rerun calls an output
current only when its input is that one, as it was, and the output is as its
task wrote it.

The layout (format 3) is a header line, ``imgjobs-stamps-3``, then the
records sorted by output name and a ``/`` (:func:`key`: the order of the run's
work list, :mod:`jobs.rle_job.ranges`), each four NUL-separated fields ended by
two NULs: ``out \\0 in \\0 in-stamp \\0 out-stamp \\0 \\0``.  No field holds a NUL
or is empty, so two NULs end a record and nothing else: a task finds the
records of its own range of names by bisection (:func:`read_window`) and never
reads the whole file, which a million outputs make ~70 MB.  The finish writes
the next one in one streaming pass (:func:`write_manifest`).

Read as untrusted input: a record that does not parse is no record (its output
is made again), a file out of order only hides records, and a
file that is not a manifest is warned about and ignored.  The format-2 record
of imgjobs 0.2 and 0.3.0 (``.imgjobs-stamps.json``, a JSON object) is read,
converted for the run (:func:`records_of`) and removed once its successor is
written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator

from jobs.rle_job.ranges import SEP
from jobs.runtime.durable import write_atomic
from jobs.runtime.listfile import ListFile
from jobs.runtime.places import Place, check_places
from jobs.runtime.reads import load_json
from jobs.runtime.temporaries import temp_path

__all__ = [
    "HEADER",
    "LEGACY",
    "LEGACY_MAX_BYTES",
    "MANIFEST",
    "UNKNOWN_INPUT",
    "check_place",
    "iter_records",
    "key",
    "read_records",
    "read_window",
    "record",
    "records_of",
    "write_manifest",
]

log = logging.getLogger(__name__)

#: Where the RLE jobs record, in their output directory, what each output was made from.
MANIFEST = ".imgjobs-stamps"

#: The record of imgjobs 0.2 and 0.3.0 (format 2, one JSON object): read and converted, removed once replaced.
LEGACY = ".imgjobs-stamps.json"

#: The first line of a manifest of this layout.
HEADER = b"imgjobs-stamps-3\n"

#: What ends a record.
END = b"\0\0"

#: The input name of a record converted from format 2, which did not keep it ("/" is in no file name).
UNKNOWN_INPUT = b"/"

#: Bytes read at a time.
_READ = 1 << 18

#: The largest manifest read (about 14 million records); a larger file is warned about and not read.
MAX_BYTES = 1 << 30

#: Most bytes one record may take: a longer run of bytes without two NULs is not a manifest (reading stops).
_RECORD_BYTES = 1 << 16

#: The largest format-2 record read (about two million outputs): JSON is read whole, so a larger one is not.
LEGACY_MAX_BYTES = 128 << 20


def key(out: bytes) -> bytes:
    """Where output ``out``'s record sorts: its name and a ``/``, as in a work list's entries."""
    return out + SEP


def record(out: bytes, source: bytes, in_stamp: bytes, out_stamp: bytes) -> bytes:
    """One record, as the manifest holds it."""
    return b"\0".join((out, source, in_stamp, out_stamp)) + END


def _parse(rec: bytes) -> tuple[bytes, bytes, bytes, bytes] | None:
    fields = rec.split(b"\0")
    if len(fields) != 4 or not all(fields):
        return None
    return fields[0], fields[1], fields[2], fields[3]


def check_place(directory: str) -> None:
    """Refuse, before anything runs, a manifest place (or a format-2 record's) that holds something else than a
    file (UsageError, :func:`jobs.runtime.places.check_places`): it is never read through, nor replaced."""
    what = "the record of what each output was made from"
    check_places(
        [
            Place(os.path.join(directory or ".", MANIFEST), what),
            Place(os.path.join(directory or ".", LEGACY), f"{what} (format 2)"),
        ]
    )


def records_of(directory: str, token: str) -> ListFile | None:
    """The records of an output directory as a file tasks read by range; None when there are none.

    The manifest itself when it is one; a format-2 record converted into a
    temporary of run ``token`` (swept with the run's other temporaries); None
    (warned, when something is there) otherwise: every output is then judged
    by its times.
    """
    path = os.path.join(directory or ".", MANIFEST)
    if not os.path.lexists(path):
        return _converted(os.path.join(directory or ".", LEGACY), token)
    try:
        listed = ListFile.of(path)
        if listed.size > MAX_BYTES:
            raise ValueError(f"over {MAX_BYTES:,} bytes")
        with open(path, "rb") as f:
            if f.read(len(HEADER)) == HEADER:
                return listed
        log.warning("%s is not a manifest of imgjobs (format 3): outputs without a record are made again", path)
    except Exception as e:  # UsageError (not a regular file), OSError: warned, and judged by times
        log.warning("%s is unreadable (%s): outputs without a record are made again", path, e)
    return None


def _converted(path: str, token: str) -> ListFile | None:
    try:
        data = load_json(path, limit=LEGACY_MAX_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("%s is unreadable (%s): outputs without a record are made again", path, e)
        return None
    entries = data.get("outputs") if isinstance(data, dict) and data.get("format") == "imgjobs-stamps-2" else None
    if not isinstance(entries, dict):
        log.warning("%s is not a record of imgjobs: outputs without a record are made again", path)
        return None
    records = []
    for name, entry in entries.items():
        source, sep, output = entry.partition("|") if isinstance(entry, str) else ("", "", "")
        out = os.fsencode(name) if isinstance(name, str) else b""
        if sep and source and output and out and b"\0" not in out and b"/" not in out:
            records.append(
                record(out, UNKNOWN_INPUT, source.encode("ascii", "replace"), output.encode("ascii", "replace"))
            )
    records.sort(key=lambda r: key(r.partition(b"\0")[0]))
    tmp = temp_path(path, token, "v3")
    with open(tmp, "xb") as f:
        f.write(HEADER)
        f.write(b"".join(records))
    return ListFile.of(tmp)


def _records_from(fd: int, at: int, size: int) -> Iterator[tuple[bytes, bytes, bytes, bytes]]:
    """The records from byte ``at`` (a record's start) on, parsed, up to the first that does not parse.

    What follows a record that does not parse is not read: a manifest imgjobs wrote has none (it is written
    whole, then renamed), so one is damage or garbage, and its records are no records (their outputs are
    made again).  Nothing longer than a record is ever held.
    """
    rest = b""
    while at < size:
        chunk = os.pread(fd, min(_READ, size - at), at)
        if not chunk:
            return
        at += len(chunk)
        parts = (rest + chunk).split(END)
        rest = parts.pop()
        for rec in parts:
            parsed = _parse(rec)
            if parsed is None:
                return
            yield parsed
        if len(rest) > _RECORD_BYTES:
            return


def _start_after(fd: int, pos: int, size: int) -> int:
    """The first record start at ``pos`` or after it, looking no further than a record's length (``size`` if
    none: what is there is no record)."""
    at = max(len(HEADER), pos - 2)
    for n in (4096, _RECORD_BYTES):  # a record is short: most looks end in the first page
        chunk = os.pread(fd, min(n, size - at), at) if at < size else b""
        k = chunk.find(END)
        if k >= 0:
            return at + k + 2
    return size


def read_window(listed: ListFile, first: bytes, last: bytes) -> dict[bytes, tuple[bytes, bytes, bytes]]:
    """The records whose keys (:func:`key`) are ``first .. last``: ``{out: (in name, in stamp, out stamp)}``.

    Bisection to ``first``, then one sequential read up to ``last``: a few reads beyond the records asked
    for, whatever the manifest's size.  :class:`~jobs.errors.StalePlan` if the file is not the one planned.
    """
    fd = listed.open()
    try:
        size = listed.size
        lo, hi = len(HEADER), size  # lo: a record start before any name >= first; records from hi on are >= first
        while hi - lo > _READ:
            mid = (lo + hi) // 2
            s = _start_after(fd, mid, size)
            if s >= hi:
                hi = mid
                continue
            name = os.pread(fd, 512, s).partition(b"\0")[0]
            if key(name) < first:
                lo = s
            else:
                hi = s
        found: dict[bytes, tuple[bytes, bytes, bytes]] = {}
        for out, source, a, b in _records_from(fd, lo, size):
            k = key(out)
            if k > last:
                break
            if k >= first:
                found[out] = (source, a, b)
        return found
    finally:
        os.close(fd)


def _every(listed: ListFile, start: int = len(HEADER)) -> Iterator[tuple[bytes, bytes, bytes, bytes]]:
    """Every record of a manifest (or of a file of records from byte ``start``), in order, parsed
    (:func:`_records_from`)."""
    fd = listed.open()
    try:
        yield from _records_from(fd, start, listed.size)
    finally:
        os.close(fd)


def iter_records(listed: ListFile | None, start: int = len(HEADER)) -> Iterator[tuple[bytes, bytes]]:
    """Every record of a manifest, in order, as ``(key, record)``; nothing for None.

    ``start``: where the records begin (a journal part's, :mod:`jobs.rle_job.journal`, after its header).
    """
    if listed is not None:
        for out, source, a, b in _every(listed, start):
            yield key(out), record(out, source, a, b)


def read_records(directory: str) -> dict[str, tuple[str, str, str]]:
    """Every record of a directory's manifest as ``{output name: (input name, input stamp, output stamp)}``.

    For people and tests: a dict of a million records takes ~300 MB; the jobs read by range.
    """
    listed = records_of(directory, "read")
    if listed is None:
        return {}
    found = {}
    try:
        for out, source, a, b in _every(listed):
            found[os.fsdecode(out)] = (os.fsdecode(source), a.decode("ascii", "replace"), b.decode("ascii", "replace"))
    finally:
        if listed.path != os.path.join(directory or ".", MANIFEST):  # a format-2 record converted for this read
            os.remove(listed.path)
    return found


def _merged(old: Iterable[tuple[bytes, bytes]], new: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """Records of ``old`` and ``new`` (each ``(key, record)`` sorted by key) in order; ``new`` wins a key both hold."""
    a, b = iter(old), iter(new)
    x, y = next(a, None), next(b, None)
    last: bytes | None = None
    while x is not None or y is not None:
        if y is not None and (x is None or y[0] <= x[0]):
            if x is not None and x[0] == y[0]:
                x = next(a, None)
            item, y = y, next(b, None)
        else:
            assert x is not None
            item, x = x, next(a, None)
        if last is not None and item[0] <= last:
            continue  # out of order or twice (a hostile old manifest): the first kept
        last = item[0]
        yield item[1]


def write_manifest(directory: str, token: str, old: ListFile | None, new: Iterable[tuple[bytes, bytes]]) -> None:
    """Write the manifest of ``directory`` atomically: ``old``'s records with ``new``'s over them.

    ``new`` holds ``(key, record)`` sorted by key (:func:`key`, :func:`record`).

    One streaming pass; a format-2 record there is removed once this one is written.
    """

    def chunks():
        yield HEADER
        held: list[bytes] = []
        n = 0
        for rec in _merged(iter_records(old), new):
            held.append(rec)
            n += len(rec)
            if n >= _READ * 4:
                yield b"".join(held)
                held, n = [], 0
        yield b"".join(held)

    write_atomic(os.path.join(directory or ".", MANIFEST), chunks(), token)
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
        legacy = os.path.join(directory or ".", LEGACY)
        if os.path.isfile(legacy) and not os.path.islink(legacy):
            os.remove(legacy)
