"""The resize job's entry in the registry, and its arguments."""

from __future__ import annotations

import argparse

from jobs.cliargs import list_of, whole
from jobs.params import Param
from jobs.registry import JobSpec, StudySpec
from jobs.resize_job.options import EXACT, EXECUTOR

__all__ = ["RESIZE"]


def writes(source, out) -> str:
    """The directory the batch goes into: the lock covers the batch, its labels, sidecar and work folder."""
    import os

    return os.path.dirname(os.path.abspath(os.fspath(out)))


def claims(source, out) -> list:
    """What a resize reads and writes: its source, and the batch with its sidecar, labels and work folder."""
    from jobs.resize_job.state import family

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
        default=["serial", "threads", "processes"],
        metavar="LIST",
        help="the exercise's executors to include: serial, threads, processes (default all; 'none' for none)",
    )


def study_amount(report) -> float:
    """Images resized: a study's measure of a resize run's work."""
    return len(report)


def study_settings(options: dict) -> dict:
    """resize's study options as they apply (config defaults filled in), for the report."""
    from jobs.resize_job.options import ResizeOptions

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
    "(a memory-mapped .npy or a .zarr store), with a JSON sidecar of files, failures and timing. "
    "Grey, palette, CMYK, RGBA and 16-bit images become true RGB; EXIF orientation is applied. "
    "Labels (a list's second column, or class folders) go beside it; an interrupted run resumes.",
    examples=(
        "imgjobs resize train.txt --num-images 2000 --out batch.npy   # lines 'path label'",
        "imgjobs resize train/ --size 64x64 --out train.zarr          # class folders -> labels",
        "imgjobs resize train.txt --method exact                      # the exercise's Pillow bicubic",
        "imgjobs resize ilsvrc.json --executor threads --workers 2    # the exercise's ThreadPoolExecutor",
    ),
    inputs={
        "source": Param(
            "str or os.PathLike",
            "a file list (one path per line, relative to the list; 'path<TAB>label' or 'path 7' adds labels), "
            "a JSON config with data.train_filelist, a directory of images, or a directory of class folders",
            flag={"metavar": "SOURCE"},
        ),
        "out": Param(
            "str or os.PathLike",
            "batch.npy (default) or a .zarr store; a sidecar <out>.json records the files, failures, size, resize "
            "mode and timing",
            flag={"flags": ["--out"], "default": "batch.npy", "metavar": "PATH"},
        ),
    },
    options="jobs.resize_job.options:ResizeOptions",
    planner="jobs.resize_job.planner:plan_resize",
    doc="Decode and resize a list of images into one (N, H, W, 3) uint8 batch.",
    returns="``report.output`` is the batch, ``report.array`` opens it, and ``report.labels`` and "
    "``report.classes`` give its labels when the source has them (a list's second column, or class folders); "
    "failed images keep a zero slot and the label -1, and are listed in the report and the sidecar.",
    notes="An interrupted run keeps its work in a hidden folder beside ``out``; the same call again does only "
    "what is left.  When ``out`` already holds this very job, the report says it is up to date "
    "(``report.up_to_date``), with nothing run.",
    writes="jobs.resize_job.spec:writes",
    claims="jobs.resize_job.spec:claims",
    keywords={"exact": EXACT, "executor": EXECUTOR},
    precheck="jobs.resize_job.planner:up_to_date",
    study=StudySpec(
        unit="images/s",
        knob="batch_size",
        knob_label="images per task",
        per_task="images per task",
        output="batch.npy",
        amount="jobs.resize_job.spec:study_amount",
        options=("num_images", "size", "method", "exact", "fit", "pad_fill", "draft_fraction", "max_pixels"),
        settings="jobs.resize_job.spec:study_settings",
        arguments="jobs.resize_job.spec:study_arguments",
        grow="more images (num_images / --num-images, if the source has them; a list may name the same files again)",
        executors=True,
        auto=None,
    ),
)
