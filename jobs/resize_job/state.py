"""The resize job's state on disk, every file of it read as untrusted input.

A resize output is a family of files beside each other: the batch
(``batch.npy``, ``batch.zarr/`` or ``batch.wds/`` of tar shards), its sidecar ``batch.npy.json``, its labels
``batch.labels.npy`` and, while it is built, the hidden work folder
``.batch.npy.imgjobs-partial/`` (``plan.json``, ``done/<start>-<stop>.json`` and
the batch being filled).  This module names those paths, writes the small state
files, and reads them back checking everything: shape and types, ranges, that
a record belongs to this very job and run, that records do not overlap, that
the batch on disk has the size its header claims.  Anything that does not hold
is treated as absent (the work is redone) or refused with a message naming the
file; never a traceback, never believed.

No Dask here: :mod:`jobs.resize_job.planner` plans with these functions and
:mod:`jobs.resize_job.tasks` calls them from tasks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence

import numpy as np

from jobs.runtime import stamps as _stamps
from jobs.runtime.files import read_json, remove_path
from jobs.runtime.stamps import out_stamp

__all__ = [
    "KINDS",
    "PARTIAL_SUFFIX",
    "SIDECAR_FORMAT",
    "Done",
    "batch_problem",
    "check_sidecar",
    "family",
    "is_libraries",
    "kind_of",
    "labels_path",
    "npy_header",
    "out_stamp",
    "output_stamp",
    "partial_dir",
    "read_done",
    "read_plan",
    "removable",
    "remove_store",
    "remove_work",
    "sidecar_path",
    "slice_written",
    "wds_names",
    "work_foreign",
    "write_done",
    "write_small",
]

#: The hidden work folder of an unfinished batch: ``.batch.npy.imgjobs-partial`` beside ``batch.npy``.
PARTIAL_SUFFIX = ".imgjobs-partial"

#: What a sidecar of this layout says it is.
SIDECAR_FORMAT = "imgjobs-resize-2"

_DONE_NAME = re.compile(r"([0-9]{1,15})-([0-9]{1,15})\.json")


#: What each output name makes: a ``.npy`` file, a ``.zarr`` store, a ``.wds`` directory of tar shards.
KINDS = (".npy", ".zarr", ".wds")


def kind_of(out) -> str:
    """``npy``, ``zarr`` or ``wds`` from an output's name (``npy`` for anything else: the planner refuses it)."""
    out = os.fspath(out)
    for suffix in KINDS[1:]:
        if out.endswith(suffix):
            return suffix[1:]
    return "npy"


def sidecar_path(out: str) -> str:
    """The sidecar of a batch: ``batch.npy`` -> ``batch.npy.json`` (never the name of a JSON config beside it)."""
    return os.fspath(out) + ".json"


def labels_path(out: str) -> str:
    """The labels beside a ``.npy`` batch: ``batch.npy`` -> ``batch.labels.npy``."""
    out = os.fspath(out)
    return (out[:-4] if out.endswith(".npy") else out) + ".labels.npy"


def partial_dir(out: str) -> str:
    """The hidden work folder of ``out``: ``.batch.npy.imgjobs-partial`` beside it."""
    head, tail = os.path.split(os.fspath(out))
    return os.path.join(head, f".{tail}{PARTIAL_SUFFIX}")


def family(out: str) -> list[tuple[str, str]]:
    """Every path a resize run into ``out`` writes, with what it is: (path, description)."""
    out = os.fspath(out)
    paths = [(out, "the batch"), (sidecar_path(out), "its sidecar")]
    if out.endswith(".npy"):
        paths.append((labels_path(out), "its labels"))
    paths.append((partial_dir(out), "its work folder"))
    return paths


def output_stamp(path: str, mode: str = "stat") -> str:
    """The stamp of an output as imgjobs left it: a file, or every file of a zarr store (one walk).

    ``stat``: size, modification time and inode of each file; ``content``: a digest
    of the bytes.  Recorded in the sidecar when the batch is finished and compared
    on a rerun, so a batch or labels file replaced, copied over, extended or edited
    since (a chunk deleted or copied, in a store) is never called current.
    """
    import stat as _stat

    def one(p: str) -> str:
        st = os.lstat(p)
        if not _stat.S_ISREG(st.st_mode):
            return f"not a regular file ({st.st_mode:o})"
        if mode == "content":
            return _stamps.of_path(p, "content")
        return f"{_stamps.stat_stamp(st.st_size, st.st_mtime_ns)}:{st.st_ino}"

    try:
        if os.path.islink(path) or not os.path.isdir(path):
            return one(path)
        items = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                items.append(f"{os.path.relpath(full, path)}={one(full)}")
        return "store:" + _stamps.digest(items)
    except OSError as e:
        return f"unreadable ({e.strerror})"


