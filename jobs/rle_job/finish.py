"""How an RLE job finishes: record what each output was made from, sweep temporaries, report."""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from jobs.errors import StalePlan
from jobs.rle_job.manifest import key, record, records_of, write_manifest
from jobs.rle_job.report import RleReport
from jobs.runtime.engine import Finish
from jobs.runtime.listfile import ListFile
from jobs.runtime.listing import PackedNames
from jobs.runtime.report import STATUSES, Outcomes
from jobs.runtime.stamps import of_output, stat_stamp_bytes
from jobs.runtime.temporaries import is_temporary, sweep_temporaries

__all__ = ["RleFinish"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RleFinish(Finish):
    """Finishing an RLE job: record what the run made, sweep the output directory once, then report.

    Attributes
    ----------
    job : str
        The job's name.
    token : str
        This run's token: its temporaries (the work list among them) are swept at the end and on abort.
    out_dir : str or None
        The output directory (None for ``verify``).
    stale : tuple of str
        Temporaries found there while planning (left by a killed run).
    records : ListFile or None
        The manifest as planned (:func:`jobs.rle_job.manifest.records_of`): what the run made is merged into it.
    work : str or None
        The run's work list (:mod:`jobs.runtime.worklist`), removed first (the sweep then finds only what a
        lost worker or a killed run left).
    sweep : bool
        Whether the output directory is listed for temporaries at the end: not when the plan found none
        there and gave no task (a rerun with nothing to do lists a directory of a million files once).
    """

    job: str
    token: str
    out_dir: str | None = None
    stale: tuple = ()
    records: ListFile | None = None
    work: str | None = None
    sweep: bool = True

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> RleReport:
        """Record what each output made by this run was made from; remove temporaries (one listing); report.

        The manifest (:data:`jobs.rle_job.manifest.MANIFEST`) gets, for every
        output made, its input's name and stamp as its task read it and its own
        stamp as its task wrote it, so a rerun tells a changed input (or output)
        by its stamp, not by times alone.  Every other record is kept: one of an
        output that failed to be made again still describes the file there.
        """
        if self.out_dir is not None:
            self._record(outcomes)
            self._forget_work()
            if self.sweep:
                sweep_temporaries(self.out_dir, token=self.token, stale=self.stale)
        return RleReport(self.job, outcomes, seconds, scheduler=scheduler)

    def _record(self, outcomes: list) -> None:
        assert self.out_dir is not None  # only jobs that write record what they made
        ok = STATUSES.index("ok")
        made = [(o, np.flatnonzero(o.status == ok)) for o in outcomes if o.dst is not None]
        made = [(o, idx) for o, idx in made if len(idx)]
        if not made:
            return  # nothing made, nothing new to record: a rerun of a finished directory writes nothing
        old = self.records
        if old is not None:
            try:
                os.close(old.open())
            except StalePlan:  # changed since planned (by hand: the run holds the lock): merge into it as it is now
                log.warning("%s changed while this run wrote: merging into it as it is now", old.path)
                old = records_of(self.out_dir, self.token)
        write_manifest(self.out_dir, self.token, old, _in_order(made))

    def _forget_work(self) -> None:
        for path in (self.work, self.records.path if self.records is not None else None):
            if path is not None and is_temporary(os.path.basename(path)):  # the list, a converted record
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)

    def abort(self) -> None:
        """Remove this run's temporaries (one listing)."""
        if self.out_dir is not None:
            self._forget_work()
            sweep_temporaries(self.out_dir, token=self.token)

    @property
    def lock_dir(self) -> str | None:
        """The output directory, whose lock the run holds (None for ``verify``)."""
        return self.out_dir


def _in_order(made: list) -> Iterator[tuple[bytes, bytes]]:
    """The records of every task's outputs in key order, one task's at a time where tasks do not interleave.

    A batch's outputs are a range of the work list, in its order; only the one-file outcomes of a large
    file's last task fall inside a batch's range.  So runs are ordered by their first key and chained, and
    only runs that overlap are merged: a million records never wait in memory at once.
    """
    spans = sorted(
        (key(_name_at(o.dst, int(idx[0]))), key(_name_at(o.dst, int(idx[-1]))), k) for k, (o, idx) in enumerate(made)
    )
    group: list = []
    end = b""
    for first, last, k in spans:
        if group and first > end:
            yield from heapq.merge(*(_made(*made[j]) for j in group))
            group = []
        group.append(k)
        end = max(end, last) if len(group) > 1 else last
    if group:
        yield from heapq.merge(*(_made(*made[j]) for j in group))


def _name_at(paths, i: int) -> bytes:
    """The file name of path ``i``, as the file system holds it (no list of every path made)."""
    if isinstance(paths, PackedNames) and paths.suffix is None:
        return os.fsencode(paths.name(i))
    return os.fsencode(os.path.basename(paths[i]))


def _made(o: Outcomes, made: np.ndarray) -> Iterator[tuple[bytes, bytes]]:
    """The records of the outputs a task made, as ``(key, record)``: in its order, the work list's, by key."""
    in_mtime = getattr(o, "in_mtime", None)  # None: made by an older imgjobs (a mixed cluster): no stamps
    if in_mtime is None or o.dst is None:
        return
    ins, outs = _names(o.src), _names(o.dst)
    size, mtime = o.bytes_in.tolist(), in_mtime.tolist()
    out_size, out_mtime = o.out_size.tolist(), o.out_mtime.tolist()
    for i in made.tolist():
        if mtime[i] < 0:
            continue  # its task took no stamp of what it read: no record, judged by its times
        if out_mtime[i] >= 0:
            written = stat_stamp_bytes(out_size[i], out_mtime[i])
        else:  # a task that took no stamp of its output: the output's now
            written = of_output(o.dst[i]).encode()
        yield key(outs[i]), record(outs[i], ins[i], stat_stamp_bytes(size[i], mtime[i]), written)


def _names(paths) -> list[bytes]:
    """The file names of ``paths`` as the file system holds them (a packed blob split at once)."""
    if isinstance(paths, PackedNames) and paths.suffix is None:
        return paths.blob.split(b"\0")[:-1]
    return [os.fsencode(os.path.basename(p)) for p in paths]
