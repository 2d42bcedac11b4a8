// explainToken judges tokens the way Jitsi's Prosody plugins do; the tokens here
// are signed with node:crypto, independently of the module under test.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { explainToken, extractToken, type TokenExplanation, type TokenHostContext } from '../../src/doctor/explain.js';

const SECRET = 'host-secret-7f3a9c0e5b2d4a6f8e1c3b5d';
const OTHER_SECRET = 'some-other-secret-0000000000000000';
const NOW = 1_800_000_000;

const HOST: TokenHostContext = {
  domain: 'meet.example.com',
  mucDomain: 'conference.meet.example.com',
  appId: 'my_app',
  appSecret: SECRET,
  requireRoomClaim: true,
  enableDomainVerification: true,
  roomCheck: true,
  moderatorFromToken: true,
  tokenAuth: true,
  hostNow: NOW,
  localNow: NOW,
};

const CLAIMS = { iss: 'my_app', aud: 'jitsi', sub: 'meet.example.com', room: 'r1', iat: NOW - 60, nbf: NOW - 90, exp: NOW + 600 };
const HEADER = { alg: 'HS256', typ: 'JWT' };

function part(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function sign(claims: Record<string, unknown> = CLAIMS, header: Record<string, unknown> = HEADER, secret = SECRET): string {
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${createHmac('sha256', Buffer.from(secret, 'utf8')).update(input).digest('base64url')}`;
}

function withClaims(changes: Record<string, unknown>): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...CLAIMS, ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete claims[key];
  return claims;
}

function host(changes: Partial<TokenHostContext> = {}): TokenHostContext {
  return { ...HOST, ...changes };
}

function check(result: TokenExplanation, id: string) {
  const found = result.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found;
}

function verdicts(result: TokenExplanation): Record<string, string> {
  return Object.fromEntries(result.checks.map((c) => [c.id, c.verdict]));
}

describe('explainToken: a good token', () => {
  it('is admitted, every check passes, in Jitsi order', () => {
    const result = explainToken(sign(), HOST, 'r1');
    expect(result.verdict).toBe('admitted');
    expect(result).not.toHaveProperty('reason');
    expect(result.checks.map((c) => c.id)).toEqual(['format', 'typ', 'alg', 'signature', 'exp', 'nbf', 'iss', 'aud', 'room-claim', 'sub', 'room', 'moderator', 'clock']);
    expect(verdicts(result)).toEqual({
      format: 'pass', typ: 'pass', alg: 'pass', signature: 'pass', exp: 'pass', nbf: 'pass', iss: 'pass', aud: 'pass',
      'room-claim': 'pass', sub: 'pass', room: 'pass', moderator: 'info', clock: 'info',
    });
    expect(result.header).toEqual(HEADER);
    expect(result.claims).toEqual(CLAIMS);
    expect(check(result, 'signature').detail).toBe("matches this host's app_secret (HMAC-SHA256)");
  });

  it('passes without a --room, skipping the room check with a hint', () => {
    const result = explainToken(sign(), HOST);
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'room').verdict).toBe('skipped');
    expect(check(result, 'room').detail).toContain('give --room NAME to check the room');
    expect(check(result, 'room').detail).toContain('"r1" only');
  });
});

describe('explainToken: format', () => {
  it.each([
    ['garbage', 'not a token at all', 'Invalid token'],
    ['two parts', `${part(HEADER)}.${part(CLAIMS)}`, 'Invalid token'],
    ['empty', '', 'Invalid token'],
    ['header not JSON', `${Buffer.from('{nope').toString('base64url')}.${part(CLAIMS)}.c2ln`, 'Invalid header'],
    ['header not base64url', `a+b/.${part(CLAIMS)}.c2ln`, 'Invalid header'],
    ['body not JSON', `${part(HEADER)}.${Buffer.from('[1,').toString('base64url')}.c2ln`, 'Invalid body'],
    ['body not an object', `${part(HEADER)}.${part('text')}.c2ln`, 'Invalid body'],
    ['signature not base64url', `${part(HEADER)}.${part(CLAIMS)}.!!!`, 'Invalid signature'],
  ])('refuses %s at login', (_name, token, says) => {
    const result = explainToken(token, HOST, 'r1');
    expect(result.verdict).toBe('refused-at-login');
    expect(result.reason).toBe(says);
    expect(check(result, 'format')).toMatchObject({ verdict: 'fail', jitsiSays: says });
  });

  it('still reads what it can of a token with the wrong number of parts', () => {
    const result = explainToken(`${part(HEADER)}.${part(CLAIMS)}`, HOST, 'r1');
    expect(check(result, 'format').detail).toBe('the token has 2 parts separated by dots, not 3');
    expect(result.header).toEqual(HEADER);
    expect(check(result, 'typ').verdict).toBe('pass');
    expect(check(result, 'signature').verdict).toBe('skipped');
  });

  it('skips the checks it cannot make on garbage', () => {
    const result = explainToken('garbage', HOST, 'r1');
    expect(result.header).toEqual({});
    expect(result.claims).toEqual({});
    for (const id of ['typ', 'alg', 'signature', 'exp', 'nbf', 'iss', 'aud', 'room-claim', 'sub', 'room']) {
      expect(check(result, id).verdict).toBe('skipped');
    }
  });
});

describe('explainToken: header', () => {
  it.each([[{ alg: 'HS256' }], [{ alg: 'HS256', typ: 'jwt' }]])('refuses a typ other than "JWT" (%o)', (header) => {
    const result = explainToken(sign(CLAIMS, header), HOST, 'r1');
    expect(result.reason).toBe('Invalid typ');
    expect(check(result, 'typ').verdict).toBe('fail');
  });

  it.each([[{ alg: 'HS512', typ: 'JWT' }], [{ alg: 'none', typ: 'JWT' }], [{ typ: 'JWT' }]])('refuses another alg (%o)', (header) => {
    const result = explainToken(sign(CLAIMS, header), HOST, 'r1');
    expect(result.verdict).toBe('refused-at-login');
    expect(result.reason).toBe('Invalid or incorrect alg');
    expect(check(result, 'alg').detail).toContain('HS256');
  });

  it('refuses a kid with HS256, before typ and signature', () => {
    const result = explainToken(sign(CLAIMS, { alg: 'HS256', typ: 'jwt', kid: 'k1' }, OTHER_SECRET), HOST, 'r1');
    expect(result.reason).toBe("'kid' claim only support with RS family");
    expect(check(result, 'alg')).toMatchObject({ verdict: 'fail', jitsiSays: "'kid' claim only support with RS family" });
    expect(check(result, 'typ').verdict).toBe('fail');
    expect(check(result, 'signature').verdict).toBe('fail');
  });
});

describe('explainToken: signature', () => {
  it('refuses a token signed with another secret, and names neither secret', () => {
    const result = explainToken(sign(CLAIMS, HEADER, OTHER_SECRET), HOST, 'r1');
    expect(result.reason).toBe('Invalid signature');
    expect(check(result, 'signature')).toMatchObject({ verdict: 'fail', detail: "signed with a different secret than this host's app_secret" });
  });

  it('says "unknown" when the host secret could not be read', () => {
    const result = explainToken(sign(), host({ appSecret: undefined }), 'r1');
    expect(result.verdict).toBe('unknown');
    expect(result).not.toHaveProperty('reason');
    expect(check(result, 'signature').verdict).toBe('unknown');
  });

  it('still refuses when a later check fails and the signature is unknown', () => {
    const result = explainToken(sign(withClaims({ iss: 'backend' })), host({ appSecret: undefined }), 'r1');
    expect(result.verdict).toBe('refused-at-login');
    expect(result.reason).toBe("invalid 'iss' claim");
  });

  it('keeps evaluating after the first failure, reporting the first as the reason', () => {
    const result = explainToken(sign(withClaims({ iss: 'backend', aud: undefined }), HEADER, OTHER_SECRET), HOST, 'r1');
    expect(result.reason).toBe('Invalid signature');
    expect(verdicts(result)).toMatchObject({ signature: 'fail', iss: 'fail', aud: 'fail', exp: 'pass' });
    expect(check(result, 'aud').jitsiSays).toBe("'aud' claim is missing");
  });
});

describe('explainToken: exp and nbf by the host clock', () => {
  it('refuses a token expired by the host clock though this machine says it is valid', () => {
    const claims = withClaims({ iat: NOW - 3600, exp: NOW - 125, nbf: NOW - 3600 });
    const result = explainToken(sign(claims), host({ hostNow: NOW + 0.7, localNow: NOW - 300 }), 'r1');
    expect(result.verdict).toBe('refused-at-login');
    expect(result.reason).toBe('Not acceptable by exp (125 sec since expired, valid for:3475 sec)');
    const detail = check(result, 'exp').detail;
    expect(detail).toMatch(/^exp \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is 125 s before the host's clock \(the host decides, not this machine\)/);
    expect(detail).toContain("by this machine's clock it would still be valid for 175 s");
    expect(check(result, 'clock').detail).toContain('301 s ahead of');
  });

  it('leaves out "valid for" without iat', () => {
    const result = explainToken(sign(withClaims({ iat: undefined, exp: NOW - 5 })), HOST, 'r1');
    expect(result.reason).toBe('Not acceptable by exp (5 sec since expired)');
  });

  it('refuses at exactly exp, as os.time() >= exp does', () => {
    expect(explainToken(sign(withClaims({ iat: undefined, exp: NOW })), host({ hostNow: NOW + 0.9 }), 'r1').reason).toBe('Not acceptable by exp (0 sec since expired)');
  });

  it('admits a token the host still accepts though this machine says it expired', () => {
    const result = explainToken(sign(withClaims({ exp: NOW + 60 })), host({ localNow: NOW + 600 }), 'r1');
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'exp').detail).toContain('60 s after the host\'s clock');
    expect(check(result, 'exp').detail).toContain("by this machine's clock it has expired, but the host decides");
    expect(check(result, 'clock').detail).toContain('600 s behind');
  });

  it('refuses nbf in the future of the host clock', () => {
    const result = explainToken(sign(withClaims({ nbf: NOW + 120 })), host({ localNow: NOW + 200 }), 'r1');
    expect(result.reason).toBe('Not acceptable by nbf');
    expect(check(result, 'nbf').verdict).toBe('fail');
    expect(check(result, 'nbf').detail).toContain('120 s after the host\'s clock');
    expect(check(result, 'nbf').detail).toContain('would already be valid');
  });

  it('checks that exp and nbf are numbers before comparing times', () => {
    const expiredWithTextNbf = explainToken(sign(withClaims({ exp: NOW - 10, nbf: '0' })), HOST, 'r1');
    expect(expiredWithTextNbf.reason).toBe('nbf must be number');
    expect(check(expiredWithTextNbf, 'exp').verdict).toBe('fail');
    expect(explainToken(sign(withClaims({ exp: String(NOW + 10) })), HOST, 'r1').reason).toBe('exp must be number');
    expect(explainToken(sign(withClaims({ exp: null })), HOST, 'r1').reason).toBe('exp must be number');
  });

  it('accepts a token without exp or nbf', () => {
    const result = explainToken(sign(withClaims({ exp: undefined, nbf: undefined })), HOST, 'r1');
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'exp').detail).toContain('no exp');
  });

  it('reports agreeing clocks', () => {
    expect(check(explainToken(sign(), host({ hostNow: NOW + 0.4 }), 'r1'), 'clock')).toMatchObject({ verdict: 'info', detail: expect.stringContaining('agrees') });
  });
});

describe('explainToken: iss and aud', () => {
  it('refuses a missing iss', () => {
    expect(explainToken(sign(withClaims({ iss: undefined })), HOST, 'r1').reason).toBe("'iss' claim is missing");
  });

  it('refuses an iss other than app_id, naming app_id', () => {
    const result = explainToken(sign(withClaims({ iss: 'backend' })), HOST, 'r1');
    expect(result.reason).toBe("invalid 'iss' claim");
    expect(check(result, 'iss').detail).toBe('iss "backend" is not one of the accepted issuers: app_id "my_app"');
  });

  it('uses asap_accepted_issuers when set, "*" accepting any', () => {
    const token = sign(withClaims({ iss: 'backend' }));
    expect(explainToken(token, host({ acceptedIssuers: ['other', 'backend'] }), 'r1').verdict).toBe('admitted');
    expect(explainToken(token, host({ acceptedIssuers: ['*'] }), 'r1').verdict).toBe('admitted');
    const refused = explainToken(sign(), host({ acceptedIssuers: ['backend'] }), 'r1');
    expect(check(refused, 'iss').detail).toBe('iss "my_app" is not one of the accepted issuers: asap_accepted_issuers "backend"');
  });

  it('refuses a missing aud even when any audience is accepted', () => {
    expect(explainToken(sign(withClaims({ aud: undefined })), HOST, 'r1').reason).toBe("'aud' claim is missing");
  });

  it('accepts any aud by default, and only listed ones with asap_accepted_audiences', () => {
    const token = sign(withClaims({ aud: 'whatever' }));
    expect(explainToken(token, HOST, 'r1').verdict).toBe('admitted');
    expect(explainToken(sign(), host({ acceptedAudiences: ['meet', 'jitsi'] }), 'r1').verdict).toBe('admitted');
    const refused = explainToken(token, host({ acceptedAudiences: ['meet', 'jitsi'] }), 'r1');
    expect(refused.reason).toBe("invalid 'aud' claim");
    expect(check(refused, 'aud').detail).toContain('asap_accepted_audiences "meet", "jitsi"');
    expect(explainToken(token, host({ acceptedAudiences: ['meet', '*'] }), 'r1').verdict).toBe('admitted');
  });

  it('never matches an aud list against named audiences', () => {
    const result = explainToken(sign(withClaims({ aud: ['jitsi'] })), host({ acceptedAudiences: ['jitsi'] }), 'r1');
    expect(result.reason).toBe("invalid 'aud' claim");
    expect(check(result, 'aud').detail).toContain('a list never matches');
  });
});

describe('explainToken: room claim at login', () => {
  it('refuses a token without room when the host requires it', () => {
    const result = explainToken(sign(withClaims({ room: undefined })), HOST, 'r1');
    expect(result.reason).toBe("'room' claim is missing");
    expect(check(result, 'room-claim').verdict).toBe('fail');
  });

  it('lets it log in when asap_require_room_claim is off', () => {
    const result = explainToken(sign(withClaims({ room: undefined })), host({ requireRoomClaim: false, enableDomainVerification: false }), 'r1');
    expect(check(result, 'room-claim').verdict).toBe('skipped');
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'room').detail).toContain('no room claim');
  });

  it('refuses the join of a roomless token when domain verification is on', () => {
    const result = explainToken(sign(withClaims({ room: undefined })), host({ requireRoomClaim: false }), 'r1');
    expect(result.verdict).toBe('refused-at-join');
    expect(result.reason).toBe('room claim is missing');
  });
});

describe('explainToken: room at join, domain verification on', () => {
  it.each([
    ['R1', 'r1'],
    ['r1', 'R1'],
    ['MyRoom', 'myroom'],
    ['myroom', 'MyRoom'],
  ])('compares room claim %s and room %s lower-cased', (claim, room) => {
    const result = explainToken(sign(withClaims({ room: claim })), HOST, room);
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'room').verdict).toBe('pass');
  });

  it('refuses another room with Jitsi\'s words and its log line', () => {
    const result = explainToken(sign(), HOST, 'Other');
    expect(result.verdict).toBe('refused-at-join');
    expect(result.reason).toBe('Room and token mismatched');
    expect(check(result, 'room').detail).toContain('Token … not allowed to join: other@conference.meet.example.com');
    expect(check(result, 'room').detail).toContain('joined as "other"');
  });

  it('admits any room with room "*"', () => {
    const result = explainToken(sign(withClaims({ room: '*' })), HOST, 'AnyThing');
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'room').detail).toContain('"*" admits any room');
  });

  it('refuses the join without sub, even with room and sub wildcards elsewhere', () => {
    const result = explainToken(sign(withClaims({ sub: undefined, room: '*' })), HOST, 'r1');
    expect(result.verdict).toBe('refused-at-join');
    expect(result.reason).toBe('sub claim is missing');
    expect(check(result, 'sub').verdict).toBe('fail');
  });

  it('refuses without sub even when no room is given', () => {
    const result = explainToken(sign(withClaims({ sub: undefined })), HOST);
    expect(result.verdict).toBe('refused-at-join');
    expect(check(result, 'room').verdict).toBe('skipped');
  });

  it('admits sub "*" and the domain in any case', () => {
    expect(check(explainToken(sign(withClaims({ sub: '*' })), HOST, 'r1'), 'sub').verdict).toBe('pass');
    expect(explainToken(sign(withClaims({ sub: 'MEET.Example.com' })), HOST, 'r1').verdict).toBe('admitted');
  });

  it('refuses a sub naming another domain', () => {
    const result = explainToken(sign(withClaims({ sub: 'other.example.org' })), HOST, 'r1');
    expect(result.verdict).toBe('refused-at-join');
    expect(result.reason).toBe('Room and token mismatched');
    expect(check(result, 'sub').detail).toBe(
      'sub "other.example.org" points at conference.other.example.org, not this host\'s conference MUC conference.meet.example.com; sub must be "meet.example.com" or "*"',
    );
    expect(check(result, 'room').verdict).toBe('pass');
  });

  it('uses the MUC prefix of the host', () => {
    const muc = host({ mucDomain: 'muc.meet.example.com' });
    expect(explainToken(sign(), muc, 'r1').verdict).toBe('admitted');
    expect(explainToken(sign(), host({ mucDomain: 'muc.meet.example.com', mucDomainPrefix: 'conference' }), 'r1').verdict).toBe('refused-at-join');
  });

  it('does not guess at multi-domain rooms or regex room claims', () => {
    const tenant = explainToken(sign(), HOST, '[tenant]r1');
    expect(tenant.verdict).toBe('unknown');
    expect(check(tenant, 'room').verdict).toBe('unknown');
    const regex = explainToken(sign(withClaims({ room: 'r.*', context: { room: { regex: 'true' } } })), HOST, 'r1');
    expect(regex.verdict).toBe('unknown');
    expect(check(regex, 'room').detail).toContain('Lua pattern');
  });

  it('says "unknown" for a room name Jitsi cannot have', () => {
    const result = explainToken(sign(), HOST, 'a room');
    expect(result.verdict).toBe('unknown');
    expect(check(result, 'room').detail).toContain('cannot be a Jitsi room name');
  });

  it('refuses a room claim of the wrong type', () => {
    const result = explainToken(sign(withClaims({ room: { name: 'r1' } })), HOST, 'r1');
    expect(result.verdict).toBe('refused-at-join');
    expect(check(result, 'room').detail).toContain('is not a string');
  });
});

describe('explainToken: room at join, domain verification off', () => {
  const plain = host({ enableDomainVerification: false });

  it('ignores sub', () => {
    const result = explainToken(sign(withClaims({ sub: undefined })), plain, 'r1');
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'sub').verdict).toBe('skipped');
  });

  it('compares the room lower-cased and refuses another', () => {
    expect(explainToken(sign(withClaims({ room: 'MyRoom' })), plain, 'MYROOM').verdict).toBe('admitted');
    const refused = explainToken(sign(withClaims({ room: 'MyRoom' })), plain, 'other');
    expect(refused.verdict).toBe('refused-at-join');
    expect(refused.reason).toBe('Room and token mismatched');
  });

  it('admits any room with "*"', () => {
    expect(explainToken(sign(withClaims({ room: '*', sub: '*' })), plain, 'whatever').verdict).toBe('admitted');
  });

  it('skips the room when token_verification is off', () => {
    const result = explainToken(sign(), host({ roomCheck: false }), 'other');
    expect(result.verdict).toBe('admitted');
    expect(check(result, 'room').verdict).toBe('skipped');
    expect(check(result, 'sub').verdict).toBe('skipped');
  });
});

describe('explainToken: moderator', () => {
  it.each([
    [{ user: { moderator: true } }, 'becomes moderator'],
    [{ user: { moderator: 'true' } }, 'becomes moderator'],
    [{ user: { affiliation: 'owner' } }, 'becomes moderator'],
    [{ user: { affiliation: 'moderator' } }, 'becomes moderator'],
    [{ user: { moderator: false, affiliation: 'member' } }, 'joins as a member'],
    [undefined, 'joins as a member'],
  ])('reads %o', (context, expected) => {
    const result = explainToken(sign(withClaims({ context })), HOST, 'r1');
    expect(check(result, 'moderator')).toMatchObject({ verdict: 'info', detail: expect.stringContaining(expected) });
    expect(result.verdict).toBe('admitted');
  });

  it('says Jicofo decides when the host does not take moderator rights from tokens', () => {
    const result = explainToken(sign(withClaims({ context: { user: { moderator: true } } })), host({ moderatorFromToken: false }), 'r1');
    expect(check(result, 'moderator').detail).toBe(
      'moderator rights are not taken from this token: Jicofo decides (the first to join becomes moderator unless enable-auto-owner is off)',
    );
  });
});

describe('explainToken: hosts without token authentication', () => {
  it('fails one check and skips the rest', () => {
    const result = explainToken(sign(), host({ tokenAuth: false }), 'r1');
    expect(result.verdict).toBe('unknown');
    expect(result.reason).toContain('does not use token authentication');
    expect(result.checks[0]).toMatchObject({ id: 'token-auth', verdict: 'fail' });
    expect(result.checks.filter((c) => c.verdict === 'skipped').map((c) => c.id)).toEqual(
      ['format', 'typ', 'alg', 'signature', 'exp', 'nbf', 'iss', 'aud', 'room-claim', 'sub', 'room', 'moderator'],
    );
    expect(check(result, 'clock').verdict).toBe('info');
  });
});

describe('explainToken: token input', () => {
  it('strips a Bearer prefix', () => {
    expect(explainToken(`Bearer ${sign()}`, HOST, 'r1').verdict).toBe('admitted');
    expect(explainToken(`  bearer   ${sign()}\n`, HOST, 'r1').verdict).toBe('admitted');
  });

  it('takes the token, and the room when none is given, from a meeting URL', () => {
    const url = `https://meet.example.com/R1?jwt=${sign()}#config.startWithAudioMuted=true`;
    expect(extractToken(url)).toEqual({ token: sign(), room: 'R1' });
    expect(explainToken(url, HOST).verdict).toBe('admitted');
    expect(check(explainToken(url, HOST), 'room').verdict).toBe('pass');
    expect(explainToken(url, HOST, 'other').verdict).toBe('refused-at-join');
    expect(explainToken(`https://meet.example.com/?lang=en&jwt=${sign()}`, HOST).verdict).toBe('admitted');
    expect(extractToken(`https://meet.example.com/acme/r1?jwt=${sign()}`).room).toBe('[acme]r1');
  });
});

