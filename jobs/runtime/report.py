"""What a job did: per-file outcomes, column by column, and the report a job returns.

A task returns an :class:`Outcomes` for the files it handled: numpy columns of
status codes and figures, and reasons only for the files that need one, so a
million files cost a few megabytes, not a million objects.  :class:`Report` joins
the outcomes of every task with those settled while planning, and gives the
summary figures, the exit status and, file by file, :class:`FileResult` objects.
A job whose report says more (a batch, a CSV) subclasses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from jobs.runtime.mirror import Mirrored

__all__ = ["STATUSES", "FileResult", "Outcomes", "Report", "Usage", "size_text"]

#: Outcome of a file: done, left alone (its output is current), failed, or found to differ (a job that compares).
STATUSES = ("ok", "skipped", "failed", "mismatch")
_CODE = {s: np.uint8(i) for i, s in enumerate(STATUSES)}


@dataclass(frozen=True)
class FileResult:
    """What happened to one file.

    Attributes
    ----------
    src : str
        Input file.
    dst : str or None
        Output file (for a job that compares, the file compared).
    status : str
        One of :data:`STATUSES`.
    reason : str
        Why it failed, mismatched or was skipped, for people; names the file.
    pixels, bytes_in, bytes_out : int
        Pixels processed and file sizes, for the summary.
    details : dict
        Job-specific facts (where a file differs, for a job that compares).
    """

    src: str
    dst: str | None
    status: str
    reason: str = ""
    pixels: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True unless the file failed or mismatched."""
        return self.status in ("ok", "skipped")


class Outcomes:
    """Outcomes of a group of files, a column per figure.

    Parameters
    ----------
    src : sequence of str
        The inputs (a :class:`~jobs.runtime.listing.Names` or a list of paths).
    dst : sequence of str, optional
        Their outputs, index for index.
    status : str
        The status every file starts with.
    reason : str, optional
        A reason shared by every file (e.g. why all were skipped).
    """

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "details",
        "dst",
        "pixels",
        "reasons",
        "src",
        "status",
    )

    def __init__(self, src: Sequence, dst: Sequence | None = None, status: str = "ok", reason: str = ""):
        n = len(src)
        self.src = src
        self.dst = dst
        self.status = np.full(n, _CODE[status], dtype=np.uint8)
        self.pixels = np.zeros(n, dtype=np.int64)
        self.bytes_in = np.zeros(n, dtype=np.int64)
        self.bytes_out = np.zeros(n, dtype=np.int64)
        self.reasons: dict = {-1: reason} if reason else {}  # -1: the reason shared by every file
        self.details: dict = {}

    def __len__(self) -> int:
        return self.status.size

    def set(self, i: int, status: str, reason: str = "", *, pixels=0, bytes_in=0, bytes_out=0, details=None):
        """Record file ``i``'s outcome."""
        self.status[i] = _CODE[status]
        self.pixels[i] = pixels
        self.bytes_in[i] = bytes_in
        self.bytes_out[i] = bytes_out
        if reason:
            self.reasons[i] = reason
        if details:
            self.details[i] = details

    def fail(self, i: int, reason: str) -> None:
        """Record that file ``i`` failed, and why (the reason names the file)."""
        self.set(i, "failed", reason)

    def result(self, i: int) -> FileResult:
        """File ``i`` as a :class:`FileResult`."""
        status = STATUSES[self.status[i]]
        src = self.src[i]
        reason = self.reasons.get(i) or self.reasons.get(-1) or ""
        if reason and status in ("failed", "mismatch") and src not in reason:
            reason = f"{src}: {reason}"
        return FileResult(
            src,
            None if self.dst is None else self.dst[i],
            status,
            reason,
            int(self.pixels[i]),
            int(self.bytes_in[i]),
            int(self.bytes_out[i]),
            self.details.get(i, {}),
        )

    def __iter__(self) -> Iterator[FileResult]:
        return (self.result(i) for i in range(len(self)))

    def counts(self) -> np.ndarray:
        """Files per status, in the order of :data:`STATUSES`."""
        return np.bincount(self.status, minlength=len(STATUSES))

    def problems(self) -> Iterator[FileResult]:
        """Files that failed or mismatched."""
        bad = np.flatnonzero((self.status == _CODE["failed"]) | (self.status == _CODE["mismatch"]))
        return (self.result(int(i)) for i in bad)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in zip(STATUSES, self.counts().tolist(), strict=True) if n)
        return f"<Outcomes of {len(self)} file(s): {counts or 'none'}>"


