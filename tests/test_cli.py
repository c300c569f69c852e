"""The imgjobs command end to end, as a user runs it (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import dask
import numpy as np
import pytest
from PIL import Image

import jobs
import rle
from conftest import blobs, imgjobs, pillow_bits
from jobs.resize_job.decode import load_rgb

# The project's own command, installed beside this interpreter (the venv's), never one found earlier on PATH.
IMGJOBS = shutil.which("imgjobs", path=os.path.dirname(sys.executable))


def cli(*args, cwd=None, env=None):
    cmd = [IMGJOBS] if IMGJOBS else [sys.executable, "-m", "jobs"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


def test_help_explains_commands_and_flags():
    r = cli("--help")
    assert r.returncode == 0
    for word in ("compress", "decompress", "verify", "LocalCluster", "Exit status"):
        assert word in r.stdout
    r = cli("compress", "--help")
    for flag in (
        "--rows-per-task",
        "--threshold",
        "--overwrite",
        "--scheduler-file",
        "--workers",
        "--threads-per-worker",
        "--scheduler",
    ):
        assert flag in r.stdout


@pytest.mark.parametrize(
    "command",
    [["compress"], ["decompress"], ["verify"], ["resize"], ["certs"], ["study", "resize"], ["study", "compress"]],
)
def test_every_subcommand_help_has_an_example_and_shows_defaults_as_values(command, tmp_path):
    env = dict(os.environ, DASK_IMGJOBS__RESIZE__SIZE="64x48", DASK_IMGJOBS__SCHEDULER__KIND="threads")
    r = cli(*command, "--help", env=env)
    assert r.returncode == 0, r.stderr
    assert "examples:" in r.stdout and f"imgjobs {' '.join(command)} " in r.stdout.split("examples:")[1]
    assert "None" not in r.stdout and "from config" not in r.stdout
    if command == ["resize"]:  # the values in force, from the configuration
        assert "(default 64x48)" in r.stdout and "(default threads;" in r.stdout.replace("\n", " ")


def test_version():
    from importlib.metadata import version

    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"imgjobs {version('imgjobs')}"
    assert version("imgjobs") == jobs.__version__ == rle.__version__  # written once, in jobs/__init__.py


def test_python_dash_m_jobs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "jobs", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "compress" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("compress",),
        ("compress", "MISSING", "out"),
        ("compress", "SRC", "out", "--threshold", "300"),
        ("compress", "SRC", "out", "--rows-per-task", "-1"),
        ("compress", "SRC", "out", "--workers", "0"),
        ("compress", "SRC", "out", "--scheduler", "gpu"),
        ("frobnicate",),
    ],
)
def test_usage_errors_exit_2(image_dir, tmp_path, args):
    d, _ = image_dir
    args = [str(d) if a == "SRC" else str(tmp_path / a) if a == "MISSING" else a for a in args]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(r"^imgjobs[a-z ]*: error: \S", r.stderr, re.M), r.stderr  # the parser's line or the run's


def test_source_dir_into_a_file_is_a_usage_error(image_dir, tmp_path):
    d, _ = image_dir
    (tmp_path / "x.rle").write_bytes(b"")
    r = cli("compress", d, tmp_path / "x.rle")
    assert r.returncode == 2 and "must be one" in r.stderr


def test_compress_verify_decompress_end_to_end(image_dir, tmp_path):
    d, expected = image_dir
    out, bmp = tmp_path / "rle", tmp_path / "bmp"
    r = cli("compress", d, out, "--rows-per-task", "16")
    assert r.returncode == 0, r.stderr
    assert f"compress: {len(expected)} file(s): {len(expected)} ok" in r.stdout
    assert "MPixel/s" in r.stdout and "ratio" in r.stdout
    r = cli("verify", d, out)
    assert r.returncode == 0, r.stderr
    r = cli("decompress", out, bmp)
    assert r.returncode == 0, r.stderr
    for name, px in expected.items():
        np.testing.assert_array_equal(pillow_bits(bmp / (os.path.splitext(name)[0] + ".bmp")), px)
    # rerun: everything is skipped, nothing rewritten
    r = cli("compress", d, out)
    assert r.returncode == 0 and f"{len(expected)} skipped" in r.stdout


def test_single_file_to_file_and_to_directory(image_dir, tmp_path):
    d, expected = image_dir
    r = cli("compress", d / "mode1.bmp", tmp_path / "one.rle")
    assert r.returncode == 0, r.stderr
    assert rle.decode((tmp_path / "one.rle").read_bytes()).tolist() == expected["mode1.bmp"].tolist()
    (tmp_path / "outdir").mkdir()
    r = cli("compress", d / "grey.png", tmp_path / "outdir")
    assert r.returncode == 0 and (tmp_path / "outdir" / "grey.rle").exists()
    r = cli("verify", d / "grey.png", tmp_path / "outdir" / "grey.rle")
    assert r.returncode == 0


def test_bad_files_exit_1_by_name_without_traceback(image_dir, tmp_path):
    d, expected = image_dir
    (d / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = cli("compress", d, tmp_path / "out")
    assert r.returncode == 1
    assert "junk.png" in r.stderr and "FAILED" in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.rle")) == sorted(
        os.path.splitext(n)[0] + ".rle" for n in expected
    )
    for name, px in expected.items():  # the good files are all there, and right
        got = rle.decode((tmp_path / "out" / (os.path.splitext(name)[0] + ".rle")).read_bytes())
        np.testing.assert_array_equal(got, px)


def test_a_user_set_max_pixels_fails_larger_images_by_name(tmp_path, rng):
    # PNGs are decoded whole, so the limit applies (uncompressed BMPs are read by rows)
    src = tmp_path / "src"
    src.mkdir()
    small, big = rng.random((40, 50)) < 0.5, rng.random((80, 70)) < 0.5  # 2,000 and 5,600 pixels
    Image.fromarray(small).save(src / "small.png")
    Image.fromarray(big).save(src / "big.png")
    r = cli("compress", src, tmp_path / "rle", "--max-pixels", "5000")
    assert r.returncode == 1, r.stderr
    assert "big.png" in r.stderr and "5,600 pixels" in r.stderr and "5,000 pixels" in r.stderr
    assert "small.png" not in r.stderr and not (tmp_path / "rle" / "big.rle").exists()
    np.testing.assert_array_equal(rle.decode((tmp_path / "rle" / "small.rle").read_bytes()), small)
    r = cli("compress", src, tmp_path / "rle", "--max-pixels", "5600")  # at the limit: allowed
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(rle.decode((tmp_path / "rle" / "big.rle").read_bytes()), big)
    r = cli("resize", src, "--out", tmp_path / "b.npy", "--size", "8x8", "--max-pixels", "5000")
    assert r.returncode == 1 and "big.png" in r.stderr and "5,000 pixels" in r.stderr, r.stderr
    side = json.loads((tmp_path / "b.npy.json").read_text())
    assert side["resize"]["max_pixels"] == 5000
    assert side["source"]["path"] == str(src) and side["source"]["entries"] == 2
    assert [os.path.basename(f["path"]) for f in side["failed"]] == ["big.png"]
    batch = np.load(tmp_path / "b.npy")  # the refused image's slot stays zero, the other is resized
    np.testing.assert_array_equal(batch[0], np.zeros((8, 8, 3), np.uint8))
    np.testing.assert_array_equal(batch[1], load_rgb(src / "small.png", (8, 8)))


def test_verify_mismatch_exits_1_and_lists_it(image_dir, tmp_path):
    d, _ = image_dir
    out = tmp_path / "rle"
    assert cli("compress", d, out).returncode == 0
    data = bytearray((out / "pal8.rle").read_bytes())
    data[-1] ^= 0x80
    (out / "pal8.rle").write_bytes(bytes(data))
    r = cli("verify", d, out)
    assert r.returncode == 1
    assert "MISMATCH" in r.stderr and "pal8.bmp" in r.stderr and "1 pixel(s) differ" in r.stderr


def test_threads_run_never_imports_distributed(image_dir, tmp_path):
    d, _ = image_dir
    code = (
        "import sys; from jobs.cli import main; "
        f"rc = main(['-q', 'compress', {str(d)!r}, {str(tmp_path / 'o')!r}]); "
        "print(rc, 'distributed' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["0", "False"], r.stderr


def test_env_config_override(image_dir, tmp_path):
    d, _ = image_dir
    env = dict(os.environ, DASK_IMGJOBS__RLE__THRESHOLD="200")
    assert cli("compress", d / "grey.png", tmp_path / "t.rle", env=env).returncode == 0
    got = rle.decode((tmp_path / "t.rle").read_bytes())
    np.testing.assert_array_equal(got, pillow_bits(d / "grey.png", 200))


def test_local_cluster_prints_dashboard(image_dir, tmp_path):
    d, _ = image_dir
    r = cli("compress", d, tmp_path / "o", "--scheduler", "local", "--workers", "2", "--dashboard-address", ":0")
    assert r.returncode == 0, r.stderr
    assert "Dask dashboard: http://127.0.0.1:" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_dashboard_link_follows_distributed_dashboard_link_as_jupyterhub_sets_it(image_dir, tmp_path):
    # course sites set distributed.dashboard.link to their JupyterHub proxy; the link printed must be that one
    d, _ = image_dir
    template = "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status"
    env = dict(os.environ, JUPYTERHUB_SERVICE_PREFIX="/user/alice/", DASK_DISTRIBUTED__DASHBOARD__LINK=template)
    r = cli(
        "compress", d, tmp_path / "o", "--scheduler", "local", "--workers", "1", "--dashboard-address", ":0", env=env
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Dask dashboard: /user/alice/proxy/\d+/status$", r.stderr, re.M), r.stderr
    assert "ssh" not in r.stderr  # a proxy path needs no tunnel


def test_a_cluster_dashboard_link_honours_the_template_and_the_hint_fits_where_the_user_is(monkeypatch):
    from distributed import Client, LocalCluster

    from jobs.clusters import client_link, dashboard_link, tunnel_hint

    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as lc, Client(lc) as client:
        port = client.scheduler_info()["services"]["dashboard"]
        link = dashboard_link(client, "127.0.0.1:0")
        assert link == f"http://127.0.0.1:{port}/status"
        assert tunnel_hint(link).startswith(f"from a laptop: ssh -N -L {port}:127.0.0.1:{port} ")
        monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
        assert (
            tunnel_hint(link)
            == f"under JupyterHub: open /user/alice/proxy/{port}/status on the hub (jupyter-server-proxy)"
        )
        with dask.config.set({"distributed.dashboard.link": "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status"}):
            proxied = dashboard_link(client, "127.0.0.1:0")
        assert proxied == f"/user/alice/proxy/{port}/status"
        assert tunnel_hint(proxied) is None
        assert tunnel_hint(f"https://hub.example.org/user/alice/proxy/{port}/status") is None  # a full proxy URL
        with dask.config.set({"distributed.dashboard.link": "{IMGJOBS_UNSET_VARIABLE}proxy/{port}/status"}):
            plain = client_link(client)  # the scheduler's own address, not distributed's KeyError
            assert plain.startswith("http://") and plain.endswith(f":{port}/status"), plain
            assert dashboard_link(client, "127.0.0.1:0") == f"http://127.0.0.1:{port}/status"


def test_scheduler_file(image_dir, tmp_path, cluster):
    from distributed import Client

    d, _ = image_dir
    sf = tmp_path / "scheduler.json"
    with Client(cluster) as client:
        client.write_scheduler_file(str(sf))
        r = cli("compress", d, tmp_path / "o", "--scheduler-file", sf, "--rows-per-task", "25")
    assert r.returncode == 0, r.stderr
    assert cli("compress", d, tmp_path / "t", "--rows-per-task", "0").returncode == 0
    for f in sorted(os.listdir(tmp_path / "t")):
        if not f.startswith("."):  # the outputs; the manifest records times
            assert (tmp_path / "o" / f).read_bytes() == (tmp_path / "t" / f).read_bytes()


def test_missing_scheduler_file_is_a_clear_error(image_dir, tmp_path):
    d, _ = image_dir
    r = cli("compress", d, tmp_path / "o", "--scheduler-file", tmp_path / "nope.json")
    assert r.returncode == 2
    assert "dask scheduler --scheduler-file" in r.stderr and "Traceback" not in r.stderr


def test_the_suite_never_reads_the_users_configuration():
    import dask.config

    REAL_HOME = os.environ["IMGJOBS_TESTS_REAL_HOME"]  # set by the root conftest.py
    assert os.path.expanduser("~") != REAL_HOME
    assert not [p for p in dask.config.paths if p.startswith(os.path.join(REAL_HOME, ".config"))]
    assert not [k for k in os.environ if k.startswith("DASK_IMGJOBS__")]
    code = "import os, dask.config; print(any(p.startswith(os.environ['REAL']) for p in dask.config.paths))"
    env = dict(os.environ, REAL=os.path.join(REAL_HOME, ".config"))
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip() == "False"
    )


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DASK_IMGJOBS__OVERWRITE": "maybe"}, "imgjobs.overwrite must be true or false"),
        ({"DASK_IMGJOBS__RLE__THRESHOLD": "300"}, "imgjobs.rle.threshold must be a whole number 0..255"),
        ({"DASK_IMGJOBS__SCHEDULER__KIND": "gpu"}, "imgjobs.scheduler.kind must be one of auto"),
        ({"DASK_IMGJOBS__MAX_PIXELS": "0"}, "imgjobs.max-pixels must be a whole number >= 1"),
    ],
)
def test_bad_configuration_values_name_the_key_and_the_variable(image_dir, tmp_path, env, words):
    d, _ = image_dir
    r = cli("compress", d, tmp_path / "o", env=dict(os.environ, **env))
    assert r.returncode == 2 and words in r.stderr and next(iter(env)) in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "usage:" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_no_means_false(image_dir, tmp_path):
    d, _ = image_dir
    out = tmp_path / "o"
    assert cli("compress", d, out).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.rle")}
    env = dict(os.environ, DASK_IMGJOBS__OVERWRITE="no")
    r = cli("compress", d, out, env=env)
    assert r.returncode == 0 and f"{len(before)} skipped" in r.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.rle")} == before  # kept, not rewritten
    r = cli("compress", d, out, env=dict(os.environ, DASK_IMGJOBS__OVERWRITE="yes"))
    assert r.returncode == 0 and f"{len(before)} ok" in r.stdout


def test_a_rerun_says_why_it_skipped_files(image_dir, tmp_path):
    d, _ = image_dir
    out = tmp_path / "o"
    assert cli("compress", d, out).returncode == 0
    n = len(list(out.glob("*.rle")))
    r = cli("compress", d, out)
    assert r.returncode == 0
    assert f"\n  {n} skipped: up to date: made from its input as it is now" in r.stdout, r.stdout
    report = jobs.compress(d, out, progress=False)
    assert report.reasons("skipped") == {report.results[0].reason: n} and report.reasons("failed") == {}


def test_a_malformed_config_file_is_a_clear_error(image_dir, tmp_path):
    d, _ = image_dir
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "imgjobs.yaml").write_text("imgjobs:\n  overwrite: [unclosed\n")
    r = cli("compress", d, tmp_path / "o", env=dict(os.environ, DASK_CONFIG=str(cfg)))
    assert r.returncode == 2 and "is malformed" in r.stderr and str(cfg / "imgjobs.yaml") in r.stderr
    assert "Traceback" not in r.stderr


def test_certs_never_write_into_a_file_they_did_not_create(tmp_path):
    d = tmp_path / "certs"
    r = cli("certs", d)
    assert r.returncode == 0, r.stderr
    assert (d / "key.pem").stat().st_mode & 0o777 == 0o600
    r = cli("certs", d)  # a second time: refused, the key untouched
    assert r.returncode == 2 and "exists" in r.stderr and "Traceback" not in r.stderr
    planted = tmp_path / "shared"
    planted.mkdir()
    (planted / "elsewhere").write_text("someone else's file")
    (planted / "key.pem").symlink_to(planted / "elsewhere")  # planted by another user in a shared directory
    r = cli("certs", planted)
    assert r.returncode == 2 and (planted / "elsewhere").read_text() == "someone else's file"
    assert not (planted / "cert.pem").exists()
    (tmp_path / "afile").write_text("x")
    r = cli("certs", tmp_path / "afile")
    assert r.returncode == 2 and "is a file" in r.stderr and "Traceback" not in r.stderr


def test_output_piped_into_head_ends_quietly(image_dir, tmp_path):
    d, _ = image_dir
    cmd = [IMGJOBS] if IMGJOBS else [sys.executable, "-m", "jobs"]
    # `true` exits without reading: the summary meets a closed pipe
    shell = f"{' '.join(map(str, cmd))} compress {d} {tmp_path / 'o'} | true"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=60)
    assert r.returncode == 141, r.stderr  # as a shell reports a command stopped by SIGPIPE
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr
    assert len(list((tmp_path / "o").glob("*.rle"))) == len(os.listdir(d))  # the job itself completed


def test_a_file_name_cannot_forge_a_line(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "evil\nFAILED everything.png").write_bytes(b"not a png")
    r = cli("compress", d, tmp_path / "o")
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("FAILED")]
    assert len(lines) == 1 and "evil\\nFAILED everything.png" in lines[0]


def test_an_interrupted_sync_of_distributed_logs_no_traceback():
    """distributed's sync() may log a NameError from its cancel callback when Ctrl-C lands early."""
    import logging

    from jobs.cli.logs import drop_interrupted_sync as _drop_interrupted_sync

    def record(message, exc):
        try:
            raise exc
        except BaseException:
            import sys

            return logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, message, (), sys.exc_info())

    race = NameError("cannot access free variable 'future' where it is not associated with a value in enclosing scope")
    callback = "Exception in callback functools.partial(<function sync.<locals>.cancel at 0x7f>)"
    assert not _drop_interrupted_sync(record(callback, race))
    assert _drop_interrupted_sync(record(callback, ValueError("other")))  # any other error still shows
    assert _drop_interrupted_sync(record("Exception in callback something_else", race))
    assert _drop_interrupted_sync(logging.LogRecord("tornado.application", logging.ERROR, "", 1, "plain", (), None))


