"""Which outputs of an RLE job are current: a small task per range of the run's work list (no Dask here).

A plan hands :func:`check_range` a range of its work list (input names, sorted
by the output each makes); the task takes the stamps of those inputs and
outputs and compares them with the manifest's records of the same names
(:func:`jobs.rle_job.manifest.read_window`), and returns a code per entry
(:class:`RangeState`).  The plan runs these tasks where the job's tasks run
(:meth:`jobs.runtime.runners.Runner.map`), so a rerun's ``stat`` calls are
spread over the workers, and the client gets back one byte and one size per
file, never their names.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

import numpy as np

from jobs.rle_job.manifest import UNKNOWN_INPUT, key, read_window
from jobs.rle_job.ranges import SEP, Target
from jobs.runtime.listfile import ListFile
from jobs.runtime.listing import kind_of_mode
from jobs.runtime.stamps import is_content, of_fd, stat_stamp_bytes, written_stamp
from jobs.runtime.worklist import WorkRange

__all__ = ["BAD", "CURRENT", "MAKE", "REPLACE", "RangeState", "check_range"]

#: No output there: it is made.
MAKE = 0
#: An output there that is not current (or ``overwrite``): it is made again, replacing it.
REPLACE = 1
#: Recorded as made from its input as the input is now, and as it was written: skipped.
CURRENT = 2
#: The input is not a regular file, or cannot be read, or an earlier input makes the same output: it fails, by name.
BAD = 4

#: Outputs named with their reason when not current (a warning shows the first few).
_SHOWN = 3


def _prefix(directory: str) -> bytes:
    d = os.fsencode(directory)
    return d if not d or d.endswith(b"/") else d + b"/"


@dataclass
class RangeState:
    """What :func:`check_range` found for each entry of its range.

    Attributes
    ----------
    codes : numpy.ndarray
        uint8, one of :data:`MAKE`, :data:`REPLACE`, :data:`CURRENT`, :data:`BAD`.
    sizes : numpy.ndarray
        int64, the input's size in bytes (0 where it is bad).
    reasons : dict
        Position -> why the input is bad.
    redone : list of (str, str)
        The first few outputs there that are not current, and why.
    nredone : int
        How many outputs there are not current.
    """

    codes: np.ndarray
    sizes: np.ndarray
    reasons: dict = field(default_factory=dict)
    redone: list = field(default_factory=list)
    nredone: int = 0


def check_range(
    work: WorkRange,
    target: Target,
    records: ListFile | None,
    overwrite: bool,
    look: bool,
    before: bytes = b"",
    stamps: str = "stat",
    made_with: bytes = b"",
) -> RangeState:
    """Stamp a range's inputs and outputs and judge each output (a :class:`RangeState`).

    Parameters
    ----------
    work : WorkRange
        Entries ``output/input``, sorted: the inputs of one output name are next to each other.
    target : Target
        Where they are.
    records : ListFile or None
        The manifest as planned (:func:`jobs.rle_job.manifest.records_of`).
    overwrite : bool
        Every output there is made again.
    look : bool
        Whether outputs may be there (False: a new directory, no ``lstat`` needed).
    before : bytes
        The entry before the range that makes the output of its first entry (b"" when none): an input
        whose output an earlier input makes fails.
    stamps : {"stat", "content"}
        How an input is compared with its record (``imgjobs.stamps``): ``content`` reads and digests every
        input whose output has a record.
    made_with : bytes
        The settings that shape an output (``opts.made_with()``): an output recorded with others is made again.
    """
    entries = work.entries()
    n = len(entries)
    state = RangeState(np.zeros(n, dtype=np.uint8), np.zeros(n, dtype=np.int64))
    src, out = _prefix(target.src_dir), _prefix(target.out_dir)
    split = [e.partition(SEP) for e in entries]
    outs, names = [x[0] for x in split], [x[2] for x in split]
    recs = (
        read_window(records, min(map(key, outs)), max(map(key, outs)))
        if records is not None and look and n and not overwrite
        else {}
    )
    maker_out, maker = before.partition(SEP)[::2] if before else (b"", b"")
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
    sfd = os.open(target.src_dir or ".", flags)  # names looked up in an open directory: one path step, not all
    try:
        ofd = os.open(target.out_dir or ".", flags) if look else -1
    except FileNotFoundError:
        look, ofd = False, -1
    try:
        _judge(state, names, outs, recs, sfd, ofd, src, out, maker_out, maker, overwrite, (stamps, made_with))
    finally:
        os.close(sfd)
        if ofd >= 0:
            os.close(ofd)
    return state


def _judge(state: RangeState, names, outs, recs, sfd, ofd, src, out, maker_out, maker, overwrite, how) -> None:
    codes, sizes = state.codes, state.sizes
    look = ofd >= 0
    for i, name in enumerate(names):
        if outs[i] == maker_out:
            maker_path = os.fsdecode(src + maker)
            codes[i] = BAD
            state.reasons[i] = f"output name {os.fsdecode(out + outs[i])} is also the output of {maker_path}"
            continue
        maker_out, maker = outs[i], name
        try:
            st = os.stat(name, dir_fd=sfd)
        except OSError as e:
            codes[i], state.reasons[i] = BAD, f"cannot read: {e.strerror or e}"
            continue
        if not stat.S_ISREG(st.st_mode):
            codes[i], state.reasons[i] = BAD, f"not a regular file ({kind_of_mode(st.st_mode)})"
            continue
        sizes[i] = st.st_size
        if not look:
            continue
        try:
            ost = os.stat(outs[i], dir_fd=ofd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # MAKE
        except OSError:
            why: str | None = "unreadable"
        else:
            why = None if overwrite else _why_not_current(name, st, ost, recs.get(outs[i]), how, sfd)
        if overwrite:
            codes[i] = REPLACE
        elif why is None:
            codes[i] = CURRENT
        else:
            codes[i] = REPLACE
            state.nredone += 1
            if len(state.redone) < _SHOWN:
                state.redone.append((os.fsdecode(outs[i]), why))


def _why_not_current(name: bytes, st: os.stat_result, ost: os.stat_result, rec, how, sfd: int) -> str | None:
    """Why an output there must be made again; None: current by its record.  ``how``: the run's kind of stamp
    and the settings that shape an output."""
    stamps, made_with = how
    if not stat.S_ISREG(ost.st_mode):
        return "not a regular file"
    if ost.st_size == 0:
        return "empty"
    if rec is None:
        return "no record of what made it (made by hand, by an older imgjobs, or its record was lost)"
    source, recorded, written = rec
    made_from, _, settings = recorded.partition(b"|")
    if settings != made_with:
        old = settings.decode("ascii", "replace") or "settings it did not record"
        return f"made with {old}, this run with {made_with.decode('ascii', 'replace')}"
    if source != UNKNOWN_INPUT and source != name:
        return "its input changed since it was made"
    if is_content(made_from) != (stamps == "content"):
        return f"recorded with {'content' if is_content(made_from) else 'stat'} stamps, compared with {stamps}"
    if not made_from.startswith(b"%d:" % st.st_size) or made_from != _stamp_now(name, st, stamps, sfd):
        return "its input changed since it was made"
    # a format-2 record (converted) has no inode: its size and time are all it can be compared by
    if written != (written_stamp(ost) if b":i" in written else stat_stamp_bytes(ost.st_size, ost.st_mtime_ns)):
        return "it changed since it was made"
    return None


def _stamp_now(name: bytes, st: os.stat_result, stamps: str, sfd: int) -> bytes:
    """The input's stamp now, of the run's kind (``content``: its bytes read and digested)."""
    if stamps != "content":
        return stat_stamp_bytes(st.st_size, st.st_mtime_ns)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0), dir_fd=sfd)
    except OSError:
        return b""
    try:
        return of_fd(fd).encode()
    except OSError:
        return b""
    finally:
        os.close(fd)
