"""What an RLE job reads and writes: inputs matched with outputs, and which outputs are current.

A source directory maps into an output directory (``page.bmp`` -> ``page.rle``),
a file to a file.  Each directory is listed once; an existing output is kept
only when the manifest (:mod:`jobs.rle_job.manifest`) says it was made from its
input as it is now and it is as its task wrote it (without a record: the
``make`` rule, newer than its input).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass

from jobs.errors import UsageError
from jobs.rle_job.manifest import read_manifest, split_entry
from jobs.runtime.listing import (
    InputListing,
    Names,
    check_writable_dir,
    kind_of_mode,
    list_inputs,
    list_outputs,
    stem,
)
from jobs.runtime.report import Outcomes
from jobs.runtime.stamps import stat_stamp

__all__ = ["Pairs", "match_outputs", "output_dir"]

log = logging.getLogger(__name__)


@dataclass
class Pairs:
    """Inputs matched with outputs, after skipping existing outputs."""

    src: Names
    dst: Names
    sizes: list
    settled: list
    out_dir: str
    stale: tuple
    stamps: tuple = ()  # (output name, input stamp) of the outputs the job makes
    adopt: tuple = ()  # (output name, manifest entry) of current outputs the manifest does not record yet
    #: Indices (into ``src``) of the outputs that were there when planned: the only ones a task may replace.
    existed: frozenset = frozenset()


def _single_input(src: str) -> InputListing:
    head, name = os.path.split(src)
    st = os.stat(src)
    if not stat.S_ISREG(st.st_mode):
        return InputListing(head, [], [], [(name, f"not a regular file ({kind_of_mode(st.st_mode)})")], [])
    return InputListing(head, [name], [st.st_size], [], [st.st_mtime_ns])


def output_dir(src: str, dst: str) -> str:
    """The directory a job from ``src`` to ``dst`` writes into: ``dst`` for a directory source, else as named."""
    if os.path.isdir(src) or os.path.isdir(dst) or dst.endswith(os.sep):
        return dst
    return os.path.dirname(dst) or "."


def _current(path: str, source_stamp: str, source_mtime: int, recorded: tuple | None) -> tuple[str | None, str]:
    """(why the output at ``path`` must be made again or None if it is current, its stamp); one ``lstat``.

    With a record in the directory's manifest (``recorded``, from :func:`jobs.rle_job.manifest.split_entry`),
    current means the input's stamp is the one it was made from and the output
    is as it was written; without one, as ``make`` decides: a regular, non-empty
    file modified no earlier than its input.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return "unreadable", ""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file", ""
    if st.st_size == 0:
        return "empty", ""
    mine = stat_stamp(st.st_size, st.st_mtime_ns)
    if recorded is not None:
        if recorded[0] != source_stamp:
            return "its input changed since it was made", mine
        if recorded[1] != mine:
            return "it changed since it was made", mine
        return None, mine
    if st.st_mtime_ns < source_mtime:
        return "older than its input", mine
    return None, mine


def match_outputs(src: str, dst: str, extensions, suffix: str, overwrite: bool) -> Pairs:
    """Match inputs with output paths (a directory maps into a directory, a file to a file); list each once."""
    if os.path.isdir(src):
        if os.path.exists(dst) and not os.path.isdir(dst):
            raise UsageError(f"{dst} is a file: when the source is a directory the destination must be one")
        listing = list_inputs(src, extensions)
        out_dir = dst
        out_names = None
        if overwrite and _same_dir(src, dst):
            raise UsageError(
                f"--overwrite into the source directory {src} would replace the files there (such as the "
                "images .rle files were made from): write the outputs to another directory"
            )
    elif os.path.exists(src):
        listing = _single_input(src)
        if os.path.isdir(dst) or dst.endswith(os.sep):
            out_dir = dst
            out_names = None
            mine = os.path.join(dst, stem(os.path.basename(src)) + suffix)
        else:
            out_dir = os.path.dirname(dst)
            if not os.path.isdir(out_dir or "."):
                raise UsageError(f"cannot write {dst}: directory {os.path.abspath(out_dir)} does not exist")
            out_names = [os.path.basename(dst)]
            mine = dst
        if os.path.exists(mine) and os.path.samefile(mine, src):
            raise UsageError(f"{mine} is the input itself: writing it would destroy the source; choose another name")
    else:
        raise UsageError(f"{src}: no such file or directory")
    check_writable_dir(out_dir)
    out = list_outputs(out_dir)
    names = listing.names
    wanted = [stem(n) + suffix for n in names] if out_names is None else out_names[: len(names)]
    settled = []
    if listing.others:
        bad = Outcomes(Names(listing.directory, tuple(n for n, _ in listing.others)), None, "failed")
        for i, (_, why) in enumerate(listing.others):
            bad.reasons[i] = why
        settled.append(bad)
    todo, skip, clash, redo, adopt = [], [], [], [], []
    seen: dict = {}
    manifest = read_manifest(out_dir) if out.exists and not overwrite else {}
    prefix = os.path.join(out_dir, "")
    assert listing.mtimes is not None  # list_inputs records them
    stamps = [stat_stamp(size, mtime) for size, mtime in zip(listing.sizes, listing.mtimes, strict=True)]
    for i, want in enumerate(wanted):
        if want in seen:
            clash.append((i, seen[want]))
            continue
        seen[want] = i
        if want in out.names and not overwrite:
            recorded = split_entry(manifest.get(want))
            why, mine = _current(prefix + want, stamps[i], listing.mtimes[i], recorded)
            if why is None:
                skip.append(i)
                if recorded is None:
                    adopt.append((want, f"{stamps[i]}|{mine}"))
                continue
            redo.append((want, why))
        todo.append(i)
    if redo:
        shown = ", ".join(f"{name} ({why})" for name, why in redo[:3]) + (" ..." if len(redo) > 3 else "")
        log.warning("%d output(s) are not current and are made again: %s", len(redo), shown)
    if out_names is None:
        all_src, all_dst = Names(listing.directory, tuple(names)), Names(out_dir, tuple(names), suffix)
    else:
        all_src, all_dst = Names(listing.directory, tuple(names)), Names(out_dir, tuple(wanted))
    if skip:
        why = "up to date: made from its input as it is now, or newer than it (--overwrite makes it again)"
        settled.append(Outcomes(all_src.take(skip), all_dst.take(skip), "skipped", why))
    if clash:
        c = Outcomes(all_src.take(i for i, _ in clash), all_dst.take(i for i, _ in clash), "failed")
        for k, (i, j) in enumerate(clash):
            c.reasons[k] = f"{all_src[i]}: output name {all_dst[i]} is also the output of {all_src[j]}"
        settled.append(c)
    return Pairs(
        all_src.take(todo),
        all_dst.take(todo),
        [listing.sizes[i] for i in todo],
        settled,
        out_dir,
        tuple(out.temporaries),
        tuple((wanted[i], stamps[i]) for i in todo),
        tuple(adopt),
        frozenset(k for k, i in enumerate(todo) if wanted[i] in out.names),
    )


def _same_dir(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
