"""Graph builder for the resize job: a list of images in, an (N, H, W, 3) uint8 batch out.

Planning reads the file list (paths, and labels where the list or the class
folders give them) and checks the output; it writes nothing.  The graph has
three steps:

1. one task creates the empty batch in a hidden work folder beside the output,
   ``.batch.npy.imgjobs-partial/`` (a ``.npy`` of the full size, or a zarr group
   whose ``images`` chunks are the tasks' slices), or keeps the one an
   interrupted run left there;
2. batch tasks load their images and write their slice straight into it
   (``pwrite`` at the slice's offset, or the slice's zarr chunks), make it
   durable, then record it as done (a small file in ``done/``); they return only
   per-image outcomes: the client never gathers pixels;
3. :class:`ResizeFinish` writes the labels and the sidecar, renames the batch
   into place and removes the work folder.

An interrupted run keeps its work folder: the same command again plans only the
slices not recorded as done (:func:`plan_resize`), and a rerun over a finished
output says it is up to date (:func:`up_to_date`).  A task writes the same
bytes however often it runs, so Dask may retry it freely.  Per-image work is
about 1-2 ms, close to Dask's per-task overhead, so tasks take batches of
images.  :func:`run_executor` runs the same work with the classic exercise's
executors (a plain loop, ``ThreadPoolExecutor``, ``ProcessPoolExecutor``), for
comparison.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import re
from dataclasses import dataclass

import numpy as np

from . import config, resize_tasks, stamps
from . import resize_state as state
from .files import (
    Names,
    StalePlan,
    UsageError,
    check_writable_dir,
    failure,
    list_inputs,
    list_outputs,
    new_token,
    read_json,
    remove_path,
    sweep_temporaries,
    write_atomic,
)
from .options import ResizeOptions, parse_size
from .report import Outcomes, Report
from .resize_state import PARTIAL_SUFFIX, labels_path, partial_dir, sidecar_path
from .rle_graphs import IMAGE_EXTENSIONS
from .runtime import Finish, Plan

__all__ = [
    "FAILED_LABEL",
    "PARTIAL_SUFFIX",
    "ResizeFinish",
    "ResizeTarget",
    "Source",
    "labels_path",
    "parse_size",
    "plan_resize",
    "read_labelled",
    "read_source",
    "resize_array",
    "run_executor",
    "sidecar_path",
    "up_to_date",
]

log = logging.getLogger(__name__)


#: Bumped when the layout of the work folder or what a slice holds changes: older work is started over.
_LAYOUT = 2

#: The label of an image that failed: never a label a source may give (negative labels are refused).
FAILED_LABEL = -1


_WHOLE = re.compile(r"[+-]?[0-9]+")


def split_list_line(line: str) -> tuple[str, str | None]:
    """A file list line -> (path, label or None).

    ``path<TAB>label`` takes any label (a class name such as ``n01440764``);
    ``path label`` (ImageNet's convention: a whole number after the last space)
    keeps the path, spaces and all; any other line is a path, spaces and all
    (``my photo.jpg``).
    """
    if "\t" in line:
        path, _, rest = line.partition("\t")
        return path.strip(), rest.strip() or None
    head, _, last = line.rpartition(" ")
    if head.strip() and _WHOLE.fullmatch(last):
        return head.strip(), last
    return line, None


@dataclass(frozen=True)
class Source:
    """What a resize job reads: the images in order, and their labels when the source has them.

    Attributes
    ----------
    paths : list of str
        Absolute or source-relative image paths, in batch order.
    labels : numpy.ndarray or None
        int64 class index per image (None: the source has no labels).
    classes : list of str or None
        Class names, index -> name: sorted folder names or sorted text labels;
        None when the list's labels are already whole numbers.
    origin : str or None
        Where the labels come from: ``"list"`` or ``"folders"``.
    """

    paths: list
    labels: np.ndarray | None = None
    classes: list | None = None
    origin: str | None = None

    def head(self, n: int) -> Source:
        """The first ``n`` images (their labels, the same classes)."""
        labels = None if self.labels is None else self.labels[:n]
        return Source(self.paths[:n], labels, self.classes, self.origin)


def _encode_labels(where: str, names: list, texts: list, lines: list) -> tuple:
    """Text labels of every line -> (int64 array, class names or None).

    Whole numbers are taken as they are (ImageNet's ``path 7``) and must lie in
    0 .. 2**63 - 1: the label -1 marks a failed image (:data:`FAILED_LABEL`), so
    no label given may be negative.  Any other text is a class name; names are
    sorted and numbered from 0.
    """
    missing = [i for i, t in enumerate(texts) if t is None]
    if len(missing) == len(texts):
        return None, None
    if missing:
        i = missing[0]
        raise UsageError(
            f"{where}, line {lines[i]}: {names[i]} has no label while {len(texts) - len(missing)} others have one: "
            "label every line (path<TAB>label, or path and a whole number) or none"
        )
    if all(_WHOLE.fullmatch(t) for t in texts):
        values = []
        for i, t in enumerate(texts):
            v = int(t)
            if not 0 <= v < 2**63:
                raise UsageError(
                    f"{where}, line {lines[i]}: label {t} is outside 0 .. 2**63-1 (negative labels are refused: "
                    f"{FAILED_LABEL} marks a failed image); renumber the labels from 0, or use class names"
                )
            values.append(v)
        return np.array(values, dtype=np.int64), None
    classes = sorted(set(texts))
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index[t] for t in texts], dtype=np.int64), classes


def _read_list(path: str) -> Source:
    base = os.path.dirname(os.path.abspath(path))
    paths, texts, lines = [], [], []
    try:
        with open(path, encoding="utf-8-sig") as f:  # a byte-order mark is not part of the first path
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if "\0" in line:
                    raise UsageError(f"{path}, line {number}: a NUL byte in a path; remove it")
                name, label = split_list_line(line)
                paths.append(name if os.path.isabs(name) else os.path.join(base, name))
                texts.append(label)
                lines.append(number)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save the list as UTF-8") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read the file list: {e.strerror or e}") from None
    labels, classes = _encode_labels(path, paths, texts, lines)
    return Source(paths, labels, classes, None if labels is None else "list")


def _read_directory(source: str) -> Source:
    """A directory of images, or of class folders of images (``train/n01440764/x.JPEG``)."""
    listing = list_inputs(source, IMAGE_EXTENSIONS)
    names = sorted(listing.names + [n for n, _ in listing.others])
    with os.scandir(source) as it:
        folders = sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    if names:  # entries that are not regular files stay in the batch, so they fail by name, in order
        if folders:
            log.warning(
                "%s holds %d image(s) at its top level, so it is read as one folder of images, unlabelled: its "
                "%d sub-folder(s) (%s) are not read; move the images into a class folder for class labels",
                source,
                len(names),
                len(folders),
                ", ".join(folders[:3]) + (" ..." if len(folders) > 3 else ""),
            )
        return Source([os.path.join(source, n) for n in names])
    paths, labels, empty = [], [], []
    for k, folder in enumerate(folders):  # every folder is a class, empty or not: indices never shift
        inner = list_inputs(os.path.join(source, folder), IMAGE_EXTENSIONS)
        found = sorted(inner.names + [n for n, _ in inner.others])
        paths += [os.path.join(source, folder, n) for n in found]
        labels += [k] * len(found)
        if not found:
            empty.append(folder)
    if not paths:
        return Source([])
    if empty:
        log.warning(
            "%s: %d class folder(s) hold no images (%s): they keep their class index, so every split of this "
            "tree numbers its classes the same",
            source,
            len(empty),
            ", ".join(empty[:5]) + (" ..." if len(empty) > 5 else ""),
        )
    return Source(paths, np.array(labels, dtype=np.int64), folders, "folders")


def read_labelled(source, num_images: int | None = None) -> Source:
    """Images and their labels from a file list, a JSON config, a directory or class folders.

    Parameters
    ----------
    source : str
        A text file with one image per line (relative paths are relative to the
        list) and optionally a label: ``path<TAB>label`` or ImageNet's ``path 7``;
        a ``.json`` config of the exercise's shape (``{"data": {"train_filelist":
        "..."}}``; the list path is relative to the JSON file); a directory of
        images; or a directory of class folders of images, each folder a class.
    num_images : int, optional
        Take the first N; fewer available is an error.

    Returns
    -------
    Source

    Raises
    ------
    UsageError
        For a missing source, a config without a file list, too few images, or a
        list where some lines have labels and others not.
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        found = _read_directory(source)
    elif not os.path.isfile(source):
        raise UsageError(f"{source}: no such file or directory")
    elif source.lower().endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                cfg = json.load(f)
            listed = cfg["data"]["train_filelist"]
        except OSError as e:
            raise UsageError(f"{source}: cannot read: {e.strerror or e}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(
                f'{source}: expected a JSON config like {{"data": {{"train_filelist": "list.txt"}}}} ({e})'
            ) from None
        if not os.path.isabs(listed):
            listed = os.path.join(os.path.dirname(os.path.abspath(source)), listed)
        if not os.path.isfile(listed):
            raise UsageError(f"{source}: its train_filelist {listed} does not exist")
        found = _read_list(listed)
    else:
        found = _read_list(source)
    if num_images is not None:
        if num_images < 1:
            raise UsageError(f"--num-images must be >= 1, got {num_images}")
        if len(found.paths) < num_images:
            raise UsageError(f"{source} lists {len(found.paths)} image(s), fewer than the {num_images} asked for")
        found = found.head(num_images)
    if not found.paths:
        raise UsageError(f"{source}: no images found")
    return found


