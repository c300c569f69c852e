"""Where a resize output's files are: the batch, its sidecar, its labels, its work folder.

A resize output is a family of files beside each other: the batch
(``batch.npy``, ``batch.zarr/`` or ``batch.wds/`` of tar shards), its sidecar
``batch.npy.json``, its labels ``batch.labels.npy`` and, while it is built, the
hidden work folder ``.batch.npy.imgjobs-partial/`` (``plan.json``,
``done/<start>-<stop>.json`` and the batch being filled).  This module names
them; :mod:`~jobs.resize_job.records`, :mod:`~jobs.resize_job.sidecar` and
:mod:`~jobs.resize_job.stores` read and write them.
"""

from __future__ import annotations

import os

from jobs.runtime import stamps
from jobs.runtime.places import DIRECTORY, FILE, Place

__all__ = [
    "KINDS",
    "PARTIAL_SUFFIX",
    "family",
    "kind_of",
    "labels_path",
    "out_stamp",
    "partial_dir",
    "sidecar_path",
    "state_places",
]

#: The hidden work folder of an unfinished batch: ``.batch.npy.imgjobs-partial`` beside ``batch.npy``.
PARTIAL_SUFFIX = ".imgjobs-partial"

#: What each output name makes: a ``.npy`` file, a ``.zarr`` store, a ``.wds`` directory of tar shards.
KINDS = (".npy", ".zarr", ".wds")


def kind_of(out) -> str:
    """``npy``, ``zarr`` or ``wds`` from an output's name (``npy`` for anything else: the planner refuses it)."""
    out = os.fspath(out)
    for suffix in KINDS[1:]:
        if out.endswith(suffix):
            return suffix[1:]
    return "npy"


def sidecar_path(out: str) -> str:
    """The sidecar of a batch: ``batch.npy`` -> ``batch.npy.json`` (never the name of a JSON config beside it)."""
    return os.fspath(out) + ".json"


def labels_path(out: str) -> str:
    """The labels beside a ``.npy`` batch: ``batch.npy`` -> ``batch.labels.npy``."""
    out = os.fspath(out)
    return (out[:-4] if out.endswith(".npy") else out) + ".labels.npy"


def partial_dir(out: str) -> str:
    """The hidden work folder of ``out``: ``.batch.npy.imgjobs-partial`` beside it."""
    head, tail = os.path.split(os.fspath(out))
    return os.path.join(head, f".{tail}{PARTIAL_SUFFIX}")


def family(out: str) -> list[tuple[str, str]]:
    """Every path a resize run into ``out`` writes, with what it is: (path, description)."""
    out = os.fspath(out)
    paths = [(out, "the batch"), (sidecar_path(out), "its sidecar")]
    if out.endswith(".npy"):
        paths.append((labels_path(out), "its labels"))
    paths.append((partial_dir(out), "its work folder"))
    return paths


def state_places(out: str) -> list[Place]:
    """Every place a resize run into ``out`` keeps, and what imgjobs makes there: the batch, its sidecar and
    labels, the work folder and what it holds (``plan.json``, ``done/``, the batch being built: the names of
    :class:`~jobs.resize_job.target.ResizeTarget`).  Checked while planning
    (:func:`jobs.runtime.places.check_places`)."""
    out = os.fspath(out)
    kind = FILE if kind_of(out) == "npy" else DIRECTORY
    work = partial_dir(out)
    places = [Place(out, "the batch", kind), Place(sidecar_path(out), "the batch's sidecar")]
    if out.endswith(".npy"):
        places.append(Place(labels_path(out), "the batch's labels"))
    return [
        *places,
        Place(work, "the batch's work folder", DIRECTORY),
        Place(os.path.join(work, "plan.json"), "the plan of the batch being built"),
        Place(os.path.join(work, "done"), "the records of the finished slices", DIRECTORY),
        Place(os.path.join(work, f"batch.{kind_of(out)}"), "the batch being built", kind),
    ]


def out_stamp(out: str) -> str:
    """What is at ``out`` now (:func:`jobs.runtime.stamps.out_stamp`), a zarr store's group metadata included:
    it changes when the store is rewritten in place."""
    return stamps.out_stamp(out, inside=("zarr.json",))
