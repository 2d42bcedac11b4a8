// Public-key (RS256) tokens on the test bed's token plugins, on both suites:
// with `asap_key_server` on the main VirtualHost (and no app_secret), Prosody
// fetches each token's key from <base>/<sha256hex(kid)>.pem — here a plain
// HTTP server on the host itself — and admits a token signed with it. Unknown
// kids, other keys under a known kid, HS256 tokens and tokens without a kid
// are refused at login with Jitsi's texts; a key once fetched stays cached
// after the server stops serving it, and a failed fetch is not cached.
//
// Then, on the same hosts, `cache_keys_url` alone (Jitsi's newest generation):
// a JWKS document served by the host gives the keys, next to a certificate in
// the older map form; a kid the document lacks and another key under a listed
// kid are refused (Jitsi's own plugins crash on the unknown kid instead: no
// SASL answer, a traceback in Prosody's log). Without token/jwk.lib.lua (how
// older generations look) the JWKS part gives no keys while the certificate
// still works.
//
// JITSI_JWT_TEST_PLUGINS=DIR runs the same checks on Jitsi's own plugins.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoshClient, XmppTransportError } from '../../src/smoke/bosh-client.js';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { PLUGIN_DIR } from '../../testbed/provision.js';
import {
  attemptJoin,
  domainFile,
  hs256Token,
  installTokenLuaPackages,
  linkPureLuaModules,
  restartProsody,
  waitForFileMatch,
  waitForFocus,
} from '../support/token-host.js';

const DOMAIN = 'meet.test';
const PLUGINS = process.env.JITSI_JWT_TEST_PLUGINS ? path.resolve(process.env.JITSI_JWT_TEST_PLUGINS) : undefined;
const bed = new TestBed(`e2e-rs256-${process.pid}`);
const appId = 'rs256_backend';
const KEY_PORT = 8765;
const KEY_ROOT = '/srv/jwt-keys';
const KEY_LOG = '/var/log/jwt-keys.log';
const PROSODY_LOG = '/var/log/prosody/prosody.log';

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', pluginsDir: PLUGINS, brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

const newKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const keyFileName = (kid: string) => `${createHash('sha256').update(kid).digest('hex')}.pem`;

