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
changed.  A job records them where it keeps its state (a record beside its
outputs, its records of finished work).

>>> from jobs.runtime import stamps
>>> s = stamps.of_bytes(b"pixels", os.stat(__file__), "content")
>>> s.startswith("6:b2:")
True
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from typing import Literal, TypeGuard, get_args

from jobs.runtime.storage import MAX_OBJECT_BYTES, Storage, is_url, object_version, read_object

__all__ = [
    "MISSING",
    "MODES",
    "StampMode",
    "digest",
    "is_content",
    "is_digest",
    "of_bytes",
    "of_content",
    "of_fd",
    "of_output",
    "of_path",
    "of_paths",
    "of_read",
    "of_slices",
    "of_url",
    "out_stamp",
    "stat_stamp",
    "stat_stamp_bytes",
    "written_stamp",
]

#: The kinds of stamp (``imgjobs.stamps``).
StampMode = Literal["stat", "content"]
MODES: tuple[str, ...] = get_args(StampMode)

#: The stamp of a file that could not be read (missing, not regular, no permission).
MISSING = "missing"


def stat_stamp_bytes(size: int, mtime_ns: int) -> bytes:
    """The ``stat`` stamp of a file of ``size`` bytes modified at ``mtime_ns``, in ASCII: the one formula for it."""
    return b"%d:%d" % (size, mtime_ns)


def written_stamp(st: os.stat_result) -> bytes:
    """The stamp of an output as written, in ASCII: size, modification time and inode.  The inode tells two
    outputs of one size and one time (a run writes many in the same tick) apart when they are swapped by
    renames, which keep inodes: a file rewritten in place keeps its inode but not its time."""
    return b"%d:%d:i%d" % (st.st_size, st.st_mtime_ns, st.st_ino)


def stat_stamp(size: int, mtime_ns: int) -> str:
    """:func:`stat_stamp_bytes` as a string."""
    return stat_stamp_bytes(size, mtime_ns).decode("ascii")


def of_bytes(data, st: os.stat_result, mode: str = "stat") -> str:
    """The stamp of a file whose content ``data`` was just read from an open file with status ``st``."""
    if mode == "content":
        return of_content(data)
    return stat_stamp(st.st_size, st.st_mtime_ns)


def of_content(data) -> str:
    """The ``content`` stamp of bytes just read: their size and BLAKE2b digest."""
    return _content(len(data), hashlib.blake2b(data, digest_size=16))


def _content(size: int, h) -> str:
    """The ``content`` stamp of ``size`` bytes whose BLAKE2b is ``h``: the one formula for it."""
    return f"{size}:b2:{h.hexdigest()}"


def is_content(stamp: bytes | str) -> bool:
    """Whether ``stamp`` is a ``content`` stamp (else a ``stat`` one, or :data:`MISSING`)."""
    if isinstance(stamp, bytes):
        return b":b2:" in stamp
    return ":b2:" in stamp


def of_fd(fd: int) -> str:
    """The ``content`` stamp of the regular file open at ``fd``, read from its start (position unchanged)."""
    h = hashlib.blake2b(digest_size=16)
    n = 0
    while chunk := os.pread(fd, 1 << 20, n):
        h.update(chunk)
        n += len(chunk)
    return _content(n, h)


def of_path(path: str, mode: str = "stat", storage: Storage | None = None) -> str:
    """The stamp of ``path`` now (following links; a URL's: :func:`jobs.runtime.storage.stamp_of`, with
    ``storage``'s options); :data:`MISSING` when it cannot be read."""
    if is_url(path):
        try:
            return of_url(path, storage, mode)
        except Exception:  # the back end's own errors too: missing, denied, unreachable
            return MISSING
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return MISSING
        if mode != "content":
            return stat_stamp(st.st_size, st.st_mtime_ns)
        with open(path, "rb") as f:
            return of_fd(f.fileno())
    except OSError:
        return MISSING


def of_url(url: str, storage: Storage | None = None, mode: str = "stat") -> str:
    """The stamp of the object at ``url`` now: ``<size>:etag:<ETag>`` or ``<size>:time:<time>`` (what the
    store offers, :func:`jobs.runtime.storage.object_version`), or in ``content`` mode (or where the store
    offers neither) the ``content`` stamp of its bytes.  Raises what reading it raises."""
    if mode != "content":
        size, version = object_version(url, storage)
        if size is not None and version is not None:
            return f"{size}:{version}"
    data, size, version = read_object(url, storage, MAX_OBJECT_BYTES)
    return of_read(data, size, version, "content")


def of_read(data, size: int | None, version: str | None, mode: str = "stat") -> str:
    """The stamp of an object just read (:func:`jobs.runtime.storage.read_object`): as :func:`of_url` says."""
    if mode != "content" and size is not None and version is not None:
        return f"{size}:{version}"
    return of_content(data)


def of_paths(paths, mode: str = "stat", storage: Storage | None = None) -> list[str]:
    """The stamps of ``paths``, in order: one ``stat`` each (``content``: one read each)."""
    return [of_path(p, mode, storage) for p in paths]


def of_slices(paths, lengths, mode: str = "stat", storage: Storage | None = None) -> list[str]:
    """One :func:`digest` of the stamps of each run of ``lengths`` consecutive ``paths`` (a slice's stamp).

    A task's work when a rerun checks what changed: it carries a range of the
    inputs, so the stamps are taken where the tasks run, and only one short
    digest per slice comes back.
    """
    paths = list(paths)
    if sum(lengths) != len(paths):
        raise ValueError(f"slices of {sum(lengths)} path(s) over {len(paths)}")
    out, pos = [], 0
    for length in lengths:
        out.append(digest(of_paths(paths[pos : pos + length], mode, storage)))
        pos += length
    return out


def digest(items) -> str:
    """A short digest of a sequence of strings (stamps, paths), order included.

    An item that is an iterator counts as the string its parts make joined: a
    long item (the hex of ten million labels) is digested a part at a time,
    never held whole.
    """
    h = hashlib.sha256()
    for item in items:
        for part in item if isinstance(item, Iterator) else (item,):
            h.update(str(part).encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()[:DIGEST_CHARS]


#: Characters of a :func:`digest`: lowercase hex.
DIGEST_CHARS = 32


def is_digest(value) -> TypeGuard[str]:
    """Whether ``value`` is what :func:`digest` returns (read back from a state file)."""
    return isinstance(value, str) and len(value) == DIGEST_CHARS and all(c in "0123456789abcdef" for c in value)


def of_output(path: str) -> str:
    """The stamp of an output file as written: size and modification time (MISSING if it is not a file)."""
    try:
        st = os.lstat(path)
    except OSError:
        return MISSING
    return stat_stamp(st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else MISSING


def out_stamp(out: str, inside: tuple = ()) -> str:
    """What is at ``out`` now, as a string to compare: ``absent``, or its kind, size and modification time.

    ``inside``: names of files in a directory ``out`` whose own stamps join its
    (a store whose metadata file changes when it is rewritten in place).
    """
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return "absent"
    except OSError as e:
        return f"unreadable:{e.errno}"
    inner = ""
    if stat.S_ISDIR(st.st_mode):
        for name in inside:
            try:
                ist = os.stat(os.path.join(out, name))
                inner += f":{ist.st_ino}:{ist.st_mtime_ns}"
            except OSError:
                inner += ":none"
    return f"{st.st_mode:o}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}{inner}"
