"""The RLE job: compress directories of black-and-white images into ``.rle`` files, decompress, verify.

One module per concern, in the order a run meets them:

- :mod:`~jobs.rle_job.api`: ``compress``, ``decompress``, ``verify``, the Python functions;
- :mod:`~jobs.rle_job.options`: where each of their options falls back to, and task sizing;
- :mod:`~jobs.rle_job.pairs`: inputs matched with outputs, and which outputs are current;
- :mod:`~jobs.rle_job.manifest`: what each output was made from, on disk;
- :mod:`~jobs.rle_job.layout`: batches of small files and row blocks of large ones;
- :mod:`~jobs.rle_job.planning`: the planners (a directory -> a plan);
- :mod:`~jobs.rle_job.tasks` and :mod:`~jobs.rle_job.blocks`: what the batch and
  block tasks run, on top of the :mod:`rle` codec;
- :mod:`~jobs.rle_job.finish`: the manifest, the sweep and the report
  (:mod:`~jobs.rle_job.report`);
- :mod:`~jobs.rle_job.spec`: their entries in the registry.
"""
