"""``rle``: the classic ``.rle`` run-length codec for 1-bit images.

A pure codec: numpy, Pillow and the standard library, no Dask.  Graph builders
and schedulers live in :mod:`jobs`.

>>> import numpy as np, rle
>>> data = rle.encode(np.array([[1, 1, 0]], dtype=bool))
>>> data.hex()
'030001008201'
>>> rle.decode(data)
array([[1, 1, 0]], dtype=uint8)
"""

from .bmp import NeedsWholeImage
from .bmpwriter import write_bmp
from .codec import CHUNK, HEADER_SIZE, MAX_SIDE, FormatError, check_length, header, read_header
from .decoder import decode, decode_runs, row_offsets
from .encoder import encode, encode_packed_blocks, encode_packed_runs, encode_runs
from .imageio import (
    MAX_PIXELS,
    ImageError,
    ImageInfo,
    PackedFile,
    open_image,
    open_regular,
    probe,
    read_packed,
    read_packed_file,
    read_packed_image,
    read_packed_rows,
    read_pixels,
)

__all__ = [
    "CHUNK",
    "HEADER_SIZE",
    "MAX_PIXELS",
    "MAX_SIDE",
    "FormatError",
    "ImageError",
    "ImageInfo",
    "NeedsWholeImage",
    "PackedFile",
    "check_length",
    "decode",
    "decode_runs",
    "encode",
    "encode_packed_blocks",
    "encode_packed_runs",
    "encode_runs",
    "header",
    "open_image",
    "open_regular",
    "probe",
    "read_header",
    "read_packed",
    "read_packed_file",
    "read_packed_image",
    "read_packed_rows",
    "read_pixels",
    "row_offsets",
    "write_bmp",
]


def __getattr__(name: str):
    # The distribution's version, written once (jobs/version.py, read by the packaging): the
    # codec does not import jobs, so it asks the installed metadata, and only when asked.
    if name == "__version__":
        from importlib.metadata import version  # start-up: importlib.metadata (~30 ms), only when asked

        return version("imgjobs")
    raise AttributeError(f"module 'rle' has no attribute {name!r}")
