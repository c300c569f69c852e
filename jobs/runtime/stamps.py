"""Content stamps: what a rerun compares to decide whether an output is still current.

A stamp says which content of an input an output was made from.  Two kinds
(``imgjobs.stamps``):

``stat`` (the default)
    The file's size and modification time in nanoseconds, from one ``stat``
    (``fstat`` of the open file, when a task reads it): what ``make`` and
    ``rsync`` trust, at no cost beyond the listing.
``content``
    The size and a BLAKE2b digest of the bytes: for file systems whose
    modification times lie (copies that keep old times, coarse clocks).  A rerun
    reads every input to check it.

A stamp is a short string; :data:`MISSING` stands for a file that could not be
read.  Stamps are compared for equality only: any difference means the input
changed.

>>> from jobs.runtime import stamps
>>> s = stamps.of_bytes(b"pixels", os.stat(__file__), "content")
>>> s.startswith("6:b2:")
True
"""

from __future__ import annotations

import hashlib
import os

__all__ = [
    "MANIFEST",
    "MISSING",
    "MODES",
    "digest",
    "of_bytes",
    "of_output",
    "of_path",
    "of_paths",
    "out_stamp",
    "read_manifest",
    "split_entry",
    "stat_stamp",
    "write_manifest",
]

#: Where the RLE jobs record, in their output directory, what each output was made from.
MANIFEST = ".imgjobs-stamps.json"

#: The kinds of stamp (``imgjobs.stamps``).
MODES = ("stat", "content")

#: The stamp of a file that could not be read (missing, not regular, no permission).
MISSING = "missing"


def stat_stamp(size: int, mtime_ns: int) -> str:
    """The ``stat`` stamp of a file of ``size`` bytes modified at ``mtime_ns``: the one formula for it."""
    return f"{size}:{mtime_ns}"


def of_bytes(data, st: os.stat_result, mode: str = "stat") -> str:
    """The stamp of a file whose content ``data`` was just read from an open file with status ``st``."""
    if mode == "content":
        return f"{len(data)}:b2:{hashlib.blake2b(data, digest_size=16).hexdigest()}"
    return stat_stamp(st.st_size, st.st_mtime_ns)


def of_path(path: str, mode: str = "stat") -> str:
    """The stamp of ``path`` now (following links); :data:`MISSING` when it cannot be read."""
    import stat as _stat

    try:
        st = os.stat(path)
        if not _stat.S_ISREG(st.st_mode):
            return MISSING
        if mode != "content":
            return stat_stamp(st.st_size, st.st_mtime_ns)
        h = hashlib.blake2b(digest_size=16)
        n = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                n += len(chunk)
        return f"{n}:b2:{h.hexdigest()}"
    except OSError:
        return MISSING


def of_paths(paths, mode: str = "stat") -> list[str]:
    """The stamps of ``paths``, in order: one ``stat`` each (``content``: one read each)."""
    return [of_path(p, mode) for p in paths]


def digest(items) -> str:
    """A short digest of a sequence of strings (stamps, paths), order included."""
    h = hashlib.sha256()
    for item in items:
        h.update(str(item).encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()[:32]


def read_manifest(directory: str) -> dict:
    """The RLE jobs' record of an output directory: output name -> ``"<input stamp>|<output stamp>"``.

    Read as untrusted input: a missing, unreadable or malformed file gives an
    empty record; entries are checked where they are used (:func:`split_entry`),
    so loading stays one ``json.load``.  Outputs without a valid entry fall back
    to the ``make`` rule: current when newer than their input.
    """
    import json
    import logging

    from jobs.runtime.files import MAX_JSON_BYTES
    from rle import open_regular

    path = os.path.join(directory or ".", MANIFEST)
    try:
        with open_regular(path) as f:  # a FIFO in its place never blocks
            if os.fstat(f.fileno()).st_size > MAX_JSON_BYTES:
                raise ValueError(f"over {MAX_JSON_BYTES:,} bytes")
            data = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as e:
        logging.getLogger(__name__).warning("%s is unreadable (%s): outputs are judged by their times", path, e)
        return {}
    entries = data.get("outputs") if isinstance(data, dict) and data.get("format") == "imgjobs-stamps-2" else None
    return entries if isinstance(entries, dict) else {}


def split_entry(entry) -> tuple[str, str] | None:
    """A manifest entry -> (input stamp, output stamp), or None when it is not one."""
    if not isinstance(entry, str):
        return None
    source, sep, output = entry.partition("|")
    return (source, output) if sep and source and output else None


def write_manifest(directory: str, entries: dict, token: str) -> None:
    """Write the record of an output directory atomically (see :func:`read_manifest`)."""
    import json

    from jobs.runtime.files import write_atomic

    body = {"format": "imgjobs-stamps-2", "outputs": entries}
    write_atomic(os.path.join(directory or ".", MANIFEST), [json.dumps(body, sort_keys=True).encode()], token)


def of_output(path: str) -> str:
    """The stamp of an output file as written: size and modification time (MISSING if it is not a file)."""
    import stat as _stat

    try:
        st = os.lstat(path)
    except OSError:
        return MISSING
    return stat_stamp(st.st_size, st.st_mtime_ns) if _stat.S_ISREG(st.st_mode) else MISSING


def out_stamp(out: str) -> str:
    """What is at ``out`` now, as a string to compare: ``absent``, or its kind, size and modification time."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        return f"unreadable:{e.errno}"
    inner = ""
    if os.path.isdir(out):  # a zarr store: its group metadata changes when it is rewritten
        try:
            zst = os.stat(os.path.join(out, "zarr.json"))
            inner = f":{zst.st_ino}:{zst.st_mtime_ns}"
        except OSError:
            inner = ":none"
    return f"{st.st_mode:o}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}{inner}"
