// The smoke test: real tokens against the real server, along the path a Jitsi
// client takes. A valid token must get in; no token, a wrong secret, an expired
// token and a token for another room must stay out.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { mintToken } from '../token/mint.js';
import { BoshClient, XmppTransportError, type Refusal } from './bosh-client.js';
import type { Connector } from '../connector/types.js';
import { prosodyHttpAddress, type HostFacts } from '../facts/probe.js';

export interface SmokeTarget {
  /** BOSH URL, e.g. http://127.0.0.1:5280/http-bind (through a tunnel) or https://meet.example.com/http-bind */
  url: string;
  domain: string;
  openStream?: () => Promise<Duplex>;
  insecure?: boolean;
  ca?: string | Buffer;
}

export interface SmokeExpectations {
  appId: string;
  appSecret: string;
  /** the server admits clients without a token on purpose */
  allowEmptyToken: boolean;
  roomCheck: boolean;
  /** aud claim to sign with */
  audience?: string;
  /** iss claim to sign with (default: app_id) */
  issuer?: string;
  /** the server makes moderators from the token (mod_token_affiliation) */
  moderatorFromToken?: boolean;
  /** secrets the server used before a rotation: tokens signed with them must be refused */
  previousSecrets?: string[];
  /** who else gets in without a token */
  access?: AccessExpectations;
}

/** The identities a server lets in without a token, to prove case by case. */
export interface AccessExpectations {
  /** one case each: a temporary account on the domain joins a room without a token */
  serviceAccounts?: { name: ServiceCaseName; domain: string }[];
  /** guests log in on this domain and wait until a token holder is in the room */
  guestDomain?: string;
  /** the domain had password accounts ("secure domain"): password login must be gone */
  passwordAccounts?: boolean;
}

/** Makes throwaway accounts on the server (and removes them afterwards). */
export interface AccountMaker {
  /** one account on each domain given, in that order */
  create(domains: readonly string[]): Promise<{ user: string; password: string }[]>;
  /** removes every account create() made; resolves with what could not be removed */
  removeAll(): Promise<string[]>;
}

/** Who logs in: a token holder, an anonymous client (no token), or an account on another XMPP host. */
interface Who {
  token?: string;
  xmppDomain?: string;
  login?: { user: string; password: string };
}

/** Prosody's own BOSH endpoint on a host, reached through the host's SSH connection. */
export function tunnelTarget(connector: Pick<Connector, 'openTunnel'>, facts: HostFacts, domain: string): SmokeTarget {
  const address = prosodyHttpAddress(facts) ?? '127.0.0.1';
  return { url: `http://${address}:5280/http-bind`, domain, openStream: () => connector.openTunnel(address, 5280) };
}

/** What a server with these token settings must do with each case. */
export function expectationsFor(
  settings: { appId: string; appSecret: string; allowEmptyToken: boolean; roomCheck: boolean; issuers?: string[]; audiences?: string[]; moderatorFromToken?: boolean },
  previousSecrets: string[] = [],
  access?: AccessExpectations,
): SmokeExpectations {
  return {
    appId: settings.appId,
    appSecret: settings.appSecret,
    allowEmptyToken: settings.allowEmptyToken,
    roomCheck: settings.roomCheck,
    audience: settings.audiences?.[0],
    issuer: settings.issuers?.[0],
    moderatorFromToken: settings.moderatorFromToken,
    previousSecrets,
    access,
  };
}

/** How long a join keeps listening for an affiliation granted after the join itself. */
const AFFILIATION_SETTLE_MS = 1_500;

export type ServiceCaseName = 'jibri account' | 'jigasi account';
export type GuestCaseName = 'guest waits' | 'guest after host' | 'guest in another room';
export type CaseName = 'valid token' | 'no token' | 'wrong secret' | 'old secret' | 'expired token' | 'wrong room' | 'moderator token' | 'plain token' | 'password login' | ServiceCaseName | GuestCaseName;

/**
 * pass: behaved as expected (a refusal came from the intended check); fail: it
 * did not (admitted when it should be refused, refused when it should get in);
 * inconclusive: refused, but by something else, or no answer at all.
 */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface SmokeCase {
  name: CaseName;
  /** participant: admitted, but not as owner or admin; waits: held until a host is in the room */
  expected: 'admitted' | 'refused' | 'owner' | 'member' | 'participant' | 'waits';
  /** what happened: admitted, or where and how it was refused */
  observed: string;
  verdict: Verdict;
  /** verdict === 'pass' */
  ok: boolean;
  seconds: number;
}

export interface SmokeReport {
  ok: boolean;
  cases: SmokeCase[];
  seconds: number;
  /** temporary accounts the test could not remove again */
  leftovers?: string[];
}

