"""Decoding one image for the resize job: by content, strictly, EXIF orientation applied, true RGB, resized.

:func:`load_rgb` turns one image file into an (H, W, 3) uint8 array: decoded by
content (not by extension), EXIF orientation applied, any mode made true RGB,
then resized by one of three methods:

``area`` (the default)
    JPEGs decoded by libjpeg-turbo at full scale, or at a reduced DCT
    scale only while that decode is still at least four times the output in
    both directions (:data:`~jobs.resize_job.geometry.AREA_MARGIN`), then resized
    with OpenCV's area filter (``INTER_AREA``).  The quality of OpenCV's plain
    full-decode path, at its speed or better.
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
broken file fails with Pillow's reason.  Where each pixel goes is
:mod:`~jobs.resize_job.geometry`'s.
"""

from __future__ import annotations

import os

import numpy as np
import simplejpeg
from PIL import Image

from jobs import config
from jobs.resize_job.geometry import (
    AREA_MARGIN,
    SWAPS_AXES,
    TRANSPOSE,
    antialias_sigmas,
    draft_scale,
    fit_geometry,
    orient,
    place,
    resize_filter,
    scaled,
    stored_box,
)
from jobs.resize_job.options import METHODS
from jobs.runtime.stamps import of_bytes, of_read
from jobs.runtime.storage import MAX_OBJECT_BYTES, Storage, is_http, is_url, read_object
from rle import ImageError, open_image, open_regular

__all__ = ["check_jpeg_length", "load_rgb", "load_with", "opencv", "read_input", "shrink", "to_rgb"]


_CV2 = None


def opencv():
    """OpenCV, imported once, its own thread pool off: imgjobs' workers are the parallelism."""
    global _CV2
    if _CV2 is None:
        try:
            import cv2  # start-up: OpenCV costs ~0.1 s; a worker that runs no area resize never pays it
        except ImportError as e:  # a core dependency: only a broken install lands here
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


def read_input(path, stamp_mode: str = "stat", storage: Storage | None = None) -> tuple[bytes, str]:
    """The bytes of an image file and its content stamp (:mod:`jobs.runtime.stamps`), from one open file.

    A URL is read through fsspec with ``storage``'s options (:func:`jobs.runtime.storage.read_object`:
    at most :data:`~jobs.runtime.storage.MAX_OBJECT_BYTES`, its stamp asked first).  Raises
    :class:`rle.ImageError` for a file that is missing, not regular or unreadable, naming it and why.
    """
    if is_url(path):
        try:
            data, size, version = read_object(path, storage, MAX_OBJECT_BYTES)
        except Exception as e:  # the back end's own errors too: missing, denied, unreachable, cut short
            raise ImageError(f"{path}: cannot read: {(storage or Storage()).scrub(_reason(e, path))}") from None
        return data, of_read(data, size, version, stamp_mode)
    try:
        with open_regular(path) as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except OSError as e:
        raise ImageError(f"{path}: cannot read: {e.strerror or e}") from None
    return data, of_bytes(data, st, stamp_mode)


def _reason(e: BaseException, url: str) -> str:
    """Why a read failed, for a message: the error's own words, with its kind when they are only a name."""
    text = str(e.args[1] if isinstance(e, OSError) and len(e.args) == 2 and isinstance(e.args[1], str) else e)
    if isinstance(e, FileNotFoundError) and is_http(url):  # fsspec's HTTP says this of any status but 200
        return "the server did not send it (no such file, or refused: a status other than 200)"
    if isinstance(e, FileNotFoundError):
        return f"no such object ({text})" if text else "no such object"
    return f"{type(e).__name__}: {text}" if not isinstance(e, OSError) else text or type(e).__name__


def _draft_fraction(value: float | None) -> float:
    """``value``, or ``imgjobs.resize.draft-fraction`` when it is None."""
    if value is not None:
        return value
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
        How to decode and resize (see :mod:`jobs.resize_job.decode`).
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
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if data is None:
        data, _ = read_input(path)
    with open_image(path, data=data, max_pixels=max_pixels) as im:
        orientation = im.getexif().get(0x0112, 1)  # read from the header, before decoding
        swaps = orientation in SWAPS_AXES
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
                    if orientation in TRANSPOSE:
                        full = full.transpose(TRANSPOSE[orientation])
                    resized = full.resize(inner, Image.Resampling.BICUBIC, box=None if whole else box)
                    return place(np.asarray(resized), size, at, pad_fill)
                target = inner[::-1] if swaps else inner
                if not whole:  # the kept region, in the stored decode: its partial last DCT block stays at the end
                    x0, y0, x1, y1 = stored_box(box, orientation, im.size)
                    ya, yb = scaled(y0, y1, scale, rgb.shape[0])
                    xa, xb = scaled(x0, x1, scale, rgb.shape[1])
                    rgb = rgb[ya:yb, xa:xb]
                # resized in the stored orientation, then turned: the turn moves fewer pixels
                small = orient(shrink(rgb, target, method), orientation)
                return place(small, size, at, pad_fill)
        im.load()
        if orientation in TRANSPOSE:  # upright, as ImageOps.exif_transpose, without rewriting the EXIF block
            im = im.transpose(TRANSPOSE[orientation])
        rgb = to_rgb(im)
        if method == "exact":
            small = np.asarray(rgb.resize(inner, Image.Resampling.BICUBIC, box=None if whole else box))
        else:
            x0, y0, x1, y1 = box
            small = shrink(np.asarray(rgb)[y0:y1, x0:x1], inner, method)
        return place(small, size, at, pad_fill)


def shrink(rgb: np.ndarray, target, method: str = "area") -> np.ndarray:
    """Resize an (H, W, 3) uint8 region to ``target`` (width, height), for ``area`` and ``draft``.

    The filter :func:`~jobs.resize_job.geometry.resize_filter` picks by how each
    axis changes: OpenCV's area filter to shrink (always, for ``draft``), Lanczos
    interpolation to enlarge, and a Gaussian blur of the shrinking axis then
    bicubic interpolation where one axis shrinks and the other grows.
    """
    cv2 = opencv()
    target = (int(target[0]), int(target[1]))
    how = "area" if method == "draft" else resize_filter((rgb.shape[1], rgb.shape[0]), target)
    if how == "area":
        return cv2.resize(rgb, target, interpolation=cv2.INTER_AREA)
    if how == "interpolate":
        return cv2.resize(rgb, target, interpolation=cv2.INTER_LANCZOS4)
    sx, sy = antialias_sigmas((rgb.shape[1], rgb.shape[0]), target)
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigmaX=max(sx, 1e-3), sigmaY=max(sy, 1e-3))
    return cv2.resize(blurred, target, interpolation=cv2.INTER_CUBIC)


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
