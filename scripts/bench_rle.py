#!/usr/bin/env python3
"""Benchmark the RLE codec and job against the classic per-bit tool, in one run.

Reports, on this machine and in this run:

1. codec speed: ``rle.encode`` and ``rle.decode`` on a 7200x5600 text page, in
   MPixel/s on one core (median of ``--repeats`` after a warm-up);
2. directory: wall time of the whole ``imgjobs compress`` process over 8
   7200x5600 24-bit black-and-white BMPs (the case study's benchmark input)
   next to ``scripts/classic_rle.py`` (process per image, thread pool per row)
   on the same files, and the speedup;
3. single page, file to file: the same for one of those images.

The outputs of both tools are compared byte for byte.  Speed claims are ratios
within this run (the machine is shared and noisy), never absolute times alone.

Usage::

    python scripts/bench_rle.py                       # data in /tmp/imgjobs-bench (generated once)
    python scripts/bench_rle.py --repeats 5 --classic-repeats 1 --json results.json
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from benchutil import imgjobs_cmd, median_time, timed_process  # noqa: E402
from make_samples import make_bench, text_page  # noqa: E402

import rle  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data",
        default=os.path.join(tempfile.gettempdir(), "imgjobs-bench"),
        help="where the 8 benchmark BMPs are generated (reused when present)",
    )
    p.add_argument("--repeats", type=int, default=5, help="repeats for imgjobs and the codec (median)")
    p.add_argument("--classic-repeats", type=int, default=1, help="repeats for the classic tool (about 20 s each)")
    p.add_argument("--images", type=int, default=8, help="images in the directory benchmark")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    results = {
        "machine": {
            "cores": os.cpu_count(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        }
    }
    print(f"# imgjobs RLE benchmark ({os.cpu_count()} cores, Python {platform.python_version()})\n")

    # 1. codec
    page = np.unpackbits(
        np.frombuffer(text_page(7200, 5600, seed=42).tobytes(), np.uint8).reshape(5600, -1), axis=1, count=7200
    )
    data = rle.encode(page)
    assert np.array_equal(rle.decode(data), page)
    mpx = page.size / 1e6
    t_enc = median_time(lambda: rle.encode(page), args.repeats, warmup=2)
    t_dec = median_time(lambda: rle.decode(data), args.repeats, warmup=2)
    results["codec"] = {
        "encode_mpix_s": mpx / t_enc,
        "decode_mpix_s": mpx / t_dec,
        "rle_bytes": len(data),
        "pixels": page.size,
    }
    print("| codec, 7200x5600 text page, one core | MPixel/s |\n|---|---|")
    print(f"| encode | {mpx / t_enc:,.0f} |\n| decode | {mpx / t_dec:,.0f} |\n")

    # 2. directory of 8 x 7200x5600 24-bit BMPs, whole processes
    src = os.path.join(args.data, "bmp24")
    inputs = make_bench(src, args.images)
    for path in inputs:  # same start for both tools: every input in the page cache
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    with tempfile.TemporaryDirectory() as tmp:
        ours_dir, classic_dir = os.path.join(tmp, "imgjobs"), os.path.join(tmp, "classic")
        ours = timed_process([*imgjobs_cmd(), "-q", "compress", src, ours_dir, "--overwrite"], args.repeats)
        classic = timed_process(
            [sys.executable, os.path.join(HERE, "classic_rle.py"), src, classic_dir], args.classic_repeats
        )
        names = sorted(os.listdir(classic_dir))
        match, mismatch, errors = filecmp.cmpfiles(ours_dir, classic_dir, names, shallow=False)
        assert not mismatch and not errors, f"outputs differ: {mismatch} {errors}"
        first = sorted(os.listdir(src))[0]
        one = os.path.join(src, first)
        ours1 = timed_process(
            [*imgjobs_cmd(), "-q", "compress", one, os.path.join(tmp, "one.rle"), "--overwrite"], args.repeats
        )
        classic1 = timed_process(
            [sys.executable, os.path.join(HERE, "classic_rle.py"), one, os.path.join(tmp, "one-classic.rle")],
            args.classic_repeats,
        )
        assert filecmp.cmp(os.path.join(tmp, "one.rle"), os.path.join(tmp, "one-classic.rle"), shallow=False)
    o, c, o1, c1 = map(statistics.median, (ours, classic, ours1, classic1))
    results["directory"] = {"images": args.images, "imgjobs_s": ours, "classic_s": classic, "speedup": c / o}
    results["single"] = {"imgjobs_s": ours1, "classic_s": classic1, "speedup": c1 / o1}
    print(
        f"| whole process, same {os.cpu_count()} cores | imgjobs compress (median of {args.repeats}) "
        f"| classic per-bit | speedup |\n|---|---|---|---|"
    )
    print(f"| {args.images} x 7200x5600 24-bit BMPs | {o:.2f} s | {c:.1f} s | {c / o:.1f}x |")
    print(f"| one 7200x5600 page, file to file | {o1:.2f} s | {c1:.1f} s | {c1 / o1:.1f}x |")
    print(f"\noutputs identical to the classic tool's: {len(match)} of {len(names)} files (and the single page)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
