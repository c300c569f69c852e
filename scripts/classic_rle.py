#!/usr/bin/env python3
"""The classic case study's RLE compressor, per bit, as the benchmark baseline.

A straightforward rendering of the textbook approach (Python 3 Object-Oriented
Programming, 3rd ed., chapter 13): Pillow's ``convert('1')`` into a bitarray,
one Python loop over the bits of each 127-pixel chunk, rows compressed in a
thread pool, images in a process pool -- the case study's fastest layout.
It writes the same bytes as ``imgjobs compress``; only the speed differs.

Usage::

    python scripts/classic_rle.py SRC_DIR DST_DIR       # process per image, threads per row
    python scripts/classic_rle.py IMAGE OUT.rle          # one image, threads per row
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from bitarray import bitarray
from PIL import Image


def split_bits(bits, width):
    for i in range(0, len(bits), width):
        yield bits[i : i + width]


def compress_chunk(chunk):
    compressed = bytearray()
    count = 1
    last = chunk[0]
    for bit in chunk[1:]:
        if bit != last:
            compressed.append(count | (128 * last))
            count = 0
            last = bit
        count += 1
    compressed.append(count | (128 * last))
    return compressed


def compress_row(row):
    compressed = bytearray()
    for chunk in split_bits(row, 127):
        compressed.extend(compress_chunk(chunk))
    return compressed


def compress_in_executor(executor, bits, width):
    futures = [executor.submit(compress_row, row) for row in split_bits(bits, width)]
    compressed = bytearray()
    for f in futures:
        compressed.extend(f.result())
    return compressed


def compress_image(in_filename, out_filename):
    with Image.open(in_filename) as image:
        bw = image.convert("1")
        data = bw.get_flattened_data() if hasattr(bw, "get_flattened_data") else bw.getdata()
        # The book's bitarray(image.convert('1').getdata()): bitarray >= 3 wants 0/1, not 0/255.
        bits = bitarray(map(bool, data))
        width, height = image.size
    with ThreadPoolExecutor() as executor:
        compressed = compress_in_executor(executor, bits, width)
    with open(out_filename, "wb") as f:
        f.write(width.to_bytes(2, "little"))
        f.write(height.to_bytes(2, "little"))
        f.write(compressed)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = argv
    if os.path.isfile(src):
        compress_image(src, dst)
        return 0
    os.makedirs(dst, exist_ok=True)
    names = sorted(n for n in os.listdir(src) if n.lower().endswith(".bmp"))
    with ProcessPoolExecutor() as executor:
        futures = [
            executor.submit(compress_image, os.path.join(src, n), os.path.join(dst, os.path.splitext(n)[0] + ".rle"))
            for n in names
        ]
        for f in futures:
            f.result()
    return 0


if __name__ == "__main__":
    sys.exit(main())
