# A real one-node Slurm cluster for a test or a benchmark, sourced after
# lib.sh (or with fail/skip/free_port defined): munged, slurmctld and slurmd
# on this host, each with its own temp key, socket, ports, state and logs,
# so that it clashes with nothing else running here.
#
#   slurm_start DIR   starts it under DIR and exports SLURM_CONF; skips (77)
#                     with the reason when Slurm or munge is missing or the
#                     daemons cannot start here
#   slurm_stop        cancels what is left and stops the daemons (idempotent)
#
# The node is this host (`hostname -s`) with 2 CPUs and its real memory, in
# two partitions, `amd` and `arm` (the e2e test maps x86_64 and aarch64 to
# them).  Every job that ends is recorded in $SLURM_DIR/jobcomp.txt
# (jobcomp/filetxt: no slurmdbd needed), one line per job with its JobId,
# Name, JobState, Partition and ExitCode.  $SLURM_EXTRA_CONF, when set, is
# appended to slurm.conf (bench/slurm.sh tries scheduler settings with it).

slurm_pids=

slurm_start() {
	SLURM_DIR=$1
	for tool in munged slurmctld slurmd srun squeue scancel sinfo; do
		command -v "$tool" >/dev/null 2>&1 ||
			PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null 2>&1 ||
			skip "$tool is not installed (scripts/setup installs slurm-wlm and munge)"
	done
	PATH=$PATH:/usr/sbin
	export PATH
	[ "$(id -u)" = 0 ] || skip "the test cluster runs its daemons as root"
	mkdir -p "$SLURM_DIR/munge" "$SLURM_DIR/state" "$SLURM_DIR/spool" "$SLURM_DIR/log"
	chmod 711 "$SLURM_DIR/munge"
	dd if=/dev/urandom of="$SLURM_DIR/munge/munge.key" bs=1024 count=1 2>/dev/null
	chmod 600 "$SLURM_DIR/munge/munge.key"
	munged -F -f --socket="$SLURM_DIR/munge/sock" --key-file="$SLURM_DIR/munge/munge.key" \
		--log-file="$SLURM_DIR/munge/log" --pid-file="$SLURM_DIR/munge/pid" \
		--seed-file="$SLURM_DIR/munge/seed" >/dev/null 2>&1 &
	slurm_pids="$!"
	i=0
	until [ -S "$SLURM_DIR/munge/sock" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$SLURM_DIR/munge/log" >&2 2>/dev/null; slurm_stop; skip "munged does not start here"; }
		sleep 0.1
	done
	host=$(hostname -s)
	mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
	ctld_port=$(free_port)
	d_port=$(free_port)
	while [ "$d_port" = "$ctld_port" ]; do d_port=$(free_port); done
	cat >"$SLURM_DIR/slurm.conf" <<EOC
ClusterName=ripple-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/sock
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=10
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=amd Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=arm Nodes=$host MaxTime=INFINITE State=UP
${SLURM_EXTRA_CONF:-}
EOC
	SLURM_CONF=$SLURM_DIR/slurm.conf
	export SLURM_CONF
	slurmctld -D -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmctld.out" 2>&1 &
	slurm_pids="$slurm_pids $!"
	slurmd -D -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmd.out" 2>&1 &
	slurm_pids="$slurm_pids $!"
	i=0
	until [ "$(sinfo --noheader --Node --nodes="$host" --format=%t 2>/dev/null | head -1)" = idle ]; do
		i=$((i + 1))
		if [ $i -ge 200 ]; then
			tail -5 "$SLURM_DIR/log/slurmctld.log" "$SLURM_DIR/log/slurmd.log" >&2 2>/dev/null || true
			slurm_stop
			skip "slurmctld and slurmd do not start here (logs above)"
		fi
		sleep 0.1
	done
}

slurm_stop() {
	[ -n "$slurm_pids" ] || return 0
	scancel --quiet --user="$(id -u)" 2>/dev/null || true
	# slurmd, then slurmctld, then munged: each goes on its own pid.
	set -- $slurm_pids
	for p in "$3" "$2" "$1"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null || true
	done
	slurm_pids=
}
