"""The resize job: a list of images (or class folders) -> one (N, H, W, 3) uint8 batch and its labels.

One module per concern, in the order a run meets them:

- :mod:`~jobs.resize_job.api`: ``resize``, the Python function; :mod:`~jobs.resize_job.options`:
  where each of its options falls back to;
- :mod:`~jobs.resize_job.source`: the file list or class folders, and their labels;
- :mod:`~jobs.resize_job.checks`: outputs refused before planning (bad names, inputs, links);
- :mod:`~jobs.resize_job.paths`, :mod:`~jobs.resize_job.target`: where the batch goes, its
  work folder, what it holds (identity);
- :mod:`~jobs.resize_job.records`, :mod:`~jobs.resize_job.sidecar`, :mod:`~jobs.resize_job.stores`:
  that state on disk (done records, sidecar, the batch itself), read as untrusted;
- :mod:`~jobs.resize_job.rerun`: what an earlier run left, and what of it is still current;
- :mod:`~jobs.resize_job.planner`: current, reopen, resume or start over, and the tasks;
- :mod:`~jobs.resize_job.geometry`, :mod:`~jobs.resize_job.decode`,
  :mod:`~jobs.resize_job.libraries`: one image -> its row (where, how, with what);
- :mod:`~jobs.resize_job.tasks`: what the tasks run (create the batch, fill a slice, record it);
  :mod:`~jobs.resize_job.shards`: WebDataset tar shards;
- :mod:`~jobs.resize_job.finish`: labels, sidecar, rename into place; :mod:`~jobs.resize_job.report`;
- :mod:`~jobs.resize_job.array` (``resize_array``) and :mod:`~jobs.resize_job.inference`
  (``preprocess``): the same pixels lazily, and at inference;
- :mod:`~jobs.resize_job.executors`: the classic exercise's executors, for comparison;
- :mod:`~jobs.resize_job.spec`: its entry in the registry.
"""
