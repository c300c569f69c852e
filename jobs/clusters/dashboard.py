"""The dashboard of a cluster: its link, and the ``ssh -L`` command that opens it from a laptop."""

from __future__ import annotations

import getpass
import os
import socket
from urllib.parse import urlsplit

__all__ = ["dashboard_link", "tunnel_hint"]


def dashboard_link(client, listen: str | None) -> str | None:
    """The dashboard's address where it really listens (``listen``, e.g. ``127.0.0.1:8787``), not the
    scheduler's interface address that ``client.dashboard_link`` shows."""
    link = client.dashboard_link
    if not link or not listen:
        return link
    host = listen.rsplit(":", 1)[0].strip("[]") if ":" in listen else listen
    if host in ("", "0.0.0.0", "::", "*"):
        return link
    parts = urlsplit(link)
    return f"{parts.scheme}://{host}:{parts.port}{parts.path}"


def tunnel_hint(dashboard_link: str | None) -> str | None:
    """The ``ssh -L`` command that brings ``dashboard_link`` to a laptop, or None.

    Run on a login node (or a compute node reached through one), the command
    forwards local port 8787 to the dashboard through this host.
    """
    if not dashboard_link:
        return None
    parts = urlsplit(dashboard_link)
    host, port = parts.hostname, parts.port or 80
    user = getpass.getuser()
    here = socket.getfqdn()
    submit = os.environ.get("PBS_O_HOST") or os.environ.get("SLURM_SUBMIT_HOST")
    target = "127.0.0.1" if host in ("127.0.0.1", "localhost", "::1") else host
    if submit and submit != here:  # in a batch job: hop through the login node
        via = f"-J {user}@{submit} " if target == "127.0.0.1" else ""
        login = here if target == "127.0.0.1" else submit
        return f"ssh -N {via}-L {port}:{target}:{port} {user}@{login}  # then open http://localhost:{port}{parts.path}"
    return f"ssh -N -L {port}:{target}:{port} {user}@{here}  # then open http://localhost:{port}{parts.path}"
