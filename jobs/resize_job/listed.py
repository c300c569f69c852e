"""A file list read once into compact columns, and the ranges of it that tasks read for themselves.

A list of ten million images must not become ten million strings on the
client, nor in the graph.  :func:`scan_list` streams the list once and keeps,
per image, only where its line starts (an int64 byte offset) and its label (an
int64), and a digest of every path in order: 16 bytes an image.
:class:`ListedPaths` is the list as a sequence of paths read back on demand,
and a slice of it is a :class:`ListRange`: a byte range of the list that a
task carries (a few dozen bytes, whatever its length) and parses itself
(:class:`~jobs.runtime.listfile.ListFile` refuses a list changed since the plan).

The format is :func:`split_list_line`'s: ``path [label]`` a line, blank lines
and ``#`` comments skipped, relative paths relative to the list, a byte-order
mark ignored, lines ended by ``\\n``, ``\\r\\n`` or ``\\r``.  A label follows a TAB,
or a space when *every* line without a TAB ends in a space and a whole number
(ImageNet's ``path 7``); in any other list, such a line is a path, whole
(``scan 12``): :func:`scan_list` decides, and each range carries the decision.
"""

from __future__ import annotations

import array
import hashlib
import logging
import os
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import numpy as np

from jobs.errors import StalePlan, UsageError
from jobs.resize_job.listlabels import WHOLE, Codes, labels_of, line_of, line_shown
from jobs.runtime.listfile import ListFile, RemoteListFile, list_file
from jobs.runtime.storage import Storage, is_http, is_url, local_path, url_parent

__all__ = ["ListRange", "ListScan", "ListedPaths", "parse", "scan_list", "split_list_line"]

log = logging.getLogger(__name__)

#: How much of a list is read at a time while scanning it.
CHUNK_BYTES = 1 << 22

_BOM = b"\xef\xbb\xbf"
_LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n|$)")


def split_list_line(line: str, spaced: bool = True) -> tuple[str, str | None]:
    """A file list line -> (path, label or None).

    ``path<TAB>label`` takes any label (a class name such as ``n01440764``); a
    line ended by a TAB has none, its path whole.  In a list labelled by spaces
    (``spaced``: every line without a TAB ends in a space and a whole number,
    ImageNet's ``path 7``), the number after the last space is the label and the
    path keeps its spaces; otherwise a line without a TAB is a path, spaces,
    digits and all (``my photo.jpg``, ``scan 12``).
    """
    text = line.strip()
    if "\t" in line and _tabbed(line, text):
        path, _, rest = text.partition("\t")
        return path.strip(), rest.strip() or None
    head, _, last = text.rpartition(" ")
    if spaced and head.strip() and WHOLE.fullmatch(last):
        return head.strip(), last
    return text, None


def _entry(name: str, base: str) -> str:
    """A list entry as a path or URL: absolute paths and URLs as written (``file://`` ones made local paths),
    others relative to the list's ``base`` (a directory, or a URL's "directory"; over HTTP, the name is
    percent-encoded: ``a b#1.jpg`` is the file of that name, as on disk)."""
    if name[0] == "/" or is_url(name):
        return name
    if name.startswith("file://"):
        return local_path(name)
    return base + (quote(name) if is_http(base) else name)


def _tabbed(line: str, text: str) -> bool:
    """Whether ``line`` (``text`` once stripped) gives its label after a TAB: one inside it, or one that ends it."""
    return "\t" in text or "\t" in line[len(line.rstrip()) :]


class _Kinds:
    """Where a list's first line labelled by a space, and its first line with neither a TAB nor a label, start
    (-1: none yet): a list is labelled by spaces only while it has no line of the second kind."""

    __slots__ = ("bare", "spaced")

    def __init__(self) -> None:
        self.spaced = self.bare = -1

    def see(self, spaced: int, bare: int) -> None:
        self.spaced, self.bare = (spaced if self.spaced < 0 else self.spaced), (bare if self.bare < 0 else self.bare)


