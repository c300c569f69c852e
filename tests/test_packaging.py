"""Packaging that resolves: one list of dependencies, in pyproject.toml and environment.yml alike, and the
dask-jobqueue internals imgjobs builds on, checked so that a new dask-jobqueue fails here loudly."""

from __future__ import annotations

import inspect
import re
import tomllib

import pytest
import yaml

from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;\[]", requirement.strip(), maxsplit=1)[0].lower()


def _bounds(requirement: str) -> str:
    return requirement.split("#")[0].strip()[len(_name(requirement)) :].replace(" ", "")


def test_environment_yml_holds_what_pyproject_asks_with_the_same_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra, reqs in project["optional-dependencies"].items():
        if extra != "docs":  # the docs site is built by scripts/docs.sh, not in a user's environment
            wanted += reqs
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    have = [d for d in env if isinstance(d, str)] + [p for d in env if isinstance(d, dict) for p in d["pip"]]
    have_bounds = {_name(d): _bounds(d) for d in have}
    assert {_name(r): _bounds(r) for r in wanted}.items() <= have_bounds.items()
    python = next(d for d in env if isinstance(d, str) and d.startswith("python"))
    assert _bounds(python) == project["requires-python"].split("#")[0].strip().replace(" ", "")


def test_the_dask_jobqueue_internals_the_staggered_lifetimes_subclass_are_there():
    # jobs.clusters.profiles subclasses each cluster's job_cls and passes these keywords on
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import PBSCluster, SLURMCluster
    from dask_jobqueue.core import Job

    assert "worker_extra_args" in inspect.signature(Job.__init__).parameters
    for cluster in (PBSCluster, SLURMCluster):
        assert issubclass(cluster.job_cls, Job), cluster
        params = inspect.signature(cluster.job_cls.__init__).parameters
        for name in ("name", "config_name"):
            assert name in params, (cluster.job_cls, name)
        assert any(p.kind is p.VAR_KEYWORD for p in params.values())  # worker_extra_args reaches Job
    assert "dummy-name" in inspect.getsource(PBSCluster.__mro__[1])  # the --dry-run job, never submitted


def test_every_package_of_the_source_is_in_the_wheel():
    """A new subpackage (a job) missing from pyproject.toml's list would be left out of a non-editable install."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("jobs", "rle")
        for p in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found <= listed, found - listed
