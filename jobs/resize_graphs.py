"""Graph builder for the resize job: a list of images in, an (N, H, W, 3) uint8 batch out.

Planning reads the file list and checks the output; it writes nothing.  The
graph has three steps:

1. one task creates the empty batch under a hidden temporary name (a ``.npy`` of
   the full size, or a zarr store whose chunks are the tasks' slices);
2. batch tasks load their images and write their slice straight into it
   (``pwrite`` at the slice's offset, or the slice's zarr chunk), returning only
   per-image outcomes: the client never gathers pixels;
3. :class:`ResizeFinish` syncs the batch, renames it into place and writes the
   sidecar; on failure or interrupt it removes the hidden batch.

A task writes the same bytes however often it runs, so Dask may retry it
freely.  Per-image work is about 1-2 ms, close to Dask's per-task overhead, so
tasks take batches of images.  :func:`run_executor` runs the same work with the
classic exercise's executors (a plain loop, ``ThreadPoolExecutor``,
``ProcessPoolExecutor``), for comparison.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from . import config, resize_tasks
from .files import (
    Names,
    OutputLock,
    UsageError,
    check_writable_dir,
    failure,
    list_inputs,
    list_outputs,
    new_token,
    remove_path,
    sweep_temporaries,
    temp_path,
    write_atomic,
)
from .options import ResizeOptions, parse_size
from .report import Outcomes, Report
from .rle_graphs import IMAGE_EXTENSIONS
from .runtime import Finish, Plan

__all__ = ["ResizeFinish", "ResizeTarget", "parse_size", "plan_resize", "read_source", "run_executor", "sidecar_path"]

log = logging.getLogger(__name__)


def split_list_line(line: str) -> tuple[str, str | None]:
    """A file list line -> (path, label or None).

    ``path<TAB>anything`` keeps what is before the tab; ``path label`` (ImageNet's
    convention: a whole number after the last space) keeps the path, spaces and
    all; any other line is a path, spaces and all (``my photo.jpg``).
    """
    if "\t" in line:
        path, _, rest = line.partition("\t")
        return path.strip(), rest.strip() or None
    head, _, last = line.rpartition(" ")
    if head.strip() and last.lstrip("-").isdigit():
        return head.strip(), last
    return line, None


def _read_list(path: str) -> list[str]:
    base = os.path.dirname(os.path.abspath(path))
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _label = split_list_line(line)
                out.append(name if os.path.isabs(name) else os.path.join(base, name))
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save the list as UTF-8") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read the file list: {e.strerror or e}") from None
    return out


def read_source(source, num_images: int | None = None) -> list[str]:
    """Image paths from a file list, a JSON config or a directory, in order.

    Parameters
    ----------
    source : str
        A text file with one image path per line (relative paths are relative to
        the list; a second column, such as a label, is ignored), a ``.json`` config
        of the exercise's shape (``{"data": {"train_filelist": "..."}}``; the list
        path is relative to the JSON file), or a directory of images.
    num_images : int, optional
        Take the first N; fewer available is an error.

    Raises
    ------
    UsageError
        For a missing source, a config without a file list, or too few images.
    """
    source = os.fspath(source)
    if os.path.isdir(source):
        listing = list_inputs(source, IMAGE_EXTENSIONS)
        # entries that are not regular files stay in the batch, so they fail by name, in order
        names = sorted(listing.names + [n for n, _ in listing.others])
        paths = [os.path.join(source, n) for n in names]
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
        paths = _read_list(listed)
    else:
        paths = _read_list(source)
    if num_images is not None:
        if num_images < 1:
            raise UsageError(f"--num-images must be >= 1, got {num_images}")
        if len(paths) < num_images:
            raise UsageError(f"{source} lists {len(paths)} image(s), fewer than the {num_images} asked for")
        paths = paths[:num_images]
    if not paths:
        raise UsageError(f"{source}: no images found")
    return paths


@dataclass(frozen=True)
class ResizeTarget:
    """Where a resize job writes: the hidden batch its tasks fill, and the name it gets at the end.

    Attributes
    ----------
    out : str
        The final ``.npy`` file or ``.zarr`` store.
    target : str
        The hidden temporary the tasks write into.
    n : int
        Images in the batch.
    size : (int, int)
        Width and height of each image.
    batch : int
        Images per task (the zarr chunk length).
    """

    out: str
    target: str
    n: int
    size: tuple
    batch: int

    @property
    def zarr(self) -> bool:
        """True for a zarr store."""
        return self.out.endswith(".zarr")


@dataclass(frozen=True)
class ResizeFinish(Finish):
    """Finishing a resize job: sync, rename into place, write the sidecar; or remove the hidden batch."""

    job: str
    token: str
    where: ResizeTarget
    paths: Names
    opts: ResizeOptions
    stale: tuple = ()

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> Report:
        """Write the sidecar, then move the finished batch into place; return the report.

        The batch is synced first, the sidecar written through a temporary and
        renamed (so it is never half-written), and only then does the batch get
        its name: whoever sees the batch finds its sidecar.
        """
        w = self.where
        if not w.zarr:
            fd = os.open(w.target, os.O_RDONLY)
            try:
                os.fsync(fd)  # every task's slice is on disk before the batch gets its name
            finally:
                os.close(fd)
        failures, start = [], 0
        for o in outcomes:
            for i in np.flatnonzero(o.status == 2).tolist():  # failed
                failures.append({"index": start + i, "path": o.src[i], "reason": o.result(i).reason})
            start += len(o)
        sidecar = {
            "output": os.path.abspath(w.out),
            "shape": [w.n, w.size[1], w.size[0], 3],
            "dtype": "uint8",
            "size": f"{w.size[0]}x{w.size[1]}",
            "resize": {
                "method": self.opts.method,
                "draft_fraction": self.opts.draft_fraction if self.opts.method == "draft" else None,
                "filter": "bicubic (Pillow)" if self.opts.method == "exact" else "area (OpenCV INTER_AREA)",
                "exif_transpose": True,
            },
            "files": [os.path.abspath(p) for p in self.paths],
            "failed": failures,
            "timing": {
                "seconds": seconds,
                "images_per_second": w.n / seconds if seconds > 0 else None,
                "scheduler": scheduler,
                "images_per_task": w.batch,
            },
        }
        side = sidecar_path(w.out)
        write_atomic(side, [json.dumps(sidecar, indent=1).encode()], self.token)
        try:
            if os.path.exists(w.out) and (w.zarr or os.path.isdir(w.out)):
                remove_path(w.out)  # an old store: planning refused this unless overwrite
            os.replace(w.target, w.out)
        except OSError as e:
            remove_path(side)  # no sidecar without its batch
            raise OSError(e.errno, f"cannot move the finished batch to {w.out}: {e.strerror}", w.target) from None
        sweep_temporaries(os.path.dirname(w.out), stale=self.stale)
        return Report("resize", outcomes, seconds, scheduler=scheduler, output=w.out, sidecar=sidecar)

    def lock(self):
        """Hold this output for the run: a hidden lock file beside it."""
        head, tail = os.path.split(self.where.out)
        return OutputLock(os.path.join(head, f".{tail}.imgjobs.lock"), self.where.out)

    def abort(self) -> None:
        """Remove the unfinished batch."""
        if remove_path(self.where.target):
            log.info("removed the unfinished batch %s", self.where.target)


def sidecar_path(out: str) -> str:
    """The sidecar of a batch: ``batch.npy`` -> ``batch.npy.json`` (never the name of a JSON config beside it)."""
    return os.fspath(out) + ".json"


def _check_not_an_input(out: str, side: str, source, paths: list) -> None:
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
    for path, what in ((out, "the batch"), (side, "its sidecar")):
        if os.path.abspath(path) in inputs:
            raise UsageError(f"{path} ({what}) is one of the job's inputs: choose another --out")


def _auto_batch(n: int, parallelism: int) -> int:
    per_task = config.get_int("resize.images-per-task", low=1)
    tasks_per_thread = config.get_int("resize.tasks-per-thread", low=1)
    want = math.ceil(n / max(1, tasks_per_thread * parallelism))
    return max(1, min(per_task, want))


def plan_resize(source, out, opts: ResizeOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan building an (N, H, W, 3) uint8 batch from a list of images.

    Parameters
    ----------
    source : str
        File list, JSON config or directory (see :func:`read_source`).
    out : str
        ``.npy`` file or ``.zarr`` store.
    opts : ResizeOptions, optional
        Resolved options (default: from config).
    parallelism : int
        Threads that will run the graph.

    Returns
    -------
    jobs.runtime.Plan
    """
    opts = opts or ResizeOptions.resolve()
    out = os.fspath(out)
    paths = read_source(source, opts.num_images)
    if not (out.endswith(".npy") or out.endswith(".zarr")):
        raise UsageError(f"output {out} must end in .npy or .zarr")
    side = sidecar_path(out)
    _check_not_an_input(out, side, source, paths)
    for path, what in ((out, "the batch"), (side, "its sidecar")):
        if os.path.lexists(path) and not opts.overwrite:
            raise UsageError(f"{path} ({what}) exists: use --overwrite to replace it")
    if out.endswith(".npy") and os.path.isdir(out):
        raise UsageError(f"{out} is a directory: a .npy output is a file; remove it or choose another name")
    if os.path.isdir(side):
        raise UsageError(f"{side} (the sidecar) is a directory: remove it or choose another output name")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {out}: directory {parent} does not exist")
    check_writable_dir(parent)
    if out.endswith(".zarr"):
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise UsageError("writing .zarr needs the zarr package: pip install zarr (or use a .npy output)") from None
    batch = opts.batch_size or _auto_batch(len(paths), parallelism)
    token = new_token()
    prefixes = (f".{os.path.basename(out)}.", f".{os.path.basename(side)}.")
    stale = tuple(t for t in list_outputs(os.path.dirname(out)).temporaries if t.startswith(prefixes))
    where = ResizeTarget(out, temp_path(out, token), len(paths), opts.size, batch)
    names = Names("", tuple(paths))
    plan = Plan("resize", unit="image")
    plan.finish = ResizeFinish("resize", token, where, names, opts, stale)
    prepare = (f"resize-create-{token}", 0)
    plan.graph[prepare] = (resize_tasks.create_output, where)
    for k, start in enumerate(range(0, len(paths), batch)):
        key = (f"resize-batch-{token}", k)
        chunk = names[start : start + batch]
        plan.graph[key] = (resize_tasks.fill, where, prepare, start, chunk, opts)
        plan.outputs.append(key)
        plan.watch[key] = (len(chunk), len(chunk))
    plan.total = plan.nfiles = len(paths)
    plan.executor = lambda kind, workers, progress: run_executor(plan.finish, kind, workers, progress)
    log.info("resize: %d image(s) in %d task(s) of %d", len(paths), len(plan.outputs), batch)
    return plan


