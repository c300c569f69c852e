#!/bin/bash
# Slurm batch job: a Dask scheduler and one worker per node in this allocation, then
# imgjobs as their client -- the scheduler-file pattern (scripts/run_on_cluster.sh).
#
#   sbatch -N 2 scripts/slurm_job.sh compress scans/ rle/
#   IMGJOBS_ACTIVATE="module load python; source ~/venvs/imgjobs/bin/activate" sbatch -N 4 scripts/slurm_job.sh ...
#   TLS_DIR=$HOME/.imgjobs-certs sbatch scripts/slurm_job.sh resize train.txt --out batch.npy
#
# Submit from the project directory (or set IMGJOBS_HOME to it).  Nodes: `sbatch -N`, 1 by default (worker nodes follow
# the allocation).  What puts `dask` and `imgjobs` on PATH: IMGJOBS_ACTIVATE (run first), else
# the .venv of the submit directory; the job stops with a clear message if they are missing.
# Site settings go on the sbatch command line or below (uncomment).
#SBATCH --job-name=imgjobs
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:30:00
##SBATCH --exclusive
##SBATCH --partition=debug
##SBATCH --account=YOUR_ACCOUNT
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$PWD}"  # relative paths in the arguments are relative to where you submitted
home=${IMGJOBS_HOME:-$PWD}      # Slurm runs a copy of this script: find the project by name
[ -f "$home/scripts/run_on_cluster.sh" ] || {
    echo "slurm_job.sh: no $home/scripts/run_on_cluster.sh: submit from the imgjobs project directory or set IMGJOBS_HOME" >&2
    exit 2
}
[ $# -gt 0 ] || { echo "usage: sbatch [-N NODES] scripts/slurm_job.sh compress scans/ rle/" >&2; exit 2; }
exec bash "$home/scripts/run_on_cluster.sh" "$@"
