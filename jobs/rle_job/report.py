"""The RLE jobs' report: the files, and the pixels and bytes they came to."""

from __future__ import annotations

from jobs.runtime.report import Report, size_text

__all__ = ["RleReport"]


class RleReport(Report):
    """What ``compress``, ``decompress`` or ``verify`` did: a :class:`~jobs.runtime.report.Report` whose
    summary gives the pixels processed, the speed in MPixel/s and the compression ratio."""

    def summary(self) -> str:
        """A paragraph for people: files, pixels, bytes, ratio, time and speed."""
        lines = [self.counts_line(), *self.skipped_lines()]
        pixels, seconds = self.pixels, self.seconds
        if not pixels:
            lines.append(f"  {seconds:.2f} s")
            return "\n".join(lines) + self.mirror_line()
        mpx = pixels / 1e6
        speed = mpx / seconds if seconds > 0 else float("inf")
        line = f"  {mpx:.1f} MPixel in {seconds:.2f} s = {speed:.0f} MPixel/s"
        bytes_in, bytes_out = self.bytes_in, self.bytes_out
        if bytes_out:
            line += f"; {size_text(bytes_in)} in, {size_text(bytes_out)} out (ratio {bytes_in / bytes_out:.1f}x)"
        lines.append(line)
        return "\n".join(lines) + self.mirror_line()