describe('explainToken: output', () => {
  const tokens = [
    sign(),
    sign(CLAIMS, HEADER, OTHER_SECRET),
    sign(withClaims({ exp: NOW - 100 })),
    sign(withClaims({ sub: undefined })),
    sign(CLAIMS, { ...HEADER, kid: 'k' }),
    `${part(HEADER)}.${part(CLAIMS)}`,
    `${part(HEADER)}.${part(CLAIMS)}.${createHmac('sha256', SECRET).update('x').digest('base64url')}.extra`,
  ];
  const hosts = [HOST, host({ tokenAuth: false }), host({ appSecret: undefined }), host({ enableDomainVerification: false, roomCheck: true })];

  it('never carries the signature, the whole token or the secret', () => {
    for (const token of tokens) {
      const signature = token.split('.')[2];
      for (const h of hosts) {
        for (const input of [token, `Bearer ${token}`, `https://meet.example.com/r1?jwt=${token}`]) {
          for (const room of [undefined, 'r1', 'other']) {
            const text = JSON.stringify(explainToken(input, h, room));
            if (signature) expect(text).not.toContain(signature);
            expect(text).not.toContain(token);
            expect(text).not.toContain(SECRET);
            expect(text).not.toContain(OTHER_SECRET);
          }
        }
      }
    }
  });
});

