"""The RLE job: compress directories of black-and-white images into ``.rle`` files, decompress, verify.

:mod:`~jobs.rle_job.graphs` plans (a directory -> batch tasks of small files and
row-block tasks of large ones, and the step that finishes them);
:mod:`~jobs.rle_job.tasks` holds the plain functions those tasks run, on top of
the :mod:`rle` codec.
"""
