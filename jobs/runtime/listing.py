"""Listing directories once, naming files compactly, and checking where outputs go.

The rules that keep a job's cost linear in its files:

* a directory is listed once per job (:func:`list_inputs`, :func:`list_outputs`),
  never once per file;
* file names travel as :class:`Names` (a directory and the names in it), a few
  bytes per file;
* an output place that cannot be written is refused before anything runs
  (:func:`check_writable_dir`, :func:`check_writable_file`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from jobs.errors import UsageError
from jobs.runtime.temporaries import is_temporary

__all__ = [
    "InputListing",
    "Names",
    "OutputListing",
    "PackedNames",
    "check_writable_dir",
    "check_writable_file",
    "kind_of_mode",
    "list_inputs",
    "list_outputs",
    "stem",
]


@dataclass(frozen=True)
class Names(Sequence):
    """Paths as one directory and the names in it: a few bytes per file, in task arguments and reports.

    Parameters
    ----------
    directory : str
        Where the files are ("" when ``names`` are whole paths).
    names : tuple of str
        File names in ``directory``.
    suffix : str, optional
        When set, path ``i`` is the name's stem plus this suffix (``page.png`` ->
        ``page.out``): outputs named after their inputs without storing a second name.
    """

    directory: str
    names: tuple
    suffix: str | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Names(self.directory, self.names[i], self.suffix)
        return _path(self.directory, self.names[i], self.suffix)

    def __iter__(self):
        return (self[i] for i in range(len(self.names)))

    def basenames(self) -> list[str]:
        """The file name of every path, without building the paths (``os.path.basename`` of each)."""
        if self.suffix is None or any(os.sep in n for n in self.names):
            return [os.path.basename(p) for p in self]
        return [stem(n) + self.suffix for n in self.names]

    def take(self, indices: Iterable[int]) -> Names:
        """The names at ``indices``, in that order."""
        return Names(self.directory, tuple(self.names[i] for i in indices), self.suffix)


class PackedNames(Sequence):
    """Paths as one directory and one blob of names, each ended by a NUL: no object per name.

    What a task over a range of a work list (:mod:`jobs.runtime.worklist`)
    returns for its files: a million names cost their bytes, not a million
    strings.  Same interface as :class:`Names`; a name is decoded as the file
    system does (:func:`os.fsdecode`) when it is asked for.

    >>> p = PackedNames("out", b"a.png\\0b.png\\0", ".txt")
    >>> list(p), p.take([1]).basenames()
    (['out/a.txt', 'out/b.txt'], ['b.txt'])
    """

    __slots__ = ("_ends", "_paths", "blob", "directory", "suffix")

    def __init__(self, directory: str, blob: bytes, suffix: str | None = None):
        self.directory, self.blob, self.suffix = directory, blob, suffix
        self._ends: np.ndarray | None = None
        self._paths: list[str] | None = None  # every path, made at the first index: a task's few thousand

    def __reduce__(self):
        return PackedNames, (self.directory, self.blob, self.suffix)

    def ends(self) -> np.ndarray:
        """Where each name's NUL is in the blob."""
        if self._ends is None:
            self._ends = np.flatnonzero(np.frombuffer(self.blob, dtype=np.uint8) == 0)
        return self._ends

    def __len__(self) -> int:
        return len(self._paths) if self._paths is not None else len(self.ends())

    def name(self, i: int) -> str:
        """Name ``i`` as stored (the input's, without the directory or suffix)."""
        ends = self.ends()
        start = int(ends[i - 1]) + 1 if i > 0 else 0
        return os.fsdecode(self.blob[start : int(ends[i])])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        if self._paths is None:
            d, suffix = self.directory, self.suffix
            self._paths = [_path(d, os.fsdecode(n), suffix) for n in self.blob.split(b"\0")[:-1]]
        return self._paths[i]

    def __iter__(self):
        if self._paths is not None:
            return iter(self._paths)
        d, suffix = self.directory, self.suffix  # one pass, nothing kept: a report's million names
        return (_path(d, os.fsdecode(n), suffix) for n in self.blob.split(b"\0")[:-1])

    def basenames(self) -> list[str]:
        """The file name of every path."""
        return [os.path.basename(p) for p in self]

    def take(self, indices: Iterable[int]) -> PackedNames:
        """The names at ``indices``, in that order."""
        ends = self.ends()
        parts = []
        for i in indices:
            start = int(ends[i - 1]) + 1 if i > 0 else 0
            parts.append(self.blob[start : int(ends[i]) + 1])
        return PackedNames(self.directory, b"".join(parts), self.suffix)


