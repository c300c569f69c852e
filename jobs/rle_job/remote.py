"""RLE jobs between buckets: a source at a URL fetched into a local stage, a destination at a URL built in
one and mirrored into the store (:mod:`jobs.runtime.mirror`), the manifest last.

The RLE job judges and writes local files (its manifest of what made each
output, its records, its lock); a store holds whole objects.  So a source at a
URL (``s3://bucket/scans/``) is fetched into the stage, only the objects whose
ETag changed since the last fetch (an unchanged one keeps its local stamp, so
what was made from it stays current), and a destination at a URL
(``s3://bucket/rle/``) is built in the stage, resumable there, then mirrored:
its outputs first, its manifest (``.imgjobs-stamps``, what says which input
made each output) last.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TypeVar

from jobs.errors import UsageError
from jobs.rle_job.manifest import MANIFEST
from jobs.runtime.mirror import Mirrored, fetch, mirror_locked, stage_dir
from jobs.runtime.report import Report
from jobs.runtime.storage import Storage, is_url, local_path, store_url

__all__ = ["Places", "fetched", "mirror_outputs", "staged_dir"]

log = logging.getLogger(__name__)

R = TypeVar("R")


def fetched(src: str, storage: Storage | None, extensions) -> str:
    """``src`` itself, or for a URL its local copy in the stage, brought up to date (UsageError if it cannot)."""
    if src.startswith("file://"):
        return local_path(src)
    if not is_url(src):
        return src
    try:
        return fetch(src, storage, extensions)
    except Exception as e:  # the back end's own errors too: missing, denied, unreachable
        raise UsageError(f"{src}: cannot read: {type(e).__name__}: {(storage or Storage()).scrub(str(e))}") from None


def staged_dir(url: str) -> str:
    """The folder in the stage where the outputs of a destination at ``url`` (one spelling of it:
    :meth:`jobs.runtime.storage.Storage.canonical`) are built, created if missing."""
    name = url.rstrip("/")
    stage = stage_dir(name)
    os.makedirs(os.path.join(stage, name[name.rfind("/") + 1 :]), exist_ok=True)
    return os.path.join(stage, name[name.rfind("/") + 1 :]) + os.sep


def mirror_outputs(local: str, url: str, storage: Storage | None) -> Mirrored:
    """Mirror the outputs built in ``local`` (the stage's folder of ``url``) into the store, the manifest last."""
    local = local.rstrip(os.sep)
    base = os.path.basename(local)
    names = [
        f"{base}/{n}"
        for n in sorted(os.listdir(local))
        if (not n.startswith(".") or n == MANIFEST) and os.path.isfile(os.path.join(local, n))
    ]
    if f"{base}/{MANIFEST}" not in names:
        raise OSError(f"{local}: no {MANIFEST} (the record of what made each output): nothing to mirror")
    return mirror_locked(local, url, names, f"{base}/{MANIFEST}", storage, lock=local)


@dataclass(frozen=True)
class Places:
    """Where an RLE job reads and writes here (``src``, ``dst``: local paths), and the URL its outputs are
    mirrored to (None: ``dst`` was local)."""

    src: str
    dst: str
    url: str | None
    storage: Storage | None

    @classmethod
    def of(cls, src, dst, storage: Storage | None, extensions, compute: bool) -> Places:
        """The local places of a job from ``src`` to ``dst``: a URL source fetched, a URL destination staged."""
        src, dst = os.fspath(src), os.fspath(dst)
        if not is_url(dst):
            return cls(fetched(src, storage, extensions), local_path(dst), None, storage)
        if not compute:
            raise UsageError(
                f"{dst}: outputs at a URL are mirrored into the store when the run ends; compute=False builds a "
                "graph for local outputs only"
            )
        url = store_url(dst, storage)
        return cls(fetched(src, storage, extensions), staged_dir(url), url, storage)

    def mirrored(self, report: R) -> R:
        """``report``, after the outputs were mirrored into the store (when the destination is a URL)."""
        if self.url is not None:
            assert isinstance(report, Report)  # a run computed: a report, never a graph (Places.of refused it)
            report.mirrored = mirror_outputs(self.dst, self.url, self.storage)
            report.output = self.url
        return report
