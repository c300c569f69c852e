#!/usr/bin/env bash
# Create .venv if needed, install imgjobs with its test and docs extras, lint, type-check (mypy, and
# mypy --strict on the public API), build the docs
# (scripts/docs.sh: warnings are errors), check that every guard's mutant is killed
# (scripts/mutants.py), run the test suite (with the examples of docs/*.md as doctests): on two
# processes (pytest-xdist), then the tests marked "serial" alone, as they need the cores to themselves.
# Extra arguments go to pytest (and skip the mutants), e.g.  bash scripts/test.sh -k codec -x
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
# uv installs what pip would, from the same registry, several times as fast (a clean machine: ~15 s against
# ~90 s); pip does it where uv cannot be had
if .venv/bin/python -m pip install --quiet uv; then
    .venv/bin/python -m uv pip install --quiet --python .venv/bin/python ".[test,docs]"
else
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet ".[test,docs]"
fi
.venv/bin/python -m ruff check rle jobs scripts tests notebooks docs conftest.py
# the files and settings: [tool.mypy] in pyproject.toml; and at the same time (~30 s each, one core each), the
# public API strictly, what users' type checkers and editors see of every job function (a cache of its own)
.venv/bin/python -m mypy & plain=$!
.venv/bin/python -m mypy --strict --cache-dir .mypy_cache/strict jobs/api.py jobs/rle_job/api.py \
    jobs/resize_job/api.py jobs/stats_job/api.py jobs/resize_job/array.py jobs/resize_job/inference.py \
    jobs/running.py jobs/options.py & strict=$!
wait "$plain"
wait "$strict"
# and a user's script of them, as their own type checker reads it
.venv/bin/python -m mypy --strict tests/typing_user.py
bash scripts/docs.sh
if [ "$#" -eq 0 ]; then
    # the whole suite: first every guard's mutant must be killed by its tests (scripts/mutants.py)
    .venv/bin/python scripts/mutants.py
fi
status=0
.venv/bin/python -m pytest -n 2 -m "not serial" "$@" || status=$?
# 5: no test selected (e.g. -k picked none of these); anything else is a failure
.venv/bin/python -m pytest -m serial -p no:xdist "$@" || { [ $? -eq 5 ] || status=1; }
[ "$status" -eq 5 ] && status=0
exit "$status"
