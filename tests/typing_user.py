"""A user's script of the public API, for ``mypy --strict`` (scripts/test.sh): what their type checker sees.

Never run, only checked: each call below must type-check as written, with its
keywords and their ``Literal`` choices, and return what a user reads from it.
"""

from __future__ import annotations

import numpy as np

import jobs


def user_script() -> None:
    report = jobs.compress("scans/", "rle/", rows_per_task="auto", scheduler="threads", workers=2)
    print(report.counts, jobs.verify("scans/", "rle/", threshold=128).exit_code)
    batch = jobs.resize("train.txt", "batch.npy", size="64x64", fit="crop", method="area", compute=True)
    print(batch.output, jobs.run_job("stats", "scans/", "stats.csv", images_per_task=8))
    row: np.ndarray = jobs.preprocess("a.jpg", like="batch.npy")
    print(row.shape, jobs.resize_array("train.txt", size=(64, 64), fit="pad").shape)
    print(jobs.compress("scans/", "rle/", cluster="slurm", jobs=(1, 4)).counts)  # adaptive: 1 to 4 batch jobs
