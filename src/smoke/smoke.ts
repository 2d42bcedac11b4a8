// The smoke test: real tokens against the real server, along the path a Jitsi
// client takes. A valid token must get in; no token, a wrong secret, an expired
// token and a token for another room must stay out. On a host that verifies
// RS256 tokens with public keys, the tokens are signed with private keys under
// their kid, and an unknown kid, another key under a known kid, a retired kid
// and a shared-secret token must stay out.
import { randomBytes, type KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { mintToken, type TokenRequest } from '../token/mint.js';
import { throwawayKey, type SigningKey } from '../token/keys.js';
import { BoshClient, XmppTransportError, type Refusal } from './bosh-client.js';
import type { Connector } from '../connector/types.js';
import type { HostFacts } from '../facts/probe.js';
import { prosodyHttpTarget } from '../prosody/config-files.js';

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
  /** HS256 hosts sign with it; hosts on public keys (publicKeys) have none */
  appSecret?: string;
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
  /** RS256 hosts: tokens are signed with private keys; app_secret is not used there */
  publicKeys?: {
    /** private keys to sign with, each under the kid the host should accept; empty: admission cannot be proven */
    signers: SigningKey[];
    /** kids the host is known to accept (e.g. the keys the tool published), for "another key under a known kid" */
    knownKids: string[];
    /** private keys of kids that were retired: their tokens must be refused */
    retired?: SigningKey[];
  };
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

/** Prosody's own BOSH endpoint on a host, reached through the host's SSH connection (where it listens, or where its config has it listen). */
export function tunnelTarget(connector: Pick<Connector, 'openTunnel'>, facts: HostFacts, domain: string): SmokeTarget {
  const address = prosodyHttpTarget(facts);
  return { url: `http://${address}:5280/http-bind`, domain, openStream: () => connector.openTunnel(address, 5280) };
}

/** What a server with these token settings must do with each case. */
export function expectationsFor(
  settings: { appId: string; appSecret?: string; allowEmptyToken: boolean; roomCheck: boolean; issuers?: string[]; audiences?: string[]; moderatorFromToken?: boolean },
  previousSecrets: string[] = [],
  access?: AccessExpectations,
  publicKeys?: SmokeExpectations['publicKeys'],
): SmokeExpectations {
  return {
    ...(publicKeys ? { publicKeys } : {}),
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
/** Cases only hosts on public keys (RS256) get. */
export type KeyCaseName = 'unknown kid' | 'other key' | 'shared-secret token' | 'retired kid';
export type CaseName = 'valid token' | 'no token' | 'wrong secret' | 'old secret' | 'expired token' | 'wrong room' | 'moderator token' | 'plain token' | 'password login' | ServiceCaseName | GuestCaseName | KeyCaseName;

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
  /** the kid in the token's header (RS256 hosts) */
  kid?: string;
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
  /** what the test could not prove, and why (e.g. admission on a public-key host without a private key) */
  unproven?: string[];
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
    case 'unknown kid':
    case 'other key':
    case 'shared-secret token':
    case 'retired kid':
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

/** Focus (jicofo) needs a moment to log in again after Prosody restarts: retry while it (or Prosody's HTTP) is unavailable. */
async function walkWhenFocusIsBack(target: SmokeTarget, who: Who | string | undefined, room: string, timeoutMs: number, focusWaitMs: number, settleMs = 0): Promise<Outcome> {
  const deadline = Date.now() + focusWaitMs;
  for (;;) {
    const outcome = await walk(target, who, room, timeoutMs, settleMs).catch((error: Error) => {
      if (error instanceof XmppTransportError && Date.now() < deadline) return undefined;
      throw error;
    });
    const focusMissing = outcome && !outcome.admitted && outcome.at === 'conference' && ['service-unavailable', 'recipient-unavailable', 'item-not-found', 'remote-server-not-found'].includes(outcome.answer.condition);
    if (outcome && (!focusMissing || Date.now() > deadline)) return outcome;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What signs a case's token: a shared secret (HS256) or a private key under its kid (RS256). */
export type Signer = { secret: string } | { key: SigningKey };

/** A case that walks with a token (or with none, when `signers` is empty). */
export interface TokenCase {
  kind: 'token';
  name: CaseName;
  expected: SmokeCase['expected'];
  kid?: string;
  /** runs alone before the others and waits for Prosody and focus to answer (after a restart) */
  first?: boolean;
  /** tried in turn: a refused case stops at the first token that is not refused by the intended check */
  signers: Signer[];
  /** signed an hour ago, expired since */
  expired?: boolean;
  /** joins another room than the token's */
  otherRoom?: boolean;
}

/** One case of a smoke test, before it runs; the order of a plan is the order of the report. */
export type PlannedCase =
  | TokenCase
  | { kind: 'password'; name: 'password login'; expected: 'refused'; kid?: undefined }
  | { kind: 'service'; name: ServiceCaseName; expected: 'admitted'; domain: string; kid?: undefined }
  /** `host` signs the token of the room's host (guest after host) */
  | { kind: 'guest'; name: GuestCaseName; expected: 'waits' | 'participant'; host: Signer; kid?: undefined }
  | { kind: 'moderator'; name: 'moderator token' | 'plain token'; expected: 'owner' | 'member'; signer: Signer; kid?: string };

export interface SmokePlan {
  cases: PlannedCase[];
  /** what these expectations leave unproven, for the report */
  unproven: string[];
}

/** Values a run makes once (given fixed in tests): the throwaway key, the kid no host knows, a random secret. */
export interface FreshValues {
  throwaway: KeyObject;
  unknownKid: string;
  secret: string;
}

const kidOf = (signer: Signer): string | undefined => ('key' in signer ? signer.key.kid : undefined);

/** The cases a smoke test runs for these expectations, in order, and what it cannot prove with them. */
export function smokePlan(expect: SmokeExpectations, fresh: Partial<FreshValues> = {}): SmokePlan {
  const cases: PlannedCase[] = [];
  const unproven: string[] = [];
  const noToken: TokenCase = { kind: 'token', name: 'no token', expected: expect.allowEmptyToken ? 'admitted' : 'refused', signers: [] };
  let signer: Signer | undefined;
  const keys = expect.publicKeys;
  if (keys) {
    const [lead, ...more] = keys.signers;
    signer = lead && { key: lead };
    if (lead) cases.push({ kind: 'token', name: 'valid token', expected: 'admitted', kid: lead.kid, first: true, signers: [{ key: lead }] });
    for (const key of more) cases.push({ kind: 'token', name: 'valid token', expected: 'admitted', kid: key.kid, signers: [{ key }] });
    // Without a valid token, the first case is the one that waits for the server to answer.
    cases.push(lead ? noToken : { ...noToken, first: true });
    if (!lead) {
      unproven.push('admission: no private key was given (--private-key), so no token the host should accept could be signed; only refusals were proven');
      unproven.push('expired token, wrong room: not tried; they need a private key the host accepts');
    }
    const throwaway = fresh.throwaway ?? throwawayKey();
    const unknownKid = fresh.unknownKid ?? `jitsi-jwt-smoke-unknown-${randomBytes(6).toString('hex')}`;
    cases.push({ kind: 'token', name: 'unknown kid', expected: 'refused', kid: unknownKid, signers: [{ key: { kid: unknownKid, key: throwaway } }] });
    const knownKid = lead?.kid ?? keys.knownKids[0];
    if (knownKid !== undefined) cases.push({ kind: 'token', name: 'other key', expected: 'refused', kid: knownKid, signers: [{ key: { kid: knownKid, key: throwaway } }] });
    else unproven.push('other key: no kid the host accepts is known, so another key under such a kid could not be tried');
    // A backend still signing with the secret from before the switch to public keys must be refused.
    const secret = expect.previousSecrets?.[0] ?? fresh.secret ?? randomBytes(32).toString('base64url');
    cases.push({ kind: 'token', name: 'shared-secret token', expected: 'refused', signers: [{ secret }] });
    for (const key of keys.retired ?? []) cases.push({ kind: 'token', name: 'retired kid', expected: 'refused', kid: key.kid, signers: [{ key }] });
  } else {
    if (expect.appSecret === undefined) throw new Error('a smoke test of a host on a shared secret needs that secret');
    signer = { secret: expect.appSecret };
    cases.push({ kind: 'token', name: 'valid token', expected: 'admitted', first: true, signers: [signer] });
    cases.push(noToken);
    cases.push({ kind: 'token', name: 'wrong secret', expected: 'refused', signers: [{ secret: `${expect.appSecret}-not-the-secret` }] });
    // Every secret the server had before must now be refused at login; the first one that is not decides the case.
    const previous = [...new Set(expect.previousSecrets ?? [])].filter((secret) => secret !== expect.appSecret);
    if (previous.length > 0) cases.push({ kind: 'token', name: 'old secret', expected: 'refused', signers: previous.map((secret) => ({ secret })) });
  }
  if (signer) {
    const kid = kidOf(signer);
    cases.push({ kind: 'token', name: 'expired token', expected: 'refused', kid, signers: [signer], expired: true });
    cases.push({ kind: 'token', name: 'wrong room', expected: expect.roomCheck ? 'refused' : 'admitted', kid, signers: [signer], otherRoom: true });
  }
  if (expect.access?.passwordAccounts) cases.push({ kind: 'password', name: 'password login', expected: 'refused' });
  for (const service of expect.access?.serviceAccounts ?? []) cases.push({ kind: 'service', name: service.name, expected: 'admitted', domain: service.domain });
  if (expect.access?.guestDomain) {
    if (signer) {
      cases.push({ kind: 'guest', name: 'guest waits', expected: 'waits', host: signer });
      cases.push({ kind: 'guest', name: 'guest after host', expected: 'participant', host: signer });
      cases.push({ kind: 'guest', name: 'guest in another room', expected: 'waits', host: signer });
    } else {
      unproven.push('guests: not tried; a token holder has to host the room, and that needs a private key the host accepts');
    }
  }
  if (expect.moderatorFromToken) {
    if (signer) {
      const kid = kidOf(signer);
      cases.push({ kind: 'moderator', name: 'moderator token', expected: 'owner', kid, signer });
      cases.push({ kind: 'moderator', name: 'plain token', expected: 'member', kid, signer });
    } else {
      unproven.push('moderator token, plain token: not tried; they need a private key the host accepts');
    }
  }
  for (const c of cases) if (c.kid === undefined) delete c.kid;
  return { cases, unproven };
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

const signedBy = (signer: Signer): Pick<TokenRequest, 'appSecret' | 'signingKey'> => ('key' in signer ? { signingKey: signer.key } : { appSecret: signer.secret });

async function smokeCases(target: SmokeTarget, expect: SmokeExpectations, options: { timeoutMs?: number; focusWaitMs?: number; accounts?: AccountMaker }): Promise<SmokeReport> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 8_000;
  const plan = smokePlan(expect);
  const room = newRoom();
  const otherRoom = newRoom();
  const claims = { appId: expect.appId, room, sub: target.domain, aud: expect.audience, iss: expect.issuer, ttlSeconds: 120 };
  const tokenFor = (signer: Signer, extra: Partial<TokenRequest> = {}) => mintToken({ ...claims, ...signedBy(signer), ...extra });
  const cases: SmokeCase[] = [];
  const focusWaitMs = options.focusWaitMs ?? 30_000;
  // Once focus has not answered for the whole wait, the later cases do not wait for it again.
  let focusAnswered = true;

  const check: Check = async (planned, attempt) => {
    const caseStarted = Date.now();
    const outcome: Attempted = await attempt().catch((error: Error) => ({ error: error.message }));
    const intended = intendedRefusalFor(planned.name);
    const verdict = verdictFor(planned.expected, outcome, intended);
    return {
      name: planned.name,
      expected: planned.expected,
      ...(planned.kid !== undefined ? { kid: planned.kid } : {}),
      observed: observedText(outcome, verdict, intended),
      verdict,
      ok: verdict === 'pass',
      seconds: (Date.now() - caseStarted) / 1000,
    };
  };

  const walkToken = async (c: TokenCase): Promise<Outcome> => {
    const into = c.otherRoom ? otherRoom : room;
    const go = (token: string | undefined) => (c.first ? walkWhenFocusIsBack(target, token, into, timeoutMs, focusWaitMs) : walk(target, token, into, timeoutMs));
    if (c.signers.length === 0) return go(undefined);
    let outcome: Outcome | undefined;
    for (const signer of c.signers) {
      outcome = await go(await tokenFor(signer, c.expired ? { now: new Date(Date.now() - 3_600_000) } : {}));
      if (c.expected !== 'refused' || verdictFor('refused', outcome, intendedRefusalFor(c.name)) !== 'pass') break;
    }
    return outcome!;
  };

  // The first case goes alone and waits for focus to be back after a restart;
  // the other cases are separate sessions and run together once it is.
  const lead = plan.cases.find((c): c is TokenCase => c.kind === 'token' && c.first === true);
  if (lead) {
    cases.push(
      await check(lead, () =>
        walkToken(lead).then((outcome) => {
          focusAnswered = outcome.admitted || outcome.at !== 'conference';
          return outcome;
        }),
      ),
    );
  }
  // Jibri, Jigasi: an account of their own kind on their domain joins without a token. All are made in one go.
  const services = plan.cases.filter((c) => c.kind === 'service');
  const logins = services.length > 0 && options.accounts ? options.accounts.create(services.map((s) => s.domain)) : undefined;
  logins?.catch(() => undefined);
  const together: Promise<SmokeCase>[] = [];
  for (const c of plan.cases) {
    if (c === lead) continue;
    if (c.kind === 'token') together.push(check(c, () => walkToken(c)));
    if (c.kind === 'password') {
      // The accounts are still in Prosody's store; the domain must no longer offer password login at all.
      const login = { user: `jitsi-jwt-smoke-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('hex') };
      together.push(check(c, () => walk(target, { login }, room, timeoutMs)));
    }
    if (c.kind === 'service') {
      const i = services.indexOf(c);
      together.push(
        check(c, async () => {
          if (!logins) throw new Error(`no way to make a temporary account on ${c.domain} here`);
          return walk(target, { xmppDomain: c.domain, login: (await logins)[i] }, newRoom(), timeoutMs);
        }),
      );
    }
  }
  cases.push(...(await Promise.all(together)));
  const guests = plan.cases.filter((c) => c.kind === 'guest');
  const guestDomain = expect.access?.guestDomain;
  if (guestDomain && guests.length > 0) cases.push(...(await guestCases(target, guests, guestDomain, (signer, inRoom) => tokenFor(signer, { room: inRoom }), timeoutMs, check)));
  const moderatorRoom = newRoom();
  for (const c of plan.cases) {
    if (c.kind !== 'moderator') continue;
    const moderator = c.name === 'moderator token';
    cases.push(
      await check(c, async () => {
        const token = await tokenFor(c.signer, { room: moderatorRoom, ...(moderator ? { user: { moderator: true } } : {}) });
        return moderator
          ? walkWhenFocusIsBack(target, token, moderatorRoom, timeoutMs, focusAnswered ? focusWaitMs : 0, AFFILIATION_SETTLE_MS)
          : walk(target, token, moderatorRoom, timeoutMs, AFFILIATION_SETTLE_MS);
      }),
    );
  }
  discountRefusals(cases);
  return { ok: cases.every((c) => c.ok), cases, seconds: (Date.now() - started) / 1000, ...(plan.unproven.length > 0 ? { unproven: plan.unproven } : {}) };
}

/**
 * A refusal (or a wait) proves little when the valid token was refused as
 * well: those cases become inconclusive. Only when a valid token ran first —
 * without one (no private key on a public-key host) the refusals stand alone.
 */
export function discountRefusals(cases: SmokeCase[]): void {
  if (cases[0]?.name !== 'valid token' || cases[0].ok) return;
  for (const c of cases.slice(1)) {
    if (c.verdict !== 'pass' || (c.expected !== 'refused' && c.expected !== 'waits')) continue;
    c.verdict = 'inconclusive';
    c.ok = false;
    c.observed = `inconclusive: ${c.observed} — the valid token did not get in either`;
  }
}

const newRoom = () => `jitsi-jwt-smoke-${randomBytes(6).toString('hex')}`;

type Check = (planned: Pick<PlannedCase, 'name' | 'expected' | 'kid'>, attempt: () => Promise<Outcome>) => Promise<SmokeCase>;

/**
 * Guests (muc_wait_for_host): a guest alone in a room waits; once a token
 * holder is in, a guest gets in as a participant; in a room without a host a
 * guest still waits.
 */
async function guestCases(
  target: SmokeTarget,
  planned: Extract<PlannedCase, { kind: 'guest' }>[],
  guestDomain: string,
  tokenFor: (signer: Signer, room: string) => Promise<string>,
  timeoutMs: number,
  check: Check,
): Promise<SmokeCase[]> {
  const guest: Who = { xmppDomain: guestDomain };
  const room = newRoom();
  const cases: SmokeCase[] = [];
  for (const c of planned) {
    if (c.name === 'guest waits') cases.push(await check(c, () => walk(target, guest, room, timeoutMs)));
    if (c.name === 'guest in another room') cases.push(await check(c, () => walk(target, guest, newRoom(), timeoutMs)));
    if (c.name !== 'guest after host') continue;
    const host = await enter(target, await tokenFor(c.host, room), room, timeoutMs).catch((error: Error) => ({ error }));
    try {
      cases.push(
        await check(c, async () => {
          if ('error' in host) throw new Error(`the token holder who was to host the room could not join: ${host.error.message}`);
          if (!host.outcome.admitted) throw new Error(`the token holder who was to host the room was not let in: ${describe(host.outcome)}`);
          return walk(target, guest, room, timeoutMs, AFFILIATION_SETTLE_MS);
        }),
      );
    } finally {
      if (!('error' in host)) await host.client.close();
    }
  }
  return cases;
}
