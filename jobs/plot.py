"""A small line plot drawn with Pillow (no plotting library needed): throughput against workers."""

from __future__ import annotations

import itertools
import math

__all__ = ["line_plot"]

_COLOURS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def _nice_ticks(high: float, count: int = 5) -> list[float]:
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(math.ceil(high / step) + 1)]


def _dashed(draw, p0, p1, fill, width=2, dash=10):
    (x0, y0), (x1, y1) = p0, p1
    length = math.hypot(x1 - x0, y1 - y0)
    n = max(1, int(length // dash))
    for i in range(0, n, 2):
        a, b = i / n, min(1.0, (i + 1) / n)
        draw.line(
            (x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b), fill=fill, width=width
        )


def line_plot(path, series, *, title: str, xlabel: str, ylabel: str, ideal=None, size=(960, 600)) -> None:
    """Draw lines with markers and save a PNG.

    Parameters
    ----------
    path : str
        Output PNG.
    series : list of (label, xs, ys)
        One line each.
    title, xlabel, ylabel : str
        Text around the axes.
    ideal : (label, xs, ys), optional
        Drawn dashed grey (ideal scaling).
    size : (int, int)
        Image size in pixels.
    """
    from PIL import Image, ImageDraw, ImageFont

    width, height = size
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=13)
    left, right, top, bottom = 90, 30, 50, 70
    allx = [x for _, xs, _ in series for x in xs] + (list(ideal[1]) if ideal else [])
    ally = [y for _, _, ys in series for y in ys] + (list(ideal[2]) if ideal else [])
    xmin, xmax = (min(allx), max(allx)) if allx else (0, 1)
    if xmax == xmin:
        xmin, xmax = xmin - 1, xmax + 1
    yticks = _nice_ticks(max(ally) * 1.05 if ally else 1.0)
    ymax = yticks[-1]

    def px(x, y):
        return (
            left + (x - xmin) / (xmax - xmin) * (width - left - right),
            height - bottom - y / ymax * (height - top - bottom),
        )

    for t in yticks:
        _, yy = px(xmin, t)
        draw.line((left, yy, width - right, yy), fill=(225, 225, 225))
        label = f"{t:,.0f}" if ymax >= 10 else f"{t:g}"
        draw.text((left - 8, yy), label, fill="black", font=small, anchor="rm")
    for x in sorted(set(allx)):
        xx, _ = px(x, 0)
        draw.line((xx, top, xx, height - bottom), fill=(240, 240, 240))
        draw.text((xx, height - bottom + 8), f"{x:g}", fill="black", font=small, anchor="mt")
    draw.rectangle((left, top, width - right, height - bottom), outline="black")
    draw.text((width / 2, 15), title, fill="black", font=font, anchor="mt")
    draw.text((width / 2, height - 22), xlabel, fill="black", font=font, anchor="mb")
    label_im = Image.new("RGB", (height, 24), "white")
    ImageDraw.Draw(label_im).text((height / 2, 12), ylabel, fill="black", font=font, anchor="mm")
    im.paste(label_im.rotate(90, expand=True), (8, 0))

    entries = []
    if ideal:
        pts = [px(x, y) for x, y in zip(ideal[1], ideal[2], strict=True)]
        for a, b in itertools.pairwise(pts):
            _dashed(draw, a, b, (120, 120, 120))
        entries.append((ideal[0], (120, 120, 120), True))
    for k, (label, xs, ys) in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        pts = [px(x, y) for x, y in sorted(zip(xs, ys, strict=True))]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=3)
        for x, y in pts:
            draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=colour)
        entries.append((label, colour, False))
    lx, ly = left + 12, top + 10
    for label, colour, dashed in entries:
        if dashed:
            _dashed(draw, (lx, ly + 8), (lx + 30, ly + 8), colour, dash=6)
        else:
            draw.line((lx, ly + 8, lx + 30, ly + 8), fill=colour, width=3)
        draw.text((lx + 38, ly + 8), label, fill="black", font=small, anchor="lm")
        ly += 20
    im.save(path)
