// The smoke test's throwaway accounts: names that carry their creation time,
// scripts that keep the password off every command line, and the sweep that
// removes what an interrupted run left behind, by age.
import { describe, expect, it } from 'vitest';
import { createScript, HostAccounts, removeScript, sweepScript, SMOKE_ACCOUNT_PREFIX } from '../../src/smoke/accounts.js';
import type { Connector } from '../../src/connector/types.js';
import { prosodyStoreName } from '../../src/facts/probe.js';

describe('throwaway accounts', () => {
  it('passes the password through a builtin, never as an argument of a program', () => {
    const script = createScript('jitsi-jwt-smoke-1-ab@recorder.meet.test', "pa'ss");
    expect(script).toContain(`pw='pa'\\''ss'`);
    expect(script).toMatch(/printf '%s\\n%s\\n' "\$pw" "\$pw" \| prosodyctl adduser 'jitsi-jwt-smoke-1-ab@recorder\.meet\.test'/);
    expect(script.split('\n').filter((l) => l.includes('prosodyctl')).every((l) => !l.includes("pa'"))).toBe(true);
  });

  it('sweeps only its own accounts older than the cutoff, in Prosody\'s store naming', () => {
    const script = sweepScript('recorder.meet.test', 1_700_000_000);
    expect(script).toContain(`'/var/lib/prosody/recorder%2emeet%2etest/accounts'/${prosodyStoreName(SMOKE_ACCOUNT_PREFIX)}*.dat`);
    expect(script).toContain('-lt 1700000000');
    expect(prosodyStoreName(SMOKE_ACCOUNT_PREFIX)).toBe('jitsi%2djwt%2dsmoke%2d');
  });

  it('reports the accounts it could not remove', () => {
    expect(removeScript(['a@b.c', 'd@e.f'])).toMatch(/prosodyctl deluser 'a@b\.c' .*\|\| failed="\$failed a@b\.c"/);
  });

  it('makes every account in one round trip, and removes them also after a creation that failed halfway', async () => {
    const scripts: string[] = [];
    let fail = false;
    const connector = { label: 'test', run: async (script: string) => { scripts.push(script); return { code: fail ? 1 : 0, stdout: '', stderr: fail ? 'boom' : '' }; } } as unknown as Connector;
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