export type Stage = 'sasl' | 'conference' | 'join';

export type Outcome = { admitted: true; affiliation?: string } | { admitted: false; at: Stage; answer: Refusal };

/** How an attempt ended: the server's answer, or an error before one came (timeout, transport). */
export type Attempted = Outcome | { error: string };

/** The stage and condition only the check a negative case aims at answers with. */
export interface IntendedRefusal {
  at: Stage;
  condition: string;
  /** the check, as the observed text names it */
  check: string;
}

const LOGIN_CHECK: IntendedRefusal = { at: 'sasl', condition: 'not-allowed', check: 'the token check at login' };
const ROOM_CHECK: IntendedRefusal = { at: 'join', condition: 'not-allowed', check: 'the room check' };
const NO_PASSWORDS: IntendedRefusal = { at: 'sasl', condition: 'no-plain-mechanism', check: 'token-only login (no password mechanism offered)' };

/** The refusal that proves a case's check did the refusing (mod_auth_token at SASL, mod_token_verification at join). */
export function intendedRefusalFor(name: CaseName): IntendedRefusal | undefined {
  switch (name) {
    case 'no token':
    case 'wrong secret':
    case 'old secret':
    case 'expired token':
      return LOGIN_CHECK;
    case 'wrong room':
      return ROOM_CHECK;
    case 'password login':
      return NO_PASSWORDS;
    default:
      return undefined;
  }
}

/**
 * Judges one case by stage and condition, never by the server's text. A
 * refusal counts only when it comes from `intended`; any other refusal or an
 * error leaves a negative case unproven. Positive cases pass or fail.
 */
export function verdictFor(expected: SmokeCase['expected'], outcome: Attempted, intended?: IntendedRefusal): Verdict {
  if (expected === 'waits') {
    if ('error' in outcome) return 'inconclusive';
    return isWaiting(outcome) ? 'pass' : 'fail';
  }
  if (expected !== 'refused') {
    if ('error' in outcome || !outcome.admitted) return 'fail';
    if (expected === 'participant') return outcome.affiliation === 'owner' || outcome.affiliation === 'admin' ? 'fail' : 'pass';
    return expected === 'admitted' || outcome.affiliation === expected ? 'pass' : 'fail';
  }
  if ('error' in outcome) return 'inconclusive';
  if (outcome.admitted) return 'fail';
  if (!intended) return 'pass';
  return outcome.at === intended.at && outcome.answer.condition === intended.condition ? 'pass' : 'inconclusive';
}

/** A guest held back by muc_wait_for_host: registration-required at join, with <waiting-for-host/>. */
export function isWaiting(outcome: Outcome): boolean {
  return !outcome.admitted && outcome.at === 'join' && outcome.answer.condition === 'registration-required' && (outcome.answer.extra ?? []).includes('waiting-for-host');
}

/** Logs in, asks focus for the room and joins it; the session stays open for the caller to close. */
async function enter(target: SmokeTarget, who: Who | string | undefined, room: string, timeoutMs: number, settleMs = 0): Promise<{ outcome: Outcome; client: BoshClient }> {
  const person: Who = typeof who === 'string' || who === undefined ? { token: who } : who;
  const client = new BoshClient({
    url: target.url, domain: target.domain, xmppDomain: person.xmppDomain, token: person.token, login: person.login, room,
    openStream: target.openStream, insecure: target.insecure, ca: target.ca, timeoutMs,
  });
  const ended = (outcome: Outcome) => ({ outcome, client });
  try {
    await client.connect();
    const auth = await client.authenticate();
    if (!auth.ok) return ended({ admitted: false, at: 'sasl', answer: auth });
    await client.bind();
    const roomJid = `${room}@conference.${target.domain}`;
    const conference = await client.requestConference(roomJid);
    if (!conference.ok) return ended({ admitted: false, at: 'conference', answer: conference });
    const join = await client.join(roomJid, `jitsi-jwt-${randomBytes(3).toString('hex')}`, { settleMs });
    if (!join.ok) return ended({ admitted: false, at: 'join', answer: join });
    const affiliation = join.detail?.replace(/^affiliation /, '');
    return ended({ admitted: true, affiliation: affiliation === 'none' ? undefined : affiliation });
  } catch (error) {
    await client.close();
    throw error;
  }
}

async function walk(target: SmokeTarget, who: Who | string | undefined, room: string, timeoutMs: number, settleMs = 0): Promise<Outcome> {
  const { outcome, client } = await enter(target, who, room, timeoutMs, settleMs);
  await client.close();
  return outcome;
}

