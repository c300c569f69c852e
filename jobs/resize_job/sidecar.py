"""A finished batch's sidecar, read as untrusted input, and the stamps of the outputs it describes.

The sidecar ``<out>.json`` says what the batch holds: its shape, how it was
resized, the library versions that made it, the stamps of its slices (one
digest per slice a task made, not one entry per image: a sidecar stays small at
millions of images), every failure, its labels and, for shards, how they are named.  :func:`check_sidecar` says
what is wrong with one (a rerun believes nothing else); :func:`output_stamp`
is what the sidecar records of the batch and its labels, so an output replaced
or edited since is never called current.
"""

from __future__ import annotations

import os
import stat

from jobs.resize_job.paths import kind_of, labels_path
from jobs.resize_job.records import is_int, is_libraries
from jobs.runtime import stamps

__all__ = ["READ_FORMATS", "SIDECAR_FORMAT", "check_sidecar", "output_stamp", "recorded_slices"]

#: What a sidecar of this layout says it is.
SIDECAR_FORMAT = "imgjobs-resize-3"
#: The formats a rerun reads: this one, and format 2 (imgjobs 0.2), which held every image's stamp and path.
READ_FORMATS = (SIDECAR_FORMAT, "imgjobs-resize-2")


def recorded_slices(sidecar: dict) -> list[tuple[int, int, str]]:
    """``(start, stop, stamp)`` of each slice of a sidecar :func:`check_sidecar` found sound, in order.

    A sidecar of format 2 recorded one stamp per image: its slices are its
    tasks' blocks, each stamp the digest :func:`jobs.runtime.stamps.of_slices` gives.
    """
    st, n = sidecar["stamps"], sidecar["shape"][0]
    if sidecar["format"] == SIDECAR_FORMAT:  # what check_sidecar checked: a format 2 "slices" is nothing of ours
        return [(a, b, d) for a, b, d in st["slices"]]
    files, batch = st["files"], sidecar["images_per_task"]
    return [(k, min(k + batch, n), stamps.digest(files[k : k + batch])) for k in range(0, n, batch)]


def _slices_problem(st: dict, n: int, old: bool) -> str | None:
    """What is wrong with a sidecar's stamps of ``n`` images (``old``: format 2's one per image)."""
    if old:
        files = st.get("files")
        if not isinstance(files, list) or len(files) != n or not all(isinstance(s, str) for s in files):
            return f"stamps of {len(files) if isinstance(files, list) else '?'} image(s) for {n}"
        return None
    slices = st.get("slices")
    if not isinstance(slices, list):
        return "no stamps of its slices"
    end = 0
    for item in slices:
        if not (isinstance(item, list) and len(item) == 3 and is_int(item[0], 0) and is_int(item[1], 1)):
            return f"a slice {str(item)[:80]} is not [start, stop, stamp]"
        if item[0] != end or item[1] <= item[0] or not stamps.is_digest(item[2]):
            return f"its slices do not cover images 0..{n - 1} in order (at {str(item)[:80]})"
        end = item[1]
    return None if end == n else f"its slices cover {end} image(s) of {n}"


def output_stamp(path: str, mode: str = "stat") -> str:
    """The stamp of an output as imgjobs left it: a file, or every file of a zarr store (one walk).

    ``stat``: size, modification time and inode of each file; ``content``: a digest
    of the bytes.  Recorded in the sidecar when the batch is finished and compared
    on a rerun, so a batch or labels file replaced, copied over, extended or edited
    since (a chunk deleted or copied, in a store) is never called current.
    """

    def one(p: str) -> str:
        st = os.lstat(p)
        if not stat.S_ISREG(st.st_mode):
            return f"not a regular file ({st.st_mode:o})"
        if mode == "content":
            return stamps.of_path(p, "content")
        return f"{stamps.stat_stamp(st.st_size, st.st_mtime_ns)}:{st.st_ino}"

    try:
        if os.path.islink(path) or not os.path.isdir(path):
            return one(path)
        items = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                items.append(f"{os.path.relpath(full, path)}={one(full)}")
        return "store:" + stamps.digest(items)
    except OSError as e:
        return f"unreadable ({e.strerror})"


def check_sidecar(sidecar, out: str) -> str | None:
    """What is wrong with a sidecar's content (None: nothing); ``out`` is the batch it sits beside."""
    if not isinstance(sidecar, dict):
        return "not a JSON object"
    if sidecar.get("format") not in READ_FORMATS:
        return f"format {sidecar.get('format')!r}, not {SIDECAR_FORMAT!r} (written by another version)"
    if not isinstance(sidecar.get("identity"), str):
        return "no identity"
    shape = sidecar.get("shape")
    if not (isinstance(shape, list) and len(shape) == 4 and all(is_int(v, 1) for v in shape) and shape[3] == 3):
        return f"shape {shape!r} is not [N, H, W, 3]"
    n = shape[0]
    if sidecar.get("size") != f"{shape[2]}x{shape[1]}":
        return f"size {sidecar.get('size')!r} is not its shape's {shape[2]}x{shape[1]}"
    st = sidecar.get("stamps")
    if not isinstance(st, dict) or st.get("mode") not in stamps.MODES:
        return "no stamps"
    if not is_int(sidecar.get("images_per_task"), 1):
        return "no images_per_task"
    problem = _slices_problem(st, n, sidecar["format"] != SIDECAR_FORMAT)
    if problem:
        return problem
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
            isinstance(f, dict) and is_int(f.get("index"), 0) and f["index"] < n and isinstance(f.get("reason"), str)
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
