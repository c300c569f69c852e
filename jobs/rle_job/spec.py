"""The RLE job's entries in the registry: ``compress``, ``decompress`` and ``verify``, and their arguments."""

from __future__ import annotations

import argparse

from jobs.cliargs import list_of, rows
from jobs.params import Param
from jobs.registry import JobSpec, StudySpec

__all__ = ["COMPRESS", "DECOMPRESS", "VERIFY"]


def writes(src, dst) -> str:
    """The directory an RLE job writes into (its lock's place): as :func:`jobs.rle_job.graphs.output_dir`."""
    import os

    from jobs.rle_job.graphs import output_dir

    return output_dir(os.fspath(src), os.fspath(dst))


def _path(doc: str, metavar: str) -> Param:
    return Param("str or os.PathLike", doc, flag={"metavar": metavar})


def study_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs study compress``: the rows-per-task sweep."""
    p.add_argument(
        "--rows-per-task",
        dest="task_sizes",
        type=list_of(rows),
        default=list(COMPRESS.study.sizes_default),  # type: ignore[union-attr]
        metavar="LIST",
        help="rows per task; 0 = one task per image (default "
        + ",".join(map(str, COMPRESS.study.sizes_default))  # type: ignore[union-attr]
        + ")",
    )


def study_amount(report) -> float:
    """MPixel compressed: a study's measure of a compress run's work."""
    return report.pixels / 1e6


def study_settings(options: dict) -> dict:
    """compress's study options as they apply (config defaults filled in), for the report."""
    from jobs.rle_job.options import CompressOptions

    o = CompressOptions.resolve(threshold=options.get("threshold"), max_pixels=options.get("max_pixels"))
    return {"threshold": "none (dithering)" if o.threshold is None else o.threshold}


COMPRESS = JobSpec(
    name="compress",
    help="images -> .rle",
    description="Compress an image, or every image in a directory, into .rle files "
    "(1 bit per pixel, 127-pixel chunks, one byte per run). Existing outputs are kept "
    "unless --overwrite, so rerunning an interrupted job finishes the rest.",
    examples=(
        "imgjobs compress scans/ rle/                           # every image of scans/ into rle/",
        "imgjobs compress page.bmp page.rle --threshold 128     # one file, a fixed threshold",
        "imgjobs compress scans/ rle/ --scheduler local --workers 2   # a LocalCluster with its dashboard",
        "imgjobs compress scans/ rle/ --cluster slurm --jobs 4  # workers as Slurm jobs",
    ),
    inputs={
        "src": _path(
            "an image file, or a directory whose image files (by extension: BMP, PNG, TIFF, GIF, JPEG, PBM...) "
            "are compressed",
            "SRC",
        ),
        "dst": _path("the .rle file, or a directory for <name>.rle files (created if missing)", "DST"),
    },
    options="jobs.rle_job.options:CompressOptions",
    planner="jobs.rle_job.graphs:plan_compress",
    doc="Compress an image, or every image in a directory, into ``.rle`` files.",
    writes="jobs.rle_job.spec:writes",
    study=StudySpec(
        unit="MPixel/s",
        knob="rows_per_task",
        knob_label="rows per task",
        per_task="MPixel per task",
        output="rle",
        amount="jobs.rle_job.spec:study_amount",
        options=("threshold", "max_pixels"),
        settings="jobs.rle_job.spec:study_settings",
        arguments="jobs.rle_job.spec:study_arguments",
        sizes_default=(0, "auto", 64, 256, 1024),
        grow="more or larger images; in a clone of imgjobs, `python scripts/make_samples.py DIR --bench 2` "
        "makes 2 x 40 MPixel",
    ),
)

DECOMPRESS = JobSpec(
    name="decompress",
    help=".rle -> 1-bit BMP",
    description="Decompress an .rle file, or every .rle file in a directory, into 1-bit BMPs.",
    examples=(
        "imgjobs decompress rle/ bmp/",
        "imgjobs decompress page.rle page.bmp",
        "imgjobs decompress rle/ bmp/ --scheduler-file ~/scheduler.json   # on a running cluster",
    ),
    inputs={
        "src": _path("an .rle file or a directory of them", "SRC"),
        "dst": _path("the .bmp file, or a directory for <name>.bmp files", "DST"),
    },
    options="jobs.rle_job.options:DecompressOptions",
    planner="jobs.rle_job.graphs:plan_decompress",
    doc="Decompress an ``.rle`` file, or every ``.rle`` file in a directory, into 1-bit BMPs.\n\n"
    "Work is sized from the bytes each file holds, never from what its header\n"
    "claims: a file too short or too long for its header's size fails at once,\n"
    "by name, and the rest completes.",
    writes="jobs.rle_job.spec:writes",
)

VERIFY = JobSpec(
    name="verify",
    help="check .rle files against their images",
    description="Decode each .rle and compare it pixel by pixel with its original image; "
    "list every mismatch and exit 1 if there is any.",
    examples=(
        "imgjobs verify scans/ rle/                 # exit 0 when every .rle decodes to its image",
        "imgjobs verify page.bmp page.rle --threshold 128",
    ),
    inputs={
        "orig": _path("an image file or a directory of images", "ORIG"),
        "rle": _path("the .rle file, or a directory holding <name>.rle for each image", "RLE"),
    },
    options="jobs.rle_job.options:VerifyOptions",
    planner="jobs.rle_job.graphs:plan_verify",
    doc="Decode ``.rle`` files and compare them with their images, pixel by pixel.\n\n"
    "Large pairs are compared a block of rows at a time, so memory is bounded like\n"
    "compress's (a whole image is held, packed, only when its rows cannot be read\n"
    "apart: dithered images, formats Pillow decodes whole).",
    returns='A mismatching file has status ``"mismatch"``, its count and first positions in the reason and '
    "``details``.",
)