function describe(outcome: Attempted): string {
  if ('error' in outcome) return `error: ${outcome.error}`;
  if (outcome.admitted) return outcome.affiliation ? `admitted as ${outcome.affiliation}` : 'admitted';
  if (isWaiting(outcome)) return 'waiting for a host (registration-required, waiting-for-host)';
  const { condition, text } = outcome.answer;
  const where = { sasl: 'at login', conference: 'by focus', join: 'at room join' }[outcome.at];
  return `refused ${where}: ${condition}${text ? ` (${text})` : ''}`;
}

/** What a case saw, with what an inconclusive one lacked. */
export function observedText(outcome: Attempted, verdict: Verdict, intended?: IntendedRefusal): string {
  const seen = describe(outcome);
  if (verdict !== 'inconclusive') return seen;
  return 'error' in outcome || !intended ? `inconclusive: ${seen}` : `inconclusive: ${seen} — not ${intended.check}`;
}

/** Focus (jicofo) needs a moment to log in again after Prosody restarts: retry while it is unavailable. */
async function walkWhenFocusIsBack(target: SmokeTarget, token: string, room: string, timeoutMs: number, focusWaitMs: number, settleMs = 0): Promise<Outcome> {
  const deadline = Date.now() + focusWaitMs;
  for (;;) {
    const outcome = await walk(target, token, room, timeoutMs, settleMs).catch((error: Error) => {
      if (error instanceof XmppTransportError && Date.now() < deadline) return undefined;
      throw error;
    });
    const focusMissing = outcome && !outcome.admitted && outcome.at === 'conference' && ['service-unavailable', 'recipient-unavailable', 'item-not-found', 'remote-server-not-found'].includes(outcome.answer.condition);
    if (outcome && (!focusMissing || Date.now() > deadline)) return outcome;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function runSmoke(target: SmokeTarget, expect: SmokeExpectations, options: { timeoutMs?: number; focusWaitMs?: number; accounts?: AccountMaker } = {}): Promise<SmokeReport> {
  let report: SmokeReport | undefined;
  try {
    report = await smokeCases(target, expect, options);
  } finally {
    // Also when the cases threw: the accounts go either way.
    const leftovers = (await options.accounts?.removeAll().catch(() => ['(all of them: the removal did not run)'])) ?? [];
    if (report && leftovers.length > 0) report.leftovers = leftovers;
  }
  return report;
}

async function smokeCases(target: SmokeTarget, expect: SmokeExpectations, options: { timeoutMs?: number; focusWaitMs?: number; accounts?: AccountMaker }): Promise<SmokeReport> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 8_000;
  const room = `jitsi-jwt-smoke-${randomBytes(6).toString('hex')}`;
  const otherRoom = `jitsi-jwt-smoke-${randomBytes(6).toString('hex')}`;
  const claims = { appId: expect.appId, room, sub: target.domain, aud: expect.audience, iss: expect.issuer, ttlSeconds: 120 };
  const cases: SmokeCase[] = [];
  const focusWaitMs = options.focusWaitMs ?? 30_000;
  // Once focus has not answered for the whole wait, the later cases do not wait for it again.
  let focusAnswered = true;

  const check = async (name: CaseName, expected: SmokeCase['expected'], attempt: () => Promise<Outcome>): Promise<SmokeCase> => {
    const caseStarted = Date.now();
    const outcome: Attempted = await attempt().catch((error: Error) => ({ error: error.message }));
    const intended = intendedRefusalFor(name);
    const verdict = verdictFor(expected, outcome, intended);
    return { name, expected, observed: observedText(outcome, verdict, intended), verdict, ok: verdict === 'pass', seconds: (Date.now() - caseStarted) / 1000 };
  };

  // The valid token goes first and waits for focus to be back after a restart;
  // the other cases are separate sessions and run together once it is.
  cases.push(
    await check('valid token', 'admitted', async () =>
      walkWhenFocusIsBack(target, await mintToken({ ...claims, appSecret: expect.appSecret }), room, timeoutMs, focusWaitMs).then((outcome) => {
        focusAnswered = outcome.admitted || outcome.at !== 'conference';
        return outcome;
      }),
    ),
  );
  const previous = [...new Set(expect.previousSecrets ?? [])].filter((secret) => secret !== expect.appSecret);
  const together: Promise<SmokeCase>[] = [
    check('no token', expect.allowEmptyToken ? 'admitted' : 'refused', () => walk(target, undefined, room, timeoutMs)),
    check('wrong secret', 'refused', async () => walk(target, await mintToken({ ...claims, appSecret: `${expect.appSecret}-not-the-secret` }), room, timeoutMs)),
  ];
  if (previous.length > 0) {
    // Every secret the server had before must now be refused at login; the first one that is not decides the case.
    together.push(
      check('old secret', 'refused', async () => {
        let outcome: Outcome | undefined;
        for (const secret of previous) {
          outcome = await walk(target, await mintToken({ ...claims, appSecret: secret }), room, timeoutMs);
          if (verdictFor('refused', outcome, intendedRefusalFor('old secret')) !== 'pass') break;
        }
        return outcome!;
      }),
    );
  }
  together.push(
    check('expired token', 'refused', async () => walk(target, await mintToken({ ...claims, appSecret: expect.appSecret, now: new Date(Date.now() - 3_600_000) }), room, timeoutMs)),
    check('wrong room', expect.roomCheck ? 'refused' : 'admitted', async () => walk(target, await mintToken({ ...claims, appSecret: expect.appSecret }), otherRoom, timeoutMs)),
  );
  if (expect.access?.passwordAccounts) {
    // The accounts are still in Prosody's store; the domain must no longer offer password login at all.
    const login = { user: `jitsi-jwt-smoke-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('hex') };
    together.push(check('password login', 'refused', () => walk(target, { login }, room, timeoutMs)));
  }
  // Jibri, Jigasi: an account of their own kind on their domain joins without a token. All are made in one go.
  const services = expect.access?.serviceAccounts ?? [];
  const logins = services.length > 0 && options.accounts ? options.accounts.create(services.map((s) => s.domain)) : undefined;
  logins?.catch(() => undefined);
  for (const [i, service] of services.entries()) {
    together.push(
      check(service.name, 'admitted', async () => {
        if (!logins) throw new Error(`no way to make a temporary account on ${service.domain} here`);
        return walk(target, { xmppDomain: service.domain, login: (await logins)[i] }, newRoom(), timeoutMs);
      }),
    );
  }
  cases.push(...(await Promise.all(together)));
  const guestDomain = expect.access?.guestDomain;
  if (guestDomain) cases.push(...(await guestCases(target, expect, guestDomain, claims, timeoutMs, check)));
  if (expect.moderatorFromToken) {
    const moderatorRoom = `jitsi-jwt-smoke-${randomBytes(6).toString('hex')}`;
    const inRoom = { ...claims, room: moderatorRoom, appSecret: expect.appSecret };
    cases.push(
      await check('moderator token', 'owner', async () =>
        walkWhenFocusIsBack(target, await mintToken({ ...inRoom, user: { moderator: true } }), moderatorRoom, timeoutMs, focusAnswered ? focusWaitMs : 0, AFFILIATION_SETTLE_MS),
      ),
    );
    cases.push(await check('plain token', 'member', async () => walk(target, await mintToken(inRoom), moderatorRoom, timeoutMs, AFFILIATION_SETTLE_MS)));
  }
  // A refusal (or a wait) proves little when the valid token was refused as well.
  if (!cases[0].ok) {
    for (const c of cases.slice(1)) {
      if (c.verdict !== 'pass' || (c.expected !== 'refused' && c.expected !== 'waits')) continue;
      c.verdict = 'inconclusive';
      c.ok = false;
      c.observed = `inconclusive: ${c.observed} — the valid token did not get in either`;
    }
  }
  return { ok: cases.every((c) => c.ok), cases, seconds: (Date.now() - started) / 1000 };
}

const newRoom = () => `jitsi-jwt-smoke-${randomBytes(6).toString('hex')}`;

type Check = (name: CaseName, expected: SmokeCase['expected'], attempt: () => Promise<Outcome>) => Promise<SmokeCase>;

/**
 * Guests (muc_wait_for_host): a guest alone in a room waits; once a token
 * holder is in, a guest gets in as a participant; in a room without a host a
 * guest still waits.
 */
async function guestCases(target: SmokeTarget, expect: SmokeExpectations, guestDomain: string, claims: Omit<Parameters<typeof mintToken>[0], 'appSecret'>, timeoutMs: number, check: Check): Promise<SmokeCase[]> {
  const guest: Who = { xmppDomain: guestDomain };
  const room = newRoom();
  const cases = [await check('guest waits', 'waits', () => walk(target, guest, room, timeoutMs))];
  const token = await mintToken({ ...claims, room, appSecret: expect.appSecret });
  const host = await enter(target, token, room, timeoutMs).catch((error: Error) => ({ error }));
  try {
    cases.push(
      await check('guest after host', 'participant', async () => {
        if ('error' in host) throw new Error(`the token holder who was to host the room could not join: ${host.error.message}`);
        if (!host.outcome.admitted) throw new Error(`the token holder who was to host the room was not let in: ${describe(host.outcome)}`);
        return walk(target, guest, room, timeoutMs, AFFILIATION_SETTLE_MS);
      }),
    );
  } finally {
    if (!('error' in host)) await host.client.close();
  }
  cases.push(await check('guest in another room', 'waits', () => walk(target, guest, newRoom(), timeoutMs)));
  return cases;
}
