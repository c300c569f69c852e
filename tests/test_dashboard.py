"""The Dask dashboard tells the truth about a run: its Progress panel counts finished tasks.

A run keeps its finished tasks known to the scheduler, with their small
results, until it ends (:func:`jobs.runtime.window.submit_windowed`'s ``kept``):
a task the scheduler forgot is no longer counted, and the panel's total shrank
instead of its done count growing.  The cheap tests ask the scheduler's own
panel component mid-run; the browser test opens the dashboard in a real headless
Chromium during a run and reads the numbers the page shows.  CI (as root)
installs Debian's ``chromium`` and sets ``IMGJOBS_REQUIRE_BROWSER=1``, so that
the browser test runs there, never skips.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import dask
import numpy as np
import pytest
from PIL import Image

import jobs
from jobs.runtime.progress import Progress

#: The panel's row of the resize job's batch tasks (distributed's key_split of their keys).
ROW = "resize-batch"


def _jpeg_list(tmp_path, n: int) -> str:
    """A list of ``n`` lines naming one small JPEG: ``n`` images to resize, written once."""
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), np.uint8)).save(tmp_path / "a.jpg", quality=90)
    listfile = tmp_path / "list.txt"
    listfile.write_text("a.jpg\n" * n)
    return str(listfile)


def _panel(dask_scheduler) -> dict:
    """The dashboard's Progress panel (distributed's TaskProgress) drawn now: row name -> (done, total)."""
    from distributed.dashboard.components.scheduler import TaskProgress

    panel = TaskProgress(dask_scheduler)
    panel.update()
    return _rows(panel.source.data)


def _rows(data) -> dict:
    """The panel's rows from its data: name -> (done, total), from the "done / total" text each row shows."""
    return {
        name: tuple(int(n) for n in done.split(" / ")) for name, done in zip(data["name"], data["done"], strict=True)
    }


def _run_keys(dask_scheduler) -> list:
    """The keys of a resize run the scheduler still knows."""
    from dask.utils import key_split

    return [k for k in dask_scheduler.tasks if key_split(k).startswith(("resize-", "imgjobs-map"))]


