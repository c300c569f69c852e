"""Shared fixtures: images written to disk in many layouts, and a real LocalCluster.

The root ``conftest.py``, loaded first, keeps the suite away from the user's own
Dask configuration.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bitarray import bitarray
from hypothesis import Phase, settings
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent

# Property tests: CI (CI=true) runs a fixed, derandomized set of examples with no example database,
# so a failure there reproduces anywhere; a local run draws new examples each time and keeps
# failures in .hypothesis/.  HYPOTHESIS_PROFILE=ci reproduces CI's examples locally.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("dev", deadline=None, print_blob=True)
# scripts/mutants.py: CI's examples, without shrinking (a mutant is killed by the first failure; no one reads it)
settings.register_profile(
    "mutants", parent=settings.get_profile("ci"), phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def imgjobs(*args, env=None, timeout=None, preexec=None) -> subprocess.CompletedProcess:
    """Run ``python -m jobs ARGS`` from the project root, as a user runs the command; text output.

    No time-out of its own unless a test passes one shorter than its own: pytest-timeout's stops
    the test, and ``subprocess.run`` kills the command on the way out.
    """
    return subprocess.run(
        [sys.executable, "-m", "jobs", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        preexec_fn=preexec,
    )


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    """Kill the process group of every command a test started and left running (a failed or timed-out test)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.communicate()


