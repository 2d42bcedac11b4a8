// Throwaway XMPP accounts for the smoke test: an account on Jibri's recorder
// domain or on auth.<domain> proves that such identities join without a token.
// Made with prosodyctl on the host (the password goes through the script's
// stdin, never a command line) and removed when the test ends. Accounts an
// interrupted run left behind carry their creation time in their name and are
// removed by the next smoke test on that host.
import { randomBytes } from 'node:crypto';
import type { Connector } from '../connector/types.js';
import { prosodyStoreName } from '../facts/probe.js';
import { joinLines, sh, underRoot, type ShellScript } from '../shell/script.js';
import type { AccountMaker } from './smoke.js';
import { STEP_TIME_LIMITS_SECONDS } from '../settings/defaults.js';

export const SMOKE_ACCOUNT_PREFIX = 'jitsi-jwt-smoke-';
/** Older leftovers than this are removed by the next run (a smoke test takes well under a minute). */
export const LEFTOVER_AGE_SECONDS = 600;

const DOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/i;

/** Prosody's data directory; `root` stands for the host's / in unit tests. */
const prosodyData = (root: string) => underRoot(root, '/var/lib/prosody');

/** Removes this prefix's accounts on `domain` created before `cutoff` (seconds since the epoch). */
export function sweepScript(domain: string, cutoff: number, root = ''): ShellScript {
  const dir = `${prosodyData(root)}/${prosodyStoreName(domain)}/accounts`;
  const stored = prosodyStoreName(SMOKE_ACCOUNT_PREFIX);
  return sh`for f in ${dir}/${stored}*.dat; do
	[ -e "$f" ] || continue
	n=\${f##*/}; n=\${n%.dat}
	t=$(printf '%s' "$n" | sed -n ${`s/^${stored}\\([0-9]*\\)%2d.*/\\1/p`})
	[ -n "$t" ] && [ "$t" -lt ${Math.floor(cutoff)} ] || continue
	prosodyctl deluser "$(printf '%s' "$n" | sed 's/%2d/-/g')@"${domain} </dev/null >/dev/null 2>&1 || true
done`;
}

export function createScript(jid: string, password: string): ShellScript {
  // printf is a shell builtin: the password is in no process's arguments.
  return sh`pw=${password}
err=$(printf '%s\\n%s\\n' "$pw" "$pw" | prosodyctl adduser ${jid} 2>&1 >/dev/null) || { printf '%s\\n' "$err" >&2; exit 1; }`;
}

/** The file Prosody keeps an account in: gone once the account is. */
function accountFile(jid: string, root: string): string {
  const at = jid.lastIndexOf('@');
  return `${prosodyData(root)}/${prosodyStoreName(jid.slice(at + 1))}/accounts/${prosodyStoreName(jid.slice(0, at))}.dat`;
}

/** Removes the accounts; names on stderr those still there afterwards (one never made is not a failure). */
export function removeScript(jids: readonly string[], root = ''): ShellScript {
  return sh`failed=''
${joinLines(jids.map((jid) => sh`prosodyctl deluser ${jid} </dev/null >/dev/null 2>&1; [ ! -e ${accountFile(jid, root)} ] || failed="$failed "${jid}`))}
[ -z "$failed" ] || { echo "$failed" >&2; exit 1; }`;
}

/** Accounts on the host behind `connector`, made in one round trip, which also clears old leftovers on their domains. */
export class HostAccounts implements AccountMaker {
  private readonly made: string[] = [];

  constructor(private readonly connector: Connector, private readonly now: () => number = Date.now) {}

  async create(domains: readonly string[]): Promise<{ user: string; password: string }[]> {
    for (const domain of domains) if (!DOMAIN.test(domain)) throw new Error(`"${domain}" is not a host name an account can be made on`);
    const seconds = Math.floor(this.now() / 1000);
    const accounts = domains.map((domain) => {
      const user = `${SMOKE_ACCOUNT_PREFIX}${seconds}-${randomBytes(4).toString('hex')}`;
      return { domain, user, password: randomBytes(24).toString('base64url'), jid: `${user}@${domain}` };
    });
    // Recorded before they exist: removeAll() then also covers a script that stopped halfway.
    this.made.push(...accounts.map((a) => a.jid));
    const script = joinLines([
      ...[...new Set(domains)].map((domain) => sweepScript(domain, seconds - LEFTOVER_AGE_SECONDS)),
      ...accounts.map((a) => createScript(a.jid, a.password)),
    ]);
    const result = await this.connector.run(script, { timeoutMs: STEP_TIME_LIMITS_SECONDS.accounts * 1000 });
    if (result.code !== 0) throw new Error(`could not make temporary accounts on ${[...new Set(domains)].join(', ')}: ${result.stderr.trim() || `prosodyctl adduser exited with ${result.code}`}`);
    return accounts.map(({ user, password }) => ({ user, password }));
  }

  async removeAll(): Promise<string[]> {
    if (this.made.length === 0) return [];
    const jids = this.made.splice(0);
    const result = await this.connector.run(removeScript(jids), { timeoutMs: STEP_TIME_LIMITS_SECONDS.accounts * 1000 }).catch(() => ({ code: 1, stderr: jids.join(' '), stdout: '' }));
    return result.code === 0 ? [] : result.stderr.trim().split(/\s+/).filter(Boolean);
  }
}
