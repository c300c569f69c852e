"""A resize batch on disk: what is wrong with one, what may be removed, what a slice holds.

:func:`batch_problem` checks a finished batch (its header, dtype and exact size;
a zarr store's arrays; every shard); :func:`removable`, :func:`remove_store` and
:func:`remove_work` refuse, removing nothing, a place that holds anything
imgjobs did not write there; :func:`slice_written` tells whether a slice a
record claims is on disk (a record may lie).  Links are never followed.
"""

from __future__ import annotations

import errno
import os

import numpy as np

from jobs.errors import UsageError
from jobs.resize_job import shards
from jobs.resize_job.paths import PARTIAL_SUFFIX, kind_of, labels_path, sidecar_path
from jobs.resize_job.records import DONE_NAME, ours_temporary
from jobs.resize_job.sidecar import check_sidecar
from jobs.runtime.reads import read_json
from jobs.runtime.temporaries import remove_path

__all__ = ["batch_problem", "removable", "remove_store", "remove_work", "slice_written", "wds_names", "work_foreign"]


def _npy_problem(path: str, shape: tuple, dtype) -> str | None:
    """What is wrong with a ``.npy`` file that should hold ``shape`` of ``dtype`` (None: it does)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(f)
            else:
                return f"a .npy of version {version}"
            start = f.tell()
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as e:
        return f"not a readable .npy ({e})"
    if tuple(got_shape) != tuple(shape) or fortran or np.dtype(got_dtype) != np.dtype(dtype):
        return f"holds {got_dtype} {tuple(got_shape)}, not {np.dtype(dtype)} {tuple(shape)}"
    want = start + int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size != want:
        return f"{size:,} bytes where its header needs {want:,} (truncated or extended)"
    return None


def batch_problem(out: str, shape: tuple, labelled: bool, chunk: int | None = None) -> str | None:
    """What is wrong with a finished batch (and its labels) that should hold ``shape`` (None: nothing).

    A ``.npy``: its header, dtype and exact size; its ``.labels.npy`` likewise.  A
    zarr store: the group's arrays, their shapes, dtypes and (``chunk``) chunk
    length.  Chunk files are not read here: :func:`output_stamp` covers them.
    """
    n = shape[0]
    if kind_of(out) == "wds":
        if chunk is None:
            return "shards without the images per shard"
        return shards.shard_problem(out, out, n, chunk)
    if out.endswith(".zarr"):
        try:
            import zarr  # optional extra: zarr

            group = zarr.open_group(out, mode="r")
            images = group["images"]
            if not isinstance(images, zarr.Array):
                return "its images are not an array"
            if tuple(images.shape) != tuple(shape) or images.dtype != np.uint8:
                return f"its images array is {images.dtype} {images.shape}, not uint8 {tuple(shape)}"
            if chunk is not None and images.chunks[0] != chunk:
                return f"its images come in chunks of {images.chunks[0]}, not the {chunk} its sidecar says"
            if labelled:
                labels = group["labels"]
                if not isinstance(labels, zarr.Array):
                    return "its labels are not an array"
                if tuple(labels.shape) != (n,) or labels.dtype != np.int64:
                    return f"its labels array is {labels.dtype} {labels.shape}, not int64 ({n},)"
        except Exception as e:  # any failure to open the store: it is not the batch the sidecar describes
            return f"not a readable zarr group ({type(e).__name__}: {e})"
        return None
    problem = _npy_problem(out, shape, np.uint8)
    if problem:
        return problem
    if labelled:
        problem = _npy_problem(labels_path(out), (n,), np.int64)
        if problem:
            return f"its labels {labels_path(out)}: {problem}"
    return None


#: What a zarr store written by imgjobs holds: the group metadata and two arrays of chunk files.
_ZARR_TOP = {"zarr.json", "images", "labels"}


def _zarr_foreign(store: str) -> list[str]:
    """Paths inside a zarr store that imgjobs does not write there (a linear walk, links not followed)."""
    foreign = []
    try:
        top = os.listdir(store)
    except OSError as e:
        return [f"{store} ({e.strerror})"]
    for name in top:
        path = os.path.join(store, name)
        if name not in _ZARR_TOP:
            foreign.append(path)
            continue
        if name == "zarr.json":
            if os.path.islink(path) or not os.path.isfile(path):
                foreign.append(path)
            continue
        if os.path.islink(path) or not os.path.isdir(path):
            foreign.append(path)
            continue
        for root, dirs, files in os.walk(path):
            rel = os.path.relpath(root, path)
            for d in dirs:
                full = os.path.join(root, d)
                ok = (rel == "." and d == "c") or (rel != "." and d.isdigit())
                if os.path.islink(full) or not ok:
                    foreign.append(full)
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in foreign]
            for f in files:
                full = os.path.join(root, f)
                ok = (rel == "." and f == "zarr.json") or (rel != "." and f.isdigit())
                if os.path.islink(full) or not ok:
                    foreign.append(full)
            if len(foreign) > 20:
                return foreign
    return foreign


def wds_names(out: str) -> list | None:
    """The shard names a finished ``.wds`` holds, as its sidecar says; None without a usable sidecar."""
    sidecar = read_json(sidecar_path(out))
    if check_sidecar(sidecar, out) is not None:
        return None
    assert isinstance(sidecar, dict)
    return shards.names(out, sidecar["shape"][0], sidecar["images_per_task"])


def removable(out: str, names: list | None = None) -> None:
    """Refuse (UsageError) to replace ``out`` unless it is a batch imgjobs wrote (see :func:`remove_store`).

    A ``.wds`` may hold only the shards its sidecar names (``names``, when given,
    instead): a file named like a shard but not one of them is not removed.
    """
    if not os.path.lexists(out):
        return
    if kind_of(out) == "wds":
        if os.path.islink(out) or not os.path.isdir(out):
            raise UsageError(f"{out} is not a directory of shards imgjobs wrote (a link or a file): remove it yourself")
        if names is None:
            names = wds_names(out)
        if names is None:
            if os.listdir(out):
                raise UsageError(
                    f"{out}: its sidecar is missing or damaged, so imgjobs cannot tell which files there are its "
                    "shards: remove the directory yourself or choose another --out"
                )
            return
        foreign = shards.shards_foreign(out, shards.prefix(out), expected=set(names))
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise UsageError(
                f"{out} holds files imgjobs did not write ({shown}): --overwrite removes only its own "
                "shards; move those files away or choose another --out"
            )
    elif out.endswith(".zarr"):
        if os.path.islink(out) or not os.path.isdir(out):
            raise UsageError(f"{out} is not a zarr store imgjobs wrote (a link or a file): remove it yourself")
        foreign = _zarr_foreign(out)
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise UsageError(
                f"{out} holds files imgjobs did not write ({shown}): --overwrite removes only its own "
                "outputs; move those files away or choose another --out"
            )
    elif os.path.islink(out) or not os.path.isfile(out):
        raise UsageError(f"{out} is not a batch file imgjobs wrote (a link or not a regular file): remove it yourself")


def remove_store(out: str, names: list | None = None) -> None:
    """Remove an old batch at ``out`` that imgjobs wrote; refuse (UsageError) anything else.

    A ``.npy`` must be a regular file (not a link, not a directory).  A ``.zarr``
    must be a directory holding only what imgjobs writes into one (its group
    metadata, ``images/`` and ``labels/`` with their chunks): a store holding
    anything else (images, a file list) is refused, naming what is there, and
    nothing is removed.  Links are never followed.
    """
    removable(out, names)
    remove_path(out)


def work_foreign(work: str) -> list[str]:
    """Entries of a work folder that imgjobs does not write there (nothing is removed)."""
    foreign = []
    try:
        entries = list(os.scandir(work))
    except OSError:
        return []
    for e in entries:
        path = os.path.join(work, e.name)
        if e.name == "plan.json" or ours_temporary(e.name) == "plan.json":
            if e.is_symlink() or not e.is_file(follow_symlinks=False):
                foreign.append(path)
        elif e.name == "batch.npy":
            if e.is_symlink() or not e.is_file(follow_symlinks=False):
                foreign.append(path)
        elif e.name == "batch.zarr":
            if e.is_symlink() or not e.is_dir(follow_symlinks=False):
                foreign.append(path)
            else:
                foreign += _zarr_foreign(path)
        elif e.name == "batch.wds":
            out_name = os.path.basename(work.rstrip(os.sep))[1 : -len(PARTIAL_SUFFIX)]  # .train.wds.imgjobs-partial
            if e.is_symlink() or not e.is_dir(follow_symlinks=False) or not out_name.endswith(shards.SUFFIX):
                foreign.append(path)
            else:
                foreign += shards.shards_foreign(path, shards.prefix(out_name), temporaries=True)
        elif e.name == "done":
            if e.is_symlink() or not e.is_dir(follow_symlinks=False):
                foreign.append(path)
                continue
            for d in os.scandir(path):
                record = DONE_NAME.fullmatch(d.name) or DONE_NAME.fullmatch(ours_temporary(d.name) or "")
                ok = record and d.is_file(follow_symlinks=False)
                if not ok:
                    foreign.append(os.path.join(path, d.name))
        else:
            foreign.append(path)
    return foreign


def remove_work(work: str) -> None:
    """Remove a work folder imgjobs wrote; refuse (UsageError), removing nothing, if it holds anything else."""
    if not os.path.lexists(work):
        return
    if os.path.islink(work) or not os.path.isdir(work):
        raise UsageError(f"{work} (the work folder) is not a directory: remove it")
    foreign = work_foreign(work)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise UsageError(f"{work} (the work folder) holds files imgjobs did not write there ({shown}): move them away")
    remove_path(work)


def slice_written(where, start: int, stop: int, chunk: int, offset_of) -> bool:
    """Whether the batch being filled (``where.target``) holds data for images ``start..stop`` (a record may lie).

    A ``.npy`` is created sparse: a slice no task wrote is a hole (``SEEK_DATA``
    finds no data in it; file systems without holes always say yes).  A zarr
    slice is whole chunks: their files must exist (an all-zero chunk is not
    stored, so a slice of only failed images is redone: safe).  (A shard is
    checked member by member instead: :func:`jobs.resize_job.shards.shard_holds`.)
    """
    where_target = where.target
    if where.kind == "zarr":
        return all(
            os.path.isfile(os.path.join(where_target, "images", "c", str(k), "0", "0", "0"))
            for k in range(start // chunk, -(-stop // chunk))
        )
    try:
        fd = os.open(where_target, os.O_RDONLY)
    except OSError:
        return False
    try:
        for i in range(start, stop):  # every image's bytes, not only the slice's
            if os.lseek(fd, offset_of(i), os.SEEK_DATA) >= offset_of(i + 1):
                return False
        return True
    except OSError as e:  # ENXIO: no data from there on; EINVAL: no SEEK_DATA on this file system
        return e.errno != errno.ENXIO
    finally:
        os.close(fd)
