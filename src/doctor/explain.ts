// Explains one JWT against one Jitsi host the way Jitsi's Prosody plugins judge it:
// the login checks of luajwtjitsi and token/util in their order, the room check of
// mod_token_verification at join, and what mod_token_affiliation makes of the holder.
// Pure: the host's settings and clocks come in, plain data comes out; no output carries the signature or the secret.
import { createHash, createHmac, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import { normaliseRoom } from '../token/room.js';

export interface TokenHostContext {
  /** the Jitsi domain, e.g. "meet.example.com" */
  domain: string;
  /** the conference component, e.g. "conference.meet.example.com" */
  mucDomain: string;
  /** muc_mapper_domain_prefix; undefined: the first label of mucDomain */
  mucDomainPrefix?: string;
  appId?: string;
  /** undefined: the host has no readable secret, the signature verdict is "unknown" */
  appSecret?: string;
  /** asap_accepted_issuers; undefined: [appId] */
  acceptedIssuers?: string[];
  /** asap_accepted_audiences; undefined: ["*"] */
  acceptedAudiences?: string[];
  requireRoomClaim: boolean;
  enableDomainVerification: boolean;
  /** token_verification on the conference MUC */
  roomCheck: boolean;
  /** mod_token_affiliation on the conference MUC */
  moderatorFromToken: boolean;
  /** authentication = "token" on the VirtualHost */
  tokenAuth: boolean;
  /** asap_key_server: the host checks signatures with public keys fetched by kid, not with app_secret */
  keyServer?: string;
  /** signature_algorithm, with a key server (default RS256) */
  signatureAlgorithm?: string;
  /** the public keys jitsi-jwt publishes on the host itself (its key server), by kid: signatures can be checked here */
  publishedKeys?: { kid: string; pem: string }[];
  /** the host's plugins refuse a token without sub at login ("sub claim is missing"); older ones fail at the room join */
  subRequiredAtLogin?: boolean;
  /** the host's clock, seconds since the epoch (may be fractional) */
  hostNow: number;
  /** this machine's clock at the same moment */
  localNow: number;
}

export type CheckVerdict = 'pass' | 'fail' | 'skipped' | 'unknown' | 'info';

export interface TokenCheck {
  id: string;
  verdict: CheckVerdict;
  detail: string;
  jitsiSays?: string;
}

export interface TokenExplanation {
  verdict: 'admitted' | 'refused-at-login' | 'refused-at-join' | 'unknown';
  /** the one line Jitsi would give (or log) for the refusal */
  reason?: string;
  /** decoded header (no signature) */
  header: Record<string, unknown>;
  /** decoded body */
  claims: Record<string, unknown>;
  checks: TokenCheck[];
}

export interface TokenInput {
  token: string;
  /** the room named by the path of a meeting URL, "[tenant]room" for a tenant path */
  room?: string;
}

type Claims = Record<string, unknown>;
type Ranked = TokenCheck & { rank?: number };

interface ParsedToken {
  header?: Claims;
  claims?: Claims;
  signature?: Buffer;
  signingInput?: string;
  failure?: { says: string; detail: string };
}

const EXPECTED_ALG = 'HS256';
const MISMATCH = 'Room and token mismatched';
const UNREADABLE = 'not checked: the token could not be read';
const NOT_TOKEN_HOST = 'not checked: the host does not use token authentication';
const LOGIN_RANK = { format: 0, kid: 1, typ: 2, alg: 3, signature: 4, expType: 5, nbfType: 6, exp: 7, nbf: 8, iss: 9, aud: 10, roomClaim: 11 };
const JOIN_RANK = { subMissing: 0, roomMissing: 1, mismatch: 2 };
/** after every other login check */
const LOGIN_SUB_RANK = 1000;
const CHECK_IDS = ['format', 'typ', 'alg', 'signature', 'exp', 'nbf', 'iss', 'aud', 'room-claim', 'sub', 'room', 'moderator'];

export function explainToken(input: string, host: TokenHostContext, room?: string): TokenExplanation {
  const { token, room: urlRoom } = extractToken(input);
  const parsed = parseToken(token);
  const decoded = { header: parsed.header ?? {}, claims: parsed.claims ?? {} };
  if (!host.tokenAuth) return notTokenHost(host, decoded);
  const login = loginChecks(parsed, host);
  let join = joinChecks(parsed.claims, host, room ?? urlRoom);
  if (host.subRequiredAtLogin && parsed.claims && parsed.claims.sub === undefined) {
    // Newer plugins refuse a token without sub at login, after the room claim.
    login.push(fail('sub', LOGIN_SUB_RANK, 'sub claim is missing', "the token has no sub claim: this host's plugins refuse such a token at login"));
    join = join.filter((c) => c.id !== 'sub');
  }
  const checks = [...login, ...join, moderatorCheck(parsed.claims, host), clockCheck(host)].map(publicCheck);
  return { ...outcome(login, join), ...decoded, checks };
}

export function extractToken(input: string): TokenInput {
  const text = input.trim().replace(/^bearer\s+/i, '').trim();
  const match = /[?&#]jwt=([^&#\s]*)/.exec(text);
  if (!match) return { token: text };
  const room = roomFromUrl(text);
  return room === undefined ? { token: decodeLenient(match[1]) } : { token: decodeLenient(match[1]), room };
}

function roomFromUrl(text: string): string | undefined {
  let segments: string[];
  try {
    segments = new URL(text).pathname.split('/').filter((s) => s !== '').map(decodeLenient);
  } catch {
    return undefined;
  }
  if (segments.length === 1) return segments[0];
  if (segments.length === 2) return `[${segments[0]}]${segments[1]}`;
  return undefined;
}

function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function outcome(login: Ranked[], join: Ranked[]): Pick<TokenExplanation, 'verdict' | 'reason'> {
  const loginFailure = firstFailure(login);
  if (loginFailure) return refusal('refused-at-login', loginFailure);
  if (login.some((c) => c.verdict === 'unknown')) return { verdict: 'unknown' };
  const joinFailure = firstFailure(join);
  if (joinFailure) return refusal('refused-at-join', joinFailure);
  if (join.some((c) => c.verdict === 'unknown')) return { verdict: 'unknown' };
  return { verdict: 'admitted' };
}

function firstFailure(checks: Ranked[]): Ranked | undefined {
  const failures = checks.filter((c) => c.verdict === 'fail');
  return failures.sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0))[0];
}

