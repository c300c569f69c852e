"""Images read where users keep them: an S3 bucket (a real S3 API server) and HTTP, through fsspec.

The promises: a resize from URLs gives the batch the same files give locally,
byte for byte; a rerun decides from what the store says of each object (its
ETag), so a replaced object is redone and one put back unchanged is not; a
missing object, a missing bucket and a server gone mid-run are named, and what
could not be read is never recorded as done; credentials never show; outputs
at URLs are refused with what to do.
"""

from __future__ import annotations

import functools
import json
import os
import uuid

import numpy as np
import pytest

from jobs.runtime import stamps
from jobs.runtime.storage import Storage, is_url, local_path, read_object, url_parent
from tests.conftest import imgjobs, start_imgjobs
from tests.servers import S3_SECRET, N, S3Server, http_server, upload

s3fs = pytest.importorskip("s3fs", reason="the S3 tests need s3fs and moto (pip install -e '.[test]')")


def same_batch(a, b) -> None:
    assert np.array_equal(np.load(a), np.load(b))
    la, lb = (str(p)[:-4] + ".labels.npy" for p in (a, b))
    assert np.array_equal(np.load(la), np.load(lb))


def test_urls_are_told_from_paths_and_file_urls_are_paths():
    assert is_url("s3://b/k") and is_url("https://h/x.jpg") and is_url("gs://b/x")
    assert not is_url("/a/b.jpg") and not is_url("a.jpg") and not is_url("file:///a.jpg")
    assert not is_url("scan 12 ://.jpg")  # a name with "://" inside is no URL
    assert local_path("file:///data/a.jpg") == "/data/a.jpg" and url_parent("s3://b/l/t.txt") == "s3://b/l/"


def test_storage_options_never_show_their_values():
    s = Storage({"key": "AKIAXXXX", "secret": S3_SECRET})
    assert S3_SECRET not in repr(s) and "AKIAXXXX" not in repr(s) and "secret" in repr(s)
    assert Storage({"s3": {"anon": True}, "anon": False}).for_protocol("s3") == {"anon": True}
    assert Storage({"s3": {"anon": True}, "anon": False}).for_protocol("https") == {"anon": False}


def test_a_list_in_a_bucket_gives_the_batch_the_same_files_give_on_disk(tmp_path, photos, bucket, env, reference):
    fs, name = bucket
    url = upload(fs, name, photos)
    local, remote = reference(), tmp_path / "remote.npy"
    done = imgjobs("-q", "resize", url, "--out", remote, env=env)
    assert done.returncode == 0, done.stderr
    same_batch(local, remote)
    side = json.loads((tmp_path / "remote.npy.json").read_text())
    assert side["shape"][0] == N
    # a local list of absolute URLs, mixed with a file:// entry, is the same batch
    lines = (photos / "train.txt").read_text().splitlines()
    mixed = [f"s3://{name}/data/{ln}" for ln in lines[:-1]] + [f"file://{photos}/{lines[-1]}"]
    (tmp_path / "mixed.txt").write_text("\n".join(mixed) + "\n")
    again = imgjobs("-q", "resize", tmp_path / "mixed.txt", "--out", tmp_path / "mixed.npy", env=env)
    assert again.returncode == 0, again.stderr
    same_batch(local, tmp_path / "mixed.npy")


