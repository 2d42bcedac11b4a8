// The shell scripts apply sends to the host, one per step. Each is a POSIX sh
// script sent over stdin (never argv); file contents travel base64-encoded
// inside them. Results come back as `@@result key value` lines.
import { AS_PROSODY_FUNCTION, SERVICE_PIDS_FUNCTION } from '../facts/probe.js';
import type { ServiceName } from '../facts/services.js';

export const LOCK_FILE = '/run/lock/jitsi-jwt.lock';
export const BACKUP_ROOT = '/var/backups/jitsi-jwt';

const shQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** Holds the host-wide lock for as long as the channel stays open. */
export function lockScript(): string {
  return `mkdir -p /run/lock
flock -n ${LOCK_FILE} sh -c 'echo locked; exec cat >/dev/null' || echo busy`;
}

export function installScript(packages: string[], lockTimeoutSeconds: number): string {
  const list = packages.map(shQuote).join(' ');
  return `export DEBIAN_FRONTEND=noninteractive LC_ALL=C
apt() { apt-get -o DPkg::Lock::Timeout=${lockTimeoutSeconds} -o Acquire::Retries=2 -q -y "$@"; }
if ! apt install --no-install-recommends ${list} >/tmp/jitsi-jwt-apt.log 2>&1; then
	if grep -q 'Could not get lock' /tmp/jitsi-jwt-apt.log; then cat /tmp/jitsi-jwt-apt.log >&2; echo '@@result dpkg-lock held'; exit 1; fi
	# Package lists older than the mirror point at files it no longer has.
	apt update >>/tmp/jitsi-jwt-apt.log 2>&1
	if ! apt install --no-install-recommends ${list} >>/tmp/jitsi-jwt-apt.log 2>&1; then
		grep -q 'Could not get lock' /tmp/jitsi-jwt-apt.log && echo '@@result dpkg-lock held'
		tail -n 20 /tmp/jitsi-jwt-apt.log >&2
		exit 1
	fi
fi
echo '@@result installed yes'`;
}

export interface FileWrite {
  path: string;
  /** undefined: keep the content, only fix mode and owner */
  content?: string;
  /** mode and "user:group" to end with; undefined: those of the file being replaced */
  ownership?: { mode: string; owner: string };
}

export interface LinkWrite {
  path: string;
  /** Lua module file name, e.g. basexx.lua: linked to the newest copy Debian ships for an older Lua */
  module: string;
}

/**
 * Backs up, writes atomically, links, validates. Prints the configuration
 * check before and after, and which Lua modules load afterwards; the caller
 * decides, and restores with restoreScript() when something is wrong.
 */
export function writeScript(options: { backupDir: string; files: FileWrite[]; links: LinkWrite[]; lua: string; luaModules: readonly string[] }): string {
  const { backupDir } = options;
  const lines = [
    'set -e',
    'export LC_ALL=C',
    'umask 022',
    `install -d -m 700 ${shQuote(BACKUP_ROOT)} ${shQuote(backupDir)}`,
    `: > ${shQuote(`${backupDir}/manifest`)}`,
    `prosodyctl check config > ${shQuote(`${backupDir}/check-before.txt`)} 2>&1 || true`,
  ];
  for (const [i, file] of options.files.entries()) {
    const saved = `${backupDir}/file-${i}`;
    lines.push(
      `cp -a ${shQuote(file.path)} ${shQuote(saved)}`,
      `printf 'file\\t%s\\t%s\\n' ${shQuote(file.path)} ${shQuote(saved)} >> ${shQuote(`${backupDir}/manifest`)}`,
    );
    if (file.content !== undefined) {
      const dir = file.path.replace(/\/[^/]+$/, '') || '/';
      lines.push(
        `tmp=$(mktemp ${shQuote(`${dir}/.jitsi-jwt.XXXXXX`)})`,
        `base64 -d > "$tmp" <<'JITSI_JWT_EOF'`,
        Buffer.from(file.content, 'utf8').toString('base64').replace(/(.{76})/g, '$1\n').trimEnd(),
        'JITSI_JWT_EOF',
        ...(file.ownership
          ? [`chown ${shQuote(file.ownership.owner)} "$tmp"`, `chmod ${file.ownership.mode} "$tmp"`]
          : [`chown --reference=${shQuote(file.path)} "$tmp"`, `chmod --reference=${shQuote(file.path)} "$tmp"`]),
        `mv -f "$tmp" ${shQuote(file.path)}`,
      );
    } else if (file.ownership) {
      lines.push(`chown ${shQuote(file.ownership.owner)} ${shQuote(file.path)}`, `chmod ${file.ownership.mode} ${shQuote(file.path)}`);
    }
  }
  for (const link of options.links) {
    lines.push(
      `source=$(ls /usr/share/lua/5.[0-3]/${link.module} 2>/dev/null | sort -V | tail -n1)`,
      `[ -n "$source" ] || { echo "no copy of ${link.module} under /usr/share/lua/5.x" >&2; exit 1; }`,
      `install -d -m 755 ${shQuote(link.path.replace(/\/[^/]+$/, ''))}`,
      `ln -sfn "$source" ${shQuote(link.path)}`,
      `printf 'link\\t%s\\n' ${shQuote(link.path)} >> ${shQuote(`${backupDir}/manifest`)}`,
    );
  }
  lines.push(
    `prosodyctl check config > ${shQuote(`${backupDir}/check-after.txt`)} 2>&1 || true`,
    `echo '@@section check-before'`,
    `cat ${shQuote(`${backupDir}/check-before.txt`)}`,
    `echo '@@section check-after'`,
    `cat ${shQuote(`${backupDir}/check-after.txt`)}`,
    `echo '@@section lua-modules'`,
    // Prosody loads the modules as its own user: check them the same way.
    AS_PROSODY_FUNCTION,
    `as_prosody ${options.lua} -e 'for _, m in ipairs({${options.luaModules.map((m) => `"${m}"`).join(', ')}}) do local ok, err = pcall(require, m); print(m, ok and "ok" or ("missing " .. tostring(err):gsub("\\n.*", ""))) end' 2>&1 || true`,
    `echo '@@section end'`,
  );
  return lines.join('\n');
}

