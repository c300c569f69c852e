#!/usr/bin/env bash
# The slow cluster tests (real worker processes; real Slurm when SLURM_CONF points at one) several
# times in a row on a loaded machine: CPU-bound processes run beside them the whole time.
# Stops at the first failing run; prints one line per run.
#
#   RUNS=5 LOAD=1 bash scripts/soak.sh            # then: 5 of 5 runs green beside 1 busy process(es)
#   RUNS=5 LOAD=2 bash scripts/soak.sh -k resize  # extra arguments go to pytest
#
# Uses (and makes, like scripts/test.sh) this checkout's .venv.  Run it on a clone to keep
# working meanwhile: the installed package, not the checkout, is what the workers import.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
LOAD=${LOAD:-1}
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet ".[test]"
fi
burners=()
stop() { [ "${#burners[@]}" -eq 0 ] || kill "${burners[@]}" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq "$LOAD"); do
    .venv/bin/python -c 'while True: pass' &
    burners+=("$!")
done
tests=(tests/test_cluster.py tests/test_slurm.py)
if [ -n "${SLURM_CONF:-}" ]; then
    export IMGJOBS_REQUIRE_SLURM=1  # a Slurm test that cannot run fails instead of skipping
fi
for i in $(seq "$RUNS"); do
    out=$(.venv/bin/python -m pytest "${tests[@]}" -q -p no:cacheprovider -o addopts="--strict-markers -ra" "$@" 2>&1) \
        && rc=0 || rc=$?
    echo "$(date -u +%H:%M:%S) run $i of $RUNS: $(tail -1 <<<"$out")"
    if [ "$rc" -ne 0 ]; then
        tail -60 <<<"$out"
        exit 1
    fi
done
echo "$RUNS of $RUNS runs green beside $LOAD busy process(es)"
