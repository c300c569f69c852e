"""Plain functions behind the resize job (no Dask here; see :mod:`jobs.resize_job.planner`).

:func:`load_rgb` turns one image file into an (H, W, 3) uint8 array: decoded by
content (not by extension), EXIF orientation applied, any mode made true RGB,
then resized by one of three :data:`METHODS`:

``area`` (the default)
    JPEGs decoded by libjpeg-turbo at full scale, or at a reduced DCT
    scale only while that decode is still at least four times the output in
    both directions (:data:`AREA_MARGIN`), then resized with OpenCV's area filter
    (``INTER_AREA``).  The quality of OpenCV's plain full-decode path, at its
    speed or better.
``exact``
    A full decode, resized with Pillow's bicubic filter: the exercise's
    semantics, the sharpest and slowest.
``draft``
    Trades quality for speed: JPEGs decoded at the smallest DCT scale (1/2, 1/4,
    1/8) still at least ``draft_fraction`` of the output, then area-resized.
    Reduced DCT decodes alias fine texture (fur, foliage, fabric).

JPEGs are decoded by libjpeg-turbo through simplejpeg, strictly: a JPEG the
decoder would have to patch (cut short, corrupt data, a header claiming more
pixels than the file can hold) fails by name with the decoder's reason instead
of decoding to grey.  Other formats and CMYK JPEGs go through Pillow, and a
broken file fails with Pillow's reason.

:func:`create_output` and :func:`fill` are what tasks run: create the empty
batch, then load a batch of images and write them straight into their slots of
the output, returning only per-image outcomes.  A failed image leaves its slot zero.
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

from jobs.resize_job.options import METHODS

__all__ = [
    "AREA_MARGIN",
    "DIMENSIONS",
    "METHODS",
    "create_output",
    "draft_scale",
    "fill",
    "fit_geometry",
    "library_changes",
    "load_block",
    "load_rgb",
    "load_with",
    "open_images",
    "orient",
    "pixel_libraries",
    "read_input",
    "stored_box",
    "to_rgb",
]

#: The axes of a batch, as a zarr store names them for xarray (``xarray.open_zarr``); its labels lie along "image".
DIMENSIONS = ("image", "y", "x", "channel")

#: ``area`` decodes at a reduced DCT scale only while the decode stays this many times the output.  At 2 the
#: worst ImageNet sample lost up to 2.6 dB against a full decode at 64x64 and 125x96 (a 1/2-scale IDCT, then
#: a 2x area filter); at 4 no size from 64x64 up loses anything measurable, and large photos still decode small.
AREA_MARGIN = 4.0

#: EXIF orientations that swap width and height (transpose, 90 and 270 degree rotations).
_SWAPS_AXES = (5, 6, 7, 8)

#: EXIF orientation -> the ``Image.transpose`` that turns it upright (as ``ImageOps.exif_transpose``).
_TRANSPOSE: dict = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # PIL.Image.Transpose values


def draft_scale(image_size, size, fraction: float) -> int:
    """Return the JPEG DCT scale denominator (1, 2, 4 or 8) to decode at.

    The largest scale whose decode, ``ceil(W / s) x ceil(H / s)``, is still at
    least ``fraction`` times the target ``size`` in both directions.  ``area``
    uses ``fraction=4`` (:data:`AREA_MARGIN`): a reduced decode only where it is
    still four times the output, where it costs no quality.  ``draft`` uses a fraction
    near 1: a 500x375 photo decodes at 1/4 scale (125x94) for 100x100 with 0.9,
    which the resize then stretches by 6% in height: faster, and softer.

    Parameters
    ----------
    image_size : (int, int)
        Stored width and height of the JPEG.
    size : (int, int)
        Target width and height, in the stored orientation.
    fraction : float
        Positive: the smallest decode allowed, as a multiple of ``size``.
    """
    w, h = image_size
    tw, th = size
    for s in (8, 4, 2):
        if s <= min(w, h) and -(-w // s) >= fraction * tw and -(-h // s) >= fraction * th:
            return s
    return 1


def fit_geometry(image_size, size, fit: str = "stretch") -> tuple[tuple, tuple, tuple]:
    """Where an upright image of ``image_size`` goes in an output of ``size`` under ``fit``.

    Parameters
    ----------
    image_size : (int, int)
        Upright width and height of the image.
    size : (int, int)
        Output width and height.
    fit : {"stretch", "crop", "pad"}
        ``stretch`` resizes the whole image to ``size``; ``crop`` keeps the
        centred region of the output's aspect ratio (the shorter side scaled to
        the output); ``pad`` resizes the whole image to fit inside ``size``, aspect
        ratio kept, centred.

    Returns
    -------
    box : (int, int, int, int)
        ``(left, top, right, bottom)`` of the image that is kept.
    inner : (int, int)
        Width and height that region is resized to.
    at : (int, int)
        Where its top-left corner goes in the output (the rest is the pad fill).

    Examples
    --------
    >>> fit_geometry((500, 375), (224, 224), "crop")
    ((62, 0, 437, 375), (224, 224), (0, 0))
    >>> fit_geometry((500, 375), (224, 224), "pad")
    ((0, 0, 500, 375), (224, 168), (0, 28))
    """
    w, h = image_size
    tw, th = size
    if fit == "crop":
        scale = max(tw / w, th / h)
        cw, ch = min(w, max(1, round(tw / scale))), min(h, max(1, round(th / scale)))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return (x0, y0, x0 + cw, y0 + ch), (tw, th), (0, 0)
    if fit == "pad":
        scale = min(tw / w, th / h)
        iw, ih = min(tw, max(1, round(w * scale))), min(th, max(1, round(h * scale)))
        return (0, 0, w, h), (iw, ih), ((tw - iw) // 2, (th - ih) // 2)
    if fit != "stretch":
        raise ValueError(f"fit must be stretch, crop or pad, got {fit!r}")
    return (0, 0, w, h), (tw, th), (0, 0)


def _place(small: np.ndarray, size, at, fill) -> np.ndarray:
    """``small`` on a canvas of ``size`` filled with ``fill``, its corner at ``at`` (itself when it fills it)."""
    tw, th = size
    ih, iw = small.shape[:2]
    if (iw, ih) == (tw, th):
        return small
    canvas = np.empty((th, tw, 3), dtype=np.uint8)
    canvas[...] = np.asarray(fill, dtype=np.uint8)
    x, y = at
    canvas[y : y + ih, x : x + iw] = small
    return canvas


def stored_box(box, orientation: int, stored_size) -> tuple[int, int, int, int]:
    """An upright ``(left, top, right, bottom)`` box as the same pixels' box in the stored (un-oriented) image.

    ``stored_size`` is the stored width and height; the inverse of :func:`orient`.
    """
    x0, y0, x1, y1 = box
    w, h = stored_size
    if orientation == 2:
        return (w - x1, y0, w - x0, y1)
    if orientation == 3:
        return (w - x1, h - y1, w - x0, h - y0)
    if orientation == 4:
        return (x0, h - y1, x1, h - y0)
    if orientation == 5:
        return (y0, x0, y1, x1)
    if orientation == 6:
        return (y0, h - x1, y1, h - x0)
    if orientation == 7:
        return (w - y1, h - x1, w - y0, h - x0)
    if orientation == 8:
        return (w - y1, x0, w - y0, x1)
    return (x0, y0, x1, y1)


def _scaled(lo: int, hi: int, scale: int, limit: int) -> tuple[int, int]:
    """A stored pixel range ``lo..hi`` on a 1/``scale`` decode of ``limit`` pixels: rounded half up, never empty."""
    a = min(limit - 1, (2 * lo + scale) // (2 * scale))
    return a, max(a + 1, min(limit, (2 * hi + scale) // (2 * scale)))


def orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an (H, W, ...) array stored with EXIF ``orientation`` upright, as ``ImageOps.exif_transpose`` does.

    Returns a view where it can.
    """
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a, 1)
    return a


