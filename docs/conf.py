"""Sphinx configuration of the imgjobs documentation; build it with ``bash scripts/docs.sh``.

Why Sphinx + MyST + numpydoc (+ sphinx-argparse): the docstrings are numpydoc already; Dask,
numcodecs and dask-jobqueue document with Sphinx, so the pages look and link like theirs;
MyST keeps the pages Markdown (they read as they are on a forge, and README.md links them);
sphinx-argparse generates the CLI reference from the real parser, so it cannot drift.
Settings of the project stay in pyproject.toml; this file only configures the build.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]  # the checkout (installed or not), our extensions

# The references show imgjobs' own defaults (the CLI help reads dask.config), not the builder's:
# no user or site Dask configuration and no DASK_IMGJOBS__* variable, before anything imports dask.
os.environ["DASK_CONFIG"] = os.environ["DASK_ROOT_CONFIG"] = str(HERE / "_build" / "no-dask-config")
for _name in [n for n in os.environ if n.startswith("DASK_IMGJOBS__")]:
    del os.environ[_name]

import jobs  # noqa: E402 - after the isolation above

project = "imgjobs"
copyright = "imgjobs contributors"
release = version = jobs.__version__

extensions = [
    "myst_parser",  # the pages are Markdown
    "sphinx.ext.autodoc",  # the API reference from docstrings...
    "numpydoc",  # ...written in numpydoc's sections
    "sphinxarg.ext",  # the CLI reference from jobs.cli's parser...
    "argparse_raw",  # ...its preformatted epilogs (examples) shown as such
    "public_api",  # links to jobs.<module>.<name> go to the documented jobs.<name>; rle.CHUNK's doc
]
exclude_patterns = ["_build", "_ext"]
source_suffix = {".md": "markdown"}
myst_heading_anchors = 2  # links such as usage.md#what-a-rerun-does
highlight_language = "none"  # unlabelled blocks (the architecture tree) are text
# Curly quotes and ellipses, never dashes: "--overwrite" in prose and in the generated CLI reference
# stays two hyphens (an en dash before "overwrite" fails when pasted into a shell).
smartquotes_action = "qe"

# Signatures without annotations: the numpydoc sections give every type, in words.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False  # members come from autodoc's :members:, not a second table
autosummary_generate = False  # numpydoc loads autosummary; nothing here uses it

# -n (nitpicky): every cross-reference must resolve.  No intersphinx (the build runs offline),
# so the third-party names the docstrings link are listed here, explicitly.
nitpicky = True
nitpick_ignore = [
    ("py:class", "dask.delayed.Delayed"),
    ("py:class", "dask.array.Array"),
]

html_theme = "alabaster"
html_title = f"imgjobs {release}"
