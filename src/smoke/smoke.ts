// The smoke test: real tokens against the real server, along the path a Jitsi
// client takes. A valid token must get in; no token, a wrong secret, an expired
// token and a token for another room must stay out.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { mintToken } from '../token/mint.js';
import { BoshClient, XmppTransportError, type StepResult } from './bosh-client.js';
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

export interface SmokeCase {
  name: CaseName;
  expected: 'admitted' | 'refused' | 'owner' | 'member';
  /** what happened: admitted, or where and how it was refused */
  observed: string;
  ok: boolean;
  seconds: number;
}

export interface SmokeReport {
  ok: boolean;
  cases: SmokeCase[];
  seconds: number;
}

type Outcome = { admitted: true; affiliation?: string } | { admitted: false; at: 'sasl' | 'conference' | 'join'; answer: Extract<StepResult, { ok: false }> };

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

function describe(outcome: Outcome): string {
  if (outcome.admitted) return outcome.affiliation ? `admitted as ${outcome.affiliation}` : 'admitted';
  const { condition, text } = outcome.answer;
  const where = { sasl: 'at login', conference: 'by focus', join: 'at room join' }[outcome.at];
  return `refused ${where}: ${condition}${text ? ` (${text})` : ''}`;
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

  const check = async (name: CaseName, expected: SmokeCase['expected'], attempt: () => Promise<Outcome>): Promise<SmokeCase> => {
    const caseStarted = Date.now();
    let observed: string;
    let ok: boolean;
    try {
      const outcome = await attempt();
      observed = describe(outcome);
      ok =
        expected === 'refused'
          ? !outcome.admitted
          : outcome.admitted && (expected === 'admitted' || outcome.affiliation === expected);
    } catch (error) {
      observed = `error: ${(error as Error).message}`;
      ok = false;
    }
    return { name, expected, observed, ok, seconds: (Date.now() - caseStarted) / 1000 };
  };

  // The valid token goes first and waits for focus to be back after a restart;
  // the other cases are separate sessions and run together once it is.
  cases.push(
    await check('valid token', 'admitted', async () =>
      walkWhenFocusIsBack(target, await mintToken({ ...claims, appSecret: expect.appSecret }), room, timeoutMs, options.focusWaitMs ?? 30_000),
    ),
  );
  const previous = [...new Set(expect.previousSecrets ?? [])].filter((secret) => secret !== expect.appSecret);
  const together: Promise<SmokeCase>[] = [
    check('no token', expect.allowEmptyToken ? 'admitted' : 'refused', () => walk(target, undefined, room, timeoutMs)),
    check('wrong secret', 'refused', async () => walk(target, await mintToken({ ...claims, appSecret: `${expect.appSecret}-not-the-secret` }), room, timeoutMs)),
  ];
  if (previous.length > 0) {
    // Every secret the server had before must now be refused; the first one still admitted fails the case.
    together.push(
      check('old secret', 'refused', async () => {
        let outcome: Outcome | undefined;
        for (const secret of previous) {
          outcome = await walk(target, await mintToken({ ...claims, appSecret: secret }), room, timeoutMs);
          if (outcome.admitted) break;
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
        walkWhenFocusIsBack(target, await mintToken({ ...inRoom, user: { moderator: true } }), moderatorRoom, timeoutMs, options.focusWaitMs ?? 30_000, AFFILIATION_SETTLE_MS),
      ),
    );
    cases.push(await check('plain token', 'member', async () => walk(target, await mintToken(inRoom), moderatorRoom, timeoutMs, AFFILIATION_SETTLE_MS)));
  }
  // A refusal proves little when the valid token was refused as well.
  if (!cases[0].ok) {
    for (const c of cases.slice(1)) if (c.ok && c.expected === 'refused') c.observed += ' (inconclusive: the valid token was refused too)';
  }
  return { ok: cases.every((c) => c.ok), cases, seconds: (Date.now() - started) / 1000 };
}
