"""TLS for the clusters imgjobs starts or joins: certificate files, temporary certificates, ``imgjobs certs``."""

from __future__ import annotations

import contextlib
import os

from jobs import config
from jobs.errors import UsageError

__all__ = ["security", "write_certificates"]


def _dashed(section) -> dict:
    """A config section with ``_`` in keys read as ``-`` (environment variables give ``memory_gib``)."""
    return {str(k).replace("_", "-"): v for k, v in dict(section or {}).items()}


def _tls_files(section) -> tuple[str, str, str] | None:
    section = _dashed(section)
    files = [section.get(k) for k in ("ca-file", "cert", "key")]
    if not any(files):
        return None
    if not all(files):
        raise UsageError("TLS needs all three of ca-file, cert and key (imgjobs.tls)")
    files = [os.path.expanduser(os.path.expandvars(f)) for f in files]
    for f in files:
        if not os.path.isfile(f):
            raise UsageError(f"TLS file {f} does not exist (make a set with `imgjobs certs DIR`)")
    return files[0], files[1], files[2]


def security(tls: bool, *, temporary: bool = False):
    """The :class:`distributed.Security` for TLS, or None without it.

    Parameters
    ----------
    tls : bool
        Whether to use TLS.
    temporary : bool
        Without certificate files, make temporary certificates (for a cluster
        whose scheduler starts here) instead of failing.

    Raises
    ------
    UsageError
        When files are needed but not configured, or incomplete.
    """
    if not tls:
        return None
    from distributed import Security  # start-up: distributed (~0.5 s) only for the clusters that need it

    files = _tls_files(config.get("tls"))
    if files:
        ca, cert, key = files
        return Security(
            require_encryption=True,
            tls_ca_file=ca,
            tls_client_cert=cert,
            tls_client_key=key,
            tls_scheduler_cert=cert,
            tls_scheduler_key=key,
            tls_worker_cert=cert,
            tls_worker_key=key,
        )
    if temporary:
        try:
            return Security.temporary()
        except ImportError:
            raise UsageError('TLS needs the cryptography package: pip install "imgjobs[hpc]" (or --no-tls)') from None
    raise UsageError(
        "TLS with a running scheduler needs certificate files: set imgjobs.tls.ca-file, cert and key "
        "(`imgjobs certs DIR` makes a set; start the scheduler and workers with the same files)"
    )


def write_certificates(directory: str) -> dict:
    """Write a self-signed CA/cert/key set for a private Dask cluster into ``directory``.

    One certificate serves every role and is its own authority, as
    :meth:`distributed.Security.temporary` does in memory.  Both files are
    created new (never an existing file or a symbolic link: another user may
    have planted one in a shared directory), the key with mode 600.

    Returns
    -------
    dict
        ``{"ca-file": path, "cert": path, "key": path}``, the shape of ``imgjobs.tls``.

    Raises
    ------
    UsageError
        When ``directory`` is a file, or the files already exist.
    """
    from distributed import Security  # start-up: distributed (~0.5 s) only for the clusters that need it

    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"{directory} is a file: `imgjobs certs` writes cert.pem and key.pem into a directory")
    try:
        sec = Security.temporary()
    except ImportError:
        raise UsageError('making certificates needs the cryptography package: pip install "imgjobs[hpc]"') from None
    os.makedirs(directory, mode=0o700, exist_ok=True)
    paths = {k: os.path.abspath(os.path.join(directory, f)) for k, f in (("cert", "cert.pem"), ("key", "key.pem"))}
    paths["ca-file"] = paths["cert"]  # self-signed: the certificate is its own authority
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = []
    try:
        for kind, text, mode in (("key", sec.tls_client_key, 0o600), ("cert", sec.tls_client_cert, 0o644)):
            try:
                fd = os.open(paths[kind], flags, mode)
            except FileExistsError:
                raise UsageError(
                    f"{paths[kind]} exists: remove cert.pem and key.pem first, or choose a new directory "
                    "(imgjobs never writes a key into a file it did not create)"
                ) from None
            written.append(paths[kind])
            with os.fdopen(fd, "w") as f:
                os.fchmod(f.fileno(), mode)  # whatever the umask
                f.write(text)
    except BaseException:
        for p in written:
            with contextlib.suppress(OSError):
                os.remove(p)
        raise
    return {"ca-file": paths["ca-file"], "cert": paths["cert"], "key": paths["key"]}
