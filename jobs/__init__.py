"""``jobs``: image batch jobs on Dask, one call each.

>>> import jobs
>>> report = jobs.compress("scans/", "rle/")
>>> print(report.summary())
compress: 3 file(s): 3 ok
  0.9 MPixel in ... s = ... MPixel/s; ... KB in, ... KB out (ratio ...x)

The Python API (:mod:`jobs.api`): :func:`compress`, :func:`decompress`,
:func:`verify`, :func:`resize`, each returning a :class:`Report` (or, with
``compute=False``, a Dask collection whose last task finalizes).

Under it, one job runtime (:mod:`jobs.runtime.engine`): plan -> tasks -> finalize ->
report, abort on failure.  The two jobs each have a graph builder and the plain
functions their tasks run: :mod:`jobs.rle_job.graphs` / :mod:`jobs.rle_job.tasks` and
:mod:`jobs.resize_job.planner` / :mod:`jobs.resize_job.tasks`.  :mod:`jobs.runtime.schedulers`
starts or connects to a scheduler, :mod:`jobs.study.core` runs throughput sweeps
(``jobs.study.sweep``: a table, fits and warnings; :mod:`jobs.study.figures` draws them
with matplotlib), and :mod:`jobs.cli` is the ``imgjobs`` command.

The names below are loaded on first use (PEP 562): importing ``jobs`` costs
nothing, a worker process that only runs task functions never imports what it
does not use, and the command can report a malformed Dask config file cleanly.
"""

from __future__ import annotations

import importlib

#: Public name -> (module, attribute).
_EXPORTS = {
    "compress": ("api", "compress"),
    "decompress": ("api", "decompress"),
    "resize": ("api", "resize"),
    "resize_array": ("resize_job.array", "resize_array"),
    "preprocess": ("resize_job.inference", "preprocess"),
    "PixelsMayDiffer": ("resize_job.inference", "PixelsMayDiffer"),
    "read_labelled": ("resize_job.source", "read_labelled"),
    "verify": ("api", "verify"),
    "run_job": ("api", "run_job"),
    "job_function": ("api", "job_function"),
    "config_get": ("config", "get"),
    "ConfigError": ("errors", "ConfigError"),
    "BusyError": ("errors", "BusyError"),
    "UsageError": ("errors", "UsageError"),
    "CompressOptions": ("rle_job.options", "CompressOptions"),
    "DecompressOptions": ("rle_job.options", "DecompressOptions"),
    "ResizeOptions": ("resize_job.options", "ResizeOptions"),
    "RunOptions": ("options", "RunOptions"),
    "VerifyOptions": ("rle_job.options", "VerifyOptions"),
    "FileResult": ("runtime.report", "FileResult"),
    "Outcomes": ("runtime.report", "Outcomes"),
    "Report": ("runtime.report", "Report"),
    "Plan": ("runtime", "Plan"),
    "execute": ("runtime", "execute"),
    "to_delayed": ("runtime", "to_delayed"),
}

__all__ = sorted(_EXPORTS)

#: The version of the imgjobs distribution (``jobs`` and ``rle``): the one place it is written.
__version__ = "0.2.0"  # 0.2: fits, shards, area decodes at >= 4x (other pixels than 0.1 on large photos)


#: Submodules reachable as attributes without an import of their own (``jobs.study.sweep``).
_SUBMODULES = ("study",)


def __getattr__(name: str):
    if name in _SUBMODULES:
        submodule = importlib.import_module(f".{name}", __name__)
        globals()[name] = submodule
        return submodule
    try:
        where, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'jobs' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{where}", __name__), attr)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
