#!/usr/bin/env python3
"""Generate sample black-and-white images for the RLE job; no network needed.

Writes into OUT:

* ``page-NN.bmp``: text pages, 1-bit BMPs (Letter at 150 dpi: 1275x1650);
* ``page-inverted.bmp``: a text page stored with an inverted palette (index 0 = white,
  as many 1-bit BMPs are; Pillow opens it as mode ``P``);
* ``page-topdown.bmp``: a text page stored top-down (negative height);
* ``lineart-NN.png``: line art (lines, circles, polygons), 1-bit PNG;
* ``shaded.png``: a greyscale drawing that ``convert('1')`` dithers;
* ``rgb-bw.bmp``: a 24-bit RGB BMP holding only black and white, like the case
  study's large input;
* with ``--large``: ``page-large.bmp``, one 7200x5600 text page (600 dpi Letter-ish);
* with ``--bench N``: N 7200x5600 24-bit black-and-white BMPs (the case study's
  benchmark input, 121 MB each), and nothing else;
* with ``--small N``: N 96x64 1-bit BMPs, tiles of text and line art (the
  many-small-files benchmark), and nothing else.

Usage::

    python scripts/make_samples.py samples
    python scripts/make_samples.py bench-data --bench 8
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rle.bmp import bmp_stride

WORDS = (
    "the quick brown fox jumps over a lazy dog while dask schedules image tasks across "
    "workers and threads compress black and white pixels into runs of at most one hundred "
    "twenty seven pixels each chunk row block scheduler dashboard cluster"
).split()


def text_page(width: int, height: int, seed: int = 0) -> Image.Image:
    """A 1-bit page of random words: black text on white, with margins."""
    rng = random.Random(seed)
    im = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(im)
    size = max(8, height // 120)
    font = ImageFont.load_default(size=size)
    margin = size * 3
    y = margin
    while y < height - margin - size:
        words, line = [], ""
        while True:
            candidate = (line + " " + rng.choice(WORDS)).strip()
            if draw.textlength(candidate, font=font) > width - 2 * margin:
                break
            line = candidate
        words.append(line)
        draw.text((margin, y), line, fill=0, font=font)
        y += int(size * 1.5)
        if rng.random() < 0.08:
            y += size * 2  # paragraph break
    return im


def line_art(width: int, height: int, seed: int = 0) -> Image.Image:
    """A 1-bit drawing of lines, circles and polygons."""
    rng = random.Random(seed)
    im = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = rng.randrange(width), rng.randrange(height)
        kind = rng.random()
        if kind < 0.4:
            draw.line((x0, y0, x1, y1), fill=0, width=rng.randint(1, 6))
        elif kind < 0.7:
            r = rng.randint(5, max(6, min(width, height) // 6))
            draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), outline=0, width=rng.randint(1, 4))
        else:
            pts = [(rng.randrange(width), rng.randrange(height)) for _ in range(rng.randint(3, 6))]
            draw.polygon(pts, outline=0, fill=0 if rng.random() < 0.3 else None)
    return im


def shaded(width: int, height: int, seed: int = 0) -> Image.Image:
    """A greyscale image with gradients, for the dithering path."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    g = (x / max(1, width - 1) * 180 + y / max(1, height - 1) * 60).astype(np.uint8)
    im = Image.fromarray(g, "L")
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(10, max(11, width // 5))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=int(rng.integers(0, 256)))
    return im


def save_rgb_bmp(im: Image.Image, path: str) -> None:
    """Save as a 24-bit RGB BMP (black and white stay pure)."""
    im.convert("RGB").save(path, format="BMP")


def save_inverted_bmp(im: Image.Image, path: str) -> None:
    """Save a 1-bit image as a BMP whose palette is inverted (index 0 = white)."""
    bw = np.asarray(im.convert("1"), dtype=bool)
    height, width = bw.shape
    stride = bmp_stride(width)
    rows = np.zeros((height, stride), dtype=np.uint8)
    rows[:, : (width + 7) // 8] = np.packbits(~bw, axis=1)  # bit 1 = black
    offset = 14 + 40 + 8
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", offset + rows.size, 0, 0, offset))
        f.write(struct.pack("<IiiHHIIiiII", 40, width, height, 1, 1, 0, rows.size, 2835, 2835, 2, 2))
        f.write(bytes([255, 255, 255, 0, 0, 0, 0, 0]))
        f.write(rows[::-1].tobytes())


def save_topdown_bmp(im: Image.Image, path: str) -> None:
    """Save a 1-bit image as a top-down BMP (negative height), black/white palette."""
    bw = np.asarray(im.convert("1"), dtype=bool)
    height, width = bw.shape
    stride = bmp_stride(width)
    rows = np.zeros((height, stride), dtype=np.uint8)
    rows[:, : (width + 7) // 8] = np.packbits(bw, axis=1)
    offset = 14 + 40 + 8
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", offset + rows.size, 0, 0, offset))
        f.write(struct.pack("<IiiHHIIiiII", 40, width, -height, 1, 1, 0, rows.size, 2835, 2835, 2, 2))
        f.write(bytes([0, 0, 0, 0, 255, 255, 255, 0]))
        f.write(rows.tobytes())


def make_samples(out: str, *, large: bool = False, pages: int = 6) -> list[str]:
    """Write the standard sample set into ``out``; return the paths."""
    os.makedirs(out, exist_ok=True)
    paths = []

    def keep(path):
        paths.append(path)
        return path

    for i in range(pages):
        text_page(1275, 1650, seed=i).save(keep(os.path.join(out, f"page-{i:02d}.bmp")))
    save_inverted_bmp(text_page(1275, 1650, seed=100), keep(os.path.join(out, "page-inverted.bmp")))
    save_topdown_bmp(text_page(1000, 1300, seed=101), keep(os.path.join(out, "page-topdown.bmp")))
    for i in range(3):
        line_art(800, 600, seed=i).save(keep(os.path.join(out, f"lineart-{i:02d}.png")))
    shaded(640, 480).save(keep(os.path.join(out, "shaded.png")))
    save_rgb_bmp(text_page(1600, 1200, seed=7), keep(os.path.join(out, "rgb-bw.bmp")))
    if large:
        text_page(7200, 5600, seed=42).save(keep(os.path.join(out, "page-large.bmp")))
    return paths


def make_bench(out: str, count: int) -> list[str]:
    """Write ``count`` 7200x5600 24-bit black-and-white BMPs (the case study's benchmark input)."""
    os.makedirs(out, exist_ok=True)
    paths = []
    for i in range(count):
        path = os.path.join(out, f"page24-{i:02d}.bmp")
        if not os.path.exists(path):
            save_rgb_bmp(text_page(7200, 5600, seed=1000 + i), path)
        paths.append(path)
    return paths


def make_small(out: str, count: int, width: int = 96, height: int = 64) -> int:
    """Write ``count`` small 1-bit BMPs: tiles of scanned text and line art (the many-small-files benchmark).

    Tiles are cut from one text page and one drawing at positions that shift
    with the index, so files differ; bytes are written directly (a BMP header and
    packed rows), so 200,000 files take seconds.  Existing files are kept.
    Returns the number of files in ``out`` named ``tile-*.bmp``.
    """
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from rle.bmpwriter import bmp_1bit_header

    os.makedirs(out, exist_ok=True)
    sources = [
        np.asarray(text_page(1800, 1400, seed=5), dtype=bool),
        np.asarray(line_art(1800, 1400, seed=6), dtype=bool),
    ]
    head = bmp_1bit_header(width, height)
    stride = bmp_stride(width)
    rows = np.zeros((height, stride), dtype=np.uint8)
    have = {n for n in os.listdir(out) if n.startswith("tile-")}
    for i in range(count):
        name = f"tile-{i:07d}.bmp"
        if name in have:
            continue
        src = sources[i % 2]
        y = (i * 37) % (src.shape[0] - height)
        x = (i * 53 // 7) % (src.shape[1] - width)
        rows[:, : (width + 7) // 8] = np.packbits(src[y : y + height, x : x + width], axis=1)
        with open(os.path.join(out, name), "wb") as f:
            f.write(head + rows[::-1].tobytes())
    return len(have | {f"tile-{i:07d}.bmp" for i in range(count)})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="directory to write into (created if missing)")
    p.add_argument("--large", action="store_true", help="also write one 7200x5600 1-bit page")
    p.add_argument("--bench", type=int, metavar="N", help="only write N 7200x5600 24-bit BMPs (121 MB each)")
    p.add_argument("--small", type=int, metavar="N", help="only write N 96x64 1-bit BMP tiles of text and line art")
    args = p.parse_args(argv)
    if args.small:
        n = make_small(args.out, args.small)
        print(f"{args.out} holds {n} small 1-bit BMP(s)")
        return 0
    paths = make_bench(args.out, args.bench) if args.bench else make_samples(args.out, large=args.large)
    size = sum(os.path.getsize(f) for f in paths)
    print(f"wrote {len(paths)} image(s), {size / 1e6:.1f} MB, into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
