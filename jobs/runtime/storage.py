"""Where bytes live: local paths, and URLs read through fsspec (``s3://``, ``gs://``, ``https://``...).

A path a user names may be a local path or a URL.  Local paths (and
``file://`` URLs, which become them) keep the local fast path: ``open``,
``fstat``, ``pread``.  Any other URL goes through :func:`fsspec.core.url_to_fs`,
as dask, xarray and img2dataset do, with the options of :class:`Storage`:
credentials come from where fsspec and the cloud SDKs look (the environment,
``~/.aws``, ``~/.config/gcloud``) or from ``storage_options``; they never appear
in a ``repr``, a log line, a report or a record.

A URL's **stamp** (:func:`jobs.runtime.stamps.of_url`) is what the
store says of the object, asked before its bytes are read: its size and ETag
where it gives one (S3, GCS, most HTTP servers), else its size and modification
time; a store that gives neither is read and digested.  Asked before the read,
a stamp is never newer than the bytes it stands for: an object replaced between
the two is seen as changed by the next run, never the other way round.

fsspec, s3fs and the other back ends are imported only when a URL is met.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from jobs.errors import UsageError

__all__ = [
    "MAX_OBJECT_BYTES",
    "Storage",
    "is_chained",
    "is_directory",
    "is_http",
    "is_url",
    "list_directory",
    "local_path",
    "object_info",
    "object_version",
    "read_object",
    "read_range",
    "store_url",
    "url_parent",
]

#: The most bytes read from one object to decode or digest it (a store may say anything of its size).
MAX_OBJECT_BYTES = 1 << 30

#: A URL: a scheme (RFC 3986: a letter, then letters, digits, ``+``, ``-``, ``.``) and ``://``, after any of
#: fsspec's chained protocols (``simplecache::s3://bucket/key``).
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*::)*[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path) -> bool:
    """Whether ``path`` is a URL other than ``file://`` (those are local paths: :func:`local_path`).

    >>> is_url("s3://bucket/a.jpg"), is_url("https://host/a.jpg"), is_url("/data/a.jpg"), is_url("file:///a.jpg")
    (True, True, False, False)
    >>> is_url("simplecache::s3://bucket/train.txt")
    True
    """
    path = str(path)
    return "://" in path and _URL.match(path) is not None and not path.startswith("file://")


def local_path(path: str) -> str:
    """``path`` with a ``file://`` scheme taken off (``file:///data/a.jpg`` -> ``/data/a.jpg``); else as given.

    >>> local_path("file:///data/a.jpg"), local_path("a.jpg")
    ('/data/a.jpg', 'a.jpg')
    """
    if path.startswith("file://"):
        return path[len("file://") :] or "/"
    return path


def is_chained(url: str) -> bool:
    """Whether ``url`` goes through one of fsspec's chained protocols (``simplecache::s3://...``)."""
    return "::" in url.split("://", 1)[0]


def is_http(url: str) -> bool:
    """Whether ``url`` is served over HTTP(S), whose paths are percent-encoded."""
    return url.lower().startswith(("http://", "https://"))


def store_url(out: str, storage: Storage | None) -> str:
    """An output at a URL in one spelling (:meth:`Storage.canonical`); a UsageError for one that cannot be
    written (a chained URL: a cache is for reading) or whose store fsspec does not know."""
    if is_chained(out):
        raise UsageError(f"output {out}: a chained URL (simplecache::...) is for reading; name the store itself")
    try:
        return (storage or Storage()).canonical(out.rstrip("/"))
    except Exception as e:  # the back end's own errors: an unknown protocol, a missing package
        raise UsageError(f"output {out}: {(storage or Storage()).scrub(str(e))}") from None


def url_parent(url: str) -> str:
    """The "directory" of a URL, with its trailing ``/``: where a list's relative entries are taken from.

    >>> url_parent("s3://bucket/lists/train.txt")
    's3://bucket/lists/'
    """
    return url[: url.rfind("/") + 1]


