"""The .rle codec against a plain reference encoder, round trips, and every corrupt input."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import rle
from conftest import blobs, reference_encode

EDGE_WIDTHS = [1, 2, 126, 127, 128, 254, 255, 381]


@pytest.mark.parametrize("width", EDGE_WIDTHS)
@pytest.mark.parametrize("height", [1, 3])
@pytest.mark.parametrize("kind", ["random", "white", "black", "blobs"])
def test_matches_reference_encoder(width, height, kind, rng):
    if kind == "random":
        px = (rng.random((height, width)) < 0.5).astype(np.uint8)
    elif kind == "white":
        px = np.ones((height, width), np.uint8)
    elif kind == "black":
        px = np.zeros((height, width), np.uint8)
    else:
        px = blobs(rng, height, width)
    data = rle.encode(px)
    assert data == reference_encode(px)
    np.testing.assert_array_equal(rle.decode(data), px)


def test_known_bytes():
    # 3 white then 1 black: (1 << 7) | 3, then (0 << 7) | 1
    assert rle.encode(np.array([[1, 1, 1, 0]], bool)) == bytes([4, 0, 1, 0, 0x83, 0x01])
    # a white row of 200: a full chunk of 127 and a chunk of 73, never one run of 200
    assert rle.encode(np.ones((1, 200), np.uint8))[4:] == bytes([0xFF, 0x80 | 73])


def test_accepts_bool_and_any_nonzero_as_white():
    px = np.array([[0, 5, 255, 0]], np.uint8)
    assert rle.encode(px) == rle.encode(px.astype(bool)) == rle.encode(np.array([[0, 1, 1, 0]]))


@settings(max_examples=150, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 400)), elements=st.integers(0, 1)))
def test_roundtrip_property(px):
    data = rle.encode(px)
    assert rle.read_header(data) == (px.shape[1], px.shape[0])
    np.testing.assert_array_equal(rle.decode(data), px)
    assert data == reference_encode(px)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 600), st.integers(2, 40), st.integers(0, 2**32 - 1), st.data())
def test_row_blocks_concatenate(width, height, seed, data):
    px = blobs(np.random.default_rng(seed), height, width)
    cut = data.draw(st.integers(1, height - 1))
    whole = rle.encode_runs(px)
    assert rle.encode_runs(px[:cut]) + rle.encode_runs(px[cut:]) == whole
    # padded rows (as a 1-bit BMP stores them) give the same runs
    padded = np.packbits(px, axis=1)
    assert rle.encode_packed_runs(padded, width, height, 8 * padded.shape[1]) == whole
    offsets = rle.row_offsets(rle.encode(px), [0, cut, height])
    assert offsets[1] - offsets[0] == len(rle.encode_runs(px[:cut]))
    assert offsets[2] == 4 + len(whole)


def test_decode_into_out():
    px = blobs(np.random.default_rng(0), 5, 300)
    out = np.empty((5, 300), np.uint8)
    assert rle.decode(rle.encode(px), out=out) is out
    np.testing.assert_array_equal(out, px)
    with pytest.raises(ValueError, match="out must be"):
        rle.decode(rle.encode(px), out=np.empty((4, 300), np.uint8))


@pytest.mark.parametrize(
    ("shape", "words"),
    [((0, 5), "height 0"), ((5, 0), "width 0"), ((65536, 1), "height 65536"), ((1, 65536), "width 65536")],
)
def test_encode_rejects_sizes_the_header_cannot_hold(shape, words):
    with pytest.raises(ValueError, match=rf"image {words} is outside 1\.\.65535, which the \.rle header"):
        rle.encode(np.zeros(shape, np.uint8))


def test_encode_rejects_non_2d_and_floats():
    with pytest.raises(ValueError, match="2-D"):
        rle.encode(np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="bool or integer"):
        rle.encode(np.zeros((2, 2), np.float64))


def _hdr(w, h):
    return w.to_bytes(2, "little") + h.to_bytes(2, "little")


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", "truncated header"),
        (b"\x05\x00\x01", "truncated header"),
        (_hdr(0, 1) + b"\x81", "must be 1..65535"),
        (_hdr(3, 0), "must be 1..65535"),
        (_hdr(3, 1), "truncated"),  # no runs at all
        (_hdr(3, 1) + b"\x83\x00", r"1 trailing byte\(s\) after the last row, from byte offset 5"),
        (_hdr(3, 1) + b"\x80\x83", "zero-length run at byte offset 4 .row 0, column 0"),
        (_hdr(130, 1) + b"\xff\x81\x02\x01", "trailing byte.*from byte offset 7"),
        (_hdr(130, 1) + b"\xff\x81\x03", "goes 1 pixel.s. past the row end"),
        (_hdr(3, 2) + b"\x82\x82\x01", r"row 0: runs do not add up to the width 3"),
        (_hdr(3, 2) + b"\x83\x82", r"truncated: the runs describe 5 of the 6 pixels"),
        (_hdr(3, 2) + b"\x83\x83\x81", r"trailing byte"),
        (_hdr(65535, 65535) + b"\xff" * 6, "truncated"),
    ],
)
def test_decode_errors_say_what_and_where(data, pattern):
    with pytest.raises(rle.FormatError, match=pattern):
        rle.decode(data)


def test_run_crossing_a_chunk_boundary():
    # 254 pixels = two full chunks; a run of 100 then one of 100 crosses column 127
    data = _hdr(254, 1) + bytes([0x80 | 100, 0x80 | 100, 0x80 | 54])
    with pytest.raises(rle.FormatError, match=r"byte offset 5 \(row 0, column 100.*chunk boundary at column 127"):
        rle.decode(data)


def test_format_error_is_a_value_error():
    assert issubclass(rle.FormatError, ValueError)


def test_huge_claim_fails_before_allocating():
    data = _hdr(65535, 65535) + b"\xff" * 6  # 10 bytes claiming 4.3 GPixel
    tracemalloc.start()
    try:
        with pytest.raises(rle.FormatError, match="truncated"):
            rle.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=64))
def test_fuzz_never_crashes_with_anything_but_format_error(data):
    try:
        out = rle.decode(data)
    except rle.FormatError:
        return
    w, h = rle.read_header(data)
    assert out.shape == (h, w)
    assert rle.encode(out) == data  # a valid stream is the unique encoding of its pixels


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(1, 5), st.integers(0, 2**32 - 1), st.integers(0, 10_000))
def test_single_corrupted_byte_is_caught_or_still_consistent(width, height, seed, where):
    px = blobs(np.random.default_rng(seed), height, width)
    data = bytearray(rle.encode(px))
    i = 4 + where % (len(data) - 4)
    data[i] ^= 0x7F  # change the length of one run
    try:
        out = rle.decode(bytes(data))
    except rle.FormatError:
        return
    assert rle.encode(out) == bytes(data)


@pytest.fixture
def tiny_slices(monkeypatch):
    """Force the codec to work in many tiny slices, so slice seams are exercised."""
    import rle.decoder
    import rle.encoder

    monkeypatch.setattr(rle.encoder, "_SLICE_PIXELS", 300)
    monkeypatch.setattr(rle.decoder, "_SLICE_RUNS", 7)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 700), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_slice_seams_change_nothing(width, height, seed):
    import rle.decoder
    import rle.encoder

    px = blobs(np.random.default_rng(seed), height, width)
    whole = rle.encode(px)
    old = rle.encoder._SLICE_PIXELS, rle.decoder._SLICE_RUNS
    rle.encoder._SLICE_PIXELS, rle.decoder._SLICE_RUNS = 300, 7
    try:
        assert rle.encode(px) == whole == reference_encode(px)
        np.testing.assert_array_equal(rle.decode(whole), px)
        assert rle.row_offsets(whole, list(range(height + 1)))[-1] == len(whole)
    finally:
        rle.encoder._SLICE_PIXELS, rle.decoder._SLICE_RUNS = old


def test_errors_deep_in_a_stream_name_their_offset(tiny_slices):
    px = np.ones((4, 300), np.uint8)
    data = bytearray(rle.encode(px))  # 3 runs per row: 127, 127, 46
    data[4 + 3 * 2 + 1] = 0x80  # row 2, second run: zero length
    with pytest.raises(rle.FormatError, match=r"zero-length run at byte offset 11 \(row 2, column 127\)"):
        rle.decode(bytes(data))
    with pytest.raises(
        rle.FormatError, match=r"truncated: 11 run bytes cannot describe a 300x4 image.*after byte offset 15"
    ):
        rle.decode(rle.encode(px)[:-1])
    px[3, 299] = 0  # one more run in the last row: dropping a byte now passes the early check
    with pytest.raises(rle.FormatError, match=r"the runs describe 1199 of the 1200 pixels.*row 3, column 299"):
        rle.decode(rle.encode(px)[:-1])
    good = rle.encode(px)
    with pytest.raises(rle.FormatError, match=rf"1 trailing byte.*from byte offset {len(good)}$"):
        rle.decode(good + b"\x81")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.lists(st.integers(1, 9), min_size=1, max_size=12), st.integers(0, 2**32 - 1))
def test_stacked_blocks_split_into_what_each_image_encodes_to(width, heights, seed):
    rng = np.random.default_rng(seed)
    images = [blobs(rng, h, width) for h in heights]
    stride = -(-width // 32) * 4  # BMP-style padded rows
    rows = np.zeros((sum(heights), stride), np.uint8)
    rows[:, : -(-width // 8)] = np.packbits(np.concatenate(images), axis=1)
    parts = rle.encode_packed_blocks(rows, width, heights, row_bits=8 * stride)
    assert parts == [rle.encode_runs(px) for px in images]


def test_check_length_uses_only_header_and_size():
    rle.check_length(3, 2, 2)  # one byte per row is the least
    rle.check_length(3, 2, 6)  # one byte per pixel the most
    with pytest.raises(rle.FormatError, match="truncated: 1 run bytes cannot describe a 3x2 image"):
        rle.check_length(3, 2, 1)
    with pytest.raises(rle.FormatError, match="trailing bytes"):
        rle.check_length(3, 2, 7)
    with pytest.raises(rle.FormatError, match="at least 517 run bytes"):
        rle.check_length(65535, 65535, 6)


def test_row_offsets_stream_a_file_in_bounded_memory(tmp_path, rng, monkeypatch):
    import rle.decoder as decoder

    monkeypatch.setattr(decoder, "_SCAN_BYTES", 1000)  # many pieces, runs split across them
    px = blobs(rng, 400, 700)
    data = rle.encode(px)
    path = tmp_path / "a.rle"
    path.write_bytes(data)
    rows = [0, 17, 200, 399, 400]
    with open(path, "rb") as f:
        assert rle.row_offsets(f, rows) == rle.row_offsets(data, rows)
    path.write_bytes(data[:-3])  # a truncated file fails with the same message as in memory
    with open(path, "rb") as f, pytest.raises(rle.FormatError, match="truncated"):
        rle.row_offsets(f, rows)
    # a zero run right after the header of a large file: found in the first piece
    big = tmp_path / "big.rle"
    with open(big, "wb") as f:
        f.write(rle.header(5000, 5000) + b"\x00")
        f.truncate(4 + 5000 * 5000 // 2)  # 12 MB, sparse: zeros
    tracemalloc.start()
    try:
        with open(big, "rb") as f, pytest.raises(rle.FormatError, match="zero-length run at byte offset 4"):
            rle.row_offsets(f, [0, 5000])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200_000


def _reference_decode(data: bytes) -> np.ndarray:
    """The format read plainly: rows of chunks of at most 127 pixels, one byte per run."""
    w, h = rle.read_header(data)
    out = np.zeros((h, w), np.uint8)
    pos = 4
    for y in range(h):
        for start in range(0, w, 127):
            x, end = start, min(start + 127, w)
            while x < end:
                b = data[pos]
                pos += 1
                out[y, x : x + (b & 127)] = b >> 7
                x += b & 127
    assert pos == len(data)
    return out


@st.composite
def _valid_streams(draw):
    """A stream that decodes, built from runs (canonical: colours alternate within a chunk), then edited
    by moving pixels between neighbouring runs of a chunk (still valid): the decoder's success branch."""
    w, h = draw(st.integers(1, 400)), draw(st.integers(1, 4))
    body = bytearray()
    for _ in range(h):
        for start in range(0, w, 127):
            left = min(127, w - start)
            colour = draw(st.integers(0, 1))
            runs = []
            while left:
                n = draw(st.integers(1, left))
                runs.append(n)
                left -= n
            for _ in range(draw(st.integers(0, 3))):  # edits: a pixel moves from one run to the next
                if len(runs) > 1:
                    k = draw(st.integers(0, len(runs) - 2))
                    if runs[k] > 1:
                        runs[k] -= 1
                        runs[k + 1] += 1
            for n in runs:
                body.append(n | (colour << 7))
                colour ^= 1
    return rle.header(w, h) + bytes(body)


@settings(max_examples=200, deadline=None)
@given(_valid_streams())
def test_valid_streams_decode_to_what_the_format_says_and_encode_back(data):
    out = rle.decode(data)  # every one of these decodes: no "still consistent" branch to skip
    np.testing.assert_array_equal(out, _reference_decode(data))
    assert rle.encode(out) == data  # canonical streams are the unique encoding of their pixels
