// The shell scripts apply sends to the host, one per step. Each is a POSIX sh
// script sent over stdin (never argv); file contents travel base64-encoded
// inside them. Results come back as `@@result key value` lines.
import { posix } from 'node:path';
import { DEBCONF_DATABASES } from '../plan/changes.js';
import { AS_PROSODY_FUNCTION } from '../facts/probe.js';
import { servicePidsFunction, type ServiceName } from '../facts/services.js';
import { LOCK_DIR, journalStepLine, writeJournalLines, type RunJournal } from '../facts/run-journal.js';
import { heredoc, joinLines, sh, underRoot, type ShellScript } from '../shell/script.js';

export { LOCK_DIR, LOCK_FILE, LOCK_HOLDER } from '../facts/run-journal.js';

/** The line a lock script prints once it holds the lock and `whileHeld` has run. */
export const HELD_MARK = '@@jitsi-jwt:held@@';

/**
 * Holds the host-wide lock for as long as the channel stays open. Its first
 * line says how it went: "locked"; "busy PID SINCE USER" (another run holds
 * it: its pid, since when, for whom); or "error WHY" (the lock could not be
 * taken at all). Once locked, it runs `whileHeld` (the probe: the host is read
 * under the lock, in the same round trip), prints HELD_MARK, and holds. `dir`
 * is LOCK_DIR but in unit tests.
 */
export function lockScript(whileHeld: ShellScript = sh`:`, dir = LOCK_DIR): ShellScript {
  const lockFile = `${dir}/lock`;
  const holder = `${dir}/holder`;
  // One compound command: sh reads all of it before running any, so the cat that holds the lock cannot swallow the lines after it.
  return sh`export LC_ALL=C
{
dir=${dir}
[ -d "$dir" ] || mkdir -m 700 "$dir" 2>/dev/null
if [ -L "$dir" ] || [ ! -d "$dir" ]; then echo "error $dir is not a directory"; exit 0; fi
if [ "$(stat -c %u "$dir")" != 0 ] || [ $((0$(stat -c %a "$dir") & 022)) != 0 ]; then
	echo "error $dir may be written by others than root (owner $(stat -c %U "$dir"), mode $(stat -c %a "$dir")): remove it, and the next run makes it again"
	exit 0
fi
if ! error=$(touch ${lockFile} 2>&1); then echo "error cannot open $dir/lock: $(printf '%s' "$error" | tr '\n' ' ')"; exit 0; fi
# The lock belongs to fd 9 of this shell, and of the cat it becomes: held until the channel closes.
exec 9>>${lockFile}
flock -n -E 75 9 2>"$dir/error"
case $? in
0) ;;
75) echo "busy $(cat ${holder} 2>/dev/null)"; exit 0 ;;
*) echo "error flock: $(tr '\n' ' ' < "$dir/error")"; exit 0 ;;
esac
printf '%s %s %s\n' "$$" "$(date +%s)" "\${SUDO_USER:-$(id -un)}" > ${holder}
echo locked
# What runs under the lock knows it holds it (the probe tells an earlier run's record from a live run's).
jitsi_jwt_holding=1
{
${whileHeld}
} </dev/null
echo ${HELD_MARK}
exec cat >/dev/null
}`;
}

/** What lockScript's first line says. */
export type LockAnswer = { state: 'locked' } | { state: 'busy'; pid?: number; since?: Date; user?: string } | { state: 'error'; reason: string };

export function parseLockAnswer(line: string): LockAnswer {
  const text = line.trim();
  if (text === 'locked') return { state: 'locked' };
  const busy = /^busy(?: (\d+) (\d+) (\S+))?/.exec(text);
  if (busy) return busy[1] ? { state: 'busy', pid: Number(busy[1]), since: new Date(Number(busy[2]) * 1000), user: busy[3] } : { state: 'busy' };
  if (text.startsWith('error ')) return { state: 'error', reason: text.slice(6) };
  return { state: 'error', reason: `unexpected answer from the lock script: ${text || '(nothing)'}` };
}

