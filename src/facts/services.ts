// The services a token change touches, in the order they restart: Prosody
// first, then the components that log in to it. Each is known the way its init
// system knows it, never by words in a command line: under systemd the unit's
// MainPID; under SysV the pidfile its init script or daemon writes, holding a
// live process of the user Jitsi's packages run it as.
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

/**
 * Shell functions shared by the probe and the restart script:
 * `service_pids NAME` prints "pid:starttime" of the service's processes;
 * `process_id PID UID` prints "pid:starttime" of a live process owned by UID;
 * `service_uid NAME` prints the uid of the service's user.
 * A pidfile whose pid is gone, was reused by another user's process, or holds
 * anything but a number, names nothing.
 */
export const SERVICE_PIDS_FUNCTION = `service_user() {
	case "$1" in
${SERVICES.map((s) => `	${s}) echo ${SERVICE_IDENTITIES[s].user} ;;`).join('\n')}
	esac
}
service_pidfiles() {
	case "$1" in
${SERVICES.map((s) => `	${s}) echo ${SERVICE_IDENTITIES[s].pidfiles.join(' ')} ;;`).join('\n')}
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
	printf '%s:%s\\n' "$1" "\${21}"
}
service_pids() {
	if [ -d /run/systemd/system ]; then
		main=$(systemctl show -p MainPID --value "$1.service" 2>/dev/null)
		[ "$main" = 0 ] || process_id "$main" ''
		return 0
	fi
	uid=$(service_uid "$1") || return 0
	for f in $(service_pidfiles "$1"); do
		[ -f "$f" ] && process_id "$(head -n1 "$f" | tr -d ' \\t\\r')" "$uid"
	done | sort -u
}`;
