// The smoke test's cases on a public-key (RS256) host, without a server: which
// cases run for given signers, known kids, retired keys and previous secrets,
// what each is signed with, what is left unproven without a private key, and
// how reports with kids and unproven parts are rendered and documented. Shared
// secret hosts keep the cases they always had.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  discountRefusals,
  intendedRefusalFor,
  smokePlan,
  verdictFor,
  type PlannedCase,
  type Signer,
  type SmokeCase,
  type SmokeExpectations,
  type SmokeReport,
} from '../../src/smoke/smoke.js';
import type { SigningKey } from '../../src/token/keys.js';
import { renderFleetTable, renderSmoke } from '../../src/cli/render.js';
import { runDocument } from '../../src/cli/run-document.js';
import type { HostResult } from '../../src/run/results.js';
import { parseRunDocument } from '../support/run-schema.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const keyA: SigningKey = { kid: 'jitsi-2026', key: rsa() };
const keyB: SigningKey = { kid: 'jitsi-2027', key: rsa() };
const keyOld: SigningKey = { kid: 'jitsi-2025', key: rsa() };
const fresh = { throwaway: rsa(), unknownKid: 'jitsi-jwt-smoke-unknown-00aa11', secret: 'a-random-secret' };

const base: SmokeExpectations = { appId: 'backend', appSecret: 'the-secret', allowEmptyToken: false, roomCheck: true };
const rs = (publicKeys: SmokeExpectations['publicKeys'], more: Partial<SmokeExpectations> = {}) => smokePlan({ ...base, ...more, publicKeys }, fresh);

const names = (cases: PlannedCase[]) => cases.map((c) => (c.kid === undefined ? c.name : `${c.name} [${c.kid}]`));
const signersOf = (c: PlannedCase | undefined): Signer[] => (c?.kind === 'token' ? c.signers : []);
const only = (cases: PlannedCase[], name: string) => {
  const found = cases.filter((c) => c.name === name);
  expect(found).toHaveLength(1);
  return found[0];
};

describe('smokePlan on a shared-secret host', () => {
  it('runs the cases it always ran, signed with the secret, the valid token first', () => {
    const { cases, unproven } = smokePlan(base);
    expect(names(cases)).toEqual(['valid token', 'no token', 'wrong secret', 'expired token', 'wrong room']);
    expect(cases[0]).toMatchObject({ kind: 'token', first: true, expected: 'admitted', signers: [{ secret: 'the-secret' }] });
    expect(signersOf(only(cases, 'wrong secret'))).toEqual([{ secret: 'the-secret-not-the-secret' }]);
    expect(only(cases, 'expired token')).toMatchObject({ expired: true, signers: [{ secret: 'the-secret' }] });
    expect(only(cases, 'wrong room')).toMatchObject({ otherRoom: true, expected: 'refused' });
    expect(cases.every((c) => !('kid' in c))).toBe(true);
    expect(unproven).toEqual([]);
  });

  it('tries every previous secret but the current one, and adds the access, guest and moderator cases', () => {
    const { cases } = smokePlan({
      ...base,
      previousSecrets: ['old-1', 'the-secret', 'old-2', 'old-1'],
      moderatorFromToken: true,
      access: { passwordAccounts: true, guestDomain: 'guest.meet.test', serviceAccounts: [{ name: 'jibri account', domain: 'recorder.meet.test' }] },
    });
    expect(names(cases)).toEqual([
      'valid token', 'no token', 'wrong secret', 'old secret', 'expired token', 'wrong room', 'password login', 'jibri account',
      'guest waits', 'guest after host', 'guest in another room', 'moderator token', 'plain token',
    ]);
    expect(signersOf(only(cases, 'old secret'))).toEqual([{ secret: 'old-1' }, { secret: 'old-2' }]);
    expect(only(cases, 'guest after host')).toMatchObject({ host: { secret: 'the-secret' } });
  });
});

