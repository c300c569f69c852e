"""The resize job's entry in the registry, and its arguments."""

from __future__ import annotations

import argparse

from jobs.cliargs import add_max_pixels, add_overwrite, default, list_of, positive, whole
from jobs.registry import JobSpec, StudySpec

__all__ = ["RESIZE"]


def writes(source, out) -> str:
    """The directory the batch goes into: the lock covers the batch, its labels, sidecar and work folder."""
    import os

    return os.path.dirname(os.path.abspath(os.fspath(out)))


def add_resize_options(p: argparse.ArgumentParser) -> None:
    """resize's options that change its output (shared with ``imgjobs study resize``)."""
    from jobs.resize_job import tasks as resize_tasks

    p.add_argument("--num-images", type=positive, metavar="N", help="take the first N images (error if fewer)")
    p.add_argument("--size", metavar="WxH", help=f"output width x height (default {default('resize.size')})")
    p.add_argument(
        "--method",
        choices=list(resize_tasks.METHODS),
        help=f"how to decode and resize (default {default('resize.method')}); quality over 500 ImageNet photos as "
        "PSNR against a full decode with Lanczos (worst / 1st percentile / mean): "
        + "; ".join(f"{k}: {v}" for k, v in resize_tasks.METHODS.items()),
    )
    p.add_argument("--exact", action="store_true", default=None, help="shorthand for --method exact")
    p.add_argument(
        "--draft-fraction",
        type=float,
        metavar="F",
        help="--method draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) still at least F of the "
        f"output size (default {default('resize.draft-fraction')}; 1.0 never enlarges)",
    )
    add_max_pixels(p)
    p.add_argument(
        "--stamps",
        choices=["stat", "content"],
        help="how a rerun tells an image changed: stat (its size and modification time) or content (a digest of "
        f"its bytes, for file systems whose times lie; reads every image on a rerun) (default {default('stamps')})",
    )


def arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs resize SOURCE [--out PATH] [options]``."""
    p.add_argument(
        "source",
        metavar="SOURCE",
        help="a file list (one path per line, relative to the list; 'path<TAB>label' or 'path 7' adds labels), "
        "a JSON config with data.train_filelist, a directory of images, or a directory of class folders",
    )
    p.add_argument("--out", default="batch.npy", metavar="PATH", help="batch.npy (default) or a .zarr store")
    add_resize_options(p)
    p.add_argument(
        "--batch-size",
        type=positive,
        metavar="B",
        help=f"images per task (default auto: at most {default('resize.images-per-task')}, fewer to give every "
        f"thread {default('resize.tasks-per-thread')} tasks)",
    )
    p.add_argument(
        "--executor",
        choices=["serial", "threads", "processes"],
        help="run the classic exercise's executor (plain loop, ThreadPoolExecutor, ProcessPoolExecutor of "
        "--workers) instead of Dask, for comparison",
    )
    add_overwrite(p, "an existing output")


def study_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs study resize``: resize's options, the images-per-task sweep and the exercise's executors."""
    add_resize_options(p)
    p.add_argument(
        "--batch-sizes",
        dest="task_sizes",
        type=list_of(whole(1, auto=True)),
        default=["auto"],
        metavar="LIST",
        help="images per task, e.g. 1,8,64,auto (default auto)",
    )
    p.add_argument(
        "--executors",
        type=list_of(str),
        default=["serial", "threads", "processes"],
        metavar="LIST",
        help="the exercise's executors to include: serial, threads, processes (default all; 'none' for none)",
    )


def study_amount(report) -> float:
    """Images resized: a study's measure of a resize run's work."""
    return len(report)


def study_settings(options: dict) -> dict:
    """resize's study options as they apply (config defaults filled in), for the report."""
    from jobs.options import ResizeOptions

    get = options.get
    o = ResizeOptions.resolve(
        size=get("size"),
        method=get("method"),
        draft_fraction=get("draft_fraction"),
        num_images=get("num_images"),
        max_pixels=get("max_pixels"),
        exact=get("exact"),
    )
    out: dict = {"size": f"{o.size[0]}x{o.size[1]}", "method": o.method}
    if o.method == "draft":
        out["draft_fraction"] = o.draft_fraction
    if o.num_images:
        out["num_images"] = o.num_images
    return out


RESIZE = JobSpec(
    name="resize",
    help="JPEG list -> (N, H, W, 3) uint8 batch",
    description="Decode and resize a list of images into one (N, H, W, 3) uint8 numpy batch "
    "(a memory-mapped .npy or a .zarr store), with a JSON sidecar of files, failures and timing. "
    "Grey, palette, CMYK, RGBA and 16-bit images become true RGB; EXIF orientation is applied. "
    "Labels (a list's second column, or class folders) go beside it; an interrupted run resumes.",
    examples=(
        "imgjobs resize train.txt --num-images 2000 --out batch.npy   # lines 'path label'",
        "imgjobs resize train/ --size 64x64 --out train.zarr          # class folders -> labels",
        "imgjobs resize train.txt --method exact                      # the exercise's Pillow bicubic",
        "imgjobs resize ilsvrc.json --executor threads --workers 2    # the exercise's ThreadPoolExecutor",
    ),
    inputs=("source", "out"),
    options="jobs.options:ResizeOptions",
    planner="jobs.resize_job.planner:plan_resize",
    arguments="jobs.resize_job.spec:arguments",
    writes="jobs.resize_job.spec:writes",
    function="jobs.api:resize",
    keywords=("executor",),
    study=StudySpec(
        unit="images/s",
        knob="batch_size",
        knob_label="images per task",
        per_task="images per task",
        output="batch.npy",
        amount="jobs.resize_job.spec:study_amount",
        options=("num_images", "size", "method", "exact", "draft_fraction", "max_pixels"),
        settings="jobs.resize_job.spec:study_settings",
        arguments="jobs.resize_job.spec:study_arguments",
        grow="more images (num_images / --num-images, if the source has them; a list may name the same files again)",
        executors=True,
        auto=None,
    ),
)
