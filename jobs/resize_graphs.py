"""Graph builder for the resize job: a list of images in, an (N, H, W, 3) uint8 batch out.

The output is created up front under a hidden temporary name (a ``.npy`` of
the full size, or a zarr store), each task loads a batch of images and writes
its slice straight into it (``pwrite`` at the slice's offset, or the slice's zarr
chunks), and :func:`finish` renames the finished batch into place, so the client
never gathers pixels and an interrupted job never leaves a partial output.  A
task writes the same bytes however often it runs, so Dask may retry it freely.
Per-image work is about 2 ms, close to Dask's per-task overhead, so tasks take
batches of images.

:func:`run_executor` runs the same work with the classic exercise's executors
(a plain loop, ``ThreadPoolExecutor``, ``ProcessPoolExecutor``), for comparison.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field

import dask
import numpy as np
from dask.base import tokenize

from . import config, resize_tasks
from .files import UsageError, image_files, new_token, remove_path, remove_stale_temps, temp_path
from .rle_graphs import IMAGE_EXTENSIONS

__all__ = ["ResizePlan", "finish", "parse_size", "plan_resize", "read_source", "run_executor"]

log = logging.getLogger(__name__)


def parse_size(text) -> tuple[int, int]:
    """``"100x100"`` (width x height) or a (width, height) pair -> (width, height)."""
    if isinstance(text, (tuple, list)):
        w, h = (int(v) for v in text)
    else:
        try:
            w, h = (int(v) for v in str(text).lower().split("x"))
        except ValueError:
            raise UsageError(f"size must be WIDTHxHEIGHT, e.g. 100x100, got {text!r}") from None
    if not (1 <= w <= 65535 and 1 <= h <= 65535):
        raise UsageError(f"size must be 1..65535 on each side, got {w}x{h}")
    return w, h


def _read_list(path: str) -> list[str]:
    base = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = line.split()[0]  # "path label" lines keep the path
            out.append(line if os.path.isabs(line) else os.path.join(base, line))
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
        paths = image_files(source, IMAGE_EXTENSIONS)
    elif not os.path.isfile(source):
        raise UsageError(f"{source}: no such file or directory")
    elif source.lower().endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                cfg = json.load(f)
            listed = cfg["data"]["train_filelist"]
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


@dataclass
class ResizePlan:
    """A resize job ready to run: delayed outputs plus what :func:`finish` needs."""

    paths: list
    out: str
    size: tuple
    exact: bool
    batch_size: int
    draft_fraction: float
    target: str  # where tasks write: the temporary .npy or zarr store, renamed to ``out`` by finish
    offset: int = 0  # .npy: where the array data starts in the file
    outputs: list = field(default_factory=list)
    files_per_output: list = field(default_factory=list)
    ntasks: int = 0

    def cleanup(self) -> int:
        """Remove the unfinished batch (after a failure or an interrupt); return 1 if there was one."""
        return int(remove_path(self.target))


def _auto_batch(n: int, parallelism: int) -> int:
    per_task = int(config.get("resize.images-per-task"))
    tasks_per_thread = int(config.get("resize.tasks-per-thread"))
    want = math.ceil(n / max(1, tasks_per_thread * parallelism))
    return max(1, min(per_task, want))


def _create_output(out: str, target: str, n: int, size, batch: int) -> int:
    """Create the empty batch at ``target``; return where a ``.npy``'s data starts (0 for zarr)."""
    w, h = size
    if out.endswith(".zarr"):
        try:
            import zarr
        except ImportError:
            raise UsageError("writing .zarr needs the zarr package: pip install zarr (or use a .npy output)") from None
        zarr.create_array(
            store=target, shape=(n, h, w, 3), chunks=(batch, h, w, 3), dtype="uint8", fill_value=0, overwrite=True
        )
        return 0
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": (n, h, w, 3)}
    with open(target, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)  # a 4-tuple shape fits format 1.0 at any size
        offset = f.tell()
        f.truncate(offset + n * h * w * 3)  # sparse: unwritten slots read as zero
    return offset


