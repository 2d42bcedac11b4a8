// What doctor reads beyond the probe, in the same round trip: the token lines
// of Prosody's log and the leftovers of older ways of installing the token
// plugins. Read-only, like the probe; each part is delimited so a missing file
// leaves only that part empty.
import { PLUGIN_DIR, sections } from '../facts/probe.js';
import { PROSODY_LOG_PATTERN } from './prosody-log.js';

const MARK = '@@jitsi-jwt-doctor:';
export const PROSODY_LOGS = ['/var/log/prosody/prosody.log.1', '/var/log/prosody/prosody.log'];
/** At most this many matching lines per log file: the newest. */
const LOG_LINES = 5000;

export interface DoctorReading {
  /** the matching lines of Prosody's logs, oldest file first */
  log: string;
  /** the log files that could be read */
  logFiles: string[];
  /** luarocks' luajwtjitsi, left from the token plugins' old install instructions */
  luarocksJwt: string[];
  /** Lua modules under /usr/local that Prosody's Lua finds before Debian's packages (links to a package's files left out) */
  localLua: string[];
  /** the host's token plugins refuse a token without sub at login (newer generations) */
  subRequiredAtLogin: boolean;
}

export function doctorScript(): string {
  const part = (name: string) => `printf '\\n${MARK}%s@@\\n' '${name}'`;
  const quoted = PROSODY_LOG_PATTERN.replace(/'/g, `'\\''`);
  return `${part('log-files')}
for f in ${PROSODY_LOGS.join(' ')}; do [ -r "$f" ] && echo "$f"; done
${part('log')}
for f in ${PROSODY_LOGS.join(' ')}; do [ -r "$f" ] && grep -E '${quoted}' "$f" 2>/dev/null | tail -n ${LOG_LINES}; done
${part('luarocks-jwt')}
ls -d /usr/local/lib/luarocks/rocks*/luajwtjitsi /usr/local/share/lua/5.*/luajwtjitsi* 2>/dev/null
${part('local-lua')}
for f in /usr/local/share/lua/5.*/basexx.lua /usr/local/share/lua/5.*/inspect.lua /usr/local/lib/lua/5.*/cjson.so /usr/local/lib/lua/5.*/_openssl.so; do
	[ -e "$f" ] || continue
	real=$(readlink -f "$f")
	# A link to the file a Debian package installed is how Prosody's newer Lua finds it: no copy.
	case "$real" in /usr/share/lua/*|/usr/lib/*) dpkg -S "$real" >/dev/null 2>&1 && continue ;; esac
	echo "$f"
done
${part('sub-at-login')}
grep -c 'sub claim is missing' ${PLUGIN_DIR}/token/util.lib.lua 2>/dev/null
${part('end')}
`;
}

export function parseDoctorReading(output: string): DoctorReading {
  const parts = sections(output, MARK);
  const lines = (name: string) => (parts.get(name) ?? '').split('\n').filter((l) => l.trim() !== '');
  return {
    log: parts.get('log') ?? '',
    logFiles: lines('log-files'),
    luarocksJwt: lines('luarocks-jwt'),
    localLua: lines('local-lua'),
    subRequiredAtLogin: Number(lines('sub-at-login')[0] ?? 0) > 0,
  };
}
