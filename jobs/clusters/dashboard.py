"""The dashboard of a cluster: its link (honouring ``distributed.dashboard.link``), and how to open it from a
laptop (``ssh -L``) or under JupyterHub (its proxy)."""

from __future__ import annotations

import getpass
import logging
import os
import socket
from urllib.parse import urlsplit

__all__ = ["client_link", "dashboard_link", "tunnel_hint"]

log = logging.getLogger(__name__)


def dashboard_link(client, listen: str | None) -> str | None:
    """The dashboard's link where it really listens (``listen``, e.g. ``127.0.0.1:8787``), not on the
    scheduler's interface address that ``client.dashboard_link`` shows.

    The link is made by distributed's own ``format_dashboard_link``, so it honours
    ``distributed.dashboard.link``: a JupyterHub site that sets it to
    ``{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status`` gets its proxy's link.
    """
    link = client_link(client)
    if not link or not listen:
        return link
    host = listen.rsplit(":", 1)[0].strip("[]") if ":" in listen else listen
    if host in ("", "0.0.0.0", "::", "*"):
        return link
    port = (client.scheduler_info().get("services") or {}).get("dashboard")
    if port is None:
        return link
    return _format(host, port)


def _format(host: str, port) -> str:
    """distributed's link for ``host:port`` (``distributed.dashboard.link``); a template naming an
    environment variable that is not set gives the plain address, with a warning, not a KeyError."""
    from distributed.utils import format_dashboard_link  # start-up: distributed (~0.5 s), loaded by a client already

    try:
        return format_dashboard_link(host, port)
    except KeyError as e:
        log.warning("distributed.dashboard.link names %s, which is not set here: the plain address instead", e)
        return f"http://{host}:{port}/status"


def client_link(client) -> str | None:
    """``client.dashboard_link``, or the plain address when ``distributed.dashboard.link`` cannot be filled."""
    try:
        return client.dashboard_link
    except KeyError:
        info = client.scheduler_info()
        port = (info.get("services") or {}).get("dashboard")
        if port is None:
            return None
        host = urlsplit(info.get("address", "")).hostname or "127.0.0.1"
        return _format(host, port)


def tunnel_hint(dashboard_link: str | None) -> str | None:
    """How to open ``dashboard_link`` from where the user is, or None.

    Under JupyterHub (``JUPYTERHUB_SERVICE_PREFIX`` is set), the hub's proxy
    (jupyter-server-proxy) serves it at ``<prefix>proxy/<port>/status``: no
    tunnel needed.  Elsewhere, the ``ssh -L`` command that brings it to a
    laptop: run on a login node (or a compute node reached through one), it
    forwards the dashboard's port through this host.
    """
    if not dashboard_link:
        return None
    parts = urlsplit(dashboard_link)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if not parts.scheme or (prefix and prefix.rstrip("/") + "/proxy/" in parts.path):
        return None  # already the hub's proxy (distributed.dashboard.link): nothing to add
    host, port = parts.hostname, parts.port or 80
    if prefix:
        return f"under JupyterHub: open {prefix.rstrip('/')}/proxy/{port}/status on the hub (jupyter-server-proxy)"
    user = getpass.getuser()
    here = socket.getfqdn()
    submit = os.environ.get("PBS_O_HOST") or os.environ.get("SLURM_SUBMIT_HOST")
    target = "127.0.0.1" if host in ("127.0.0.1", "localhost", "::1") else host
    if submit and submit != here:  # in a batch job: hop through the login node
        via = f"-J {user}@{submit} " if target == "127.0.0.1" else ""
        login = here if target == "127.0.0.1" else submit
        tunnel = f"ssh -N {via}-L {port}:{target}:{port} {user}@{login}"
    else:
        tunnel = f"ssh -N -L {port}:{target}:{port} {user}@{here}"
    return f"from a laptop: {tunnel}  # then open http://localhost:{port}{parts.path}"
