"""The RLE jobs' manifest: what each output of a directory was made from.

``.imgjobs-stamps.json`` in an output directory maps each output's name to
``"<input stamp>|<output stamp>"`` (:mod:`jobs.runtime.stamps`): a rerun calls an
output current only when its input is the one it was made from and the output
is as its task wrote it.  Read as untrusted input, written atomically.
"""

from __future__ import annotations

import json
import logging
import os

from jobs.runtime.durable import write_atomic
from jobs.runtime.reads import load_json

__all__ = ["FORMAT", "MANIFEST", "read_manifest", "split_entry", "write_manifest"]

log = logging.getLogger(__name__)

#: Where the RLE jobs record, in their output directory, what each output was made from.
MANIFEST = ".imgjobs-stamps.json"

#: What a manifest of this layout says it is.
FORMAT = "imgjobs-stamps-2"


def read_manifest(directory: str) -> dict:
    """The record of an output directory: output name -> ``"<input stamp>|<output stamp>"``.

    Read as untrusted input: a missing, unreadable or malformed file gives an
    empty record; entries are checked where they are used (:func:`split_entry`),
    so loading stays one ``json.load``.  Outputs without a valid entry fall back
    to the ``make`` rule: current when newer than their input.
    """
    path = os.path.join(directory or ".", MANIFEST)
    try:
        data = load_json(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("%s is unreadable (%s): outputs are judged by their times", path, e)
        return {}
    entries = data.get("outputs") if isinstance(data, dict) and data.get("format") == FORMAT else None
    return entries if isinstance(entries, dict) else {}


def split_entry(entry) -> tuple[str, str] | None:
    """A manifest entry -> (input stamp, output stamp), or None when it is not one."""
    if not isinstance(entry, str):
        return None
    source, sep, output = entry.partition("|")
    return (source, output) if sep and source and output else None


def write_manifest(directory: str, entries: dict, token: str) -> None:
    """Write the record of an output directory atomically (see :func:`read_manifest`)."""
    body = {"format": FORMAT, "outputs": entries}
    write_atomic(os.path.join(directory or ".", MANIFEST), [json.dumps(body, sort_keys=True).encode()], token)