def _exercise_one(args):
    path, size, method, draft_fraction, max_pixels = args
    try:
        return resize_tasks.load_rgb(path, size, method, draft_fraction, max_pixels), None
    except Exception as e:  # one image fails, by name
        return None, failure(path, e)


def run_executor(finish: ResizeFinish, kind: str, workers: int, progress) -> list:
    """Run a resize plan with the exercise's executors instead of Dask; return its outcomes.

    ``serial`` is a plain loop, ``threads`` a ``ThreadPoolExecutor`` and
    ``processes`` a ``ProcessPoolExecutor`` of ``workers``, one image per call as in the
    exercise.  Images are written into the same output as the Dask path.
    """
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    where, opts = finish.where, finish.opts
    resize_tasks.create_output(where)
    if where.zarr:
        import zarr

        out = zarr.open_array(where.target, mode="r+")
    else:
        out = np.load(where.target, mmap_mode="r+")  # one process writes: a memory map is simplest
    items = [(p, opts.size, opts.method, opts.draft_fraction, opts.max_pixels) for p in finish.paths]
    outcomes = Outcomes(finish.paths)

    def store(i, result):
        img, reason = result
        if reason is None:
            out[i] = img
        else:
            outcomes.fail(i, reason)
        progress.update(1, 1)

    if kind == "serial":
        for i, item in enumerate(items):
            store(i, _exercise_one(item))
    else:
        pool = ThreadPoolExecutor if kind == "threads" else ProcessPoolExecutor
        with pool(max_workers=workers) as ex:
            for i, result in enumerate(ex.map(_exercise_one, items)):
                store(i, result)
    if not where.zarr:
        out.flush()
    return [outcomes]