def read_source(source, num_images: int | None = None) -> list[str]:
    """Image paths from a file list, a JSON config or a directory, in order (see :func:`read_labelled`)."""
    return read_labelled(source, num_images).paths


@dataclass(frozen=True)
class ResizeTarget:
    """Where a resize job writes, and what its tasks must find there when they run.

    Attributes
    ----------
    out : str
        The final ``.npy`` file or ``.zarr`` store.
    work : str
        The hidden work folder: the batch being filled, ``plan.json`` and ``done/``.
    n : int
        Images in the batch.
    size : (int, int)
        Width and height of each image.
    batch : int
        Images per task (the zarr chunk length).
    token : str
        The run that owns the work folder (``plan.json`` names it).
    identity : str
        What the batch holds (files in order, size, method, limits, kind of
        stamp): work recorded for another identity is never reused.
    fresh : bool
        Start the work folder over; False to resume the one ``token`` owns.
    stamp_mode : str
        ``stat`` or ``content`` (:mod:`jobs.stamps`).
    expect_out : str
        What was at ``out`` when the job was planned (:func:`jobs.resize_state.out_stamp`):
        the first task refuses to go on if that changed (:class:`~jobs.files.StalePlan`).
    reopen : bool
        The finished batch at ``out`` is moved back into the work folder and only
        the slices the first task is given are kept: inputs or labels changed
        since it was built.  (Those slices travel with that one task only: every
        task carries this target, so it holds nothing that grows with the batch.)
    overwrite : bool
        An old batch at ``out`` is replaced (only one imgjobs wrote).
    """

    out: str
    work: str
    n: int
    size: tuple
    batch: int
    token: str = ""
    identity: str = ""
    fresh: bool = True
    stamp_mode: str = "stat"
    expect_out: str = "absent"
    reopen: bool = False
    overwrite: bool = False

    @property
    def zarr(self) -> bool:
        """True for a zarr store."""
        return self.out.endswith(".zarr")

    @property
    def target(self) -> str:
        """The batch being filled, inside the work folder."""
        return os.path.join(self.work, "batch.zarr" if self.zarr else "batch.npy")

    @property
    def done_dir(self) -> str:
        """Where each finished slice is recorded, one file each."""
        return os.path.join(self.work, "done")

    @property
    def plan_file(self) -> str:
        """What the work folder holds, and for which run."""
        return os.path.join(self.work, "plan.json")

    def check_owner(self) -> dict:
        """The work folder's plan, if this run owns it; else :class:`~jobs.files.StalePlan`."""
        recorded = state.read_plan(self.plan_file)
        if recorded is None or recorded["token"] != self.token or recorded["identity"] != self.identity:
            raise StalePlan(
                f"{self.work} no longer holds the run this job was planned for (another run replaced or "
                f"finished it): plan the job again (for {self.out})"
            )
        return recorded

    def finished(self) -> list:
        """The slices recorded as done, which must cover every image exactly once; else :class:`StalePlan`."""
        done, _ = state.read_done(self.done_dir, self.token, self.identity, self.n, self.batch if self.zarr else None)
        pos = 0
        for d in done:
            if d.start != pos:
                break
            pos = d.stop
        if pos != self.n:
            raise StalePlan(
                f"images {pos}.. of {self.out} are not recorded as finished in {self.done_dir} (the work folder "
                "changed while this job ran, or a graph was computed twice): plan the job again"
            )
        return done


