#!/bin/bash -l
# PBS batch job (e.g. ALCF Polaris): a Dask scheduler and one worker per node in this
# allocation, then imgjobs as their client -- the scheduler-file pattern.
#
#   qsub -v JOB="compress scans/ rle/" scripts/pbs_job.sh
#   qsub -v JOB="resize train.txt --out batch.npy",TLS_DIR=$HOME/.imgjobs-certs scripts/pbs_job.sh
#
# Submit from the project directory (PBS_O_WORKDIR); edit the lines below for your site.
#PBS -N imgjobs
#PBS -l select=2
#PBS -l walltime=00:30:00
#PBS -l filesystems=home:eagle
#PBS -q debug
#PBS -A YOUR_PROJECT
#PBS -j oe
set -euo pipefail
cd "${PBS_O_WORKDIR:-$PWD}"
# module load conda; conda activate imgjobs   # whatever puts `dask` and `imgjobs` on PATH here
: "${JOB:?pass the imgjobs arguments: qsub -v JOB=\"compress scans/ rle/\" scripts/pbs_job.sh}"
read -r -a args <<< "$JOB"
exec bash scripts/run_on_cluster.sh "${args[@]}"
