"""How an RLE job finishes: record what each output was made from, sweep temporaries, report."""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobs.rle_job.manifest import read_manifest, write_manifest
from jobs.rle_job.report import RleReport
from jobs.runtime.engine import Finish
from jobs.runtime.listing import Names
from jobs.runtime.report import STATUSES
from jobs.runtime.stamps import of_output
from jobs.runtime.temporaries import sweep_temporaries

__all__ = ["RleFinish"]


@dataclass(frozen=True)
class RleFinish(Finish):
    """Finishing an RLE job: sweep the output directory once, then report.

    Attributes
    ----------
    job : str
        The job's name.
    token : str
        This run's token: its temporaries are swept at the end and on abort.
    out_dir : str or None
        The output directory (None for ``verify``).
    stale : tuple of str
        Temporaries found there while planning (left by a killed run).
    """

    job: str
    token: str
    out_dir: str | None = None
    stale: tuple = ()
    stamps: tuple = ()
    adopt: tuple = ()

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> RleReport:
        """Record what each output was made from; remove temporaries (one listing); build the report.

        The manifest (:data:`jobs.rle_job.manifest.MANIFEST`) gets, for every output made or
        found current, its input's stamp as planned and its own stamp as its task
        wrote it (or now, for one whose task took none), so a
        rerun tells a changed input (or output) by its stamp, not by times
        alone; a failed output's entry goes.
        """
        if self.out_dir is not None:
            self._record(outcomes)
            sweep_temporaries(self.out_dir, token=self.token, stale=self.stale)
        return RleReport(self.job, outcomes, seconds, scheduler=scheduler)

    def _record(self, outcomes: list) -> None:
        assert self.out_dir is not None  # only jobs that write record what they made
        if not self.stamps and not self.adopt:
            return  # nothing made, nothing new to record: a rerun of a finished directory writes nothing
        planned = dict(self.stamps)
        manifest = read_manifest(self.out_dir)
        manifest.update(self.adopt)
        ok, skipped = STATUSES.index("ok"), STATUSES.index("skipped")
        for o in outcomes:
            if o.dst is None or not planned or (o.status == skipped).all():
                continue  # only the outcomes of what this run made (or failed to make)
            made = (o.status == ok).tolist()
            for i, name in enumerate(o.dst.basenames() if isinstance(o.dst, Names) else map(os.path.basename, o.dst)):
                source = planned.get(name)
                if source is None:
                    continue  # settled while planning (skipped, or failed before any task)
                if made[i]:  # the stamp its task took right after the rename, else the output's now
                    manifest[name] = f"{source}|{o.output_stamp(i) or of_output(o.dst[i])}"
                else:
                    manifest.pop(name, None)
        write_manifest(self.out_dir, manifest, self.token)

    def abort(self) -> None:
        """Remove this run's temporaries (one listing)."""
        if self.out_dir is not None:
            sweep_temporaries(self.out_dir, token=self.token)

    @property
    def lock_dir(self) -> str | None:
        """The output directory, whose lock the run holds (None for ``verify``)."""
        return self.out_dir
