#!/usr/bin/env bash
# The scheduler-file pattern inside one batch allocation: start a Dask scheduler,
# one `dask worker` per node (mpiexec under PBS, srun under Slurm, plain
# processes elsewhere), run imgjobs against them, and shut everything down.
#
#   bash scripts/run_on_cluster.sh compress scans/ rle/
#   bash scripts/run_on_cluster.sh resize train.txt --num-images 100000 --out batch.npy
#
# scripts/pbs_job.sh and scripts/slurm_job.sh are the batch headers that call it.
# Settings (environment variables):
#   NODES           worker nodes (default: from PBS_NODEFILE / SLURM_JOB_NUM_NODES; 2 elsewhere)
#   THREADS         threads per worker (default: the node's cores)
#   LOCAL_DIR       node-local scratch for workers (default: $TMPDIR or /tmp)
#   SCHEDULER_FILE  shared-file-system path of the scheduler file (default: ./scheduler-<job id>.json)
#   DASHBOARD       dashboard address of the scheduler (default 127.0.0.1:8787: reach it with ssh -L)
#   INTERFACE       network interface for scheduler and workers, e.g. hsn0 or ib0 (default: the default route)
#   TLS_DIR         directory with cert.pem and key.pem (`imgjobs certs DIR`): TLS everywhere
#   USE_DASK_MPI=1  start scheduler and workers with one `mpiexec ... dask-mpi` (needs mpi4py, dask-mpi)
#   DRY_RUN=1       print the commands instead of running them
#   MALLOC_TRIM_THRESHOLD_  glibc heap trimming in the workers (default 16777216; distributed's 65536 slows decoding ~6%)
#   IMGJOBS_ACTIVATE  shell commands that put `dask` and `imgjobs` on PATH, run first, e.g.
#                   "module load conda; conda activate imgjobs" (default: source ./.venv/bin/activate if there)
set -euo pipefail

if [ $# -eq 0 ]; then
    sed -n '2,22p' "$0"
    exit 2
fi
die() { echo "run_on_cluster.sh: $*" >&2; exit 1; }

JOB_ID=${PBS_JOBID:-${SLURM_JOB_ID:-local-$$}}
JOB_ID=${JOB_ID%%.*}
if [ -n "${PBS_NODEFILE:-}" ]; then
    SYSTEM=pbs
    NODES=${NODES:-$(sort -u "$PBS_NODEFILE" | wc -l)}
elif [ -n "${SLURM_JOB_ID:-}" ]; then
    SYSTEM=slurm
    NODES=${NODES:-${SLURM_JOB_NUM_NODES:-1}}
else
    SYSTEM=none
    NODES=${NODES:-2}
fi
THREADS=${THREADS:-$(nproc)}
LOCAL_DIR=${LOCAL_DIR:-${TMPDIR:-/tmp}}
SCHEDULER_FILE=${SCHEDULER_FILE:-$PWD/scheduler-$JOB_ID.json}
DASHBOARD=${DASHBOARD:-127.0.0.1:8787}
DASK=${DASK:-dask}
IMGJOBS=${IMGJOBS:-imgjobs}
if [ "${DRY_RUN:-0}" != 1 ]; then
    # a batch job starts with the site's login environment, not yours: activate explicitly, and check
    if [ -n "${IMGJOBS_ACTIVATE:-}" ]; then
        eval "$IMGJOBS_ACTIVATE" || die "IMGJOBS_ACTIVATE failed: $IMGJOBS_ACTIVATE"
    elif [ -f .venv/bin/activate ]; then
        # shellcheck disable=SC1091
        source .venv/bin/activate
    fi
    for cmd in ${DASK%% *} ${IMGJOBS%% *}; do
        command -v "$cmd" >/dev/null || die "'$cmd' is not on PATH in this job (PATH=$PATH): set IMGJOBS_ACTIVATE \
to what puts imgjobs on it (e.g. IMGJOBS_ACTIVATE=\"source ~/venvs/imgjobs/bin/activate\"), or submit from a \
directory whose .venv has it"
    done
fi
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-16777216}  # the workers' nannies pass it on

