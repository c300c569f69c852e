"""Real servers on 127.0.0.1 for the tests of data at URLs: an S3 API (moto's server mode) and HTTP.

Both are real servers in processes of their own, spoken to over TCP by the
clients users run (s3fs through aiobotocore, fsspec's HTTP file system through
aiohttp): nothing is patched in the code under test.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest

#: What the S3 tests authenticate with: moto takes any key; the secret is looked for in every output.
S3_KEY = "imgjobs-test-key"
S3_SECRET = "imgjobs-test-secret-never-shown"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError as e:
            if getattr(e, "code", None):  # an HTTP error: the server answers
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"no server answered at {url} within {timeout} s") from None
            time.sleep(0.1)


class S3Server:
    """moto's S3 API server, in a process of its own, on a free port of 127.0.0.1; restartable (empty again)."""

    def __init__(self, denying: bool = False) -> None:
        self.denying = denying  # IAM enforced from the first request: keys it never issued are refused (403)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> S3Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if self.denying else {})},
        )
        _wait_until_up(self.endpoint + "/", self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self.proc = None

    def environ(self) -> dict:
        """The environment a user of this store has: credentials and its endpoint, where botocore reads them."""
        return {
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request on the test's output
        pass


@contextlib.contextmanager
def http_server(directory):
    """Python's ``http.server`` serving ``directory`` on a free port of 127.0.0.1 (in a thread); yields its URL."""
    handler = functools.partial(_Quiet, directory=os.fspath(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# ---- fixtures of the tests of data at URLs (imported by those modules)

#: Images in the sample set the tests upload.
N = 12


@pytest.fixture(scope="session")
def server():
    """One S3 API server a test process: each test makes buckets of its own on it."""
    s = S3Server().start()
    yield s
    s.stop()


@pytest.fixture
def env(server, monkeypatch):
    """This process and the commands it runs see the store as a user's shell would (credentials, endpoint)."""
    for k, v in server.environ().items():
        monkeypatch.setenv(k, v)
    _s3fs().S3FileSystem.clear_instance_cache()  # fsspec keeps clients: one made for another server's test
    yield {**os.environ}
    _s3fs().S3FileSystem.clear_instance_cache()


@pytest.fixture
def bucket(server, env):
    """A new bucket on the server, and an S3 file system that speaks to it."""
    fs = _s3fs().S3FileSystem(
        key=env["AWS_ACCESS_KEY_ID"], secret=S3_SECRET, endpoint_url=server.endpoint, skip_instance_cache=True
    )
    name = f"photos-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    return fs, name


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Sample JPEGs in class folders and their labelled list (``train.txt``, relative entries)."""
    root = tmp_path_factory.mktemp("photos")
    from jobs.samples import make_jpegs

    make_jpegs(root, N, classes=3, size=(96, 72), progress=False)
    return root


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory):
    """``reference(source="train.txt", out="l.npy", **options)``: the batch of ``photos`` built locally, once a
    module for each set of arguments, in this process (what a run from URLs must equal, byte for byte)."""
    import jobs

    root = tmp_path_factory.mktemp("reference")
    made: dict = {}

    def build(source: str = "train.txt", out: str = "l.npy", **options):
        key = (source, out, tuple(sorted(options.items())))
        if key not in made:
            target = root / f"{len(made)}-{out}"
            jobs.resize(photos / source if source else photos, target, progress=False, scheduler="threads", **options)
            made[key] = target
        return made[key]

    return build


def upload(fs, bucket: str, photos) -> str:
    """The photos and their list into ``bucket`` as they are on disk; the list's URL."""
    for line in (photos / "train.txt").read_text().splitlines():
        name = line.split("\t")[0]
        fs.put_file(str(photos / name), f"{bucket}/data/{name}")
    fs.pipe_file(f"{bucket}/data/train.txt", (photos / "train.txt").read_bytes())
    return f"s3://{bucket}/data/train.txt"


def _s3fs():
    return pytest.importorskip("s3fs", reason="the S3 tests need s3fs and moto (pip install -e '.[test]')")
