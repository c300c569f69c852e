"""The stats job's plan: a directory of images -> one task per batch -> a CSV written when all are done."""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass

from jobs.errors import StalePlan, UsageError
from jobs.images import IMAGE_EXTENSIONS
from jobs.runtime.durable import write_atomic
from jobs.runtime.engine import Finish, Plan
from jobs.runtime.listing import Names, list_inputs
from jobs.runtime.places import Place, check_places
from jobs.runtime.report import Report
from jobs.runtime.stamps import out_stamp
from jobs.runtime.temporaries import new_token, sweep_temporaries
from jobs.stats_job.options import StatsOptions
from jobs.stats_job.tasks import COLUMNS, stats_batch

__all__ = ["StatsFinish", "StatsReport", "plan_stats"]

log = logging.getLogger(__name__)


class StatsReport(Report):
    """What ``stats`` did: the images read, and the CSV it wrote."""

    def summary(self) -> str:
        """A paragraph for people: images by status, the CSV, time and speed."""
        rate = len(self) / self.seconds if self.seconds > 0 else float("inf")
        rows = self.counts.get("ok", 0)
        return "\n".join(
            [self.counts_line(), f"  {self.output}: {rows} row(s) in {self.seconds:.2f} s = {rate:.0f} images/s"]
        )


@dataclass(frozen=True)
class StatsFinish(Finish):
    """Write the CSV (through a temporary name and a rename) once every task is done.

    ``expect`` is what was at ``out`` when the job was planned
    (:func:`jobs.runtime.stamps.out_stamp`): a graph computed later, or twice, never
    replaces a file that appeared or changed since (:class:`~jobs.errors.StalePlan`).
    """

    job: str
    out: str
    token: str
    expect: str = "absent"

    @property
    def lock_dir(self) -> str:
        """The CSV's directory: the runtime holds its lock while the job runs."""
        return os.path.dirname(self.out)

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> StatsReport:
        """One row per image that was read, in the directory's sorted order; the report."""
        if out_stamp(self.out) != self.expect:
            raise StalePlan(
                f"{self.out} changed since this job was planned (another run, or a graph computed twice): "
                "plan the job again"
            )
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(("path", *COLUMNS))
        for o in outcomes:
            for i, figures in sorted(o.details.items()):
                writer.writerow((o.src[i], *(figures[c] for c in COLUMNS)))
        # a file name that is not UTF-8 (bytes the OS gave back as surrogates) is written as those bytes
        write_atomic(self.out, [text.getvalue().encode("utf-8", "surrogateescape")], self.token)
        sweep_temporaries(os.path.dirname(self.out), of=os.path.basename(self.out))  # a killed run's
        return StatsReport(self.job, outcomes, seconds, scheduler=scheduler, output=self.out)

    def abort(self) -> None:
        """Remove this run's temporary CSV, if it got that far."""
        sweep_temporaries(os.path.dirname(self.out), token=self.token)


def plan_stats(src, out, opts: StatsOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan the stats of every image in directory ``src`` into the CSV ``out`` (nothing is read yet)."""
    opts = opts or StatsOptions.resolve()
    src, out = os.path.abspath(os.fspath(src)), os.path.abspath(os.fspath(out))
    if not os.path.isdir(src):
        raise UsageError(f"{src}: not a directory of images")
    check_places([Place(out, "the CSV of this job")])  # a directory, link or FIFO there: refused, --overwrite or not
    if os.path.lexists(out) and not opts.overwrite:
        raise UsageError(f"{out} exists: use --overwrite to replace it")
    names = sorted(list_inputs(src, IMAGE_EXTENSIONS).names)
    if os.path.realpath(os.path.dirname(out)) == os.path.realpath(src) and os.path.basename(out) in names:
        raise UsageError(f"{out} is one of the images it reads: --overwrite never writes over an input")
    token = new_token()
    finish = StatsFinish("stats", out, token, out_stamp(out))
    plan = Plan("stats", finish=finish, unit="image", nfiles=len(names), total=len(names))
    step = opts.images_per_task
    for k, start in enumerate(range(0, len(names), step)):
        batch = Names(src, tuple(names[start : start + step]))
        key = f"imgjobs-stats-{token}-{k}"
        plan.graph[key] = (stats_batch, batch, opts.max_pixels)
        plan.outputs.append(key)
        plan.watch[key] = (len(batch), len(batch))
    log.info("stats: %d image(s) in %d task(s) of %d", len(names), len(plan.outputs), step)
    return plan