@pytest.fixture(scope="module")
def local():
    """A LocalCluster of 2 worker threads, 1 each: quick to start, its scheduler in this process."""
    from distributed import LocalCluster

    with dask.config.set({"logging.distributed": "error"}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
            yield c


class _Hook(Progress):
    """A silent progress that calls ``seen(k)`` after the k-th task of the run lands (gathered, not yet let go)."""

    def __init__(self, seen):
        super().__init__(enabled=False, dashboard=False)
        self.seen, self.landed = seen, 0

    def update(self, units: int, files: int = 0) -> None:
        super().update(units, files)
        self.landed += 1
        self.seen(self.landed)


@pytest.mark.timeout(120)
def test_finished_tasks_stay_counted_on_the_scheduler_until_the_run_ends(local, tmp_path):
    from distributed import Client

    listfile = _jpeg_list(tmp_path, 40)
    with Client(local) as client:
        readings: list = []
        hook = _Hook(lambda k: readings.append((k, client.run_on_scheduler(_panel))))
        # a window of 4: most tasks are not yet on the scheduler when the first ones land
        with dask.config.set({"imgjobs.scheduler.window": 4}):
            report = jobs.resize(listfile, tmp_path / "b.npy", size="8x8", batch_size=2, client=client, progress=hook)
        assert report.ok and report.tasks >= 20
        rows = [(k, panel[ROW]) for k, panel in readings]
        assert len(rows) == 20  # one reading as each batch task landed
        totals = [total for _, (_, total) in rows]
        assert totals == sorted(totals) and totals[0] < 20  # the total grows with the window, never shrinks
        for k, (done, total) in rows:
            assert k <= done <= total, rows  # every task landed so far still counted done
        assert rows[-1][1] == (20, 20)
        # the run released every task it kept when it ended: the scheduler forgets them
        deadline = time.monotonic() + 30
        while client.run_on_scheduler(_run_keys):
            assert time.monotonic() < deadline, client.run_on_scheduler(_run_keys)
            time.sleep(0.05)


def _fail(*_):
    raise ZeroDivisionError("a task that fails")


@pytest.mark.timeout(120)
def test_a_failed_run_lets_go_of_what_it_kept(local):
    from distributed import Client

    from jobs.runtime.runners import Runner

    graph: dict = {("landed", i): (_counted, i) for i in range(6)}
    graph[("fails", 0)] = (_fail,)  # sent last: the others landed and were kept
    with Client(local) as client:
        runner = Runner("client", 2, "a client", client=client)
        with pytest.raises(ZeroDivisionError) as failed, dask.config.set({"imgjobs.scheduler.window": 2}):
            runner.compute(graph, list(graph), {}, None)
        assert failed.traceback  # the run's frames are still alive here: only a release lets the scheduler forget
        deadline = time.monotonic() + 5  # a release takes milliseconds
        while keys := client.run_on_scheduler(lambda dask_scheduler: [k for k in dask_scheduler.tasks if k in graph]):
            assert time.monotonic() < deadline, keys
            time.sleep(0.05)


def _known(keys, dask_scheduler=None) -> int:
    return sum(key in dask_scheduler.tasks for key in keys)


def _landed_counts(client, name: str, keep: bool) -> list:
    """Run 8 tasks a window of 2 at a time; how many of them the scheduler knows as each one lands."""
    from jobs.runtime.runners import Runner

    graph = {(name, i): (_counted, i) for i in range(8)}
    known: list = []
    hook = _Hook(lambda k: known.append(client.run_on_scheduler(_known, list(graph))))
    runner = Runner("client", 2, "a client", client=client)
    with dask.config.set({"imgjobs.scheduler.window": 2, "imgjobs.scheduler.keep-finished": keep}):
        runner.compute(graph, list(graph), dict.fromkeys(graph, (1, 1)), hook)
    return known


@pytest.mark.timeout(120)
def test_keep_finished_false_lets_each_task_go_as_it_lands(local):
    from distributed import Client

    with Client(local) as client:
        kept = _landed_counts(client, "kept", True)
        let_go = _landed_counts(client, "let-go", False)
    assert kept == sorted(kept) and kept[-1] == 8, kept  # every one counted to the end
    assert let_go[-1] < 8, let_go  # the scheduler forgot those that landed first


_GO = threading.Event()
_RUNS: dict = {}


@contextlib.contextmanager
def _going():
    try:
        yield
    finally:
        _GO.set()  # whatever happens, the busy thread ends


def _state_of_busy(dask_scheduler):
    return getattr(dask_scheduler.tasks.get("busy"), "state", None)


#: Set once the busy task runs in its worker's thread (the scheduler's "processing" is said before it does).
_BUSY_RUNS = threading.Event()


def _busy() -> None:
    """Keep a worker's only thread until the test says go."""
    _BUSY_RUNS.set()
    _GO.wait(60)


def _counted(i):
    _RUNS[i] = _RUNS.get(i, 0) + 1
    return i


@pytest.mark.timeout(120)
def test_a_kept_result_lost_with_its_worker_is_let_go_not_computed_again():
    from distributed import Client, LocalCluster, as_completed

    from jobs.runtime.window import let_go_lost, submit_windowed

    _GO.clear()
    _BUSY_RUNS.clear()
    _RUNS.clear()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        with Client(lc) as client, _going():
            graph = {("kept", i): (_counted, i) for i in range(8)}
            kept: dict = {}
            for _ in submit_windowed(client, graph, 8, {}, as_completed(loop=client.loop), kept):
                pass
            assert sorted(kept) == sorted(graph) and all(f.status == "finished" for f in kept.values())
            where = client.who_has(list(kept.values()))
            a, b = sorted(lc.scheduler.workers)
            on_a = [k for k in kept if a in where[k]]
            if not on_a:  # all landed on b: lose b instead
                a, b = b, a
                on_a = [k for k in kept if a in where[k]]
            busy = client.submit(_busy, workers=[b], key="busy")  # b's one thread, taken
            deadline = time.monotonic() + 30
            while client.run_on_scheduler(_state_of_busy) != "processing":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            # running in b's thread, not only assigned to b: a lost task given to b waits behind it, whatever
            # its priority (under load, one assigned first could still take the thread before it)
            assert _BUSY_RUNS.wait(30)
            worker = next(w for w in lc.workers.values() if w.address == a)
            client.sync(worker.close)  # the worker leaves without handing over what it held
            while not all(kept[k].status == "lost" for k in on_a):
                assert time.monotonic() < deadline, {k: f.status for k, f in kept.items()}
                time.sleep(0.02)
            let_go_lost(kept)
            assert sorted(kept) == sorted(set(graph) - set(on_a))  # the others stay kept
            deadline = time.monotonic() + 30
            while set(on_a) & set(client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))):
                assert time.monotonic() < deadline  # let go: the scheduler forgets them, and never runs them again
                time.sleep(0.02)
            _GO.set()
            busy.result(timeout=60)
    assert _RUNS == dict.fromkeys(range(8), 1)  # nothing was computed again


class _Future:
    def __init__(self, key):
        self.key, self.status, self.released = key, "finished", False

    def release(self):
        self.released = True


