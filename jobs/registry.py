"""The job registry: every job's :class:`~jobs.jobspec.JobSpec`, which the CLI, ``run_job`` and studies loop over.

The jobs imgjobs ships are in :data:`JOBS`, as objects.  Another package adds
a job by naming its spec as an entry point in the group :data:`ENTRY_POINTS`
of its packaging metadata, e.g. in its ``pyproject.toml``::

    [project.entry-points."imgjobs.jobs"]
    thumbs = "mypackage.thumbs_job.spec:THUMBS"

(as numcodecs finds codecs of other packages).  :func:`specs` loads them on
first use; one that fails to load is named in a warning and left out.
"""

from __future__ import annotations

import logging
import re

from jobs.errors import UsageError
from jobs.jobspec import JobSpec
from jobs.resize_job.spec import RESIZE
from jobs.rle_job.spec import COMPRESS, DECOMPRESS, VERIFY
from jobs.stats_job.spec import STATS

__all__ = ["ENTRY_POINTS", "JOBS", "RESERVED", "get", "specs"]

log = logging.getLogger(__name__)

#: Every job imgjobs ships, in the order the command lists them.
JOBS: tuple[JobSpec, ...] = (COMPRESS, DECOMPRESS, VERIFY, RESIZE, STATS)

#: The entry-point group where other packages name their jobs' specs.
ENTRY_POINTS = "imgjobs.jobs"

#: The command's other commands: no job may take their names (``tests/test_registry.py`` keeps them the
#: parser's).
RESERVED = frozenset({"study", "certs", "samples"})

#: What a job's name looks like: a command, a config section and a Python keyword value alike.
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")

_SPECS: dict[str, JobSpec] | None = None  # JOBS, by name
_PLUGINS: dict[str, JobSpec] | None = None  # other packages' jobs, by name


def _plugins(taken: set[str]) -> list[JobSpec]:
    """The specs other packages name in :data:`ENTRY_POINTS`, but none named like a job in ``taken``.

    One that does not load (even one that calls ``sys.exit``), is not a
    :class:`~jobs.jobspec.JobSpec`, has a name unlike a command's
    (``[a-z][a-z0-9_-]*``), or takes a name already taken or :data:`RESERVED` is
    left out with a warning naming it: a broken plugin never stops the jobs that work.
    """
    from importlib.metadata import entry_points  # start-up: ~30 ms with the scan, only when other jobs are asked for

    found = []
    for ep in entry_points(group=ENTRY_POINTS):
        try:
            spec = ep.load()
        except (Exception, SystemExit) as e:
            why = f"{type(e).__name__}: {e}"
            log.warning("the job %r of entry point %s does not load (%s): left out", ep.name, ep.value, why)
            continue
        if not isinstance(spec, JobSpec):
            log.warning("the entry point %s (%s) is not a jobs.jobspec.JobSpec: left out", ep.name, ep.value)
            continue
        if not isinstance(spec.name, str) or not _NAME.fullmatch(spec.name):
            log.warning(
                "the job %r of entry point %s is not named like a command ([a-z][a-z0-9_-]*): left out",
                spec.name,
                ep.value,
            )
            continue
        if spec.name in taken or spec.name in RESERVED:
            log.warning("the job %r of entry point %s takes a name already taken: left out", spec.name, ep.value)
            continue
        taken.add(spec.name)
        found.append(spec)
    return found


def _by_name(found: tuple) -> dict[str, JobSpec]:
    named: dict[str, JobSpec] = {}
    for spec in found:
        if spec.name in named:
            raise ValueError(f"two jobs are named {spec.name!r} ({spec.function.__module__})")
        named[spec.name] = spec
    return named


def specs(*, plugins: bool = True) -> dict[str, JobSpec]:
    """Name -> :class:`~jobs.jobspec.JobSpec` of every job: :data:`JOBS`, then other packages' entry points.

    ``plugins=False``: the jobs imgjobs ships only (what a command of one of them
    needs: looking for other packages' jobs costs the command ~30 ms).
    """
    global _SPECS, _PLUGINS
    if _SPECS is None:
        _SPECS = _by_name(JOBS)
    if not plugins:
        return _SPECS
    if _PLUGINS is None:
        _PLUGINS = {spec.name: spec for spec in _plugins(set(_SPECS))}
    return {**_SPECS, **_PLUGINS}


def get(name: str) -> JobSpec:
    """The :class:`~jobs.jobspec.JobSpec` of job ``name``; a :class:`~jobs.errors.UsageError` naming every job."""
    try:
        return specs(plugins=False)[name] if name in specs(plugins=False) else specs()[name]
    except (KeyError, TypeError):
        raise UsageError(f"no job is named {name!r}: the jobs are {', '.join(specs())}") from None
