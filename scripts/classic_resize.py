#!/usr/bin/env python3
"""The classic concurrency exercise's batch loader, as the resize benchmark's baseline.

Mirrors the course exercise ("Exercise in Concurrency": build a training batch
from ImageNet JPEGs) in its own words and with its semantics, so that ratios
against it mean what they say:

* the batch is ``np.zeros((N, 100, 100, 3))``: float64, numpy's default, as in
  the exercise (8 bytes a sample where imgjobs writes 1);
* each call opens one JPEG with Pillow, resizes the full decode to 100x100 with
  ``Image.resize``'s default filter, and copies it into ``batch[index]``; a
  greyscale image goes into channel 0 only and G, B stay zero (imgjobs fixes
  that; the timing is unaffected);
* serially, or one call per image on a ``ThreadPoolExecutor`` writing into the
  shared batch.  ``--processes`` cannot share the batch that way (each child
  would write into its own copy), so there the parent copies the arrays the
  children return.

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


def load(path, size=SIZE):
    """Open, resize and return one image as the exercise does (2-D for greyscale)."""
    return np.asarray(Image.open(path).resize(size))


def put(batch, index, data):
    """Copy one image into ``batch[index]`` the exercise's way (greyscale into channel 0)."""
    if data.ndim == 2:
        rgb = np.zeros((*data.shape, 3))
        rgb[..., 0] = data
        data = rgb
    batch[index, ...] = data[np.newaxis, ...]


def process_image(path, size, batch, index):
    """The exercise's per-image function: load ``path`` into ``batch[index]``."""
    put(batch, index, load(path, size))


def build_batch(paths, threads: int = 0, processes: int = 0, size=SIZE) -> np.ndarray:
    """The exercise's loop over ``paths``: returns the float64 (N, W, H, 3) batch."""
    batch = np.zeros((len(paths), size[0], size[1], 3))
    if threads:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(process_image, paths, [size] * len(paths), [batch] * len(paths), range(len(paths))))
    elif processes:
        with ProcessPoolExecutor(processes) as pool:
            for i, data in enumerate(pool.map(load, paths, [size] * len(paths))):
                put(batch, i, data)
    else:
        for i, path in enumerate(paths):
            process_image(path, size, batch, i)
    return batch


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
    start = time.perf_counter()
    batch = build_batch(paths, args.threads, args.processes)
    seconds = time.perf_counter() - start
    if args.out:
        np.save(args.out, batch)
    print(f"{len(paths)} images in {seconds:.2f} s = {len(paths) / seconds:.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
