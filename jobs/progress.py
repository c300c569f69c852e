"""A small text progress bar and the end-of-job summary."""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar", "summarize"]


class ProgressBar:
    """A one-line progress bar, drawn only on a terminal.

    Parameters
    ----------
    total : int
        Units of work (files).
    label : str
        Shown before the bar.
    enabled : bool
        Draw at all; it is also off when ``stream`` is not a terminal.
    stream : file, optional
        Where to draw (standard error).
    """

    def __init__(self, total: int, label: str, *, enabled: bool = True, stream=None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        self.total = max(0, total)
        self.label = label
        self.width = width
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(enabled and self.total and isatty())

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done and redraw (at most 10 times a second)."""
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last >= 0.1 or self.done >= self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(1.0, self.done / self.total) if self.total else 1.0
        filled = round(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} files {frac:4.0%} {now - self.start:6.1f}s")
        self.stream.flush()

    def close(self) -> None:
        """Finish the line."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def summarize(job: str, results, seconds: float) -> str:
    """One paragraph for the end of a job: files, pixels, bytes, ratio, time and speed.

    Parameters
    ----------
    job : str
        The job's name.
    results : list of FileResult
        Every file's outcome.
    seconds : float
        Wall time of the job.
    """
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    processed = [r for r in results if r.status == "ok" or r.status == "mismatch"]
    pixels = sum(r.pixels for r in processed)
    bytes_in = sum(r.bytes_in for r in processed)
    bytes_out = sum(r.bytes_out for r in processed)
    parts = ", ".join(f"{counts[k]} {k}" for k in ("ok", "mismatch", "skipped", "failed") if counts.get(k))
    lines = [f"{job}: {len(results)} file(s): {parts or 'nothing to do'}"]
    if pixels:
        mpx = pixels / 1e6
        speed = mpx / seconds if seconds > 0 else float("inf")
        line = f"  {mpx:.1f} MPixel in {seconds:.2f} s = {speed:.0f} MPixel/s"
        if bytes_out:
            ratio = bytes_in / bytes_out
            line += f"; {_size(bytes_in)} in, {_size(bytes_out)} out (ratio {ratio:.1f}x)"
        lines.append(line)
    else:
        lines.append(f"  {seconds:.2f} s")
    return "\n".join(lines)