class _Client:
    """Just what :func:`submit_windowed` asks of a client: ``get`` of a graph, futures back at once."""

    def get(self, graph, keys, sync=True):
        return [_Future(key) for key in keys]


class _Ready:
    def __init__(self):
        self.queue: list = []

    def add(self, fut):
        self.queue.append(fut)

    def next_batch(self, block=True):
        return [self.queue.pop(0)]


def test_a_run_looks_for_lost_results_as_it_goes(monkeypatch):
    from jobs.runtime import window

    monkeypatch.setattr(window, "LOST_CHECK_S", 0.0)
    graph = {("t", i): (_counted, i) for i in range(4)}
    kept: dict = {}
    run = window.submit_windowed(_Client(), graph, 1, {}, _Ready(), kept)
    first = next(run)[0]
    next(run)
    assert kept == {first.key: first} and not first.released  # landed and no task needs it: kept, not let go
    first.status = "lost"  # its worker left: the scheduler would compute it again for us
    list(run)
    assert first.released and first.key not in kept
    assert len(kept) == 3 and not any(f.released for f in kept.values())


def test_a_dashboard_tab_closed_early_logs_no_bokeh_traceback():
    # seen with a headless Chromium killed during a run: tornado logged bokeh's AssertionError twice, 25 lines each
    import logging

    from bokeh.server.connection import ServerConnection

    from jobs.cli.logs import drop_closed_dashboard_sockets as drop

    gone = ServerConnection.__new__(ServerConnection)
    gone._session = None  # what bokeh's keep-alive ping leaves when it finds the socket closed
    try:
        gone.session  # noqa: B018 - the property asserts
    except AssertionError as e:
        exc = e
    record = logging.LogRecord(
        "tornado.application",
        logging.ERROR,
        __file__,
        1,
        "Uncaught exception GET /status/ws (127.0.0.1)",
        None,
        (AssertionError, exc, exc.__traceback__),
    )
    assert not drop(record)
    assert drop(logging.LogRecord("jobs", logging.ERROR, __file__, 1, "a failure", None, None))
    try:
        assert False, "an assertion of imgjobs' own"  # noqa: B011
    except AssertionError as e:
        own = e
    mine = logging.LogRecord("tornado.application", logging.ERROR, __file__, 1, "x", None, (AssertionError, own, None))
    mine.exc_info = (AssertionError, own, own.__traceback__)
    assert drop(mine)


# ---------------------------------------------------------------- the dashboard in a real browser

#: What the page shows in its Progress panel, read from the Bokeh document the browser holds: row -> "done / total".
PANEL_JS = """(() => {
  const doc = window.Bokeh && Bokeh.documents[0];
  const fig = doc && doc.get_model_by_name("task_progress");
  const source = fig && fig.renderers.map(r => r.data_source).find(s => s && s.data && s.data.done);
  if (!source) return null;
  return {title: fig.title.text, name: Array.from(source.data.name), done: Array.from(source.data.done)};
})()"""


class Chromium:
    """A headless Chromium showing ``url``, whose page is read with JavaScript over the DevTools protocol."""

    def __init__(self, exe: str, url: str, profile: str):
        import asyncio

        from tornado.websocket import websocket_connect

        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.loop = asyncio.new_event_loop()
        self.ws = None
        try:
            self.ws = self.loop.run_until_complete(self._connect(profile, websocket_connect))
        except BaseException:
            self._kill()  # nothing it started outlives a failed start
            raise
        self.sent = 0

    async def _connect(self, profile: str, websocket_connect):
        """The DevTools connection to the page (on this loop: tornado binds a connection to the loop running it)."""
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n")):
            assert self.proc.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        pages: list = []
        while not pages:
            assert time.monotonic() < deadline, "chromium opened no page"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [p for p in json.load(r) if p["type"] == "page"]
        return await websocket_connect(pages[0]["webSocketDebuggerUrl"])

    def evaluate(self, js: str):
        """The value of ``js`` in the page (JSON-like)."""
        self.sent += 1
        sent = self.sent

        async def call():
            params = {"expression": js, "returnByValue": True}
            await self.ws.write_message(json.dumps({"id": sent, "method": "Runtime.evaluate", "params": params}))
            while True:
                msg = json.loads(await self.ws.read_message())
                if msg.get("id") == sent:
                    return msg["result"]["result"].get("value")

        return self.loop.run_until_complete(call())

    def panel(self) -> dict:
        """The Progress panel as the page shows it: row -> (done, total); empty before the page is drawn."""
        return _rows(self.evaluate(PANEL_JS) or {"name": [], "done": []})

    def close(self) -> None:
        """Close the browser (its page's websocket closed properly first), and kill what is left of it."""
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.ws.write_message(json.dumps({"id": 0, "method": "Browser.close"})))
            self.proc.wait(10)
        self._kill()

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own process group: renderers and zygotes too
        self.proc.wait()
        if self.ws is not None:
            self.ws.close()
        self.loop.close()


