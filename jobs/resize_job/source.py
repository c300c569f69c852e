"""What a resize job reads: the file list or class folders, and the labels they give.

A list is ``path [label]`` per line (or a JSON config naming one); class folders
give each image its folder's index.  Labels are whole numbers >= 0 or class names;
everything read is untrusted and refused by line, naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from jobs.errors import UsageError
from jobs.images import IMAGE_EXTENSIONS
from jobs.resize_job.listed import ListedPaths, scan_list, split_list_line
from jobs.runtime.listing import list_inputs
from jobs.runtime.storage import Storage, is_directory, is_url, list_directory, local_path

__all__ = ["FAILED_LABEL", "Source", "name_some", "read_labelled", "read_source", "scan_labelled", "split_list_line"]

log = logging.getLogger(__name__)


#: The label of an image that failed: never a label a source may give (negative labels are refused).
FAILED_LABEL = -1


@dataclass(frozen=True)
class Source:
    """What a resize job reads: the images in order, and their labels when the source has them.

    Attributes
    ----------
    paths : list of str
        Absolute or source-relative image paths, in batch order.
    labels : numpy.ndarray or None
        int64 class index per image (None: the source has no labels).
    classes : list of str or None
        Class names, index -> name: sorted folder names or sorted text labels;
        None when the list's labels are already whole numbers.
    origin : str or None
        Where the labels come from: ``"list"`` or ``"folders"``.
    """

    paths: Sequence
    labels: np.ndarray | None = None
    classes: list | None = None
    origin: str | None = None
    digest: str | None = None

    def head(self, n: int) -> Source:
        """The first ``n`` images (their labels, the same classes)."""
        labels = None if self.labels is None else self.labels[:n]
        return Source(self.paths[:n], labels, self.classes, self.origin)

    def paths_digest(self) -> str:
        """SHA-256 of every path (made absolute) in order, each ended by a NUL: what the batch's identity covers."""
        if self.digest is not None:
            return self.digest
        return self.prefix_digest(len(self.paths))

    def prefix_digest(self, n: int) -> str:
        """:meth:`paths_digest` of the first ``n`` paths, hashed as this source hashes them (a list's scan: each
        path as read): whether an earlier batch's list is the start of this one."""
        h = hashlib.sha256()
        as_read = self.digest is not None
        for p in itertools.islice(self.paths, n):
            h.update((p if as_read or is_url(p) else os.path.abspath(p)).encode("utf-8", "surrogateescape") + b"\0")
        return h.hexdigest()


def _read_list(
    path: str, limit: int | None = None, watch: Collection[str] = (), storage: Storage | None = None
) -> Source:
    """A file list, scanned once into compact columns (:func:`jobs.resize_job.listed.scan_list`)."""
    scan = scan_list(path, limit, watch, storage)
    return Source(
        ListedPaths(scan), scan.labels, scan.classes, None if scan.labels is None else "list", scan.paths_digest
    )


def _read_directory(source: str) -> Source:
    """A directory of images, or of class folders of images (``train/n01440764/x.JPEG``)."""
    listing = list_inputs(source, IMAGE_EXTENSIONS)
    names = sorted(listing.names + [n for n, _ in listing.others])
    with os.scandir(source) as it:
        folders = sorted(e.name for e in it if not e.name.startswith(".") and e.is_dir())
    if names:  # entries that are not regular files stay in the batch, so they fail by name, in order
        if folders:
            log.warning(
                "%s holds %d image(s) at its top level, so it is read as one folder of images, unlabelled: its "
                "%d sub-folder(s) (%s) are not read; move the images into a class folder for class labels",
                source,
                len(names),
                len(folders),
                ", ".join(folders[:3]) + (" ..." if len(folders) > 3 else ""),
            )
        return Source([os.path.join(source, n) for n in names])
    paths, labels, empty = [], [], []
    for k, folder in enumerate(folders):  # every folder is a class, empty or not: indices never shift
        inner = list_inputs(os.path.join(source, folder), IMAGE_EXTENSIONS)
        found = sorted(inner.names + [n for n, _ in inner.others])
        paths += [os.path.join(source, folder, n) for n in found]
        labels += [k] * len(found)
        if not found:
            empty.append(folder)
    if not paths:
        return Source([])
    if empty:
        log.warning(
            "%s: %d class folder(s) hold no images (%s): they keep their class index, so every split of this "
            "tree numbers its classes the same",
            source,
            len(empty),
            ", ".join(empty[:5]) + (" ..." if len(empty) > 5 else ""),
        )
    return Source(paths, np.array(labels, dtype=np.int64), folders, "folders")


def _remote_directory(url: str, storage: Storage | None) -> bool:
    """Whether ``url`` is a "directory" of a store (:func:`jobs.runtime.storage.is_directory`); UsageError if
    the store cannot say (unreachable, denied)."""
    try:
        return is_directory(url, storage)
    except Exception as e:  # the back end's own errors: missing bucket, denied, unreachable
        raise UsageError(f"{url}: cannot read: {(storage or Storage()).scrub(str(e))}") from None


