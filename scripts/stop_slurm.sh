#!/usr/bin/env bash
# Stop the single-node Slurm that scripts/start_slurm.sh started (only its own daemons, by their pid files).
set -uo pipefail
DIR=${SLURM_DIR:-/tmp/imgjobs-slurm}
for name in slurmd slurmctld munged; do
    pidfile="$DIR/run/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
done
echo "stopped the Slurm of $DIR"
