"""An output built locally, mirrored into a store at a URL: every object written whole, its record last.

An object store has no rename, no lock and no partial write: an object is
written whole or not at all.  So an output at a URL is built where the job
builds any output, in a local **stage** (``imgjobs.stage-dir``, by default
``~/.cache/imgjobs/stage/<digest of the URL>/``), with its lock, its work
folder and its records of finished work: a run killed there resumes there.
When the local output is finished, :func:`mirror` makes the store hold the
same bytes:

1. one listing of the output's prefix, compared with what the last mirror
   recorded (each object's local stamp and the ETag the store gave it);
2. if anything is to change, the **record object** (what says the output is
   whole) is deleted first, so no reader finds an old record
   beside new objects;
3. the objects that differ are uploaded (several at once), objects this stage
   put there before and no longer holds are deleted (never another's);
4. the record object is uploaded last.

A mirror that finds the store as it left it uploads nothing: what a rerun of
an up-to-date output costs is that listing.  Nothing here knows a job: the
job says which local files make its output and which one is its record.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from jobs import config
from jobs.errors import BusyError
from jobs.runtime.durable import write_atomic
from jobs.runtime.locks import output_lock
from jobs.runtime.reads import read_json
from jobs.runtime.stamps import stat_stamp
from jobs.runtime.storage import Storage, is_directory, list_directory, object_version, url_parent
from jobs.runtime.temporaries import new_token, temp_path

__all__ = ["Mirrored", "fetch", "mirror", "mirror_locked", "mirrored_names", "stage_dir"]

log = logging.getLogger(__name__)

#: The stage's record of what it put in the store: local name -> [local stamp, the store's ETag].
RECORD_NAME = ".imgjobs-mirrored.json"

#: Objects uploaded (or downloaded) at once (each waits on the network, not on this process).
UPLOADS_AT_ONCE = 8


def stage_dir(url: str) -> str:
    """The local folder where an output at ``url`` is built: ``<imgjobs.stage-dir>/<digest of the URL>``.

    ``imgjobs.stage-dir`` null: ``$XDG_CACHE_HOME/imgjobs/stage`` (``~/.cache/imgjobs/stage``).
    On a cluster it must be a file system the workers share, as any output's folder.
    """
    root = config.get_str("stage-dir", optional=True)
    if root is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(cache, "imgjobs", "stage")
    return os.path.join(os.path.abspath(root), hashlib.sha256(url.encode("utf-8")).hexdigest()[:16])


@dataclass(frozen=True)
class Mirrored:
    """What :func:`mirror` did: objects uploaded, left as they were, and deleted (this stage's own)."""

    url: str
    uploaded: int
    kept: int
    removed: int
    foreign: tuple = ()

    @property
    def changed(self) -> bool:
        """Whether the store was changed."""
        return bool(self.uploaded or self.removed)


def _local_stamp(path: str) -> str | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return f"{stat_stamp(st.st_size, st.st_mtime_ns)}:{st.st_ino}"


def _read_record(stage: str, url: str) -> dict:
    """The stage's record of its last mirror into ``url``, read as hostile input ({} if none or not sound)."""
    record = read_json(os.path.join(stage, RECORD_NAME))
    if not isinstance(record, dict) or record.get("url") != url or not isinstance(record.get("objects"), dict):
        return {}
    return {
        k: v
        for k, v in record["objects"].items()
        if isinstance(k, str) and isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)
    }