/** Puts back every file the write step saved and removes the links it made. */
export function restoreScript(backupDir: string): string {
  return `set -e
manifest=${shQuote(`${backupDir}/manifest`)}
[ -f "$manifest" ] || exit 0
while IFS="$(printf '\\t')" read -r kind target saved; do
	case "$kind" in
	file) cp -a "$saved" "$target.jitsi-jwt-restore" && mv -f "$target.jitsi-jwt-restore" "$target" ;;
	link) rm -f "$target" ;;
	esac
done < "$manifest"
echo '@@result restored yes'`;
}

/**
 * Restarts services and confirms each restart by new processes that still run
 * a second later: Prosody first (Jicofo logs in to it, and a real
 * mod_client_proxy only sees focus come online once its component is loaded),
 * then the others together. Where
 * an init script reports success but leaves the old process running (Debian
 * 12's prosody script on Lua 5.4), it stops the old process itself and starts
 * the service again.
 */
export function restartScript(services: ServiceName[], init: 'systemd' | 'sysv'): string {
  const ctl = init === 'systemd' ? (action: string) => `systemctl ${action} "$1"` : (action: string) => `service "$1" ${action}`;
  const first = services.filter((s) => s === 'prosody');
  const rest = services.filter((s) => s !== 'prosody');
  return `export LC_ALL=C
${SERVICE_PIDS_FUNCTION}
state=$(mktemp -d /tmp/jitsi-jwt-restart.XXXXXX)
trap 'rm -rf "$state"' EXIT
all_new() { # $1 service, $2 processes before: true when it runs on new processes only
	now=$(service_pids "$1")
	[ -n "$now" ] || return 1
	for p in $now; do case " $2 " in *" $p "*) return 1 ;; esac; done
	return 0
}
wait_new() {
	i=0
	while [ $i -lt 75 ]; do all_new "$1" "$2" && return 0; i=$((i + 1)); sleep 0.2; done
	return 1
}
fail_one() {
	echo "@@result $1 failed"
	tail -n 5 "$state/$1.log" 2>/dev/null | sed 's/^/@@log /'
}
restart_one() {
	before=$(service_pids "$1" | tr '\n' ' ')
	echo "$before" > "$state/$1.before"
	if ${ctl('restart')} >"$state/$1.log" 2>&1 && wait_new "$1" "$before"; then echo "@@result $1 restarted"; return 0; fi
	# The init script did not replace the process: stop it ourselves and start again.
	${ctl('stop')} >>"$state/$1.log" 2>&1
	for p in $before; do kill -TERM "\${p%%:*}" 2>/dev/null; done
	i=0
	while [ $i -lt 50 ]; do
		alive=0
		for p in $before; do kill -0 "\${p%%:*}" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		i=$((i + 1)); sleep 0.2
	done
	for p in $before; do kill -KILL "\${p%%:*}" 2>/dev/null; done
	if ${ctl('start')} >>"$state/$1.log" 2>&1 && wait_new "$1" "$before"; then echo "@@result $1 restarted-by-stop-start"; return 0; fi
	fail_one "$1"
	return 1
}
# A service that dies right after starting did not really restart.
stays_up() {
	sleep 1
	for s in "$@"; do
		all_new "$s" "$(cat "$state/$s.before")" || { fail_one "$s"; exit 1; }
	done
}
for s in ${first.join(' ')}; do
	restart_one "$s" || exit 1
done
# Jicofo logs in as soon as it starts: Prosody must be up for good first, with its components loaded.
${first.length > 0 ? `stays_up ${first.join(' ')}` : ''}
for s in ${rest.join(' ')}; do
	restart_one "$s" > "$state/$s.out" &
done
wait
failed=0
for s in ${rest.join(' ')}; do
	cat "$state/$s.out"
	grep -q "^@@result $s restarted" "$state/$s.out" || failed=1
done
[ $failed = 0 ] || exit 1
${rest.length > 0 ? `stays_up ${rest.join(' ')}` : ''}`;
}

export interface ScriptOutput {
  results: Map<string, string>;
  sections: Map<string, string[]>;
  logs: string[];
}

export function parseScriptOutput(stdout: string): ScriptOutput {
  const results = new Map<string, string>();
  const sections = new Map<string, string[]>();
  const logs: string[] = [];
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const result = /^@@result (\S+) ?(.*)$/.exec(line);
    const section = /^@@section (\S+)$/.exec(line);
    if (result) results.set(result[1], result[2]);
    else if (line.startsWith('@@log ')) logs.push(line.slice(6));
    else if (section) {
      current = [];
      sections.set(section[1], current);
    } else current?.push(line);
  }
  return { results, sections, logs };
}
