#!/usr/bin/env bash
# Start a single-node Slurm on this machine (127.0.0.1), for the test suite and for trying
# `imgjobs ... --cluster slurm` without a real cluster.  Stop it with scripts/stop_slurm.sh.
#
#   sudo apt-get install slurm-wlm munge      # Debian's packages (CI does this as root)
#   bash scripts/start_slurm.sh               # prints the SLURM_CONF line to export
#   export SLURM_CONF=/tmp/imgjobs-slurm/slurm.conf
#
# Everything lives in SLURM_DIR (default /tmp/imgjobs-slurm): the configuration, a munge key
# and socket of its own, state, logs and the pid files that stop_slurm.sh uses, so it never
# touches a system Slurm or munge.  Runs as root (slurmd starts jobs as their users).
# Ports: SLURMCTLD_PORT (default 6817) and SLURMD_PORT (6818).
set -euo pipefail

DIR=${SLURM_DIR:-/tmp/imgjobs-slurm}
CTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
NODE=$(hostname -s)

die() { echo "start_slurm.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root: slurmd starts jobs as their users"
for cmd in munged slurmctld slurmd sinfo; do
    command -v "$cmd" >/dev/null || die "$cmd not found: apt-get install slurm-wlm munge"
done
if [ -f "$DIR/run/slurmctld.pid" ] && kill -0 "$(cat "$DIR/run/slurmctld.pid")" 2>/dev/null; then
    echo "Slurm already running from $DIR"
    echo "export SLURM_CONF=$DIR/slurm.conf"
    exit 0
fi

mkdir -p "$DIR"/{munge,state,spool,log,run}
chmod 700 "$DIR/munge"
if [ ! -f "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge/munge.key"
fi
munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/seed" --force

cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
cat > "$DIR/slurm.conf" <<CONF
ClusterName=imgjobs
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

export SLURM_CONF="$DIR/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$NODE"
for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2>/dev/null || true)
    case "$state" in idle*|mix*|alloc*) echo "single-node Slurm up: $NODE, $cpus CPUs, ${mem_mb} MB ($DIR)"; \
        echo "export SLURM_CONF=$SLURM_CONF"; exit 0;; esac
    sleep 0.5
done
echo "Slurm did not come up; its logs:" >&2
tail -20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
exit 1