def test_a_handler_cancelled_while_the_scheduler_closes_logs_no_traceback():
    # seen by scripts/soak.sh: Ctrl-C of a Slurm run while a worker joined; distributed logged
    # "ERROR distributed.scheduler:" with a CancelledError traceback after imgjobs' own message
    import asyncio
    import logging

    from jobs.cli.logs import drop_cancelled_handlers as _drop_cancelled_handlers

    def record(name, exc):
        return logging.LogRecord(name, logging.ERROR, __file__, 1, "", None, (type(exc), exc, None))

    assert not _drop_cancelled_handlers(record("distributed.scheduler", asyncio.CancelledError()))
    assert _drop_cancelled_handlers(record("distributed.scheduler", RuntimeError("a real failure")))
    assert _drop_cancelled_handlers(record("jobs", asyncio.CancelledError()))  # only distributed's closing
    # seen in CI after SIGTERM: the connection pool closing while a connect time-out expired
    expiring = RuntimeError("Cannot change state of expiring Timeout")
    assert not _drop_cancelled_handlers(record("distributed.core", expiring))
    from distributed.comm.core import CommClosedError

    gone = record("distributed.scheduler", CommClosedError("Comm <TLS (closed)> already closed."))
    gone.msg = "Closed comm %r while trying to write %s"
    assert not _drop_cancelled_handlers(gone)  # a task ended after the stopped run's client left
    assert _drop_cancelled_handlers(record("distributed.scheduler", CommClosedError("in the middle of a run")))
    assert _drop_cancelled_handlers(record("jobs.runtime", expiring))