class Storage:
    """The fsspec options every URL of a job is opened with; small and picklable, its values never shown.

    Parameters
    ----------
    options : mapping, optional
        fsspec's ``storage_options``: keyword arguments of the file system a URL
        names (``{"anon": True}``, ``{"client_kwargs": {"endpoint_url": ...}}``).
        A key that names a protocol and holds a mapping (``{"s3": {...}, "https":
        {...}}``) applies to that protocol's URLs only, on top of the others.

    >>> Storage({"key": "AKIA...", "secret": "hush"})
    Storage(options: key, secret)
    """

    __slots__ = ("options",)

    def __init__(self, options: Mapping[str, Any] | None = None):
        self.options = dict(options or {})

    def __repr__(self) -> str:
        return f"Storage(options: {', '.join(sorted(self.options)) or 'none'})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Storage) and other.options == self.options

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.options)))

    def __reduce__(self):
        return Storage, (self.options,)

    def scrub(self, text: str) -> str:
        """``text`` (a back end's error message) with every value of these options taken out: an endpoint or
        a key a store's SDK repeats in its message is never shown."""
        values: list[str] = []

        def walk(v) -> None:
            if isinstance(v, Mapping):
                for x in v.values():
                    walk(x)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    walk(x)
            elif isinstance(v, str) and len(v) >= 4:
                values.append(v)

        walk(self.options)
        for v in sorted(values, key=len, reverse=True):
            text = text.replace(v, "<a storage option>")
        return text

    def canonical(self, url: str) -> str:
        """``url`` as one spelling of its place: the store's own protocol name (``s3a://`` -> ``s3://``) and no
        empty path parts (``s3://b//k`` -> ``s3://b/k``), so that two spellings of one output share one stage
        and its lock."""
        if is_chained(url):
            return url
        fs, path = self.filesystem(url)
        protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
        if protocol in ("http", "https"):
            return url
        while "//" in path:
            path = path.replace("//", "/")
        return f"{protocol}://{path.strip('/')}"

    def for_protocol(self, protocol: str) -> dict:
        """The options for ``protocol``'s file system: the shared ones, then that protocol's own."""
        import fsspec  # start-up: fsspec (~90 ms) loads when a URL is met, not for local files

        known = set(fsspec.available_protocols())
        shared = {k: v for k, v in self.options.items() if not (k in known and isinstance(v, Mapping))}
        own = self.options.get(protocol)
        return {**shared, **(dict(own) if isinstance(own, Mapping) and protocol in known else {})}

    def filesystem(self, url: str):
        """``(file system, path in it)`` for ``url`` (:func:`fsspec.core.url_to_fs`, instances cached by fsspec)."""
        from fsspec.core import split_protocol, url_to_fs  # start-up: fsspec (~90 ms) only for a URL

        if is_chained(url):  # a chain (simplecache::s3://...): fsspec takes options per protocol
            return url_to_fs(url, **self.options)
        protocol = split_protocol(url)[0] or "file"
        return url_to_fs(url, **self.for_protocol(protocol))


def _stamp_fields(info: Mapping) -> tuple[int | None, str | None]:
    """The size an object's ``info`` gives, and its version: the ETag, else its modification time, else None."""
    size = info.get("size")
    size = int(size) if isinstance(size, int) or (isinstance(size, str) and size.isdigit()) else None
    for key in ("ETag", "etag", "md5Hash", "Last-Modified", "LastModified", "mtime", "updated", "last_modified"):
        value = info.get(key)
        if value not in (None, ""):
            kind = "etag" if key.lower() in ("etag", "md5hash") else "time"
            return size, f"{kind}:{str(value).strip(chr(34))}"
    return size, None


def object_info(url: str, storage: Storage | None = None) -> dict:
    """What the store says of the object at ``url`` now (fresh: fsspec's listings cache is not used).

    Raises
    ------
    FileNotFoundError
        There is no such object.
    IsADirectoryError
        The URL names a prefix or a directory, not an object.
    OSError, and the back end's own errors
        The store cannot be reached or refuses access.
    """
    fs, path = (storage or Storage()).filesystem(url)
    fs.invalidate_cache(path)
    info = dict(fs.info(path))
    if info.get("type") not in (None, "file"):
        raise IsADirectoryError(f"{url}: a {info.get('type')}, not an object")
    return info


def object_version(url: str, storage: Storage | None = None) -> tuple[int | None, str | None]:
    """The size the store gives the object at ``url`` now, and its version: ``etag:<ETag>``, else
    ``time:<modification time>``, else None (the store offers neither, or the URL reads through a cache
    (``simplecache::``) whose bytes may be older than what the store says: a stamp must read it).

    Raises what :func:`object_info` raises.
    """
    if is_chained(url):  # a cache's copy may be older than what the store says: a stamp must read it
        return None, None
    return _stamp_fields(object_info(url, storage))