describe('smokePlan on a public-key host', () => {
  it('with signers: a valid token per signer under its kid, then the refusals, all key cases named by kid', () => {
    const { cases, unproven } = rs({ signers: [keyA, keyB], knownKids: ['jitsi-2026', 'jitsi-2027'] });
    expect(names(cases)).toEqual([
      'valid token [jitsi-2026]',
      'valid token [jitsi-2027]',
      'no token',
      'unknown kid [jitsi-jwt-smoke-unknown-00aa11]',
      'other key [jitsi-2026]',
      'shared-secret token',
      'expired token [jitsi-2026]',
      'wrong room [jitsi-2026]',
    ]);
    expect(unproven).toEqual([]);
    expect(cases.filter((c) => c.kind === 'token' && c.first).map((c) => c.kid)).toEqual(['jitsi-2026']);
    const [first, second] = cases;
    expect(signersOf(first)).toEqual([{ key: keyA }]);
    expect(signersOf(second)).toEqual([{ key: keyB }]);
    expect(second.expected).toBe('admitted');
    // The throwaway key signs both the unknown kid and the known one; never a signer's own key.
    expect(signersOf(only(cases, 'unknown kid'))).toEqual([{ key: { kid: fresh.unknownKid, key: fresh.throwaway } }]);
    expect(signersOf(only(cases, 'other key'))).toEqual([{ key: { kid: 'jitsi-2026', key: fresh.throwaway } }]);
    expect(signersOf(only(cases, 'shared-secret token'))).toEqual([{ secret: fresh.secret }]);
    expect(only(cases, 'expired token')).toMatchObject({ expired: true, signers: [{ key: keyA }] });
    expect(only(cases, 'wrong room')).toMatchObject({ otherRoom: true, signers: [{ key: keyA }] });
    // The secret is not used on such a host, not even for the "wrong secret" case.
    expect(JSON.stringify(cases)).not.toContain('the-secret');
  });

  it('refuses every new case at login', () => {
    for (const name of ['unknown kid', 'other key', 'shared-secret token', 'retired kid'] as const) {
      expect(intendedRefusalFor(name)).toEqual(intendedRefusalFor('wrong secret'));
      expect(verdictFor('refused', { admitted: false, at: 'sasl', answer: { condition: 'not-allowed', text: 'could not obtain public key', stanza: '' } }, intendedRefusalFor(name))).toBe('pass');
      expect(verdictFor('refused', { admitted: true }, intendedRefusalFor(name))).toBe('fail');
    }
  });

  it('without signers: no valid token, no token waits for the server, the refusals alone, and it says admission is unproven', () => {
    const { cases, unproven } = rs({ signers: [], knownKids: ['jitsi-2026'] }, { moderatorFromToken: true, access: { guestDomain: 'guest.meet.test' } });
    expect(names(cases)).toEqual(['no token', 'unknown kid [jitsi-jwt-smoke-unknown-00aa11]', 'other key [jitsi-2026]', 'shared-secret token']);
    expect(cases[0]).toMatchObject({ first: true, expected: 'refused' });
    expect(unproven[0]).toBe('admission: no private key was given (--private-key), so no token the host should accept could be signed; only refusals were proven');
    expect(unproven.join('\n')).toMatch(/expired token, wrong room: not tried/);
    expect(unproven.join('\n')).toMatch(/guests: not tried/);
    expect(unproven.join('\n')).toMatch(/moderator token, plain token: not tried/);
  });

  it('without signers or known kids: the other-key case is left out, and said so', () => {
    const { cases, unproven } = rs({ signers: [], knownKids: [] });
    expect(names(cases)).toEqual(['no token', 'unknown kid [jitsi-jwt-smoke-unknown-00aa11]', 'shared-secret token']);
    expect(unproven).toContainEqual(expect.stringMatching(/^other key: no kid the host accepts is known/));
  });

  it('retired keys: one refused case each, signed with the retired key under its own kid', () => {
    const { cases } = rs({ signers: [keyB], knownKids: ['jitsi-2027'], retired: [keyOld, keyA] });
    const retired = cases.filter((c) => c.name === 'retired kid');
    expect(retired.map((c) => [c.kid, c.expected, signersOf(c)])).toEqual([
      ['jitsi-2025', 'refused', [{ key: keyOld }]],
      ['jitsi-2026', 'refused', [{ key: keyA }]],
    ]);
    // Retired kids are refused even without a signer.
    expect(rs({ signers: [], knownKids: [], retired: [keyOld] }).cases.filter((c) => c.name === 'retired kid')).toHaveLength(1);
  });

  it('previous secrets: the shared-secret token is signed with the secret the backend may still use', () => {
    const { cases } = rs({ signers: [keyA], knownKids: [] }, { previousSecrets: ['hs-before-the-switch', 'older'] });
    expect(signersOf(only(cases, 'shared-secret token'))).toEqual([{ secret: 'hs-before-the-switch' }]);
    expect(cases.some((c) => c.name === 'old secret' || c.name === 'wrong secret')).toBe(false);
  });

  it('guests and moderators are signed with the first signer', () => {
    const { cases } = rs({ signers: [keyA, keyB], knownKids: [] }, { moderatorFromToken: true, access: { guestDomain: 'guest.meet.test' } });
    expect(only(cases, 'guest after host')).toMatchObject({ host: { key: keyA } });
    expect(cases.filter((c) => c.kind === 'moderator').map((c) => [c.name, c.kid])).toEqual([
      ['moderator token', 'jitsi-2026'],
      ['plain token', 'jitsi-2026'],
    ]);
  });

  it('makes a throwaway key and a fresh unknown kid when none is given', () => {
    const { cases } = smokePlan({ ...base, publicKeys: { signers: [], knownKids: ['k'] } });
    const unknown = only(cases, 'unknown kid');
    expect(unknown.kid).toMatch(/^jitsi-jwt-smoke-unknown-[0-9a-f]+$/);
    const [signer] = signersOf(unknown);
    expect('key' in signer && signer.key.key.asymmetricKeyType).toBe('rsa');
    expect(signersOf(only(cases, 'other key'))).toEqual([{ key: { kid: 'k', key: 'key' in signer ? signer.key.key : undefined } }]);
  });
});