export function installScript(packages: string[], lockTimeoutSeconds: number): ShellScript {
  return sh`export DEBIAN_FRONTEND=noninteractive LC_ALL=C
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
apt() { apt-get -o DPkg::Lock::Timeout=${lockTimeoutSeconds} -o Acquire::Retries=2 -q -y "$@"; }
if ! apt install --no-install-recommends ${packages} >"$log" 2>&1; then
	if grep -q 'Could not get lock' "$log"; then cat "$log" >&2; echo '@@result dpkg-lock held'; exit 1; fi
	# Package lists older than the mirror point at files it no longer has.
	apt update >>"$log" 2>&1
	if ! apt install --no-install-recommends ${packages} >>"$log" 2>&1; then
		grep -q 'Could not get lock' "$log" && echo '@@result dpkg-lock held'
		tail -n 20 "$log" >&2
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
  /** a new file: its directory is made when missing, and a rollback removes it */
  create?: boolean;
  /** remove the file (a rollback puts the saved copy back) */
  remove?: boolean;
}

export interface LinkWrite {
  path: string;
  /** Lua module file name, e.g. basexx.lua: linked to the newest copy Debian ships for an older Lua */
  module: string;
  /** link to exactly this file instead */
  target?: string;
}

/**
 * Backs up, writes atomically, links, validates. Prints the configuration
 * check before and after, and which Lua modules load afterwards; the caller
 * decides, and restores with restoreScript() when something is wrong.
 *
 * The manifest says how to undo each step: `file<TAB>path<TAB>saved copy`,
 * `link<TAB>path` (a link this run made: remove it), `new<TAB>path` (a file this run made: remove it) and
 * `unlink<TAB>path<TAB>old target` (a link this run removed or replaced: put it back).
 */
export function writeScript(options: { backupDir: string; files: FileWrite[]; links: LinkWrite[]; unlinks?: string[]; lua: string; luaModules: readonly string[]; debconf?: string; journal?: RunJournal; root?: string }): ShellScript {
  const { backupDir } = options;
  // Host paths the plan does not name (debconf's databases, Debian's Lua files) are under root in unit tests.
  const at = (path: string) => underRoot(options.root ?? '', path);
  const manifest = `${backupDir}/manifest`;
  const backupRoot = posix.dirname(backupDir);
  // What a link's path was before this run touched it, so that a rollback puts exactly that back.
  const recordLink = (path: string) =>
    sh`if [ -L ${path} ]; then old=$(readlink ${path}); printf 'unlink\\t%s\\t%s\\n' ${path} "$old" >> ${manifest}; else printf 'link\\t%s\\n' ${path} >> ${manifest}; fi`;
  const lines = [
    sh`set -e`,
    sh`export LC_ALL=C`,
    sh`umask 022`,
    // A temporary file left by a failed step is removed, whatever failed.
    sh`tmp=`,
    sh`trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT`,
    // A rollback and a restore write what a backup holds as root: only root may add, rename or change backups,
    // so the directory (BACKUP_ROOT on a host) becomes root's whoever owned it, and this run's own is always new
    // (mkdir, never one found there).
    sh`if [ -L ${backupRoot} ]; then echo ${`${backupRoot} is a symbolic link; make it a directory of root's (mode 700)`} >&2; exit 1; fi`,
    sh`install -d -m 700 ${backupRoot}`,
    sh`chown 0:0 ${backupRoot}`,
    sh`chmod 700 ${backupRoot}`,
    sh`mkdir -m 700 ${backupDir}`,
    sh`: > ${manifest}`,
    // Recorded before the first change: a controller that dies from here on leaves the host a record of this run.
    ...(options.journal ? [writeJournalLines(options.journal)] : []),
    checkConfig(`${backupDir}/check-before.txt`),
  ];
  if (options.debconf !== undefined) {
    // debconf's databases are saved like files, so a rollback puts the old answers back.
    for (const [i, db] of DEBCONF_DATABASES.map(at).entries()) {
      const saved = `${backupDir}/debconf-${i}`;
      lines.push(sh`if [ -f ${db} ]; then cp -a ${db} ${saved}; printf 'file\\t%s\\t%s\\n' ${db} ${saved} >> ${manifest}; fi`);
    }
    // The answers (one holds the secret) come through this script's stdin, never a command line; decoded into
    // a variable first, since a pipeline's status is its last command's and would hide a failed decode.
    lines.push(
      sh`selections=$(base64 -d ${heredoc(base64Lines(options.debconf))}
)`,
      sh`printf '%s\\n' "$selections" | debconf-set-selections`,
    );
  }
  for (const [i, file] of options.files.entries()) {
    const saved = `${backupDir}/file-${i}`;
    const backup = [sh`cp -a ${file.path} ${saved}`, sh`printf 'file\\t%s\\t%s\\n' ${file.path} ${saved} >> ${manifest}`];
    if (file.remove) {
      lines.push(sh`if [ -e ${file.path} ]; then`, ...backup.map((l) => sh`	${l}`), sh`	rm -f ${file.path}`, sh`fi`);
      continue;
    }
    if (file.create) {
      const dir = file.path.replace(/\/[^/]+$/, '') || '/';
      lines.push(
        sh`[ -d ${dir} ] || install -d -m 755 ${dir}`,
        sh`if [ -e ${file.path} ]; then ${backup[0]}; ${backup[1]}; else printf 'new\\t%s\\n' ${file.path} >> ${manifest}; fi`,
      );
    } else {
      lines.push(...backup);
    }
    if (file.content !== undefined) {
      const dir = file.path.replace(/\/[^/]+$/, '') || '/';
      lines.push(
        sh`tmp=$(mktemp ${`${dir}/.jitsi-jwt.XXXXXX`})`,
        sh`base64 -d > "$tmp" ${heredoc(base64Lines(file.content))}`,
        ...(file.ownership
          ? [sh`chown ${file.ownership.owner} "$tmp"`, sh`chmod ${file.ownership.mode} "$tmp"`]
          : [sh`chown --reference=${file.path} "$tmp"`, sh`chmod --reference=${file.path} "$tmp"`]),
        sh`mv -f "$tmp" ${file.path}`,
      );
    } else if (file.ownership) {
      lines.push(sh`chown ${file.ownership.owner} ${file.path}`, sh`chmod ${file.ownership.mode} ${file.path}`);
    }
  }
  for (const path of options.unlinks ?? []) {
    lines.push(sh`if [ -L ${path} ]; then old=$(readlink ${path}); printf 'unlink\\t%s\\t%s\\n' ${path} "$old" >> ${manifest}; rm -f ${path}; fi`);
  }
  for (const link of options.links) {
    lines.push(
      link.target === undefined ? sh`source=$(ls ${at('/usr/share/lua')}/5.[0-3]/${link.module} 2>/dev/null | sort -V | tail -n1)` : sh`source=${link.target}`,
      sh`[ -n "$source" ] || { echo ${`no copy of ${link.module} under /usr/share/lua/5.x`} >&2; exit 1; }`,
      sh`install -d -m 755 ${link.path.replace(/\/[^/]+$/, '')}`,
      recordLink(link.path),
      sh`ln -sfn "$source" ${link.path}`,
    );
  }
  const luaCheck = `for _, m in ipairs({${options.luaModules.map((m) => `"${m}"`).join(', ')}}) do local ok, err = pcall(require, m); print(m, ok and "ok" or ("missing " .. tostring(err):gsub("\\n.*", ""))) end`;
  lines.push(
    checkConfig(`${backupDir}/check-after.txt`),
    sh`echo '@@section check-before'`,
    sh`cat ${`${backupDir}/check-before.txt`}`,
    sh`echo '@@section check-after'`,
    sh`cat ${`${backupDir}/check-after.txt`}`,
    sh`echo '@@section lua-modules'`,
    // Prosody loads the modules as its own user: check them the same way.
    AS_PROSODY_FUNCTION,
    sh`as_prosody ${options.lua} -e ${luaCheck} 2>&1 || true`,
    sh`echo '@@section end'`,
  );
  return joinLines(lines);
}

/**
 * Prosody's configuration check into `file`. Its findings, not its exit status,
 * are what counts; but a file it could not write in full would hide findings,
 * so a failed write (the empty line after it too, on a full disk) stops the script.
 */
function checkConfig(file: string): ShellScript {
  return sh`{ prosodyctl check config || true; echo; } > ${file} 2>&1`;
}

/** File contents as base64 in lines of 76 characters, the way they travel inside a script. */
function base64Lines(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64').replace(/(.{76})/g, '$1\n').trimEnd();
}

/**
 * Puts back every file the write step saved, removes the links it made and puts
 * back the links it removed. It refuses a backup directory or manifest that
 * anyone but root could have written (the write step makes its own root's). A
 * step that cannot be undone is named on stderr, the others are still undone,
 * and the script fails: success is printed only when every step was undone.
 */
export function restoreScript(backupDir: string): ShellScript {
  return sh`set -e
tmp=
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT
manifest=${`${backupDir}/manifest`}
[ -f "$manifest" ] || exit 0
for p in ${backupDir} "$manifest"; do
	if [ -L "$p" ] || [ "$(stat -c %u "$p")" != 0 ] || [ $((0$(stat -c %a "$p") & 022)) != 0 ]; then
		echo "$p may be written by others than root (owner $(stat -c %U "$p"), mode $(stat -c %a "$p")): nothing is restored from it" >&2
		exit 1
	fi
done
# Called in an || list, where set -e does not stop anything: every step checks its own result.
put_back() { # $1 path, $2 saved copy: through a temporary file in the same directory, so the path is never half-written
	tmp=$(mktemp "$(dirname "$1")/.jitsi-jwt.XXXXXX") || return 1
	if cp -a "$2" "$tmp" && mv -f "$tmp" "$1"; then tmp=; return 0; fi
	rm -f "$tmp"; tmp=
	return 1
}
failed=
while IFS="$(printf '\\t')" read -r kind target saved; do
	case "$kind" in
	file) put_back "$target" "$saved" ;;
	link | new) rm -f "$target" ;;
	unlink) ln -sfn "$saved" "$target" ;;
	esac || { failed=yes; printf 'could not restore %s\\n' "$target" >&2; }
