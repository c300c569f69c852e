"""Graph builders for the RLE job: directories in, a :class:`~jobs.runtime.engine.Plan` out.

Nothing here computes, and nothing here writes: a builder lists the source and
the output directory once each, decides the task layout, and returns a plan that
:func:`jobs.runtime.engine.execute` runs.  Cost is linear in the number of files and
small per file: a name and a size on the client, one graph node per batch.

Layout, with ``rows_per_task="auto"`` (the default):

* small files are **batched**, many to a task, so that a task is far above Dask's
  ~1 ms overhead: consecutive files until the batch holds ``batch-bytes`` of input
  (each file counting ``file-cost-bytes`` extra for opening and writing it), fewer
  when that is needed to give every thread ``tasks-per-thread`` tasks.  Their
  headers are read inside the tasks, on the workers.
* a **large** file (a BMP that may hold more pixels than a task should read, an
  ``.rle`` that may decode to that many) has its header read here, and gets one
  task per block of rows plus a task that assembles, renames or combines;
* ``decompress`` and ``verify`` size their work from the bytes an ``.rle`` holds,
  never from what its header claims: a claim the file's size cannot describe
  fails here, at once (:func:`rle.check_length`).

``rows_per_task=0`` gives one task per image and a number N gives blocks of N
rows (every header read here): the knobs of a throughput study.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import stat
from dataclasses import dataclass

import rle
from jobs.errors import UsageError
from jobs.rle_job.options import CompressOptions, DecompressOptions, Sizing, VerifyOptions
from jobs.rle_job.tasks import (
    FileBatch,
    assemble_rle,
    compress_batch,
    compress_block,
    decompress_batch,
    decompress_block,
    finalize_bmp,
    prepare_bmp,
    rle_offsets,
    size_mismatch,
    verify_batch,
    verify_block,
    verify_finish,
)
from jobs.runtime.engine import Finish, Plan
from jobs.runtime.files import (
    InputListing,
    Names,
    check_writable_dir,
    list_inputs,
    list_outputs,
    new_token,
    stem,
    sweep_temporaries,
)
from jobs.runtime.report import STATUSES, Outcomes, Report
from jobs.runtime.stamps import of_output, read_manifest, split_entry, stat_stamp, write_manifest

__all__ = [
    "BMP_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "RleFinish",
    "plan_compress",
    "plan_decompress",
    "plan_verify",
    "row_bounds",
]

log = logging.getLogger(__name__)

#: Extensions taken as images when a directory is compressed (case-insensitive).
IMAGE_EXTENSIONS = frozenset(
    ".bmp .dib .png .gif .tif .tiff .pbm .pgm .ppm .pnm .pcx .tga .webp .jpg .jpeg .jp2 .ico .im .sgi".split()
)
#: Images whose rows can be read apart (the BMP fast path), so large ones are split into row blocks.
BMP_EXTENSIONS = frozenset({".bmp", ".dib"})


def row_bounds(height: int, width: int, rows_per_task: int | str, target: int) -> list[int]:
    """Row numbers where blocks start, plus ``height``: ``[0, r1, r2, ..., height]``.

    ``rows_per_task`` is a row count, 0 for one block, or ``"auto"`` for blocks of
    about ``target`` pixels of even height.
    """
    if rows_per_task == "auto":
        nblocks = max(1, math.ceil(height * width / max(1, target)))
        rows = math.ceil(height / nblocks)
    elif int(rows_per_task) <= 0:
        rows = height
    else:
        rows = int(rows_per_task)
    return [*list(range(0, height, rows)), height]


# --------------------------------------------------------------------------- finishing


@dataclass(frozen=True)
class RleFinish(Finish):
    """Finishing an RLE job: sweep the output directory once, then report.

    Attributes
    ----------
    job : str
        The job's name.
    token : str
        This run's token: its temporaries are swept at the end and on abort.
    out_dir : str or None
        The output directory (None for ``verify``).
    stale : tuple of str
        Temporaries found there while planning (left by a killed run).
    """

    job: str
    token: str
    out_dir: str | None = None
    stale: tuple = ()
    stamps: tuple = ()
    adopt: tuple = ()

    def finalize(self, outcomes: list, seconds: float, scheduler: str) -> Report:
        """Record what each output was made from; remove temporaries (one listing); build the report.

        The manifest (:data:`jobs.runtime.stamps.MANIFEST`) gets, for every output made or
        found current, its input's stamp as planned and its own stamp as its task
        wrote it (or now, for one whose task took none), so a
        rerun tells a changed input (or output) by its stamp, not by times
        alone; a failed output's entry goes.
        """
        if self.out_dir is not None:
            self._record(outcomes)
            sweep_temporaries(self.out_dir, token=self.token, stale=self.stale)
        return Report(self.job, outcomes, seconds, scheduler=scheduler)

    def _record(self, outcomes: list) -> None:
        assert self.out_dir is not None  # only jobs that write record what they made
        if not self.stamps and not self.adopt:
            return  # nothing made, nothing new to record: a rerun of a finished directory writes nothing
        planned = dict(self.stamps)
        manifest = read_manifest(self.out_dir)
        manifest.update(self.adopt)
        ok, skipped = STATUSES.index("ok"), STATUSES.index("skipped")
        for o in outcomes:
            if o.dst is None or not planned or (o.status == skipped).all():
                continue  # only the outcomes of what this run made (or failed to make)
            made = (o.status == ok).tolist()
            for i, name in enumerate(o.dst.basenames() if isinstance(o.dst, Names) else map(os.path.basename, o.dst)):
                source = planned.get(name)
                if source is None:
                    continue  # settled while planning (skipped, or failed before any task)
                if made[i]:  # the stamp its task took right after the rename, else the output's now
                    manifest[name] = f"{source}|{o.output_stamp(i) or of_output(o.dst[i])}"
                else:
                    manifest.pop(name, None)
        write_manifest(self.out_dir, manifest, self.token)

    def abort(self) -> None:
        """Remove this run's temporaries (one listing)."""
        if self.out_dir is not None:
            sweep_temporaries(self.out_dir, token=self.token)

    @property
    def lock_dir(self) -> str | None:
        """The output directory, whose lock the run holds (None for ``verify``)."""
        return self.out_dir