_CV2 = None


def _opencv():
    """OpenCV, imported once, its own thread pool off: imgjobs' workers are the parallelism."""
    global _CV2
    if _CV2 is None:
        try:
            import cv2
        except ImportError as e:  # a core dependency: only a broken install lands here
            from rle import ImageError

            raise ImageError(
                f"the area and draft methods need OpenCV ({e}): pip install opencv-python-headless, "
                "or use --method exact"
            ) from None
        cv2.setNumThreads(1)
        _CV2 = cv2
    return _CV2


#: JPEG frame markers whose scans are Huffman-coded (baseline, extended, progressive): every 8x8 block
#: costs at least one bit, so a file shorter than its blocks / 8 bytes cannot hold the image it claims.
_HUFFMAN_FRAMES = (0xC0, 0xC1, 0xC2)


def _jpeg_frame(data) -> int | None:
    """The JPEG's frame marker (0xC0...0xCF), from a walk over its marker segments; None if not found."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        m = data[i + 1]
        if m == 0xFF:  # fill byte
            i += 1
            continue
        if m == 0x01 or 0xD0 <= m <= 0xD8:  # markers without a length
            i += 2
            continue
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            return m
        if m == 0xDA:  # a scan before any frame
            return None
        i += 2 + ((data[i + 2] << 8) | data[i + 3])
    return None


def check_jpeg_length(path, data, size) -> None:
    """Refuse (ImageError) a JPEG whose data is too short for the image its header claims.

    Before anything is allocated: a 300-byte file claiming 13000x13000 would
    otherwise cost gigabytes and decode to grey.
    """
    from rle import ImageError

    if _jpeg_frame(data) not in _HUFFMAN_FRAMES:
        return
    w, h = size
    blocks = -(-w // 8) * -(-h // 8)
    if len(data) * 8 < blocks:
        raise ImageError(
            f"{path}: damaged JPEG: its header claims {w}x{h} pixels, which needs at least {-(-blocks // 8):,} bytes "
            f"of data, and the file has {len(data):,} (cut short or forged)"
        )


def _decode_jpeg(path, data, scale: int, stored_wh):
    """Decode a JPEG with libjpeg-turbo (simplejpeg) at 1/``scale``, as RGB; strict: damage is an ImageError.

    Returns None for a JPEG it does not take (CMYK, YCCK): Pillow decodes those.
    A file libjpeg-turbo has to patch to decode (premature end, corrupt data,
    a bad Huffman code) fails with the decoder's reason, by name.
    """
    import simplejpeg

    from rle import ImageError

    try:
        _, _, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError as e:
        raise ImageError(f"{path}: damaged JPEG: {e}") from None
    if colorspace not in ("Gray", "YCbCr", "RGB"):
        return None
    w, h = stored_wh
    dw, dh = -(-w // scale), -(-h // scale)
    try:  # exactly 1/scale: at least that factor, and at least that size
        rgb = simplejpeg.decode_jpeg(data, "RGB", min_width=dw, min_height=dh, min_factor=scale, strict=True)
    except ValueError as e:
        raise ImageError(f"{path}: damaged JPEG: {e} (libjpeg-turbo could only guess the missing pixels)") from None
    if rgb.shape != (dh, dw, 3):
        raise ImageError(f"{path}: decoded as {rgb.shape[1]}x{rgb.shape[0]}, not {dw}x{dh} as its header says")
    return rgb


def to_rgb(im):
    """Return a true-RGB copy of a Pillow image of any mode.

    Greyscale goes to all three channels, palettes and CMYK through Pillow's
    conversions, alpha is dropped, 16-bit images (modes ``I;16`` and ``I``: a
    16-bit PNG and a 16-bit PGM holding the same values give the same pixels)
    keep their high byte, and float images are scaled from 0..1 (or clipped to 0..255).
    """
    from PIL import Image

    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        arr = np.asarray(im, dtype=np.uint16)
        return Image.fromarray((arr >> 8).astype(np.uint8), "L").convert("RGB")
    if mode == "I":  # 16-bit PGM/PPM/TIFF: the 16-bit range, exactly as I;16 above, whatever the values
        arr = np.clip(np.asarray(im, dtype=np.int64), 0, 65535) >> 8
        return Image.fromarray(arr.astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        scaled = np.clip(arr, 0.0, 1.0) * 255.0 if arr.max(initial=0) <= 1.0 else np.clip(arr, 0, 255)
        return Image.fromarray(np.rint(scaled).astype(np.uint8), "L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        return im.convert("RGBA").convert("RGB")
    return im.convert("RGB")


def read_input(path, stamp_mode: str = "stat") -> tuple[bytes, str]:
    """The bytes of an image file and its content stamp (:mod:`jobs.runtime.stamps`), from one open file.

    Raises :class:`rle.ImageError` for a file that is missing, not regular or unreadable.
    """
    from jobs.runtime.stamps import of_bytes
    from rle import ImageError, open_regular

    try:
        with open_regular(path) as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror or e}") from None
    return data, of_bytes(data, st, stamp_mode)


def _draft_fraction(value: float | None) -> float:
    """``value``, or ``imgjobs.resize.draft-fraction`` when it is None."""
    if value is not None:
        return value
    from jobs import config

    return config.get_float("resize.draft-fraction", low=0, high=1)


def load_rgb(
    path,
    size: tuple[int, int],
    method: str = "area",
    draft_fraction: float | None = None,
    max_pixels=None,
    *,
    data: bytes | None = None,
    fit: str = "stretch",
    pad_fill=(0, 0, 0),
) -> np.ndarray:
    """Decode an image file and resize it to ``size`` = (width, height).

    Parameters
    ----------
    path : str
        Any image Pillow reads; the format is found from the content.
    size : (int, int)
        Output width and height.
    method : {"area", "exact", "draft"}
        How to decode and resize (see :data:`METHODS`).
    draft_fraction : float, optional
        ``draft`` only: how small the reduced decode may be, as a fraction of
        ``size`` (see :func:`draft_scale`; default ``imgjobs.resize.draft-fraction``).
    max_pixels : int, optional
        Refuse images with more pixels (default :data:`rle.MAX_PIXELS`).
    data : bytes, optional
        The file's content, already read (:func:`read_input`).
    fit : {"stretch", "crop", "pad"}
        How an image of another shape fills ``size`` (see :func:`fit_geometry`).
    pad_fill : (int, int, int)
        ``pad`` only: the colour around the image.

    Returns
    -------
    numpy.ndarray
        (height, width, 3) uint8 (possibly a view).

    Raises
    ------
    rle.ImageError
        For a file that is not regular, not an image, or too large.
    Exception
        Whatever the decoder raises for a truncated or corrupt file; the batch
        tasks record any of them for that image.
    """
    from PIL import Image

    from rle import open_image

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if data is None:
        data, _ = read_input(path)
    with open_image(path, data=data, max_pixels=max_pixels) as im:
        orientation = im.getexif().get(0x0112, 1)  # read from the header, before decoding
        swaps = orientation in _SWAPS_AXES
        upright = im.size[::-1] if swaps else im.size
        box, inner, at = fit_geometry(upright, size, fit)
        whole = box == (0, 0, *upright)
        if im.format == "JPEG":
            check_jpeg_length(path, data, im.size)
        if im.format == "JPEG" and im.mode in ("RGB", "L"):
            if method == "exact":
                scale = 1
            else:  # the kept region, and what it becomes, in the stored orientation
                region = (box[3] - box[1], box[2] - box[0]) if swaps else (box[2] - box[0], box[3] - box[1])
                stored = inner[::-1] if swaps else inner
                margin = AREA_MARGIN if method == "area" else _draft_fraction(draft_fraction)
                scale = draft_scale(region, stored, margin)
            rgb = _decode_jpeg(path, data, scale, im.size)
            if rgb is not None:
                if method == "exact":
                    full = Image.fromarray(rgb, "RGB")
                    if orientation in _TRANSPOSE:
                        full = full.transpose(_TRANSPOSE[orientation])
                    resized = full.resize(inner, Image.Resampling.BICUBIC, box=None if whole else box)
                    return _place(np.asarray(resized), size, at, pad_fill)
                cv2 = _opencv()
                target = inner[::-1] if swaps else inner
                if not whole:  # the kept region, in the stored decode: its partial last DCT block stays at the end
                    x0, y0, x1, y1 = stored_box(box, orientation, im.size)
                    ya, yb = _scaled(y0, y1, scale, rgb.shape[0])
                    xa, xb = _scaled(x0, x1, scale, rgb.shape[1])
                    rgb = rgb[ya:yb, xa:xb]
                # resized in the stored orientation, then turned: the turn moves fewer pixels
                small = orient(cv2.resize(rgb, target, interpolation=cv2.INTER_AREA), orientation)
                return _place(small, size, at, pad_fill)
        im.load()
        if orientation in _TRANSPOSE:  # upright, as ImageOps.exif_transpose, without rewriting the EXIF block
            im = im.transpose(_TRANSPOSE[orientation])
        rgb = to_rgb(im)
        if method == "exact":
            small = np.asarray(rgb.resize(inner, Image.Resampling.BICUBIC, box=None if whole else box))
        else:
            x0, y0, x1, y1 = box
            small = _opencv().resize(np.asarray(rgb)[y0:y1, x0:x1], inner, interpolation=_opencv().INTER_AREA)
        return _place(small, size, at, pad_fill)


def load_with(opts, path, data: bytes | None = None) -> np.ndarray:
    """:func:`load_rgb` with a job's :class:`~jobs.resize_job.options.ResizeOptions`: every path's one image."""
    return load_rgb(
        path,
        opts.size,
        opts.method,
        opts.draft_fraction,
        opts.max_pixels,
        data=data,
        fit=opts.fit,
        pad_fill=opts.pad_fill,
    )


_LIBRARIES: dict | None = None


def pixel_libraries() -> dict:
    """The versions of what makes a batch's pixels in this process, as a sidecar records them.

    ``simplejpeg`` decodes JPEGs (its wheel carries its own libjpeg-turbo, so its
    version pins the decoder), ``opencv`` resizes (``area``, ``draft``),
    ``pillow`` and ``pillow-libjpeg`` decode other formats and CMYK JPEGs and
    resize ``exact``, ``numpy`` holds them, and ``imgjobs`` chooses scales and
    geometry.  The same versions give the same pixels; other versions may not.
    """
    global _LIBRARIES
    if _LIBRARIES is None:
        import PIL
        import simplejpeg
        from PIL import features

        import jobs

        _LIBRARIES = {
            "imgjobs": jobs.__version__,
            "numpy": np.__version__,
            "pillow": PIL.__version__,
            "pillow-libjpeg": str(features.version("jpg")),
            "simplejpeg": simplejpeg.__version__,
            "opencv": _opencv().__version__,
        }
    return dict(_LIBRARIES)


def library_changes(recorded, now: dict) -> list[str]:
    """``["pillow 12.0.0 -> 13.0.0", ...]``: where ``recorded`` library versions differ from ``now``."""
    if not isinstance(recorded, dict):
        return ["the library versions were not recorded"]
    return [f"{k} {recorded.get(k, '?')} -> {v}" for k, v in now.items() if recorded.get(k) != v]


def open_images(where, mode: Literal["r", "r+"] = "r"):
    """The batch being filled: a memory-mapped ``.npy`` or the zarr group's ``images`` array."""
    if where.zarr:
        import zarr

        return zarr.open_array(where.target, path="images", mode=mode)
    return np.load(where.target, mmap_mode=mode)