def npy_header(shape: tuple) -> bytes:
    """The ``.npy`` header of a uint8 batch of ``shape``, as imgjobs writes it (format 1.0: any 4-tuple fits)."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def write_small(path: str, text: str) -> None:
    """Write a small state file through a hidden temporary, ``fsync`` and a rename: never half-written.

    A failure (a full disk) removes the temporary and names the file.
    """
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.{os.getpid()}-{os.urandom(4).hex()}.part")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        remove_path(tmp)
        raise OSError(e.errno, f"cannot write {path}: {e.strerror}") from None


# --------------------------------------------------------------------------- the work folder


def read_plan(path: str) -> dict | None:
    """The work folder's ``plan.json``, or None when it is missing or not of the expected shape."""
    plan = read_json(path)
    if not isinstance(plan, dict):
        return None
    if not (isinstance(plan.get("token"), str) and isinstance(plan.get("identity"), str)):
        return None
    if not _is_int(plan.get("n"), 1):
        return None
    chunk = plan.get("chunk")
    if chunk is not None and not _is_int(chunk, 1):
        return None
    return plan


class Done:
    """One finished slice, as its record says.

    ``start``, ``stop``, ``stamps``, ``failed`` ((index, reason), ...) and
    ``libraries`` (the versions that made its pixels; None: not recorded).
    """

    __slots__ = ("failed", "libraries", "stamps", "start", "stop")

    def __init__(self, start: int, stop: int, stamps: Sequence, failed: Sequence, libraries: dict | None = None):
        self.start, self.stop, self.stamps, self.failed = start, stop, tuple(stamps), tuple(failed)
        self.libraries = libraries

    def __repr__(self) -> str:
        return f"Done({self.start}, {self.stop}, {len(self.failed)} failed)"

    @classmethod
    def of(cls, start: int, outcomes, seen, libraries: dict | None = None) -> Done:
        """The record of a slice from ``start`` whose images ended as ``outcomes``, read with stamps ``seen``."""
        failed = [(int(i), outcomes.reasons.get(int(i), "")) for i in np.flatnonzero(outcomes.status == 2).tolist()]
        return cls(start, start + len(outcomes), seen, failed, libraries)


def write_done(done_dir: str, token: str, identity: str, slice_: Done) -> None:
    """Record a durable slice as finished: ``done/<start>-<stop>.json``, tied to this job and run."""
    record = {
        "token": token,
        "identity": identity,
        "start": slice_.start,
        "stop": slice_.stop,
        "stamps": list(slice_.stamps),
        "failed": [[int(i), str(r)] for i, r in slice_.failed],
        "libraries": slice_.libraries,
    }
    write_small(os.path.join(done_dir, f"{slice_.start}-{slice_.stop}.json"), json.dumps(record))


def _valid_done(record, name_start: int, name_stop: int, token: str, identity: str, n: int) -> Done | None:
    if not isinstance(record, dict) or record.get("token") != token or record.get("identity") != identity:
        return None
    start, stop = record.get("start"), record.get("stop")
    if start != name_start or stop != name_stop or not (_is_int(start, 0) and _is_int(stop, 1)):
        return None
    if not start < stop <= n:
        return None
    stamps = record.get("stamps")
    if not isinstance(stamps, list) or len(stamps) != stop - start or not all(isinstance(s, str) for s in stamps):
        return None
    failed = record.get("failed")
    if not isinstance(failed, list):
        return None
    out = []
    for item in failed:
        if not (isinstance(item, list) and len(item) == 2 and _is_int(item[0], 0) and isinstance(item[1], str)):
            return None
        if item[0] >= stop - start:
            return None
        out.append((item[0], item[1]))
    libraries = record.get("libraries")
    if libraries is not None and not is_libraries(libraries):
        return None
    return Done(start, stop, stamps, out, libraries)


def is_libraries(value) -> bool:
    """Whether ``value`` is a record of library versions: a small object of names to version strings."""
    return (
        isinstance(value, dict)
        and len(value) <= 32
        and all(isinstance(k, str) and isinstance(v, str) and len(k) + len(v) < 200 for k, v in value.items())
    )


def read_done(done_dir: str, token: str, identity: str, n: int, chunk: int | None = None) -> tuple[list, int]:
    """The finished slices recorded in ``done_dir`` for this job and run, sorted, none overlapping.

    One listing.  A record is believed only if its name and content agree, it
    names this run's ``token`` and this job's ``identity``, its slice lies in
    ``0..n`` (on ``chunk`` boundaries, for a zarr store), its stamps and failures
    have the slice's length and types, and it overlaps no record kept before it.

    Returns
    -------
    (list of Done, int)
        The slices kept, and how many records were ignored.
    """
    try:
        with os.scandir(done_dir) as it:
            names = [e.name for e in it if not e.name.startswith(".")]
    except OSError:
        return [], 0
    found, ignored = [], 0
    for name in names:
        m = _DONE_NAME.fullmatch(name)
        if not m:
            ignored += 1
            continue
        start, stop = int(m.group(1)), int(m.group(2))
        if chunk and (start % chunk or (stop % chunk and stop != n)):
            ignored += 1
            continue
        done = _valid_done(read_json(os.path.join(done_dir, name)), start, stop, token, identity, n)
        if done is None:
            ignored += 1
            continue
        found.append(done)
    found.sort(key=lambda d: (d.start, d.stop))
    kept, end = [], 0
    for d in found:
        if d.start < end:
            ignored += 1  # overlaps a slice kept before it: the overlap is redone
            continue
        kept.append(d)
        end = d.stop
    return kept, ignored


