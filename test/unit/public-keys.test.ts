// Public-key tokens without a host: Jitsi's key file names, key and URL
// checks, the config edits of each key source (and the way back, byte for
// byte), the published key set a plan writes and retires, rotate-key's
// refusals, and which private key signs as which kid.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SettingsError, HostStateError } from '../../src/errors.js';
import type { HostFacts } from '../../src/facts/probe.js';
import { isEmpty } from '../../src/plan/changes.js';
import { currentKeys, isPublisherUrl, resolveKeys, type KeySettings } from '../../src/plan/keys.js';
import { parseDomainConfig, readTokenConfig } from '../../src/prosody/domain-config.js';
import { publicKeyExpectations } from '../../src/run/signers.js';
import { explainToken } from '../../src/doctor/explain.js';
import { readKeySource, validateKeyUrl, type KeySourceWish } from '../../src/settings/settings.js';
import { fingerprint, keyFileName, parsePublicKey, parsePublishedKeyFile, publishedKeyFile, readPrivateKeys, validateKid } from '../../src/token/keys.js';
import { DOMAIN, facts, plan } from '../support/plan-fixtures.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const pairA = rsa();
const pairB = rsa();
const pemOf = (pair: ReturnType<typeof rsa>) => pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const A = { kid: 'key-a', pem: pemOf(pairA) };
const B = { kid: 'key-b', pem: pemOf(pairB) };
const ADDRESS = '127.0.0.2';
const KEY_DIR = `/etc/prosody/jitsi-jwt-keys/${DOMAIN}`;
const PUBLISHER_URL = `http://${ADDRESS}:5280/jitsi-jwt-keys/${DOMAIN}`;

/** A host after a plan was applied: the files as the plan left them. */
function after(f: HostFacts, p: ReturnType<typeof plan>): HostFacts {
  const domainFile = p.files.find((x) => x.path === f.domainFiles[0].path);
  const keyFiles = new Map((f.publishedKeys ?? []).map((k) => [k.path, k.text]));
  for (const file of p.files.filter((x) => x.path.startsWith(KEY_DIR))) {
    if (file.remove) keyFiles.delete(file.path);
    else keyFiles.set(file.path, file.after);
  }
  return {
    ...f,
    domainFiles: [{ ...f.domainFiles[0], text: domainFile?.after ?? f.domainFiles[0].text, mode: '640', group: 'prosody' }],
    packages: { prosody: { installed: true }, 'lua-sec': { installed: true }, 'lua-cjson': { installed: true }, 'lua-luaossl': { installed: true }, 'lua-basexx': { installed: true }, 'lua-inspect': { installed: true } },
    luaModules: { 'cjson.safe': true, 'openssl.hmac': true, basexx: true, inspect: true, ssl: true },
    publishedKeys: [...keyFiles].map(([p, text]) => ({ path: p, text })),
  };
}

const start = () => facts({ listening: [`${ADDRESS}:5280`], plugins: { dir: '/usr/share/jitsi-meet/prosody-plugins', present: ['mod_auth_token.lua', 'mod_token_verification.lua', 'token', 'token/util.lib.lua', 'token/jwk.lib.lua'] } });
const withKeys = (f: HostFacts, keySource: KeySourceWish) => plan(f, { keySource, appSecret: undefined });

describe('keys and key ids', () => {
  it("names a kid's key file as Jitsi's plugins fetch it: lower-case hex of sha256(kid), then .pem", () => {
    expect(keyFileName('test-asap-key')).toMatch(/^dc6983da[0-9a-f]{56}\.pem$/);
    expect(keyFileName('jitsi-jwt-1')).toBe('06383ad03cd1719532bd04d53eba8340598209971ffe1b90b2a860251b95c760.pem');
  });

  it('refuses kids with spaces or control characters, and empty ones', () => {
    for (const kid of ['', 'a b', 'a\nb', 'x'.repeat(201)]) expect(() => validateKid(kid)).toThrow(SettingsError);
    expect(validateKid('backend/2026-11')).toBe('backend/2026-11');
  });

  it('takes PKCS#1 public keys and private keys (their public half), normalised to the SPKI PEM Jitsi reads; refuses EC and short RSA keys', () => {
    const pkcs1 = pairA.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    expect(parsePublicKey(pkcs1, 'a.pub')).toBe(A.pem);
    expect(parsePublicKey(pairA.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'a.key')).toBe(A.pem);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePublicKey(ec, 'ec.pub')).toThrow(/RS256 only/);
    const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => parsePublicKey(short, 'short.pub')).toThrow(/1024-bit/);
    expect(() => parsePublicKey('not a key', 'x.pub')).toThrow(/no public key/);
  });

  it('writes published key files that name their kid and read back', () => {
    const text = publishedKeyFile(A);
    expect(text.startsWith('# jitsi-jwt public key, kid: key-a\n-----BEGIN PUBLIC KEY-----')).toBe(true);
    expect(parsePublishedKeyFile(text)).toEqual(A);
    expect(parsePublishedKeyFile(A.pem)).toBeUndefined();
    expect(fingerprint(A.pem)).toBe(fingerprint(pairA.privateKey));
  });
});