def _path(directory: str, name: str, suffix: str | None) -> str:
    if suffix is not None:
        name = stem(name) + suffix
    if not directory:
        return name
    return directory + name if directory.endswith(os.sep) else directory + os.sep + name


def stem(name: str) -> str:
    """A file name without its extension (``os.path.splitext(name)[0]`` for a plain name, cheaper)."""
    dot = name.rfind(".")
    return name[:dot] if dot > 0 else name


@dataclass
class InputListing:
    """The input files of one directory, from one ``scandir``.

    Attributes
    ----------
    directory : str
        The directory listed.
    names : list of str
        Regular files with a wanted extension (symbolic links to regular files
        count), sorted.
    sizes : list of int
        Their sizes in bytes.
    others : list of (str, str)
        Entries with a wanted extension that are not regular files (a FIFO, a
        directory, a broken or looping link), with the reason: reported, never
        opened.
    mtimes : list of int
        Their modification times in nanoseconds (what a rerun compares outputs with).
    """

    directory: str
    names: list
    sizes: list
    others: list
    mtimes: list | None = None


def list_inputs(directory: str, extensions) -> InputListing:
    """List the files of ``directory`` whose extension is in ``extensions`` (lower case, with the dot).

    One ``scandir`` and one ``stat`` per matching entry.  Hidden entries (``.name``),
    imgjobs' temporaries among them, are ignored.
    """
    entries = []
    others = []
    with os.scandir(directory) as it:
        for entry in it:
            name = entry.name
            dot = name.rfind(".")
            if dot <= 0 or name[dot:].lower() not in extensions:  # hidden, no extension, not wanted
                continue
            try:
                st = entry.stat()  # follows a link; a loop or a dangling link raises here
            except OSError as e:
                others.append((name, f"cannot read: {e.strerror or e}"))
                continue
            if stat.S_ISREG(st.st_mode):
                entries.append((name, st.st_size, st.st_mtime_ns))
            else:
                others.append((name, f"not a regular file ({kind_of_mode(st.st_mode)})"))
    entries.sort()
    others.sort()
    return InputListing(directory, [e[0] for e in entries], [e[1] for e in entries], others, [e[2] for e in entries])


def kind_of_mode(mode: int) -> str:
    """What a file of ``mode`` is, for people: ``a directory``, ``a FIFO``, ... (``not a file`` otherwise)."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return word
    return "not a file"


@dataclass
class OutputListing:
    """What an output directory holds, from one ``scandir``: existing names, how many, and imgjobs' temporaries."""

    directory: str
    exists: bool
    names: set
    temporaries: list
    count: int = 0  # entries that are not temporaries (their names kept only when asked for)


def list_outputs(directory: str, keep_names: bool = True) -> OutputListing:
    """List an output directory once (it may not exist yet); ``keep_names=False``: count, keep no name."""
    names, temps, count = set(), [], 0
    try:
        with os.scandir(directory or ".") as it:
            for entry in it:
                if is_temporary(entry.name):
                    temps.append(entry.name)
                else:
                    count += 1
                    if keep_names:
                        names.add(entry.name)
    except FileNotFoundError:
        return OutputListing(directory, False, names, temps)
    return OutputListing(directory, True, names, temps, count)


def check_writable_dir(directory: str) -> None:
    """Refuse, before anything runs, an output directory this process cannot create or write into."""
    d = os.path.abspath(directory or ".")
    probe = d
    while not os.path.exists(probe):  # a directory the tasks will create: its nearest existing parent
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise UsageError(f"cannot write into {d}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "write into" if probe == d else f"create {d} in"
        raise UsageError(f"cannot {what} {probe}: permission denied")


def check_writable_file(path: str, what: str) -> None:
    """Refuse, before anything runs, a file path that cannot be written (a directory, a missing parent...)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a directory: give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {what} {path}: permission denied")