def read_object(url: str, storage: Storage | None = None, limit: int | None = None):
    """``(bytes, size, version)`` of the object at ``url``: its version (:func:`object_version`) asked first.

    ``limit``: the most bytes read; an object the store says is larger is not read,
    and one that turns out larger than it said (a store that lies) is cut off and
    refused.  An object whose bytes are not as many as the store said changed while
    it was read: refused, so no version ever stands for other bytes.

    Raises
    ------
    OSError
        Why the object cannot be read (no such object, too large, changed while
        read); the back end's own errors for a store that fails.
    """
    fs, path = (storage or Storage()).filesystem(url)
    if is_chained(url):  # a cache serves its copy: what the store says now may be of other bytes
        with fs.open(path, "rb") as f:
            data = f.read(-1 if limit is None else limit + 1)
        if limit is not None and len(data) > limit:
            raise OSError(f"over the {limit:,} bytes read from one object")
        return data, len(data), None  # no version: the bytes read are digested
    fs.invalidate_cache(path)
    info = dict(fs.info(path))
    if info.get("type") not in (None, "file"):
        raise IsADirectoryError(f"a {info.get('type')}, not an object")
    size, version = _stamp_fields(info)
    if limit is not None and size is not None and size > limit:
        raise OSError(f"{size:,} bytes, over the {limit:,} read from one object")
    caps = [n + 1 for n in (size, limit) if n is not None]  # one byte past what may come: a lie shows
    if size == 0:
        data = b""
    elif caps:
        data = bytes(fs.cat_file(path, start=0, end=min(caps)))  # one GET, for at most that many bytes
    else:
        data = bytes(fs.cat_file(path))
    if limit is not None and len(data) > limit:
        raise OSError(f"over the {limit:,} bytes read from one object (the store said {size})")
    if size is not None and len(data) != size:
        raise OSError(f"changed while it was read ({len(data):,} bytes read, {size:,} said): run again")
    return data, size, version


def is_directory(url: str, storage: Storage | None = None) -> bool:
    """Whether ``url`` names a "directory" (a prefix holding objects): one that ends in ``/``, or one the
    store says is (an HTTP server's is the first kind only: a page of links is not told from a file)."""
    if url.endswith("/"):
        return True
    fs, path = (storage or Storage()).filesystem(url)
    if fs.protocol in ("http", "https") or "http" in fs.protocol:
        return False
    fs.invalidate_cache(path)
    return bool(fs.isdir(path))


def list_directory(
    url: str, storage: Storage | None, extensions
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """One listing of the "directory" ``url``: ``(name, URL)`` of the objects right in it whose extension
    (lower case, with the dot) is one of ``extensions``, and of the "directories" in it; both sorted by
    name, hidden names (``.name``) left out.  A name is as people read it (an HTTP server's links are
    percent-encoded: decoded here), the URL as the store takes it.  The store pages a long listing (S3:
    1,000 keys a request).

    Raises
    ------
    FileNotFoundError
        Nothing is there.
    """
    fs, path = (storage or Storage()).filesystem(url)
    fs.invalidate_cache(path)
    base = url.rstrip("/") + "/"
    files, folders = [], []
    for entry in fs.ls(path, detail=True):
        raw = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
        name = unquote(raw) if is_http(url) else raw
        if not name or name.startswith("."):
            continue
        if entry.get("type") == "directory":
            folders.append((name, base + raw))
        elif "." in name and name[name.rfind(".") :].lower() in extensions:
            files.append((name, base + raw))
    return sorted(files), sorted(folders)


def read_range(url: str, storage: Storage | None, begin: int, end: int) -> bytes:
    """Bytes ``begin..end`` of the object at ``url`` (one ranged request; a server that ignores ranges, such
    as Python's ``http.server``, sends it whole, and the range is cut from that)."""
    fs, path = (storage or Storage()).filesystem(url)
    data = bytes(fs.cat_file(path, start=begin, end=end))
    if len(data) > end - begin and len(data) >= end:  # the whole object, not the range
        return data[begin:end]
    return data