done < "$manifest"
[ -z "$failed" ] || exit 1
echo '@@result restored yes'`;
}

/**
 * Restarts services and confirms each restart by new processes that are still
 * there once the service is ready: Prosody first (Jicofo logs in to it, and a
 * real mod_client_proxy only sees focus come online once its component is
 * loaded), ready when its new processes listen on every address the old ones
 * did; then the others together, ready when their new processes outlive a
 * settle time. Where an init script reports success but leaves the old process
 * running (Debian 12's prosody script on Lua 5.4), it stops the service and
 * starts it again; under SysV it then signals the old processes itself, but
 * only those still the service's own (same pid, start time and user as
 * identified from the pidfile before the restart). Under systemd only
 * systemctl touches a unit's processes. Each service's line says how long it
 * took (`@@result took-NAME MS`). `root` stands for the host's / in unit tests
 * (the services' pidfiles and cgroups are read under it).
 */
export function restartScript(services: ServiceName[], init: 'systemd' | 'sysv', options: { journal?: boolean; root?: string } = {}): ShellScript {
  const ctl = init === 'systemd' ? (action: string) => sh`systemctl ${action} "$1"` : (action: string) => sh`service "$1" ${action}`;
  const first = services.filter((s) => s === 'prosody');
  const rest = services.filter((s) => s !== 'prosody');
  return sh`export LC_ALL=C