def plan_resize(
    source,
    out,
    *,
    num_images=None,
    size=None,
    exact=None,
    draft_fraction=None,
    batch_size=None,
    overwrite=None,
    parallelism: int = 1,
) -> ResizePlan:
    """Plan building an (N, H, W, 3) uint8 batch from a list of images.

    Parameters
    ----------
    source : str
        File list, JSON config or directory (see :func:`read_source`).
    out : str
        ``.npy`` file (memory-mapped) or ``.zarr`` store.
    num_images : int, optional
        Take the first N images.
    size : str or (int, int), optional
        Output width x height; default ``imgjobs.resize.size``.
    exact : bool, optional
        Resize full decodes instead of reduced JPEG DCT scales.
    draft_fraction : float, optional
        Fast path: the smallest reduced decode allowed, as a fraction of the
        output size (see :func:`jobs.resize_tasks.draft_scale`); default
        ``imgjobs.resize.draft-fraction``.
    batch_size : int, optional
        Images per task; default sized from the number of images and threads.
    overwrite : bool, optional
        Replace an existing output.
    parallelism : int
        Threads that will run the graph.
    """
    out = os.fspath(out)
    size = parse_size(config.get("resize.size", size))
    exact = bool(config.get("resize.exact", exact))
    draft_fraction = float(config.get("resize.draft-fraction", draft_fraction))
    if not 0 < draft_fraction <= 1:
        raise UsageError(f"draft fraction must be in (0, 1], got {draft_fraction}")
    overwrite = bool(config.get("overwrite", overwrite))
    paths = read_source(source, num_images)
    if not (out.endswith(".npy") or out.endswith(".zarr")):
        raise UsageError(f"output {out} must end in .npy or .zarr")
    if os.path.exists(out) and not overwrite:
        raise UsageError(f"{out} exists: use --overwrite to replace it")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {out}: directory {parent} does not exist")
    batch = int(batch_size) if batch_size else _auto_batch(len(paths), parallelism)
    if batch < 1:
        raise UsageError(f"batch size must be >= 1, got {batch}")
    remove_stale_temps(out)  # what a killed run left
    target = temp_path(out, new_token())
    offset = _create_output(out, target, len(paths), size, batch)
    plan = ResizePlan(paths, out, size, exact, batch, draft_fraction, target, offset)
    for start in range(0, len(paths), batch):
        chunk = paths[start : start + batch]
        key = f"resize-batch-{tokenize(target, start, chunk, size, exact, draft_fraction)}"
        if out.endswith(".zarr"):
            task = dask.delayed(resize_tasks.fill_zarr, pure=True)(
                target, start, chunk, size, exact, draft_fraction, dask_key_name=key
            )
        else:
            task = dask.delayed(resize_tasks.fill_npy, pure=True)(
                target, offset, start, chunk, size, exact, draft_fraction, dask_key_name=key
            )
        plan.outputs.append(task)
        plan.files_per_output.append(len(chunk))
    plan.ntasks = len(plan.outputs)
    log.info("resize: %d image(s) in %d task(s) of %d", len(paths), plan.ntasks, batch)
    return plan


def finish(plan: ResizePlan, failures: list, seconds: float, scheduler: str) -> dict:
    """Move the finished ``.npy`` into place and write the sidecar ``<out>.json``; return the sidecar."""
    if plan.out.endswith(".zarr"):
        remove_path(plan.out)  # an old store: planning refused this unless --overwrite
    else:
        fd = os.open(plan.target, os.O_RDONLY)
        try:
            os.fsync(fd)  # every task's slice is on disk before the batch gets its name
        finally:
            os.close(fd)
    os.replace(plan.target, plan.out)
    failures = sorted(failures)
    n = len(plan.paths)
    sidecar = {
        "output": os.path.abspath(plan.out),
        "shape": [n, plan.size[1], plan.size[0], 3],
        "dtype": "uint8",
        "size": f"{plan.size[0]}x{plan.size[1]}",
        "resize": {
            "mode": "exact" if plan.exact else "draft",
            "draft_fraction": None if plan.exact else plan.draft_fraction,
            "filter": resize_tasks.RESAMPLE,
            "exif_transpose": True,
        },
        "files": [os.path.abspath(p) for p in plan.paths],
        "failed": [{"index": i, "path": plan.paths[i], "reason": r} for i, r in failures],
        "timing": {
            "seconds": seconds,
            "images_per_second": n / seconds if seconds > 0 else None,
            "scheduler": scheduler,
            "images_per_task": plan.batch_size,
        },
    }
    side = os.path.splitext(plan.out)[0] + ".json"
    with open(side, "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=1)
    return sidecar


def _exercise_one(args):
    path, size, exact, draft_fraction = args
    try:
        return resize_tasks.load_rgb(path, size, exact, draft_fraction), None
    except (OSError, ValueError, SyntaxError) as e:
        return None, f"{path}: {e}"


def run_executor(plan: ResizePlan, kind: str, workers: int, bar) -> list:
    """Run the plan's work with the exercise's executors instead of Dask; return the failures.

    ``serial`` is a plain loop, ``threads`` a ``ThreadPoolExecutor`` and
    ``processes`` a ``ProcessPoolExecutor`` of ``workers``, one image per call as in the
    exercise.  Images are written into the same output as the Dask path.
    """
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if plan.out.endswith(".zarr"):
        import zarr

        out = zarr.open_array(plan.target, mode="r+")
    else:
        out = np.load(plan.target, mmap_mode="r+")  # one process writes: a memory map is simplest
    items = [(p, plan.size, plan.exact, plan.draft_fraction) for p in plan.paths]
    failures = []

    def store(i, result):
        img, reason = result
        if reason is None:
            out[i] = img
        else:
            failures.append((i, reason))
        bar.update(1)

    if kind == "serial":
        for i, item in enumerate(items):
            store(i, _exercise_one(item))
    else:
        pool = ThreadPoolExecutor if kind == "threads" else ProcessPoolExecutor
        with pool(max_workers=workers) as ex:
            for i, result in enumerate(ex.map(_exercise_one, items)):
                store(i, result)
    return failures