function refusal(verdict: TokenExplanation['verdict'], check: Ranked): Pick<TokenExplanation, 'verdict' | 'reason'> {
  return check.jitsiSays === undefined ? { verdict } : { verdict, reason: check.jitsiSays };
}

function publicCheck({ rank: _rank, ...check }: Ranked): TokenCheck {
  return check;
}

function notTokenHost(host: TokenHostContext, decoded: Pick<TokenExplanation, 'header' | 'claims'>): TokenExplanation {
  const reason = `${host.domain} does not use token authentication`;
  const detail = `${host.domain} does not use token authentication (its VirtualHost has no authentication = "token"): Prosody ignores the token`;
  const checks: TokenCheck[] = [
    { id: 'token-auth', verdict: 'fail', detail, jitsiSays: reason },
    ...CHECK_IDS.map((id) => skipped(id, NOT_TOKEN_HOST)),
    clockCheck(host),
  ];
  return { verdict: 'unknown', reason, ...decoded, checks };
}

function pass(id: string, detail: string): Ranked {
  return { id, verdict: 'pass', detail };
}

function fail(id: string, rank: number, jitsiSays: string, detail: string): Ranked {
  return { id, verdict: 'fail', detail, jitsiSays, rank };
}

function skipped(id: string, detail: string): Ranked {
  return { id, verdict: 'skipped', detail };
}

function unknown(id: string, detail: string): Ranked {
  return { id, verdict: 'unknown', detail };
}

