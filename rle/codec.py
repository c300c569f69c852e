"""The classic ``.rle`` run-length format for 1-bit images: its constants, header and length rule.

Format (byte-compatible with the classic case-study tool):

* header: width then height, unsigned 16-bit little-endian (4 bytes), each 1..65535;
* rows top to bottom; each row is cut into chunks of 127 pixels (the last one shorter);
* inside a chunk every run of equal pixels is one byte ``(colour << 7) | length``
  with ``length`` in 1..127 and ``colour`` 1 for white, 0 for black; a run never
  crosses a chunk or a row boundary.

The encoder (:mod:`rle.encoder`) and decoder (:mod:`rle.decoder`) are
vectorised numpy on packed bits (no per-pixel Python).  The encoder lays every
127-pixel chunk into a 128-bit slot, so a run start's chunk and offset are a
shift and a mask away, finds run starts with one XOR over the slots and
extracts them from the non-zero bytes only.  The decoder validates the whole
stream before it allocates the image.
"""

from __future__ import annotations

__all__ = ["CHUNK", "HEADER_SIZE", "MAX_SIDE", "FormatError", "check_length", "header", "read_header"]

#: Pixels per chunk: a run never crosses a multiple of 127 within a row.
CHUNK = 127
#: Bytes in the header (width, height as ``<u2``).
HEADER_SIZE = 4
#: Largest width or height the header can hold.
MAX_SIDE = 65535


class FormatError(ValueError):
    """A byte string is not a valid ``.rle`` stream; the message says what and where."""


def header(width: int, height: int) -> bytes:
    """Return the 4-byte header for an image of ``width`` x ``height`` pixels.

    Raises
    ------
    ValueError
        If a side is outside 1..65535, which the format cannot store.
    """
    for name, side in (("width", width), ("height", height)):
        if not 1 <= side <= MAX_SIDE:
            raise ValueError(
                f"image {name} {side} is outside 1..{MAX_SIDE}, which the .rle header "
                "(two unsigned 16-bit integers) cannot store"
            )
    return int(width).to_bytes(2, "little") + int(height).to_bytes(2, "little")


def read_header(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Return ``(width, height)`` from the first 4 bytes of an ``.rle`` stream.

    Raises
    ------
    FormatError
        If fewer than 4 bytes are given or a side is 0.
    """
    if len(data) < HEADER_SIZE:
        raise FormatError(f"truncated header: an .rle file starts with 4 bytes (width, height), got {len(data)}")
    width = int.from_bytes(bytes(data[0:2]), "little")
    height = int.from_bytes(bytes(data[2:4]), "little")
    if width == 0 or height == 0:
        raise FormatError(f"header claims a {width}x{height} image: width and height must be 1..65535")
    return width, height


def check_length(width: int, height: int, nruns: int, *, base: int = HEADER_SIZE) -> None:
    """Check that ``nruns`` run bytes can describe a ``width`` x ``height`` image at all.

    Every run byte covers 1..127 pixels of one chunk, so a valid stream holds
    between ``height * ceil(width / 127)`` and ``width * height`` run bytes.  This
    needs only the header and the file's size, so a file that lies about its
    size fails before anything is read or planned from its claim.

    Parameters
    ----------
    width, height : int
        What the header claims.
    nruns : int
        Run bytes the stream holds (a file's size minus the 4-byte header).
    base : int, optional
        Byte offset of the first run byte, used in the message.

    Raises
    ------
    FormatError
        When the stream is too short or too long for the claim.

    Examples
    --------
    >>> check_length(65535, 65535, 6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rle.codec.FormatError: truncated: 6 run bytes cannot describe a 65535x65535 image (each row needs at least 517 ...
    """
    npix = width * height
    cpr = -(-width // CHUNK)
    if nruns > npix:
        raise FormatError(
            f"{nruns} run bytes for {npix} pixels ({width}x{height}): every run byte covers at "
            f"least one pixel, so there are trailing bytes (from byte offset {base + npix})"
        )
    if nruns < height * cpr:
        raise FormatError(
            f"truncated: {nruns} run bytes cannot describe a {width}x{height} image (each row needs at "
            f"least {cpr} run bytes); data is missing after byte offset {base + nruns}"
        )
