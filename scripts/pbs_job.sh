#!/bin/bash
# PBS batch job (e.g. ALCF Polaris): a Dask scheduler and one worker per node in this
# allocation, then imgjobs as their client -- the scheduler-file pattern (scripts/run_on_cluster.sh).
#
#   qsub -l select=2 -v JOB="compress scans/ rle/" scripts/pbs_job.sh
#   qsub -v JOB="resize train.txt --out batch.npy",TLS_DIR=$HOME/.imgjobs-certs scripts/pbs_job.sh
#
# Submit from the project directory (PBS_O_WORKDIR; or set IMGJOBS_HOME).  What puts `dask` and `imgjobs` on PATH:
# IMGJOBS_ACTIVATE (pass it with -v; run first), else the .venv of that directory.
# Site settings go on the qsub command line or below.
#PBS -N imgjobs
#PBS -l walltime=00:30:00
#PBS -j oe
##PBS -l filesystems=home:eagle
##PBS -q debug
##PBS -A YOUR_PROJECT
set -euo pipefail
cd "${PBS_O_WORKDIR:-$PWD}"  # relative paths in JOB are relative to where you submitted
home=${IMGJOBS_HOME:-$PWD}   # PBS runs a copy of this script: find the project by name
[ -f "$home/scripts/run_on_cluster.sh" ] || {
    echo "pbs_job.sh: no $home/scripts/run_on_cluster.sh: submit from the imgjobs project directory or set IMGJOBS_HOME" >&2
    exit 2
}
: "${JOB:?pass the imgjobs arguments: qsub -v JOB=\"compress scans/ rle/\" scripts/pbs_job.sh}"
read -r -a args <<< "$JOB"
exec bash "$home/scripts/run_on_cluster.sh" "${args[@]}"