# --------------------------------------------------------------------------- inputs and outputs


@dataclass
class _Pairs:
    """Inputs matched with outputs, after skipping existing outputs."""

    src: Names
    dst: Names
    sizes: list
    settled: list
    out_dir: str
    stale: tuple
    stamps: tuple = ()  # (output name, input stamp) of the outputs the job makes
    adopt: tuple = ()  # (output name, manifest entry) of current outputs the manifest does not record yet


def _single_input(src: str) -> InputListing:
    import stat

    head, name = os.path.split(src)
    st = os.stat(src)
    if not stat.S_ISREG(st.st_mode):
        return InputListing(head, [], [], [(name, "not a regular file")], [])
    return InputListing(head, [name], [st.st_size], [], [st.st_mtime_ns])


def output_dir(src: str, dst: str) -> str:
    """The directory a job from ``src`` to ``dst`` writes into: ``dst`` for a directory source, else as named."""
    if os.path.isdir(src) or os.path.isdir(dst) or dst.endswith(os.sep):
        return dst
    return os.path.dirname(dst) or "."


def _current(path: str, source_stamp: str, source_mtime: int, recorded: tuple | None) -> tuple[str | None, str]:
    """(why the output at ``path`` must be made again or None if it is current, its stamp); one ``lstat``.

    With a record in the directory's manifest (``recorded``, from :func:`jobs.runtime.stamps.split_entry`),
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


def _pairs(src: str, dst: str, extensions, suffix: str, overwrite: bool) -> _Pairs:
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
    wanted = [stem(n) + suffix for n in names] if out_names is None else out_names
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
        all_src, all_dst = Names(listing.directory, tuple(names)), Names(out_dir, tuple(out_names))
    if skip:
        why = "up to date: made from its input as it is now, or newer than it (--overwrite makes it again)"
        settled.append(Outcomes(all_src.take(skip), all_dst.take(skip), "skipped", why))
    if clash:
        c = Outcomes(all_src.take(i for i, _ in clash), all_dst.take(i for i, _ in clash), "failed")
        for k, (i, j) in enumerate(clash):
            c.reasons[k] = f"{all_src[i]}: output name {all_dst[i]} is also the output of {all_src[j]}"
        settled.append(c)
    return _Pairs(
        all_src.take(todo),
        all_dst.take(todo),
        [listing.sizes[i] for i in todo],
        settled,
        out_dir,
        tuple(out.temporaries),
        tuple((wanted[i], stamps[i]) for i in todo),
        tuple(adopt),
    )


def _same_dir(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _budget(total_pixels: int, parallelism: int, sizing: Sizing) -> int:
    """Pixels per row-block task for the automatic layout."""
    want = total_pixels // max(1, sizing.tasks_per_thread * max(1, parallelism))
    return max(sizing.min_pixels, min(sizing.target_pixels, want))


def _split_large(pairs: _Pairs, small: list, large: list, pixels, per_byte: int, rows, parallelism, sizing):
    """Size row blocks from the job's pixels; large files that fit one block rejoin the batches.

    ``large`` holds tuples whose first item is a file's index and ``pixels(item)``
    its pixels; a small file counts ``per_byte`` pixels per byte of input (8 for a
    BMP's bits, 127 for an ``.rle``'s runs: what it can hold at most).  Sorts
    ``small`` back into directory order.  Returns the budget and the files to split.
    """
    total = sum(pixels(item) for item in large) + per_byte * sum(pairs.sizes[i] for i in small)
    budget = _budget(total, parallelism, sizing)
    split = []
    for item in large:
        if rows == "auto" and pixels(item) <= budget:
            small.append(item[0])
        else:
            split.append(item)
    small.sort()
    return budget, split


def _batch_bounds(sizes: list, parallelism: int, sizing: Sizing) -> list[int]:
    """Where consecutive batches of small files start, plus the end: ``[0, b1, ..., n]``."""
    if not sizes:
        return [0]
    costs = [s + sizing.file_cost_bytes for s in sizes]
    want = sum(costs) // max(1, sizing.tasks_per_thread * max(1, parallelism))
    budget = max(sizing.min_batch_bytes, min(sizing.batch_bytes, want))
    bounds, acc = [0], 0
    for i, c in enumerate(costs):
        if acc and acc + c > budget:
            bounds.append(i)
            acc = 0
        acc += c
    bounds.append(len(sizes))
    return bounds


class _Graph:
    """Builds a plan's graph: keys per kind of task, progress per key."""

    def __init__(self, job: str, token: str):
        self.plan = Plan(job)
        self.token = token
        self._n = itertools.count()

    def task(self, kind: str, *task, units: int = 0, files: int = 0, output: bool = False):
        key = (f"{self.plan.job}-{kind}-{self.token}", next(self._n))
        self.plan.graph[key] = task
        if units or files:
            self.plan.watch[key] = (units, files)
        if output:
            self.plan.outputs.append(key)
        self.plan.total += units
        self.plan.nfiles += files
        return key

    def batches(self, kind: str, func, pairs: _Pairs, idx: list, parallelism, sizing, *args):
        """Batch tasks over ``idx`` (indices into ``pairs``), consecutive files together."""
        sizes = [pairs.sizes[i] for i in idx]
        if sizing is None:  # one task per file
            bounds = list(range(len(idx) + 1))
        else:
            bounds = _batch_bounds(sizes, parallelism, sizing)
        for a, b in itertools.pairwise(bounds):
            part = idx[a:b]
            batch = FileBatch(pairs.src.take(part), pairs.dst.take(part), tuple(sizes[a:b]))
            self.task(kind, func, batch, *args, units=sum(sizes[a:b]), files=len(part), output=True)
        self.plan.batched_files += len(idx)

    def blocks(self, kind: str, nbytes: int, bounds: list, make_block, make_last):
        """Row-block tasks of one large file and its last task; the blocks move progress by their share."""
        height = bounds[-1]
        shares = [nbytes * (r1 - r0) // max(1, height) for r0, r1 in itertools.pairwise(bounds)]
        keys = [self.task(f"{kind}-block", *make_block(i), units=u) for i, u in enumerate(shares)]
        return self.task(kind, *make_last(keys), units=nbytes - sum(shares), files=1, output=True)


def _probe_or_none(path: str, max_pixels: int):
    try:
        return rle.probe(path, max_pixels=max_pixels)
    except Exception:  # the task reads it again and reports why, by name
        return None


def _read_rle_header(path: str, size: int):
    """``(width, height)`` of a large ``.rle``, checked against its size; FormatError/OSError if bad."""
    with open(path, "rb") as f:
        width, height = rle.read_header(f.read(rle.HEADER_SIZE))
    rle.check_length(width, height, size - rle.HEADER_SIZE)
    return width, height


def _failed(outcomes: Outcomes, i: int, path: str, exc: BaseException) -> None:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    outcomes.fail(i, text if path in text else f"{path}: {text}")


# --------------------------------------------------------------------------- compress


def plan_compress(src, dst, opts: CompressOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan compressing an image file or a directory of images into ``.rle`` files.

    Parameters
    ----------
    src : str or os.PathLike
        An image file, or a directory whose image files (by extension) are compressed.
    dst : str or os.PathLike
        Output ``.rle`` file, or directory (created by the tasks if missing).
    opts : CompressOptions, optional
        Resolved options (default: from config).
    parallelism : int
        Threads that will run the graph, for the automatic task sizes.

    Returns
    -------
    jobs.runtime.engine.Plan
    """
    opts = opts or CompressOptions.resolve()
    sizing = Sizing.from_config()
    src, dst = os.fspath(src), os.fspath(dst)
    pairs = _pairs(src, dst, IMAGE_EXTENSIONS, ".rle", opts.overwrite)
    token = new_token()
    g = _Graph("compress", token)
    g.plan.settled = pairs.settled
    g.plan.finish = RleFinish("compress", token, pairs.out_dir, pairs.stale, pairs.stamps, pairs.adopt)
    rows = opts.rows_per_task
    large, small = [], []
    for i, size in enumerate(pairs.sizes):
        candidate = rows != 0 and (rows != "auto" or 8 * size > sizing.min_pixels)
        candidate = candidate and os.path.splitext(pairs.src.names[i])[1].lower() in BMP_EXTENSIONS
        info = _probe_or_none(pairs.src[i], opts.max_pixels) if candidate else None
        if info is not None and info.bmp is not None:
            large.append((i, info))
        else:
            small.append(i)
    budget, split = _split_large(pairs, small, large, lambda x: x[1].pixels, 8, rows, parallelism, sizing)
    g.batches("batch", compress_batch, pairs, small, parallelism, sizing if rows == "auto" else None, opts, token)
    for i, info in split:
        bounds = row_bounds(info.height, info.width, rows, budget)
        d = pairs.dst[i]
        g.blocks(
            "write",
            pairs.sizes[i],
            bounds,
            lambda k, info=info, bounds=bounds: (compress_block, info, bounds[k], bounds[k + 1], opts),
            lambda keys, info=info, d=d: (assemble_rle, info, d, list(keys), opts, token),
        )
    log.info(
        "compress: %d file(s) in %d task(s), %d settled while planning",
        g.plan.nfiles,
        g.plan.ntasks,
        sum(len(o) for o in pairs.settled),
    )
    return g.plan


# --------------------------------------------------------------------------- decompress


def _rle_large_bytes(sizing: Sizing) -> int:
    """An ``.rle`` larger than this may decode to more pixels than a task should hold (127 per byte)."""
    return sizing.min_pixels // rle.CHUNK


def plan_decompress(src, dst, opts: DecompressOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan decompressing an ``.rle`` file or a directory of them into 1-bit BMPs.

    Work is sized from the bytes each file holds: a small file (it cannot
    decode to more than ``min-pixels-per-task`` pixels) joins a batch; a larger
    one has its header read here and checked against its size, and gets row
    blocks only when the checked claim is large.

    Parameters are as for :func:`plan_compress`; outputs are ``<name>.bmp``.
    """
    opts = opts or DecompressOptions.resolve()
    sizing = Sizing.from_config()
    src, dst = os.fspath(src), os.fspath(dst)
    pairs = _pairs(src, dst, {".rle"}, ".bmp", opts.overwrite)
    token = new_token()
    g = _Graph("decompress", token)
    g.plan.settled = pairs.settled
    g.plan.finish = RleFinish("decompress", token, pairs.out_dir, pairs.stale, pairs.stamps, pairs.adopt)
    rows = opts.rows_per_task
    cap = _rle_large_bytes(sizing)
    small, large = [], []
    bad = []
    for i, size in enumerate(pairs.sizes):
        if rows == 0 or (rows == "auto" and size <= cap):
            small.append(i)
            continue
        try:
            width, height = _read_rle_header(pairs.src[i], size)
        except Exception as e:  # this file fails, by name; the rest goes on
            bad.append((i, e))
            continue
        large.append((i, width, height))
    if bad:
        o = Outcomes(pairs.src.take(i for i, _ in bad), pairs.dst.take(i for i, _ in bad), "failed")
        for k, (i, err) in enumerate(bad):
            _failed(o, k, pairs.src[i], err)
        g.plan.settled.append(o)
    budget, split = _split_large(pairs, small, large, lambda x: x[1] * x[2], rle.CHUNK, rows, parallelism, sizing)
    g.batches(
        "batch",
        decompress_batch,
        pairs,
        small,
        parallelism,
        sizing if rows == "auto" else None,
        token,
    )
    for i, w, h in split:
        s, d = pairs.src[i], pairs.dst[i]
        bounds = row_bounds(h, w, rows, budget)
        index = g.task("index", prepare_bmp, s, d, bounds, w, h, token)
        g.blocks(
            "write",
            pairs.sizes[i],
            bounds,
            lambda k, s=s, d=d, bounds=bounds, w=w, h=h, index=index: (
                decompress_block,
                s,
                d,
                index,
                k,
                bounds,
                w,
                h,
                token,
            ),
            lambda keys, s=s, d=d, w=w, h=h: (finalize_bmp, s, d, list(keys), w, h, token),
        )
    return g.plan


# --------------------------------------------------------------------------- verify


def plan_verify(orig, rle_src, opts: VerifyOptions | None = None, *, parallelism: int = 1) -> Plan:
    """Plan comparing images with their ``.rle`` files, pixel by pixel, in bounded memory.

    Parameters
    ----------
    orig : str or os.PathLike
        An image file or a directory of images.
    rle_src : str or os.PathLike
        The matching ``.rle`` file, or a directory holding ``<name>.rle`` for each image.
    opts : VerifyOptions, optional
        The threshold the files were compressed with, if any, and the task layout.
    parallelism : int
        Threads that will run the graph.
    """
    opts = opts or VerifyOptions.resolve()
    sizing = Sizing.from_config()
    orig, rle_src = os.fspath(orig), os.fspath(rle_src)
    token = new_token()
    g = _Graph("verify", token)
    g.plan.finish = RleFinish("verify", token)
    settled = g.plan.settled
    if os.path.isdir(orig):
        if not os.path.isdir(rle_src):
            raise UsageError(f"{rle_src} must be a directory of .rle files when {orig} is a directory")
        images = list_inputs(orig, IMAGE_EXTENSIONS)
        rles = list_inputs(rle_src, {".rle"})
        rle_size = dict(zip(rles.names, rles.sizes, strict=True))
        stems = {stem(n) for n in images.names}
        extra = [n for n in rles.names if stem(n) not in stems]
        if extra:
            o = Outcomes(
                Names(rle_src, tuple(extra)),
                Names(rle_src, tuple(extra)),
                "failed",
                f"no original image for it in {orig}",
            )
            settled.append(o)
        if images.others:
            o = Outcomes(Names(orig, tuple(n for n, _ in images.others)), None, "failed")
            for k, (_, why) in enumerate(images.others):
                o.reasons[k] = why
            settled.append(o)
        src_all = Names(orig, tuple(images.names))
        dst_all = Names(rle_src, tuple(images.names), ".rle")
    elif os.path.exists(orig):
        if os.path.isdir(rle_src):
            rle_src = os.path.join(rle_src, os.path.splitext(os.path.basename(orig))[0] + ".rle")
        src_all = Names("", (orig,))
        dst_all = Names("", (rle_src,))
        try:
            rle_size = {os.path.basename(rle_src): os.path.getsize(rle_src)}
        except OSError:
            rle_size = {}
    else:
        raise UsageError(f"{orig}: no such file or directory")
    keep, sizes, missing = [], [], []
    for i in range(len(src_all)):
        size = rle_size.get(os.path.basename(dst_all[i]))
        if size is None:
            missing.append(i)
        else:
            keep.append(i)
            sizes.append(size)
    if missing:
        o = Outcomes(src_all.take(missing), dst_all.take(missing), "failed")
        for k, i in enumerate(missing):
            o.reasons[k] = f"{src_all[i]}: no .rle file {dst_all[i]}"
        settled.append(o)
    pairs = _Pairs(src_all.take(keep), dst_all.take(keep), sizes, [], "", ())
    rows = opts.rows_per_task
    cap = _rle_large_bytes(sizing)
    small, large, bad, differ = [], [], [], []
    for i, size in enumerate(pairs.sizes):
        if rows == 0 or (rows == "auto" and size <= cap):
            small.append(i)
            continue
        try:
            width, height = _read_rle_header(pairs.dst[i], size)
            info = rle.probe(pairs.src[i], max_pixels=opts.max_pixels)
        except Exception as e:  # this pair fails, by name; the rest goes on
            bad.append((i, e))
            continue
        if (info.width, info.height) != (width, height):
            differ.append((i, (info.width, info.height), (width, height)))
        else:
            large.append((i, info))
    if bad:
        o = Outcomes(pairs.src.take(i for i, _ in bad), pairs.dst.take(i for i, _ in bad), "failed")
        for k, (i, err) in enumerate(bad):
            _failed(o, k, pairs.src[i], err)
        settled.append(o)
    if differ:
        o = Outcomes(pairs.src.take(i for i, _, _ in differ), pairs.dst.take(i for i, _, _ in differ))
        for k, (_, a, b) in enumerate(differ):
            size_mismatch(o, k, a, b)
        settled.append(o)
    budget, split = _split_large(pairs, small, large, lambda x: x[1].pixels, rle.CHUNK, rows, parallelism, sizing)
    g.batches("batch", verify_batch, pairs, small, parallelism, sizing if rows == "auto" else None, opts)
    for i, info in split:
        path = pairs.dst[i]
        bounds = row_bounds(info.height, info.width, rows, budget)
        index = g.task("index", rle_offsets, path, bounds, info.width, info.height)
        g.blocks(
            "compare",
            pairs.sizes[i],
            bounds,
            lambda k, info=info, path=path, index=index, bounds=bounds: (
                verify_block,
                info,
                path,
                index,
                k,
                bounds,
                opts,
            ),
            lambda keys, info=info, path=path, index=index, bounds=bounds: (
                verify_finish,
                info,
                path,
                index,
                list(keys),
                bounds,
                opts,
            ),
        )
    return g.plan