tls=()
if [ -n "${TLS_DIR:-}" ]; then
    tls=(--tls-ca-file "$TLS_DIR/cert.pem" --tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem")
    export DASK_IMGJOBS__TLS__CA_FILE="$TLS_DIR/cert.pem" DASK_IMGJOBS__TLS__CERT="$TLS_DIR/cert.pem"
    export DASK_IMGJOBS__TLS__KEY="$TLS_DIR/key.pem"
fi
protocol=()
[ ${#tls[@]} -gt 0 ] && protocol=(--protocol tls)
[ -n "${INTERFACE:-}" ] && tls+=(--interface "$INTERFACE")  # flags scheduler and workers share

case $SYSTEM in
    pbs) launch=(mpiexec -n "$NODES" --ppn 1) ;;
    slurm) launch=(srun --nodes "$NODES" --ntasks "$NODES" --ntasks-per-node 1) ;;
    *) launch=() ;;
esac

worker=("$DASK" worker --scheduler-file "$SCHEDULER_FILE" --nthreads "$THREADS" --local-directory "$LOCAL_DIR"
    ${tls[@]+"${tls[@]}"})
scheduler=("$DASK" scheduler --scheduler-file "$SCHEDULER_FILE" --dashboard-address "$DASHBOARD"
    ${protocol[@]+"${protocol[@]}"} ${tls[@]+"${tls[@]}"})
if [ "${USE_DASK_MPI:-0}" = 1 ]; then
    # one MPI job: rank 0 is the scheduler, ranks 1..NODES the workers
    if [ $SYSTEM = slurm ]; then mpi_launch=(srun --ntasks $((NODES + 1))); else mpi_launch=(mpiexec -n $((NODES + 1))); fi
    mpi=("${mpi_launch[@]}" dask-mpi --scheduler-file "$SCHEDULER_FILE" --dashboard-address "$DASHBOARD"
        --nthreads "$THREADS" --local-directory "$LOCAL_DIR" ${protocol[@]+"${protocol[@]}"}
        ${tls[@]+"${tls[@]}"})
fi
client=("$IMGJOBS" "$@" --scheduler-file "$SCHEDULER_FILE")

if [ "${DRY_RUN:-0}" = 1 ]; then
    if [ "${USE_DASK_MPI:-0}" = 1 ]; then
        echo "${mpi[*]} &"
    else
        echo "${scheduler[*]} &"
        if [ ${#launch[@]} -gt 0 ]; then
            echo "${launch[*]} ${worker[*]} &"
        else
            echo "${worker[*]} &  # x $NODES"
        fi
    fi
    echo "${client[*]}"
    exit 0
fi

pids=()
cleanup() {
    # workers first (started last), then the scheduler: nothing is left talking to a closed scheduler
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
        [ "$i" -gt 0 ] && sleep 1
    done
    wait 2>/dev/null || true
    rm -f "$SCHEDULER_FILE"
}
trap cleanup EXIT
rm -f "$SCHEDULER_FILE"

if [ "${USE_DASK_MPI:-0}" = 1 ]; then
    "${mpi[@]}" & pids+=($!)
else
    "${scheduler[@]}" & pids+=($!)
fi
for _ in $(seq 600); do [ -s "$SCHEDULER_FILE" ] && break; sleep 0.1; done
[ -s "$SCHEDULER_FILE" ] || { echo "run_on_cluster.sh: no scheduler file after 60 s" >&2; exit 1; }
if [ "${USE_DASK_MPI:-0}" != 1 ]; then
    if [ ${#launch[@]} -gt 0 ]; then
        "${launch[@]}" "${worker[@]}" & pids+=($!)
    else
        for i in $(seq "$NODES"); do "${worker[@]}" --name "worker-$i" & pids+=($!); done
    fi
fi
# plan the tasks for the whole allocation: wait until every worker has joined
python - "$SCHEDULER_FILE" "$NODES" "${TLS_DIR:-}" <<'PY'
import sys
from distributed import Client, Security
sec = Security(tls_ca_file=f"{sys.argv[3]}/cert.pem", tls_client_cert=f"{sys.argv[3]}/cert.pem",
               tls_client_key=f"{sys.argv[3]}/key.pem", require_encryption=True) if sys.argv[3] else None
with Client(scheduler_file=sys.argv[1], security=sec, timeout="120s") as c:
    c.wait_for_workers(int(sys.argv[2]), timeout=600)
PY
echo "run_on_cluster.sh: $SYSTEM job $JOB_ID, $NODES worker node(s) x $THREADS thread(s); scheduler file $SCHEDULER_FILE" >&2
echo "  dashboard: ssh -N -L 8787:${DASHBOARD} ${USER:-you}@$(hostname)  # via the login node: add -J you@login" >&2
"${client[@]}"