def create_output(where, kept: tuple = ()) -> int:
    """Create the empty batch in the work folder (or keep an unfinished one); return where a ``.npy``'s data starts.

    The first task of a resize graph, run holding the output's lock alone.  It
    first checks the output is as planned (:class:`~jobs.errors.StalePlan` if not:
    a graph computed twice, or after another run wrote there): what is at
    ``out`` has not changed, and a resumed work folder still belongs to the run
    it resumes.  A fresh run then clears what another run left in the work folder
    (only the entries imgjobs writes there).  A ``.npy`` is created at its full
    size, sparse (unwritten slots read as zero); a zarr group gets an ``images``
    array with chunks of ``where.batch`` images, so each task writes whole chunks
    of its own and no two tasks ever write one chunk.  Reopening a finished batch
    (``where.reopen``) records its current slices (``kept``) as done and moves it
    back into the work folder.  ``plan.json`` records what the folder holds and for which run.

    Idempotent within a run: Dask may run it again (its result lived on a worker
    that left) after fill tasks wrote their slices, so once ``plan.json`` names
    this run it never truncates or replaces what is there.  Returns 0 for zarr.
    """
    import json

    from jobs.errors import StalePlan
    from jobs.resize_job import state

    recorded = state.read_plan(where.plan_file)
    mine = recorded is not None and recorded["token"] == where.token and recorded["identity"] == where.identity
    if not mine:
        if state.out_stamp(where.out) != where.expect_out:
            raise StalePlan(
                f"{where.out} changed since this job was planned (another run wrote it, or this graph was computed "
                "before): plan the job again"
            )
        if not where.fresh:
            raise StalePlan(f"{where.work} no longer holds the interrupted run this job resumes: plan the job again")
        state.remove_work(where.work)  # only what imgjobs writes there; anything else: refused, nothing removed
    os.makedirs(where.done_dir, exist_ok=True)
    w, h = where.size
    shape = (where.n, h, w, 3)
    if not mine:
        plan = {"token": where.token, "identity": where.identity, "n": where.n, "size": list(where.size)}
        plan["chunk"] = where.batch if where.chunked else None
        plan["labels"] = where.labels_id
        state.write_small(where.plan_file, json.dumps(plan))
        if where.reopen:
            for d in kept:
                state.write_done(where.done_dir, where.token, where.identity, d)
    if where.reopen and not os.path.lexists(where.target) and os.path.lexists(where.out):
        problem = state.batch_problem(where.out, shape, False, where.batch if where.chunked else None)
        if problem or os.path.islink(where.out):
            raise StalePlan(f"{where.out} is not the batch this job planned to reopen ({problem or 'a link'})")
        os.replace(where.out, where.target)  # last: a run killed before this reopens it again
    if where.wds:
        os.makedirs(where.target, exist_ok=True)  # one shard per task, each renamed into place whole
        return 0
    if where.zarr:
        import zarr

        group = zarr.open_group(where.target, mode="a")
        if "images" in group:
            images = group["images"]
            if not isinstance(images, zarr.Array) or images.shape != shape or images.chunks[0] != where.batch:
                raise StalePlan(f"{where.target}: an array of another shape is already there: plan the job again")
        else:
            group.create_array(
                "images",
                shape=shape,
                chunks=(where.batch, h, w, 3),
                dtype="uint8",
                fill_value=0,
                dimension_names=DIMENSIONS,  # what xarray.open_zarr names the axes
            )
        return 0
    head = state.npy_header(shape)
    size = len(head) + where.n * h * w * 3
    try:
        fd = os.open(where.target, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            if where.reopen and os.pread(fd, len(head), 0) != head:
                raise StalePlan(f"{where.target}: not the .npy header imgjobs writes: rebuild it with --overwrite")
            if os.fstat(fd).st_size not in (0, size) and not mine:
                os.ftruncate(fd, 0)
            os.pwrite(fd, head, 0)
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
        finally:
            os.close(fd)
    except OSError as e:  # a full disk or a quota: say where
        raise OSError(e.errno, f"cannot create the batch {where.target} ({size:,} bytes): {e.strerror}") from None
    return len(head)


def _load_into(dest: np.ndarray, paths, opts, outcomes) -> list[str]:
    """Load ``paths`` into ``dest``; return each file's stamp as it was read (:data:`~jobs.runtime.stamps.MISSING`)."""
    from jobs.runtime.files import failure
    from jobs.runtime.stamps import MISSING

    seen = []
    for i, path in enumerate(paths):
        stamp = MISSING
        try:
            data, stamp = read_input(path, opts.stamps)
            dest[i] = load_with(opts, path, data)
        except Exception as e:  # any failure of one image fails that image, by name; the batch goes on
            dest[i] = 0
            outcomes.fail(i, failure(path, e))
        seen.append(stamp)
    return seen


def load_block(paths, opts, errors: str = "raise") -> np.ndarray:
    """Load ``paths`` into one (len(paths), H, W, 3) uint8 block: a chunk of :func:`jobs.resize_array`.

    ``errors="raise"`` lets the first failure through (it names the file);
    ``"zero"`` leaves a failed image's slot zero.
    """
    from jobs.runtime.report import Outcomes

    outcomes = Outcomes(paths)
    block = np.zeros((len(paths), opts.size[1], opts.size[0], 3), dtype=np.uint8)
    _load_into(block, paths, opts, outcomes)
    if errors == "raise":
        for problem in outcomes.problems():
            from rle import ImageError

            raise ImageError(problem.reason)
    return block


def _record_done(where, start: int, outcomes, seen: list) -> None:
    """Record a durable slice as finished: ``done/<start>-<stop>.json`` with its stamps and failures."""
    from jobs.resize_job import state

    record = state.Done.of(start, outcomes, seen, pixel_libraries())
    state.write_done(where.done_dir, where.token, where.identity, record)


def fill(where, offset: int, start: int, paths, opts, labels=None):
    """Load ``paths`` into slots ``start..`` of the batch; make them durable, record them done; return outcomes.

    A shard output's slice is its own tar shard, written through a temporary
    and renamed whole (:func:`jobs.resize_job.shards.write_shard`).  A ``.npy``
    slice is written with ``pwrite`` at its own offset (data at byte ``offset``)
    and ``fdatasync``-ed: tasks never overlap, a rerun writes the same bytes,
    and it works on shared file systems where a memory map written from several
    nodes would not be coherent.  A zarr slice is whole chunks of its
    own, flushed with its file system.  Only then is the slice recorded in
    ``done/``, so a resumed run never skips a slice that is not on disk.  A failed
    image leaves its slot zero.  Before it writes, it checks the work folder
    still belongs to its run (:class:`~jobs.errors.StalePlan` if not).

    Parameters
    ----------
    where : jobs.resize_job.target.ResizeTarget
        The batch.
    offset : int
        What :func:`create_output` returned.
    start : int
        Index of the first image.
    paths : sequence of str
        The images.
    opts : jobs.resize_job.options.ResizeOptions
        Size and resize mode.
    labels : list of int, optional
        A shard output's labels for these images (its samples' ``.cls``).

    Returns
    -------
    jobs.runtime.report.Outcomes
    """
    from jobs.runtime.files import flush_file_system
    from jobs.runtime.report import Outcomes

    outcomes = Outcomes(paths)
    size = opts.size
    block = np.zeros((len(paths), size[1], size[0], 3), dtype=np.uint8)
    seen = _load_into(block, paths, opts, outcomes)
    where.check_owner()
    if where.wds:  # a shard of its own, written whole (see jobs.resize_job.shards)
        from jobs.resize_job import shards

        ok = (outcomes.status != 2).tolist()
        shards.write_shard(where.shard_path(start), start, where.n, block, ok, labels, opts.sample_format)
        _record_done(where, start, outcomes, seen)
        return outcomes
    if where.zarr:
        open_images(where, "r+")[start : start + len(paths)] = block
        flush_file_system(where.target)
        _record_done(where, start, outcomes, seen)
        return outcomes
    data = memoryview(block).cast("B")  # type: ignore[arg-type]  # numpy arrays are buffers
    pos = offset + start * size[0] * size[1] * 3
    try:
        fd = os.open(where.target, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            while data:
                n = os.pwrite(fd, data, pos)
                data, pos = data[n:], pos + n
            os.fdatasync(fd)
        finally:
            os.close(fd)
    except OSError as e:  # a full disk fails the batch: say where
        raise OSError(e.errno, f"cannot write images {start}.. into {where.target}: {e.strerror}") from None
    _record_done(where, start, outcomes, seen)
    return outcomes
