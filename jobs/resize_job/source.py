"""What a resize job reads: the file list or class folders, and the labels they give.

A list is ``path [label]`` per line (or a JSON config naming one); class folders
give each image its folder's index.  Labels are whole numbers >= 0 or class names;
everything read is untrusted and refused by line, naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass

import numpy as np

from jobs.errors import UsageError
from jobs.images import IMAGE_EXTENSIONS
from jobs.runtime.listing import list_inputs

__all__ = ["FAILED_LABEL", "Source", "name_some", "read_labelled", "read_source", "split_list_line"]

log = logging.getLogger(__name__)


#: The label of an image that failed: never a label a source may give (negative labels are refused).
FAILED_LABEL = -1


_WHOLE = re.compile(r"[+-]?[0-9]+")


def split_list_line(line: str) -> tuple[str, str | None]:
    """A file list line -> (path, label or None).

    ``path<TAB>label`` takes any label (a class name such as ``n01440764``);
    ``path label`` (ImageNet's convention: a whole number after the last space)
    keeps the path, spaces and all; any other line is a path, spaces and all
    (``my photo.jpg``).
    """
    if "\t" in line:
        path, _, rest = line.partition("\t")
        return path.strip(), rest.strip() or None
    head, _, last = line.rpartition(" ")
    if head.strip() and _WHOLE.fullmatch(last):
        return head.strip(), last
    return line, None


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

    paths: list
    labels: np.ndarray | None = None
    classes: list | None = None
    origin: str | None = None

    def head(self, n: int) -> Source:
        """The first ``n`` images (their labels, the same classes)."""
        labels = None if self.labels is None else self.labels[:n]
        return Source(self.paths[:n], labels, self.classes, self.origin)


def _encode_labels(where: str, names: list, texts: list, lines: list) -> tuple:
    """Text labels of every line -> (int64 array, class names or None).

    Whole numbers are taken as they are (ImageNet's ``path 7``) and must lie in
    0 .. 2**63 - 1: the label -1 marks a failed image (:data:`FAILED_LABEL`), so
    no label given may be negative.  Any other text is a class name; names are
    sorted and numbered from 0.
    """
    missing = [i for i, t in enumerate(texts) if t is None]
    if len(missing) == len(texts):
        return None, None
    if missing:
        i = missing[0]
        raise UsageError(
            f"{where}, line {lines[i]}: {names[i]} has no label while {len(texts) - len(missing)} others have one: "
            "label every line (path<TAB>label, or path and a whole number) or none"
        )
    if all(_WHOLE.fullmatch(t) for t in texts):
        values = []
        for i, t in enumerate(texts):
            v = int(t)
            if not 0 <= v < 2**63:
                raise UsageError(
                    f"{where}, line {lines[i]}: label {t} is outside 0 .. 2**63-1 (negative labels are refused: "
                    f"{FAILED_LABEL} marks a failed image); renumber the labels from 0, or use class names"
                )
            values.append(v)
        return np.array(values, dtype=np.int64), None
    classes = sorted(set(texts))
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index[t] for t in texts], dtype=np.int64), classes


def _read_list(path: str) -> Source:
    base = os.path.dirname(os.path.abspath(path))
    paths, texts, lines = [], [], []
    try:
        with open(path, encoding="utf-8-sig") as f:  # a byte-order mark is not part of the first path
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if "\0" in line:
                    raise UsageError(f"{path}, line {number}: a NUL byte in a path; remove it")
                name, label = split_list_line(line)
                paths.append(name if os.path.isabs(name) else os.path.join(base, name))
                texts.append(label)
                lines.append(number)
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save the list as UTF-8") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read the file list: {e.strerror or e}") from None
    labels, classes = _encode_labels(path, paths, texts, lines)
    return Source(paths, labels, classes, None if labels is None else "list")


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


def read_labelled(source, num_images: int | None = None) -> Source:
    """Images and their labels from a file list, a JSON config, a directory or class folders.

    Parameters
    ----------
    source : str
        A text file with one image per line (relative paths are relative to the
        list) and optionally a label: ``path<TAB>label`` or ImageNet's ``path 7``;
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
    source = os.fspath(source)
    if os.path.isdir(source):
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
        found = _read_list(listed)
    else:
        found = _read_list(source)
    if num_images is not None:
        if num_images < 1:
            raise UsageError(f"--num-images must be >= 1, got {num_images}")
        if len(found.paths) < num_images:
            raise UsageError(f"{source} lists {len(found.paths)} image(s), fewer than the {num_images} asked for")
        found = found.head(num_images)
    if not found.paths:
        raise UsageError(f"{source}: no images found")
    return found


def read_source(source, num_images: int | None = None) -> list[str]:
    """Image paths from a file list, a JSON config or a directory, in order (see :func:`read_labelled`)."""
    return read_labelled(source, num_images).paths


def name_some(paths, indices: list, most: int = 3) -> str:
    """The file names of the first ``most`` of ``indices``, and how many more: for a message."""
    shown = ", ".join(os.path.basename(paths[i]) for i in indices[:most])
    return shown + (f" and {len(indices) - most} more" if len(indices) > most else "")