@dataclass(frozen=True)
class ResizeFinish(Finish):
    """Finishing a resize job: labels, sidecar, rename into place; or keep the work folder to resume."""

    job: str
    token: str
    where: ResizeTarget
    paths: Names
    opts: ResizeOptions
    stale: tuple = ()
    starts: tuple = ()
    todo: tuple = ()
    source: Source | None = None
    resumed: int = 0
    origin: object = None  # (source, num_images) as given: what recheck reads again
    kept: tuple = ()  # reopening a finished batch: the slices still current (Done)

    @property
    def lock_dir(self) -> str:
        """The batch's directory: its lock covers the batch, sidecar, labels and work folder."""
        return os.path.dirname(os.path.abspath(self.where.out))

    def recheck(self) -> None:
        """The source lists the same images and labels, and every image is as the tasks read it, else StalePlan."""
        w = self.where
        if self.origin is not None:
            found = read_labelled(*self.origin)
            if _identity(found.paths, self.opts) != w.identity or _labels_digest(found) != _labels_digest(self.source):
                raise StalePlan(f"{self.origin[0]} changed since this job was planned: plan the job again")
        done = w.finished()
        now = stamps.of_paths(self.paths, w.stamp_mode)
        changed = [d.start + i for d in done for i, s in enumerate(d.stamps) if s != now[d.start + i]]
        if changed:
            raise StalePlan(
                f"{len(changed)} image(s) changed since this job was planned or read ({_names(self.paths, changed)}): "
                "plan the job again"
            )

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> Report:
        """Write the labels and the sidecar, then move the finished batch into place; return the report.

        What the batch holds is read back from the work folder's records, not
        taken from the plan: every image must be recorded as finished by this
        run (else :class:`~jobs.files.StalePlan`), and the stamps and failures
        written to the sidecar are those the tasks saw.  The batch is synced
        first, the labels and the sidecar written through temporaries and
        renamed, and only then does the batch get its name: whoever sees the
        batch finds its sidecar.
        """
        w = self.where
        w.check_owner()
        done = w.finished()
        if not w.zarr:
            fd = os.open(w.target, os.O_RDONLY)
            try:
                os.fsync(fd)  # every task's slice is on disk before the batch gets its name
            finally:
                os.close(fd)
        failures, file_stamps, results = [], [], []
        for d in done:
            o = Outcomes(self.paths[d.start : d.stop])
            for i, reason in d.failed:
                o.fail(i, reason)
                failures.append({"index": d.start + i, "path": o.src[i], "reason": reason})
            file_stamps.extend(d.stamps)
            results.append(o)
        labels = self._labels(failures)
        sidecar = {
            "format": state.SIDECAR_FORMAT,
            "output": os.path.abspath(w.out),
            "shape": [w.n, w.size[1], w.size[0], 3],
            "dtype": "uint8",
            "size": f"{w.size[0]}x{w.size[1]}",
            "resize": {
                "method": self.opts.method,
                "draft_fraction": self.opts.draft_fraction if self.opts.method == "draft" else None,
                "filter": "bicubic (Pillow)" if self.opts.method == "exact" else "area (OpenCV INTER_AREA)",
                "exif_transpose": True,
                "max_pixels": self.opts.max_pixels,
            },
            "identity": w.identity,
            "images_per_task": w.batch,
            "stamps": {"mode": w.stamp_mode, "files": file_stamps},
            "labels_digest": _labels_digest(self.source),
            "files": [os.path.abspath(p) for p in self.paths],
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
        written = []
        try:
            if labels:
                written.append(self._write_labels(*labels))
            sidecar["outputs"] = {  # what a rerun compares: a batch or labels changed since are never current
                "batch": state.output_stamp(w.target, w.stamp_mode),
                "labels": state.output_stamp(labels_path(w.out), w.stamp_mode) if labels and not w.zarr else None,
            }
            side = sidecar_path(w.out)
            write_atomic(side, [json.dumps(sidecar, indent=1).encode()], self.token)
            written.append(side)
            if w.zarr:
                state.remove_store(w.out)  # an old store of ours (planning checked; checked again here)
            os.replace(w.target, w.out)
        except OSError as e:
            for path in written:
                remove_path(path)  # no sidecar or labels without their batch
            raise OSError(e.errno, f"cannot move the finished batch to {w.out}: {e.strerror}", w.target) from None
        old_labels = labels_path(w.out)
        if not labels and not w.zarr and os.path.isfile(old_labels) and not os.path.islink(old_labels):
            os.remove(old_labels)  # --overwrite of a labelled batch by an unlabelled one (only a file, never a folder)
        try:
            state.remove_work(w.work)
        except UsageError as e:  # the batch is in place; files someone added there stay
            log.warning("%s", e)
        sweep_temporaries(os.path.dirname(w.out), stale=self.stale)
        return Report("resize", results, seconds, scheduler=scheduler, output=w.out, sidecar=sidecar)

    def _labels(self, failures: list):
        """(int64 labels with -1 for failed images, what the sidecar says of them), or None."""
        src = self.source
        if src is None or src.labels is None:
            return None
        labels = src.labels.copy()
        labels[[f["index"] for f in failures]] = FAILED_LABEL
        where = "labels" if self.where.zarr else os.path.basename(labels_path(self.where.out))
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
        if w.zarr:
            import zarr

            group = zarr.open_group(w.target, mode="r+")
            group.create_array("labels", shape=labels.shape, dtype="int64", overwrite=True)[:] = labels
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


def _identity(paths: list, opts: ResizeOptions) -> str:
    """A digest of what a batch holds given its files' content: files in order, size, method, limits."""
    fraction = opts.draft_fraction if opts.method == "draft" else None
    head = json.dumps([_LAYOUT, len(paths), list(opts.size), opts.method, fraction, opts.max_pixels])
    return stamps.digest([head, *(os.path.abspath(p) for p in paths)])


def _labels_digest(source: Source | None) -> str:
    """A digest of a source's labels and classes (``none`` without labels)."""
    if source is None or source.labels is None:
        return "none"
    return stamps.digest([json.dumps(source.classes), source.labels.astype("<i8").tobytes().hex()])


def _check_not_an_input(out: str, outputs, source, paths: list) -> None:
    """Refuse outputs that would overwrite the source, its file list or an image."""
    source = os.path.abspath(os.fspath(source))
    inputs = {source, *map(os.path.abspath, paths)}
    if os.path.isfile(source) and source.lower().endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                listed = json.load(f)["data"]["train_filelist"]
            inputs.add(os.path.abspath(os.path.join(os.path.dirname(source), listed)))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    for path, what in outputs:
        if os.path.abspath(path) in inputs:
            raise UsageError(f"{path} ({what}) is one of the job's inputs: choose another --out")
    # The same files under other names (a link, a symbolic link to a directory), and images inside a
    # store that --overwrite would remove: what exists of the outputs, by device and inode (a store:
    # every file in it), against every input.
    taken = {}
    for path, what in outputs:
        if what == "its work folder" or not os.path.lexists(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            for root, _, files in os.walk(path):
                for f in files:
                    with contextlib.suppress(OSError):
                        st = os.stat(os.path.join(root, f))
                        taken[(st.st_dev, st.st_ino)] = f"is inside {path} ({what})"
        else:
            with contextlib.suppress(OSError):
                st = os.stat(path)
                taken[(st.st_dev, st.st_ino)] = f"is {path} ({what}) under another name"
    if taken:
        for p in sorted(inputs):
            try:
                st = os.stat(p)
            except OSError:
                continue
            why = taken.get((st.st_dev, st.st_ino))
            if why:
                raise UsageError(f"{p}, one of the job's inputs, {why}: choose another --out")
    if os.path.isdir(source) and out.endswith(".zarr"):
        real_out, real_src = os.path.realpath(out), os.path.realpath(source)
        if real_out.startswith(real_src + os.sep):
            raise UsageError(
                f"{out} is inside the source directory {source}: it would be read as a class folder on the next "
                "run; choose an --out outside it"
            )


def _auto_batch(n: int, parallelism: int) -> int:
    per_task = config.get_int("resize.images-per-task", low=1)
    tasks_per_thread = config.get_int("resize.tasks-per-thread", low=1)
    want = math.ceil(n / max(1, tasks_per_thread * parallelism))
    return max(1, min(per_task, want))


def _earlier_work(where: ResizeTarget, now: list) -> tuple[dict, list, int, int] | None:
    """What an interrupted run of the same job left: (its plan, slices still current, images changed, ignored).

    One listing of ``done/``.  None when the folder holds another job's work, an
    incomplete start, or a batch of another size (it is started over).  A slice
    whose images changed since it was recorded (their stamps differ) is not kept.
    """
    recorded = state.read_plan(where.plan_file)
    if recorded is None or recorded["identity"] != where.identity or recorded["n"] != where.n:
        return None
    w, h = where.size
    if where.zarr:
        chunk = recorded.get("chunk")
        if not chunk or state.batch_problem(where.target, (where.n, h, w, 3), False):
            return None
    else:
        chunk = None
        if state.batch_problem(where.target, (where.n, h, w, 3), False):
            return None
    done, ignored = state.read_done(where.done_dir, recorded["token"], where.identity, where.n, chunk)
    kept, changed = [], 0
    offset = _npy_offset(where) if not where.zarr else 0
    image = where.size[0] * where.size[1] * 3
    for d in done:
        moved = sum(1 for a, b in zip(d.stamps, now[d.start : d.stop], strict=True) if a != b)
        if moved:
            changed += moved
        elif not state.slice_written(
            where.target, where.zarr, d.start, d.stop, chunk or 1, lambda i: offset + i * image
        ):
            ignored += 1  # recorded, but no task wrote it: the record lies
        else:
            kept.append(d)
    return recorded, kept, changed, ignored


def _npy_offset(where) -> int:
    """Where a batch's data starts: the length of the ``.npy`` header create_output writes."""
    w, h = where.size
    return len(state.npy_header((where.n, h, w, 3)))


def _ranges(n: int, done: list, batch: int, aligned: bool) -> list[tuple[int, int]]:
    """The slices still to do, at most ``batch`` images each (``aligned``: whole chunks of ``batch``)."""
    todo, pos = [], 0
    for start, stop in [*((d.start, d.stop) for d in done), (n, n)]:
        if start > pos:
            k = pos
            while k < start:
                end = min(start, (k // batch + 1) * batch if aligned else k + batch)
                todo.append((k, end))
                k = end
        pos = max(pos, stop)
    return todo


def _describe(sidecar) -> str:
    if not isinstance(sidecar, dict):
        return "?"
    resize = sidecar.get("resize") if isinstance(sidecar.get("resize"), dict) else {}
    shape = sidecar.get("shape") if isinstance(sidecar.get("shape"), list) and sidecar.get("shape") else ["?"]
    return f"{shape[0]} image(s) of {sidecar.get('size', '?')}, method {resize.get('method', '?')}"


def _names(paths, indices: list, most: int = 3) -> str:
    shown = ", ".join(os.path.basename(paths[i]) for i in indices[:most])
    return shown + (f" and {len(indices) - most} more" if len(indices) > most else "")


@dataclass
class _Finished:
    """What a rerun found at a finished output of this job."""

    current: bool = False
    rebuild: str = ""  # why it is rebuilt whole (damaged batch)
    reopen: str = ""  # why some slices (or only the labels) are redone
    kept: tuple = ()
    batch: int = 0
    sidecar: dict | None = None


def _failed_slots_not_zero(out: str, sidecar: dict) -> list:
    """Images the sidecar lists as failed whose slots hold pixels (a failed image leaves its slot zero)."""
    index = [f["index"] for f in sidecar["failed"]]
    if not index:
        return []
    if out.endswith(".zarr"):
        import zarr

        images = zarr.open_array(out, path="images", mode="r")
    else:
        images = np.load(out, mmap_mode="r")
    return [i for i in index if images[i].any()]


def _assess(out: str, sidecar: dict, n: int, size, now: list, mode: str, labels_id: str, paths) -> _Finished:
    """A finished batch whose sidecar says it is this job's: current, to rebuild, or to reopen (and why)."""
    w, h = size
    recorded_mode = sidecar["stamps"]["mode"]
    damage = state.batch_problem(
        out, (n, h, w, 3), False, sidecar["images_per_task"] if out.endswith(".zarr") else None
    )
    if not damage and state.output_stamp(out, recorded_mode) != sidecar["outputs"]["batch"]:
        damage = "it changed since it was built: replaced, copied over or edited"
    if not damage and _failed_slots_not_zero(out, sidecar):
        damage = "its sidecar lists failed images whose slots hold pixels"
    if damage:
        return _Finished(rebuild=f"{out} is damaged ({damage}): rebuilding it", sidecar=sidecar)
    recorded = sidecar["stamps"]["files"]
    why = []
    if sidecar["stamps"]["mode"] != mode:
        changed = list(range(n))
        why.append(
            f"its images were stamped by {sidecar['stamps']['mode']}, now by {mode}: every image is decoded again"
        )
    else:
        changed = [i for i in range(n) if recorded[i] != now[i]]
    if changed and not why:
        why.append(f"{len(changed)} image(s) changed since it was built ({_names(paths, changed)})")
    if sidecar["labels_digest"] != labels_id:
        why.append("its labels changed")
    elif sidecar["labels"] is not None:
        problem = state.batch_problem(out, (n, h, w, 3), True)
        if not problem and not out.endswith(".zarr"):
            if state.output_stamp(labels_path(out), recorded_mode) != sidecar["outputs"]["labels"]:
                problem = "changed since it was built"
        if problem:
            why.append(f"its labels are damaged ({problem})")
    if not why:
        return _Finished(current=True, sidecar=sidecar)
    batch = sidecar["images_per_task"]
    moved = set(changed)
    failed: dict = {}
    for f in sidecar["failed"]:
        failed.setdefault(f["index"] // batch, []).append((f["index"] % batch, f["reason"]))
    kept = []
    for k in range(0, n, batch):
        stop = min(k + batch, n)
        if not any(i in moved for i in range(k, stop)):
            kept.append(state.Done(k, stop, recorded[k:stop], failed.get(k // batch, [])))
    return _Finished(reopen=f"{out}: {' and '.join(why)}: redoing that", kept=tuple(kept), batch=batch, sidecar=sidecar)


@dataclass(frozen=True)
class _Current(Finish):
    """The finish of a plan with nothing to do: its report, if the output is still as planned when it runs."""

    job: str
    token: str
    out: str
    expect_out: str
    expect_sidecar: str
    report: Report
    source: object = None
    opts: ResizeOptions | None = None

    @property
    def lock_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.out))

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> Report:
        """The up-to-date report; :class:`~jobs.files.StalePlan` if the batch or its sidecar changed since planning."""
        if (state.out_stamp(self.out), state.out_stamp(sidecar_path(self.out))) != (
            self.expect_out,
            self.expect_sidecar,
        ):
            raise StalePlan(f"{self.out} changed since this job was planned: plan the job again")
        return self.report

    def recheck(self) -> None:
        """Still up to date now (inputs, labels, outputs), else :class:`~jobs.files.StalePlan`."""
        if self.source is not None and plan_resize(self.source, self.out, self.opts).current is None:
            raise StalePlan(f"{self.out} is no longer up to date (its inputs or outputs changed): plan the job again")

    def abort(self) -> None:
        """Nothing was written."""


def _up_to_date_report(out: str, paths, sidecar: dict) -> Report:
    failed = len(sidecar["failed"])
    note = f"{out} is up to date (use --overwrite to rebuild it)"
    outcomes = Outcomes(paths, status="skipped", reason=note)
    report = Report("resize", [outcomes], 0.0, scheduler="nothing to do", output=out, sidecar=sidecar)
    report.up_to_date = f"{note}; {failed} image(s) failed when it was built" if failed else note
    return report


def up_to_date(source, out, opts: ResizeOptions | None = None) -> Report | None:
    """The report of a rerun with nothing to do, or None.

    When ``out`` holds this very job (the same files in the same order with the
    same content stamps, labels, size, method and limits) and the batch and its
    labels are intact, there is nothing to do: the report says so, every image
    ``skipped``, and its exit code is 0.  Holds the output's lock while it looks.
    """
    from .files import output_lock

    opts = opts or ResizeOptions.resolve()
    out = os.fspath(out)
    if opts.overwrite or not os.path.lexists(out):
        return None
    disabled = log.disabled
    log.disabled = True  # the run that follows says what it finds; this look says nothing twice
    try:
        with output_lock(os.path.dirname(os.path.abspath(out))):
            return plan_resize(source, out, opts).current
    except UsageError:
        return None
    finally:
        log.disabled = disabled


def plan_resize(source, out, opts: ResizeOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan building an (N, H, W, 3) uint8 batch from a list of images, resuming or refreshing earlier work.

    Parameters
    ----------
    source : str
        File list, JSON config, directory or class folders (see :func:`read_labelled`).
    out : str
        ``.npy`` file or ``.zarr`` store.
    opts : ResizeOptions, optional
        Resolved options (default: from config).
    parallelism : int
        Threads that will run the graph.

    Returns
    -------
    jobs.runtime.Plan
        ``plan.current`` is the report when ``out`` is up to date (no tasks).
        Otherwise tasks for the slices to do: all of them; or, resuming an
        interrupted run of the same job, those not recorded as done; or, when
        some images or the labels changed since ``out`` was built, the slices
        holding changed images (the rest of the batch is kept).

    Raises
    ------
    UsageError
        For an output that holds another job (``overwrite`` replaces it, if
        imgjobs wrote it), names an input, or cannot be written.
    """
    opts = opts or ResizeOptions.resolve()
    out = os.fspath(out)
    if not (out.endswith(".npy") or out.endswith(".zarr")):
        raise UsageError(f"output {out} must end in .npy or .zarr")
    found = read_labelled(source, opts.num_images)
    paths = found.paths
    side = sidecar_path(out)
    outputs = state.family(out)
    _check_not_an_input(out, outputs, source, paths)
    if os.path.islink(out):
        raise UsageError(
            f"{out} is a symbolic link: imgjobs writes a batch of its own there, never through a link; "
            "remove the link or choose another --out"
        )
    if out.endswith(".npy") and os.path.lexists(labels_path(out)) and not os.path.isfile(labels_path(out)):
        raise UsageError(f"{labels_path(out)} (its labels) is not a file: move it away or choose another --out")
    if out.endswith(".npy") and os.path.isdir(out):
        raise UsageError(f"{out} is a directory: a .npy output is a file; remove it or choose another name")
    if os.path.isdir(side):
        raise UsageError(f"{side} (the sidecar) is a directory: remove it or choose another output name")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {out}: directory {parent} does not exist")
    if out.endswith(".zarr"):
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise UsageError("writing .zarr needs the zarr package: pip install zarr (or use a .npy output)") from None
    n = len(paths)
    mode = opts.stamps
    identity = _identity(paths, opts)
    now = stamps.of_paths(paths, mode)
    labels_id = _labels_digest(found)
    sidecar = read_json(side) if os.path.lexists(side) else None
    problem = "missing" if sidecar is None and not os.path.lexists(side) else state.check_sidecar(sidecar, out)
    ours = problem is None and sidecar["identity"] == identity and sidecar["shape"][0] == n
    assessed = _Finished()
    if os.path.lexists(out):
        if opts.overwrite:
            state.removable(out)  # only an output imgjobs wrote is replaced
        elif problem is not None:
            raise UsageError(
                f"{out} exists and its sidecar {side} is {'missing' if problem == 'missing' else 'damaged: ' + problem}"
                ": imgjobs cannot tell what it holds; use --overwrite to replace it"
            )
        elif not ours:
            raise UsageError(
                f"{out} (the batch) exists from another job (it holds {_describe(sidecar)}): "
                "use --overwrite to replace it"
            )
        else:
            assessed = _assess(out, sidecar, n, opts.size, now, mode, labels_id, paths)
            if assessed.current:
                plan = Plan("resize", unit="image")
                plan.current = _up_to_date_report(out, paths, sidecar)
                plan.finish = _Current(
                    "resize", new_token(), out, state.out_stamp(out), state.out_stamp(side), plan.current, source, opts
                )
                return plan
            if assessed.rebuild:
                state.removable(out)
                log.warning("%s", assessed.rebuild)
            else:
                log.warning("%s", assessed.reopen)
    elif not opts.overwrite and not ours:
        for path, what in outputs[1:-1]:
            if os.path.lexists(path):
                raise UsageError(f"{path} ({what}) exists: use --overwrite to replace it")
    check_writable_dir(parent)
    token = new_token()
    work = partial_dir(out)
    batch = assessed.batch or opts.batch_size or _auto_batch(n, parallelism)
    common = dict(stamp_mode=mode, expect_out=state.out_stamp(out))
    probe = ResizeTarget(out, work, n, opts.size, batch, token, identity, fresh=False, **common)
    earlier = None if (opts.overwrite or assessed.rebuild or assessed.reopen) else _earlier_work(probe, now)
    done: list = list(assessed.kept)
    if earlier is not None:
        recorded, done, changed, ignored = earlier
        if probe.zarr:
            batch = recorded["chunk"]  # the store's chunks are the tasks: keep them
        token = recorded["token"]
        if changed:
            log.warning(
                "resize: %d image(s) changed since an interrupted run decoded them: their slices are redone", changed
            )
        if ignored:
            log.warning(
                "resize: %d record(s) in %s were not this job's or were damaged: their slices are redone",
                ignored,
                os.path.join(work, "done"),
            )
    elif os.path.isdir(work) and not assessed.reopen:
        log.info("%s holds the work of another job or an incomplete start: starting over", work)
    where = ResizeTarget(
        out,
        work,
        n,
        opts.size,
        batch,
        token,
        identity,
        fresh=earlier is None,
        reopen=bool(assessed.reopen),
        overwrite=bool(opts.overwrite or assessed.rebuild),
        **common,
    )
    todo = _ranges(n, done, batch, aligned=where.zarr)
    prefixes = (
        f".{os.path.basename(out)}.",
        f".{os.path.basename(side)}.",
        f".{os.path.basename(labels_path(out))}.",
    )
    stale = tuple(t for t in list_outputs(os.path.dirname(out)).temporaries if t.startswith(prefixes))
    names = Names("", tuple(paths))
    plan = Plan("resize", unit="image")
    settled, starts = [], []
    for d in done:
        o = Outcomes(names[d.start : d.stop])
        for i, reason in d.failed:
            o.fail(i, reason)
        settled.append(o)
        starts.append(d.start)
    resumed = sum(d.stop - d.start for d in done)
    run = new_token()  # task keys of this run; the files keep the token of the run that created them
    prepare = (f"resize-create-{run}", 0)
    kept = tuple(done) if assessed.reopen else ()
    plan.graph[prepare] = (resize_tasks.create_output, where, kept)
    plan.exclusive.add(prepare)
    for k, (start, stop) in enumerate(todo):
        key = (f"resize-batch-{run}", k)
        plan.graph[key] = (resize_tasks.fill, where, prepare, start, names[start:stop], opts)
        plan.outputs.append(key)
        plan.watch[key] = (stop - start, stop - start)
        starts.append(start)
    if not todo:
        plan.outputs.append(prepare)  # only the labels change: the first task still runs
    plan.settled = settled
    plan.finish = ResizeFinish(
        "resize",
        run,
        where,
        names,
        opts,
        stale,
        tuple(starts),
        tuple(todo),
        found,
        resumed,
        (source, opts.num_images),
        kept,
    )
    plan.total = plan.nfiles = n - resumed
    plan.executor = lambda kind, workers, progress: run_executor(plan.finish, kind, workers, progress)
    if resumed and not assessed.reopen:
        log.warning(
            "resize: resuming %s: %d of %d image(s) were finished by an earlier run; %d task(s) left",
            work,
            resumed,
            n,
            len(todo),
        )
    log.info("resize: %d image(s) in %d task(s) of %d", n - resumed, len(todo), batch)
    return plan


def resize_array(
    source,
    *,
    num_images=None,
    size=None,
    method=None,
    draft_fraction=None,
    chunk=None,
    max_pixels=None,
    errors: str = "raise",
):
    """The batch as a lazy :class:`dask.array.Array`, in the style of dask-image's ``imread``.

    Nothing is read until it is computed: each chunk is one task that gets its
    file names (never pixels) and decodes and resizes them on whatever worker
    runs it, exactly as :func:`jobs.resize` would.  For feeding a model or a
    ``map_blocks`` pipeline without writing a batch file; the labels come from
    :func:`read_labelled`.

    Parameters
    ----------
    source : str or os.PathLike
        File list, JSON config, directory or class folders (see :func:`read_labelled`).
    num_images, size, method, draft_fraction, max_pixels
        As for :func:`jobs.resize` (defaults from ``imgjobs.resize.*``).
    chunk : int, optional
        Images per chunk (default ``imgjobs.resize.images-per-task``).
    errors : {"raise", "zero"}
        A failed image raises (naming the file) when its chunk is computed, or
        leaves its slot zero.

    Returns
    -------
    dask.array.Array
        Shape (N, H, W, 3), uint8, chunked along the first axis.

    Examples
    --------
    >>> import jobs
    >>> batch = jobs.resize_array("train.txt", size="64x64")  # nothing read yet
    >>> batch.shape, batch.chunksize
    ((4, 64, 64, 3), (4, 64, 64, 3))
    >>> batch.mean(axis=(0, 1, 2)).compute().round(-1)  # the mean colour: random noise
    array([130., 130., 130.])
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    if errors not in ("raise", "zero"):
        raise UsageError(f"errors must be 'raise' or 'zero', got {errors!r}")
    opts = ResizeOptions.resolve(size, method, draft_fraction, chunk, num_images, None, max_pixels)
    paths = [os.path.abspath(p) for p in read_labelled(source, opts.num_images).paths]
    step = opts.batch_size or config.get_int("resize.images-per-task", low=1)
    name = "imgjobs-resize-array-" + tokenize(paths, opts, errors)
    graph, sizes = {}, []
    for k, start in enumerate(range(0, len(paths), step)):
        chunk_paths = tuple(paths[start : start + step])
        graph[(name, k, 0, 0, 0)] = (resize_tasks.load_block, chunk_paths, opts, errors)
        sizes.append(len(chunk_paths))
    w, h = opts.size
    chunks = (tuple(sizes), (h,), (w,), (3,))
    return da.Array(HighLevelGraph.from_collections(name, graph, dependencies=()), name, chunks, dtype=np.uint8)


def _exercise_one(args):
    from .stamps import MISSING

    path, opts = args
    stamp = MISSING
    try:
        data, stamp = resize_tasks.read_input(path, opts.stamps)
        img = resize_tasks.load_rgb(path, opts.size, opts.method, opts.draft_fraction, opts.max_pixels, data=data)
        return img, None, stamp
    except Exception as e:  # one image fails, by name
        return None, failure(path, e), stamp


def run_executor(finish: ResizeFinish, kind: str, workers: int, progress) -> list:
    """Run a resize plan with the exercise's executors instead of Dask; return its outcomes.

    ``serial`` is a plain loop, ``threads`` a ``ThreadPoolExecutor`` and
    ``processes`` a ``ProcessPoolExecutor`` of ``workers``, one image per call as in the
    exercise.  Images are written into the same output as the Dask path, those the
    plan left to do, and recorded as done together at the end (an interrupted
    executor run starts its part over).
    """
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    where, opts = finish.where, finish.opts
    resize_tasks.create_output(where, finish.kept)
    where.check_owner()
    out = resize_tasks.open_images(where, "r+")  # .npy: a memory map, one process writes
    index = [i for start, stop in finish.todo for i in range(start, stop)]
    items = [(finish.paths[i], opts) for i in index]
    groups = [Outcomes(finish.paths[start:stop]) for start, stop in finish.todo]
    slot = [(g, i - start) for g, (start, stop) in zip(groups, finish.todo, strict=True) for i in range(start, stop)]
    seen = [""] * len(items)

    def store(k, result):
        img, reason, stamp = result
        seen[k] = stamp
        if reason is None:
            out[index[k]] = img
        else:
            group, i = slot[k]
            group.fail(i, reason)
        progress.update(1, 1)

    if kind == "serial":
        for k, item in enumerate(items):
            store(k, _exercise_one(item))
    else:
        pool = ThreadPoolExecutor if kind == "threads" else ProcessPoolExecutor
        with pool(max_workers=workers) as ex:
            for k, result in enumerate(ex.map(_exercise_one, items)):
                store(k, result)
    if not where.zarr:
        out.flush()
    k = 0
    for g, (start, stop) in zip(groups, finish.todo, strict=True):
        state.write_done(
            where.done_dir, where.token, where.identity, state.Done.of(start, g, seen[k : k + stop - start])
        )
        k += stop - start
    return groups
