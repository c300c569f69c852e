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

from jobs.errors import BusyError, UsageError
from jobs.rle_job.manifest import MANIFEST
from jobs.runtime.locks import output_lock
from jobs.runtime.mirror import Mirrored, fetch, mirror, stage_dir
from jobs.runtime.report import Report
from jobs.runtime.storage import Storage, is_chained, is_url, local_path, url_parent

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
    url = url.rstrip("/")
    local = local.rstrip(os.sep)
    stage, base = os.path.split(local)
    names = [
        f"{base}/{n}"
        for n in sorted(os.listdir(local))
        if (not n.startswith(".") or n == MANIFEST) and os.path.isfile(os.path.join(local, n))
    ]
    record = f"{base}/{MANIFEST}"
    if record not in names:
        raise OSError(f"{local}: no {MANIFEST} (the record of what made each output): nothing to mirror")
    try:
        with output_lock(local):  # no other run writes into the outputs while they are uploaded
            done = mirror(stage, url_parent(url), names, record, [base + "/"], storage)
    except BusyError:
        raise
    except Exception as e:  # the back end's own errors too: no credentials, denied, unreachable, no bucket
        raise OSError(
            f"{url}: the outputs could not be mirrored into the store ({type(e).__name__}: "
            f"{(storage or Storage()).scrub(str(e))}); they are whole "
            f"in their stage, {local}: run the same command again to mirror them"
        ) from None
    if done.changed:
        log.info("%s: %d object(s) uploaded, %d already there, %d removed", url, done.uploaded, done.kept, done.removed)
    return done


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
        if is_chained(dst):
            raise UsageError(f"{dst}: a chained URL (simplecache::...) is for reading; name the store itself")
        try:
            url = (storage or Storage()).canonical(dst.rstrip("/"))
        except Exception as e:  # the back end's own errors: an unknown protocol, a missing package
            raise UsageError(f"{dst}: {(storage or Storage()).scrub(str(e))}") from None
        return cls(fetched(src, storage, extensions), staged_dir(url), url, storage)

    def mirrored(self, report: R) -> R:
        """``report``, after the outputs were mirrored into the store (when the destination is a URL)."""
        if self.url is not None:
            assert isinstance(report, Report)  # a run computed: a report, never a graph (Places.of refused it)
            report.mirrored = mirror_outputs(self.dst, self.url, self.storage)
            report.output = self.url
        return report
