"""The version of the imgjobs distribution (``jobs`` and ``rle``): the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``jobs.__version__``
re-exports it, and a batch's sidecar records it with the libraries that made its pixels.
"""

#: 0.2: fits, shards, area decodes at >= 4x (other pixels than 0.1 on large photos).
#: 0.4: area enlarges with Lanczos interpolation, and antialiases a side it shrinks while the other grows
#: (other pixels than 0.3 there; where both sides shrink, the same).
__version__ = "0.4.0"
