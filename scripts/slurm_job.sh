#!/bin/bash -l
# Slurm batch job: a Dask scheduler and one worker per node in this allocation, then
# imgjobs as their client -- the scheduler-file pattern.
#
#   sbatch scripts/slurm_job.sh compress scans/ rle/
#   TLS_DIR=$HOME/.imgjobs-certs sbatch scripts/slurm_job.sh resize train.txt --out batch.npy
#
# Submit from the project directory; edit the lines below for your site.
#SBATCH --job-name=imgjobs
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
#SBATCH --time=00:30:00
#SBATCH --partition=debug
#SBATCH --account=YOUR_ACCOUNT
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$PWD}"
# module load python; source activate imgjobs   # whatever puts `dask` and `imgjobs` on PATH here
[ $# -gt 0 ] || { echo "usage: sbatch scripts/slurm_job.sh compress scans/ rle/" >&2; exit 2; }
exec bash scripts/run_on_cluster.sh "$@"