def size_text(n: float) -> str:
    """A size in bytes for people: ``912 B``, ``1.2 MB`` (powers of 1000)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


@dataclass(frozen=True)
class Usage:
    """Something a run used, counted by where it ran (a batch-system cluster counts its jobs); the runtime
    carries it into the report without knowing what it is.

    Attributes
    ----------
    what : str
        What was counted, for people (``batch jobs``); with ``_`` for spaces, its key in :meth:`Report.to_dict`.
    most : int
        The most at once.
    total : int
        How many in all.
    """

    what: str
    most: int
    total: int

    def line(self) -> str:
        """A line of the summary: ``  batch jobs: 4 at most at once, 6 in all``."""
        return f"  {self.what}: {self.most} at most at once, {self.total} in all"


class Report:
    """What a job did: every file's outcome and the summary figures.

    Attributes
    ----------
    job : str
        The job's name.
    outcomes : list of Outcomes
        Per-file outcomes, one group per task plus those settled while planning.
    seconds : float
        Wall time from the first task to the end of the finishing step.
    scheduler : str
        Where it ran, for people.
    output : str or None
        The one output a job writes, when it writes one (a batch, a CSV).
    up_to_date : str or None
        Why a rerun had nothing to do (the output already holds this job).
    tasks : int or None
        Tasks the run computed (for a job's own executors: calls, one per file);
        None when unknown (a graph computed elsewhere).
    usage : list of Usage
        What the run used that where it ran counted (a batch-system cluster: its jobs).
    mirrored : jobs.runtime.mirror.Mirrored or None
        An output at a URL: what mirroring it into the store did (objects uploaded, kept, removed).
    """

    def __init__(self, job: str, outcomes: list, seconds: float, *, scheduler: str = "", output=None):
        self.job = job
        self.outcomes = [o for o in outcomes if len(o)]
        self.seconds = float(seconds)
        self.scheduler = scheduler
        self.output = output
        self.up_to_date: str | None = None
        self.tasks: int | None = None
        self.usage: list[Usage] = []
        self.mirrored: Mirrored | None = None

    def mirror_line(self) -> str:
        """``"\\n  in the store: ..."`` for a summary when the output was mirrored into a store, else ``""``."""
        m = self.mirrored
        if m is None:
            return ""
        return f"\n  in the store: {m.uploaded} object(s) uploaded, {m.kept} already there, {m.removed} removed"

    # -- figures

    @property
    def counts(self) -> dict:
        """Files per status (only statuses that occur)."""
        total = sum((o.counts() for o in self.outcomes), np.zeros(len(STATUSES), dtype=np.int64))
        return {s: int(n) for s, n in zip(STATUSES, total.tolist(), strict=True) if n}

    def _processed_sum(self, column: str) -> int:
        total = 0
        for o in self.outcomes:
            done = (o.status == _CODE["ok"]) | (o.status == _CODE["mismatch"])
            total += int(getattr(o, column)[done].sum())
        return total

    @property
    def pixels(self) -> int:
        """Pixels of the files processed (not skipped or failed)."""
        return self._processed_sum("pixels")

    @property
    def bytes_in(self) -> int:
        """Bytes read from the files processed."""
        return self._processed_sum("bytes_in")

    @property
    def bytes_out(self) -> int:
        """Bytes written."""
        return self._processed_sum("bytes_out")

    def __len__(self) -> int:
        return sum(len(o) for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """True when no file failed or mismatched."""
        c = self.counts
        return not (c.get("failed") or c.get("mismatch"))

    @property
    def exit_code(self) -> int:
        """The CLI's exit status: 0 when every file is fine, 1 otherwise."""
        return 0 if self.ok else 1

    # -- files

    def __iter__(self) -> Iterator[FileResult]:
        for o in self.outcomes:
            yield from o

    @property
    def results(self) -> list:
        """Every file as a :class:`FileResult` (a list; iterate the report to go one at a time)."""
        return list(self)

    def reasons(self, status: str) -> dict:
        """Reason -> how many files have ``status`` for it (e.g. why files were skipped), most first."""
        code = _CODE[status]
        counts: dict[str, int] = {}
        for o in self.outcomes:
            has = o.status == code
            own = [i for i in o.reasons if i >= 0 and has[i]]
            shared = int(has.sum()) - len(own)
            if shared:
                why = o.reasons.get(-1) or ""
                counts[why] = counts.get(why, 0) + shared
            for i in own:
                counts[o.reasons[i]] = counts.get(o.reasons[i], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    @property
    def problems(self) -> list:
        """Files that failed or mismatched, as :class:`FileResult`."""
        return [r for o in self.outcomes for r in o.problems()]

    # -- text

    def extra(self) -> dict:
        """What this job's report adds to :meth:`to_dict` (nothing here; a job's own report type adds its own)."""
        return {}

    def to_dict(self) -> dict:
        """The report as plain data (JSON-ready): the summary figures and every file's outcome.

        ``imgjobs JOB ... --report FILE.json`` writes exactly this, so a script reads
        what Python's :class:`Report` holds instead of parsing the command's text.
        A job's own report type adds its keys (:meth:`extra`) before ``files``.
        """
        return {
            "job": self.job,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "seconds": self.seconds,
            "pixels": self.pixels,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "tasks": self.tasks,
            "scheduler": self.scheduler,
            "output": self.output,
            "up_to_date": self.up_to_date,
            "usage": {u.what.replace(" ", "_"): {"most_at_once": u.most, "in_all": u.total} for u in self.usage},
            "summary": self.summary(),
            **self.extra(),
            "files": [
                {
                    "src": r.src,
                    "dst": r.dst,
                    "status": r.status,
                    "reason": r.reason,
                    "pixels": r.pixels,
                    "bytes_in": r.bytes_in,
                    "bytes_out": r.bytes_out,
                    **({"details": r.details} if r.details else {}),
                }
                for r in self
            ],
        }

    def counts_line(self) -> str:
        """The summary's first line: ``<job>: 12 file(s): 10 ok, 2 failed``."""
        counts = self.counts
        parts = ", ".join(f"{counts[k]} {k}" for k in ("ok", "mismatch", "skipped", "failed") if counts.get(k))
        return f"{self.job}: {len(self)} file(s): {parts or 'nothing to do'}"

    def skipped_lines(self) -> list[str]:
        """Why files were skipped, the three commonest reasons, for the summary."""
        if not self.counts.get("skipped"):
            return []
        why = self.reasons("skipped")
        lines = [f"  {n} skipped: {reason}" for reason, n in list(why.items())[:3]]
        if len(why) > 3:
            lines.append(f"  {sum(list(why.values())[3:])} skipped for other reasons (the report lists each)")
        return lines

    def summary(self) -> str:
        """A paragraph for people: files by status, why any were skipped, and the time."""
        return "\n".join([self.counts_line(), *self.skipped_lines(), f"  {self.seconds:.2f} s"])

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        where = f", output={self.output!r}" if self.output else ""
        return f"<Report {self.job}: {len(self)} file(s): {counts or 'nothing to do'} in {self.seconds:.2f} s{where}>"