@pytest.fixture
def chromium():
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("IMGJOBS_REQUIRE_BROWSER") == "1":
            raise RuntimeError("IMGJOBS_REQUIRE_BROWSER=1 but no chromium on PATH: apt-get install chromium")
        pytest.skip("needs a browser: apt-get install chromium (CI installs it and sets IMGJOBS_REQUIRE_BROWSER=1)")
    return exe


@pytest.mark.timeout(180)
def test_the_dashboard_progress_panel_in_a_browser_counts_finished_tasks(cluster, tmp_path, chromium):
    from distributed import Client

    listfile = _jpeg_list(tmp_path, 120)
    tasks, window, middle = 30, 6, 10
    paused = {k: threading.Event() for k in (middle, tasks)}
    read = {k: threading.Event() for k in (middle, tasks)}

    def seen(k):  # the run waits, at its 10th task and its last, for the test to read the page
        if k in paused:
            paused[k].set()
            read[k].wait(60)

    browser = Chromium(chromium, cluster.dashboard_link, str(tmp_path / "profile"))
    try:
        deadline = time.monotonic() + 60
        while browser.evaluate(PANEL_JS) is None:  # the page has its Bokeh document from the scheduler
            assert time.monotonic() < deadline, "the dashboard page never drew its Progress panel"
            time.sleep(0.1)
        with Client(cluster) as client, dask.config.set({"imgjobs.scheduler.window": window}):
            out: dict = {}
            hook = _Hook(seen)
            run = threading.Thread(
                target=lambda: out.update(
                    report=jobs.resize(
                        listfile, tmp_path / "b.npy", size="8x8", batch_size=4, client=client, progress=hook
                    )
                )
            )
            run.start()
            try:
                shown = []
                for k in (middle, tasks):
                    assert paused[k].wait(60), "the run never got there"
                    deadline = time.monotonic() + 30
                    while True:  # the page redraws every 100 ms: wait until it shows every task landed so far
                        row = browser.panel().get(ROW)
                        if row and row[0] >= k:
                            break
                        assert time.monotonic() < deadline, f"at task {k} the page shows {browser.evaluate(PANEL_JS)}"
                        time.sleep(0.1)
                    shown.append(row)
                    read[k].set()
            finally:
                for event in read.values():
                    event.set()
                run.join(120)
        assert out["report"].ok
        (done, total), last = shown
        # midway the page counts the tasks that landed (and those that finished since), out of those submitted so far
        assert middle <= done <= total <= middle + window < tasks, shown
        assert last == (tasks, tasks), shown  # at the end: every task done, out of all of them
    finally:
        browser.close()


def test_keep_finished_auto_keeps_but_on_a_batch_systems_cluster():
    """Workers of a batch system retire on staggered lifetimes: a kept result there is moved to a peer, or
    lost and computed again (a 500-task run on 2 s lifetimes took 245 s instead of 25 s)."""
    from jobs.runtime.window import keeps_finished_on as _keeps_finished_on

    for value, local, cluster in (("auto", True, False), (True, True, True), ("false", False, False)):
        with dask.config.set({"imgjobs.scheduler.keep-finished": value}):
            assert (_keeps_finished_on("distributed"), _keeps_finished_on("cluster")) == (local, cluster), value


def test_keep_finished_auto_lets_go_where_the_workers_have_lifetimes():
    """A client of yours (or a scheduler file) whose workers retire on lifetimes (``--lifetime``) pays what a
    batch system's cluster would: ``auto`` asks the workers, once a run."""
    from distributed import Client, LocalCluster

    from jobs.runtime.window import keeps_finished_on as _keeps_finished_on

    class Asked:  # a client whose workers answer, or cannot
        def __init__(self, answer):
            self.answer = answer

        def run(self, fn):
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    with dask.config.set({"imgjobs.scheduler.keep-finished": "auto"}):
        assert not _keeps_finished_on("distributed", Asked({"tcp://a": None, "tcp://b": 3600.0}))
        assert _keeps_finished_on("distributed", Asked({"tcp://a": None}))
        assert _keeps_finished_on("distributed", Asked(OSError("gone")))
        for lifetime, keeps in (("1 hour", False), (None, True)):  # what distributed's workers really say
            with (
                LocalCluster(n_workers=1, processes=False, lifetime=lifetime, dashboard_address=None) as cluster,
                Client(cluster, set_as_default=False) as client,
            ):
                assert _keeps_finished_on("distributed", client) is keeps, lifetime
