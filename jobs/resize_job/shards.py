"""WebDataset tar shards: a resize output ``train.wds/`` of ``train-000000.tar``, ``train-000001.tar``, ...

One shard per task, so the runtime's guarantees carry over unchanged: a task
writes its shard through a hidden temporary, ``fsync`` and a rename (each shard
is complete or absent), then records its slice as done; an interrupted run
resumes with the shards still missing; a rerun whose images changed rewrites
only the shards that hold them.

Each sample is one image of the batch, keyed by its index in the batch (zero
padded, so keys sort in batch order): ``000042.npy`` (or ``.png`` / ``.jpg``,
see :data:`~jobs.resize_job.options.SAMPLE_FORMATS`) and, when the source has
labels, ``000042.cls`` (the label as decimal text).  A failed image has no
sample.  Tar headers are fixed (mode 0444, owner 0, time 0), so the same job
gives byte-identical shards.  Read them with ``webdataset``::

    wds.WebDataset("train.wds/train-{000000..000012}.tar").decode()

(the sidecar's ``shards.url`` is that pattern) or with :mod:`tarfile`.
No Dask here.
"""

from __future__ import annotations

import os
import re
import tarfile

import numpy as np
import simplejpeg

from jobs.resize_job.decode import opencv
from jobs.resize_job.records import ours_temporary
from jobs.runtime.durable import npy_header, write_atomic
from rle import open_regular

__all__ = [
    "SUFFIX",
    "encode_sample",
    "key_width",
    "member_header",
    "members",
    "names",
    "prefix",
    "shard_count",
    "shard_holds",
    "shard_name",
    "shard_problem",
    "shards_foreign",
    "url",
    "write_shard",
]

#: The output name that asks for shards: ``--out train.wds``.
SUFFIX = ".wds"

#: What a shard's file name looks like (the prefix is the output's name).
_SHARD = re.compile(r"(.+)-([0-9]{6,})\.tar")


def prefix(out: str) -> str:
    """The shards' name prefix: ``data/train.wds`` -> ``train``."""
    name = os.path.basename(os.fspath(out).rstrip(os.sep))
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def shard_count(n: int, per_shard: int) -> int:
    """How many shards ``n`` images make at ``per_shard`` each."""
    return -(-n // per_shard)


def _digits(count: int) -> int:
    return max(6, len(str(max(0, count - 1))))


def shard_name(out: str, k: int, count: int) -> str:
    """The file name of shard ``k`` of ``count``: ``train-000003.tar``."""
    return f"{prefix(out)}-{k:0{_digits(count)}d}.tar"


def names(out: str, n: int, per_shard: int) -> list[str]:
    """Every shard's file name, in order, for ``n`` images at ``per_shard`` each."""
    count = shard_count(n, per_shard)
    return [shard_name(out, k, count) for k in range(count)]


def url(out: str, count: int) -> str:
    """The brace pattern naming every shard, as ``webdataset`` reads it: ``/data/train.wds/train-{000000..000012}.tar``.

    Absolute: it works from any directory (a URL stays one: ``s3://bucket/train.wds/train-{...}.tar``).
    """
    d = _digits(count)
    where = out.rstrip("/") if "://" in out else os.path.abspath(out)
    return f"{where}/{prefix(out)}-{{{0:0{d}d}..{count - 1:0{d}d}}}.tar"


def members(start: int, stop: int, n: int, failed, labelled: bool, sample_format: str) -> list[str]:
    """The member names a shard of images ``start..stop`` holds, in order (``failed``: indices in the slice)."""
    width, skip = key_width(n), set(failed)
    out = []
    for i in range(stop - start):
        if i in skip:
            continue
        key = f"{start + i:0{width}d}"
        out.append(f"{key}.{sample_format}")
        if labelled:
            out.append(f"{key}.cls")
    return out


def shard_holds(path: str, expected: list) -> bool:
    """Whether the shard at ``path`` is exactly a shard of the members ``expected``, as :func:`write_shard` makes it.

    A regular file whose members are ``expected`` in order, then the end of the
    archive and its padding, nothing more.  Reads the member headers only (the
    data is skipped), so checking a batch's shards costs one header read per image.
    """
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size < 1024 or size % tarfile.BLOCKSIZE:
                return False
            with tarfile.open(fileobj=f, mode="r:") as tar:
                found: list[str] = []
                for m in tar:
                    if not m.isreg() or len(found) > len(expected):
                        return False
                    found.append(m.name)
                end = tar.offset + 2 * tarfile.BLOCKSIZE  # after the last member: the end marker, then padding
                if size != end + -end % tarfile.RECORDSIZE:
                    return False
    except (OSError, tarfile.TarError, ValueError, EOFError):
        return False
    return found == expected


def key_width(n: int) -> int:
    """Digits of a sample key in a batch of ``n`` images (at least 6)."""
    return _digits(n)


def encode_sample(image: np.ndarray, sample_format: str) -> list:
    """One (H, W, 3) uint8 image as the parts of a ``.npy``, ``.png`` (lossless) or ``.jpg`` (quality 95) member.

    A ``.npy`` is its header and a view of the pixels: nothing is copied.
    """
    if sample_format == "npy":
        image = np.ascontiguousarray(image)
        return [npy_header(image.shape), memoryview(image).cast("B")]  # type: ignore[arg-type]
    if sample_format == "png":
        cv2 = opencv()
        ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise ValueError("OpenCV could not encode a PNG")
        return [data.tobytes()]
    if sample_format == "jpg":
        return [simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=95, colorspace="RGB")]
    raise ValueError(f"sample format must be npy, png or jpg, got {sample_format!r}")


