// Prosody's log as doctor reads it: refusals grouped by reason within a time
// window, year and time zone inferred from the host's clock, tokens never shown.
import { describe, expect, it } from 'vitest';
import { PROSODY_LOG_PATTERN, redactTokens, summariseProsodyLog, type LogGroup } from '../../src/doctor/prosody-log.js';

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const JWT = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ iss: 'my_app', aud: 'jitsi', sub: 'meet.example.com', room: 'myroom', exp: 1_733_000_000 })}.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtX2FuZC1t`;

const PAD = (source: string) => source.padEnd(60);
const authLine = (time: string, reason: string) =>
  `${time} ${PAD('meet.example.com:auth_token')}warn\tError verifying token err:not-allowed, reason:${reason} tenant:nil room:nil user_agent:nil`;

const LINES = {
  invalidSignature: authLine('Nov 30 14:53:36', 'Invalid signature'),
  mismatch: `Nov 30 14:53:37 ${PAD('conference.meet.example.com:token_verification')}error\tToken ${JWT} not allowed to join: myroom@conference.meet.example.com`,
  moduleInit: `Dec 01 09:02:11 ${PAD('general')}error\tError initializing module 'auth_token' on 'meet.example.com': /usr/share/jitsi-meet/prosody-plugins/token/util.lib.lua:5: module 'basexx' not found:...`,
  preAuth: 'Jan 02 03:04:05 meet.example.com:auth_token   warn\tError verifying token on pre authentication stage:not-allowed, reason:could not obtain public key',
  postAuth: 'Nov 30 15:00:00 meet.example.com:auth_token\twarn\tError verifying token on post authentication stage :not-allowed, reason:Invalid typ',
  unableToLoad: `Nov 30 15:01:00 ${PAD('general')}error\tUnable to load module 'token_verification': /usr/share/jitsi-meet/prosody-plugins/mod_token_verification.lua:12: module 'luajwtjitsi' not found`,
  failedToLoad: 'Nov 30 15:02:00 conference.meet.example.com   error\tFailed to load module muc_meeting_id: file not found',
  banned: `Nov 30 15:03:00 ${PAD('conference.meet.example.com:muc_ban')}info\tuser is banned: 4f2a@meet.example.com/abc`,
};
const CLIENT_CONNECTED = `Nov 30 14:53:30 ${PAD('c2s55d5f1a0')}info\tClient connected`;

// Dec 1 2024, 12:00 UTC; the host runs on UTC unless a test says otherwise.
const NOW = utc(2024, 12, 1, 12);
const WEEK = 7 * 86_400;
const summarise = (lines: string[], options: Partial<{ hostNow: number; hostUtcOffsetSeconds: number; sinceSeconds: number }> = {}) =>
  summariseProsodyLog(lines.join('\n') + '\n', { hostNow: NOW, hostUtcOffsetSeconds: 0, sinceSeconds: WEEK, ...options });
const byReason = (groups: LogGroup[], reason: string) => {
  const group = groups.find((g) => g.reason === reason);
  expect(group, `a group for "${reason}" among ${JSON.stringify(groups.map((g) => g.reason))}`).toBeDefined();
  return group!;
};

describe('summariseProsodyLog', () => {
  it('groups the refusals of both Jitsi generations by kind and reason', () => {
    const summary = summarise(Object.values(LINES).concat(CLIENT_CONNECTED), { hostNow: utc(2025, 1, 3) , sinceSeconds: 60 * 86_400 });
    expect(summary.linesRead).toBe(9);
    expect(summary.unparsed).toBe(0);
    expect(summary.groups.map((g) => [g.kind, g.reason, g.count])).toEqual(
      expect.arrayContaining([
        ['token-rejected', 'Invalid signature', 1],
        ['token-rejected', 'could not obtain public key', 1],
        ['token-rejected', 'Invalid typ', 1],
        ['room-mismatch', 'Room and token mismatched', 1],
        ['module-load', 'auth_token', 1],
        ['module-load', 'token_verification', 1],
        ['module-load', 'muc_meeting_id', 1],
        ['banned', 'user is banned', 1],
      ]),
    );
    expect(summary.groups).toHaveLength(8);

    const signature = byReason(summary.groups, 'Invalid signature');
    expect(signature.source).toBe('meet.example.com:auth_token');
    expect(signature.first).toBe(utc(2024, 11, 30, 14, 53, 36));
    expect(signature.sample).toBe(LINES.invalidSignature);
    const auth = byReason(summary.groups, 'auth_token');
    expect(auth).toMatchObject({ kind: 'module-load', module: 'auth_token', source: 'general', first: utc(2024, 12, 1, 9, 2, 11) });
    expect(auth.sample).toContain("module 'basexx' not found");
    expect(byReason(summary.groups, 'could not obtain public key').first).toBe(utc(2025, 1, 2, 3, 4, 5));
  });

  it('keeps each reason Jitsi writes apart, and the expiry text out of the grouping', () => {
    const reasons = [
      'Not acceptable by nbf',
      "invalid 'iss' claim",
      "'iss' claim is missing",
      "invalid 'aud' claim",
      "'room' claim is missing",
      'Invalid signature',
      'Invalid typ',
    ];
    const lines = [
      authLine('Nov 30 10:00:00', 'Not acceptable by exp (5 sec since expired, valid for:600 sec)'),
      ...reasons.map((reason, i) => authLine(`Nov 30 10:0${i + 1}:00`, reason)),
      authLine('Nov 30 11:00:00', 'Not acceptable by exp (3600 sec since expired, valid for:600 sec)'),
    ];
    const { groups } = summarise(lines);
    expect(groups.map((g) => g.reason).sort()).toEqual(['Not acceptable by exp', ...reasons].sort());
    expect(groups.every((g) => g.kind === 'token-rejected')).toBe(true);
    const exp = byReason(groups, 'Not acceptable by exp');
    expect(exp).toMatchObject({ count: 2, first: utc(2024, 11, 30, 10), last: utc(2024, 11, 30, 11) });
    expect(exp.sample).toContain('reason:Not acceptable by exp (3600 sec since expired, valid for:600 sec) tenant:nil');
    expect(groups[0]).toBe(exp);
  });

  it('reads a reason without the tenant fields to the end of the line', () => {
    const { groups } = summarise(['Nov 30 10:00:00 meet.example.com:auth_token warn Error verifying token err:not-allowed, reason:Invalid signature ']);
    expect(groups.map((g) => g.reason)).toEqual(['Invalid signature']);
  });

  it('sorts by count, then by the latest line', () => {
    const { groups } = summarise([
      authLine('Nov 30 10:00:00', 'Invalid signature'),
      authLine('Nov 30 10:05:00', 'Invalid typ'),
      authLine('Nov 30 10:01:00', "invalid 'iss' claim"),
      authLine('Nov 30 10:02:00', "invalid 'iss' claim"),
      LINES.banned,
    ]);
    expect(groups.map((g) => g.reason)).toEqual(["invalid 'iss' claim", 'user is banned', 'Invalid typ', 'Invalid signature']);
  });

  it('shows a room mismatch with its room but not its token', () => {
    const { groups } = summarise([LINES.mismatch, LINES.mismatch.replace('14:53:37', '14:55:00').replace(JWT, 'nil')]);
    expect(groups).toHaveLength(1);
    const [mismatch] = groups;
    expect(mismatch).toMatchObject({ kind: 'room-mismatch', reason: 'Room and token mismatched', count: 2, source: 'conference.meet.example.com:token_verification' });
    expect(mismatch.sample).toMatch(/error\tToken <token> not allowed to join: myroom@conference\.meet\.example\.com$/);
    const first = summarise([LINES.mismatch]).groups[0];
    expect(first.sample).toBe(LINES.mismatch.replace(JWT, '<token>'));
  });

  it('lets no token through, whole or cut short, wherever it stands', () => {
    const lines = [
      LINES.mismatch,
      'Nov 30 14:53:37 conference.meet.example.com:token_verification          error\tToken eyJhbGciOi... not allowed to join: myroom@conference.meet.example.com',
      authLine('Nov 30 14:54:00', `Invalid signature for ${JWT}`),
      `Nov 30 14:55:00 general error\tUnable to load module 'auth_token': bad request /http-bind?room=myroom&token=${JWT}`,
      `Nov 30 14:56:00 general error\tFailed to load module 'x': Authorization: Bearer ${JWT.slice(0, 40)}`,
      `Nov 30 14:57:00 ${JWT} warn\tuser is banned ${JWT}`,
    ];
    const summary = summarise(lines);
    expect(summary.groups.reduce((n, g) => n + g.count, 0)).toBe(lines.length);
    const json = JSON.stringify(summary);
    expect(json).not.toContain('eyJ');
    expect(json).not.toContain(JWT.split('.')[1]);
    expect(json).not.toContain(JWT.split('.')[2]);
    expect(json).toContain('token=<token>');
    expect(redactTokens(`a ${JWT}, b`)).toBe('a <token>, b');
  });

  it('puts a month later than the host date in the previous year', () => {
    const hostNow = utc(2025, 1, 2, 8);
    const { groups } = summarise(
      [authLine('Dec 31 23:59:59', 'Invalid signature'), authLine('Jan 02 07:00:00', 'Invalid signature'), authLine('Jan 01 00:00:00', 'Invalid typ')],
      { hostNow },
    );
    expect(byReason(groups, 'Invalid signature')).toMatchObject({ count: 2, first: utc(2024, 12, 31, 23, 59, 59), last: utc(2025, 1, 2, 7) });
    expect(byReason(groups, 'Invalid typ').first).toBe(utc(2025, 1, 1));
  });

  it('puts a later day of the host month in the previous year', () => {
    const { groups } = summarise([authLine('Jan 05 10:00:00', 'Invalid typ')], { hostNow: utc(2025, 1, 2), sinceSeconds: 400 * 86_400 });
    expect(groups[0].first).toBe(utc(2024, 1, 5, 10));
  });

  it("reads times in the host's time zone", () => {
    const cet = summarise([LINES.invalidSignature], { hostUtcOffsetSeconds: 3600 });
    expect(cet.groups[0].first).toBe(utc(2024, 11, 30, 13, 53, 36));
    const newYork = summarise([LINES.invalidSignature], { hostUtcOffsetSeconds: -5 * 3600 });
    expect(newYork.groups[0].first).toBe(utc(2024, 11, 30, 19, 53, 36));
    const india = summarise([LINES.invalidSignature], { hostUtcOffsetSeconds: 5.5 * 3600 });
    expect(india.groups[0].first).toBe(utc(2024, 11, 30, 9, 23, 36));
  });

  it("takes the year from the host's local date, not its UTC date", () => {
    // 23:30 UTC on Dec 31 is already 00:30 on Jan 1 in Berlin.
    const hostNow = utc(2024, 12, 31, 23, 30);
    const { groups } = summarise([authLine('Jan 01 00:10:00', 'Invalid typ'), authLine('Dec 31 23:50:00', 'Invalid signature')], {
      hostNow,
      hostUtcOffsetSeconds: 3600,
    });
    expect(byReason(groups, 'Invalid typ').first).toBe(utc(2024, 12, 31, 23, 10));
    expect(byReason(groups, 'Invalid signature').first).toBe(utc(2024, 12, 31, 22, 50));
  });

  it('leaves out lines older than the window', () => {
    const lines = [
      authLine('Nov 29 11:59:59', 'Invalid signature'),
      authLine('Nov 30 12:00:00', 'Invalid typ'),
      authLine('Dec 01 11:00:00', 'Invalid typ'),
      authLine('Jun 01 11:00:00', "'room' claim is missing"),
    ];
    const summary = summarise(lines, { sinceSeconds: 86_400 });
    expect(summary.since).toBe(utc(2024, 11, 30, 12));
    expect(summary.linesRead).toBe(4);
    expect(summary.groups.map((g) => [g.reason, g.count, g.first])).toEqual([['Invalid typ', 2, utc(2024, 11, 30, 12)]]);
    expect(summarise(lines, { sinceSeconds: 300 * 86_400 }).groups).toHaveLength(3);
  });

  it('counts lines without a readable time, but not the continuation lines of a message', () => {
    const summary = summarise([
      'garbage without a time',
      authLine('Feb 30 10:00:00', 'Invalid signature'),
      authLine('Foo 10 10:00:00', 'Invalid signature'),
      authLine('Nov 30 25:00:00', 'Invalid signature'),
      LINES.moduleInit,
      "\tno field package.preload['basexx']",
      '        stack traceback:',
      '',
      '   ',
    ]);
    expect(summary).toMatchObject({ linesRead: 7, unparsed: 4 });
    expect(summary.groups.map((g) => g.reason)).toEqual(['auth_token']);
  });

  it('reads Feb 29 as the latest leap year', () => {
    const { groups } = summarise([authLine('Feb 29 10:00:00', 'Invalid typ')], { hostNow: utc(2025, 3, 1), sinceSeconds: 400 * 86_400 });
    expect(groups[0].first).toBe(utc(2024, 2, 29, 10));
  });

  it('reads an empty log', () => {
    expect(summariseProsodyLog('', { hostNow: NOW, hostUtcOffsetSeconds: 0, sinceSeconds: 60 })).toEqual({ groups: [], linesRead: 0, since: NOW - 60, unparsed: 0, smokeTests: 0 });
  });

  it("counts jitsi-jwt's own smoke tests apart, by the room their sessions name", () => {
    const own = [
      'Nov 30 14:53:36 meet.example.com:auth_token                             warn\tError verifying token err:not-allowed, reason:Invalid signature tenant:nil room:jitsi-jwt-smoke-0a1b2c3d4e5f user_agent:nil',
      'Nov 30 14:53:37 conference.meet.example.com:token_verification          error\tToken eyJhbGciOiJIUzI1NiJ9.e30.x not allowed to join: jitsi-jwt-smoke-0a1b2c3d4e5f@conference.meet.example.com/abc',
      'Nov 30 14:53:38 meet.example.com:auth_token                             warn\tError verifying token err:not-allowed, reason:Invalid signature tenant:nil room:standup user_agent:nil',
    ].join('\n');
    const summary = summariseProsodyLog(own, { hostNow: Date.UTC(2026, 10, 30, 15) / 1000, hostUtcOffsetSeconds: 0, sinceSeconds: 86_400 });
    expect(summary.smokeTests).toBe(2);
    expect(summary.groups.map((g) => [g.reason, g.count])).toEqual([['Invalid signature', 1]]);
  });
});

describe('PROSODY_LOG_PATTERN', () => {
  const pattern = new RegExp(PROSODY_LOG_PATTERN);
  it.each(Object.entries(LINES))('keeps %s', (_name, line) => {
    expect(pattern.test(line)).toBe(true);
  });
  it.each([
    CLIENT_CONNECTED,
    `Nov 30 14:53:31 ${PAD('c2s55d5f1a0')}info\tAuthenticated as 4f2a@meet.example.com`,
    `Nov 30 14:53:32 ${PAD('meet.example.com:auth_token')}debug\tToken accepted`,
    `Nov 30 14:53:33 ${PAD('general')}info\tHello and welcome to Prosody version 0.12.4`,
  ])('drops %s', (line) => {
    expect(pattern.test(line)).toBe(false);
  });
  it('uses nothing beyond POSIX ERE', () => {
    expect(PROSODY_LOG_PATTERN).not.toMatch(/\\[dswbDSWB]|\(\?|[*+?]\?/);
  });
});
