"""Throughput studies: a job under many configurations -> a table, fits, warnings and figures.

The sweep, its configurations, fits and tables are in :mod:`~jobs.study.core`;
the matplotlib figures (the ``plot`` extra) in :mod:`~jobs.study.figures`.
"""

from jobs.study.core import *  # noqa: F403 - the public names of the study, listed once in core.__all__
from jobs.study.core import __all__  # noqa: F401