def member_header(name: str, size: int) -> bytes:
    """The 512-byte ustar header of a regular file ``name`` of ``size`` bytes: mode 0444, owner 0, time 0.

    Byte for byte what ``tarfile.TarInfo.tobuf(tarfile.USTAR_FORMAT)`` gives for
    those fields (a test holds it to that), in a tenth of its time: a shard
    holds thousands of members.
    """
    raw = name.encode("ascii")
    if len(raw) > 100:
        raise ValueError(f"a shard member name is at most 100 characters: {name!r}")
    h = bytearray(512)
    h[0 : len(raw)] = raw
    h[100:148] = b"0000444\x000000000\x000000000\x00" + b"%011o\x00" % size + b"00000000000\x00"
    h[148:156] = b"        "  # the checksum counts its own field as spaces
    h[156:157] = tarfile.REGTYPE
    h[257:265] = tarfile.POSIX_MAGIC
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def _member(name: str, parts: list, out: list) -> None:
    """Append one tar member holding ``parts`` (its header, the parts, its padding) to ``out``."""
    size = sum(len(p) for p in parts)
    out.append(member_header(name, size))
    out.extend(parts)
    if size % tarfile.BLOCKSIZE:
        out.append(bytes(tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))


def write_shard(path: str, start: int, n: int, block: np.ndarray, ok, labels, sample_format: str, token: str) -> int:
    """Write the shard of images ``start..`` at ``path``, complete or not at all; return its size.

    Parameters
    ----------
    path : str
        The shard's final path.
    start : int
        The batch index of ``block[0]``.
    n : int
        Images in the whole batch (the keys' width).
    block : numpy.ndarray
        (k, H, W, 3) uint8 images.
    ok : sequence of bool
        Which images decoded: a failed one has no sample.
    labels : sequence of int, optional
        Their labels (``.cls`` members), or None.
    sample_format : {"npy", "png", "jpg"}
        How each image is stored.
    token : str
        The run's token, in the temporary's name.

    The shard goes to a hidden temporary beside ``path``, is synced and renamed
    (:func:`jobs.runtime.durable.write_atomic`): a reader never sees half a
    shard.  A new shard's rename becomes durable with the directory (the job's finish syncs it once): a done record
    that outlives a lost rename is caught on resume, which finds no shard and
    redoes the slice.  A shard that replaces an older one (a batch reopened
    because images changed) syncs the directory before returning, so a lost
    rename can never bring the older shard back under a record of the new one.
    A failure removes the temporary and names the shard.  The archive is what
    :mod:`tarfile` writes (ustar, two zero blocks, whole records).
    """
    width = key_width(n)
    parts: list = []
    for i in range(len(block)):
        if not ok[i]:
            continue
        key = f"{start + i:0{width}d}"
        _member(f"{key}.{sample_format}", encode_sample(block[i], sample_format), parts)
        if labels is not None:
            _member(f"{key}.cls", [str(int(labels[i])).encode()], parts)
    end = sum(len(p) for p in parts) + 2 * tarfile.BLOCKSIZE
    parts.append(bytes(2 * tarfile.BLOCKSIZE + -end % tarfile.RECORDSIZE))
    replacing = os.path.lexists(path)  # an older shard (a batch reopened): the new one is on disk before the record
    return write_atomic(path, parts, token, sync_directory=replacing)


def shards_foreign(store: str, name_prefix: str, temporaries: bool = False, expected=None) -> list[str]:
    """Entries of a shard directory that imgjobs does not write there (one listing; links never followed).

    Only regular files named ``<prefix>-<digits>.tar`` are imgjobs' (with
    ``expected``, a collection of names: only those), and, in the work folder
    (``temporaries``), the hidden temporaries of shards being written.
    """
    foreign = []
    try:
        entries = list(os.scandir(store))
    except OSError as e:
        return [f"{store} ({e.strerror})"]
    for entry in entries:
        m = _SHARD.fullmatch(entry.name)
        named = m is not None and m.group(1) == name_prefix and (expected is None or entry.name in expected)
        final = ours_temporary(entry.name) if temporaries else None  # a shard's temporary, in the work folder
        shard = _SHARD.fullmatch(final or "")
        ours = named or (shard is not None and shard.group(1) == name_prefix)
        if not ours or entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            foreign.append(os.path.join(store, entry.name))
            if len(foreign) > 20:
                break
    return foreign


def shard_problem(store: str, out: str, n: int, per_shard: int) -> str | None:
    """What is wrong with a finished shard directory for ``n`` images at ``per_shard`` (None: nothing).

    Every shard must be there as a regular file of whole tar blocks, and nothing
    else; the members are not read here (the sidecar's stamps cover the bytes).
    """
    if os.path.islink(store) or not os.path.isdir(store):
        return "not a directory of shards"
    expected = names(out, n, per_shard)
    foreign = shards_foreign(store, prefix(out), expected=set(expected))
    if foreign:
        return f"it holds {os.path.basename(foreign[0])}, which is not one of its {len(expected)} shard(s)"
    for name in expected:
        try:
            size = os.lstat(os.path.join(store, name)).st_size
        except OSError:
            return f"its shard {name} is missing"
        if size < 1024 or size % 512:
            return f"its shard {name} is {size:,} bytes, not whole tar blocks"
    return None
