"""A resize output at a URL (``s3://bucket/train.wds``, ``gs://bucket/train.zarr``): built in a local stage,
then mirrored into the store (:mod:`jobs.runtime.mirror`), its sidecar last.

A ``.wds`` directory of shards and a ``.zarr`` store are families of whole
files, each an object in a store; a ``.npy`` batch is filled in place by offset
and never can be one.  The stage holds the lock, the work folder and the
records a killed run resumes from; the store gets the shards or chunks, then
the sidecar, which is what says the output is whole.
"""

from __future__ import annotations

import logging
import os

from jobs.errors import UsageError
from jobs.resize_job.paths import kind_of, sidecar_path
from jobs.runtime.mirror import Mirrored, mirror_locked, mirrored_names, stage_dir
from jobs.runtime.storage import Storage, is_url, local_path, store_url, url_parent

__all__ = ["check_store", "check_url_output", "mirror_output", "output_url", "staged"]

log = logging.getLogger(__name__)


def check_url_output(out: str) -> None:
    """A :class:`~jobs.errors.UsageError` for an output URL imgjobs cannot write, saying what to do instead."""
    if out.startswith("file://"):
        raise UsageError(f"output {out}: give a local output as a path ({local_path(out)}), not a file:// URL")
    if is_url(out) and kind_of(out.rstrip("/")) == "npy":
        raise UsageError(
            f"output {out}: a .npy batch cannot be written to object storage (each task writes its slice in "
            "place, and an object is written whole): write a .zarr (chunks of its own) or a .wds (shards) there"
        )


def output_url(out: str, storage: Storage | None) -> str | None:
    """An output at a URL in one spelling (:meth:`jobs.runtime.storage.Storage.canonical`: ``s3a://b//t.wds/``
    is ``s3://b/t.wds``), so that every spelling shares one stage and its lock; None for a local output."""
    check_url_output(out)
    return store_url(out, storage) if is_url(out) else None


def staged(out: str, url: str | None) -> str:
    """Where an output is built: ``out`` itself, or for a URL (:func:`output_url`) its place in the stage
    (:func:`jobs.runtime.mirror.stage_dir`), created if missing."""
    if url is None:
        return out
    stage = stage_dir(url)
    os.makedirs(stage, exist_ok=True)
    return os.path.join(stage, url[url.rfind("/") + 1 :])


def check_store(url: str, local: str, storage: Storage | None, overwrite: bool) -> None:
    """Refuse to build into ``url`` an output this stage did not make there, unless ``overwrite``.

    Locally an output of another job is refused (``--overwrite`` replaces it); in a store, that is an
    output whose sidecar the stage has no record of putting there, while the stage holds no finished output
    of its own (another machine's stage made it, or this one's was cleared).
    """
    if overwrite or os.path.lexists(sidecar_path(local)):
        return
    side = os.path.basename(sidecar_path(local))
    stage = os.path.dirname(local)
    if side in mirrored_names(stage, url_parent(url)):
        return
    try:
        fs, root = (storage or Storage()).filesystem(url)
        fs.invalidate_cache(root)
        there = fs.exists(root + ".json") or bool(fs.find(root, maxdepth=2))
    except Exception as e:  # the back end's own errors: denied, unreachable, no bucket
        log.debug("%s: cannot look at it before the run: %s", url, (storage or Storage()).scrub(str(e)))
        return  # the mirror at the end names what the store refuses
    if there:
        raise UsageError(
            f"{url} holds an output this machine's stage ({stage}) did not put there: use --overwrite to replace "
            "it (objects imgjobs did not put there are left, and named), or write to another URL"
        )


def mirror_output(local: str, url: str, storage: Storage | None, token: str) -> Mirrored:
    """Mirror the finished output ``local`` (in its stage) into ``url``: its files, then its sidecar."""
    stage = os.path.dirname(local)
    names = []
    for root, dirs, files in os.walk(local):
        dirs.sort()
        names += [os.path.relpath(os.path.join(root, f), stage) for f in sorted(files)]
    return mirror_locked(local, url, names, os.path.basename(sidecar_path(local)), storage, lock=stage, token=token)
