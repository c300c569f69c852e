#!/usr/bin/env python3
"""Benchmark the resize job against what a user would pick instead, in one run.

Uses real JPEGs: by default the 500 ImageNet samples in ../shared/data/imagenet-samples
(a list of 2000 repeats them 4 times).  Reports, on this machine and in this run:

1. the one-core race: imgjobs' default (``--method area``), its fastest opt-in
   (``--method draft``), OpenCV's full decode + ``INTER_AREA`` as a user writes it,
   ``--method exact`` (Pillow) and the exercise's loop, each a serial loop in a fresh
   process of its own pinned to one core, the processes taking turns; images/s
   (median of ``--repeats``) and quality: PSNR of every image against a reference
   (full decode, EXIF applied, Lanczos), worst / 1st percentile / mean;
2. where an image's time goes on the default path (read, header, decode, resize,
   copy, Python glue), in microseconds;
3. the whole ``imgjobs resize`` process over 2000 images, default and ``--method
   draft``, against ``scripts/classic_resize.py --threads 2``, taking turns (median);
4. scaling: images/s with 1 and 2 workers (Dask threads, and a LocalCluster of
   worker processes, startup excluded; 1- and 2-worker runs take turns) and the
   parallel efficiency (``--skip-scaling`` leaves it out);
5. the peak resident memory of the imgjobs process next to the batch's size;
6. the fits (``--fit stretch|crop|pad``), one core, taking turns: images/s against
   ``stretch`` and quality against a Lanczos full decode of the same geometry, at
   100x100 and 224x224;
7. the outputs: the whole ``imgjobs resize`` process into a ``.npy`` and into
   ``.wds`` tar shards (npy and png samples), taking turns: shards against ``.npy``;
8. the race against what a user writes instead (issue 22): the whole ``imgjobs
   resize`` process against ``scripts/pool_resize.py`` (``multiprocessing.Pool`` +
   OpenCV into a ``.npy`` memmap) over 2,000 and 8,000 images, and a one-image job
   (start-up), taking turns, medians, with the quality of both batches.

Usage::

    python scripts/bench_resize.py [--images DIR] [--repeats 3] [--json out.json]
    python scripts/bench_resize.py --only floor --sizes 80x80,224x224  # the quality floor table
    python scripts/bench_resize.py --only fits,outputs      # sections 6 and 7
    python scripts/bench_resize.py --only race --repeats 5  # section 8
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from benchutil import compile_caches, imgjobs_cmd, interleaved, peak_rss, run_quiet  # noqa: E402
from classic_resize import build_batch as exercise_batch  # noqa: E402

from jobs.resize_job.decode import load_rgb  # noqa: E402

DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "data", "imagenet-samples")


def scaling(listfile, n, repeats):
    """Images/s with 1 and 2 workers per scheduler kind, the two interleaved repeat by repeat.

    Both runners stay open and take turns, so that the machine's drift (other tenants, clock
    changes) weighs on 1 and 2 workers alike; startup is excluded.
    """
    import contextlib

    import jobs
    from jobs.schedulers import open_runner

    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "b.npy")
        for kind in ("threads", "local"):
            with contextlib.ExitStack() as stack:
                runners = {
                    w: stack.enter_context(
                        open_runner(scheduler=kind, workers=w, threads_per_worker=1, dashboard_address=":0")
                    )
                    for w in (1, 2)
                }

                def once(runner, kind=kind):
                    if runner.client is not None:
                        where = {"client": runner.client}
                    else:
                        where = {"scheduler": kind, "workers": runner.parallelism}
                    jobs.resize(listfile, out, num_images=n, overwrite=True, progress=False, **where)

                for runner in runners.values():
                    once(runner)  # warm the workers
                times = interleaved({w: (lambda r=r: once(r)) for w, r in runners.items()}, repeats)
                for w, ts in times.items():
                    rates[(kind, w)] = n / statistics.median(ts)
                    rates[(kind, w, "best")] = n / min(ts)
    return rates


LOOPS = ("exercise", "opencv", "exact", "area", "draft")

#: What each one-core loop is, for the table.
LOOP_NAMES = {
    "exercise": "the exercise (Pillow open + resize, into its float64 batch)",
    "opencv": "OpenCV as a user writes it (imread, resize INTER_AREA, cvtColor)",
    "exact": "imgjobs --method exact (Pillow full decode, bicubic)",
    "area": "imgjobs default, --method area",
    "draft": "imgjobs --method draft (fastest opt-in)",
}


def _opencv_batch(files, size):
    import cv2

    cv2.setNumThreads(1)
    batch = np.zeros((len(files), size[1], size[0], 3), dtype=np.uint8)
    for i, f in enumerate(files):
        bgr = cv2.imread(f, cv2.IMREAD_COLOR)
        batch[i] = cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return batch


def serial_loop(name: str, files: list, size=(100, 100)) -> np.ndarray:
    """One pass of a one-core loop over ``files`` (see :data:`LOOP_NAMES`)."""
    if name == "exercise":
        return exercise_batch(files, size=size)
    if name == "opencv":
        return _opencv_batch(files, size)
    batch = np.zeros((len(files), size[1], size[0], 3), dtype=np.uint8)
    for i, f in enumerate(files):
        batch[i] = load_rgb(f, size, name)  # what a fill task does for each image (imgjobs.resize.draft-fraction)
    return batch


def time_loop(name: str, files: list, passes: int = 2) -> float:
    """Median seconds of ``passes`` timed passes of :func:`serial_loop`, after a warm-up pass."""
    serial_loop(name, files)
    times = []
    for _ in range(passes):
        t = time.perf_counter()
        serial_loop(name, files)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def reference(files: list, size=(100, 100)) -> np.ndarray:
    """The quality reference: full decode, EXIF orientation applied, true RGB, Lanczos to ``size``."""
    from PIL import Image, ImageOps

    out = np.zeros((len(files), size[1], size[0], 3), dtype=np.uint8)
    for i, f in enumerate(files):
        with Image.open(f) as im:
            out[i] = np.asarray(ImageOps.exif_transpose(im).convert("RGB").resize(size, Image.Resampling.LANCZOS))
    return out


def quality(batch: np.ndarray, ref: np.ndarray) -> dict:
    """PSNR of every image against the reference: worst, 1st percentile, mean (dB; 99 for identical)."""
    mse = np.mean((batch.astype(np.float64) - ref) ** 2, axis=(1, 2, 3))
    db = np.where(mse == 0, 99.0, 10 * np.log10(255.0**2 / np.maximum(mse, 1e-12)))
    return {"worst": float(db.min()), "p1": float(np.percentile(db, 1)), "mean": float(db.mean())}


def stages(files: list, size=(100, 100), passes: int = 3) -> dict:
    """Microseconds per image in each step of the default path (best of ``passes``), in one process."""
    import io

    import cv2
    from PIL import Image

    from jobs.resize_job.geometry import AREA_MARGIN, draft_scale

    cv2.setNumThreads(1)
    datas = [open(f, "rb").read() for f in files]
    steps = {}

    def best(name, fn, items):
        t_best = float("inf")
        for _ in range(passes):
            t = time.perf_counter()
            for x in items:
                fn(x)
            t_best = min(t_best, time.perf_counter() - t)
        steps[name] = t_best / len(items) * 1e6

    def header(d):
        with Image.open(io.BytesIO(d)) as im:
            im.getexif()
            return im.size

    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
    flag = [flags.get(draft_scale(header(d), size, AREA_MARGIN), cv2.IMREAD_REDUCED_COLOR_8) for d in datas]

    def decode(k):
        return cv2.imdecode(np.frombuffer(datas[k], np.uint8), flag[k])

    best("read the file", lambda f: open(f, "rb").read(), files)
    best("header and EXIF (Pillow)", header, datas)
    best("decode (OpenCV, libjpeg-turbo)", decode, range(len(datas)))
    decoded = [decode(k) for k in range(len(datas))]
    best("area resize (OpenCV)", lambda a: cv2.resize(a, size, interpolation=cv2.INTER_AREA), decoded)
    small = [cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in decoded]
    slot = np.zeros((size[1], size[0], 3), np.uint8)
    best("BGR->RGB into the batch slot", lambda a: slot.__setitem__(Ellipsis, a[..., ::-1]), small)
    best("load_rgb, whole", lambda f: load_rgb(f, size), files)
    steps["Python glue (whole minus steps)"] = steps["load_rgb, whole"] - sum(
        v for k, v in steps.items() if k != "load_rgb, whole"
    )
    best("for scale: Pillow full decode (exact)", lambda d: Image.open(io.BytesIO(d)).load(), datas[:100])
    rgb = [Image.open(io.BytesIO(d)).convert("RGB") for d in datas[:100]]
    best("for scale: Pillow bicubic resize (exact)", lambda im: im.resize(size, Image.Resampling.BICUBIC), rgb)
    return steps


def fit_quality(files: list, size, fit: str) -> dict:
    """PSNR of ``--fit fit`` (default method) against Lanczos of the same geometry, inside the image only."""
    from PIL import Image, ImageOps

    from jobs.resize_job.geometry import fit_geometry

    db = []
    for f in files:
        with Image.open(f) as im:
            up = ImageOps.exif_transpose(im).convert("RGB")
        box, inner, (x, y) = fit_geometry(up.size, size, fit)
        ref = np.asarray(up.resize(inner, Image.Resampling.LANCZOS, box=box)).astype(np.float64)
        got = load_rgb(f, size, "area", fit=fit)[y : y + inner[1], x : x + inner[0]]
        mse = float(np.mean((got - ref) ** 2))
        db.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return {"worst": float(min(db)), "p1": float(np.percentile(db, 1)), "mean": float(np.mean(db))}


def floor(files: list, sizes, fits_=("stretch", "crop")) -> dict:
    """The quality floor's table: the default method against Lanczos of the same geometry, per size and fit,
    every image (those smaller than the output, enlarged, counted too)."""
    from PIL import Image

    out: dict = {}
    for size in sizes:
        for fit in fits_:
            q = fit_quality(files, size, fit)
            enlarged = 0
            for f in files:
                with Image.open(f) as im:
                    w, h = im.size
                enlarged += min(w, h) < min(size)  # roughly: the region grows on an axis
            out[f"{fit} {size[0]}x{size[1]}"] = {**q, "enlarged": enlarged}
    return out


def _print_floor(res: dict) -> None:
    print("| fit, size | worst / 1st percentile / mean dB | images enlarged | floor (28 / 30) |\n|---|---|---|---|")
    for name, q in res.items():
        ok = "holds" if q["worst"] >= 28 and q["p1"] >= 30 else "**fails**"
        print(f"| {name} | {q['worst']:.1f} / {q['p1']:.1f} / {q['mean']:.1f} | {q['enlarged']} | {ok} |")
    print()


def fits(files: list, repeats: int, sizes=((100, 100), (224, 224))) -> dict:
    """Images/s of each fit on one core (taking turns, median of ``repeats``) and its quality."""
    datas = [open(f, "rb").read() for f in files]
    out = {}
    for size in sizes:

        def run(fit, size=size):
            return lambda: [load_rgb(f, size, "area", data=d, fit=fit) for f, d in zip(files, datas, strict=True)]

        t = interleaved({fit: run(fit) for fit in ("stretch", "crop", "pad")}, repeats)
        key = f"{size[0]}x{size[1]}"
        base = statistics.median(t["stretch"])
        out[key] = {
            fit: {
                "images_per_s": len(files) / statistics.median(v),
                "vs_stretch": base / statistics.median(v),
                "quality": fit_quality(files, size, fit),
            }
            for fit, v in t.items()
        }
    return out


def outputs(listfile: str, count: int, tmp: str, repeats: int) -> dict:
    """Seconds of the whole ``imgjobs resize`` process into .npy and into .wds shards (median, taking turns)."""
    cmd = [*imgjobs_cmd(), "-q", "resize", listfile, "--overwrite", "--out"]
    runs = {
        "npy": lambda: run_quiet([*cmd, os.path.join(tmp, "o.npy")]),
        "wds-npy": lambda: run_quiet([*cmd, os.path.join(tmp, "o.wds")]),
        "wds-png": lambda: run_quiet([*cmd, os.path.join(tmp, "p.wds"), "--sample-format", "png"]),
    }
    t = interleaved(runs, repeats)
    base = statistics.median(t["npy"])
    return {k: {"seconds": statistics.median(v), "images_per_s": count / statistics.median(v),
                "vs_npy": base / statistics.median(v)} for k, v in t.items()}  # fmt: skip


def race(files: list, counts, repeats: int, size=(100, 100)) -> dict:
    """Whole processes, taking turns: ``imgjobs resize`` against the Pool + OpenCV script, both at ``size``;
    the batches' quality."""
    out: dict = {}
    wxh = f"{size[0]}x{size[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        for count in (*counts, 1):
            listfile = os.path.join(tmp, f"list{count}.txt")
            with open(listfile, "w") as f:
                f.writelines(os.path.abspath(files[i % len(files)]) + "\n" for i in range(count))
            ours, theirs = os.path.join(tmp, f"ours{count}.npy"), os.path.join(tmp, f"pool{count}.npy")
            runs = {
                "imgjobs": lambda ours=ours, listfile=listfile: run_quiet(
                    [*imgjobs_cmd(), "-q", "resize", listfile, "--out", ours, "--size", wxh, "--overwrite"]
                ),
                "pool": lambda theirs=theirs, listfile=listfile: run_quiet(
                    [sys.executable, os.path.join(HERE, "pool_resize.py"), listfile, "--size", wxh, "--out", theirs]
                ),
            }
            t = interleaved(runs, repeats)
            row = {k: statistics.median(v) for k, v in t.items()}
            row["ratio"] = row["pool"] / row["imgjobs"]
            if count > 1:
                n = min(count, len(files))  # the first pass over the files: each image once
                ref = reference(files[:n], size)
                row["quality"] = {
                    "imgjobs": quality(np.load(ours, mmap_mode="r")[:n], ref),
                    "pool": quality(np.load(theirs, mmap_mode="r")[:n], ref),
                }
            out[str(count)] = row
    out["imports"] = startup_parts(repeats)
    return out


