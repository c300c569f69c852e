"""The stats job's entry in the registry, and its arguments: all a job needs to be a command, a call and a study."""

from __future__ import annotations

import argparse
import os

from jobs.cliargs import list_of, positive
from jobs.params import Param
from jobs.registry import JobSpec, StudySpec

__all__ = ["STATS"]


def writes(src, out) -> str:
    """The CSV's directory: the job holds its lock."""
    return os.path.dirname(os.path.abspath(os.fspath(out)))


def study_arguments(p: argparse.ArgumentParser) -> None:
    """``imgjobs study stats``: the images-per-task sweep."""
    p.add_argument(
        "--images-per-task",
        dest="task_sizes",
        type=list_of(positive),
        default=list(STATS.study.sizes_default),  # type: ignore[union-attr]
        metavar="LIST",
        help="images per task (default " + ",".join(map(str, STATS.study.sizes_default)) + ")",  # type: ignore[union-attr]
    )


def study_amount(report) -> float:
    """Images read: a study's measure of a stats run's work."""
    return len(report)


def study_settings(options: dict) -> dict:
    """The stats job has no option that changes its work."""
    return {}


STATS = JobSpec(
    name="stats",
    help="images -> CSV of size and luminance (an example job)",
    description="Write a CSV of every image in a directory: width, height, mode and luminance (min, mean, "
    "max). The example job of the contributors' guide: one subpackage and one registry line.",
    examples=("imgjobs stats scans/ stats.csv", "imgjobs stats scans/ stats.csv --scheduler local --workers 2"),
    inputs={
        "src": Param("str or os.PathLike", "a directory of images", flag={"metavar": "SRC"}),
        "out": Param(
            "str or os.PathLike",
            "the CSV to write: path, width, height, mode, min, mean, max",
            flag={"metavar": "OUT"},
        ),
    },
    options="jobs.stats_job.options:StatsOptions",
    planner="jobs.stats_job.planner:plan_stats",
    doc="Write a CSV of every image in a directory: width, height, mode and luminance (min, mean, max).",
    writes="jobs.stats_job.spec:writes",
    study=StudySpec(
        unit="images/s",
        knob="images_per_task",
        knob_label="images per task",
        per_task="images per task",
        output="stats.csv",
        amount="jobs.stats_job.spec:study_amount",
        options=(),
        settings="jobs.stats_job.spec:study_settings",
        arguments="jobs.stats_job.spec:study_arguments",
        sizes_default=(16, 64),
        grow="more images",
        auto=None,
    ),
)
