#!/bin/bash
# Runs as PID 1 of a new PID/mount/UTS namespace (started by unshare): gives the
# host root its kernel file systems, private to this namespace, then hands over
# to the host's own init. Everything mounted here disappears with the namespace.
set -eu
root=$1 name=$2 boot_id=$3

mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys" 2>/dev/null || true
mount -t tmpfs -o mode=755,size=16m tmpfs "$root/dev"
for node in "null c 1 3" "zero c 1 5" "full c 1 7" "random c 1 8" "urandom c 1 9" "tty c 5 0"; do
	set -- $node
	mknod -m 666 "$root/dev/$1" "$2" "$3" "$4"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=755,size=64m tmpfs "$root/run"
mkdir -p "$root/run/lock"
chmod 1777 "$root/run/lock"
hostname "$name"

exec chroot "$root" /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 BOOT_ID="$boot_id" \
	/usr/local/sbin/testbed-init
