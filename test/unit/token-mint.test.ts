// Tokens verified by independent HS256 and RS256 implementations (node:crypto),
// not by the library that signed them.
import { createHmac, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mintToken } from '../../src/token/mint.js';

function decode(token: string) {
  const [header, payload, signature] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')),
    signature,
    signed: `${header}.${payload}`,
  };
}

describe('mintToken', () => {
  const now = new Date('2026-11-27T12:00:00Z');
  const secrets = ['s'.repeat(32), `q"uo'te\\back]]--dash ünïcødé ${'x'.repeat(20)}`];

  it.each(secrets)('signs HS256 with the secret as UTF-8 bytes (%#)', async (appSecret) => {
    const token = await mintToken({ appSecret, appId: 'my_app', room: 'r1', sub: 'meet.example.com', now });
    const { header, signed, signature } = decode(token);
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(createHmac('sha256', Buffer.from(appSecret, 'utf8')).update(signed).digest('base64url')).toBe(signature);
  });

  it('carries the claims Jitsi checks, with exp after and nbf before now', async () => {
    const token = await mintToken({
      appSecret: 'x'.repeat(32),
      appId: 'my_app',
      room: 'r1',
      sub: 'meet.example.com',
      ttlSeconds: 300,
      nbfSkewSeconds: 30,
      user: { name: 'Ada', moderator: true },
      now,
    });
    const t = Math.floor(now.getTime() / 1000);
    expect(decode(token).payload).toEqual({
      iss: 'my_app',
      aud: 'jitsi',
      sub: 'meet.example.com',
      room: 'r1',
      iat: t,
      nbf: t - 30,
      exp: t + 300,
      context: { user: { name: 'Ada', moderator: true } },
    });
  });

  it('lets iss and aud be set and leaves out an empty user context', async () => {
    const token = await mintToken({ appSecret: 'x'.repeat(32), appId: 'a', iss: 'backend', aud: 'meet', room: '*', sub: '*', now });
    const { payload } = decode(token);
    expect(payload).toMatchObject({ iss: 'backend', aud: 'meet', room: '*', sub: '*' });
    expect(payload).not.toHaveProperty('context');
  });
});

describe('RS256 tokens', () => {
  it('are signed with the private key, carry the kid, and verify with the public half only', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await mintToken({ appId: 'backend', room: 'r1', sub: 'meet.example.com', signingKey: { kid: 'k-1', key: pair.privateKey } });
    const [header, body, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'k-1' });
    expect(JSON.parse(Buffer.from(body, 'base64url').toString())).toMatchObject({ iss: 'backend', room: 'r1', sub: 'meet.example.com' });
    expect(verify('sha256', Buffer.from(`${header}.${body}`), pair.publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
    await expect(mintToken({ appId: 'backend', room: 'r1', sub: 'meet.example.com' })).rejects.toThrow(/secret or a signing key/);
  });
});