def startup_parts(repeats: int) -> dict:
    """Seconds (median, taking turns) of a Python that imports what each side needs, and nothing else.

    ``pass`` is the interpreter; ``script`` the Pool script's imports (numpy, OpenCV);
    ``decode`` what imgjobs' tasks need besides (Pillow, simplejpeg); ``dask`` that and
    Dask, which imgjobs reads its configuration through and schedules with.
    """
    lines = {
        "pass": "pass",
        "script": "import numpy, cv2",
        "decode": "import numpy, cv2, PIL.Image, simplejpeg",
        "dask": "import numpy, cv2, PIL.Image, simplejpeg, dask",
    }
    t = interleaved({k: lambda c=c: run_quiet([sys.executable, "-c", c]) for k, c in lines.items()}, repeats)
    return {k: statistics.median(v) for k, v in t.items()}


def _print_race(res: dict) -> None:
    print("| whole process | imgjobs s | Pool + OpenCV script s | imgjobs vs script | PSNR worst / p1: ours, script |")
    print("|---|---|---|---|---|")
    for count, r in res.items():
        if count == "imports":
            continue
        q = r.get("quality")
        shown = (
            f"{q['imgjobs']['worst']:.1f} / {q['imgjobs']['p1']:.1f}, {q['pool']['worst']:.1f} / {q['pool']['p1']:.1f}"
            if q
            else "(start-up)"
        )
        what = f"{int(count):,} images" if count != "1" else "1 image (start-up)"
        print(f"| {what} | {r['imgjobs']:.2f} | {r['pool']:.2f} | {r['ratio']:.2f}x | {shown} |")
    print("\nAsked (issue 30): at least 1.0x on 2,000 and 8,000 images, at 100x100 and 224x224.\n")
    imp = res["imports"]
    print("| a Python that imports (medians, taking turns) | seconds |\n|---|---|")
    names = {
        "pass": "nothing",
        "script": "numpy, OpenCV (the script's)",
        "decode": "numpy, OpenCV, Pillow, simplejpeg",
        "dask": "the same and dask (imgjobs' configuration and scheduler)",
    }
    for k, label in names.items():
        print(f"| {label} | {imp[k]:.3f} |")
    print()


