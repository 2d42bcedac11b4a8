// The services a token change touches, in the order they restart: Prosody
// first, then the components that log in to it. Each is known the way its init
// system knows it, never by words in a command line: under systemd the
// processes in the unit's cgroup (jicofo's unit, generated from its SysV
// script, has no MainPID at all); under SysV the pidfile its init script or
// daemon writes, holding a live process of the user Jitsi's packages run it as.
import { joinLines, sh, underRoot, type ShellScript } from '../shell/script.js';

export const SERVICES = ['prosody', 'jicofo', 'jitsi-videobridge2'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface ServiceIdentity {
  /** the user Jitsi's (and Debian's) packages run the daemon as */
  user: string;
  /** where SysV init scripts (or the daemon itself) write its pid, in the order tried */
  pidfiles: string[];
}

export const SERVICE_IDENTITIES: Record<ServiceName, ServiceIdentity> = {
  // prosody.cfg.lua's pidfile, written by Prosody itself.
  prosody: { user: 'prosody', pidfiles: ['/run/prosody/prosody.pid'] },
  // jicofo's init script; its systemd unit writes the second.
  jicofo: { user: 'jicofo', pidfiles: ['/run/jicofo.pid', '/run/jicofo/jicofo.pid'] },
  'jitsi-videobridge2': { user: 'jvb', pidfiles: ['/run/jitsi-videobridge.pid', '/run/jitsi-videobridge/jitsi-videobridge.pid'] },
};

/** Where cgroup.procs files are: cgroup v2, then the unified and systemd hierarchies of v1/hybrid machines. */
const CGROUP_HIERARCHIES = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'];

/**
 * Shell functions shared by the probe, the restart script and doctor:
 * `service_pids NAME` prints "pid:starttime" of the service's live processes;
 * `process_id PID UID` prints "pid:starttime" of a live process owned by UID;
 * `service_uid NAME` prints the uid of the service's user;
 * `listening NAME` prints the addresses its processes listen on.
 * Under systemd a service runs when its unit is active and its cgroup holds a
 * live process: a RemainAfterExit unit whose daemon died stays "active
 * (exited)" with an empty cgroup, and names nothing. The cgroup is read below
 * /sys/fs/cgroup on cgroup v2, below its systemd or unified hierarchy on
 * v1/hybrid machines. Under SysV a pidfile whose pid is gone, was reused by
 * another user's process, or holds anything but a number, names nothing.
 * Files are read under `root` (a directory standing for the host's / in unit
 * tests), except /proc: the processes are the machine's own.
 */
export function servicePidsFunction(root = ''): ShellScript {
  const at = (path: string) => underRoot(root, path);
  return sh`service_user() {
	case "$1" in
${joinLines(SERVICES.map((s) => sh`	${s}) echo ${SERVICE_IDENTITIES[s].user} ;;`))}
	esac
}
service_pidfiles() {
	case "$1" in
${joinLines(SERVICES.map((s) => sh`	${s}) echo ${SERVICE_IDENTITIES[s].pidfiles.map(at)} ;;`))}
	esac
}
service_uid() { id -u "$(service_user "$1")" 2>/dev/null; }
process_id() {
	case "$1" in '' | *[!0-9]*) return 0 ;; esac
	[ -r "/proc/$1/stat" ] || return 0
	if [ -n "$2" ]; then
		while read -r key real effective rest; do [ "$key" = Uid: ] && break; done < "/proc/$1/status"
		[ "$effective" = "$2" ] || return 0
	fi
	# Field 22 of stat is the start time; the command name before it may hold spaces, so count from after its ")".
	read -r stat < "/proc/$1/stat" || return 0
	set -- "$1" \${stat##*) }
	# A zombie has exited: it is no longer the service.
	[ "$2" != Z ] || return 0
	printf '%s:%s\\n' "$1" "\${21}"
}
unit_procs() { # $1 unit: the PIDs in its cgroup while it is active
	unit=$(systemctl show -p ActiveState -p ControlGroup "$1" 2>/dev/null)
	[ "$(printf '%s\\n' "$unit" | sed -n 's/^ActiveState=//p')" = active ] || return 0
	cgroup=$(printf '%s\\n' "$unit" | sed -n 's/^ControlGroup=//p')
	[ -n "$cgroup" ] || return 0
	for hierarchy in ${CGROUP_HIERARCHIES.map(at)}; do
		if [ -r "$hierarchy$cgroup/cgroup.procs" ]; then cat "$hierarchy$cgroup/cgroup.procs"; return 0; fi
	done
}
listening() { # $1 service: the IPv4 TCP addresses (hex, as /proc/net/tcp has them) its processes listen on
	inodes=$(for p in $(service_pids "$1" | cut -d: -f1); do ls -l "/proc/$p/fd" 2>/dev/null | sed -n 's/.*socket:\\[\\([0-9]*\\)\\]$/\\1/p'; done | tr '\\n' ' ')
	awk -v inodes=" $inodes " '$4 == "0A" && index(inodes, " " $10 " ") {print $2}' /proc/net/tcp 2>/dev/null | sort -u
}
service_pids() {
	if [ -d ${at('/run/systemd/system')} ]; then
		for p in $(unit_procs "$1.service"); do process_id "$p" ''; done | sort -u
		return 0
	fi
	uid=$(service_uid "$1") || return 0
	for f in $(service_pidfiles "$1"); do
		[ -f "$f" ] && process_id "$(head -n1 "$f" | tr -d ' \\t\\r')" "$uid"
	done | sort -u
}`;
}