def test_a_rerun_decides_from_each_objects_etag(tmp_path, photos, bucket, env):
    fs, name = bucket
    url = upload(fs, name, photos)
    out = tmp_path / "b.npy"
    assert imgjobs("-q", "resize", url, "--out", out, "--batch-size", "4", env=env).returncode == 0
    first = np.load(out)
    # the same bytes put again: a new upload, the same ETag: still current
    key = f"{name}/data/class-1/0001.jpg"
    fs.pipe_file(key, fs.cat_file(key))
    again = imgjobs("resize", url, "--out", out, "--batch-size", "4", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    # other bytes under the same name: that slice is redone, and the batch is what a fresh run gives
    fs.pipe_file(key, (photos / "class-2/0002.jpg").read_bytes())
    redo = imgjobs("resize", url, "--out", out, "--batch-size", "4", env=env)
    assert redo.returncode == 0, redo.stderr
    assert "changed since it was built in 1 of its 3 slice(s)" in redo.stderr
    now = np.load(out)
    assert np.array_equal(now[1], first[2]) and np.array_equal(now[4:], first[4:])
    fresh = imgjobs("-q", "resize", url, "--out", tmp_path / "fresh.npy", env=env)
    assert fresh.returncode == 0 and np.array_equal(np.load(tmp_path / "fresh.npy"), now)


def test_content_stamps_read_every_object_and_see_the_same_bytes_as_unchanged(tmp_path, photos, bucket, env):
    fs, name = bucket
    url = upload(fs, name, photos)
    storage = Storage()
    data, size, version = read_object(f"{url[: url.rfind('/')]}/class-0/0000.jpg", storage)
    assert size == len(data) == (photos / "class-0/0000.jpg").stat().st_size and version.startswith("etag:")
    assert stamps.of_url(url, storage, "content") == stamps.of_content((photos / "train.txt").read_bytes())
    out = tmp_path / "c.npy"
    assert imgjobs("-q", "resize", url, "--out", out, "--stamps", "content", env=env).returncode == 0
    again = imgjobs("resize", url, "--out", out, "--stamps", "content", env=env)
    assert "up to date" in again.stdout


def test_missing_objects_and_buckets_are_named_and_never_recorded_done(tmp_path, photos, bucket, env, reference):
    fs, name = bucket
    url = upload(fs, name, photos)
    fs.rm_file(f"{name}/data/class-0/0003.jpg")
    out = tmp_path / "m.npy"
    run = imgjobs("resize", url, "--out", out, env=env)
    assert run.returncode == 1
    assert f"FAILED s3://{name}/data/class-0/0003.jpg: cannot read: no such object" in run.stderr
    side = json.loads((tmp_path / "m.npy.json").read_text())
    assert [f["index"] for f in side["failed"]] == [3] and not np.load(out)[3].any()
    # put back: the rerun decodes it (a missing object was never recorded as read)
    fs.put_file(str(photos / "class-0/0003.jpg"), f"{name}/data/class-0/0003.jpg")
    mended = imgjobs("-q", "resize", url, "--out", out, env=env)
    assert mended.returncode == 0, mended.stderr
    same_batch(reference(), out)
    gone = imgjobs("resize", f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/train.txt", "--out", out, env=env)
    assert gone.returncode == 2 and "cannot read the list" in gone.stderr and "bucket does not exist" in gone.stderr
    nolist = imgjobs("resize", f"s3://{name}/data/nope.txt", "--out", out, env=env)
    assert nolist.returncode == 2 and f"s3://{name}/data/nope.txt: cannot read the list" in nolist.stderr


def test_a_server_gone_mid_run_fails_what_it_did_not_serve_by_name(tmp_path, photos, env):
    own = S3Server().start()  # this test's own server: it is stopped half-way
    try:
        fs = s3fs.S3FileSystem(key="k", secret="s", endpoint_url=own.endpoint, skip_instance_cache=True)
        fs.mkdir("mid-run")
        url = upload(fs, "mid-run", photos)
        listed = tmp_path / "list.txt"  # the list stays readable: only the images are in the store
        listed.write_text(
            "".join(
                f"s3://mid-run/data/{ln.split(chr(9))[0]}\n" for ln in (photos / "train.txt").read_text().splitlines()
            )
        )
        assert url
        own.stop()
        envs = {**env, **own.environ(), "AWS_MAX_ATTEMPTS": "1"}
        run = imgjobs("resize", listed, "--out", tmp_path / "g.npy", env=envs)
        assert run.returncode == 1, run.stderr
        assert run.stderr.count("FAILED s3://mid-run/data/") == N
        side = json.loads((tmp_path / "g.npy.json").read_text())
        assert len(side["failed"]) == N
    finally:
        own.stop()


def test_an_http_source_gives_the_same_batch(tmp_path, photos, env, reference):
    with http_server(photos) as base:
        lines = (photos / "train.txt").read_text().splitlines()
        (tmp_path / "web.txt").write_text("".join(f"{base}/{ln}\n" for ln in lines))
        run = imgjobs("-q", "resize", tmp_path / "web.txt", "--out", tmp_path / "w.npy", env=env)
        assert run.returncode == 0, run.stderr
        listed = imgjobs("-q", "resize", f"{base}/train.txt", "--out", tmp_path / "u.npy", env=env)
        assert listed.returncode == 0, listed.stderr
        (tmp_path / "bad.txt").write_text(f"{base}/class-0/nope.jpg\n")
        bad = imgjobs("resize", tmp_path / "bad.txt", "--out", tmp_path / "bad.npy", env=env)
    same_batch(reference(), tmp_path / "w.npy")
    same_batch(reference(), tmp_path / "u.npy")
    assert bad.returncode == 1
    assert f"FAILED {base}/class-0/nope.jpg: cannot read: the server did not send it" in bad.stderr


def test_credentials_never_show_in_help_messages_logs_or_records(tmp_path, photos, bucket, env):
    fs, name = bucket
    url = upload(fs, name, photos)
    options = json.dumps({"s3": {"secret": S3_SECRET, "key": "imgjobs-test-key"}})
    e = {k: v for k, v in env.items() if k not in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID")}
    e["DASK_IMGJOBS__STORAGE_OPTIONS"] = options
    runs = [
        imgjobs("resize", "--help", env=e),
        imgjobs("-v", "resize", url, "--out", tmp_path / "s.npy", "--report", tmp_path / "r.json", env=e),
        imgjobs("resize", url.replace(name, "no-such-bucket-xyz"), "--out", tmp_path / "x.npy", env=e),
        imgjobs("resize", url, "--out", tmp_path / "t.npy", "--storage-options", "{not json", env=e),
    ]
    assert runs[1].returncode == 0, runs[1].stderr
    assert runs[3].returncode == 2 and "storage options must be a JSON object" in runs[3].stderr
    assert "configured, not shown" in " ".join(runs[0].stdout.split())
    written = [p.read_text(errors="replace") for p in tmp_path.iterdir() if p.is_file() and p.suffix == ".json"]
    assert len(written) >= 2
    for text in [r.stdout + r.stderr for r in runs] + written:
        assert S3_SECRET not in text


@pytest.mark.parametrize("out", ["s3://b/x.npy", "file:///tmp/x.npy", "simplecache::s3://b/x.wds"])
def test_outputs_at_urls_imgjobs_cannot_write_are_refused_with_what_to_do(tmp_path, photos, out):
    run = imgjobs("resize", photos / "train.txt", "--out", out)
    assert run.returncode == 2 and f"output {out}" in run.stderr and "Traceback" not in run.stderr
    assert ".zarr" in run.stderr or "as a path" in run.stderr or "name the store itself" in run.stderr


@pytest.mark.parametrize("where", ["s3", "http"])
def test_class_folders_at_a_url_are_labelled_as_on_disk(tmp_path, photos, bucket, env, where, reference):
    fs, name = bucket
    upload(fs, name, photos)
    local = reference(source="", out="folders.npy")
    with http_server(photos) as base:
        url = f"s3://{name}/data" if where == "s3" else f"{base}/"
        run = imgjobs("-q", "resize", url, "--out", tmp_path / "r.npy", env=env)
    assert run.returncode == 0, run.stderr
    same_batch(local, tmp_path / "r.npy")
    sidecars = (local.with_name(local.name + ".json"), tmp_path / "r.npy.json")
    classes = [json.loads(p.read_text())["labels"]["classes"] for p in sidecars]
    assert classes[0] == classes[1] == ["class-0", "class-1", "class-2"]


def test_a_server_that_lies_about_sizes_is_refused_by_name(tmp_path):
    """HEAD says one size, GET sends another, or a size past the read limit: the image fails, nothing is read
    past one byte more than was said."""
    import http.server
    import threading

    body = b"\xff\xd8" + bytes(4000)

    class Liar(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _head(self):
            said = {"/short.jpg": 100, "/huge.jpg": (1 << 30) + 1}.get(self.path, len(body))
            self.send_response(200)
            self.send_header("Content-Length", str(said))
            self.send_header("ETag", '"e1"')
            self.end_headers()

        def do_HEAD(self):
            self._head()

        def do_GET(self):  # ignores Range: sends the whole body whatever was asked
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(OSError, match="changed while it was read"):
            read_object(f"{base}/short.jpg", Storage(), limit=1 << 30)
        with pytest.raises(OSError, match="over the 1,073,741,824 read from one object"):
            read_object(f"{base}/huge.jpg", Storage(), limit=1 << 30)
        (tmp_path / "l.txt").write_text(f"{base}/short.jpg\n{base}/huge.jpg\n")
        run = imgjobs("resize", tmp_path / "l.txt", "--out", tmp_path / "o.npy")
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 1
    assert f"FAILED {base}/short.jpg: cannot read: changed while it was read" in run.stderr
    assert f"FAILED {base}/huge.jpg: cannot read: 1,073,741,825 bytes, over the" in run.stderr


def test_a_list_changed_in_its_bucket_after_the_plan_is_refused_by_the_tasks(tmp_path, photos, bucket, env):
    """A graph planned now and computed later: its tasks read their ranges of the list only while its ETag is
    the one planned."""
    import jobs
    from jobs.errors import StalePlan

    fs, name = bucket
    url = upload(fs, name, photos)
    graph = jobs.resize(url, tmp_path / "later.npy", compute=False, progress=False)
    fs.pipe_file(url[len("s3://") :], (photos / "train.txt").read_bytes() + b"# one more line\n")
    with pytest.raises(StalePlan, match="changed since this job was planned"):
        graph.compute(scheduler="sync")


def test_a_store_that_denies_access_is_named_for_the_list_each_image_and_an_output(tmp_path, photos, env):
    """A server that enforces access control and never issued these keys: every request is refused (403)."""
    denying = S3Server(denying=True).start()
    try:
        e = {**env, **denying.environ(), "XDG_CACHE_HOME": str(tmp_path / "cache")}
        listed = imgjobs("resize", "s3://private/train.txt", "--out", tmp_path / "a.npy", env=e)
        assert listed.returncode == 2 and "s3://private/train.txt: cannot read" in listed.stderr
        assert "Access Key Id you provided does not exist" in listed.stderr  # the store's own words
        (tmp_path / "l.txt").write_text("s3://private/a.jpg\ns3://private/b.jpg\n")
        images = imgjobs("resize", tmp_path / "l.txt", "--out", tmp_path / "b.npy", env=e)
        assert images.returncode == 1 and images.stderr.count("FAILED s3://private/") == 2, images.stderr
        out = imgjobs("resize", photos / "train.txt", "--out", "s3://private/o.wds", env=e)
        assert out.returncode == 1 and "s3://private/o.wds: the finished output could not be mirrored" in out.stderr
        for run in (listed, images, out):
            assert "Traceback" not in run.stderr and S3_SECRET not in run.stderr
    finally:
        denying.stop()


def test_names_over_http_are_file_names_as_on_disk(tmp_path, env):
    """Class folders whose names an HTTP server percent-encodes, and list entries with ``#``, ``?``, ``%`` and
    spaces: the same labels, classes and pixels as the same files on disk (hostile review of issue 32)."""
    from jobs.samples import make_jpegs

    tree = tmp_path / "web"
    make_jpegs(tmp_path / "src", 6, classes=2, size=(40, 30), progress=False)
    for k, cls in enumerate(["Äpfel", "Birnen"]):
        (tree / "cls" / cls).mkdir(parents=True)
        for j, name in enumerate(["ü€.jpg", "a.jpg", "z z.jpg"]):
            (tree / "cls" / cls / name).write_bytes((tmp_path / f"src/class-{k}/{k + 2 * j:04d}.jpg").read_bytes())
    odd = ["h#x.jpg", "q?x.jpg", "p%20x.jpg", "a b.jpg"]
    for j, name in enumerate(odd):
        (tree / name).write_bytes((tmp_path / f"src/class-{j % 2}/{j:04d}.jpg").read_bytes())
    (tree / "odd.txt").write_text("".join(f"{n}\n" for n in odd))
    with http_server(tree) as base:
        web = imgjobs("-q", "resize", f"{base}/cls/", "--out", tmp_path / "w.npy", env=env)
        listed = imgjobs("-q", "resize", f"{base}/odd.txt", "--out", tmp_path / "o.npy", env=env)
    assert web.returncode == 0 and listed.returncode == 0, web.stderr + listed.stderr
    assert imgjobs("-q", "resize", tree / "cls", "--out", tmp_path / "l.npy", env=env).returncode == 0
    assert imgjobs("-q", "resize", tree / "odd.txt", "--out", tmp_path / "lo.npy", env=env).returncode == 0
    same_batch(tmp_path / "l.npy", tmp_path / "w.npy")
    assert np.array_equal(np.load(tmp_path / "lo.npy"), np.load(tmp_path / "o.npy"))
    classes = [json.loads((tmp_path / f"{n}.npy.json").read_text())["labels"]["classes"] for n in ("l", "w")]
    assert classes[0] == classes[1] == ["Birnen", "Äpfel"]


def test_a_list_whose_server_stops_mid_run_is_named_not_a_write(tmp_path, photos, env):
    """The tasks read their ranges of a list at a URL: a server gone mid-run is the list's error, named."""
    import http.server
    import threading
    import time

    class Slow(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            time.sleep(0.05)
            super().do_GET()

    handler = functools.partial(Slow, directory=str(photos))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    (photos / "many.txt").write_text("".join((photos / "train.txt").read_text() for _ in range(10)))
    try:
        proc = start_imgjobs("resize", f"{base}/many.txt", "--out", tmp_path / "m.npy", "--batch-size", "2", env=env)
        time.sleep(2.0)
        server.shutdown()
        server.server_close()
        _, err = proc.communicate(timeout=120)
    finally:
        (photos / "many.txt").unlink()
    assert proc.returncode == 1, err
    assert "cannot write" not in err and "Traceback" not in err
    assert f"{base}/many.txt: cannot read the list" in err or f"FAILED {base}/" in err


def test_an_option_a_store_repeats_in_its_error_is_never_shown(tmp_path, photos):
    secret_host = "http://sekret-endpoint-8:1"
    options = json.dumps({"s3": {"endpoint_url": secret_host}})
    (tmp_path / "l.txt").write_text("s3://b/a.jpg\n")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_MAX_ATTEMPTS": "1"}
    runs = [
        imgjobs("resize", tmp_path / "l.txt", "--out", tmp_path / "o.npy", "--storage-options", options, env=env),
        imgjobs("resize", "s3://b/l.txt", "--out", tmp_path / "p.npy", "--storage-options", options, env=env),
    ]
    assert runs[0].returncode == 1 and runs[1].returncode == 2
    for run in runs:
        assert "sekret-endpoint" not in run.stderr and "<a storage option>" in run.stderr, run.stderr


def test_through_a_cache_the_stamp_is_of_the_bytes_the_cache_served(tmp_path, photos, bucket, env):
    """``simplecache::`` serves its copy without asking the store again: what a run records is the digest of
    the bytes it decoded, never the store's newer ETag beside older pixels (hostile review of issue 32)."""
    fs, name = bucket
    url = upload(fs, name, photos)
    options = json.dumps({"simplecache": {"cache_storage": str(tmp_path / "cache")}})
    out = tmp_path / "c.npy"
    args = ["resize", f"simplecache::{url}", "--out", out, "--storage-options", options]
    assert imgjobs("-q", *args, env=env).returncode == 0
    first = np.load(out)
    fs.pipe_file(f"{name}/data/class-1/0001.jpg", (photos / "class-2/0002.jpg").read_bytes())
    again = imgjobs(*args, env=env)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert np.array_equal(np.load(out), first)  # what the cache serves, as recorded
    fresh = imgjobs("-q", "resize", url, "--out", tmp_path / "f.npy", env=env)  # the store itself: the new bytes
    assert fresh.returncode == 0 and not np.array_equal(np.load(tmp_path / "f.npy")[1], first[1])


@pytest.mark.parametrize("command", ["resize", "compress", "verify"])
def test_help_never_shows_the_configured_storage_options(command):
    env = {**os.environ, "DASK_IMGJOBS__STORAGE_OPTIONS": json.dumps({"s3": {"secret": S3_SECRET}})}
    shown = imgjobs(command, "--help", env=env)
    assert shown.returncode == 0 and S3_SECRET not in shown.stdout
    assert "configured, not shown" in " ".join(shown.stdout.split())