function info(id: string, detail: string): Ranked {
  return { id, verdict: 'info', detail };
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function showList(values: string[]): string {
  return values.length === 0 ? '(none)' : values.map(show).join(', ');
}

function lowerAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function luaTruthy(value: unknown): boolean {
  return value !== undefined && value !== false;
}

function isObject(value: unknown): value is Claims {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---- parsing, as luajwtjitsi splits and decodes

function parseToken(token: string): ParsedToken {
  const segments: string[] = token.match(/[^.\\]+/g) ?? [];
  const header = segments.length > 0 ? decodeJsonPart(segments[0]) : undefined;
  const body = segments.length > 1 ? decodeJsonPart(segments[1]) : undefined;
  const parsed: ParsedToken = { header: header?.value, claims: body?.value };
  if (segments.length !== 3) return { ...parsed, failure: partsFailure(token, segments.length) };
  const signatureReadable = isUrl64(segments[2]);
  if (signatureReadable) parsed.signature = Buffer.from(segments[2].replace(/=/g, ''), 'base64url');
  parsed.signingInput = `${segments[0]}.${segments[1]}`;
  parsed.failure = header?.problem
    ? { says: 'Invalid header', detail: `the header (first part) ${header.problem}` }
    : body?.problem
      ? { says: 'Invalid body', detail: `the body (second part) ${body.problem}` }
      : signatureReadable
        ? undefined
        : { says: 'Invalid signature', detail: 'the signature (third part) is not base64url' };
  return parsed;
}

function partsFailure(token: string, parts: number): { says: string; detail: string } {
  const detail = token === '' ? 'the token is empty' : `the token has ${parts} part${parts === 1 ? '' : 's'} separated by dots, not 3`;
  return { says: 'Invalid token', detail };
}

function isUrl64(segment: string): boolean {
  return /^[A-Za-z0-9_=-]*$/.test(segment);
}

function decodeJsonPart(segment: string): { value?: Claims; problem?: string } {
  if (!isUrl64(segment)) return { problem: 'is not base64url' };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment.replace(/=/g, ''), 'base64url').toString('utf8'));
  } catch {
    return { problem: 'is not JSON' };
  }
  return isObject(value) ? { value } : { problem: 'is JSON but not an object' };
}

// ---- login: mod_auth_token → token_util → luajwtjitsi.verify

function loginChecks(parsed: ParsedToken, host: TokenHostContext): Ranked[] {
  const { header, claims } = parsed;
  return [
    formatCheck(parsed),
    typCheck(header),
    host.keyServer === undefined ? algCheck(header) : keyAlgCheck(header, host),
    host.keyServer === undefined ? signatureCheck(parsed, host) : keySignatureCheck(parsed, header, host.keyServer, host.publishedKeys),
    timeTypeCheck('exp', claims, LOGIN_RANK.expType) ?? expCheck(claims, host),
    timeTypeCheck('nbf', claims, LOGIN_RANK.nbfType) ?? nbfCheck(claims, host),
    issCheck(claims, host),
    audCheck(claims, host),
    roomClaimCheck(claims, host),
  ];
}

function formatCheck(parsed: ParsedToken): Ranked {
  if (parsed.failure) return fail('format', LOGIN_RANK.format, parsed.failure.says, parsed.failure.detail);
  return pass('format', 'three base64url parts: a JSON header, a JSON body and a signature');
}

function typCheck(header: Claims | undefined): Ranked {
  if (!header) return skipped('typ', UNREADABLE);
  if (header.typ === 'JWT') return pass('typ', 'typ is "JWT"');
  const detail = header.typ === undefined ? 'the header has no typ; Jitsi wants "JWT"' : `typ ${show(header.typ)} is not "JWT" (Jitsi compares it exactly)`;
  return fail('typ', LOGIN_RANK.typ, 'Invalid typ', detail);
}

function algCheck(header: Claims | undefined): Ranked {
  if (!header) return skipped('alg', UNREADABLE);
  if (header.alg === EXPECTED_ALG && luaTruthy(header.kid)) {
    const detail = `the header has a kid (${show(header.kid)}); with HS256 Jitsi refuses it before checking the signature (kid is for RS256 tokens and a key server)`;
    return fail('alg', LOGIN_RANK.kid, "'kid' claim only support with RS family", detail);
  }
  if (header.alg === EXPECTED_ALG) return pass('alg', 'alg is HS256, what this host expects with app_secret');
  const found = header.alg === undefined ? 'the header has no alg' : `alg ${show(header.alg)} is not HS256`;
  return fail('alg', LOGIN_RANK.alg, 'Invalid or incorrect alg', `${found}; this host checks tokens with HS256 and its app_secret`);
}

