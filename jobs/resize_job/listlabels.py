"""A file list's labels: label texts as they are read -> int64 labels or class names; lines named for messages.

:func:`jobs.resize_job.listed.scan_list` gives each label text a code as it
reads the list (:class:`Codes`, a few bytes an entry); :func:`labels_of` turns
the codes into the batch's labels, refusing by line a list where some lines
have labels and others not, or a whole number outside 0 .. 2**63 - 1.
"""

from __future__ import annotations

import re

import numpy as np

from jobs.errors import UsageError

__all__ = ["WHOLE", "Codes", "labels_of", "line_of", "line_shown"]

#: A label that is a whole number (``path 7``; ``+7`` and ``-7`` too, the latter refused).
WHOLE = re.compile(r"[+-]?[0-9]+")

_ENDS = re.compile(rb"\r\n|\r|\n")


def line_shown(path: str, offset: int) -> str:
    """``line 3 (scan 12)``: the line at byte ``offset`` of ``path``, for a message."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = _ENDS.split(f.read(200), 1)[0].decode("utf-8", "replace").strip()
    except OSError:
        text = "?"
    return f"line {line_of(path, offset)} ({text})"


def line_of(path: str, offset: int) -> int:
    """The line number of byte ``offset`` of ``path``, as an editor counts them (for a message)."""
    try:
        with open(path, "rb") as f:
            head = f.read(offset)
    except OSError:
        return 0
    return len(_ENDS.findall(head)) + 1


class Codes(dict):
    """Label text -> code, a new text taking the next code as it is first seen."""

    def __missing__(self, text):
        code = self[text] = len(self)
        return code


def labels_of(where: str, codes, index: dict, first_missing, starts) -> tuple:
    """The int64 labels and class names of a scan's label codes (see :func:`scan_list`)."""
    if not index or list(index) == [None]:
        return None, None
    if first_missing is not None:
        offset, name = first_missing
        labelled = len(codes) - codes.count(index[None])
        raise UsageError(
            f"{where}, line {line_of(where, offset)}: {name} has no label while {labelled} others have one: "
            "label every line (path<TAB>label, or a whole number after a space on every line) or none"
        )
    texts = list(index)
    codes_np = np.frombuffer(codes, dtype=np.int64)
    if all(WHOLE.fullmatch(t) for t in texts):
        values = []
        for t in texts:
            v = int(t)
            if not 0 <= v < 2**63:
                k = int(np.flatnonzero(codes_np == index[t])[0])
                raise UsageError(
                    f"{where}, line {line_of(where, starts[k])}: label {t} is outside 0 .. 2**63-1 (negative "
                    "labels are refused: -1 marks a failed image); renumber the labels from 0, or use class names"
                )
            values.append(v)
        return recoded(codes_np, np.array(values, dtype=np.int64)), None
    classes = sorted(texts)
    rank = np.empty(len(texts), dtype=np.int64)
    rank[[index[c] for c in classes]] = np.arange(len(classes), dtype=np.int64)
    return recoded(codes_np, rank), classes


def recoded(codes: np.ndarray, values: np.ndarray, step: int = 1 << 20) -> np.ndarray:
    """``values[codes]``, written over ``codes`` a million at a time: no second array of the list's length."""
    for i in range(0, len(codes), step):
        codes[i : i + step] = values[codes[i : i + step]]
    return codes