def _print_fits(res: dict) -> None:
    print("| fit (default method, one core) | size | images/s | vs stretch | PSNR: worst / 1st pct / mean |")
    print("|---|---|---|---|---|")
    for size, by_fit in res.items():
        for fit, r in by_fit.items():
            q = r["quality"]
            print(
                f"| {fit} | {size} | {r['images_per_s']:,.0f} | {r['vs_stretch']:.2f}x | "
                f"{q['worst']:.1f} / {q['p1']:.1f} / {q['mean']:.1f} dB |"
            )
    print(
        "\nReference: full decode, EXIF applied, the same crop or letterbox geometry, Lanczos; pad: the image "
        "inside its border. Floor: worst >= 28 dB, 1st percentile >= 30 dB; crop at least as fast as stretch.\n"
    )


def _print_outputs(res: dict, count: int) -> None:
    print(f"| whole process, {count} images, into | seconds | images/s | vs .npy |\n|---|---|---|---|")
    names = {"npy": ".npy batch", "wds-npy": ".wds shards, npy samples", "wds-png": ".wds shards, png samples"}
    for k, r in res.items():
        print(f"| {names[k]} | {r['seconds']:.2f} | {r['images_per_s']:,.0f} | {r['vs_npy']:.2f}x |")
    print("\nFloor: shards at least 0.90x of the .npy throughput.\n")


