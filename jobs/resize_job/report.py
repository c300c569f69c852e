"""The resize job's report: the batch it wrote, opened as users open it, and its summary."""

from __future__ import annotations

import os

import numpy as np

from jobs.resize_job.paths import labels_path, sidecar_path
from jobs.runtime.report import Outcomes, Report

__all__ = ["ResizeReport", "up_to_date_report"]


class ResizeReport(Report):
    """What ``resize`` did: a :class:`~jobs.runtime.report.Report` with the batch, its labels and its sidecar.

    Attributes
    ----------
    output : str
        The batch: a ``.npy`` file, a ``.zarr`` store or a ``.wds`` directory of shards.
    sidecar : dict or None
        What the sidecar JSON next to the batch records.
    """

    def __init__(self, outcomes: list, seconds: float, *, scheduler: str = "", output=None, sidecar=None):
        super().__init__("resize", outcomes, seconds, scheduler=scheduler, output=output)
        self.sidecar = sidecar

    @property
    def array(self):
        """The batch, opened read-only (a memory-mapped ``numpy`` array or a zarr array)."""
        self._not_shards("array")
        if self.output is None:
            raise AttributeError("this report names no batch")
        if self.output.endswith(".zarr"):
            import zarr  # optional extra: zarr

            return zarr.open_array(self.output, path="images", mode="r")
        return np.load(self.output, mmap_mode="r")

    @property
    def labels(self):
        """The int64 label of every image (-1 where the image failed), or None without labels."""
        about = (self.sidecar or {}).get("labels")
        if not about:
            return None
        self._not_shards("labels")
        if self.output is None:
            raise AttributeError("this report names no batch")
        if self.output.endswith(".zarr"):
            import zarr  # optional extra: zarr

            return zarr.open_array(self.output, path="labels", mode="r")[:]
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
        """Class names, index -> name (None without labels, or when the labels were whole numbers)."""
        about = (self.sidecar or {}).get("labels")
        return about.get("classes") if about else None

    def extra(self) -> dict:
        """``batch``: what the sidecar says of the batch (shape, resize settings, labels, shards, library
        versions, timing), without the per-image lists that ``files`` holds; and the sidecar's path."""
        sidecar = self.sidecar or {}
        return {
            "batch": {k: v for k, v in sidecar.items() if k not in ("files", "stamps", "failed")} or None,
            "sidecar": None if self.output is None else sidecar_path(self.output),
        }

    def summary(self) -> str:
        """A paragraph for people: images, failures, speed, the batch and its labels."""
        n = len(self)
        mirrored = self.mirror_line()
        if self.up_to_date:
            return f"resize: {n} image(s): nothing to do\n  {self.up_to_date}{mirrored}"
        failed = self.counts.get("failed", 0)
        timing = (self.sidecar or {}).get("timing") or {}
        resumed = timing.get("resumed_images") or 0
        rate = (n - resumed) / self.seconds if self.seconds > 0 else float("inf")
        shape = "x".join(map(str, self.sidecar["shape"])) if self.sidecar else "?"
        held = f"({shape}) uint8"
        shards = (self.sidecar or {}).get("shards")
        if isinstance(shards, dict) and "count" in shards and "url" in shards:
            held = f"{shards['count']} shard(s) {shards['url']} of ({shape[shape.index('x') + 1 :]}) uint8 samples"
        lines = [
            f"resize: {n} image(s), {n - failed} ok, {failed} failed, in {self.seconds:.2f} s = {rate:.0f} images/s",
            f"  {self.output}: {held}; sidecar {sidecar_path(self.output)}",
        ]
        if resumed:
            lines.insert(1, f"  resumed: {resumed} image(s) were finished by an earlier run, {n - resumed} now")
        about = (self.sidecar or {}).get("labels")
        if about:
            classes = about.get("classes")
            kinds = f"{len(classes)} classes" if classes else "whole-number labels"
            lines.append(f"  labels ({kinds}, from {about['from']}): {about['file'] or 'each sample .cls'}")
        return "\n".join(lines) + mirrored


def up_to_date_report(out: str, paths, sidecar: dict) -> ResizeReport:
    """The report of a rerun over a batch that already holds this very job: every image skipped, but those
    that failed when it was built, which fail again, by name, with their reason (a rerun exits 1 as the run
    did: ``imgjobs resize ... && train`` does not go on over their all-zero rows)."""
    failed = len(sidecar["failed"])
    note = f"{out} is up to date (use --overwrite to rebuild it)"
    outcomes = Outcomes(paths, status="skipped", reason=note)
    for f in sidecar["failed"]:  # checked: an index of the batch and a reason (jobs.resize_job.sidecar)
        outcomes.fail(f["index"], f"{f['reason']} (when {out} was built; mend it, then rerun)")
    report = ResizeReport([outcomes], 0.0, scheduler="nothing to do", output=out, sidecar=sidecar)
    report.up_to_date = f"{note}; {failed} image(s) failed when it was built" if failed else note
    return report