describe('key source flags', () => {
  it('drops a trailing slash from a key server, refuses a query string and other schemes', () => {
    expect(validateKeyUrl('https://keys.example.com/jitsi/', '--key-server')).toBe('https://keys.example.com/jitsi');
    expect(() => validateKeyUrl('https://keys.example.com/jitsi?x=1', '--key-server')).toThrow(/query string/);
    expect(() => validateKeyUrl('ftp://keys.example.com/', '--jwks-url')).toThrow(/not an http/);
    expect(() => validateKeyUrl('keys.example.com', '--jwks-url')).toThrow(/not a URL/);
  });

  it('takes one key source at most, and --public-key only with --kid', async () => {
    await expect(readKeySource({ keyServer: 'https://k.example.com', jwksUrl: 'https://k.example.com/jwks' })).rejects.toThrow(/--key-server and --jwks-url/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jitsi-jwt-keys-'));
    const file = path.join(dir, 'a.pub');
    writeFileSync(file, A.pem);
    await expect(readKeySource({ publicKey: file })).rejects.toThrow(/needs --kid/);
    await expect(readKeySource({ publicKey: file, kid: 'key-a' })).resolves.toEqual({ kind: 'published', keys: [A] });
    await expect(readKeySource({ sharedSecret: true })).resolves.toEqual({ kind: 'secret' });
    await expect(readKeySource({})).resolves.toBeUndefined();
  });
});

describe('planning public keys', () => {
  it('publishes a key on the host: key server on Prosody\'s own HTTP address, app_secret commented out, RS256, the serving component, the key file', () => {
    const p = withKeys(start(), { kind: 'published', keys: [A] });
    const text = p.files[0].after;
    const reading = readTokenConfig(parseDomainConfig(text), DOMAIN);
    expect(reading.asapKeyServer).toBe(PUBLISHER_URL);
    expect(reading.signatureAlgorithm).toBe('RS256');
    expect(reading.appSecret).toBeUndefined();
    expect(text).toContain(`Component "jitsi-jwt-keys.${DOMAIN}" "http_files"`);
    expect(text).toContain(`http_host = "${ADDRESS}"`);
    const key = p.files.find((f) => f.path === `${KEY_DIR}/${keyFileName('key-a')}`);
    expect(key).toMatchObject({ create: true, after: publishedKeyFile(A), mode: { to: '644' } });
    expect(p.keys).toMatchObject({ mode: 'published', kids: ['key-a'], keyServer: PUBLISHER_URL });
    expect(isPublisherUrl(reading.asapKeyServer as string, DOMAIN)).toBe(true);
    expect(p.restarts).toContain('prosody');
  });

  it("publishes where a stopped Prosody's config has it listen, for want of sockets to go by", () => {
    const stopped = { ...start(), listening: [], services: { ...start().services, prosody: { installed: true, processes: [] } } };
    stopped.prosodyConfigFiles = [
      { path: '/etc/prosody/prosody.cfg.lua', text: 'http_interfaces = { "127.0.0.6" }\nInclude "conf.d/*.cfg.lua"\n' },
      { path: stopped.domainFiles[0].link, text: stopped.domainFiles[0].text },
    ];
    const p = withKeys(stopped, { kind: 'published', keys: [A] });
    expect(p.keys?.keyServer).toBe(`http://127.0.0.6:5280/jitsi-jwt-keys/${DOMAIN}`);
    expect(p.files[0].after).toContain('http_host = "127.0.0.6"');
  });

  it('converges, adds a key without a restart, retires one with a restart', () => {
    const first = withKeys(start(), { kind: 'published', keys: [A] });
    const one = after(start(), first);
    expect(currentKeys(one, readTokenConfig(parseDomainConfig(one.domainFiles[0].text), DOMAIN), DOMAIN)).toEqual({ mode: 'published', keys: [A] });
    expect(isEmpty(withKeys(one, { kind: 'published', keys: [A] }))).toBe(true);
    expect(isEmpty(plan(one, { appSecret: undefined }))).toBe(true);

    const add = withKeys(one, { kind: 'published-change', add: [B], retire: [] });
    expect(add.files.map((f) => f.path)).toEqual([`${KEY_DIR}/${keyFileName('key-b')}`]);
    expect(add.restarts).toEqual([]);
    expect(add.keys).toMatchObject({ kids: ['key-a', 'key-b'], added: ['key-b'] });

    const two = after(one, add);
    const retire = withKeys(two, { kind: 'published-change', add: [], retire: ['key-a'] });
    expect(retire.files).toEqual([expect.objectContaining({ path: `${KEY_DIR}/${keyFileName('key-a')}`, remove: true })]);
    expect(retire.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(retire.restartReasons.join()).toMatch(/in memory until it restarts: "key-a"/);
  });

  it('refuses what rotate-key cannot do: the last key, an unknown kid, a kid reused for another key, a host not on published keys', () => {
    const one = after(start(), withKeys(start(), { kind: 'published', keys: [A] }));
    const current = { mode: 'published', keys: [A] } as KeySettings;
    expect(() => resolveKeys(one, current, { kind: 'published-change', add: [], retire: ['key-a'] }, DOMAIN)).toThrow(/no key: every token would be refused/);
    expect(() => resolveKeys(one, current, { kind: 'published-change', add: [], retire: ['nope'] }, DOMAIN)).toThrow(/no published key with kid "nope"/);
    expect(() => resolveKeys(one, current, { kind: 'published-change', add: [{ kid: 'key-a', pem: B.pem }], retire: [] }, DOMAIN)).toThrow(/another key under kid "key-a"/);
    expect(() => resolveKeys(one, { mode: 'key-server', url: 'https://k' }, { kind: 'published-change', add: [B], retire: [] }, DOMAIN)).toThrow(HostStateError);
    expect(() => resolveKeys(one, { mode: 'secret' }, { kind: 'published-change', add: [B], retire: [] }, DOMAIN)).toThrow(/shared app_secret/);
  });

  it('shows the switch from a shared secret as a cut-over, and the way back gives the secret file again byte for byte', () => {
    const hs = after(start(), plan(start()));
    const toKeys = withKeys(hs, { kind: 'key-server', url: 'https://keys.example.com/jitsi' });
    expect(toKeys.keys?.cutOver).toMatchObject({ from: expect.stringMatching(/HS256/), to: expect.stringMatching(/keys\.example\.com/) });
    expect(toKeys.files[0].after).not.toContain('jitsi-jwt-keys.');
    const rs = after(hs, toKeys);
    const back = plan(rs, { keySource: { kind: 'secret' } });
    expect(back.keys?.cutOver).toBeDefined();
    expect(back.files[0].after).toBe(hs.domainFiles[0].text);
    // From nothing to keys is not a cut-over: no token worked before.
    expect(withKeys(start(), { kind: 'key-server', url: 'https://k.example.com' }).keys?.cutOver).toBeUndefined();
  });

  it('reads JWKS only where the plugins can, and then looks up unknown kids on the host itself', () => {
    const old = facts({ listening: [`${ADDRESS}:5280`] });
    expect(() => withKeys(old, { kind: 'jwks', url: 'https://idp.example.com/certs' })).toThrow(/cannot read a JWKS document/);
    const p = withKeys(start(), { kind: 'jwks', url: 'https://idp.example.com/certs' });
    const reading = readTokenConfig(parseDomainConfig(p.files[0].after), DOMAIN);
    expect(reading.cacheKeysUrl).toBe('https://idp.example.com/certs');
    expect(reading.asapKeyServer).toBe(PUBLISHER_URL);
  });

  it('goes back to a shared secret only when asked', () => {
    const one = after(start(), withKeys(start(), { kind: 'published', keys: [A] }));
    expect(plan(one, { appSecret: undefined }).keys?.mode).toBe('published');
    expect(plan(one, { keySource: { kind: 'secret' } }).keys?.mode).toBe('secret');
  });

  it('removes published keys when the host takes its keys from elsewhere', () => {
    const one = after(start(), withKeys(start(), { kind: 'published', keys: [A] }));
    const p = withKeys(one, { kind: 'key-server', url: 'https://keys.example.com' });
    expect(p.files.filter((f) => f.remove).map((f) => f.path)).toEqual([`${KEY_DIR}/${keyFileName('key-a')}`]);
    expect(p.files[0].after).not.toContain('jitsi-jwt-keys.');
  });
});

describe('which private key signs as which kid', () => {
  const published: KeySettings = { mode: 'published', keys: [B] };
  const inputA = { file: 'a.key', key: pairA.privateKey };
  const inputB = { file: 'b.key', key: pairB.privateKey };

  it('matches keys to published kids by their public half, and retired keys to the kids they had', () => {
    const expected = publicKeyExpectations(published, { mode: 'published', keys: [A, B] }, [inputA, inputB], undefined, 'host');
    expect(expected?.signers.map((s) => s.kid)).toEqual(['key-b']);
    expect(expected?.retired?.map((s) => s.kid)).toEqual(['key-a']);
    expect(expected?.knownKids).toEqual(['key-b']);
  });

  it('reads KID=FILE as a key that signs as KID, unless a file has that whole name', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jitsi-jwt-keys-'));
    const file = path.join(dir, 'a.key');
    writeFileSync(file, pairA.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const [named] = await readPrivateKeys([`kid-2=${file}`]);
    expect(named).toMatchObject({ kid: 'kid-2', file });
    const odd = path.join(dir, 'x=a.key');
    writeFileSync(odd, pairA.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect((await readPrivateKeys([odd]))[0].kid).toBeUndefined();
    const expected = publicKeyExpectations({ mode: 'jwks', url: 'https://idp' }, undefined, [named, { ...inputB, kid: 'kid-3' }], undefined, 'host');
    expect(expected).toMatchObject({ signers: [{ kid: 'kid-2' }, { kid: 'kid-3' }], knownKids: ['kid-2', 'kid-3'] });
  });

  it('refuses a key that matches nothing published; elsewhere signs as --kid, which it then needs', () => {
    expect(() => publicKeyExpectations(published, undefined, [inputA], undefined, 'host')).toThrow(/belongs to none of the public keys/);
    expect(publicKeyExpectations({ mode: 'key-server', url: 'https://k' }, undefined, [inputA], 'kid-x', 'host')?.signers[0].kid).toBe('kid-x');
    expect(() => publicKeyExpectations({ mode: 'key-server', url: 'https://k' }, undefined, [inputA], undefined, 'host')).toThrow(/which kid/);
    expect(publicKeyExpectations({ mode: 'secret' }, undefined, [inputA], undefined, 'host')).toBeUndefined();
    // Leaving published keys for a key server that serves the same key: not retired, it signs.
    expect(publicKeyExpectations({ mode: 'key-server', url: 'https://k' }, published, [inputB], 'key-b', 'host')).toMatchObject({ signers: [{ kid: 'key-b' }] });
    expect(publicKeyExpectations({ mode: 'key-server', url: 'https://k' }, published, [inputB], 'key-b', 'host')?.retired).toBeUndefined();
  });
});

describe('doctor on a host that publishes its keys', () => {
  const now = Math.floor(Date.now() / 1000);
  const host = {
    domain: DOMAIN, mucDomain: `conference.${DOMAIN}`, appId: 'backend', requireRoomClaim: true, enableDomainVerification: true, roomCheck: true,
    moderatorFromToken: false, tokenAuth: true, hostNow: now, localNow: now, keyServer: PUBLISHER_URL, publishedKeys: [A],
  };
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const token = (pair: ReturnType<typeof rsa>, kid: string) => {
    const input = `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part({ iss: 'backend', aud: 'jitsi', sub: DOMAIN, room: 'r1', nbf: now - 10, exp: now + 300 })}`;
    return `${input}.${cryptoSign('sha256', Buffer.from(input), pair.privateKey).toString('base64url')}`;
  };
  const signature = (t: string) => explainToken(t, host, 'r1').checks.find((c) => c.id === 'signature');

  it('checks the signature with the published key of the token\'s kid', () => {
    expect(explainToken(token(pairA, 'key-a'), host, 'r1').verdict).toBe('admitted');
    expect(signature(token(pairA, 'key-a'))?.verdict).toBe('pass');
    expect(explainToken(token(pairB, 'key-a'), host, 'r1')).toMatchObject({ verdict: 'refused-at-login', reason: 'Invalid signature' });
    expect(explainToken(token(pairB, 'key-b'), host, 'r1')).toMatchObject({ verdict: 'refused-at-login', reason: 'could not obtain public key' });
  });
});
