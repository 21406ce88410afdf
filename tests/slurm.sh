#!/usr/bin/env bash
# slurm.sh - `alexnet classify --shard` under a real batch scheduler: starts
# a private single-node Slurm (munged, slurmctld and slurmd as root, on free
# ports, everything in a temporary folder) and runs a job array of 3 shards;
# their outputs concatenated must equal one run's, byte for byte. Then one
# shard's output is cut mid-line, as a pre-empted job leaves it, and rerunning
# that array task with --resume must restore it. Skipped (77) without root or
# without Slurm's programs. Needs AN_BUILD_ROOT and AN_SOURCE_ROOT.
set -uo pipefail
alexnet="$AN_BUILD_ROOT/apps/alexnet"
for p in munged slurmctld slurmd sbatch scontrol; do
    command -v "$p" >/dev/null || { echo "skip: $p not installed (apt-get install munge slurmctld slurmd slurm-client)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: the private Slurm daemons run as root"; exit 77; }

work=$(mktemp -d /tmp/an_slurm.XXXXXX)
chmod 755 "$work"
export SLURM_CONF="$work/slurm.conf"
stop() { # SIGTERM to each daemon, up to 10 s to exit, then SIGKILL (no procps needed)
    local pids=() p
    for f in slurmd slurmctld munged; do
        [ -s "$work/$f.pid" ] && pids+=("$(cat "$work/$f.pid")")
    done
    [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
    for _ in $(seq 100); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap stop EXIT
fail=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what" && fail=1; fi
}
show_logs() { tail -n 20 "$work"/log/* 2>/dev/null; }

# Two free TCP ports for slurmctld and slurmd (not the defaults: a host may run Slurm).
read -r ctld_port slurmd_port < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
host=$(hostname -s)
mkdir -p "$work/state" "$work/spool" "$work/log" "$work/in"
head -c 1024 /dev/urandom >"$work/munge.key"
chmod 400 "$work/munge.key"
cat >"$SLURM_CONF" <<CONF
ClusterName=alexnet-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$work/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
munged --force --socket="$work/munge.sock" --key-file="$work/munge.key" \
    --pid-file="$work/munged.pid" --log-file="$work/log/munged.log" --seed-file="$work/munged.seed" ||
    { echo "FAIL: munged did not start"; show_logs; exit 1; }
slurmctld -i -f "$SLURM_CONF" && slurmd -N "$host" -f "$SLURM_CONF" ||
    { echo "FAIL: the Slurm daemons did not start"; show_logs; exit 1; }
for _ in $(seq 100); do # up to 20 s for the node to register
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 0.2
done
check "a one-node Slurm is up" sh -c 'sinfo -h -o %T | grep -q idle' || { show_logs; exit 1; }

for i in 1 2 3; do
    for f in astronaut chelsea coffee; do cp "$AN_SOURCE_ROOT/data/samples/$f.png" "$work/in/$f$i.png"; done
done
ln -s nowhere "$work/in/dangling.png"
cd "$work"
"$alexnet" classify --json --batch 2 in >single.jsonl 2>log/single.txt

# The job script a user would write (README), with this build's alexnet.
cat >job.sh <<JOB
#!/bin/bash
"$alexnet" classify --json --batch 2 --shard "\$SLURM_ARRAY_TASK_ID/3" \
    --output "out.\$SLURM_ARRAY_TASK_ID.jsonl" --resume in
# a failed image is that image's line, not a failed task
exit 0
JOB
chmod +x job.sh
submit() { timeout 300 sbatch --wait --quiet -D "$work" -o "log/task.%a.txt" "$@" job.sh; }
submit --array=1-3
check "the job array of 3 shards ran" test $? = 0
check "the 3 shards' outputs concatenate to one run's" cmp <(cat out.1.jsonl out.2.jsonl out.3.jsonl) single.jsonl

# task 2 pre-empted: one line and half of the next written
head -n 1 out.2.jsonl >cut.jsonl
sed -n 2p out.2.jsonl | head -c 30 >>cut.jsonl
mv cut.jsonl out.2.jsonl
submit --array=2
check "the rerun of task 2 resumed it" grep -q "2 images, 0 failed.*1 already in out.2.jsonl" log/task.2.txt
check "... to the same merged output" cmp <(cat out.1.jsonl out.2.jsonl out.3.jsonl) single.jsonl
[ $fail = 0 ] || { cat log/task.*.txt; show_logs; }
exit $fail
