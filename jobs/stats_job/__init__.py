"""An example job, ``stats``: a CSV of every image's size and luminance (min, mean, max).

Small on purpose: it shows what a job is, and what the registry gives it for free.
Its whole code is this subpackage and one line in :data:`jobs.registry.JOBS`:

- :mod:`~jobs.stats_job.options`: where its options fall back to (``imgjobs.stats.*``);
- :mod:`~jobs.stats_job.tasks`: the plain function a task runs (file names in, figures out);
- :mod:`~jobs.stats_job.planner`: the plan (one task per batch of images) and the finishing step
  that writes the CSV, and its report;
- :mod:`~jobs.stats_job.api`: ``stats``, its Python function, written out;
- :mod:`~jobs.stats_job.spec`: its :class:`~jobs.jobspec.JobSpec` (the command, the study).
"""