/** A token signed RS256 with node:crypto alone; `header` overrides or removes (undefined) header fields. */
function rs256Token(privateKey: KeyObject, header: Record<string, unknown>, claims: { room: string }): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'RS256', typ: 'JWT', ...header })}.${part({ iss: appId, aud: 'jitsi', sub: DOMAIN, ...claims, nbf: now - 10, exp: now + 300 })}`;
  return `${body}.${sign('sha256', Buffer.from(body), privateKey).toString('base64url')}`;
}

/** Switches the stock domain file to token auth with a key server instead of a secret, and room checks on. */
async function switchToKeyServer(name: string, keyServer: string): Promise<void> {
  const file = domainFile(DOMAIN);
  const lines = (await bed.ssh(name, `cat ${file}`)).stdout.split('\n');
  const replace = (from: string, to: string) => {
    const index = lines.findIndex((l) => l.trim() === from);
    if (index < 0) throw new Error(`${file} on ${name} has no line "${from}"`);
    lines[index] = lines[index].replace(from, to);
    return index;
  };
  replace('authentication = "jitsi-anonymous" -- do not delete me', 'authentication = "token" -- do not delete me');
  const appIdLine = replace('--app_id="example_app_id"', `app_id="${appId}"`);
  const indent = lines[appIdLine].match(/^\s*/)![0];
  lines.splice(appIdLine + 1, 0, `${indent}asap_key_server = "${keyServer}"`);
  replace('--"token_verification";', '"token_verification";');
  await bed.ssh(name, `cat > ${file}.new && chmod 640 ${file}.new && chown root:prosody ${file}.new && mv ${file}.new ${file}`, {
    input: `${lines.join('\n')}\n`,
  });
}

/** Replaces the domain file line that reads `from` (trimmed) with `to`, keeping its indent. */
async function replaceDomainLine(name: string, from: string, to: string): Promise<void> {
  const file = domainFile(DOMAIN);
  const lines = (await bed.ssh(name, `cat ${file}`)).stdout.split('\n');
  const index = lines.findIndex((l) => l.trim() === from);
  if (index < 0) throw new Error(`${file} on ${name} has no line "${from}"`);
  lines[index] = lines[index].replace(from, to);
  await bed.ssh(name, `cat > ${file}.new && chmod 640 ${file}.new && chown root:prosody ${file}.new && mv ${file}.new ${file}`, {
    input: `${lines.join('\n')}\n`,
  });
}

/** A self-signed certificate for `key` (openssl's CLI; node:crypto cannot issue one). */
function selfSignedCertificate(key: { privateKey: KeyObject }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jwks-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    fs.writeFileSync(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return execFileSync('openssl', ['req', '-new', '-x509', '-key', keyFile, '-subj', '/CN=jitsi-jwt test', '-days', '2']).toString();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function httpGetStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  let keyServer: string;
  let keyServerPid: number | undefined;
  const url = () => `http://${host.address}:5280/http-bind`;
  const signing = newKey();
  const other = newKey();
  const kid = `rs256-${name}`;
  const publish = (id: string, key: KeyObject) => bed.ssh(name, `cat > ${KEY_ROOT}/keys/${keyFileName(id)}`, { input: pem(key) });
  const fetchesOf = async (id: string) => (await bed.ssh(name, `grep -c 'GET /keys/${keyFileName(id)} ' ${KEY_LOG} || true`)).stdout.trim();
  const login = async (token: string) => (await attemptJoin({ url: url(), domain: DOMAIN, token, room: `rs-${randomBytes(3).toString('hex')}` })).auth;

  beforeAll(async () => {
    host = await bed.host(name);
    keyServer = `http://${host.address}:${KEY_PORT}/keys`;
    await installTokenLuaPackages(bed, name);
    await linkPureLuaModules(bed, name);

    // The key server: a plain HTTP server on the host's own address, logging each request.
    await bed.ssh(name, `mkdir -p ${KEY_ROOT}/keys`);
    await publish(kid, signing.publicKey);
    const started = await bed.ssh(name, `setsid python3 -m http.server ${KEY_PORT} --bind ${host.address} --directory ${KEY_ROOT} >/dev/null 2>${KEY_LOG} </dev/null & echo $!`);
    keyServerPid = Number(started.stdout.trim());
    const deadline = Date.now() + 10_000;
    while ((await httpGetStatus(`${keyServer}/${keyFileName(kid)}`).catch(() => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error(`the key server on ${name} did not come up`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    await switchToKeyServer(name, keyServer);
    await restartProsody(bed, name);
    await waitForFocus({ url: url(), domain: DOMAIN, token: rs256Token(signing.privateKey, { kid }, { room: '*' }) });
  });

  afterAll(async () => {
    if (keyServerPid) await bed.ssh(name, `kill ${keyServerPid}`, { reject: false });
  });

  it('admits an RS256 token whose key the key server serves, and keeps the key after the server stops serving it', async () => {
    const room = 'rs-room';
    const admitted = await attemptJoin({ url: url(), domain: DOMAIN, token: rs256Token(signing.privateKey, { kid }, { room }), room });
    expect(admitted.auth).toEqual({ ok: true });
    expect(admitted.conference?.ok).toBe(true);
    expect(admitted.join?.ok).toBe(true);
    // The room claim is still checked at join.
    const elsewhere = await attemptJoin({ url: url(), domain: DOMAIN, token: rs256Token(signing.privateKey, { kid }, { room }), room: 'other-room' });
    expect(elsewhere.auth.ok).toBe(true);
    expect(elsewhere.join?.ok ?? false).toBe(false);

    // A new kid: fetched once, then used from the cache after its file is gone (no expiry).
    const second = newKey();
    const secondKid = `${kid}-second`;
    await publish(secondKid, second.publicKey);
    expect(await login(rs256Token(second.privateKey, { kid: secondKid }, { room: '*' }))).toEqual({ ok: true });
    await bed.ssh(name, `rm ${KEY_ROOT}/keys/${keyFileName(secondKid)}`);
    expect(await login(rs256Token(second.privateKey, { kid: secondKid }, { room: '*' }))).toEqual({ ok: true });
    expect(await fetchesOf(secondKid)).toBe('1');
  });

  it('refuses an unknown kid at login without caching the failure', async () => {
    const late = newKey();
    const lateKid = `${kid}-late`;
    const token = rs256Token(late.privateKey, { kid: lateKid }, { room: '*' });
    expect(await login(token)).toMatchObject({ ok: false, condition: 'not-allowed', text: 'could not obtain public key' });
    await publish(lateKid, late.publicKey);
    expect(await login(token)).toEqual({ ok: true });
    expect(await fetchesOf(lateKid)).toBe('2');
    const log = await waitForFileMatch(bed, name, PROSODY_LOG, /reason:could not obtain public key/);
    expect(log).toMatch(/Error verifying token err:not-allowed, reason:could not obtain public key tenant:\S* room:\S* user_agent:/);
    expect(log).toMatch(/Error on GET request: Code 404/);
  });

  it('refuses a token signed by another key under a known kid', async () => {
    expect(await login(rs256Token(other.privateKey, { kid }, { room: '*' }))).toMatchObject({ ok: false, condition: 'not-allowed', text: 'Invalid signature' });
  });

  it('refuses HS256 tokens and tokens without a kid', async () => {
    // app_secret is not set; a key server means RS tokens only.
    const secret = randomBytes(32).toString('base64url');
    expect(await login(hs256Token(secret, { iss: appId, sub: DOMAIN, room: '*' }))).toMatchObject({ ok: false, text: "'kid' claim is missing" });
    const hsWithKid = (() => {
      const [, body, signature] = hs256Token(secret, { iss: appId, sub: DOMAIN, room: '*' }).split('.');
      return `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid })).toString('base64url')}.${body}.${signature}`;
    })();
    expect(await login(hsWithKid)).toMatchObject({ ok: false, text: "'kid' claim only support with RS family" });
    expect(await login(rs256Token(signing.privateKey, {}, { room: '*' }))).toMatchObject({ ok: false, text: "'kid' claim is missing" });
    expect(await login(rs256Token(signing.privateKey, { kid, alg: undefined }, { room: '*' }))).toMatchObject({ ok: false, text: "'alg' claim is missing" });
    expect(await login(rs256Token(signing.privateKey, { kid, alg: 'RS384' }, { room: '*' }))).toMatchObject({ ok: false, text: 'Invalid or incorrect alg' });
    const log = (await bed.ssh(name, `cat ${PROSODY_LOG}`)).stdout;
    expect(log).toMatch(/Error verifying token err:not-allowed, reason:'kid' claim is missing tenant:\S* room:\S* user_agent:/);
  });

  describe('cache_keys_url only', () => {
    const jwksSigning = newKey();
    const jwksKid = `jwks-${name}`;
    const certSigning = newKey();
    const certKid = `cert-${name}`;
    const jwksUrl = () => `http://${host.address}:${KEY_PORT}/jwks.json`;
    const asapLine = () => `asap_key_server = "${keyServer}"`;
    const cacheLine = () => `cache_keys_url = "${jwksUrl()}"`;
    const jwkFile = `${PLUGIN_DIR}/token/jwk.lib.lua`;
    const jwkSaved = '/root/jwk.lib.lua.saved';
    const jwksToken = (key: KeyObject, id: string) => rs256Token(key, { kid: id }, { room: '*' });

    beforeAll(async () => {
      // A JWKS with an RSA key, an EC key (no n/e: skipped) and, as another
      // member, a certificate in the older kid -> certificate map form.
      const document = {
        keys: [
          { ...jwksSigning.publicKey.export({ format: 'jwk' }), kid: jwksKid, use: 'sig', alg: 'RS256' },
          { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: `${jwksKid}-ec`, use: 'sig' },
        ],
        [certKid]: selfSignedCertificate(certSigning),
      };
      await bed.ssh(name, `cat > ${KEY_ROOT}/jwks.json`, { input: JSON.stringify(document) });
      await replaceDomainLine(name, asapLine(), cacheLine());
      await restartProsody(bed, name);
      // The first fetch runs at load; logins pass once it has filled the keys.
      await waitForFocus({ url: url(), domain: DOMAIN, token: jwksToken(jwksSigning.privateKey, jwksKid) });
    });

    // Back to the key server, as the host was before.
    afterAll(async () => {
      await bed.ssh(name, `if [ -e ${jwkSaved} ]; then mv ${jwkSaved} ${jwkFile}; fi; rm -f ${KEY_ROOT}/jwks.json`);
      await replaceDomainLine(name, cacheLine(), asapLine());
      await restartProsody(bed, name);
    });

    it('admits a token whose kid the JWKS lists, and one whose kid names a certificate', async () => {
      const room = 'jwks-room';
      const documentFetches = async () => (await bed.ssh(name, `grep -c 'GET /jwks.json ' ${KEY_LOG} || true`)).stdout.trim();
      const before = await documentFetches();
      const admitted = await attemptJoin({ url: url(), domain: DOMAIN, token: rs256Token(jwksSigning.privateKey, { kid: jwksKid }, { room }), room });
      expect(admitted.auth).toEqual({ ok: true });
      expect(admitted.join?.ok).toBe(true);
      expect(await login(jwksToken(certSigning.privateKey, certKid))).toEqual({ ok: true });
      // The document is fetched in the background, not per login.
      expect(await documentFetches()).toBe(before);
    });

    it('refuses a kid the JWKS lacks', async () => {
      const token = jwksToken(jwksSigning.privateKey, `${jwksKid}-unknown`);
      if (!PLUGINS) {
        expect(await login(token)).toMatchObject({ ok: false, condition: 'not-allowed', text: 'could not obtain public key' });
        expect(await login(jwksToken(jwksSigning.privateKey, `${jwksKid}-ec`))).toMatchObject({ ok: false, text: 'could not obtain public key' });
        return;
      }
      // Jitsi's plugin, with no asap_key_server, builds the key URL from nil:
      // a Lua error in the SASL handler, so the login gets no answer at all.
      const client = new BoshClient({ url: url(), domain: DOMAIN, token, timeoutMs: 3_000 });
      try {
        await client.connect();
        await expect(client.authenticate()).rejects.toThrow(XmppTransportError);
      } finally {
        await client.close();
      }
      const crash = /Traceback\[bosh\]:[^\n]*attempt to concatenate a nil value/;
      expect(await waitForFileMatch(bed, name, PROSODY_LOG, crash)).toMatch(crash);
    });

    it('refuses a token signed by another key under a JWKS kid', async () => {
      expect(await login(jwksToken(other.privateKey, jwksKid))).toMatchObject({ ok: false, condition: 'not-allowed', text: 'Invalid signature' });
    });

    // Jitsi's newest util.lib.lua requires token/jwk.lib.lua outright, so on
    // Jitsi's own plugins removing the file stops token auth from loading at
    // all; only the stand-in can be turned into an older generation this way.
    it.skipIf(PLUGINS)('without token/jwk.lib.lua, reads the certificate map but no JWKS', async () => {
      await bed.ssh(name, `mv ${jwkFile} ${jwkSaved}`);
      await restartProsody(bed, name);
      await waitForFocus({ url: url(), domain: DOMAIN, token: jwksToken(certSigning.privateKey, certKid) });
      expect(await login(jwksToken(jwksSigning.privateKey, jwksKid))).toMatchObject({ ok: false, condition: 'not-allowed', text: 'could not obtain public key' });
    });
  });
});
