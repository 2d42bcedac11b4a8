// The smoke test's throwaway accounts: names that carry their creation time,
// scripts that keep the password off every command line, and the sweep that
// removes what an interrupted run left behind, by age.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScript, HostAccounts, removeScript, sweepScript, SMOKE_ACCOUNT_PREFIX } from '../../src/smoke/accounts.js';
import type { Connector } from '../../src/connector/types.js';
import { prosodyStoreName } from '../../src/facts/probe.js';
import type { ShellScript } from '../../src/shell/script.js';
import { removeScratch, runDash, scratch } from '../support/dash.js';

describe('throwaway accounts', () => {
  it('passes the password through a builtin, never as an argument of a program', () => {
    const script = createScript('jitsi-jwt-smoke-1-ab@recorder.meet.test', "pa'ss").text;
    expect(script).toContain(`pw='pa'\\''ss'`);
    expect(script).toMatch(/printf '%s\\n%s\\n' "\$pw" "\$pw" \| prosodyctl adduser jitsi-jwt-smoke-1-ab@recorder\.meet\.test /);
    expect(script.split('\n').filter((l) => l.includes('prosodyctl')).every((l) => !l.includes("pa'"))).toBe(true);
  });

  it('sweeps only its own accounts older than the cutoff, in Prosody\'s store naming', () => {
    const script = sweepScript('recorder.meet.test', 1_700_000_000).text;
    expect(script).toContain(`/var/lib/prosody/recorder%2emeet%2etest/accounts/${prosodyStoreName(SMOKE_ACCOUNT_PREFIX)}*.dat`);
    expect(script).toContain('-lt 1700000000');
    expect(prosodyStoreName(SMOKE_ACCOUNT_PREFIX)).toBe('jitsi%2djwt%2dsmoke%2d');
  });

  it('reports the accounts it could not remove', () => {
    expect(removeScript(['a@b.c', 'd@e.f']).text).toMatch(/prosodyctl deluser a@b\.c .*\|\| failed="\$failed "a@b\.c/);
  });

  it('makes every account in one round trip, and removes them also after a creation that failed halfway', async () => {
    const scripts: string[] = [];
    let fail = false;
    const connector = { label: 'test', run: async (script: ShellScript) => { scripts.push(script.text); return { code: fail ? 1 : 0, stdout: '', stderr: fail ? 'boom' : '' }; } } as unknown as Connector;
    const accounts = new HostAccounts(connector, () => 1_700_000_000_000);
    const made = await accounts.create(['recorder.meet.test', 'auth.meet.test']);
    expect(scripts).toHaveLength(1);
    expect(made.map((m) => m.user)).toEqual([expect.stringMatching(/^jitsi-jwt-smoke-1700000000-[0-9a-f]{8}$/), expect.stringMatching(/^jitsi-jwt-smoke-1700000000-/)]);
    expect(scripts[0].match(/prosodyctl adduser/g)).toHaveLength(2);
    expect(scripts[0]).toContain('-lt 1699999400');
    fail = true;
    await expect(accounts.create(['recorder.meet.test'])).rejects.toThrow(/could not make temporary accounts on recorder\.meet\.test: boom/);
    fail = false;
    expect(await accounts.removeAll()).toEqual([]);
    expect(scripts.at(-1)!.match(/prosodyctl deluser/g)).toHaveLength(3);
  });
});

/** prosodyctl as far as these scripts use it: adduser keeps the password it read twice, deluser removes the account's file (per $ROOT/map). */
const PROSODYCTL = `printf '%s\\n' "$*" >> "$ROOT/argv"
case "$1" in
adduser)
	read -r a; read -r b
	[ -z "$FAIL" ] || { echo "adduser: $FAIL" >&2; exit 1; }
	[ "$a" = "$b" ] && printf '%s\\n' "$a" >> "$ROOT/passwords" ;;
deluser)
	f=$(awk -F '\\t' -v j="$2" '$1 == j { print $2 }' "$ROOT/map")
	[ -n "$FAIL" ] || [ -z "$f" ] || rm -f "$f" ;;
esac`;

describe('throwaway account scripts under dash', () => {
  let root: string;
  const accounts = (domain: string) => join(root, 'var/lib/prosody', prosodyStoreName(domain), 'accounts');
  /** An account file, and the line that tells the stub which JID it belongs to. */
  const account = (user: string, domain: string) => {
    mkdirSync(accounts(domain), { recursive: true });
    const file = join(accounts(domain), `${prosodyStoreName(user)}.dat`);
    writeFileSync(file, 'return {}\n');
    appendFileSync(join(root, 'map'), `${user}@${domain}\t${file}\n`);
    return file;
  };
  const run = (script: ShellScript, fail = '') => runDash(script, { stubs: { prosodyctl: PROSODYCTL }, env: { ROOT: root, FAIL: fail } });
  beforeEach(() => {
    root = scratch();
    writeFileSync(join(root, 'map'), '');
  });
  afterEach(() => removeScratch(root));

  it('hands prosodyctl the password on stdin only, whatever it holds', () => {
    const password = "pa'ss $(touch PWNED) `x` \\";
    const result = run(createScript('jitsi-jwt-smoke-1-ab@recorder.meet.test', password));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(join(root, 'passwords'), 'utf8')).toBe(`${password}\n`);
    expect(readFileSync(join(root, 'argv'), 'utf8')).toBe('adduser jitsi-jwt-smoke-1-ab@recorder.meet.test\n');
  });

  it('fails with what prosodyctl said when it cannot make the account', () => {
    const result = run(createScript('jitsi-jwt-smoke-1-ab@recorder.meet.test', 'pw'), 'no such host');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('adduser: no such host\n');
  });

  it('removes the accounts, and names those still there', () => {
    const gone = account('jitsi-jwt-smoke-1-ab', 'recorder.meet.test');
    expect(run(removeScript(['jitsi-jwt-smoke-1-ab@recorder.meet.test', 'never-made@auth.meet.test'], root))).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(gone)).toBe(false);
    account('jitsi-jwt-smoke-2-cd', 'auth.meet.test');
    const stuck = run(removeScript(['jitsi-jwt-smoke-2-cd@auth.meet.test'], root), 'refused');
    expect(stuck.code).toBe(1);
    expect(stuck.stderr.trim()).toBe('jitsi-jwt-smoke-2-cd@auth.meet.test');
  });

  it('sweeps only its own accounts made before the cutoff', () => {
    const old = account(`${SMOKE_ACCOUNT_PREFIX}1699999000-aaaa`, 'recorder.meet.test');
    const recent = account(`${SMOKE_ACCOUNT_PREFIX}1700000500-bbbb`, 'recorder.meet.test');
    const someone = account('jitsi-jwt-smokers', 'recorder.meet.test');
    expect(run(sweepScript('recorder.meet.test', 1_700_000_000, root))).toMatchObject({ code: 0, stderr: '' });
    expect([existsSync(old), existsSync(recent), existsSync(someone)]).toEqual([false, true, true]);
    expect(readFileSync(join(root, 'argv'), 'utf8')).toBe(`deluser ${SMOKE_ACCOUNT_PREFIX}1699999000-aaaa@recorder.meet.test\n`);
  });
});