def _pin_one_core() -> None:
    """Run on one core (the last one), where the system allows it."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=DEFAULT_IMAGES, help="directory of JPEGs (default: the shared samples)")
    p.add_argument("--count", type=int, default=2000, help="images in the whole-process run (repeats the set)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--skip-scaling", action="store_true", help="leave out the 1- and 2-worker scaling runs")
    p.add_argument("--only", help="comma-separated sections to run: floor, fits, outputs, race (default: all)")
    p.add_argument("--race-sizes", default="100x100,224x224", help="race: output sizes of both contenders")
    p.add_argument(
        "--sizes",
        default="80x80,112x112,150x150,192x192,256x256",
        help="floor: the output sizes of its table, WxH,WxH...",
    )
    p.add_argument("--loop", choices=LOOPS, help=argparse.SUPPRESS)  # one timed loop, for the parent
    args = p.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.images, "*")))
    if not files:
        print(f"no images in {args.images}: pass --images DIR", file=sys.stderr)
        return 2
    if args.loop:
        _pin_one_core()
        print(time_loop(args.loop, files))
        return 0
    res = {"machine": {"cores": os.cpu_count(), "python": platform.python_version()}, "images": len(files)}
    print(f"# imgjobs resize benchmark: {len(files)} JPEGs, {os.cpu_count()} cores\n")
    compile_caches()  # every contender starts as an installed tool: no module compiled on the way
    only = set(args.only.split(",")) if args.only else None
    if only is None or "floor" in only:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
        res["floor"] = floor(files, sizes)
        _print_floor(res["floor"])
    if only is None or "fits" in only:
        res["fits"] = fits(files, args.repeats)
        _print_fits(res["fits"])
    if only is None or "outputs" in only:
        with tempfile.TemporaryDirectory() as tmp:
            listfile = os.path.join(tmp, "list.txt")
            with open(listfile, "w") as f:
                f.writelines(os.path.abspath(files[i % len(files)]) + "\n" for i in range(args.count))
            res["outputs"] = outputs(listfile, args.count, tmp, args.repeats)
        _print_outputs(res["outputs"], args.count)
    if only is None or "race" in only:
        for wxh in args.race_sizes.split(","):
            size = tuple(int(v) for v in wxh.lower().split("x"))
            print(f"race at {wxh}:")
            res[f"race {wxh}"] = race(files, (2000, 8000), args.repeats, size)
            _print_race(res[f"race {wxh}"])
    if only is not None:
        return _dump(res, args.json)

    size = (100, 100)

    # Each serial loop runs in a fresh process of its own, pinned to one core (a warm-up
    # pass, then timed passes), the processes taking turns round by round: in one process
    # the loops leave state behind that changes the next one's speed.
    times = {name: [] for name in LOOPS}
    for _ in range(args.repeats):
        for name in LOOPS:
            cmd = [sys.executable, os.path.abspath(__file__), "--images", args.images, "--loop", name]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            times[name].append(float(out.split()[-1]))
    n = len(files)
    ref = reference(files, size)
    res["per_core"], res["quality"] = {}, {}
    base = statistics.median(times["opencv"])
    print(
        "| one core, serial loop | images/s | vs OpenCV | PSNR vs reference: worst / 1st pct / mean |\n"
        "|---|---|---|---|"
    )
    for name in LOOPS:
        t = statistics.median(times[name])
        res["per_core"][name] = n / t
        q = quality(serial_loop(name, files, size), ref) if name != "exercise" else None
        res["quality"][name] = q
        shown = f"{q['worst']:.1f} / {q['p1']:.1f} / {q['mean']:.1f} dB" if q else "as exact (grey: channel 0 only)"
        print(f"| {LOOP_NAMES[name]} | {n / t:,.0f} | {base / t:.2f}x | {shown} |")
    print(
        "\nReference: full decode, EXIF orientation applied, true RGB, Lanczos to 100x100. "
        "Floor for the default: worst >= 28 dB, 1st percentile >= 30 dB.\n"
    )
    steps = stages(files, size)
    res["stages_us"] = steps
    print("| where an image's time goes (default path, one core) | us/image |\n|---|---|")
    for k, v in steps.items():
        print(f"| {k} | {v:,.0f} |")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        listfile = os.path.join(tmp, "list.txt")
        with open(listfile, "w") as f:
            f.writelines(os.path.abspath(files[i % n]) + "\n" for i in range(args.count))
        cmd = [*imgjobs_cmd(), "-q", "resize", listfile, "--out", os.path.join(tmp, "b.npy"), "--overwrite"]
        draft = [*cmd, "--method", "draft"]
        exercise = [sys.executable, os.path.join(HERE, "classic_resize.py"), listfile, "--threads", "2"]
        runs = {
            "ours": lambda: run_quiet(cmd),
            "draft": lambda: run_quiet(draft),
            "exercise": lambda: run_quiet(exercise),
        }
        t = interleaved(runs, args.repeats)
        ours, classic = statistics.median(t["ours"]), statistics.median(t["exercise"])
        fastest = statistics.median(t["draft"])
        rss = peak_rss(cmd)
        batch_mb = args.count * size[0] * size[1] * 3 / 1e6
        res["whole_process"] = {
            "images": args.count,
            "imgjobs_s": ours,
            "exercise_2_threads_s": classic,
            "speedup": classic / ours,
            "imgjobs_peak_rss_mb": rss / 1e6,
            "batch_mb": batch_mb,
        }
        print(f"| whole process, {args.count} images, {os.cpu_count()} cores | seconds | images/s |\n|---|---|---|")
        print(f"| exercise, ThreadPoolExecutor(2) | {classic:.2f} | {args.count / classic:,.0f} |")
        print(f"| imgjobs resize (default) | {ours:.2f} | {args.count / ours:,.0f} ({classic / ours:.2f}x) |")
        rate = f"{args.count / fastest:,.0f} ({classic / fastest:.2f}x)"
        print(f"| imgjobs resize --method draft | {fastest:.2f} | {rate} |\n")
        res["whole_process"]["draft_s"] = fastest
        print(
            f"imgjobs peak RSS {rss / 1e6:.0f} MB (interpreter and libraries; the {batch_mb:.0f} MB batch "
            "goes to its file a slice at a time)\n"
        )
        if args.skip_scaling:
            return _dump(res, args.json)
        rates = scaling(listfile, args.count, args.repeats)
    res["scaling"] = {"-".join(map(str, k)): r for k, r in rates.items()}
    print(
        "| scheduler | 1 worker | 2 workers | efficiency (median) | efficiency (best run of each) |\n"
        "|---|---|---|---|---|"
    )
    for kind, name in (("threads", "Dask threads"), ("local", "LocalCluster, worker processes")):
        one, two = rates[(kind, 1)], rates[(kind, 2)]
        best = rates[(kind, 2, "best")] / (2 * rates[(kind, 1, "best")])
        res["scaling"][f"{kind}-efficiency"] = two / (2 * one)
        res["scaling"][f"{kind}-efficiency-best"] = best
        print(f"| {name} | {one:,.0f} img/s | {two:,.0f} img/s | {two / (2 * one):.0%} | {best:.0%} |")
    return _dump(res, args.json)


def _dump(res: dict, path) -> int:
    if path:
        with open(path, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
