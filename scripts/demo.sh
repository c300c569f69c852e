#!/usr/bin/env bash
# Both jobs on samples they generate themselves: the RLE job (compress on a 2-worker
# LocalCluster, whose dashboard link is printed; verify; decompress) and the resize job
# (JPEGs in class folders -> a labelled batch).  Creates .venv if needed; installs only
# the package itself (no test or docs tools).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $PY"
    "$PY" -m venv .venv
fi
echo "== installing imgjobs and its dependencies into .venv (dask, distributed, pillow, numpy, ...)"
# uv installs what pip would, several times as fast; pip where uv cannot be had
if .venv/bin/python -m pip install --quiet --disable-pip-version-check uv; then
    .venv/bin/python -m uv pip install --quiet --python .venv/bin/python .
else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check .
fi
echo "== writing sample 1-bit images into samples/"
.venv/bin/python scripts/make_samples.py samples --large
echo "== compress samples/ -> out/rle/ on a LocalCluster of 2 workers"
.venv/bin/imgjobs compress samples out/rle --scheduler local --workers 2 --overwrite
echo "== verify every .rle against its image"
.venv/bin/imgjobs verify samples out/rle
echo "== decompress out/rle/ -> out/bmp/ (1-bit BMPs)"
.venv/bin/imgjobs decompress out/rle out/bmp --overwrite
echo "== writing 500 sample JPEGs in 4 class folders into samples/photos/, listed in samples/photos/train.txt"
.venv/bin/imgjobs samples samples/photos --jpegs 500
echo "== resize them into a labelled (500, 64, 64, 3) batch: out/batch.npy"
.venv/bin/imgjobs resize samples/photos/train.txt --out out/batch.npy --size 64x64 --overwrite
echo "== done: samples/ (inputs), out/ (outputs); source .venv/bin/activate to use imgjobs yourself"
