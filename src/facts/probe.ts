// One probe script, run once per host, and the pure parser that turns its
// output into HostFacts. The script only reads; every section is delimited so a
// missing tool or file leaves that section empty instead of derailing the rest.
import { servicePidsFunction, SERVICES, type ServiceName } from './services.js';
import { ProbeFailedError } from '../errors.js';
import { sh, underRoot, type ShellScript } from '../shell/script.js';
import { journalProbeLines, parseJournalSection, type JournalFacts } from './run-journal.js';

export const TOKEN_LUA_MODULES = ['cjson.safe', 'openssl.hmac', 'basexx', 'inspect', 'ssl'] as const;
export type LuaModule = (typeof TOKEN_LUA_MODULES)[number];

/** Debian package that provides each Lua module the token plugins require. */
export const LUA_MODULE_PACKAGES: Record<LuaModule, string> = {
  'cjson.safe': 'lua-cjson',
  'openssl.hmac': 'lua-luaossl',
  basexx: 'lua-basexx',
  inspect: 'lua-inspect',
  ssl: 'lua-sec',
};

export const PLUGIN_DIR = '/usr/share/jitsi-meet/prosody-plugins';
const PACKAGES_OF_INTEREST = [...new Set(Object.values(LUA_MODULE_PACKAGES)), 'prosody', 'jitsi-meet-prosody', 'jitsi-meet-tokens', 'jicofo', 'jitsi-videobridge2', 'jibri', 'jigasi'];
/** Prosody's data directory: one directory per host, named with %XX escapes (auth%2emeet%2eexample%2ecom). */
const PROSODY_DATA = '/var/lib/prosody';
export const JIGASI_PROPERTIES = '/etc/jitsi/jigasi/sip-communicator.properties';
export const WEB_CONFIG_DIR = '/etc/jitsi/meet';
/** Public keys this tool publishes for Prosody to fetch, one directory per Jitsi domain. */
export const KEY_DIR = '/etc/prosody/jitsi-jwt-keys';
/** Where Prosody's config lives: its main file, and the directory its relative Includes start from. */
export const PROSODY_CONFIG_DIR = '/etc/prosody';
export const PROSODY_CONFIG = `${PROSODY_CONFIG_DIR}/prosody.cfg.lua`;
const MARK = '@@jitsi-jwt:';

export interface DomainFile {
  /** the path Prosody includes (usually the link in conf.d) */
  link: string;
  /** the file it resolves to (usually in conf.avail) */
  path: string;
  mode: string;
  owner: string;
  group: string;
  /** last modification, seconds since the epoch */
  mtime: number;
  text: string;
}

export interface ServiceState {
  installed: boolean;
  /** "pid:starttime" of the service's processes; a restart replaces all of them */
  processes: string[];
  /** when the oldest of them started, seconds since the epoch */
  startedAt?: number;
}

export interface HostFacts {
  uid: number;
  /** the record a changing run keeps on the host while it works (an earlier run's, when no live run holds the lock) */
  runJournal?: JournalFacts;
  /** the host's clock when it was read (seconds since the epoch) and its time zone's offset from UTC */
  clock?: { now: number; utcOffsetSeconds: number };
  os: { id: string; versionId: string; prettyName: string };
  init: 'systemd' | 'sysv';
  prosody: { version?: string; lua?: string };
  packages: Record<string, { installed: boolean; version?: string }>;
  domainFiles: DomainFile[];
  plugins: { dir: string; present: string[] };
  luaModules: Record<string, boolean>;
  /** why a module does not load: the first line of Lua's error, by module */
  luaErrors?: Record<string, string>;
  /** pure-Lua module files Debian ships for older Lua versions, by module */
  pureLuaFiles: Record<string, string[]>;
  jicofoConf?: string;
  services: Record<ServiceName, ServiceState>;
  /** IPv4 address:port pairs Prosody listens on */
  listening: string[];
  /** account names on the hosts where Jitsi's components log in (auth.*, recorder.*, hidden.*), by host */
  accounts: Record<string, string[]>;
  /** how many accounts each host of this Prosody has (password logins), by host */
  accountCounts: Record<string, number>;
  /** the answers jitsi-meet-tokens' install and removal scripts use (debconf), when there are any */
  tokensDebconf: { appId?: string; appSecret?: string };
  /** the XMPP account Jigasi logs in with (from its sip-communicator.properties) */
  jigasiUser?: string;
  /** Jitsi Meet's web configs, /etc/jitsi/meet/<domain>-config.js */
  webConfigs: WebConfigFile[];
  /** public key files this tool published (KEY_DIR/<domain>/<hex(sha256(kid))>.pem) */
  publishedKeys?: { path: string; text: string }[];
  /**
   * every *.lua file under PROSODY_CONFIG_DIR (links followed), in directory order: the files Prosody's
   * main config and its Includes can read, in the order a wildcard Include reads a directory
   */
  prosodyConfigFiles?: ConfigFile[];
}