const result = (name: SmokeCase['name'], expected: SmokeCase['expected'], ok: boolean, kid?: string): SmokeCase => ({
  name,
  expected,
  ...(kid ? { kid } : {}),
  observed: ok ? (expected === 'admitted' ? 'admitted' : 'refused at login: not-allowed (could not obtain public key)') : 'refused at login: not-allowed (Invalid signature)',
  verdict: ok ? 'pass' : 'fail',
  ok,
  seconds: 0.1,
});

describe('discountRefusals', () => {
  it('makes refusals inconclusive when the valid token ran first and was refused', () => {
    const cases = [result('valid token', 'admitted', false, 'k'), result('unknown kid', 'refused', true, 'u')];
    discountRefusals(cases);
    expect(cases[1]).toMatchObject({ verdict: 'inconclusive', ok: false });
    expect(cases[1].observed).toMatch(/the valid token did not get in either$/);
  });

  it('leaves the refusals standing when no valid token ran (no private key)', () => {
    const cases = [result('no token', 'refused', true), result('unknown kid', 'refused', true, 'u')];
    discountRefusals(cases);
    expect(cases.map((c) => c.verdict)).toEqual(['pass', 'pass']);
  });
});

const style = { color: false };
const unprovenReport: SmokeReport = {
  ok: true,
  seconds: 0.6,
  cases: [result('no token', 'refused', true), result('unknown kid', 'refused', true, 'jitsi-jwt-smoke-unknown-00aa11'), result('other key', 'refused', true, 'jitsi-2026')],
  unproven: ['admission: no private key was given (--private-key), so no token the host should accept could be signed; only refusals were proven'],
};

describe('rendering', () => {
  it('names the kid of each key case and says plainly what was not proven', () => {
    const text = renderSmoke(unprovenReport, style);
    expect(text).toContain('[kid jitsi-2026]');
    expect(text).toContain('[kid jitsi-jwt-smoke-unknown-00aa11]');
    expect(text).toMatch(/NOT PROVEN:\n {4}admission: no private key was given/);
    expect(renderSmoke({ ...unprovenReport, unproven: undefined }, style)).not.toContain('NOT PROVEN');
  });

  it('shows unproven parts in the fleet table and below it', () => {
    const timings = { totalSeconds: 1, roundTrips: 2 };
    const passed: HostResult = { name: 'a', target: 'a', status: 'passed', exitCode: 0, smoke: unprovenReport, timings };
    const proven: HostResult = { name: 'b', target: 'b', status: 'passed', exitCode: 0, smoke: { ...unprovenReport, unproven: undefined }, timings };
    const text = renderFleetTable([passed, proven], style);
    expect(text).toContain('3/3 ok, 1 unproven');
    expect(text).toMatch(/a: the smoke test passed what it tried, but did not prove everything\n {2}NOT PROVEN:\n {4}admission/);
    expect(text).not.toMatch(/^b: /m);
  });

  it('puts kids and unproven parts into the --json document, as the schema allows', () => {
    const host: HostResult = { name: 'a', target: 'a', status: 'passed', exitCode: 0, smoke: unprovenReport, timings: { totalSeconds: 1, roundTrips: 2 } };
    const document = parseRunDocument(JSON.stringify(runDocument('smoke', [host], { exitCode: 0, seconds: 1, showSecret: false })));
    const smoke = (document.hosts[0] as unknown as { smoke: SmokeReport }).smoke;
    expect(smoke.unproven).toEqual(unprovenReport.unproven);
    expect(smoke.cases.map((c) => c.kid)).toEqual([undefined, 'jitsi-jwt-smoke-unknown-00aa11', 'jitsi-2026']);
    for (const name of ['valid token', 'shared-secret token', 'retired kid'] as const) {
      const one = { ...host, smoke: { ...unprovenReport, cases: [result(name, name === 'valid token' ? 'admitted' : 'refused', true, 'k')] } };
      expect(() => parseRunDocument(JSON.stringify(runDocument('smoke', [one], { exitCode: 0, seconds: 1, showSecret: false })))).not.toThrow();
    }
  });
});
