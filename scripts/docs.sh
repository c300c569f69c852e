#!/usr/bin/env bash
# Build the documentation site (Sphinx + MyST + numpydoc, docs/conf.py) into docs/_build/html.
# Warnings are errors (-W; --keep-going lists them all) and every cross-reference must resolve (-n).
# Needs the docs extra in .venv:  .venv/bin/python -m pip install -e ".[docs]"
# The examples in the pages run as doctests with the test suite (pytest docs).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m sphinx -W --keep-going -n -b html docs docs/_build/html "$@"
