"""INTER_AREA vs Lanczos (same geometry), per reduction factor: worst and 1st-percentile PSNR by factor bin."""
import glob, sys, collections
import numpy as np
from PIL import Image, ImageOps
sys.path.insert(0, "/work/main")
import jobs.resize_job.geometry as g
g.AREA_FILTER_FACTOR = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0  # 1.0: the box filter wherever it reduces
import jobs.resize_job.decode as d
d.area_holds = g.area_holds
from jobs.resize_job.geometry import fit_geometry

files = sorted(glob.glob("/work/shared/data/imagenet-samples/*"))[:: int(sys.argv[2]) if len(sys.argv) > 2 else 1]
sizes = [(s, s) for s in (64, 80, 96, 112, 128, 150, 176, 192, 224, 256, 320)] + [(160, 96), (96, 200)]
bins = collections.defaultdict(list)
for f in files:
    with Image.open(f) as im:
        up = ImageOps.exif_transpose(im).convert("RGB")
    for size in sizes:
        for fit in ("stretch", "crop"):
            box, inner, (x, y) = fit_geometry(up.size, size, fit)
            fx = (box[2] - box[0]) / inner[0]
            fy = (box[3] - box[1]) / inner[1]
            factor = min(fx, fy)
            ref = np.asarray(up.resize(inner, Image.Resampling.LANCZOS, box=box)).astype(np.float64)
            got = d.load_rgb(f, size, "area", fit=fit)[y : y + inner[1], x : x + inner[0]]
            mse = float(np.mean((got - ref) ** 2))
            db = 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)
            b = "enlarge" if factor < 1 else f"{min(int(factor * 2) / 2, 8):.1f}"
            bins[b].append(db)
for b in sorted(bins, key=lambda k: -1 if k == "enlarge" else float(k)):
    v = np.array(bins[b])
    print(f"{b:>8}  n={len(v):5d}  worst {v.min():6.2f}  p1 {np.percentile(v, 1):6.2f}  mean {v.mean():6.2f}")
