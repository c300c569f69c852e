"""What a resize job refuses before it plans: an output it cannot name or write, or one that is an input.

Every check here reads and writes nothing but ``stat`` calls: a refusal comes
before any work, names the path, and says what to do.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Sequence

from jobs.errors import UsageError
from jobs.resize_job import shards
from jobs.resize_job.listed import ListedPaths
from jobs.resize_job.paths import KINDS, family, kind_of, state_places
from jobs.resize_job.remote import check_url_output
from jobs.runtime.places import check_places as check_state_places
from jobs.runtime.runners import MAP_ITEMS, Mapper, local_map
from jobs.runtime.storage import is_url

__all__ = ["check_not_an_input", "check_places", "output_name", "refuse_url_output"]


def output_name(out: str) -> str:
    """``out`` as the job uses it (without a directory output's trailing slash); refused when it names no batch,
    or a URL (:func:`refuse_url_output`)."""
    refuse_url_output(out)
    if out.endswith(os.sep) and out.rstrip(os.sep).endswith((".zarr", ".wds")):
        out = out.rstrip(os.sep)  # a directory output named with its slash (shell completion adds one)
    if not out.endswith(KINDS):
        raise UsageError(f"output {out} must end in .npy, .zarr or .wds (a directory of WebDataset tar shards)")
    if kind_of(out) == "wds" and (not shards.prefix(out) or shards.prefix(out).startswith(".")):
        raise UsageError(f"output {out} needs a name before .wds (e.g. train.wds): it names the shards")
    if kind_of(out) == "wds" and any(c in shards.prefix(out) for c in "{},"):
        raise UsageError(
            f"output {out}: braces and commas in a shard name would be read as a brace pattern by loaders; "
            "choose a name without them"
        )
    return out


def refuse_url_output(out: str) -> None:
    """A :class:`~jobs.errors.UsageError` for an output at a URL given to the planner, which plans local outputs:
    :func:`jobs.resize` builds one in its stage and mirrors it (:mod:`jobs.resize_job.remote`)."""
    out = os.fspath(out)
    check_url_output(out)
    if is_url(out):
        raise UsageError(
            f"output {out}: the planner plans a local output; jobs.resize builds an output at a URL in its stage "
            "and mirrors it into the store"
        )


def check_places(out: str, source, paths: Sequence, map: Mapper | None = None) -> None:
    """Refuse an output that is an input (``map``: where the inputs are looked at, :func:`check_not_an_input`),
    or one of whose places holds what imgjobs must not write through or over: a link, a FIFO, a directory
    where a file belongs... (:func:`~jobs.resize_job.paths.state_places`, whatever ``--overwrite`` says)."""
    check_not_an_input(out, family(out), source, paths, map)
    check_state_places(state_places(out))
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {out}: directory {parent} does not exist")
    if out.endswith(".zarr"):
        try:
            import zarr  # noqa: F401 - optional extra: zarr
        except ImportError:
            raise UsageError("writing .zarr needs the zarr package: pip install zarr (or use a .npy output)") from None


def aliased(paths, taken: dict) -> tuple[str, str] | None:
    """The first of ``paths`` that is one of ``taken``'s files, by device and inode, and why (a task's work)."""
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        why = taken.get((st.st_dev, st.st_ino))
        if why:
            return p, why
    return None


def check_not_an_input(out: str, outputs, source, paths, map: Mapper | None = None) -> None:
    """Refuse outputs that would overwrite the source, its file list or an image.

    Each of ``paths`` is compared by name with the few outputs (a cheap test of
    its last part first; a list's scan kept the few that can match), and, when
    outputs exist, by device and inode: that takes a ``stat`` of every input, done
    by ``map``'s tasks (:func:`aliased`), not by a loop here.
    """
    source = os.path.abspath(os.fspath(source))
    extra = [source]
    if os.path.isfile(source) and source.lower().endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                listed = json.load(f)["data"]["train_filelist"]
            extra.append(os.path.abspath(os.path.join(os.path.dirname(source), listed)))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            pass
    named = {os.path.abspath(path): (path, what) for path, what in outputs}
    tails = {os.path.basename(a) for a in named}
    # The same files under other names (a link, a symbolic link to a directory), and images inside a
    # store that --overwrite would remove: what exists of the outputs, by device and inode (a store:
    # every file in it), against every input.
    taken = {}
    for path, what in outputs:
        if what == "its work folder" or not os.path.lexists(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            for root, _, files in os.walk(path):
                for f in files:
                    with contextlib.suppress(OSError):
                        st = os.stat(os.path.join(root, f))
                        taken[(st.st_dev, st.st_ino)] = f"is inside {path} ({what})"
        else:
            with contextlib.suppress(OSError):
                st = os.stat(path)
                taken[(st.st_dev, st.st_ino)] = f"is {path} ({what}) under another name"
    suspects = paths.suspects(tails) if isinstance(paths, ListedPaths) else None  # kept by the list's scan
    for p in itertools.chain(extra, paths if suspects is None else suspects):
        trimmed = p.rstrip(os.sep)
        if trimmed[trimmed.rfind(os.sep) + 1 :] in tails or trimmed.endswith((os.sep + ".", os.sep + "..")):
            hit = named.get(os.path.abspath(p))
            if hit:
                raise UsageError(f"{hit[0]} ({hit[1]}) is one of the job's inputs: choose another --out")
    if taken:  # outputs exist (a rerun): every input, by inode, in small tasks of MAP_ITEMS inputs
        calls = [(paths[a : a + MAP_ITEMS], taken) for a in range(0, len(paths), MAP_ITEMS)]
        for hit in [aliased(extra, taken), *(map or local_map)(aliased, calls)]:
            if hit:
                raise UsageError(f"{hit[0]}, one of the job's inputs, {hit[1]}: choose another --out")
    if os.path.isdir(source) and kind_of(out) != "npy":
        real_out, real_src = os.path.realpath(out), os.path.realpath(source)
        if real_out.startswith(real_src + os.sep):
            raise UsageError(
                f"{out} is inside the source directory {source}: it would be read as a class folder on the next "
                "run; choose an --out outside it"
            )
