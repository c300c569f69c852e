"""Bounded submission: a graph sent to a ``distributed`` scheduler a window of tasks at a time.

:func:`submit_windowed` keeps at most ``imgjobs.scheduler.window`` tasks
submitted and unfinished, refilling in chunks (one message each) as results come
back, so a graph of a million tasks costs the scheduler what one of the window
does; :class:`jobs.runtime.runners.Runner` computes through it, keeping finished
tasks known to the scheduler until its run ends (:func:`let_go_lost`).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator

from jobs import config

__all__ = ["LOST_CHECK_S", "keeps_finished_on", "let_go_lost", "submit_windowed"]

#: Seconds between looks for kept results lost with their worker (:func:`let_go_lost`): a look reads each
#: kept future's status (about 0.2 us each: 10 ms for 50,000 tasks), and a lost result may be computed
#: again for at most this long before it is let go.
LOST_CHECK_S = 1.0


def submit_windowed(client, graph: dict, window: int, live: dict, ready, kept: dict | None = None) -> Iterator[list]:
    """Submit ``graph``'s tasks to ``client`` at most ``window`` at a time; yield the futures as they finish.

    A run keeps a bounded number of tasks on the scheduler, submitting more as
    results come back, so a graph of a million tasks costs the scheduler what
    one of ``window`` does, and nothing waits long to be sent.  Tasks go in an
    order where every dependency comes first, in chunks of at least a quarter of
    the window (one message to the scheduler each, not one a task); a finished
    task's future is let go (or ``kept``) as soon as no task still to run needs
    it, so no intermediate result waits in a worker's memory (a worker that
    leaves later costs only what it was running).

    Parameters
    ----------
    client : distributed.Client
    graph : dict
        Key -> ``(function, *arguments)``; an argument equal to a key (or a list of them) is that task's result.
    window : int
        Most tasks submitted and not yet finished.
    live : dict
        Filled with key -> future of every task submitted and still wanted (to cancel them on failure).
    ready : distributed.as_completed
        Where finished futures arrive.
    kept : dict, optional
        Given, a finished task that no task still to run needs is kept here
        (key -> future) rather than let go: the scheduler keeps knowing it, and
        its small result, until the caller releases it, so that the
        dashboard's progress counts it done instead of forgetting it.  A dependency
        is still let go (its result may be large); it stays known, as done, while
        a task that used it is kept.  A kept result lost with its worker is let go
        within :data:`LOST_CHECK_S` rather than computed again (:func:`let_go_lost`).

    Yields
    ------
    list of distributed.Future
        The futures finished since the last batch: their results are there to
        gather until the generator is resumed.
    """
    order, deps, users = _order(graph)
    pending = collections.deque(order)
    inflight = 0
    chunk = max(1, window // 4)
    look = time.monotonic() + LOST_CHECK_S
    while pending or inflight:
        free = window - inflight
        if pending and free >= min(chunk, len(pending)):
            keys = [pending.popleft() for _ in range(min(free, len(pending)))]
            _submit(client, graph, keys, live, ready)
            inflight += len(keys)
        batch = ready.next_batch(block=True)
        inflight -= len(batch)
        yield batch
        for fut in batch:
            key = fut.key
            for dep in deps[key]:
                users[dep] -= 1
                if users[dep] == 0 and dep in live:  # no task left needs it: the cluster may forget it
                    live.pop(dep).release()
            if users[key] == 0:
                fut = live.pop(key)
                if kept is None:
                    fut.release()
                else:
                    kept[key] = fut
        if kept and time.monotonic() >= look:
            let_go_lost(kept)
            look = time.monotonic() + LOST_CHECK_S


def let_go_lost(kept: dict) -> None:
    """Release the futures of ``kept`` whose results were lost with their worker, and drop them from it.

    The scheduler computes a lost result again for as long as a client holds its
    future; a kept one was gathered already, so computing it again would only
    repeat work a worker that left had done.  Let go, the scheduler forgets it.
    """
    for key in [key for key, fut in kept.items() if fut.status == "lost"]:
        kept.pop(key).release()


def _submit(client, graph: dict, keys: list, live: dict, ready) -> None:
    """Send the tasks ``keys`` of ``graph`` in one message; a dependency outside them is its future in ``live``."""
    chunk = set(keys)
    sub = {key: (graph[key][0], *(_resolved(a, graph, live, chunk) for a in graph[key][1:])) for key in keys}
    for key, fut in zip(keys, client.get(sub, keys, sync=False), strict=True):
        live[key] = fut
        ready.add(fut)


def _resolved(arg, graph: dict, live: dict, chunk: set):
    """A task's argument with references to keys of other chunks (alone or in a list) replaced by their futures."""
    if isinstance(arg, list):
        return [_resolved(a, graph, live, chunk) for a in arg]
    try:
        return live[arg] if arg in graph and arg not in chunk else arg
    except TypeError:  # not hashable: no key
        return arg


def _order(graph: dict) -> tuple[list, dict, dict]:
    """An order of ``graph``'s keys with every dependency first; each key's dependencies; how many tasks use each."""
    deps: dict = {}
    users: dict = dict.fromkeys(graph, 0)
    for key, task in graph.items():
        found = []
        for arg in task[1:]:
            for a in arg if isinstance(arg, list) else (arg,):
                try:
                    if a in graph:
                        found.append(a)
                except TypeError:
                    continue
        deps[key] = found
        for d in found:
            users[d] += 1
    order, done = [], set()
    for key in graph:  # planners insert dependencies first: one pass, a walk only when one is not
        stack = [key]
        while stack:
            k = stack[-1]
            if k in done:
                stack.pop()
                continue
            missing = [d for d in deps[k] if d not in done]
            if missing:
                stack.extend(missing)
                continue
            done.add(k)
            order.append(k)
            stack.pop()
    return order, deps, users


def keeps_finished_on(kind: str, client=None) -> bool:
    """``imgjobs.scheduler.keep-finished`` for a runner of ``kind``: ``auto`` is true but where workers retire
    on lifetimes: a batch system's cluster (staggered lifetimes), or a ``client`` whose workers have one
    (``--lifetime``).  A kept result there is moved to a peer as its worker leaves, or, lost with it,
    computed again until it is let go: costs a long run pays many times over."""
    value = config.get("scheduler.keep-finished")
    if isinstance(value, str) and value.strip().lower() == "auto":
        return kind != "cluster" and not (client is not None and _workers_retire(client))
    return config.get_bool("scheduler.keep-finished")


def _lifetime(dask_worker) -> float | None:
    """A worker's lifetime in seconds (None: it stays), as ``client.run`` asks it."""
    return getattr(dask_worker, "lifetime", None)


def _workers_retire(client) -> bool:
    """Whether any worker of ``client`` leaves on a lifetime (one round trip; False if it cannot be asked)."""
    try:
        return any(client.run(_lifetime).values())
    except Exception:  # a worker that cannot answer is no reason to fail a run: keep as asked
        return False
