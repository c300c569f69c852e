"""Progress of a running job, drawn with tqdm: the work that moves (bytes or images), files, rate and ETA.

The bar counts work, not only files: a job may count the bytes of its input
files, and a row-block task of a large file moves the bar as soon as it ends, so
one huge image moves it too; a job may count images instead.  It draws on a
terminal and in Jupyter (``tqdm.auto``), and stays quiet when the output is not
interactive (a batch job's log) unless asked.
"""

from __future__ import annotations

import functools
import importlib.util
import sys

from jobs import config

__all__ = ["Progress", "bar_class", "interactive"]


@functools.lru_cache(maxsize=1)
def bar_class():
    """tqdm's bar for this terminal or notebook (``tqdm.auto``), without its monitor thread.

    The monitor is tqdm's watchdog for bars updated rarely; imgjobs' bars move
    as tasks end.  Without it, a command that shows a bar still runs a single
    thread, so its worker processes can be forked (:mod:`jobs.runtime.pools`).

    In Jupyter, tqdm's widget bar needs ipywidgets; without it tqdm warns
    ("TqdmWarning: IProgress not found") on every bar and prints text anyway, so
    there the plain text bar is chosen to begin with.
    """
    if importlib.util.find_spec("ipywidgets") is None:
        from tqdm import tqdm  # start-up: tqdm (~10 ms), paid only when a bar is drawn
    else:
        from tqdm.auto import tqdm  # start-up: tqdm.auto costs ~0.1 s, paid only when a bar is drawn

    return type("ImgjobsBar", (tqdm,), {"monitor_interval": 0})


def interactive(stream=None) -> bool:
    """True on a terminal or in a Jupyter kernel."""
    stream = stream if stream is not None else sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return True
    return "ipykernel" in sys.modules


class Progress:
    """A job's progress bar and its notes (the dashboard link), for :func:`jobs.runtime.engine.execute`.

    Parameters
    ----------
    enabled : bool, optional
        Draw the bar.  None: ``imgjobs.progress`` from config, and only when
        :func:`interactive`.
    dashboard : bool
        Say where the Dask dashboard is when the job runs on a distributed scheduler.
    stream : file, optional
        Where to write (standard error).
    """

    def __init__(self, enabled: bool | None = None, *, dashboard: bool = True, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = config.get_bool("progress") and interactive(self.stream)
        self.enabled = bool(enabled)
        self.dashboard = dashboard
        self.units = 0
        self.files = 0
        self.nfiles = 0
        self._bar = None

    def note(self, text: str) -> None:
        """Print a line for people (above the bar when one is drawn)."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def start(self, label: str, total: int, unit: str, nfiles: int, *, dashboard_link=None, tunnel=None) -> None:
        """Begin: ``total`` units of work (``unit`` ``"B"`` for bytes, or ``"image"``) over ``nfiles`` files."""
        self.units = self.files = 0
        self.nfiles = nfiles
        if self.dashboard and dashboard_link:
            self.note(f"Dask dashboard: {dashboard_link}")
            if tunnel:
                self.note(f"  {tunnel}")
        if not self.enabled or not total:
            return
        scaled = unit == "B"
        self._bar = bar_class()(
            total=total,
            desc=label,
            unit=unit,
            unit_scale=scaled,
            unit_divisor=1000,
            file=self.stream,
            dynamic_ncols=True,
            mininterval=0.1,
            leave=True,
            postfix=f"0/{nfiles} files" if scaled else None,
        )

    def update(self, units: int, files: int = 0) -> None:
        """Count ``units`` more work and ``files`` more files done."""
        self.units += units
        self.files += files
        if self._bar is not None:
            if files and self._bar.unit == "B":
                self._bar.set_postfix_str(f"{self.files}/{self.nfiles} files", refresh=False)
            self._bar.update(units)

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
