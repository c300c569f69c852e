"""What an RLE task is handed: where its files are, and which files, by name or by range of the run's work list.

A batch task over a directory gets a :class:`RangeBatch`: a range of the run's
work list (:mod:`jobs.runtime.worklist`) and a bit per entry saying whether
this task handles it, and whether its output was there when planned.  It reads
its own names (:meth:`RangeBatch.load`), so the graph holds no file name.  A
task over files named one by one (``verify``'s) gets a :class:`FileBatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jobs.runtime.listing import Names, PackedNames
from jobs.runtime.worklist import WorkRange

__all__ = ["SEP", "EntryNames", "FileBatch", "RangeBatch", "Target", "split_blob"]


@dataclass(frozen=True)
class Target:
    """Where a job's inputs and outputs are: what every range task of a plan carries.

    Attributes
    ----------
    src_dir, out_dir : str
        The directories of the inputs and the outputs.
    """

    src_dir: str
    out_dir: str


#: What joins an output's name and its input's in a work list entry (``page.rle/page.bmp``): in no file name.
SEP = b"/"


def split_blob(blob: bytes) -> tuple[bytes, bytes]:
    """Entries ``out/in``, each ended by a NUL -> (the input names, the output names), each ended by a NUL.

    Vectorised (a million entries in ~0.1 s), a few MB at a time: every entry holds exactly one separator,
    so the parity of the separators and NULs before a byte says which half it is in.
    """
    ins, outs, at = [], [], 0
    while at < len(blob):
        end = blob.find(b"\0", at + _SPLIT_BYTES - 1) + 1 or len(blob)
        i, o = _split(blob[at:end])
        ins.append(i)
        outs.append(o)
        at = end
    return b"".join(ins), b"".join(outs)


class EntryNames(Sequence):
    """One half of work list entries (``output/input``, each ended by a NUL) as paths, split when first asked.

    What the files settled while planning are reported with: a rerun that skips a million files splits
    their names only if the report is read file by file.
    """

    __slots__ = ("_names", "blob", "directory", "part")

    def __init__(self, directory: str, blob: bytes, part: int):
        self.directory, self.blob, self.part = directory, blob, part  # part 0: the output, 1: the input
        self._names: PackedNames | None = None

    def __reduce__(self):
        return EntryNames, (self.directory, self.blob, self.part)

    def names(self) -> PackedNames:
        """The paths, split from the entries once."""
        if self._names is None:
            self._names = PackedNames(self.directory, split_blob(self.blob)[1 - self.part])
        return self._names

    def __len__(self) -> int:
        return self.blob.count(b"\0")

    def __getitem__(self, i):
        return self.names()[i]

    def __iter__(self):
        return iter(self.names())

    def take(self, indices) -> PackedNames:
        """The paths at ``indices``, in that order."""
        return self.names().take(indices)


#: Bytes of entries :func:`split_blob` takes at a time.
_SPLIT_BYTES = 1 << 22


def _split(blob: bytes) -> tuple[bytes, bytes]:
    a = np.frombuffer(blob, dtype=np.uint8)
    nul, sep = a == 0, a == SEP[0]
    second = (np.cumsum(nul | sep, dtype=np.uint8) & 1).astype(bool)  # after a separator, up to its NUL
    ins = a[(second & ~sep) | nul].tobytes()
    outs = a[(~second & ~nul) | sep].copy()
    outs[outs == SEP[0]] = 0
    return ins, outs.tobytes()


@dataclass(frozen=True)
class FileBatch:
    """The argument of a batch task: inputs, outputs and the input sizes seen while planning.

    Attributes
    ----------
    src : Names
        Input files.
    dst : Names
        Output files (for ``verify``, the ``.rle`` files), index for index.
    sizes : tuple of int
        Input sizes in bytes when planned (``verify``: of the ``.rle`` files).  A
        task never reads more of an ``.rle`` than its planned size: one that grew
        since is refused, never read whole.
    replace : frozenset of int
        Positions whose output was there when planned: the only outputs a task
        replaces.  A file that appears at another's name meanwhile (another
        program's) is kept, and that input fails with the reason.
    """

    src: Names | PackedNames
    dst: Names | PackedNames
    sizes: tuple
    replace: frozenset = frozenset()

    def __len__(self) -> int:
        return len(self.src)


@dataclass(frozen=True)
class RangeBatch:
    """The argument of a batch task over a range of a work list; :meth:`load` gives its :class:`FileBatch`.

    Attributes
    ----------
    work : WorkRange
        Entries of the run's work list: ``output/input`` names (joined by :data:`SEP`).
    target : Target
        Where the inputs and outputs are.
    do : bytes
        ``numpy.packbits`` of a bool per entry: the ones this task handles.
    replace : bytes
        ``numpy.packbits`` of a bool per entry: whose output was there when planned.
    limit : int
        Most bytes any input of the task had when planned: what a task reads of a file at most.
    """

    work: WorkRange
    target: Target
    do: bytes
    replace: bytes
    limit: int

    def __len__(self) -> int:
        return int(np.unpackbits(np.frombuffer(self.do, dtype=np.uint8), count=self.work.count).sum())

    def load(self) -> FileBatch:
        """The files this task handles, read from the work list."""
        entries = PackedNames("", self.work.blob())
        n = len(entries)
        do = np.unpackbits(np.frombuffer(self.do, dtype=np.uint8), count=n).astype(bool)
        replace = np.unpackbits(np.frombuffer(self.replace, dtype=np.uint8), count=n).astype(bool)
        idx = np.flatnonzero(do)
        picked = entries if len(idx) == n else entries.take(idx.tolist())
        ins, outs = split_blob(picked.blob)
        mine = frozenset(np.flatnonzero(replace[idx]).tolist())
        t = self.target
        return FileBatch(PackedNames(t.src_dir, ins), PackedNames(t.out_dir, outs), (self.limit,) * len(idx), mine)
