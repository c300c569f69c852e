"""Reading images as 1-bit pixels: the BMP fast path must agree with Pillow's convert('1')."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import rle
from conftest import pillow_bits, write_bmp_raw
from rle.bmp import parse_bmp


def test_every_layout_reads_as_pillow_converts(image_dir):
    d, expected = image_dir
    for name, want in expected.items():
        got = rle.read_pixels(d / name)
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("name", ["mode1.bmp", "inverted.bmp", "topdown.bmp", "rgb-bw.bmp", "pal4.bmp", "pal8.bmp"])
def test_fast_path_row_blocks(image_dir, name):
    d, expected = image_dir
    info = rle.probe(d / name)
    assert info.bmp is not None, "this layout should be read straight from the file"
    want = expected[name]
    h = info.height
    for r0, r1 in [(0, 1), (0, h), (5, 17), (h - 3, h)]:
        packed, row_bits = rle.read_packed_rows(info, r0, r1)
        got = np.unpackbits(packed, axis=1)[:, : info.width]
        np.testing.assert_array_equal(got, want[r0:r1], err_msg=f"{name} rows {r0}..{r1}")
        assert row_bits == 8 * packed.shape[1]


def test_inverted_palette_is_mode_p_and_colour_counts_not_the_bit(image_dir):
    d, expected = image_dir
    assert Image.open(d / "inverted.bmp").mode == "P"
    assert rle.probe(d / "inverted.bmp").mode == "P"
    np.testing.assert_array_equal(expected["inverted.bmp"], expected["mode1.bmp"])  # Pillow's view
    np.testing.assert_array_equal(rle.read_pixels(d / "inverted.bmp"), rle.read_pixels(d / "mode1.bmp"))  # ours


def test_dithered_rows_need_the_whole_image(image_dir):
    d, _ = image_dir
    info = rle.probe(d / "rgb-grey.bmp")
    with pytest.raises(rle.NeedsWholeImage):
        rle.read_packed_rows(info, 0, 10)
    with pytest.raises(rle.NeedsWholeImage):
        rle.read_packed_rows(rle.probe(d / "grey.png"), 0, 10)


def test_greyscale_bmp_pure_and_dithered(tmp_path, rng):
    grey_pal = [(v, v, v) for v in range(256)]
    pure = (rng.random((40, 70)) < 0.5).astype(np.uint8) * 255
    write_bmp_raw(tmp_path / "pure.bmp", pure, 8, palette=grey_pal)
    shades = rng.integers(0, 256, (40, 70))
    write_bmp_raw(tmp_path / "shades.bmp", shades, 8, palette=grey_pal)
    for name in ("pure.bmp", "shades.bmp"):
        assert Image.open(tmp_path / name).mode == "L"
        np.testing.assert_array_equal(rle.read_pixels(tmp_path / name), pillow_bits(tmp_path / name))
    rle.read_packed_rows(rle.probe(tmp_path / "pure.bmp"), 3, 9)
    with pytest.raises(rle.NeedsWholeImage):
        rle.read_packed_rows(rle.probe(tmp_path / "shades.bmp"), 3, 9)


@pytest.mark.parametrize("threshold", [0, 1, 77, 128, 200, 255])
def test_threshold_matches_luminance(image_dir, threshold):
    d, _ = image_dir
    for f in sorted(d.iterdir()):
        got = rle.read_pixels(f, threshold=threshold)
        np.testing.assert_array_equal(got, pillow_bits(f, threshold), err_msg=f"{f.name} threshold {threshold}")
        info = rle.probe(f)
        if info.bmp is not None:  # thresholded rows are independent for every layout
            packed, _ = rle.read_packed_rows(info, 1, 4, threshold)
            np.testing.assert_array_equal(np.unpackbits(packed, axis=1)[:, : info.width], got[1:4])


def test_probe_reports_bad_files_by_name(tmp_path):
    (tmp_path / "text.bmp").write_text("not an image at all")
    with pytest.raises(rle.ImageError, match=r"text\.bmp: not an image"):
        rle.probe(tmp_path / "text.bmp")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(rle.ImageError, match=r"empty\.png"):
        rle.probe(tmp_path / "empty.png")
    with pytest.raises(rle.ImageError, match=r"missing\.bmp: cannot read"):
        rle.probe(tmp_path / "missing.bmp")


def test_truncated_bmp_is_caught_from_the_header(tmp_path):
    Image.new("1", (300, 200), 1).save(tmp_path / "full.bmp")
    data = (tmp_path / "full.bmp").read_bytes()
    (tmp_path / "cut.bmp").write_bytes(data[: len(data) // 2])
    with pytest.raises(rle.ImageError, match=r"cut\.bmp: truncated BMP"):
        rle.probe(tmp_path / "cut.bmp")


def test_truncated_png_fails_on_read(tmp_path):
    Image.fromarray((np.random.default_rng(0).random((200, 200)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(rle.ImageError, match=r"a\.png"):
        rle.read_pixels(tmp_path / "a.png")


def test_too_large_for_the_format(tmp_path):
    path = tmp_path / "wide.bmp"
    write_bmp_raw(path, np.zeros((1, 8), np.uint8), 1, palette=[(0, 0, 0), (255, 255, 255)])
    data = bytearray(path.read_bytes())
    data[18:22] = (70000).to_bytes(4, "little")  # claim a width of 70000
    data += bytes(70000 // 8 + 16)
    path.write_bytes(bytes(data))
    with pytest.raises(rle.ImageError, match=r"70000x1.*1\.\.65535"):
        rle.probe(path)


def test_parse_bmp_leaves_unusual_layouts_to_pillow(tmp_path):
    Image.new("RGBA", (10, 10)).save(tmp_path / "rgba.bmp")
    head = (tmp_path / "rgba.bmp").read_bytes()[:2048]
    assert parse_bmp(head) is None  # 32-bit: read by Pillow
    assert parse_bmp(b"PNG....") is None


def test_write_bmp_roundtrip(tmp_path, rng):
    px = (rng.random((33, 71)) < 0.4).astype(np.uint8)
    rle.write_bmp(tmp_path / "o.bmp", px)
    with Image.open(tmp_path / "o.bmp") as im:
        assert im.mode == "1"
        assert im.size == (71, 33)
    np.testing.assert_array_equal(pillow_bits(tmp_path / "o.bmp"), px)


@pytest.mark.parametrize("width", [1, 7, 8, 9, 16, 33, 100])
def test_rgb_bw_any_width_and_every_impurity(tmp_path, rng, width):
    px = (rng.random((9, width)) < 0.5).astype(np.uint8)
    rgb = np.repeat(px[:, :, None] * 255, 3, axis=2).astype(np.uint8)
    write_bmp_raw(tmp_path / "bw.bmp", rgb, 24)
    info = rle.probe(tmp_path / "bw.bmp")
    packed, _ = rle.read_packed_rows(info, 0, 9)
    np.testing.assert_array_equal(np.unpackbits(packed, axis=1)[:, :width], px)
    for channel, value in [(0, 254), (1, 1), (2, 0 if px[4, width // 2] else 255)]:
        bad = rgb.copy()
        bad[4, width // 2, channel] = value  # one channel off: grey, a colour, or mixed
        write_bmp_raw(tmp_path / "bad.bmp", bad, 24)
        with pytest.raises(rle.NeedsWholeImage):
            rle.read_packed_rows(rle.probe(tmp_path / "bad.bmp"), 0, 9)
        np.testing.assert_array_equal(rle.read_pixels(tmp_path / "bad.bmp"), pillow_bits(tmp_path / "bad.bmp"))


# --------------------------------------------------------------------------- the fast path against Pillow


def _bases(tmp_path):
    """Small BMPs of every layout the fast path reads."""
    rng = np.random.default_rng(7)
    px = (rng.random((9, 21)) < 0.5).astype(np.uint8)
    pal = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(256)]
    made = {
        "b1": (px, 1, [(0, 0, 0), (255, 255, 255)], False),
        "b1-inverted-topdown": (1 - px, 1, [(255, 255, 255), (0, 0, 0)], True),
        "b4": (rng.integers(0, 16, (9, 21)), 4, pal[:16], False),
        "b8": (rng.integers(0, 256, (9, 21)), 8, pal, False),
        "b8-grey": (px * 255, 8, [(v, v, v) for v in range(256)], True),
        "b24": (np.repeat(px[:, :, None] * 255, 3, axis=2).astype(np.uint8), 24, None, False),
    }
    out = {}
    for name, (pixels, bits, palette, top_down) in made.items():
        write_bmp_raw(tmp_path / f"{name}.bmp", pixels, bits, palette=palette, top_down=top_down)
        out[name] = (tmp_path / f"{name}.bmp").read_bytes()
    return out


def _pillow_or_failure(path):
    try:
        return pillow_bits(path), None
    except Exception as e:  # Pillow refuses: the fast path must not read it either
        return None, e


BASES = None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["b1", "b1-inverted-topdown", "b4", "b8", "b8-grey", "b24"]),
    st.lists(st.tuples(st.integers(0, 1077), st.integers(0, 255)), min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(-80, 80)),
)
def test_fast_path_agrees_with_pillow_on_mutated_headers(tmp_path, name, edits, length_change):
    """Any header, any palette byte, any file length: the same pixels as Pillow, or a clean failure."""
    global BASES
    if BASES is None:
        BASES = _bases(tmp_path)
    data = bytearray(BASES[name])
    header_end = int.from_bytes(data[10:14], "little")  # file and info headers, palette
    for pos, value in edits:
        data[pos % header_end] = value
    if length_change is not None:
        data = data[: len(data) + length_change] if length_change < 0 else data + bytes(length_change)
    path = tmp_path / "mutated.bmp"
    path.write_bytes(bytes(data))
    want, refused = _pillow_or_failure(path)
    try:
        got = rle.read_pixels(path)
    except rle.ImageError:
        assert refused is not None, f"Pillow reads this file ({len(data)} bytes) but imgjobs fails it"
        return
    assert refused is None, f"imgjobs reads a file Pillow refuses ({refused!r})"
    np.testing.assert_array_equal(got, want)


def test_pixel_offset_zero_reads_after_the_palette_as_pillow_does(tmp_path):
    # bfOffBits = 0: Pillow reads the pixels after the palette, never from byte 0
    import struct

    data = b"BM" + struct.pack("<IHHI", 126, 0, 0, 0) + struct.pack("<IiiHHIIiiII", 40, 16, 16, 1, 1, 0, 64, 0, 0, 2, 0)
    data += bytes([0, 0, 0, 0, 255, 255, 255, 0]) + b"\xff" * 64
    (tmp_path / "oz.bmp").write_bytes(data)
    assert rle.probe(tmp_path / "oz.bmp").bmp.offset == 62
    np.testing.assert_array_equal(rle.read_pixels(tmp_path / "oz.bmp"), pillow_bits(tmp_path / "oz.bmp"))
    assert rle.read_pixels(tmp_path / "oz.bmp").all()  # every pixel white, as Pillow sees it
