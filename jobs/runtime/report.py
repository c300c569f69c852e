"""What a job did: per-file outcomes, column by column, and the report a job returns.

A task returns an :class:`Outcomes` for the files it handled: numpy columns of
status codes and figures, and reasons only for the files that need one, so a
million files cost a few megabytes, not a million objects.  :class:`Report` joins
the outcomes of every task with those settled while planning, and gives the
summary figures, the exit status and, file by file, :class:`FileResult` objects.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["STATUSES", "FileResult", "Outcomes", "Report", "summarize"]

#: Outcome of a file: done, left alone (its output exists), failed, or decoded to other pixels (verify).
STATUSES = ("ok", "skipped", "failed", "mismatch")
_CODE = {s: np.uint8(i) for i, s in enumerate(STATUSES)}
_DEFAULT_REASON = {"skipped": "output exists (use --overwrite to replace it)"}


@dataclass(frozen=True)
class FileResult:
    """What happened to one file.

    Attributes
    ----------
    src : str
        Input file.
    dst : str or None
        Output file (for ``verify``, the ``.rle`` compared).
    status : str
        One of :data:`STATUSES`.
    reason : str
        Why it failed, mismatched or was skipped, for people; names the file.
    pixels, bytes_in, bytes_out : int
        Pixels processed and file sizes, for the summary.
    details : dict
        Job-specific facts (mismatch counts and positions for ``verify``).
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
        The inputs (a :class:`~jobs.runtime.files.Names` or a list of paths).
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
        "out_mtime",
        "out_size",
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
        #: The size and modification time (ns) of the output a task wrote, taken right after its rename
        #: (:class:`~jobs.runtime.files.BatchWriter`); -1 where not taken (a finish stats those itself).
        self.out_size = np.full(n, -1, dtype=np.int64)
        self.out_mtime = np.full(n, -1, dtype=np.int64)

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

    def output_stamp(self, i: int) -> str | None:
        """The stamp of file ``i``'s output as its task wrote it (:func:`~jobs.runtime.stamps.stat_stamp`), or None."""
        from jobs.runtime.stamps import stat_stamp

        mtime = getattr(self, "out_mtime", None)  # None: made by an older imgjobs (a mixed cluster)
        if mtime is None or mtime[i] < 0:
            return None
        return stat_stamp(int(self.out_size[i]), int(mtime[i]))

    def fail(self, i: int, reason: str) -> None:
        """Record that file ``i`` failed, and why (the reason names the file)."""
        self.set(i, "failed", reason)

    def result(self, i: int) -> FileResult:
        """File ``i`` as a :class:`FileResult`."""
        status = STATUSES[self.status[i]]
        src = self.src[i]
        reason = self.reasons.get(i) or self.reasons.get(-1) or _DEFAULT_REASON.get(status, "")
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


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Report:
    """What a job did: every file's outcome, the summary figures and, for resize, the batch.

    Attributes
    ----------
    job : str
        ``compress``, ``decompress``, ``verify`` or ``resize``.
    outcomes : list of Outcomes
        Per-file outcomes, one group per task plus those settled while planning.
    seconds : float
        Wall time from the first task to the end of the finishing step.
    scheduler : str
        Where it ran, for people.
    output : str or None
        resize: the batch file or store.
    sidecar : dict or None
        resize: what the sidecar JSON next to the batch records.
    up_to_date : str or None
        resize: why a rerun had nothing to do (the output already holds this job).
    tasks : int or None
        Tasks the run computed (for the exercise executors: calls, one per image);
        None when unknown (a graph computed elsewhere).
    """

    def __init__(self, job: str, outcomes: list, seconds: float, *, scheduler: str = "", output=None, sidecar=None):
        self.job = job
        self.outcomes = [o for o in outcomes if len(o)]
        self.seconds = float(seconds)
        self.scheduler = scheduler
        self.output = output
        self.sidecar = sidecar
        self.up_to_date: str | None = None
        self.tasks: int | None = None

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
                why = o.reasons.get(-1) or _DEFAULT_REASON.get(status, "")
                counts[why] = counts.get(why, 0) + shared
            for i in own:
                counts[o.reasons[i]] = counts.get(o.reasons[i], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    @property
    def problems(self) -> list:
        """Files that failed or mismatched, as :class:`FileResult`."""
        return [r for o in self.outcomes for r in o.problems()]

    # -- resize

    @property
    def array(self):
        """resize: the batch, opened read-only (a memory-mapped ``numpy`` array or a zarr array)."""
        if self.output is None:
            raise AttributeError(f"a {self.job} job writes no batch")
        self._not_shards("array")
        if self.output.endswith(".zarr"):
            import zarr

            return zarr.open_array(self.output, path="images", mode="r")
        return np.load(self.output, mmap_mode="r")

    @property
    def labels(self):
        """resize: the int64 label of every image (-1 where the image failed), or None without labels."""
        if self.output is None:
            raise AttributeError(f"a {self.job} job writes no batch")
        about = (self.sidecar or {}).get("labels")
        if not about:
            return None
        self._not_shards("labels")
        if self.output.endswith(".zarr"):
            import zarr

            return zarr.open_array(self.output, path="labels", mode="r")[:]
        from jobs.resize_job.state import labels_path

        name = about.get("file") if isinstance(about, dict) else None
        path = labels_path(self.output)
        if name != os.path.basename(path):  # a sidecar never sends us elsewhere
            raise ValueError(f"{self.output}'s sidecar names labels {name!r}, not {os.path.basename(path)}")
        return np.load(path, allow_pickle=False)

    def _not_shards(self, what: str) -> None:
        if self.output is not None and self.output.endswith(".wds"):
            shards = (self.sidecar or {}).get("shards")
            shards = shards if isinstance(shards, dict) else {}
            raise ValueError(
                f"{self.output} holds WebDataset tar shards, not one array: read its images and labels with "
                f"webdataset.WebDataset({shards.get('url', self.output)!r}) or tarfile (report.{what} is for "
                ".npy and .zarr batches)"
            )

    @property
    def classes(self):
        """resize: class names, index -> name (None without labels, or when the labels were whole numbers)."""
        about = (self.sidecar or {}).get("labels")
        return about.get("classes") if about else None

    # -- text

    def to_dict(self) -> dict:
        """The report as plain data (JSON-ready): the summary figures and every file's outcome.

        ``imgjobs JOB ... --report FILE.json`` writes exactly this, so a script reads
        what Python's :class:`Report` holds instead of parsing the command's text.
        A resize report adds ``batch``: what its sidecar says of the batch (shape,
        resize settings, labels, shards, library versions, timing), without the
        per-image lists that ``files`` already holds.
        """
        extra = {}
        if self.job == "resize":
            sidecar = self.sidecar or {}
            extra["batch"] = {k: v for k, v in sidecar.items() if k not in ("files", "stamps", "failed")} or None
            extra["sidecar"] = None if self.output is None else self.output + ".json"
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
            "summary": self.summary(),
            **extra,
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

    def summary(self) -> str:
        """A paragraph for people: files, pixels, bytes, ratio, time and speed."""
        if self.job == "resize":
            n = len(self)
            if self.up_to_date:
                return f"resize: {n} image(s): nothing to do\n  {self.up_to_date}"
            failed = self.counts.get("failed", 0)
            timing = (self.sidecar or {}).get("timing") or {}
            resumed = timing.get("resumed_images") or 0
            rate = (n - resumed) / self.seconds if self.seconds > 0 else float("inf")
            shape = "x".join(map(str, self.sidecar["shape"])) if self.sidecar else "?"
            side = self.output + ".json"
            held = f"({shape}) uint8"
            shards = (self.sidecar or {}).get("shards")
            if isinstance(shards, dict) and "count" in shards and "url" in shards:
                held = f"{shards['count']} shard(s) {shards['url']} of ({shape[shape.index('x') + 1 :]}) uint8 samples"
            lines = [
                f"resize: {n} image(s), {n - failed} ok, {failed} failed, in {self.seconds:.2f} s = "
                f"{rate:.0f} images/s",
                f"  {self.output}: {held}; sidecar {side}",
            ]
            if resumed:
                lines.insert(1, f"  resumed: {resumed} image(s) were finished by an earlier run, {n - resumed} now")
            about = (self.sidecar or {}).get("labels")
            if about:
                classes = about.get("classes")
                kinds = f"{len(classes)} classes" if classes else "whole-number labels"
                lines.append(f"  labels ({kinds}, from {about['from']}): {about['file'] or 'each sample .cls'}")
            return "\n".join(lines)
        return summarize(self.job, self, self.seconds)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        where = f", output={self.output!r}" if self.output else ""
        return f"<Report {self.job}: {len(self)} file(s): {counts or 'nothing to do'} in {self.seconds:.2f} s{where}>"


def summarize(job: str, report: Report, seconds: float) -> str:
    """One paragraph for the end of an RLE job: files, pixels, bytes, ratio, time and speed."""
    counts = report.counts
    parts = ", ".join(f"{counts[k]} {k}" for k in ("ok", "mismatch", "skipped", "failed") if counts.get(k))
    lines = [f"{job}: {len(report)} file(s): {parts or 'nothing to do'}"]
    if counts.get("skipped"):
        why = report.reasons("skipped")
        lines += [f"  {n} skipped: {reason}" for reason, n in list(why.items())[:3]]
        if len(why) > 3:
            lines.append(f"  {sum(list(why.values())[3:])} skipped for other reasons (the report lists each)")
    pixels = report.pixels
    if pixels:
        mpx = pixels / 1e6
        speed = mpx / seconds if seconds > 0 else float("inf")
        line = f"  {mpx:.1f} MPixel in {seconds:.2f} s = {speed:.0f} MPixel/s"
        bytes_in, bytes_out = report.bytes_in, report.bytes_out
        if bytes_out:
            line += f"; {_size(bytes_in)} in, {_size(bytes_out)} out (ratio {bytes_in / bytes_out:.1f}x)"
        lines.append(line)
    else:
        lines.append(f"  {seconds:.2f} s")
    return "\n".join(lines)
