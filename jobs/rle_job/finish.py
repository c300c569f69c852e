"""How an RLE job finishes: record what each output was made from, sweep temporaries, report."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from jobs.errors import StalePlan
from jobs.rle_job.journal import fold, parts
from jobs.rle_job.manifest import records_of
from jobs.rle_job.report import RleReport
from jobs.runtime.engine import Finish
from jobs.runtime.listfile import ListFile
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

        The manifest (:data:`jobs.rle_job.manifest.MANIFEST`) gets the records
        the run's tasks wrote as they finished (:mod:`jobs.rle_job.journal`):
        for every output made, its input's name and stamp as its task read it and
        its own stamp as its task wrote it, so a rerun tells a changed input (or
        output) by its stamp, not by times.  Every other record is kept: one of
        an output that failed to be made again still describes the file there.
        """
        if self.out_dir is not None:
            if self.sweep:  # else no task ran, and none wrote a record
                self._record()
            self._forget_work()
            if self.sweep:
                sweep_temporaries(self.out_dir, token=self.token, stale=self.stale)
        return RleReport(self.job, outcomes, seconds, scheduler=scheduler)

    def _record(self) -> None:
        """Fold the records the run's tasks wrote (:mod:`jobs.rle_job.journal`) into the manifest."""
        assert self.out_dir is not None  # only jobs that write record what they made
        found = parts(self.out_dir, warn=False)
        if not found:
            return  # nothing made, nothing new to record: a rerun of a finished directory writes nothing
        old = self.records
        if old is not None:
            try:
                os.close(old.open())
            except StalePlan:  # changed since planned (by hand: the run holds the lock): merge into it as it is now
                log.warning("%s changed while this run wrote: merging into it as it is now", old.path)
                old = records_of(self.out_dir, self.token)
        fold(self.out_dir, self.token, old, found)

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
