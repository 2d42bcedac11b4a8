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
  };
}

/** How long a join keeps listening for an affiliation granted after the join itself. */
const AFFILIATION_SETTLE_MS = 1_500;

export type CaseName = 'valid token' | 'no token' | 'wrong secret' | 'old secret' | 'expired token' | 'wrong room' | 'moderator token' | 'plain token';

/**
 * pass: behaved as expected (a refusal came from the intended check); fail: it
 * did not (admitted when it should be refused, refused when it should get in);
 * inconclusive: refused, but by something else, or no answer at all.
 */
export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface SmokeCase {
  name: CaseName;
  expected: 'admitted' | 'refused' | 'owner' | 'member';
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
  if (expected !== 'refused') {
    if ('error' in outcome || !outcome.admitted) return 'fail';
    return expected === 'admitted' || outcome.affiliation === expected ? 'pass' : 'fail';
  }
  if ('error' in outcome) return 'inconclusive';
  if (outcome.admitted) return 'fail';
  if (!intended) return 'pass';
  return outcome.at === intended.at && outcome.answer.condition === intended.condition ? 'pass' : 'inconclusive';
}

async function walk(target: SmokeTarget, token: string | undefined, room: string, timeoutMs: number, settleMs = 0): Promise<Outcome> {
  const client = new BoshClient({ url: target.url, domain: target.domain, token, openStream: target.openStream, insecure: target.insecure, ca: target.ca, timeoutMs });
  try {
    await client.connect();
    const auth = await client.authenticate();
    if (!auth.ok) return { admitted: false, at: 'sasl', answer: auth };
    await client.bind();
    const roomJid = `${room}@conference.${target.domain}`;
    const conference = await client.requestConference(roomJid);
    if (!conference.ok) return { admitted: false, at: 'conference', answer: conference };
    const join = await client.join(roomJid, `jitsi-jwt-${randomBytes(3).toString('hex')}`, { settleMs });
    if (!join.ok) return { admitted: false, at: 'join', answer: join };
    const affiliation = join.detail?.replace(/^affiliation /, '');
    return { admitted: true, affiliation: affiliation === 'none' ? undefined : affiliation };
  } finally {
    await client.close();
  }
}

function describe(outcome: Attempted): string {
  if ('error' in outcome) return `error: ${outcome.error}`;
  if (outcome.admitted) return outcome.affiliation ? `admitted as ${outcome.affiliation}` : 'admitted';
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

export async function runSmoke(target: SmokeTarget, expect: SmokeExpectations, options: { timeoutMs?: number; focusWaitMs?: number } = {}): Promise<SmokeReport> {
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
  cases.push(...(await Promise.all(together)));
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
  // A refusal proves little when the valid token was refused as well.
  if (!cases[0].ok) {
    for (const c of cases.slice(1)) {
      if (c.verdict !== 'pass' || c.expected !== 'refused') continue;
      c.verdict = 'inconclusive';
      c.ok = false;
      c.observed = `inconclusive: ${c.observed} — the valid token did not get in either`;
    }
  }
  return { ok: cases.every((c) => c.ok), cases, seconds: (Date.now() - started) / 1000 };
}
