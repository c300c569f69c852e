"""What an RLE job reads and writes: inputs matched with outputs, and which outputs are current.

A source directory maps into an output directory (``page.bmp`` -> ``page.rle``),
a file to a file.  The plan lists the source once (names only, a stream),
sorts the names by the output each makes, writes them as the run's work list
(:mod:`jobs.runtime.worklist`) and keeps one byte and one size per file: the
stamps are taken, and each output judged, in small tasks over ranges of that
list (:func:`jobs.rle_job.currency.check_range`) that run where the job's tasks
run.  An existing output is kept only when the manifest
(:mod:`jobs.rle_job.manifest`) says it was made from its input as it is now and
it is as its task wrote it; an output without a record is made again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from jobs.errors import UsageError
from jobs.rle_job.currency import BAD, CURRENT, REPLACE, check_range
from jobs.rle_job.journal import check_parts_place, fold_left
from jobs.rle_job.manifest import check_place, records_of
from jobs.rle_job.options import CompressOptions, DecompressOptions
from jobs.rle_job.ranges import SEP, EntryNames, Target, split_blob
from jobs.runtime.listfile import ListFile
from jobs.runtime.listing import check_writable_dir, list_outputs, stem
from jobs.runtime.report import Outcomes
from jobs.runtime.runners import MAP_ITEMS, Mapper, local_map
from jobs.runtime.temporaries import sweep_temporaries
from jobs.runtime.worklist import WorkList, write_worklist

__all__ = ["Pairs", "match_outputs", "output_dir"]

log = logging.getLogger(__name__)

#: Why an output is skipped.
UP_TO_DATE = "up to date: made from its input as it is now (--overwrite makes it again)"


@dataclass
class Pairs:
    """Inputs matched with outputs: the run's work list and, per entry, a code and the input's size.

    Attributes
    ----------
    target : Target
        Where inputs and outputs are.
    work : WorkList
        The input names, sorted by output name.
    codes : numpy.ndarray
        Per entry, :mod:`jobs.rle_job.currency`'s code (MAKE, REPLACE: a task makes it).
    sizes : numpy.ndarray
        Per entry, the input's size when planned.
    settled : list of Outcomes
        Files decided while planning (skipped, failed).
    stale : tuple of str
        Temporaries in the output directory when planned (left by a killed run).
    records : ListFile or None
        The manifest as planned, which the finish merges what the run made into.
    """

    target: Target
    work: WorkList
    codes: np.ndarray
    sizes: np.ndarray
    settled: list
    stale: tuple
    records: ListFile | None

    @property
    def out_dir(self) -> str:
        return self.target.out_dir

    def todo(self) -> np.ndarray:
        """Entries a task makes, in order."""
        return np.flatnonzero(self.codes <= REPLACE)

    def paths(self, indices: np.ndarray) -> list[tuple[str, str]]:
        """The input and output paths of entries ``indices`` (sorted), in order: one read of the list."""
        if not len(indices):
            return []
        mask = np.zeros(len(self.work), dtype=bool)
        mask[indices] = True
        ins, outs = split_blob(self.work.select(mask))
        t = self.target
        return [
            (os.path.join(t.src_dir, os.fsdecode(i)), os.path.join(t.out_dir, os.fsdecode(o)))
            for i, o in zip(ins.split(b"\0")[:-1], outs.split(b"\0")[:-1], strict=True)
        ]


def output_dir(src: str, dst: str) -> str:
    """The directory a job from ``src`` to ``dst`` writes into: ``dst`` for a directory source, else as named."""
    if os.path.isdir(src) or os.path.isdir(dst) or dst.endswith(os.sep):
        return dst
    return os.path.dirname(dst) or "."


def _target(src: str, dst: str, suffix: str, overwrite: bool) -> tuple[Target, list[bytes]]:
    """Where the job reads and writes, and for a job of one file its entry (``output/input``); UsageError for
    what cannot be."""
    if os.path.isdir(src):
        if os.path.exists(dst) and not os.path.isdir(dst):
            raise UsageError(f"{dst} is a file: when the source is a directory the destination must be one")
        if overwrite and _same_dir(src, dst):
            raise UsageError(
                f"--overwrite into the source directory {src} would replace the files there (such as the "
                "images .rle files were made from): write the outputs to another directory"
            )
        return Target(src, dst), []
    if not os.path.exists(src):
        raise UsageError(f"{src}: no such file or directory")
    head, name = os.path.split(src)
    if os.path.isdir(dst) or dst.endswith(os.sep):
        target = Target(head, dst)
        mine = os.path.join(dst, stem(name) + suffix)
    else:
        out_dir = os.path.dirname(dst)
        if not os.path.isdir(out_dir or "."):
            raise UsageError(f"cannot write {dst}: directory {os.path.abspath(out_dir)} does not exist")
        target = Target(head, out_dir)
        mine = dst
    if os.path.exists(mine) and os.path.samefile(mine, src):
        raise UsageError(f"{mine} is the input itself: writing it would destroy the source; choose another name")
    return target, [os.fsencode(os.path.basename(mine)) + SEP + os.fsencode(name)]


def _scan_entries(directory: str, extensions, suffix: str) -> list[bytes]:
    """The work list entries (``output/input``) of the names in ``directory`` with a wanted extension, hidden
    ones left out: one listing, no ``stat``."""
    tail = os.fsencode(suffix) + SEP
    wanted = {os.fsencode(e) for e in extensions}  # lower-case ASCII: bytes.lower() is enough
    return [
        n[:dot] + tail + n
        for n in os.listdir(os.fsencode(directory))
        if n[0] != 0x2E and (dot := n.rfind(b".")) > 0 and n[dot:].lower() in wanted  # 0x2E: "."
    ]


def match_outputs(
    src: str,
    dst: str,
    extensions,
    suffix: str,
    opts: CompressOptions | DecompressOptions,
    token: str,
    map: Mapper = local_map,
) -> Pairs:
    """Match inputs with outputs and judge the outputs there; write the run's work list (see the module).

    ``map`` runs the judging tasks (:meth:`jobs.runtime.runners.Runner.map`); of ``opts``: ``overwrite``,
    ``stamps`` (how they tell an input changed) and ``made_with()`` (the settings that shape an output).
    """
    overwrite, how = opts.overwrite, (opts.stamps, opts.made_with())
    target, keyed = _target(src, dst, suffix, overwrite)
    check_writable_dir(target.out_dir)
    check_place(target.out_dir)
    left = check_parts_place(target.out_dir)
    if not keyed:
        keyed = _scan_entries(src, extensions, suffix)
    there = list_outputs(target.out_dir, keep_names=False)
    look, stale = there.count > 0, there.temporaries
    try:
        os.makedirs(target.out_dir or ".", exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {target.out_dir}: {e.strerror or e}") from None
    keyed.sort()  # the inputs of one output name together, the first (by name) the one that makes it
    try:
        if left:
            fold_left(target.out_dir, token)  # the records of a killed run's finished tasks
        work = write_worklist(target.out_dir, token, keyed)
        records = records_of(target.out_dir, token) if look else None  # overwrite: kept for what is not remade
        judged = None if overwrite else records
        calls = [
            (work.range(a, min(a + MAP_ITEMS, len(work))), target, judged, overwrite, look, _maker(keyed, a), *how)
            for a in range(0, len(work), MAP_ITEMS)
        ]
        del keyed
        states = map(check_range, calls)
    except BaseException:
        sweep_temporaries(target.out_dir, token=token)
        raise
    codes = np.concatenate([s.codes for s in states]) if states else np.zeros(0, dtype=np.uint8)
    sizes = np.concatenate([s.sizes for s in states]) if states else np.zeros(0, dtype=np.int64)
    pairs = Pairs(target, work, codes, sizes, [], tuple(stale), records)
    _settle(pairs, states)
    return pairs


def _maker(keyed: list[bytes], a: int) -> bytes:
    """The entry before ``a`` that makes the output of entry ``a`` (the first of its output name), or b""."""
    out = keyed[a].partition(SEP)[0] + SEP if a < len(keyed) else b""
    k = a
    while k > 0 and keyed[k - 1].startswith(out):
        k -= 1
    return keyed[k] if k < a else b""


def _settle(pairs: Pairs, states: list) -> None:
    """The outcomes decided while planning: outputs skipped as current, inputs that cannot be made."""
    t, codes = pairs.target, pairs.codes
    skipped = codes == CURRENT
    if skipped.any():
        blob = pairs.work.select(skipped)  # split into names only if the report is read file by file
        pairs.settled.append(
            Outcomes(EntryNames(t.src_dir, blob, 1), EntryNames(t.out_dir, blob, 0), "skipped", UP_TO_DATE)
        )
    bad = codes == BAD
    if bad.any():
        blob = pairs.work.select(bad)
        o = Outcomes(EntryNames(t.src_dir, blob, 1), EntryNames(t.out_dir, blob, 0), "failed")
        for k, why in enumerate(why for s in states for _, why in sorted(s.reasons.items())):
            o.reasons[k] = why
        pairs.settled.append(o)
    redone = [r for s in states for r in s.redone][:3]
    nredone = sum(s.nredone for s in states)
    if nredone:
        shown = ", ".join(f"{name} ({why})" for name, why in redone) + (" ..." if nredone > len(redone) else "")
        log.warning("%d output(s) are not current and are made again: %s", nredone, shown)


def _same_dir(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