${servicePidsFunction(options.root ?? '')}
# Every service's records live here: without them no restart could be confirmed.
state=$(mktemp -d) || { echo "@@log cannot make a temporary directory to follow the restarts in"; exit 1; }
trap 'rm -rf "$state"' EXIT
now_ms() { read -r up rest < /proc/uptime; echo "\${up%.*}\${up#*.}0"; }
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
still_running() { # $1 uid, $2 processes: prints those that are still the same processes
	for p in $2; do [ "$(process_id "\${p%%:*}" "$1")" = "$p" ] && echo "$p"; done
}
signal_old() { # $1 signal, $2 uid, $3 processes
	for p in $(still_running "$2" "$3"); do kill -"$1" "\${p%%:*}" 2>/dev/null; done
}
fail_one() {
	echo "@@result $1 failed"
	tail -n 5 "$state/$1.log" 2>/dev/null | sed 's/^/@@log /'
}
restart_one() {
	before=$(service_pids "$1" | tr '\n' ' ')
	# Unwritten records would read as "no process, no address" and confirm anything: nothing restarts without them.
	if ! { echo "$before" > "$state/$1.before" && listening "$1" > "$state/$1.listening" && now_ms > "$state/$1.started"; }; then
		echo "@@result $1 failed"
		echo "@@log cannot record $1's processes before restarting it"
		return 1
	fi
	if ${ctl('restart')} >"$state/$1.log" 2>&1 && wait_new "$1" "$before"; then echo "@@result $1 restarted"; took "$1"; return 0; fi
	# The init script did not replace the process: stop the service and start it again.
	${ctl('stop')} >>"$state/$1.log" 2>&1
${
  init === 'sysv'
    ? sh`	uid=$(service_uid "$1")
	signal_old TERM "$uid" "$before"
	i=0
	while [ $i -lt 50 ] && [ -n "$(still_running "$uid" "$before")" ]; do i=$((i + 1)); sleep 0.2; done
	signal_old KILL "$uid" "$before"`
    : sh``
}
${
  init === 'systemd'
    ? sh`	# A unit that failed to start several times in a row (Restart=on-failure) refuses further starts until its failures are forgotten.
	systemctl reset-failed "$1" >>"$state/$1.log" 2>&1`
    : sh``
}
	if ${ctl('start')} >>"$state/$1.log" 2>&1 && wait_new "$1" "$before"; then echo "@@result $1 restarted-by-stop-start"; took "$1"; return 0; fi
	fail_one "$1"
	return 1
}
took() { echo "@@result took-$1 $(( $(now_ms) - $(cat "$state/$1.started") ))"; }
# Ready: listening again on every address the old processes listened on (at most 15 s), still on new processes;
# one that was not running listened nowhere, and is ready once it listens on its HTTP port (5280, hex as /proc/net/tcp has it).
ready_listening() {
	i=0
	while [ $i -lt 150 ]; do
		all_new "$1" "$(cat "$state/$1.before")" || break
		if [ -n "$(tr -d ' ' < "$state/$1.before")" ]; then missing=$(listening "$1" | comm -13 - "$state/$1.listening") || missing=unreadable
		else missing=$(listening "$1" | grep -q ':14A0$' || echo 5280); fi
		if [ -z "$missing" ]; then took "$1"; return 0; fi
		i=$((i + 1)); sleep 0.1
	done
	fail_one "$1"
	echo "@@log $1 is not listening again on every address it listened on before the restart"
	exit 1
}
# A service that dies right after starting did not really restart.
stays_up() {
	sleep 1
	for s in "$@"; do
		all_new "$s" "$(cat "$state/$s.before")" || { fail_one "$s"; exit 1; }
	done
}
${options.journal ? journalStepLine('restart') : sh``}
for s in ${first}; do
	restart_one "$s" || exit 1
	# Jicofo logs in as soon as it starts: Prosody must be up for good first, with its components loaded.
	ready_listening "$s"
done
for s in ${rest}; do
	restart_one "$s" > "$state/$s.out" &
done
wait
failed=0
for s in ${rest}; do
	cat "$state/$s.out"
	grep -q "^@@result $s restarted" "$state/$s.out" || failed=1
done
[ $failed = 0 ] || exit 1
${rest.length > 0 ? sh`stays_up ${rest}` : sh``}
${options.journal ? journalStepLine('smoke') : sh``}`;
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
