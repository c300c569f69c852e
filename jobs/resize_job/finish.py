"""How a resize job finishes (labels, sidecar, rename into place) or is kept to resume."""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jobs.errors import StalePlan, UsageError
from jobs.resize_job import shards, stores
from jobs.resize_job.libraries import library_changes
from jobs.resize_job.options import ResizeOptions
from jobs.resize_job.paths import labels_path, out_stamp, sidecar_path
from jobs.resize_job.records import ours_temporary
from jobs.resize_job.report import ResizeReport
from jobs.resize_job.rerun import slice_stamps, slices_named
from jobs.resize_job.sidecar import SIDECAR_FORMAT, output_stamp
from jobs.resize_job.source import FAILED_LABEL, Source, scan_labelled
from jobs.resize_job.target import ResizeTarget, batch_identity, labels_digest
from jobs.resize_job.tasks import DIMENSIONS
from jobs.runtime.durable import fsync_path, write_atomic
from jobs.runtime.engine import Finish
from jobs.runtime.report import Outcomes
from jobs.runtime.runners import local_map
from jobs.runtime.storage import is_url
from jobs.runtime.temporaries import remove_path, sweep_temporaries

__all__ = ["CurrentFinish", "ResizeFinish"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResizeFinish(Finish):
    """Finishing a resize job: labels, sidecar, rename into place; or keep the work folder to resume."""

    job: str
    token: str
    where: ResizeTarget
    paths: Sequence  # a Names, or a ListedPaths whose slices are ranges of the list
    opts: ResizeOptions
    stale: tuple = ()
    starts: tuple = ()
    todo: tuple = ()
    source: Source | None = None
    resumed: int = 0
    origin: tuple | None = None  # (source, num_images) as given: what recheck reads again
    kept: tuple = ()  # reopening a finished batch: the slices still current (Done)
    published: str | None = None  # an output at a URL, built here in its stage: what the sidecar names

    @property
    def lock_dir(self) -> str:
        """The batch's directory: its lock covers the batch, sidecar, labels and work folder."""
        return os.path.dirname(os.path.abspath(self.where.out))

    def __getstate__(self) -> dict:
        # As a task (a graph of compute=False), the finish carries no path and no label: it reads the source
        # again where it runs (_load), checked to be the one planned.
        return {**self.__dict__, "paths": None, "source": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def _load(self) -> None:
        """Read the source again if this finish came as a task; StalePlan unless it is the one planned."""
        if self.source is not None or self.origin is None:
            return
        w = self.where
        source, num_images = self.origin
        found = scan_labelled(source, num_images, storage=self.opts.storage_options)
        if batch_identity(found, self.opts, w.out) != w.identity or labels_digest(found) != w.labels_id:
            raise StalePlan(f"{self.origin[0]} changed since this job was planned: plan the job again")
        object.__setattr__(self, "source", found)  # frozen: set once, as the plan would have
        object.__setattr__(self, "paths", found.paths)

    def recheck(self) -> None:
        """The source lists the same images and labels, and every image is as the tasks read it, else StalePlan."""
        w = self.where
        self._load()
        done = w.finished()
        now = slice_stamps(
            self.paths, [(d.start, d.stop) for d in done], w.stamp_mode, local_map, self.opts.storage_options
        )
        changed = [(d.start, d.stop) for d, stamp in zip(done, now, strict=True) if stamp != d.stamp]
        if changed:
            raise StalePlan(
                f"images changed since this job was planned or read, in {len(changed)} slice(s) "
                f"({slices_named(self.paths, changed)}): plan the job again"
            )

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> ResizeReport:
        """Write the labels and the sidecar, then move the finished batch into place; return the report.

        What the batch holds is read back from the work folder's records, not
        taken from the plan: every image must be recorded as finished by this
        run (else :class:`~jobs.errors.StalePlan`), and the stamps and failures
        written to the sidecar are those the tasks saw.  The batch is synced
        first, the labels and the sidecar written through temporaries and
        renamed, and only then does the batch get its name: whoever sees the
        batch finds its sidecar.
        """
        w = self.where
        self._load()
        w.check_owner()
        done = w.finished()
        old_shards = None
        if w.wds:
            # a task killed mid-shard left its temporary; its slice was redone
            sweep_temporaries(w.target, every=True, also=lambda name: ours_temporary(name) is not None)
            self._check_shards(done)
            if os.path.isdir(w.out) and not os.path.islink(w.out):
                old_shards = stores.wds_names(w.out)  # what the old store's sidecar names, before it is replaced
            fsync_path(w.target)  # every shard's rename is on disk before the directory gets its name
        if w.kind == "npy":
            fsync_path(w.target)  # every task's slice is on disk before the batch gets its name
        failures, results = [], []
        for d in done:
            o = Outcomes(self.paths[d.start : d.stop])
            for i, reason in d.failed:
                o.fail(i, reason)
                failures.append({"index": d.start + i, "path": o.src[i], "reason": reason})
            results.append(o)
        labels = self._labels(failures)
        made: list = []  # the library versions that made the pixels: one set, unless workers differ
        for d in done:
            libraries = {} if d.libraries is None else d.libraries  # {}: made by a version that did not record them
            if libraries not in made:
                made.append(libraries)
        if len(made) > 1:
            log.warning(
                "%s: its slices were made by %d different sets of library versions (workers or runs with other "
                "installs: %s); the sidecar lists them; --overwrite rebuilds it in one environment",
                w.out,
                len(made),
                "; ".join(", ".join(library_changes(made[0], m)) for m in made[1:]),
            )
        sidecar = {
            "format": SIDECAR_FORMAT,
            "output": self.published or os.path.abspath(w.out),
            "shape": [w.n, w.size[1], w.size[0], 3],
            "dtype": "uint8",
            "size": f"{w.size[0]}x{w.size[1]}",
            "resize": {
                "method": self.opts.method,
                "draft_fraction": self.opts.draft_fraction if self.opts.method == "draft" else None,
                "filter": "bicubic (Pillow)" if self.opts.method == "exact" else "area (OpenCV INTER_AREA)",
                "fit": self.opts.fit,
                "pad_fill": list(self.opts.pad_fill) if self.opts.fit == "pad" else None,
                "exif_transpose": True,
                "max_pixels": self.opts.max_pixels,
            },
            "libraries": made,
            "identity": w.identity,
            "images_per_task": w.batch,
            "stamps": {"mode": w.stamp_mode, "slices": [[d.start, d.stop, d.stamp] for d in done]},
            "labels_digest": w.labels_id,
            "source": self._source_facts(),
            "failed": failures,
            "labels": labels and labels[1],
            "timing": {
                "seconds": seconds,
                "images_per_second": (w.n - self.resumed) / seconds if seconds > 0 else None,
                "scheduler": scheduler,
                "images_per_task": w.batch,
                "resumed_images": self.resumed,
            },
        }
        if w.zarr:
            sidecar["arrays"] = {"images": "images", "labels": "labels" if labels else None}
        if w.wds:
            count = shards.shard_count(w.n, w.batch)
            sidecar["shards"] = {
                "count": count,
                "url": shards.url(self.published or w.out, count),
                "images_per_shard": w.batch,
                "sample_format": self.opts.sample_format,
                "key_digits": shards.key_width(w.n),
            }
        written = []
        try:
            if labels:
                written.append(self._write_labels(*labels))
            if w.zarr:  # one read of the group's zarr.json gives xarray every array (no warning, no listing)
                import zarr  # optional extra: zarr

                with warnings.catch_warnings():  # zarr-python's extension to format 3, which xarray reads;
                    warnings.simplefilter("ignore")  # other readers ignore it: nothing to warn a user about
                    zarr.consolidate_metadata(w.target)
            sidecar["outputs"] = {  # what a rerun compares: a batch or labels changed since are never current
                "batch": output_stamp(w.target, w.stamp_mode),
                "labels": output_stamp(labels_path(w.out), w.stamp_mode) if labels and w.kind == "npy" else None,
            }
            side = sidecar_path(w.out)
            write_atomic(side, [json.dumps(sidecar, indent=1).encode()], self.token)
            written.append(side)
            if w.chunked:
                stores.remove_store(w.out, old_shards)  # an old store of ours (planning checked; checked again here)
            os.replace(w.target, w.out)
        except OSError as e:
            for path in written:
                remove_path(path)  # no sidecar or labels without their batch
            raise OSError(e.errno, f"cannot move the finished batch to {w.out}: {e.strerror}", w.target) from None
        old_labels = labels_path(w.out)
        if not labels and w.kind == "npy" and os.path.isfile(old_labels) and not os.path.islink(old_labels):
            os.remove(old_labels)  # --overwrite of a labelled batch by an unlabelled one (only a file, never a folder)
        try:
            stores.remove_work(w.work)
        except UsageError as e:  # the batch is in place; files someone added there stay
            log.warning("%s", e)
        sweep_temporaries(os.path.dirname(w.out), stale=self.stale)
        return ResizeReport(results, seconds, scheduler=scheduler, output=w.out, sidecar=sidecar)

    def _source_facts(self) -> dict:
        """What the sidecar says of the source: where it was, its entries, a digest of their paths in order."""
        given = None if self.origin is None else self.origin[0]
        where = os.fspath(given) if isinstance(given, (str, os.PathLike)) else None
        where = where if where is None or is_url(where) else os.path.abspath(where)
        return {
            "path": where,
            "entries": self.where.n,
            "paths_digest": None if self.source is None else self.source.paths_digest(),
        }

    def _check_shards(self, done: list) -> None:
        """Every shard in the work folder holds exactly its slice's samples, and nothing else is there; else StalePlan.

        One header read per image: a shard damaged, swapped or added while the
        job ran (or by a forged record) never gets the output's name; the work
        folder stays, and the next run redoes what does not hold.
        """
        w = self.where
        labelled = self.source is not None and self.source.labels is not None
        expected = shards.names(w.out, w.n, w.batch)
        extra = shards.shards_foreign(w.target, shards.prefix(w.out), expected=set(expected))
        if extra:
            raise StalePlan(
                f"{w.target} holds {os.path.basename(extra[0])}, which is not one of this job's shards: "
                "run the job again (or move that file away)"
            )
        for d in done:
            path = w.shard_path(d.start)
            want = shards.members(d.start, d.stop, w.n, [i for i, _ in d.failed], labelled, self.opts.sample_format)
            if not shards.shard_holds(path, want):
                raise StalePlan(
                    f"the shard {path} does not hold images {d.start}..{d.stop - 1} as its record says (changed while "
                    "the job ran): run the job again, it redoes that shard"
                )

    def _labels(self, failures: list):
        """(int64 labels with -1 for failed images, what the sidecar says of them), or None."""
        src = self.source
        if src is None or src.labels is None:
            return None
        labels = src.labels.copy()
        labels[[f["index"] for f in failures]] = FAILED_LABEL
        kind = self.where.kind
        where = {"zarr": "labels", "wds": None}.get(kind, os.path.basename(labels_path(self.where.out)))
        about = {
            "from": "class folders" if src.origin == "folders" else "the file list's second column",
            "file": where,
            "dtype": "int64",
            "failed": FAILED_LABEL,
            "classes": src.classes,
        }
        return labels, about

    def _write_labels(self, labels: np.ndarray, about: dict) -> str:
        w = self.where
        if w.wds:
            return ""  # in the shards already: each sample's .cls
        if w.zarr:
            import zarr  # optional extra: zarr

            group = zarr.open_group(w.target, mode="r+")
            array = group.create_array(
                "labels", shape=labels.shape, dtype="int64", overwrite=True, dimension_names=DIMENSIONS[:1]
            )
            array[:] = labels
            group.attrs["classes"] = about["classes"]
            return ""
        buf = io.BytesIO()
        np.lib.format.write_array(buf, labels, allow_pickle=False)
        path = labels_path(w.out)
        write_atomic(path, [buf.getvalue()], self.token)
        return path

    def abort(self) -> None:
        """Keep the unfinished batch: the same command resumes it."""
        if os.path.isdir(self.where.done_dir):
            done = sum(1 for _ in os.scandir(self.where.done_dir))
            log.warning(
                "kept the unfinished batch in %s (%d slice(s) finished): run the same command again to resume it, "
                "or with --overwrite to start over",
                self.where.work,
                done,
            )


@dataclass(frozen=True)
class CurrentFinish(Finish):
    """The finish of a plan with nothing to do: its report, if the output is still as planned when it runs."""

    job: str
    token: str
    out: str
    expect_out: str
    expect_sidecar: str
    report: ResizeReport
    #: ``replan(source, out, opts) -> Plan``: the planner, to plan again when a graph built earlier runs.
    replan: Callable[..., Any]
    source: object = None
    opts: ResizeOptions | None = None

    @property
    def lock_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.out))

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> ResizeReport:
        """The up-to-date report; :class:`~jobs.errors.StalePlan` if the batch or its sidecar changed since planning."""
        if (out_stamp(self.out), out_stamp(sidecar_path(self.out))) != (
            self.expect_out,
            self.expect_sidecar,
        ):
            raise StalePlan(f"{self.out} changed since this job was planned: plan the job again")
        return self.report

    def recheck(self) -> None:
        """Still up to date now (inputs, labels, outputs), else :class:`~jobs.errors.StalePlan`."""
        if self.replan(self.source, self.out, self.opts).current is None:
            raise StalePlan(f"{self.out} is no longer up to date (its inputs or outputs changed): plan the job again")

    def abort(self) -> None:
        """Nothing was written."""