def mirror_locked(
    local: str,
    url: str,
    names: Sequence[str],
    record: str,
    storage: Storage | None,
    *,
    lock: str,
    token: str | None = None,
) -> Mirrored:
    """:func:`mirror` of an output built in the stage at ``local`` (a file's or a folder's path) into its
    ``url``, holding the lock of the folder ``lock`` (where the job that built it locks: no run finishes into
    it while its files are uploaded); ``names`` are relative to the stage.  A store that fails is an
    OSError saying where the output waits, whole, and what to do.

    Raises
    ------
    BusyError
        Another run holds the lock.
    OSError
        The store refused or could not be reached.
    """
    local = local.rstrip(os.sep)
    stage, base = os.path.split(local)
    url = url.rstrip("/")
    try:
        with output_lock(lock):
            done = mirror(stage, url_parent(url), names, record, [base + "/"], storage, token)
    except BusyError:
        raise
    except Exception as e:  # the back end's own errors too: no credentials, denied, unreachable, no bucket
        raise OSError(
            f"{url}: the finished output could not be mirrored into the store ({type(e).__name__}: "
            f"{(storage or Storage()).scrub(str(e))}); it is whole in its stage, {local}: run the same command "
            "again to mirror it"
        ) from None
    if done.changed:
        log.info("%s: %d object(s) uploaded, %d already there, %d removed", url, done.uploaded, done.kept, done.removed)
    return done


def mirrored_names(stage: str, url: str) -> set[str]:
    """The names the stage's last mirror into ``url`` put there (its record, read as hostile input)."""
    return set(_read_record(stage, url))


def _etag(info: dict) -> str:
    return str(info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("mtime") or "")


def mirror(
    stage: str,
    url: str,
    names: Sequence[str],
    record: str,
    prefixes: Sequence[str],
    storage: Storage | None = None,
    token: str | None = None,
) -> Mirrored:
    """Make the store at ``url`` hold the files ``names`` of ``stage`` (relative names), ``record`` last.

    Parameters
    ----------
    stage : str
        The local folder the output was built in (:func:`stage_dir`).
    url : str
        The store's "folder" the names go under (``s3://bucket/data``).
    names : sequence of str
        The output's files, relative to ``stage`` (``train.wds/train-000.tar``), ``record`` among them or not.
    record : str
        The one that says the output is whole: deleted first when anything changes, written last.
    prefixes : sequence of str
        The output's own prefixes in the store (``train.wds/``): what is listed, and where objects this stage
        did not put are reported (never deleted).
    storage : Storage, optional
        fsspec's options for ``url``.
    token : str, optional
        The run's token, in the name of the record's temporary (default: a new one).

    Raises
    ------
    OSError, and the back end's own errors
        The store refuses or cannot be reached: the output stays local, whole, and the next run mirrors it.
    """
    token = token or new_token()
    fs, root = (storage or Storage()).filesystem(url)
    root = root.rstrip("/")
    before = _read_record(stage, url)
    listed: dict[str, str] = {}
    for prefix in prefixes:
        fs.invalidate_cache(f"{root}/{prefix}".rstrip("/"))
        try:
            found = fs.find(f"{root}/{prefix}".rstrip("/"), detail=True)
        except FileNotFoundError:
            found = {}
        for name, info in found.items():
            listed[name[len(root) + 1 :]] = _etag(info)
    fs.invalidate_cache(f"{root}/{record}")
    try:
        listed[record] = _etag(fs.info(f"{root}/{record}"))
    except FileNotFoundError:
        pass
    data = [n for n in names if n != record]
    now = {n: _local_stamp(os.path.join(stage, n)) for n in [*data, record]}
    missing = [n for n, s in now.items() if s is None]
    if missing:
        raise FileNotFoundError(f"{os.path.join(stage, missing[0])}: missing from the stage, nothing mirrored")

    def current(n: str) -> bool:
        was = before.get(n)
        return was is not None and was[0] == now[n] and listed.get(n) == was[1] and bool(was[1])

    upload = [n for n in data if not current(n)]
    ours_gone = [n for n in before if n not in now and n in listed]
    foreign = tuple(sorted(n for n in listed if n not in now and n not in before))
    after = {n: before[n] for n in data if n not in upload}
    if upload or ours_gone or not current(record):
        if record in listed:
            fs.rm_file(f"{root}/{record}")  # no reader may find the old record beside new objects
            listed.pop(record)

        def put(n: str) -> tuple[str, str]:
            fs.put_file(os.path.join(stage, n), f"{root}/{n}")
            return n, _etag(fs.info(f"{root}/{n}"))

        with concurrent.futures.ThreadPoolExecutor(UPLOADS_AT_ONCE) as pool:
            for n, etag in pool.map(put, upload):
                after[n] = [now[n] or "", etag]
        for n in ours_gone:
            fs.rm_file(f"{root}/{n}")
        n, etag = put(record)
        after[n] = [now[n] or "", etag]
        uploaded = len(upload) + 1
    else:
        after[record] = before[record]
        uploaded = 0
    kept = len(data) + 1 - uploaded
    write_atomic(os.path.join(stage, RECORD_NAME), [json.dumps({"url": url, "objects": after}).encode("utf-8")], token)
    if foreign:
        log.warning(
            "%s holds %d object(s) imgjobs did not put there (%s): left as they are",
            url,
            len(foreign),
            ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else ""),
        )
    return Mirrored(url, uploaded, kept, len(ours_gone), foreign)


