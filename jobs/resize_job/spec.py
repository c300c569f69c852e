"""The resize job's entry in the registry, and its study."""

from __future__ import annotations

import argparse

from jobs.cliargs import list_of, whole
from jobs.jobspec import JobSpec, StudySpec
from jobs.resize_job.api import resize
from jobs.resize_job.options import EXACT, EXECUTOR, EXECUTORS, ResizeOptions
from jobs.resize_job.paths import family

__all__ = ["RESIZE"]


def claims(source, out) -> list:
    """What a resize reads and writes: its source, and the batch with its sidecar, labels and work folder."""
    return [source, *(path for path, _ in family(out))]


def study_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs study resize``: the images-per-task sweep and the exercise's executors."""
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
        default=list(EXECUTORS),
        metavar="LIST",
        help="the exercise's executors to include: serial, threads, processes (default all; 'none' for none)",
    )


def study_amount(report) -> float:
    """Images resized: a study's measure of a resize run's work."""
    return len(report)


def study_settings(options: dict) -> dict:
    """resize's study options as they apply (config defaults filled in), for the report."""
    get = options.get
    o = ResizeOptions.resolve(
        size=get("size"),
        method=get("method"),
        draft_fraction=get("draft_fraction"),
        num_images=get("num_images"),
        max_pixels=get("max_pixels"),
        exact=get("exact"),
        fit=get("fit"),
        pad_fill=get("pad_fill"),
    )
    out: dict = {"size": f"{o.size[0]}x{o.size[1]}", "method": o.method}
    if o.method == "draft":
        out["draft_fraction"] = o.draft_fraction
    if o.fit != "stretch":
        out["fit"] = o.fit
    if o.num_images:
        out["num_images"] = o.num_images
    return out


RESIZE = JobSpec(
    name="resize",
    help="JPEG list -> (N, H, W, 3) uint8 batch",
    description="Decode and resize a list of images into one (N, H, W, 3) uint8 numpy batch "
    "(a memory-mapped .npy, a .zarr store or WebDataset tar shards), with a JSON sidecar of files, "
    "failures and timing. "
    "Grey, palette, CMYK, RGBA and 16-bit images become true RGB; EXIF orientation is applied. "
    "Labels (a list's second column, or class folders) go beside it; an interrupted run resumes.",
    examples=(
        "imgjobs resize train.txt --num-images 2000 --out batch.npy   # lines 'path label'",
        "imgjobs resize train/ --size 64x64 --out train.zarr          # class folders -> labels",
        "imgjobs resize train.txt --method exact                      # the exercise's Pillow bicubic",
        "imgjobs resize ilsvrc.json --executor threads --workers 2    # the exercise's ThreadPoolExecutor",
    ),
    inputs={"source": {"metavar": "SOURCE"}, "out": {"flags": ["--out"], "default": "batch.npy", "metavar": "PATH"}},
    function=resize,
    options=ResizeOptions,
    claims=claims,
    keywords={"exact": EXACT, "executor": EXECUTOR},
    study=StudySpec(
        unit="images/s",
        knob="batch_size",
        knob_label="images per task",
        per_task="images per task",
        output="batch.npy",
        amount=study_amount,
        options=("num_images", "size", "method", "exact", "fit", "pad_fill", "draft_fraction", "max_pixels"),
        settings=study_settings,
        arguments=study_arguments,
        grow="more images (num_images / --num-images, if the source has them; a list may name the same files again)",
        executors=True,
        auto=None,
    ),
)
