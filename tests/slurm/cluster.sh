#!/usr/bin/env bash
# A throw-away one-node Slurm cluster for `make test-slurm` (root only; Debian's slurm-wlm and munge).
#
#   tests/slurm/cluster.sh install    apt-get install slurm-wlm munge, if sbatch or munged is missing
#   tests/slurm/cluster.sh up DIR     munge key, slurm.conf, munged + slurmctld + slurmd, all under DIR;
#                                     returns once the node is idle. Clients then need SLURM_CONF=DIR/slurm.conf
#   tests/slurm/cluster.sh down DIR   cancels the cluster's jobs, then stops the three daemons by the
#                                     PIDs recorded in DIR (nothing else)
#
# Everything the cluster writes (key, socket, state, spool, logs, PID files) stays under DIR; the node
# is this machine with its real CPUs and memory, one partition `debug`. The daemons run at nice 5, so
# the jobs they start do too.
set -euo pipefail

install() {
  if command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null; then
    return
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND once a second until it succeeds
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "cluster.sh: $what not ready after ${seconds}s; logs in $DIR" >&2
  return 1
}

up() {
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
  chmod 700 "$DIR/munge"
  mungekey --create --keyfile="$DIR/munge/munge.key"
  munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munge/seed" --force
  wait_for 10 munged munge --socket="$DIR/munge/munge.socket" -n

  local node cpus memory
  node=$(hostname -s)
  cpus=$(nproc)
  memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  cat >"$DIR/slurm.conf" <<CONF
ClusterName=cnnlab-test
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
EnforcePartLimits=ALL
PlugStackConfig=$DIR/plugstack.conf
NodeName=$node CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  : >"$DIR/plugstack.conf"
  export SLURM_CONF="$DIR/slurm.conf"
  nice -n 5 slurmctld -f "$SLURM_CONF"
  wait_for 30 slurmctld scontrol ping
  nice -n 5 slurmd -f "$SLURM_CONF"
  wait_for 60 "node $node (idle)" bash -c "sinfo -h -n $node -o %t | grep -qx idle"
  echo "cluster up: SLURM_CONF=$SLURM_CONF"
}

down() {
  local daemon pid
  # This cluster's jobs first (clients reach it through SLURM_CONF), so no job outlives slurmd.
  export SLURM_CONF="$DIR/slurm.conf"
  if scontrol ping >/dev/null 2>&1; then
    scancel --user=root 2>/dev/null || true
    for _ in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 1; done
  fi
  for daemon in slurmd slurmctld munged; do
    pid=$(cat "$DIR/$daemon.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  echo "cluster down: $DIR"
}

[ "$(id -u)" = 0 ] || { echo "cluster.sh: must run as root (it installs packages and starts daemons)" >&2; exit 2; }
case "${1:-}" in
  install) install ;;
  up | down)
    DIR=$(realpath "${2:?usage: cluster.sh up|down DIR}")
    "$1"
    ;;
  *) echo "usage: cluster.sh install | up DIR | down DIR" >&2; exit 2 ;;
esac