def _segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of every line of ``data`` without its end (``\\n``, ``\\r\\n`` or ``\\r``)."""
    if b"\r" not in data:
        at = 0
        for raw in data.split(b"\n"):
            yield at, raw
            at += len(raw) + 1
        return
    for m in _LINE.finditer(data):
        if m.end() == m.start():
            return
        yield m.start(), m.group(1)


def parse(
    data: bytes, base: str, where: str, offset: int = 0, spaced: bool = True, kinds: _Kinds | None = None
) -> tuple[list, list, list]:
    """The entries of ``data`` (whole lines of a list): their paths, label texts and byte offsets.

    ``base`` is the list's directory with a trailing separator (relative paths
    are taken from there); ``offset`` is where ``data`` starts in the list (a
    byte-order mark is dropped at 0); ``spaced``: labelled by spaces
    (:func:`split_list_line`), where ``kinds`` notes the lines that decide it.
    A line that is not UTF-8 or holds a NUL is a :class:`~jobs.errors.UsageError`
    naming ``where`` and its line.
    """
    if offset == 0 and data.startswith(_BOM):
        data, offset = data[3:], 3
    if data.isascii() and b"\r" not in data and b"\0" not in data:
        return _parse_plain(data.decode("ascii"), base, offset, spaced, kinds or _Kinds())
    paths: list[str] = []
    labels: list[str | None] = []
    starts: list[int] = []
    for at, raw in _segments(data):
        try:
            whole = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError(
                f"{where}, line {line_of(where, offset + at)}: not UTF-8 text (byte {e.start}: {e.reason}); "
                "save the list as UTF-8"
            ) from None
        line = whole.strip()
        if not line or line[0] == "#":
            continue
        if "\0" in line:
            raise UsageError(f"{where}, line {line_of(where, offset + at)}: a NUL byte in a path; remove it")
        name, label = split_list_line(whole, spaced)
        if kinds is not None and not ("\t" in whole and _tabbed(whole, line)):
            kinds.see(offset + at if label is not None else -1, offset + at if label is None else -1)
        paths.append(_entry(name, base))
        labels.append(label)
        starts.append(offset + at)
    return paths, labels, starts


def _parse_plain(text: str, base: str, at: int, spaced: bool, kinds: _Kinds) -> tuple[list, list, list]:
    """:func:`parse` of ASCII text ended by ``\\n`` only, without NUL bytes: the common case, made fast."""
    paths: list[str] = []
    labels: list[str | None] = []
    starts: list[int] = []
    add_path, add_label, add_start = paths.append, labels.append, starts.append
    first_spaced = first_bare = -1
    for raw in text.split("\n"):
        line = raw.strip()
        if line and line[0] != "#":
            if "\t" in raw and _tabbed(raw, line):
                name, label = split_list_line(line) if "\t" in line else (line, None)
            elif not spaced:
                name, label = line, None
            else:
                head, _, last = line.rpartition(" ")
                if head and (last.isdigit() or (last[:1] in "+-" and last[1:].isdigit())):
                    name, label = head.rstrip(), last
                    first_spaced = at if first_spaced < 0 else first_spaced
                else:
                    name, label = line, None
                    first_bare = at if first_bare < 0 else first_bare
            add_path(name if name[0] == "/" else _entry(name, base))
            add_label(label)
            add_start(at)
        at += len(raw) + 1
    kinds.see(first_spaced, first_bare)
    return paths, labels, starts


@dataclass
class ListScan:
    """A file list read once: where each entry starts, its label text's code, and a digest of its paths.

    Attributes
    ----------
    listed : ListFile
        The list as it was read.
    base : str
        Its directory, with a trailing separator.
    starts : numpy.ndarray
        int64 byte offset of each entry's line, then where the last one ends (n + 1 values).
    labels : numpy.ndarray or None
        int64 label of each entry (None: no line has one).
    classes : list of str or None
        Class names, index -> name, when the labels are names (not whole numbers).
    paths_digest : str
        SHA-256 of every path in order, each ended by a NUL.
    watched : list of str
        The paths :func:`scan_list` was asked to watch for.
    """

    listed: ListFile | RemoteListFile
    base: str
    starts: np.ndarray
    labels: np.ndarray | None
    classes: list | None
    paths_digest: str
    watched: list = field(default_factory=list)
    watch: frozenset = frozenset()
    spaced: bool = True  # labelled by spaces (split_list_line): what every range of it is parsed with

    def __len__(self) -> int:
        return len(self.starts) - 1


def scan_list(
    path: str, limit: int | None = None, watch: Collection[str] = (), storage: Storage | None = None
) -> ListScan:
    """Read the file list at ``path`` once, keeping 16 bytes an entry; stop after ``limit`` entries.

    Labels are whole numbers in 0 .. 2**63 - 1 (ImageNet's ``path 7``) or,
    when any label is not, class names, sorted and numbered from 0; every line
    or none has one.  A label follows a space only when every line taken without
    a TAB ends in a space and a whole number; a list that also has a line that
    does not is read again with each such line a path, whole (warned, naming
    a line of each kind).  Errors name the list and the line.  Paths whose last
    part is one of ``watch`` (or ends in ``.`` or ``..``) are kept aside in
    :attr:`ListScan.watched`: the few that may name an output.  ``path`` may be a URL (read with
    ``storage``'s options), whose relative entries are taken from its "directory".
    """
    listed = list_file(path, storage)
    remote = isinstance(listed, RemoteListFile)
    base = url_parent(listed.path) if remote else os.path.dirname(listed.path).rstrip(os.sep) + os.sep
    kinds = _Kinds()
    scan = _scan(listed, base, limit, watch, kinds)
    if scan is None:
        log.warning(
            "%s: %s ends in a space and a whole number but %s does not: the list is read as unlabelled, each "
            "line a path, whole; to label it, end every line in its label (path 7, or path<TAB>label)",
            listed.path,
            line_shown(listed.path, kinds.spaced),
            line_shown(listed.path, kinds.bare),
        )
        scan = _scan(listed, base, limit, watch, None)
    assert scan is not None
    return scan


def _scan(
    listed: ListFile | RemoteListFile, base: str, limit: int | None, watch: Collection[str], kinds: _Kinds | None
):
    """:func:`scan_list`'s pass over the list: labelled by spaces while ``kinds`` is given, and then None as soon
    as a line taken is labelled by a space and another has neither a TAB nor a label."""
    starts, codes = array.array("q"), array.array("q")
    index = Codes()
    first_missing, watched = None, []
    digest = hashlib.sha256()
    at, pos, buf, n, end = 0, 0, b"", 0, 0  # buf: bytes read but not parsed, from byte ``at`` of the list
    while limit is None or n < limit:
        chunk = listed.read(pos, min(pos + CHUNK_BYTES, listed.size))
        pos += len(chunk)
        data = buf + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1 if chunk else len(data)  # whole lines only
        parsed = parse(data[:cut], base, listed.path, at, kinds is not None, kinds) if cut else ([], [], [])
        paths, texts, offs = parsed
        end = at + cut
        if limit is not None and n + len(paths) > limit:
            keep = limit - n
            end = offs[keep]  # the next entry's line: where the last one kept ends, comments and all
            paths, texts, offs = paths[:keep], texts[:keep], offs[:keep]
        if kinds is not None and 0 <= kinds.spaced < end and 0 <= kinds.bare < end:
            return None  # lines of both kinds among those taken: no line is labelled by a space
        if paths:
            joined = "\0".join(paths)
            digest.update(joined.encode("utf-8") + b"\0")
            if any(w in joined for w in watch) or "/." in joined:  # rare: look at each path of the chunk
                watched += [p for p in paths if _watched(p, watch)]
        starts.extend(offs)
        had_missing = None in index
        codes.extend(map(index.__getitem__, texts))  # a new text gets the next code (Codes.__missing__)
        if not had_missing and None in index:
            k = texts.index(None)
            first_missing = (offs[k], paths[k][len(base) :] if paths[k].startswith(base) else paths[k])
        n += len(paths)
        at, buf = at + cut, data[cut:]
        if not chunk:
            break
    starts.append(end if n else 0)
    labels, classes = labels_of(listed.path, codes, index, first_missing, starts)
    starts_np = np.frombuffer(starts, dtype=np.int64)  # no copy: the array's buffer, kept alive by it
    return ListScan(
        listed, base, starts_np, labels, classes, digest.hexdigest(), watched, frozenset(watch), kinds is not None
    )


def _watched(path: str, watch: Collection[str]) -> bool:
    """Whether ``path``'s last part is one of ``watch``, or it ends in ``.`` or ``..`` (see :func:`scan_list`)."""
    trimmed = path.rstrip(os.sep)
    return trimmed[trimmed.rfind(os.sep) + 1 :] in watch or trimmed.endswith((os.sep + ".", os.sep + ".."))


class ListRange(Sequence):
    """Entries ``first..first+count`` of a scanned list: a byte range a task carries and reads itself.

    Pickles as the range, never as the paths; the paths are read on first use
    (:meth:`load`), checked to be as many as planned in a list unchanged since
    (:class:`~jobs.errors.StalePlan` otherwise).
    """

    __slots__ = ("_entries", "base", "begin", "end", "first", "length", "listed", "spaced")

    def __init__(
        self,
        listed: ListFile | RemoteListFile,
        base: str,
        begin: int,
        end: int,
        first: int,
        length: int,
        spaced: bool = True,
    ):
        self.listed, self.base, self.begin, self.end, self.first, self.length = listed, base, begin, end, first, length
        self.spaced = spaced  # labelled by spaces, as the scan decided (split_list_line)
        self._entries: tuple[list, list] | None = None

    def __reduce__(self):
        return ListRange, (self.listed, self.base, self.begin, self.end, self.first, self.length, self.spaced)

    def __repr__(self) -> str:
        return f"ListRange({self.listed.path!r}, entries {self.first}..{self.first + self.length})"

    def load(self) -> tuple[list, list]:
        """``(paths, label texts)`` of the range, read from the list once and kept."""
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> tuple[list, list]:
        data = self.listed.read(self.begin, self.end)
        paths, texts, _ = parse(data, self.base, self.listed.path, self.begin, self.spaced)
        if len(paths) != self.length:
            raise StalePlan(
                f"{self.listed.path}: bytes {self.begin}..{self.end} hold {len(paths)} entries, not the "
                f"{self.length} planned: plan the job again"
            )
        return paths, texts

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i):
        return self.load()[0][i]

    def __iter__(self):
        # One pass over a range not yet loaded reads it without keeping it: the ranges a plan's own small
        # tasks go through in this process (a rerun's stamps) do not pile up every path of the list.
        return iter((self._entries or self._read())[0])


class ListedPaths(Sequence):
    """The paths of a scanned list, in order, read back from the list on demand (16 bytes an entry held)."""

    def __init__(self, scan: ListScan):
        self.scan = scan

    def __len__(self) -> int:
        return len(self.scan)

    def suspects(self, tails: Collection[str]) -> list | None:
        """The paths whose last part is one of ``tails`` (or ends in ``.``/``..``), kept while scanning; None
        when the scan did not watch for all of them (read every path then)."""
        if not set(tails) <= self.scan.watch:
            return None
        return [p for p in self.scan.watched if _watched(p, tails)]

    def range(self, start: int, stop: int) -> ListRange:
        """Entries ``start..stop`` as a range a task can carry."""
        s = self.scan
        return ListRange(s.listed, s.base, int(s.starts[start]), int(s.starts[stop]), start, stop - start, s.spaced)

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return [self[k] for k in range(start, stop, step)]
            return self.range(start, max(start, stop))
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"entry {i} of a list of {n}")
        return self.range(i, i + 1)[0]

    def __iter__(self):
        step = 65536
        for start in range(0, len(self), step):
            yield from self.range(start, min(start + step, len(self)))