/** With a key server, before anything else: a kid, an alg, and an RS one; then the alg the host expects. */
function keyAlgCheck(header: Claims | undefined, host: TokenHostContext): Ranked {
  if (!header) return skipped('alg', UNREADABLE);
  const expected = host.signatureAlgorithm ?? 'RS256';
  if (!luaTruthy(header.kid)) return fail('alg', LOGIN_RANK.kid, "'kid' claim is missing", `the header has no kid; this host fetches the public key for each token by its kid from ${host.keyServer}`);
  if (!luaTruthy(header.alg)) return fail('alg', LOGIN_RANK.kid, "'alg' claim is missing", 'the header has no alg');
  if (typeof header.alg !== 'string' || !header.alg.startsWith('RS')) {
    return fail('alg', LOGIN_RANK.kid, "'kid' claim only support with RS family", `alg ${show(header.alg)} is not an RS algorithm; this host checks tokens with public keys (${expected})`);
  }
  if (header.alg !== expected) return fail('alg', LOGIN_RANK.alg, 'Invalid or incorrect alg', `alg ${show(header.alg)} is not ${expected}, the algorithm this host expects`);
  return pass('alg', `alg is ${expected} with kid ${show(header.kid)}, what this host expects with its key server`);
}

/** doctor does not fetch keys: it says where the host would fetch this token's key. */
function keySignatureCheck(parsed: ParsedToken, header: Claims | undefined, keyServer: string, published?: { kid: string; pem: string }[]): Ranked {
  if (parsed.signingInput === undefined || !header) return skipped('signature', UNREADABLE);
  if (!luaTruthy(header.kid)) return skipped('signature', 'not checked: no kid to fetch a key by');
  const url = `${keyServer}/${createHash('sha256').update(String(header.kid), 'utf8').digest('hex')}.pem`;
  if (published) {
    // The host's key server is this host: its keys are here to check with.
    const key = published.find((k) => k.kid === header.kid);
    if (!key) return fail('signature', LOGIN_RANK.signature, 'could not obtain public key', `no key is published on this host for kid ${show(header.kid)} (its kids: ${published.map((k) => k.kid).join(', ') || 'none'}); Prosody gets 404 from ${url}`);
    const algorithm = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' }[String(header.alg)] ?? 'sha256';
    const ok = parsed.signature !== undefined && verifySignature(algorithm, Buffer.from(parsed.signingInput), key.pem, parsed.signature);
    if (ok) return pass('signature', `matches the public key published on this host for kid ${show(header.kid)}`);
    return fail('signature', LOGIN_RANK.signature, 'Invalid signature', `signed with another key than the one published on this host for kid ${show(header.kid)}`);
  }
  return unknown('signature', `checked by the host with the public key it fetches for kid ${show(header.kid)} from ${url} (doctor does not fetch keys; if that URL does not serve the key, Jitsi says "could not obtain public key")`);
}

function signatureCheck(parsed: ParsedToken, host: TokenHostContext): Ranked {
  if (parsed.signingInput === undefined) return skipped('signature', UNREADABLE);
  if (!parsed.signature) return skipped('signature', 'not checked: the signature part is not base64url');
  if (host.appSecret === undefined) return unknown('signature', "this host's app_secret could not be read, so the signature cannot be checked");
  const expected = createHmac('sha256', Buffer.from(host.appSecret, 'utf8')).update(parsed.signingInput).digest();
  const matches = expected.length === parsed.signature.length && timingSafeEqual(expected, parsed.signature);
  if (matches) return pass('signature', "matches this host's app_secret (HMAC-SHA256)");
  return fail('signature', LOGIN_RANK.signature, 'Invalid signature', "signed with a different secret than this host's app_secret");
}

function timeTypeCheck(id: 'exp' | 'nbf', claims: Claims | undefined, rank: number): Ranked | undefined {
  if (!claims || !luaTruthy(claims[id]) || typeof claims[id] === 'number') return undefined;
  return fail(id, rank, `${id} must be number`, `${id} is ${show(claims[id])}, not a number of seconds since the epoch`);
}

