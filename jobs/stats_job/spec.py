"""The stats job's entry in the registry, and its arguments: all a job needs to be a command, a call and a study."""

from __future__ import annotations

import argparse

from jobs.cliargs import list_of, positive
from jobs.jobspec import JobSpec, StudySpec
from jobs.stats_job.api import stats
from jobs.stats_job.options import StatsOptions

__all__ = ["STATS"]


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
    inputs={"src": {"metavar": "SRC"}, "out": {"metavar": "OUT"}},
    function=stats,
    options=StatsOptions,
    study=StudySpec(
        unit="images/s",
        knob="images_per_task",
        knob_label="images per task",
        per_task="images per task",
        output="stats.csv",
        amount=study_amount,
        options=(),
        settings=study_settings,
        arguments=study_arguments,
        sizes_default=(16, 64),
        grow="more images",
        auto=None,
    ),
)
