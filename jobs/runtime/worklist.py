"""A run's work list: the entries a plan hands its tasks, written once, read by each task a range at a time.

A job over a directory of millions of files must not put their names in its
graph (tens of megabytes a million) nor keep them on the client.  So a plan
writes the entries it hands to tasks (file names, in the order it chose) once,
into a hidden temporary of its run in the output directory
(:func:`write_worklist`), and keeps only where each entry starts: a column of
byte offsets, 8 bytes an entry.  A task carries a :class:`WorkRange` and reads
its own entries; the file is checked to be the one written
(:class:`~jobs.runtime.listfile.ListFile`: size, times, inode), so a task never
reads another's list.  Being one of the run's temporaries
(:func:`~jobs.runtime.temporaries.temp_path`), it goes with them when the run
ends or aborts.

An entry is a byte string without NUL; each is ended by one NUL.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> work = write_worklist(d, "0123456789ab", [b"a.png", b"b.png", b"c.png"])
>>> len(work), work.range(1, 3).entries()
(3, [b'b.png', b'c.png'])
>>> os.remove(work.listed.path); os.rmdir(d)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from jobs.errors import StalePlan, UsageError
from jobs.runtime.listfile import ListFile
from jobs.runtime.temporaries import temp_path

__all__ = ["WORKLIST", "WorkList", "WorkRange", "write_worklist"]

#: The name a run's work list stands for (its file is this name's temporary: ``.imgjobs-worklist.<token>-list...``).
WORKLIST = "imgjobs-worklist"

#: Entries joined for one ``write``.
_CHUNK_ENTRIES = 1 << 16


@dataclass(frozen=True)
class WorkRange:
    """Entries ``first .. first + count`` of a work list: bytes ``begin .. end`` of its file.

    Small and picklable: what a task carries instead of the entries.
    """

    listed: ListFile
    begin: int
    end: int
    first: int
    count: int

    def blob(self) -> bytes:
        """The range's bytes: its entries, each ended by a NUL (:class:`StalePlan` if the list is not as written)."""
        try:
            data = self.listed.read(max(0, self.begin - 1), self.end)  # and the NUL that ends the entry before
        except UsageError:  # gone: the run it belongs to ended (a graph computed twice), or another run swept it
            raise StalePlan(
                f"{self.listed.path} is gone: the run it was written for has ended, or another run there removed "
                "it; plan the job again"
            ) from None
        if self.begin:
            data, before = data[1:], data[:1]
        else:
            before = b"\0"
        if before != b"\0" or data.count(b"\0") != self.count or (data and not data.endswith(b"\0")):
            raise StalePlan(
                f"{self.listed.path}: bytes {self.begin}..{self.end} do not hold the {self.count} entries planned: "
                "plan the job again"
            )
        return data

    def entries(self) -> list[bytes]:
        """The range's entries, in order."""
        return self.blob().split(b"\0")[:-1]


@dataclass(frozen=True)
class WorkList:
    """A written work list: the file (as written) and where each entry starts (``offsets[n]``: the end)."""

    listed: ListFile
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def range(self, a: int, b: int) -> WorkRange:
        """Entries ``a .. b`` as a task carries them."""
        return WorkRange(self.listed, int(self.offsets[a]), int(self.offsets[b]), a, b - a)

    def select(self, mask: np.ndarray) -> bytes:
        """The entries where ``mask`` (a bool per entry) is true, each ended by a NUL: one read of the list."""
        data = WorkRange(self.listed, 0, int(self.offsets[-1]), 0, len(self)).blob()
        if mask.all():
            return data
        keep = np.repeat(mask, np.diff(self.offsets))
        return np.frombuffer(data, dtype=np.uint8)[keep].tobytes()


def write_worklist(directory: str, token: str, entries: list[bytes]) -> WorkList:
    """Write ``entries`` (bytes without NUL) as run ``token``'s work list in ``directory``.

    Raises ValueError for an entry holding a NUL (it would split in two).
    """
    path = temp_path(os.path.join(directory or ".", WORKLIST), token, "list")
    offsets = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, entries), dtype=np.int64, count=len(entries)) + 1, out=offsets[1:])
    with open(path, "xb") as f:
        for a in range(0, len(entries), _CHUNK_ENTRIES):
            part = b"\0".join(entries[a : a + _CHUNK_ENTRIES]) + b"\0"
            if part.count(b"\0") != len(entries[a : a + _CHUNK_ENTRIES]):
                os.remove(path)
                raise ValueError("a work list entry holds a NUL")
            f.write(part)
    return WorkList(ListFile.of(path), offsets)