function expCheck(claims: Claims | undefined, host: TokenHostContext): Ranked {
  if (!claims) return skipped('exp', UNREADABLE);
  const exp = claims.exp;
  if (typeof exp !== 'number') return pass('exp', 'no exp: the token does not expire (Jitsi does not require exp)');
  const hostNow = Math.floor(host.hostNow);
  if (hostNow >= exp) {
    const localNote = host.localNow < exp ? `; by this machine's clock it would still be valid for ${seconds(exp - host.localNow)}` : '';
    const detail = `exp ${when(exp)} is ${seconds(hostNow - exp)} before the host's clock (the host decides, not this machine)${localNote}`;
    return fail('exp', LOGIN_RANK.exp, `Not acceptable by exp (${hostNow - exp} sec since expired${validFor(claims, exp)})`, detail);
  }
  const localNote = host.localNow >= exp ? "; by this machine's clock it has expired, but the host decides" : '';
  return pass('exp', `exp ${when(exp)} is ${seconds(exp - hostNow)} after the host's clock: not expired${localNote}`);
}

function validFor(claims: Claims, exp: number): string {
  return typeof claims.iat === 'number' ? `, valid for:${exp - claims.iat} sec` : '';
}

function nbfCheck(claims: Claims | undefined, host: TokenHostContext): Ranked {
  if (!claims) return skipped('nbf', UNREADABLE);
  const nbf = claims.nbf;
  if (typeof nbf !== 'number') return pass('nbf', 'no nbf: the token is valid from the start');
  const hostNow = Math.floor(host.hostNow);
  if (hostNow < nbf) {
    const localNote = host.localNow >= nbf ? "; by this machine's clock it would already be valid" : '';
    const detail = `nbf ${when(nbf)} is ${seconds(nbf - hostNow)} after the host's clock: not valid yet (the host decides, not this machine)${localNote}`;
    return fail('nbf', LOGIN_RANK.nbf, 'Not acceptable by nbf', detail);
  }
  const localNote = host.localNow < nbf ? "; by this machine's clock it would not be valid yet, but the host decides" : '';
  return pass('nbf', `nbf ${when(nbf)} is ${seconds(hostNow - nbf)} before the host's clock: already valid${localNote}`);
}

function when(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return Number.isNaN(date.getTime()) ? String(epochSeconds) : date.toISOString().replace(/\.000Z$/, 'Z');
}

function seconds(amount: number): string {
  return `${Math.round(Math.abs(amount))} s`;
}

function claimAccepted(value: unknown, accepted: string[]): boolean {
  return accepted.some((entry) => entry === '*' || entry === value);
}

function issCheck(claims: Claims | undefined, host: TokenHostContext): Ranked {
  if (!claims) return skipped('iss', UNREADABLE);
  const accepted = host.acceptedIssuers ?? (host.appId === undefined ? undefined : [host.appId]);
  const source = host.acceptedIssuers ? `asap_accepted_issuers ${showList(host.acceptedIssuers)}` : `app_id ${show(host.appId)}`;
  if (claims.iss === undefined) return fail('iss', LOGIN_RANK.iss, "'iss' claim is missing", `the token has no iss claim; the accepted issuers are: ${source}`);
  if (!accepted) return unknown('iss', `iss ${show(claims.iss)}: the host has neither app_id nor asap_accepted_issuers, so its accepted issuers are unknown`);
  if (!claimAccepted(claims.iss, accepted)) {
    return fail('iss', LOGIN_RANK.iss, "invalid 'iss' claim", `iss ${show(claims.iss)} is not one of the accepted issuers: ${source}`);
  }
  return pass('iss', `iss ${show(claims.iss)} is accepted: ${source}`);
}

function audCheck(claims: Claims | undefined, host: TokenHostContext): Ranked {
  if (!claims) return skipped('aud', UNREADABLE);
  const accepted = host.acceptedAudiences ?? ['*'];
  const source = host.acceptedAudiences ? `asap_accepted_audiences ${showList(host.acceptedAudiences)}` : 'any audience (asap_accepted_audiences is not set)';
  if (claims.aud === undefined) return fail('aud', LOGIN_RANK.aud, "'aud' claim is missing", `the token has no aud claim, and Jitsi requires one (the host accepts ${source})`);
  if (!claimAccepted(claims.aud, accepted)) {
    const listNote = Array.isArray(claims.aud) ? ' (Jitsi compares aud as one string; a list never matches)' : '';
    return fail('aud', LOGIN_RANK.aud, "invalid 'aud' claim", `aud ${show(claims.aud)} is not one of the accepted audiences: ${source}${listNote}`);
  }
  return pass('aud', `aud ${show(claims.aud)} is accepted: the host accepts ${source}`);
}

