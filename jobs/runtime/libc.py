"""Linux system calls that Python's :mod:`os` lacks, called through libc with :mod:`ctypes`.

``syncfs``, ``renameat2``, ``prctl`` and ``sync_file_range``: each found on first use,
and None on other systems (or an older libc), where its caller does without.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["linux_call"]


@functools.cache
def linux_call(name: str, *argtypes: Any) -> Callable[..., int] | None:
    """libc's function ``name`` with ``argtypes`` (none: variadic, as ``prctl``), returning an ``int`` and
    keeping ``errno`` for :func:`ctypes.get_errno`; None where it is not there."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    if argtypes:
        fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return fn