def _read_remote_directory(url: str, storage: Storage | None) -> Source:
    """:func:`_read_directory` of a "directory" at a URL: one listing of it, and one of each class folder."""
    try:
        files, folders = list_directory(url, storage, IMAGE_EXTENSIONS)
        if files:
            if folders:
                log.warning(
                    "%s holds %d image(s) at its top level, so it is read as one folder of images, unlabelled: "
                    "its %d sub-folder(s) are not read",
                    url,
                    len(files),
                    len(folders),
                )
            return Source([u for _, u in files])
        paths: list = []
        labels: list = []
        for k, (_, folder) in enumerate(folders):  # every folder is a class, empty or not: indices never shift
            found, _ = list_directory(folder, storage, IMAGE_EXTENSIONS)
            paths += [u for _, u in found]
            labels += [k] * len(found)
    except Exception as e:  # the back end's own errors: missing bucket, denied, unreachable
        raise UsageError(f"{url}: cannot list: {(storage or Storage()).scrub(str(e))}") from None
    if not paths:
        return Source([])
    return Source(paths, np.array(labels, dtype=np.int64), [name for name, _ in folders], "folders")


def read_labelled(source, num_images: int | None = None) -> Source:
    """Images and their labels from a file list, a JSON config, a directory or class folders.

    The paths are a list of str (a job reads a list compactly instead:
    ``scan_labelled``).

    Parameters
    ----------
    source : str
        A text file with one image per line (relative paths are relative to the
        list) and optionally a label: ``path<TAB>label``, or ImageNet's ``path 7``
        when every line without a TAB ends in a whole number (else such a line is a
        path, whole: :func:`~jobs.resize_job.listed.split_list_line`);
        a ``.json`` config of the exercise's shape (``{"data": {"train_filelist":
        "..."}}``; the list path is relative to the JSON file); a directory of
        images; or a directory of class folders of images, each folder a class.
    num_images : int, optional
        Take the first N; fewer available is an error.

    Returns
    -------
    Source

    Raises
    ------
    UsageError
        For a missing source, a config without a file list, too few images, or a
        list where some lines have labels and others not.
    """
    found = scan_labelled(source, num_images)
    return found if isinstance(found.paths, list) else dataclasses.replace(found, paths=list(found.paths))


def scan_labelled(
    source, num_images: int | None = None, watch: Collection[str] = (), storage: Storage | None = None
) -> Source:
    """:func:`read_labelled` keeping a list's paths in the list: 16 bytes an image on the client.

    A file list's paths are a :class:`~jobs.resize_job.listed.ListedPaths`,
    read back on demand, whose slices are ranges a task carries and reads itself;
    those whose file name is one of ``watch`` are kept aside as it is read
    (:meth:`~jobs.resize_job.listed.ListedPaths.suspects`).  A ``source`` that is a URL
    (``s3://bucket/train.txt``) is a list read through fsspec with ``storage``'s options.
    """
    source = local_path(os.fspath(source))
    if num_images is not None and num_images < 1:
        raise UsageError(f"--num-images must be >= 1, got {num_images}")
    if is_url(source):
        if source.lower().endswith(".json"):
            raise UsageError(f"{source}: a JSON config is read from a local file; give the list's URL itself")
        if _remote_directory(source, storage):
            found = _read_remote_directory(source, storage)
        else:
            found = _read_list(source, num_images, watch, storage)
    elif os.path.isdir(source):
        found = _read_directory(source)
    elif not os.path.isfile(source):
        raise UsageError(f"{source}: no such file or directory")
    elif source.lower().endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                cfg = json.load(f)
            listed = cfg["data"]["train_filelist"]
            if not isinstance(listed, str) or not listed:
                raise TypeError(f"train_filelist is {listed!r}, not the path of a file list")
        except OSError as e:
            raise UsageError(f"{source}: cannot read: {e.strerror or e}") from None
        except (ValueError, KeyError, TypeError, RecursionError) as e:
            raise UsageError(
                f'{source}: expected a JSON config like {{"data": {{"train_filelist": "list.txt"}}}} ({e})'
            ) from None
        if not os.path.isabs(listed):
            listed = os.path.join(os.path.dirname(os.path.abspath(source)), listed)
        if not os.path.isfile(listed):
            raise UsageError(f"{source}: its train_filelist {listed} does not exist")
        found = _read_list(listed, num_images, watch)
    else:
        found = _read_list(source, num_images, watch)
    if num_images is not None:
        if len(found.paths) < num_images:
            raise UsageError(f"{source} lists {len(found.paths)} image(s), fewer than the {num_images} asked for")
        if len(found.paths) > num_images:
            found = found.head(num_images)
    if not found.paths:
        raise UsageError(f"{source}: no images found")
    return found


def read_source(source, num_images: int | None = None) -> list[str]:
    """Image paths from a file list, a JSON config or a directory, in order (see :func:`read_labelled`)."""
    return list(read_labelled(source, num_images).paths)


def name_some(paths, indices: list, most: int = 3) -> str:
    """The file names of the first ``most`` of ``indices``, and how many more: for a message."""
    shown = ", ".join(os.path.basename(paths[i]) for i in indices[:most])
    return shown + (f" and {len(indices) - most} more" if len(indices) > most else "")