# --------------------------------------------------------------------------- the finished output


def _is_int(value, low: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (low is None or value >= low)


def check_sidecar(sidecar, out: str) -> str | None:
    """What is wrong with a sidecar's content (None: nothing); ``out`` is the batch it sits beside."""
    if not isinstance(sidecar, dict):
        return "not a JSON object"
    if sidecar.get("format") != SIDECAR_FORMAT:
        return f"format {sidecar.get('format')!r}, not {SIDECAR_FORMAT!r} (written by another version)"
    if not isinstance(sidecar.get("identity"), str):
        return "no identity"
    shape = sidecar.get("shape")
    if not (isinstance(shape, list) and len(shape) == 4 and all(_is_int(v, 1) for v in shape) and shape[3] == 3):
        return f"shape {shape!r} is not [N, H, W, 3]"
    n = shape[0]
    if sidecar.get("size") != f"{shape[2]}x{shape[1]}":
        return f"size {sidecar.get('size')!r} is not its shape's {shape[2]}x{shape[1]}"
    st = sidecar.get("stamps")
    if not isinstance(st, dict) or st.get("mode") not in _stamps.MODES:
        return "no stamps"
    files = st.get("files")
    if not isinstance(files, list) or len(files) != n or not all(isinstance(s, str) for s in files):
        return f"stamps of {len(files) if isinstance(files, list) else '?'} image(s) for {n}"
    if not _is_int(sidecar.get("images_per_task"), 1):
        return "no images_per_task"
    if not isinstance(sidecar.get("labels_digest"), str):
        return "no labels_digest"
    outputs = sidecar.get("outputs")
    if not (isinstance(outputs, dict) and isinstance(outputs.get("batch"), str)):
        return "no stamp of the batch it describes"
    if (sidecar.get("labels") is None) != (sidecar["labels_digest"] == "none"):
        return "its labels and its labels_digest disagree"
    kind = kind_of(out)
    if sidecar.get("labels") is not None and kind == "npy" and not isinstance(outputs.get("labels"), str):
        return "no stamp of its labels file"
    failed = sidecar.get("failed")
    if not isinstance(failed, list):
        return "failed is not a list"
    for f in failed:
        if not (
            isinstance(f, dict) and _is_int(f.get("index"), 0) and f["index"] < n and isinstance(f.get("reason"), str)
        ):
            return f"a failure entry {str(f)[:80]} is not an image index and reason"
    if kind == "wds":
        shards = sidecar.get("shards")
        count = -(-n // sidecar["images_per_task"])
        if not (isinstance(shards, dict) and shards.get("count") == count and isinstance(shards.get("url"), str)):
            return f"no description of its {count} shard(s)"
    made = sidecar.get("libraries")
    if made is not None and not (isinstance(made, list) and len(made) <= 64 and all(map(is_libraries, made))):
        return "libraries is not a list of library versions"
    labels = sidecar.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            return "labels is not an object"
        file = labels.get("file")
        if kind == "wds":
            if file is not None:
                return f"labels file {file!r} for shards, whose labels are their samples' .cls"
        elif not isinstance(file, str) or file != os.path.basename(file) or file in ("", ".", ".."):
            return f"labels file {file!r} is not a name beside the batch"
        elif kind == "npy" and file != os.path.basename(labels_path(out)):
            return f"labels file {file!r} is not {os.path.basename(labels_path(out))}"
        classes = labels.get("classes")
        if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
            return "classes is not a list of names"
    return None


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
        from jobs.resize_job import shards

        if chunk is None:
            return "shards without the images per shard"
        return shards.shard_problem(out, out, n, chunk)
    if out.endswith(".zarr"):
        try:
            import zarr

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
    from jobs.resize_job import shards

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
    from jobs.errors import UsageError

    if not os.path.lexists(out):
        return
    if kind_of(out) == "wds":
        from jobs.resize_job import shards

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


_PART = re.compile(r"\..+\.[0-9]+-[0-9a-f]{8}\.part")


def work_foreign(work: str) -> list[str]:
    """Entries of a work folder that imgjobs does not write there (nothing is removed)."""
    foreign = []
    try:
        entries = list(os.scandir(work))
    except OSError:
        return []
    for e in entries:
        path = os.path.join(work, e.name)
        if e.name == "plan.json" or _PART.fullmatch(e.name):
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
            from jobs.resize_job import shards

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
                ok = (_DONE_NAME.fullmatch(d.name) or _PART.fullmatch(d.name)) and d.is_file(follow_symlinks=False)
                if not ok:
                    foreign.append(os.path.join(path, d.name))
        else:
            foreign.append(path)
    return foreign


def remove_work(work: str) -> None:
    """Remove a work folder imgjobs wrote; refuse (UsageError), removing nothing, if it holds anything else."""
    from jobs.errors import UsageError

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
    import errno

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
