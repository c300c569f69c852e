"""pytest's root configuration: isolation from the user's Dask configuration, and the
files the examples in ``jobs``' docstrings and in the pages of ``docs/`` work on.

The suite never reads the user's own configuration: Dask always reads
``~/.config/dask`` (and ``/etc/dask``), so before anything imports dask the test
session gets a home and a root config directory of its own, empty, and no
``DASK_IMGJOBS__*`` variable from outside.  Subprocesses inherit all of it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

#: The fixtures of the tests of data at URLs: a real S3 API server, buckets, sample photographs.
pytest_plugins = ["tests.servers"]


def _isolate_from_user_configuration() -> None:
    os.environ.setdefault("IMGJOBS_TESTS_REAL_HOME", os.path.expanduser("~"))  # for the test of this
    home = tempfile.mkdtemp(prefix="imgjobs-tests-home-")
    os.environ["HOME"] = home
    os.environ["DASK_ROOT_CONFIG"] = os.path.join(home, "etc-dask")
    os.environ.pop("DASK_CONFIG", None)
    for name in list(os.environ):
        if name.startswith("DASK_IMGJOBS__") or name == "DASK_INTERNAL_INHERIT_CONFIG":
            del os.environ[name]
    if "dask.config" in sys.modules:  # imported already (by a plugin): read the configuration again
        import dask.config

        dask.config.paths[:] = dask.config._get_paths()
        dask.config.refresh()


_isolate_from_user_configuration()

import numpy as np  # noqa: E402 - after the isolation above, before anything imports dask
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent
JOBS = ROOT / "jobs"
DOCS = ROOT / "docs"

# docs/: the Markdown pages are doctests (--doctest-glob); Sphinx's configuration and output are not
collect_ignore = ["docs/conf.py", "docs/_ext", "docs/_build"]


@pytest.fixture(autouse=True)
def _example_files(request, tmp_path_factory, monkeypatch):
    """For the examples in ``jobs``' docstrings and in ``docs/*.md``: a folder of their own
    holding ``scans/`` (three black-and-white pages; for the pages, also as ``samples/``, the
    folder ``scripts/demo.sh`` makes) and ``train.txt`` (four JPEGs; for the pages, also as
    ``photos/train.txt`` with labels, as ``imgjobs samples photos/`` writes it), as the examples name them."""
    parents = Path(request.node.path).parents
    if type(request.node).__name__ != "DoctestItem" or (JOBS not in parents and DOCS not in parents):
        yield
        return
    d = tmp_path_factory.mktemp("example")
    rng = np.random.default_rng(0)
    (d / "scans").mkdir()
    for i in range(3):
        page = np.ones((480, 640), bool)
        for _ in range(20):
            y, x = rng.integers(0, 400), rng.integers(0, 560)
            page[y : y + rng.integers(5, 80), x : x + rng.integers(5, 80)] = False
        Image.fromarray(page).save(d / "scans" / f"page{i}.png")
    (d / "photos").mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(d / "photos" / f"{i}.jpg")
    (d / "train.txt").write_text("".join(f"photos/{i}.jpg\n" for i in range(4)))
    if DOCS in parents:  # what the quick start's commands made before its Python: demo's samples/, photos/train.txt
        shutil.copytree(d / "scans", d / "samples")
        (d / "photos" / "train.txt").write_text("".join(f"{i}.jpg\t{i % 2}\n" for i in range(4)))
    monkeypatch.chdir(d)
    yield
