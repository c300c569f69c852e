#!/usr/bin/env python3
"""The classic concurrency exercise's batch loader, as the resize benchmark's baseline.

Reads a file list, opens each JPEG with Pillow, resizes it to 100x100 and puts
it into an (N, 100, 100, 3) uint8 numpy batch, serially or with a
ThreadPoolExecutor / ProcessPoolExecutor, one image per call -- the exercise's
layout.  Like the exercise it copies a greyscale image into channel 0 only
(imgjobs fixes that); the timing is unaffected.

Usage::

    python scripts/classic_resize.py LIST [--num-images N] [--threads 2 | --processes 2] [--out batch.npy]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
from PIL import Image

SIZE = (100, 100)


def load(path):
    img = Image.open(path)
    img = img.resize(SIZE)
    return np.array(img)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("filelist")
    p.add_argument("--num-images", type=int)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--threads", type=int, default=0)
    g.add_argument("--processes", type=int, default=0)
    p.add_argument("--out")
    args = p.parse_args(argv)
    base = os.path.dirname(os.path.abspath(args.filelist))
    with open(args.filelist) as f:
        paths = [os.path.join(base, line.split()[0]) for line in f if line.strip()]
    paths = paths[: args.num_images] if args.num_images else paths
    batch = np.zeros((len(paths), SIZE[1], SIZE[0], 3), dtype=np.uint8)
    start = time.perf_counter()
    if args.threads or args.processes:
        pool = ThreadPoolExecutor(args.threads) if args.threads else ProcessPoolExecutor(args.processes)
        with pool:
            images = pool.map(load, paths)
            for i, arr in enumerate(images):
                if arr.ndim == 2:
                    batch[i, :, :, 0] = arr
                else:
                    batch[i] = arr
    else:
        for i, path in enumerate(paths):
            arr = load(path)
            if arr.ndim == 2:
                batch[i, :, :, 0] = arr
            else:
                batch[i] = arr
    seconds = time.perf_counter() - start
    if args.out:
        np.save(args.out, batch)
    print(f"{len(paths)} images in {seconds:.2f} s = {len(paths) / seconds:.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
