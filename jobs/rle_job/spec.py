"""The RLE job's entries in the registry: ``compress``, ``decompress`` and ``verify``, and their study."""

from __future__ import annotations

import argparse

from jobs.cliargs import list_of, rows
from jobs.jobspec import JobSpec, StudySpec
from jobs.rle_job.api import compress, decompress, verify
from jobs.rle_job.options import CompressOptions, DecompressOptions, VerifyOptions

__all__ = ["COMPRESS", "DECOMPRESS", "VERIFY"]


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
    o = CompressOptions.resolve(threshold=options.get("threshold"), max_pixels=options.get("max_pixels"))
    return {"threshold": "none (dithering)" if o.threshold is None else o.threshold}


def case_study_table(rows: list, unit: str) -> str:
    """The case study's 2x2 table in Markdown, worker processes vs threads x one task per image vs row-block
    tasks, at the widest parallelism of a compress study's ``rows`` ("" when the study lacks those runs)."""
    top = max(r["parallelism"] for r in rows)
    widest = [r for r in rows if r["parallelism"] == top and r["threads_per_worker"] == 1]
    cell = {(r["mode"], str(r["task_size"])): r for r in widest}
    modes = [m for m in ("dask local", "dask processes", "dask threads") if any(k[0] == m for k in cell)]
    if len(modes) < 2 or not any(k[1] == "0" for k in cell) or not any(k[1] == "auto" for k in cell):
        return ""
    lines = [
        f"The case study's 2x2 table as Dask configurations ({top} workers, {unit}):",
        "",
        "| | " + " | ".join("worker processes" if m != "dask threads" else "threads" for m in modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for size, name in (("0", "one task per image"), ("auto", "row-block tasks")):
        vals = [f"{cell[(m, size)]['rate']:,.1f}" if (m, size) in cell else "-" for m in modes]
        lines.append(f"| {name} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


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
    inputs={"src": {"metavar": "SRC"}, "dst": {"metavar": "DST"}},
    function=compress,
    options=CompressOptions,
    study=StudySpec(
        unit="MPixel/s",
        knob="rows_per_task",
        knob_label="rows per task",
        per_task="MPixel per task",
        output="rle",
        amount=study_amount,
        options=("threshold", "max_pixels"),
        settings=study_settings,
        arguments=study_arguments,
        tables=(case_study_table,),
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
    inputs={"src": {"metavar": "SRC"}, "dst": {"metavar": "DST"}},
    function=decompress,
    options=DecompressOptions,
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
    inputs={"orig": {"metavar": "ORIG"}, "rle": {"metavar": "RLE"}},
    function=verify,
    options=VerifyOptions,
)
