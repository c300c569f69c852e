#!/usr/bin/env python3
"""What a user writes instead of imgjobs: ``multiprocessing.Pool`` + OpenCV into a ``.npy`` memmap.

The resize benchmark's peer (issue 22): twenty lines a practitioner would write
to build the same batch, at the same quality (OpenCV's libjpeg-turbo full
decode, ``INTER_AREA``, BGR to RGB), with no resume, labels, sidecar or checks.
Each worker opens the memory map once and writes its images' slots; the parent
only hands out indices.

Usage::

    python scripts/pool_resize.py LIST [--processes 2] [--size 100x100] [--out batch.npy]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os

import cv2
import numpy as np

_OUT = None
_SIZE = (100, 100)


def _init(out: str, size: tuple) -> None:
    global _OUT, _SIZE
    cv2.setNumThreads(1)
    _OUT, _SIZE = np.load(out, mmap_mode="r+"), size


def _one(job: tuple) -> None:
    i, path = job
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    _OUT[i] = cv2.cvtColor(cv2.resize(bgr, _SIZE, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("list")
    p.add_argument("--processes", type=int, default=os.cpu_count())
    p.add_argument("--size", default="100x100")
    p.add_argument("--out", default="batch.npy")
    args = p.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    base = os.path.dirname(os.path.abspath(args.list))
    with open(args.list) as f:
        paths = [os.path.join(base, line.split()[0]) for line in f if line.strip()]
    out = np.lib.format.open_memmap(args.out, mode="w+", dtype=np.uint8, shape=(len(paths), size[1], size[0], 3))
    del out
    with multiprocessing.Pool(args.processes, initializer=_init, initargs=(args.out, size)) as pool:
        pool.map(_one, enumerate(paths), chunksize=16)
    np.load(args.out, mmap_mode="r+").flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
