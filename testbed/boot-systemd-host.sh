#!/bin/bash
# Boots a test host with systemd as its PID 1, as a real server runs: joins the
# cgroups the test bed made for the host (given as arguments after the root and
# the name), then runs systemd-nspawn in a private mount namespace with its own
# tmpfs on /run/systemd/nspawn (nspawn writes there; this machine's /run may
# not be a tmpfs, and hosts booting side by side must not share it). The host
# shares this machine's network namespace: its sshd and Prosody listen on its
# own loopback address. No machined or system bus is needed outside.
set -eu
root=$1 name=$2
shift 2
for cgroup in "$@"; do
	mkdir -p "$cgroup"
	echo $$ >"$cgroup/cgroup.procs"
done
mkdir -p /run/systemd/nspawn
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
exec unshare --mount --propagation private -- /bin/sh -c '
	mount -t tmpfs -o mode=755,size=4m tmpfs /run/systemd/nspawn
	exec systemd-nspawn --quiet --directory="$1" --machine="$2" --boot --register=no --keep-unit \
		--console=read-only --link-journal=no --timezone=off --resolv-conf=off
' boot-systemd-host "$root" "$name"