function roomClaimCheck(claims: Claims | undefined, host: TokenHostContext): Ranked {
  if (!claims) return skipped('room-claim', UNREADABLE);
  if (claims.room !== undefined) return pass('room-claim', `the token has a room claim (${show(claims.room)})`);
  if (!host.requireRoomClaim) return skipped('room-claim', 'the token has no room claim; the host does not require one (asap_require_room_claim = false)');
  return fail('room-claim', LOGIN_RANK.roomClaim, "'room' claim is missing", 'the token has no room claim and the host requires one (asap_require_room_claim is on)');
}

// ---- join: mod_token_verification's verify_room

interface JoinTarget {
  given: string;
  node: string;
}

function joinChecks(claims: Claims | undefined, host: TokenHostContext, room: string | undefined): Ranked[] {
  if (!host.roomCheck) {
    const detail = 'token_verification is not enabled on the conference MUC: the room is not checked at join';
    return [skipped('sub', detail), skipped('room', detail)];
  }
  if (!claims) return [skipped('sub', UNREADABLE), skipped('room', UNREADABLE)];
  return [subCheck(claims, host), roomCheck(claims, host, room)];
}

function mucPrefix(host: TokenHostContext): string {
  return host.mucDomainPrefix ?? host.mucDomain.split('.')[0];
}

function subCheck(claims: Claims, host: TokenHostContext): Ranked {
  if (!host.enableDomainVerification) return skipped('sub', 'enable_domain_verification is off: sub is not compared with this host');
  const sub = claims.sub;
  if (typeof sub !== 'string' && typeof sub !== 'number') {
    const found = sub === undefined ? 'the token has no sub claim' : `sub ${show(sub)} is not a string`;
    return fail('sub', JOIN_RANK.subMissing, 'sub claim is missing', `${found}: with enable_domain_verification on, mod_token_verification fails on it (a Lua error in Prosody's log) and no join is ever answered`);
  }
  const muc = lowerAscii(host.mucDomain);
  const target = sub === '*' ? muc : lowerAscii(`${mucPrefix(host)}.${sub}`);
  if (target === muc) {
    return pass('sub', sub === '*' ? `sub "*" admits this host's conference MUC ${muc}` : `sub ${show(sub)} names this host: ${target} is its conference MUC`);
  }
  const wanted = muc.startsWith(`${lowerAscii(mucPrefix(host))}.`) ? muc.slice(mucPrefix(host).length + 1) : host.domain;
  return fail('sub', JOIN_RANK.mismatch, MISMATCH, `sub ${show(sub)} points at ${target}, not this host's conference MUC ${muc}; sub must be ${show(wanted)} or "*"`);
}

function roomCheck(claims: Claims, host: TokenHostContext, room: string | undefined): Ranked {
  if (room === undefined) return skipped('room', `give --room NAME to check the room; ${roomScope(claims, host)}`);
  if (/\[[^\]]*\]/.test(room)) return unknown('room', `"${room}" is a multi-domain ([tenant]room) name; this check does not support those`);
  const target = joinTarget(room);
  if (typeof target === 'string') return unknown('room', target);
  return host.enableDomainVerification ? verifiedRoomCheck(claims, host, target) : plainRoomCheck(claims, host, target);
}

function roomScope(claims: Claims, host: TokenHostContext): string {
  const claim = claims.room;
  if (claim === '*') return 'the token\'s room claim "*" admits any room';
  if (!luaTruthy(claim)) return host.enableDomainVerification ? 'the token has no room claim, so every join is refused' : 'the token has no room claim, so any room is allowed';
  return `the token admits room ${show(roomClaimNode(claim) ?? claim)} only`;
}