def start_imgjobs(*args, env=None) -> subprocess.Popen:
    """Start ``python -m jobs ARGS`` in a session of its own (to signal it, or its whole group).

    A test may wait on it with no time-out: the test's own stops it, and the process group is
    killed when the test ends.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobs", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    _STARTED.append(proc)
    return proc


def rewrite(path, write) -> None:
    """Rewrite ``path`` with ``write(path)``; its modification time moves on, as an edit a while later would.

    A file system's clock may tick coarser than a test edits (a few ms): without this a
    same-size rewrite could keep its stamp by chance, not by anything the code did.
    """
    path = Path(path)
    before = path.stat().st_mtime_ns if path.exists() else None
    write(path)
    st = path.stat()
    if before is not None and st.st_mtime_ns <= before:
        os.utime(path, ns=(st.st_atime_ns, before + 1_000_000))


def reference_encode(pixels) -> bytes:
    """The classic per-bit encoder, written plainly (bitarray rows, 127-pixel chunks)."""
    pixels = np.asarray(pixels)
    height, width = pixels.shape
    out = bytearray(width.to_bytes(2, "little") + height.to_bytes(2, "little"))
    for row in pixels:
        bits = bitarray([bool(v) for v in row])
        for start in range(0, width, 127):
            chunk = bits[start : start + 127]
            last, count = chunk[0], 0
            for bit in chunk:
                if bit != last:
                    out.append(count | (128 * last))
                    count, last = 0, bit
                count += 1
            out.append(count | (128 * last))
    return bytes(out)


def pillow_bits(path, threshold=None) -> np.ndarray:
    """What the classic tool saw: Pillow's convert('1') (or a luminance threshold), 1 = white."""
    with Image.open(path) as im:
        if threshold is not None:
            return (np.asarray(im.convert("L")) >= threshold).astype(np.uint8)
        return (np.asarray(im.convert("1").convert("L")) // 255).astype(np.uint8)


def write_bmp_raw(path, pixels_idx, bits, palette=None, top_down=False) -> None:
    """Write an uncompressed BMP by hand: palette indices (1/4/8 bits) or (h, w, 3) RGB (24 bits)."""
    arr = np.asarray(pixels_idx)
    height, width = arr.shape[:2]
    stride = ((width * bits + 31) // 32) * 4
    rows = np.zeros((height, stride), dtype=np.uint8)
    if bits == 1:
        rows[:, : (width + 7) // 8] = np.packbits(arr.astype(bool), axis=1)
    elif bits == 4:
        padded = np.zeros((height, 2 * ((width + 1) // 2)), dtype=np.uint8)
        padded[:, :width] = arr
        rows[:, : padded.shape[1] // 2] = (padded[:, 0::2] << 4) | padded[:, 1::2]
    elif bits == 8:
        rows[:, :width] = arr
    else:
        rows[:, : 3 * width] = arr[:, :, ::-1].reshape(height, 3 * width)  # BGR
    pal = b""
    if palette is not None:
        pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    offset = 14 + 40 + len(pal)
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", offset + rows.size, 0, 0, offset))
        f.write(
            struct.pack(
                "<IiiHHIIiiII",
                40,
                width,
                -height if top_down else height,
                1,
                bits,
                0,
                rows.size,
                2835,
                2835,
                len(palette or []),
                0,
            )
        )
        f.write(pal)
        f.write((rows if top_down else rows[::-1]).tobytes())


def blobs(rng, height, width, density=0.3) -> np.ndarray:
    """A black-and-white image with runs of many lengths (not just noise)."""
    runs = rng.geometric(1 / 40, size=height * width // 4 + 10)
    bits = np.repeat(np.arange(runs.size) % 2, runs)[: height * width]
    if bits.size < height * width:
        bits = np.resize(bits, height * width)
    noise = rng.random(height * width) < density * 0.05
    return (bits ^ noise).reshape(height, width).astype(np.uint8)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def image_dir(tmp_path, rng):
    """A directory of images in every layout the job must read, with their expected pixels."""
    d = tmp_path / "images"
    d.mkdir()
    px = blobs(rng, 300, 517)
    expected = {}
    Image.fromarray(px.astype(bool)).save(d / "mode1.bmp")
    write_bmp_raw(d / "inverted.bmp", 1 - px, 1, palette=[(255, 255, 255), (0, 0, 0)])
    write_bmp_raw(d / "topdown.bmp", px, 1, palette=[(0, 0, 0), (255, 255, 255)], top_down=True)
    write_bmp_raw(d / "rgb-bw.bmp", np.repeat(px[:, :, None] * 255, 3, axis=2).astype(np.uint8), 24)
    grey = (rng.random((120, 200)) * 255).astype(np.uint8)
    write_bmp_raw(d / "rgb-grey.bmp", np.repeat(grey[:, :, None], 3, axis=2), 24)  # needs dithering
    pal16 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(16)]
    write_bmp_raw(d / "pal4.bmp", rng.integers(0, 16, (90, 131)), 4, palette=pal16)
    pal256 = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(256)]
    write_bmp_raw(d / "pal8.bmp", rng.integers(0, 256, (70, 300)), 8, palette=pal256)
    Image.fromarray(grey, "L").save(d / "grey.png")
    Image.fromarray((px * 255).astype(np.uint8), "L").convert("RGB").save(d / "rgb.png")
    Image.fromarray(px.astype(bool)).save(d / "tiff1.tif")
    for f in sorted(d.iterdir()):
        expected[f.name] = pillow_bits(f)
    return d, expected


@pytest.fixture(scope="session")
def cluster():
    """A real distributed LocalCluster: 2 worker processes x 1 thread on 127.0.0.1."""
    import dask.config
    from distributed import LocalCluster

    with dask.config.set({"logging.distributed": "error"}):
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as c:
            yield c


def read_shards(out, n: int, size) -> tuple[np.ndarray, list]:
    """A ``.wds`` output read back with plain :mod:`tarfile`: (N, H, W, 3) batch, labels (-1 and zeros: no sample).

    Every member must be a ``<key>.npy`` or ``<key>.cls`` of a key in 0..n-1, each key once.
    """
    import io
    import tarfile

    batch = np.zeros((n, size[1], size[0], 3), np.uint8)
    labels = [-1] * n
    seen = set()
    for shard in sorted(Path(out).glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                key, _, ext = member.name.partition(".")
                data = tar.extractfile(member).read()
                assert (key, ext) not in seen, f"{shard.name}: {member.name} twice"
                seen.add((key, ext))
                if ext == "npy":
                    batch[int(key)] = np.load(io.BytesIO(data), allow_pickle=False)
                else:
                    assert ext == "cls", member.name
                    labels[int(key)] = int(data)
    return batch, labels
