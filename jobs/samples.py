"""Sample JPEGs for the resize job, its studies and the course notebook: no download needed.

:func:`make_jpegs` writes photograph-like JPEGs (smooth light, textured
surfaces, objects, sensor noise: what makes a JPEG decoder work as it does on
photos) into class folders, and a labelled list beside them::

    OUT/
      train.txt              "class-2/0007.jpg<TAB>2", one line per image
      class-0/0000.jpg ...   ImageNet's typical 500x375 by default

The same ``seed`` gives the same files, byte for byte.  ``imgjobs samples OUT``
is this function on the command line.

>>> from jobs.samples import make_jpegs
>>> listing = make_jpegs("jpegs", 8, classes=2, size=(64, 48))
>>> print(listing.read_text().splitlines()[0])
class-0/0000.jpg	0
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from jobs.errors import UsageError
from jobs.resize_job.options import parse_size
from jobs.runtime.durable import BatchWriter, write_atomic
from jobs.runtime.progress import Progress
from jobs.runtime.temporaries import new_token

__all__ = ["make_jpegs"]

log = logging.getLogger(__name__)

#: Each class's hue, so that the labels describe something a model could learn.
_PALETTE = ((200, 70, 40), (40, 140, 70), (50, 80, 190), (190, 170, 40), (140, 60, 160), (40, 160, 170))


def _photo(rng: np.random.Generator, width: int, height: int, label: int, noise: np.ndarray):
    """One photograph-like image: a lit background, textured shapes of the class's hue, noise."""
    base = np.array(_PALETTE[label % len(_PALETTE)], np.float32)
    # low-frequency light: a few random values per side, enlarged smoothly
    grid = rng.uniform(0.45, 1.15, (4, 4))
    light = (
        np.asarray(
            Image.fromarray((grid * 100).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC),
            np.float32,
        )[..., None]
        / 100
    )
    sky = rng.uniform(60, 200, 3).astype(np.float32)
    rgb = (0.55 * sky + 0.45 * base) * light
    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(6, 14))):  # objects: ellipses and polygons near the class's hue
        colour = tuple(int(c) for c in np.clip(base + rng.normal(0, 35, 3), 0, 255))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(max(2, width // 40), max(3, width // 6)))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            points = [(x + int(rng.integers(-r, r + 1)), y + int(rng.integers(-r, r + 1))) for _ in range(5)]
            draw.polygon(points, fill=colour)
    im = im.filter(ImageFilter.BoxBlur(1))  # soft edges, as a lens gives
    # texture and sensor noise: the high frequencies a photo's DCT blocks carry (a window of a shared bank)
    dy, dx = int(rng.integers(0, height)), int(rng.integers(0, width))
    pixels = np.asarray(im, np.int16) + noise[dy : dy + height, dx : dx + width]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_jpegs(
    out,
    n: int = 200,
    *,
    classes: int | None = None,
    size=(500, 375),
    seed: int = 0,
    quality: int = 90,
    progress: bool | None = None,
):
    """Write ``n`` photograph-like JPEGs into ``classes`` class folders of ``out``, and their labelled list.

    Parameters
    ----------
    out : str or os.PathLike
        The directory (created if missing); files already there with the same
        names are replaced.
    n : int
        How many images (1..1,000,000).
    classes : int, optional
        How many class folders (``class-0`` ...), 1..n; image ``i`` is in class
        ``i % classes`` (default 4, or ``n`` when smaller).
    size : (int, int) or str
        Width and height of every image, 8..8192 each, e.g. ``(500, 375)`` or
        ``"500x375"`` (the default, ImageNet's most common).
    seed : int
        The same seed (>= 0) writes the same bytes.
    quality : int
        JPEG quality (1..95).
    progress : bool, optional
        A progress bar on standard error, as the jobs draw (2,000 images take
        about 16 s on 2 cores).  None: ``imgjobs.progress``, on a terminal or in
        Jupyter only.

    Returns
    -------
    pathlib.Path
        ``out/train.txt``: one ``path<TAB>label`` line per image, relative to ``out``,
        for ``jobs.resize`` and ``imgjobs resize`` (which read the labels too).

    Raises
    ------
    jobs.UsageError
        For a value out of range, or an ``out`` that is not a directory that can be written.
    """
    classes = min(4, n) if classes is None else classes
    if not 1 <= n <= 1_000_000:
        raise UsageError(f"the number of images must be 1..1000000, got {n}")
    if not 1 <= classes <= n:
        raise UsageError(f"classes must be 1..{n} (the number of images), got {classes}")
    width, height = parse_size(size)
    if not (8 <= width <= 8192 and 8 <= height <= 8192):
        raise UsageError(f"size must be 8..8192 on each side, got {width}x{height}")
    if not 1 <= quality <= 95:
        raise UsageError(f"quality must be 1..95, got {quality}")
    if not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0, got {seed!r}")
    if not os.fspath(out):
        raise UsageError("the output directory is empty: name one")
    out = Path(out)
    try:
        for c in range(classes):
            (out / f"class-{c}").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{e.filename or out}: cannot make the class folders there ({e.strerror or e})") from None
    listing = out / "train.txt"
    if listing.is_dir():
        raise UsageError(f"{listing} is a directory: the labelled list goes there; move it or choose another DIR")
    rng = np.random.default_rng(seed)
    noise = rng.integers(-14, 15, (2 * height, 2 * width, 3), dtype=np.int16)
    lines = []
    token = new_token()
    writer = BatchWriter(token)  # through temporaries: a killed run leaves no half-written JPEG
    bar = Progress(progress, dashboard=False)
    bar.start("samples", n, "image", n)
    try:
        for i in range(n):
            label = i % classes
            name = f"class-{label}/{i:04d}.jpg"
            buf = io.BytesIO()
            _photo(rng, width, height, label, noise).save(buf, format="JPEG", quality=quality)
            writer.add(os.fspath(out / name), buf.getbuffer())
            lines.append(f"{name}\t{label}\n")
            if len(lines) % 64 == 0 or i == n - 1:
                for path, err in writer.commit().items():
                    raise OSError(err.errno, f"cannot write {path}: {err.strerror or err}")
                bar.update(len(lines) - bar.units)  # the images written, not only drawn
    except BaseException:
        writer.discard()
        raise
    finally:
        bar.close()
    write_atomic(os.fspath(listing), ["".join(lines).encode()], token)  # last: it names no missing image
    log.info(
        "wrote %d JPEG(s) of %dx%d in %d class folder(s) of %s, listed in %s", n, width, height, classes, out, listing
    )
    return listing