export interface ConfigFile {
  /** as Prosody names it (a link in conf.d stays the link) */
  path: string;
  text: string;
}

export interface WebConfigFile {
  path: string;
  mode: string;
  owner: string;
  group: string;
  text: string;
}

/** Prosody's store directory name of a host or user: every character but letters and digits as %xx. */
export function prosodyStoreName(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function fromStoreName(name: string): string {
  return name.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Where to reach Prosody's HTTP port from the host itself: the address it listens on (any → loopback). */
export function prosodyHttpAddress(facts: Pick<HostFacts, 'listening'>, port = 5280): string | undefined {
  const hosts = facts.listening.filter((l) => l.endsWith(`:${port}`)).map((l) => l.slice(0, l.lastIndexOf(':')));
  if (hosts.length === 0) return undefined;
  if (hosts.includes('0.0.0.0') || hosts.includes('127.0.0.1')) return '127.0.0.1';
  return hosts[0];
}

/** "0200007F:14A0" (little-endian IPv4, hex port) → "127.0.0.2:5280" */
export function decodeProcNetAddress(hex: string): string {
  const [address, port] = hex.split(':');
  const octets = address.match(/../g)!.map((h) => parseInt(h, 16)).reverse();
  return `${octets.join('.')}:${parseInt(port, 16)}`;
}

/**
 * Prints `path<TAB>base64 of its text` for every *.lua file under `dir`, three levels deep, links followed.
 * find lists a directory in the order readdir gives, unsorted, as Prosody's wildcard Include (lfs.dir) does.
 */
export function configFilesCommand(dir: string): ShellScript {
  return sh`find -L ${dir} -maxdepth 3 -name '*.lua' -type f 2>/dev/null | while IFS= read -r f; do printf '%s\t%s\n' "$f" "$(base64 -w0 "$f")"; done`;
}

/** Runs a command as the prosody user, as Prosody itself loads its modules. */
export const AS_PROSODY_FUNCTION = sh`as_prosody() { if command -v runuser >/dev/null 2>&1 && id prosody >/dev/null 2>&1; then runuser -u prosody -- "$@"; else "$@"; fi; }`;

/** Lua that loads each token module and prints "name<TAB>ok|missing<TAB>first line of the error". */
const LUA_MODULE_CHECK = `for _, m in ipairs({${TOKEN_LUA_MODULES.map((m) => `"${m}"`).join(', ')}}) do local ok, err = pcall(require, m); print(m, ok and "ok" or "missing", ok and "" or (tostring(err):gsub("\\n.*", ""))) end`;

/** The probe; `root` is a directory standing for the host's / (unit tests), '' on a host. */
export function probeScript(root = ''): ShellScript {
  const at = (path: string) => underRoot(root, path);
  const section = (name: string) => sh`printf ${`\\n${MARK}%s@@\\n`} ${name}`;
  // The slowest sections (Lua loading its modules, the services' processes and sockets) run
  // in the background while the rest reads files; their output is printed in its place.
  return sh`export LC_ALL=C
${servicePidsFunction(root)}
# Without them the slow sections would read as "no Lua module loads" and "no service runs".
lua_out=$(mktemp) && services_out=$(mktemp) || { ${section('failed')}; echo 'cannot make a temporary file'; exit 1; }
# A file that cannot be read is named as such, never passed off as an empty one.
unreadable=
cannot_read() { unreadable="$unreadable$1
"; }
(
lua=$(head -n1 ${at('/usr/bin/prosody')} 2>/dev/null | sed -n 's|^#! *\\(/usr/bin/env  *\\)\\{0,1\\}||p' | awk '{print $1}')
${AS_PROSODY_FUNCTION}
[ -n "$lua" ] && command -v "$lua" >/dev/null 2>&1 && as_prosody "$lua" -e ${LUA_MODULE_CHECK} 2>/dev/null
) > "$lua_out" 2>/dev/null &
lua_job=$!
(
${section('listening')}
listening prosody
${section('services')}
for s in ${SERVICES}; do
	if [ -x ${at('/etc/init.d')}/"$s" ] || [ -e ${at('/lib/systemd/system')}/"$s.service" ] || [ -e ${at('/etc/systemd/system')}/"$s.service" ]; then installed=yes; else installed=no; fi
	printf '%s\\t%s\\t%s\\n' "$s" "$installed" "$(service_pids "$s" | tr '\\n' ' ')"
done
) > "$services_out" 2>/dev/null &
services_job=$!
${section('uid')}; id -u
${section('clock')}; printf '%s %s %s %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$(getconf CLK_TCK)" "$(date +%s.%N)" "$(date +%z)"
${section('os')}; cat ${at('/etc/os-release')} 2>/dev/null
${section('init')}; if [ -d ${at('/run/systemd/system')} ]; then echo systemd; else echo sysv; fi
${section('prosody-version')}; dpkg-query -W -f='\${Version}' prosody 2>/dev/null
${section('prosody-lua')}; head -n1 ${at('/usr/bin/prosody')} 2>/dev/null
${section('packages')}; dpkg-query -W -f='\${Package}\\t\${db:Status-Abbrev}\\t\${Version}\\n' ${PACKAGES_OF_INTEREST} 2>/dev/null
${section('domain-files')}
for f in ${at('/etc/prosody/conf.d')}/*.cfg.lua; do
	[ -e "$f" ] || continue
	if real=$(readlink -f "$f") && meta=$(stat --printf '%a\\t%U\\t%G\\t%.9Y' "$real") && content=$(base64 -w0 "$real"); then
		printf '%s\\t%s\\t%s\\t%s\\n' "$f" "$real" "$meta" "$content"
	else cannot_read "$f"; fi
done
${section('prosody-config-files')}
${configFilesCommand(at(PROSODY_CONFIG_DIR))}
${section('plugins')}; ls -1 ${at(PLUGIN_DIR)} 2>/dev/null; ls -1 ${at(`${PLUGIN_DIR}/token`)} 2>/dev/null | sed 's|^|token/|'
${section('lua-modules')}; wait $lua_job; cat "$lua_out"
${section('pure-lua-files')}; ls -1 ${at('/usr/share/lua')}/5.*/basexx.lua ${at('/usr/share/lua')}/5.*/inspect.lua 2>/dev/null
${section('jicofo-conf')}; f=${at('/etc/jitsi/jicofo/jicofo.conf')}; if [ -e "$f" ]; then base64 -w0 "$f" 2>/dev/null || cannot_read "$f"; fi
${section('accounts')}
for d in ${at(PROSODY_DATA)}/auth%2e*/accounts ${at(PROSODY_DATA)}/recorder%2e*/accounts ${at(PROSODY_DATA)}/hidden%2e*/accounts; do
	[ -d "$d" ] || continue
	h=\${d%/accounts}; h=\${h##*/}
	for f in "$d"/*.dat; do [ -e "$f" ] && { n=\${f##*/}; printf '%s\t%s\n' "$h" "\${n%.dat}"; }; done
done
${section('account-counts')}
for d in ${at(PROSODY_DATA)}/*/accounts; do
	[ -d "$d" ] || continue
	h=\${d%/accounts}; h=\${h##*/}
	set -- "$d"/*.dat
	[ -e "$1" ] || set --
	printf '%s\t%s\n' "$h" "$#"
done
${section('tokens-debconf')}
for f in ${['/var/cache/debconf/config.dat', '/var/cache/debconf/passwords.dat'].map(at)}; do
	[ -r "$f" ] && awk 'BEGIN { RS = ""; FS = "\\n" } { name = ""; value = ""; for (i = 1; i <= NF; i++) { if ($i ~ /^Name: /) name = substr($i, 7); else if ($i ~ /^Value: /) value = substr($i, 8) } if (name == "jitsi-meet-tokens/appid" || name == "jitsi-meet-tokens/appsecret") print name "\\t" value }' "$f"
done
${section('jigasi-user')}; sed -n 's/^org\\.jitsi\\.jigasi\\.xmpp\\.acc\\.USER_ID=//p' ${at(JIGASI_PROPERTIES)} 2>/dev/null | head -n1
${section('web-configs')}
for f in ${at(WEB_CONFIG_DIR)}/*-config.js; do
	[ -f "$f" ] || continue
	if meta=$(stat --printf '%a\t%U\t%G' "$f") && content=$(base64 -w0 "$f"); then printf '%s\t%s\t%s\n' "$f" "$meta" "$content"; else cannot_read "$f"; fi
done
${section('run-journal')}
${journalProbeLines()}
${section('published-keys')}
for f in ${at(KEY_DIR)}/*/*.pem; do
	[ -f "$f" ] || continue
	if content=$(base64 -w0 "$f"); then printf '%s\t%s\n' "$f" "$content"; else cannot_read "$f"; fi
done
wait $services_job; cat "$services_out"; rm -f "$lua_out" "$services_out"
${section('unreadable')}; printf '%s' "$unreadable"
${section('end')}
`;
}

/** The parts of a script's output, each after its own `<mark><name>@@` line (the probe's mark unless another is given). */
export function sections(output: string, mark = MARK): Map<string, string> {
  const map = new Map<string, string>();
  const re = new RegExp(`^${mark}([a-z-]+)@@$`, 'gm');
  const marks = [...output.matchAll(re)];
  marks.forEach((m, i) => {
    const start = m.index! + m[0].length + 1;
    const end = i + 1 < marks.length ? marks[i + 1].index! : output.length;
    map.set(m[1], output.slice(start, end).replace(/\n+$/, ''));
  });
  return map;
}

const lines = (text: string | undefined) => (text ?? '').split('\n').filter((l) => l.trim() !== '');

export function parseFacts(output: string): HostFacts {
  const s = sections(output);
  const hint = "nothing was changed; run again, and if it stops the same way, check that the host's /bin/sh and coreutils work (the probe is a POSIX shell script)";
  if (s.has('failed')) throw new ProbeFailedError(`the script that reads the host stopped: ${s.get('failed') || 'no reason given'}`, hint);
  const unreadable = lines(s.get('unreadable'));
  if (unreadable.length > 0) {
    throw new ProbeFailedError(`the script that reads the host could not read ${unreadable.join(', ')}`, 'nothing was changed; check that root can read it (and the disk it is on), then run again');
  }
  if (!s.has('end')) {
    const reached = [...s.keys()].pop();
    throw new ProbeFailedError(
      `the script that reads the host did not run to its end (it stopped ${reached ? `after its "${reached}" section` : 'before printing anything'})`,
      hint,
    );
  }
  const osRelease = Object.fromEntries(
    lines(s.get('os')).map((l) => {
      const [k, ...v] = l.split('=');
      return [k, v.join('=').replace(/^"|"$/g, '')];
    }),
  );
  const packages: HostFacts['packages'] = {};
  for (const line of lines(s.get('packages'))) {
    const [name, status, version] = line.split('\t');
    packages[name] = { installed: status?.startsWith('ii') ?? false, version: version || undefined };
  }
  const domainFiles = lines(s.get('domain-files')).map((line) => {
    const [link, path, mode, owner, group, mtime, content] = line.split('\t');
    return { link, path, mode, owner, group, mtime: Number(mtime), text: Buffer.from(content ?? '', 'base64').toString('utf8') };
  });
  const luaModules: Record<string, boolean> = {};
  for (const m of TOKEN_LUA_MODULES) luaModules[m] = false;
  const luaErrors: Record<string, string> = {};
  for (const line of lines(s.get('lua-modules'))) {
    const [name, state, error] = line.split('\t');
    luaModules[name] = state === 'ok';
    if (state !== 'ok' && error) luaErrors[name] = error.trim();
  }
  const pureLuaFiles: Record<string, string[]> = { basexx: [], inspect: [] };
  for (const file of lines(s.get('pure-lua-files'))) {
    const name = file.split('/').pop()!.replace(/\.lua$/, '');
    pureLuaFiles[name]?.push(file);
  }
  const services = {} as Record<ServiceName, ServiceState>;
  for (const name of SERVICES) services[name] = { installed: false, processes: [] };
  for (const line of lines(s.get('services'))) {
    const [name, installed, pids] = line.split('\t');
    if ((SERVICES as readonly string[]).includes(name)) {
      services[name as ServiceName] = { installed: installed === 'yes', processes: (pids ?? '').trim().split(/\s+/).filter(Boolean) };
    }
  }
  // Start times from the uptime and the clock read together, to a hundredth of a second (boot time, in whole seconds, is too coarse).
  const [uptimeText, ticksText, nowText, zone] = (s.get('clock') ?? '').split(' ');
  const [uptime, clockTicks, now] = [uptimeText, ticksText, nowText].map(Number);
  for (const state of Object.values(services)) {
    const starts = state.processes.map((p) => Number(p.split(':')[1])).filter((t) => t > 0);
    if (starts.length > 0 && uptime > 0 && clockTicks > 0 && now > 0) state.startedAt = now - (uptime - Math.min(...starts) / clockTicks);
  }
  const luaShebang = s.get('prosody-lua') ?? '';
  const jicofo = s.get('jicofo-conf');
  return {
    uid: Number(s.get('uid')),
    clock: now > 0 ? { now, utcOffsetSeconds: utcOffset(zone) } : undefined,
    os: { id: osRelease.ID ?? 'unknown', versionId: osRelease.VERSION_ID ?? '', prettyName: osRelease.PRETTY_NAME ?? 'unknown' },
    init: s.get('init') === 'systemd' ? 'systemd' : 'sysv',
    prosody: {
      version: s.get('prosody-version') || undefined,
      lua: /\b(lua5\.\d|luajit)\b/.exec(luaShebang)?.[1],
    },
    packages,
    domainFiles,
    plugins: { dir: PLUGIN_DIR, present: lines(s.get('plugins')) },
    luaModules,
    luaErrors,
    pureLuaFiles,
    jicofoConf: jicofo ? Buffer.from(jicofo, 'base64').toString('utf8') : undefined,
    services,
    accounts: parseAccounts(s.get('accounts')),
    accountCounts: Object.fromEntries(lines(s.get('account-counts')).map((l) => l.split('\t')).filter(([h, n]) => h && /^\d+$/.test(n ?? '')).map(([h, n]) => [fromStoreName(h), Number(n)])),
    tokensDebconf: parseTokensDebconf(s.get('tokens-debconf')),
    jigasiUser: lines(s.get('jigasi-user'))[0]?.trim() || undefined,
    webConfigs: lines(s.get('web-configs')).map((line) => {
      const [path, mode, owner, group, content] = line.split('\t');
      return { path, mode, owner, group, text: Buffer.from(content ?? '', 'base64').toString('utf8') };
    }),
    publishedKeys: lines(s.get('published-keys')).map((line) => {
      const [path, content] = line.split('\t');
      return { path, text: Buffer.from(content ?? '', 'base64').toString('utf8') };
    }),
    prosodyConfigFiles: lines(s.get('prosody-config-files')).map((line) => {
      // base64 has no tab: the last one ends the path
      const tab = line.lastIndexOf('\t');
      return { path: line.slice(0, tab), text: Buffer.from(line.slice(tab + 1), 'base64').toString('utf8') };
    }),
    listening: lines(s.get('listening')).filter((l) => /^[0-9A-F]{8}:[0-9A-F]{4}$/i.test(l)).map(decodeProcNetAddress),
    runJournal: parseJournalSection(lines(s.get('run-journal'))),
  };
}

/** "+0130" → 5400; anything else → 0 */
function utcOffset(zone: string | undefined): number {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(zone ?? '');
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
}

function parseAccounts(section: string | undefined): Record<string, string[]> {
  const accounts: Record<string, string[]> = {};
  for (const line of lines(section)) {
    const [host, user] = line.split('\t');
    if (!host || !user) continue;
    (accounts[fromStoreName(host)] ??= []).push(fromStoreName(user));
  }
  return accounts;
}

function parseTokensDebconf(section: string | undefined): HostFacts['tokensDebconf'] {
  const answers: HostFacts['tokensDebconf'] = {};
  for (const line of lines(section)) {
    const tab = line.indexOf('\t');
    const [name, value] = [line.slice(0, tab), line.slice(tab + 1)];
    if (name === 'jitsi-meet-tokens/appid') answers.appId = value;
    if (name === 'jitsi-meet-tokens/appsecret') answers.appSecret = value;
  }
  return answers;
}