describe('explainToken: a host that fetches public keys (asap_key_server)', () => {
  const keyHost = host({ appSecret: undefined, keyServer: 'https://keys.example.com/jitsi' });
  const rs = (extra: Record<string, unknown> = {}) => sign(CLAIMS, { alg: 'RS256', typ: 'JWT', kid: 'backend-2026', ...extra });

  it('cannot check the signature, and says where the host fetches the key for the kid', () => {
    const result = explainToken(rs(), keyHost, 'r1');
    expect(result.verdict).toBe('unknown');
    expect(check(result, 'alg').verdict).toBe('pass');
    const url = `https://keys.example.com/jitsi/${createHash('sha256').update('backend-2026').digest('hex')}.pem`;
    expect(check(result, 'signature')).toMatchObject({ verdict: 'unknown', detail: expect.stringContaining(url) });
  });

  it.each([
    ['no kid', sign(CLAIMS, { alg: 'RS256', typ: 'JWT' }), "'kid' claim is missing"],
    ['an HS token', rs({ alg: 'HS256' }), "'kid' claim only support with RS family"],
    ['another RS algorithm', rs({ alg: 'RS512' }), 'Invalid or incorrect alg'],
  ])('refuses %s at login', (_name, token, reason) => {
    expect(explainToken(token, keyHost, 'r1')).toMatchObject({ verdict: 'refused-at-login', reason });
  });
});
