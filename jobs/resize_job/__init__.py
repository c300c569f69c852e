"""The resize job: a list of images (or class folders) -> one (N, H, W, 3) uint8 batch and its labels.

One module per concern, in the order a run meets them:

- :mod:`~jobs.resize_job.source`: the file list or class folders, and their labels;
- :mod:`~jobs.resize_job.target`: where the batch goes, its work folder, what it holds (identity);
- :mod:`~jobs.resize_job.state`: that state on disk (sidecar, plan, done records), read as untrusted;
- :mod:`~jobs.resize_job.planner`: current, reopen, resume or start over, and the tasks;
- :mod:`~jobs.resize_job.tasks`: what the tasks run (decode, resize, write a slice, record it);
- :mod:`~jobs.resize_job.finish`: labels, sidecar, rename into place;
- :mod:`~jobs.resize_job.array`: the same work as a lazy dask array;
- :mod:`~jobs.resize_job.executors`: the classic exercise's executors, for comparison.
"""