#: A fetched folder's record of what it holds: object name -> [the store's ETag, the local copy's stamp].
FETCHED_NAME = ".imgjobs-fetched.json"


def fetch(url: str, storage: Storage | None, extensions, token: str | None = None) -> str:
    """A local copy of the inputs at ``url`` (a "directory": its objects whose extension is one of
    ``extensions``; or one object), kept in the stage and brought up to date: one listing, and only the
    objects whose ETag changed since the last fetch are downloaded (each through a temporary and a rename),
    so an unchanged object keeps its local stamp and what was made from it stays current.  Copies of
    objects no longer listed are deleted.  Returns the local path (a folder, or the one file).

    Raises
    ------
    FileNotFoundError
        Nothing is at ``url``.
    OSError, and the back end's own errors
        The store refuses or cannot be reached.
    """
    token = token or new_token()
    stage = stage_dir(url)
    name = url.rstrip("/")[url.rstrip("/").rfind("/") + 1 :]
    local = os.path.join(stage, name)
    if is_directory(url, storage):
        objects, where = {}, {}
        for n, item in list_directory(url, storage, extensions)[0]:
            objects[n], where[n] = object_version(item, storage)[1] or "", item
        os.makedirs(local, exist_ok=True)
        folder = local
    else:
        objects, where = {name: object_version(url, storage)[1] or ""}, {name: url}
        os.makedirs(stage, exist_ok=True)
        folder = stage
    with output_lock(folder):  # one fetch at a time into a stage
        _bring_up_to_date(folder, url, objects, where, storage, token)
    return local


def _bring_up_to_date(folder: str, url: str, objects: dict, where: dict, storage: Storage | None, token: str) -> None:
    """:func:`fetch`'s download of what changed into ``folder``, and its record."""
    record = read_json(os.path.join(folder, FETCHED_NAME))
    had = record.get("objects") if isinstance(record, dict) and record.get("url") == url else None
    had = had if isinstance(had, dict) else {}
    fs, _ = (storage or Storage()).filesystem(url)
    now: dict = {}
    get = []
    for n, etag in sorted(objects.items()):
        was = had.get(n)
        if was == [etag, _local_stamp(os.path.join(folder, n))] and etag:  # the copy is of this very object
            now[n] = was
        else:
            get.append(n)

    def download(n: str) -> tuple[str, list]:
        path = os.path.join(folder, n)
        tmp = temp_path(path, token, new_token()[:6])
        try:
            fs.get_file(where[n], tmp)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        return n, [objects[n], _local_stamp(path) or ""]

    with concurrent.futures.ThreadPoolExecutor(UPLOADS_AT_ONCE) as pool:
        now.update(pool.map(download, get))
    for n in had:
        if n not in now and os.path.isfile(os.path.join(folder, n)):
            os.remove(os.path.join(folder, n))
    write_atomic(os.path.join(folder, FETCHED_NAME), [json.dumps({"url": url, "objects": now}).encode()], token)