def test_the_json_report_holds_what_the_python_report_does(image_dir, tmp_path):
    d, _ = image_dir
    (d / "bad.png").write_bytes(b"not a png")
    # the source tree's command (python -m jobs), which the mutation check changes; not the installed script
    r = imgjobs("compress", d, tmp_path / "o", "--report", tmp_path / "r.json")
    assert r.returncode == 1  # a file failed: the report is written all the same
    got = json.loads((tmp_path / "r.json").read_text())
    want = jobs.compress(d, tmp_path / "p", progress=False).to_dict()
    for key in ("job", "exit_code", "counts", "pixels", "bytes_in", "tasks"):
        assert got[key] == want[key], key
    strip = [{k: v for k, v in f.items() if k != "dst"} for f in got["files"]]
    assert strip == [{k: v for k, v in f.items() if k != "dst"} for f in want["files"]]
    bad = [f for f in got["files"] if f["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["src"].endswith("bad.png") and bad[0]["reason"]
    # a path that cannot take it is refused before anything runs
    r = imgjobs("compress", d, tmp_path / "q", "--report", tmp_path)
    assert r.returncode == 2 and "the JSON report" in r.stderr and not (tmp_path / "q").exists()


def test_overwrite_set_in_the_configuration_is_turned_off_by_no_overwrite(tmp_path, rng):
    # issue 31, item 8: a flag must be able to say what the configuration says otherwise
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    Image.fromarray(blobs(rng, 20, 30).astype(bool)).save(src / "a.bmp")
    assert imgjobs("compress", src, out).returncode == 0
    env = {**os.environ, "DASK_IMGJOBS__OVERWRITE": "true"}
    kept = imgjobs("compress", src, out, "--no-overwrite", env=env)
    assert kept.returncode == 0 and "1 skipped" in kept.stdout, kept.stdout + kept.stderr
    made = imgjobs("compress", src, out, env=env)
    assert made.returncode == 0 and "1 ok" in made.stdout, made.stdout + made.stderr


def test_a_misspelt_setting_is_named_with_the_one_it_may_mean(tmp_path, rng, caplog):
    # issue 31, item 8: DASK_IMGJOBS__SCHEDULER__WORKER=2 was ignored without a word
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(blobs(rng, 20, 30).astype(bool)).save(src / "a.bmp")
    env = {**os.environ, "DASK_IMGJOBS__SCHEDULER__WORKER": "2"}
    r = imgjobs("compress", src, tmp_path / "out", env=env)
    assert (
        r.returncode == 0
        and (
            "imgjobs.scheduler.worker (from environment variable DASK_IMGJOBS__SCHEDULER__WORKER) is not a setting "
            "of imgjobs: did you mean imgjobs.scheduler.workers?"
        )
        in r.stderr
    ), r.stderr
    with dask.config.set({"imgjobs.rle.target-pixel-per-task": 5, "imgjobs.clusters.mine": {"type": "slurm"}}):
        assert jobs.compress(src, tmp_path / "out2", progress=False).ok
    assert "imgjobs.rle.target-pixel-per-task (from dask.config.set) is not a setting" in caplog.text
    assert "did you mean imgjobs.rle.target-pixels-per-task?" in caplog.text and "clusters.mine" not in caplog.text


@pytest.mark.timeout(180)
def test_host_0000_links_the_dashboard_where_it_listens_and_warns_without_tls(tmp_path, rng):
    # issue 31, item 6: the link named the machine's address, where nothing answered; no TLS went unsaid
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(blobs(rng, 20, 30).astype(bool)).save(src / "a.bmp")
    args = ["compress", src, tmp_path / "out", "--scheduler", "local", "--workers", "1", "--host", "0.0.0.0"]
    plain = imgjobs(*args, "--no-tls", "--dashboard-address", "127.0.0.1:0", timeout=150)
    assert plain.returncode == 0, plain.stderr
    assert re.search(r"Dask dashboard: http://127\.0\.0\.1:\d+/status", plain.stderr), plain.stderr
    assert "listens on 0.0.0.0 without TLS: anyone who reaches this machine" in plain.stderr
    safe = imgjobs(*args, "--dashboard-address", "127.0.0.1:0", "--overwrite", timeout=150)
    assert safe.returncode == 0 and "without TLS" not in safe.stderr, safe.stderr


@pytest.mark.parametrize("job", ["compress", "decompress", "resize"])
def test_one_exit_rule_non_zero_while_the_output_holds_failures_first_run_and_every_rerun(tmp_path, job):
    """docs/cli.md, Exit status: 1 whenever items failed, on the first run and on every rerun, with the
    same FAILED lines; 0 once they are mended."""
    src = tmp_path / "src"
    src.mkdir()
    good = blobs(np.random.default_rng(0), 16, 24).astype(bool)
    Image.fromarray(good).save(src / "good.bmp")
    if job == "decompress":
        (src / "good.bmp").unlink()
        (src / "good.rle").write_bytes(rle.encode(good.astype(np.uint8)))
        bad, args = src / "bad.rle", [src, tmp_path / "out"]
        bad.write_bytes(b"\x05\x00")
    elif job == "compress":
        bad, args = src / "bad.bmp", [src, tmp_path / "out"]
        bad.write_bytes(b"")
    else:
        bad = src / "bad.jpg"
        bad.write_bytes(b"")
        (tmp_path / "list.txt").write_text("src/good.bmp\nsrc/bad.jpg\n")
        args = [tmp_path / "list.txt", "--out", tmp_path / "b.npy", "--size", "8x8"]
    for _ in range(2):  # the first run, then a rerun with nothing else to do
        r = imgjobs(job, *args, "--no-progress")
        assert r.returncode == 1, r.stderr
        assert [line.split(":")[0] for line in r.stderr.splitlines() if line.startswith("FAILED")] == [
            f"FAILED {bad}"
        ], r.stderr
    bad.unlink()  # mended (gone from the source)
    if job == "resize":
        (tmp_path / "list.txt").write_text("src/good.bmp\n")
    r = imgjobs(job, *args, "--no-progress", "--overwrite")
    assert r.returncode == 0 and "FAILED" not in r.stderr, r.stderr
