"""What a throughput study sweeps: configurations (where a job runs, how wide, how much work per task)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobs import registry
from jobs.errors import UsageError
from jobs.jobspec import StudySpec

__all__ = ["EXECUTORS", "MODES", "OWNED", "Configuration", "StudiedJob", "grid", "studied", "with_executors"]


#: Where a configuration runs: Dask's schedulers, or (resize) the classic exercise's executors.
MODES = ("dask threads", "dask processes", "dask local", "executor serial", "executor threads", "executor processes")
_SHORT = {m.split()[1]: m for m in MODES[:3]} | {"serial": "executor serial"}

#: The classic exercise's executors a study can run a job with, when its StudySpec says it takes them.
EXECUTORS = tuple(m.split()[1] for m in MODES[3:])


@dataclass(frozen=True)
class StudiedJob:
    """A job as a study sees it: its name and its :class:`~jobs.jobspec.StudySpec`."""

    name: str
    study: StudySpec

    def __getattr__(self, key):  # unit, knob, knob_label, per_task, output, ... of the StudySpec
        if key == "study":  # not set yet (a copy being built): no recursion
            raise AttributeError(key)
        return getattr(self.study, key)


# keywords a sweep sets itself, per configuration (the jobs' task-size knobs are added from the registry)
OWNED = {"scheduler", "workers", "threads_per_worker", "executor", "client"}
OWNED |= {"scheduler_address", "scheduler_file", "cluster", "overwrite", "progress", "compute"}


def with_executors() -> list[str]:
    """The jobs whose study can run them with the classic exercise's executors."""
    return [name for name, spec in registry.specs().items() if spec.study is not None and spec.study.executors]


def studied(job: str) -> StudiedJob:
    """The study side of job ``job`` from the registry; :class:`~jobs.errors.UsageError` if it cannot be studied."""
    studied = [name for name, spec in registry.specs().items() if spec.study is not None]
    spec = registry.specs().get(job) if isinstance(job, str) else None
    if spec is None or spec.study is None:
        raise UsageError(f"a study runs one of {', '.join(repr(n) for n in studied)}, not {job!r}")
    return StudiedJob(spec.name, spec.study)


@dataclass(frozen=True)
class Configuration:
    """One point of a study: where the job runs, how wide, and how much work per task.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`; ``"threads"``, ``"processes"``, ``"local"`` and
        ``"serial"`` are short for ``"dask threads"``, ... and ``"executor serial"``.
    workers : int
        Pool size, LocalCluster worker processes, or executor workers.
    threads_per_worker : int
        Threads in each LocalCluster worker (1 for every other mode).
    task_size : int or "auto"
        resize: images per task; compress: rows per task (0: one task per
        image).  The executors take one image per call: ``"-"``.
    """

    mode: str
    workers: int = 1
    threads_per_worker: int = 1
    task_size: int | str = "auto"

    def __post_init__(self):
        mode = _SHORT.get(self.mode, self.mode)
        object.__setattr__(self, "mode", mode)
        if mode not in MODES:
            raise UsageError(
                f"a study's mode is one of {', '.join(MODES)} (or threads, processes, local, serial); not {self.mode!r}"
            )
        for name in ("workers", "threads_per_worker"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{name} must be a whole number >= 1, got {value!r} ({mode})")
        if self.threads_per_worker != 1 and mode != "dask local":
            raise UsageError(f"threads_per_worker applies to 'dask local' only, not {mode!r}")
        if mode == "executor serial" and self.workers != 1:
            raise UsageError("the serial executor is one plain loop: workers=1")
        if mode.startswith("executor"):
            object.__setattr__(self, "task_size", "-")
        elif self.task_size != "auto" and not (isinstance(self.task_size, int) and self.task_size >= 0):
            try:
                object.__setattr__(self, "task_size", int(self.task_size))
            except (TypeError, ValueError):
                raise UsageError(f"task_size is 'auto' or a whole number, not {self.task_size!r}") from None
            if self.task_size < 0:
                raise UsageError(f"task_size is 'auto' or a whole number >= 0, not {self.task_size!r}")

    @property
    def parallelism(self) -> int:
        """Workers x threads per worker: how many tasks can run at once."""
        return self.workers * self.threads_per_worker

    @property
    def series(self) -> tuple:
        """What stays fixed along a line of the throughput figure (all but the workers)."""
        return (self.mode, self.threads_per_worker, str(self.task_size))


def grid(
    job, *, workers=None, modes=("threads", "local"), threads_per_worker=(1,), task_sizes=("auto",), executors=()
) -> list[Configuration]:
    """Every combination of the given settings, as a list of :class:`Configuration`.

    Parameters
    ----------
    job : {"resize", "compress"}
    workers : list of int, optional
        Worker counts (default 1, 2, half the cores and every core).
    modes : list of str
        Dask schedulers: ``threads``, ``processes``, ``local``.
    threads_per_worker : list of int
        For ``local`` only; the other modes run one thread per worker.
    task_sizes : list of int or "auto"
        Images per task (resize) or rows per task (compress; 0: one task per image).
    executors : list of str
        resize only: the exercise's ``serial`` loop (one worker), ``threads`` and
        ``processes`` pools, for comparison.
    """
    spec = studied(job)
    if workers is None:
        cores = os.cpu_count() or 1
        workers = sorted({1, 2, cores // 2, cores} - {0})
    if executors and not spec.executors:
        raise UsageError(
            f"the exercise's executors exist for the {' and '.join(with_executors())} job only, not {spec.name}"
        )
    configs = []
    for mode in modes:
        if _SHORT.get(mode, mode) not in MODES[:3]:
            raise UsageError(f"modes are Dask schedulers: threads, processes, local; not {mode!r}")
        for w in workers:
            for t in threads_per_worker if _SHORT.get(mode, mode) == "dask local" else [1]:
                configs += [Configuration(mode, w, t, size) for size in task_sizes]
    for ex in executors:
        if ex not in EXECUTORS:
            raise UsageError(f"executors are serial, threads, processes; not {ex!r}")
        configs += [Configuration(f"executor {ex}", w) for w in ([1] if ex == "serial" else workers)]
    return configs
