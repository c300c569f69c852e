#!/usr/bin/env bash
# The RLE job on samples it generates itself: compress on a 2-worker LocalCluster
# (the dashboard link is printed), verify, decompress.  Creates .venv if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet ".[test]"
.venv/bin/python scripts/make_samples.py samples --large
echo "== compress samples/ -> out/rle/ on a LocalCluster of 2 workers"
.venv/bin/imgjobs compress samples out/rle --scheduler local --workers 2 --overwrite
echo "== verify every .rle against its image"
.venv/bin/imgjobs verify samples out/rle
echo "== decompress out/rle/ -> out/bmp/ (1-bit BMPs)"
.venv/bin/imgjobs decompress out/rle out/bmp --overwrite
echo "== done: samples/ (inputs), out/rle/ and out/bmp/ (outputs)"
