"""The RLE job's entries in the registry: ``compress``, ``decompress`` and ``verify``, and their arguments."""

from __future__ import annotations

import argparse

from jobs.cliargs import add_max_pixels, add_overwrite, list_of, rows, threshold
from jobs.registry import JobSpec, StudySpec

__all__ = ["COMPRESS", "DECOMPRESS", "VERIFY"]


def writes(src, dst) -> str:
    """The directory an RLE job writes into (its lock's place): as :func:`jobs.rle_job.graphs.output_dir`."""
    import os

    from jobs.rle_job.graphs import output_dir

    return output_dir(os.fspath(src), os.fspath(dst))


def add_compress_options(p: argparse.ArgumentParser) -> None:
    """compress's options that change its output (shared with ``imgjobs study compress``)."""
    p.add_argument(
        "--threshold",
        type=threshold,
        metavar="N",
        help="white when luminance >= N (0..255) instead of Floyd-Steinberg dithering as Pillow's convert('1')",
    )
    add_max_pixels(p)


def compress_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs compress SRC DST [options]``."""
    p.add_argument("src", metavar="SRC", help="an image file or a directory of images (BMP, PNG, TIFF, ...)")
    p.add_argument("dst", metavar="DST", help="the .rle file, or a directory for <name>.rle files")
    p.add_argument(
        "--rows-per-task",
        type=rows,
        metavar="N",
        help="rows per row-block task; 'auto' (default) sizes tasks to ~8 MPixel; 0 = one task per image",
    )
    add_compress_options(p)
    add_overwrite(p)


def decompress_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs decompress SRC DST [options]``."""
    p.add_argument("src", metavar="SRC", help="an .rle file or a directory of them")
    p.add_argument("dst", metavar="DST", help="the .bmp file, or a directory for <name>.bmp files")
    p.add_argument("--rows-per-task", type=rows, metavar="N", help="rows per decode task (default auto)")
    add_overwrite(p)


def verify_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs verify ORIG RLE [options]``."""
    p.add_argument("orig", metavar="ORIG", help="an image file or a directory of images")
    p.add_argument("rle", metavar="RLE", help="the .rle file, or a directory holding <name>.rle for each image")
    p.add_argument("--threshold", type=threshold, metavar="N", help="the threshold used when compressing, if any")
    p.add_argument("--rows-per-task", type=rows, metavar="N", help="rows per compare task (default auto)")
    add_max_pixels(p)


def study_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs study compress``: compress's options and the rows-per-task sweep."""
    add_compress_options(p)
    p.add_argument(
        "--rows-per-task",
        dest="task_sizes",
        type=list_of(rows),
        default=[0, "auto", 64, 256, 1024],
        metavar="LIST",
        help="rows per task; 0 = one task per image (default 0,auto,64,256,1024)",
    )


def study_amount(report) -> float:
    """MPixel compressed: a study's measure of a compress run's work."""
    return report.pixels / 1e6


def study_settings(options: dict) -> dict:
    """compress's study options as they apply (config defaults filled in), for the report."""
    from jobs.options import CompressOptions

    o = CompressOptions.resolve(None, options.get("threshold"), None, options.get("max_pixels"))
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
    inputs=("src", "dst"),
    options="jobs.options:CompressOptions",
    planner="jobs.rle_job.graphs:plan_compress",
    arguments="jobs.rle_job.spec:compress_arguments",
    writes="jobs.rle_job.spec:writes",
    function="jobs.api:compress",
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
    inputs=("src", "dst"),
    options="jobs.options:DecompressOptions",
    planner="jobs.rle_job.graphs:plan_decompress",
    arguments="jobs.rle_job.spec:decompress_arguments",
    writes="jobs.rle_job.spec:writes",
    function="jobs.api:decompress",
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
    inputs=("orig", "rle"),
    options="jobs.options:VerifyOptions",
    planner="jobs.rle_job.graphs:plan_verify",
    arguments="jobs.rle_job.spec:verify_arguments",
    function="jobs.api:verify",
)
