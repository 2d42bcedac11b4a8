// What doctor reads beyond the probe, in the same round trip: the token lines
// of Prosody's log and the leftovers of older ways of installing the token
// plugins. Read-only, like the probe; each part is delimited so a missing file
// leaves only that part empty.
import { PLUGIN_DIR, sections } from '../facts/probe.js';
import { sh, underRoot, type ShellScript } from '../shell/script.js';
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

/** Doctor's reading; `root` is a directory standing for the host's / (unit tests), '' on a host. */
export function doctorScript(root = ''): ShellScript {
  const at = (path: string) => underRoot(root, path);
  const part = (name: string) => sh`printf ${`\\n${MARK}%s@@\\n`} ${name}`;
  const localShare = at('/usr/local/share/lua');
  const localLib = at('/usr/local/lib/lua');
  return sh`${part('log-files')}
for f in ${PROSODY_LOGS.map(at)}; do [ -r "$f" ] && echo "$f"; done
${part('log')}
for f in ${PROSODY_LOGS.map(at)}; do [ -r "$f" ] && grep -E ${PROSODY_LOG_PATTERN} "$f" 2>/dev/null | tail -n ${LOG_LINES}; done
${part('luarocks-jwt')}
ls -d ${at('/usr/local/lib/luarocks')}/rocks*/luajwtjitsi ${localShare}/5.*/luajwtjitsi* 2>/dev/null
${part('local-lua')}
for f in ${localShare}/5.*/basexx.lua ${localShare}/5.*/inspect.lua ${localLib}/5.*/cjson.so ${localLib}/5.*/_openssl.so; do
	[ -e "$f" ] || continue
	real=$(readlink -f "$f")
	# A link to the file a Debian package installed is how Prosody's newer Lua finds it: no copy.
	case "$real" in ${at('/usr/share/lua')}/*|${at('/usr/lib')}/*) dpkg -S "$real" >/dev/null 2>&1 && continue ;; esac
	echo "$f"
done
${part('sub-at-login')}
grep -c 'sub claim is missing' ${at(`${PLUGIN_DIR}/token/util.lib.lua`)} 2>/dev/null
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