function joinTarget(room: string): JoinTarget | string {
  try {
    normaliseRoom(room);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (room === '*') return '"*" is not a room one can join; give the room name';
  return { given: room.trim(), node: backendSafeRoom(room.trim()) };
}

function backendSafeRoom(room: string): string {
  return encodeURIComponent(decodeLenient(room).normalize('NFKC').toLowerCase()).toLowerCase();
}

function roomClaimNode(claim: unknown): string | undefined {
  return typeof claim === 'string' || typeof claim === 'number' ? lowerAscii(String(claim)) : undefined;
}

function joinedAs(target: JoinTarget): string {
  return target.node === target.given ? `room "${target.node}"` : `room "${target.given}" (joined as "${target.node}")`;
}

function plainRoomCheck(claims: Claims, host: TokenHostContext, target: JoinTarget): Ranked {
  const claim = claims.room;
  if (!luaTruthy(claim)) return pass('room', `the token has no room claim: ${joinedAs(target)} is allowed (enable_domain_verification is off)`);
  const authRoom = roomClaimNode(claim);
  if (authRoom === undefined) return fail('room', JOIN_RANK.roomMissing, 'room claim is not a string', `room claim ${show(claim)} is not a string: mod_token_verification fails on it and the join is refused`);
  if (claim === '*') return pass('room', `room claim "*" admits any room, ${joinedAs(target)} included`);
  if (authRoom === target.node) return pass('room', `room claim ${show(claim)} admits ${joinedAs(target)} (both lower-cased)`);
  return roomMismatch(claim, host, target);
}

function verifiedRoomCheck(claims: Claims, host: TokenHostContext, target: JoinTarget): Ranked {
  const claim = claims.room;
  if (isRegexRoom(claims)) return unknown('room', `context.room.regex is set: the room claim ${show(claim)} is a Lua pattern, which this check does not evaluate`);
  const authRoom = roomClaimNode(claim);
  if (authRoom === undefined) {
    const found = claim === undefined ? 'the token has no room claim' : `room claim ${show(claim)} is not a string`;
    return fail('room', JOIN_RANK.roomMissing, 'room claim is missing', `${found}: with enable_domain_verification on, mod_token_verification fails on it and the join is refused`);
  }
  const roomToCheck = authRoom === '*' ? target.node : authRoom;
  if (roomToCheck !== target.node) return roomMismatch(claim, host, target);
  if (authRoom === '*') return pass('room', `room claim "*" admits any room, ${joinedAs(target)} included`);
  return pass('room', `room claim ${show(claim)} admits ${joinedAs(target)} (both lower-cased)`);
}

function isRegexRoom(claims: Claims): boolean {
  const context = isObject(claims.context) ? claims.context : undefined;
  const room = context && isObject(context.room) ? context.room : undefined;
  return room !== undefined && (room.regex === true || room.regex === 'true');
}

function roomMismatch(claim: unknown, host: TokenHostContext, target: JoinTarget): Ranked {
  const jid = `${target.node}@${lowerAscii(host.mucDomain)}`;
  const detail = `room claim ${show(claim)} does not admit ${joinedAs(target)}: Jitsi compares both lower-cased; Prosody logs "Token … not allowed to join: ${jid}"`;
  return fail('room', JOIN_RANK.mismatch, MISMATCH, detail);
}

// ---- information: moderator rights and clocks

function moderatorCheck(claims: Claims | undefined, host: TokenHostContext): Ranked {
  if (!host.moderatorFromToken) {
    return info('moderator', 'moderator rights are not taken from this token: Jicofo decides (the first to join becomes moderator unless enable-auto-owner is off)');
  }
  if (!claims) return skipped('moderator', UNREADABLE);
  const user = isObject(claims.context) && isObject(claims.context.user) ? claims.context.user : {};
  if (user.moderator === true || user.moderator === 'true') return info('moderator', `becomes moderator: context.user.moderator is ${show(user.moderator)}`);
  if (user.affiliation === 'owner' || user.affiliation === 'moderator') return info('moderator', `becomes moderator: context.user.affiliation is ${show(user.affiliation)}`);
  return info('moderator', 'joins as a member: the token has neither context.user.moderator true nor context.user.affiliation "owner" or "moderator"');
}

function clockCheck(host: TokenHostContext): Ranked {
  const skew = host.hostNow - host.localNow;
  if (Math.abs(skew) < 1) return info('clock', "the host's clock agrees with this machine's (within 1 s)");
  const direction = skew > 0 ? 'ahead of' : 'behind';
  return info('clock', `the host's clock is ${seconds(skew)} ${direction} this machine's; exp and nbf are judged by the host's clock`);
}
