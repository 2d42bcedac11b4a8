// The smoke test's throwaway accounts: names that carry their creation time,
// scripts that keep the password off every command line, and the sweep that
// removes what an interrupted run left behind, by age.
import { describe, expect, it } from 'vitest';
import { createScript, removeScript, sweepScript, SMOKE_ACCOUNT_PREFIX } from '../../src/smoke/accounts.js';
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
});
