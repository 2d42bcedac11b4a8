// Public-key (RS256) tokens on real test hosts of both suites, as one fleet:
// a switch from the shared secret to a public key the tool publishes on the
// hosts (shown as the cut-over it is, proven, idempotent); rotate-key adding a
// second key without a restart and retiring the first with one; a proof that
// fails on one host putting every host back; smoke without a private key
// proving refusals only; a key server and a JWKS document the backend runs;
// JWKS refused on plugins that cannot read it; and the way back to a shared
// secret. Tokens signed outside the tool check every state, and no output
// holds a private key.
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { hs256Token, prosodyPid, rs256Token, tokenAdmitted } from '../support/token-host.js';
import { parseRunDocument, type RunDocumentShape } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const APP_ID = 'rs_backend';
const SECRET = randomBytes(32).toString('base64url');
const KEY_DIR = `/etc/prosody/jitsi-jwt-keys/${DOMAIN}`;
const PLUGINS = '/usr/share/jitsi-meet/prosody-plugins';
const KEY_PORT = 8041;
const bed = new TestBed(`e2e-public-keys-${process.pid}`);
// JITSI_JWT_TEST_PLUGINS=DIR runs the same on Jitsi's own plugins (of the 2026 generation: JWKS needs it).
const PLUGINS_DIR = process.env.JITSI_JWT_TEST_PLUGINS ? path.resolve(process.env.JITSI_JWT_TEST_PLUGINS) : undefined;
let hosts: HostRecord[];
let work: string;

interface TestKey {
  kid: string;
  key: KeyObject;
  pub: string;
  keyFile: string;
  pubFile: string;
}
const keys: Record<'a' | 'b' | 'c', TestKey> = {} as never;

const url = (host: HostRecord) => `http://${host.address}:5280/http-bind`;
const targets = () => hosts.map((h) => `deploy@${h.address}`);
const fileName = (kid: string) => `${createHash('sha256').update(kid).digest('hex')}.pem`;

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', pluginsDir: PLUGINS_DIR, brokenProsodyInit: false });
  hosts = await bed.hosts();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'jitsi-jwt-public-keys-'));
  for (const name of ['a', 'b', 'c'] as const) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const entry: TestKey = {
      kid: `backend-key-${name}`,
      key: pair.privateKey,
      pub: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      keyFile: path.join(work, `${name}.key`),
      pubFile: path.join(work, `${name}.pub`),
    };
    await fs.writeFile(entry.keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await fs.writeFile(entry.pubFile, entry.pub);
    keys[name] = entry;
  }
});

afterAll(async () => {
  await bed.down();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}): Promise<{ exitCode: number; doc: RunDocumentShape; stderr: string }> {
  const result = await jitsiJwt([...args, ...sshFlags(bed), '--json'], { env });
  for (const text of [result.stdout, result.stderr]) {
    expect(text).not.toContain('PRIVATE KEY');
    // A run from inside the PEM's second line (base64 characters 64 to 127): found whether the key leaked as PEM or as one base64 string.
    for (const k of Object.values(keys)) expect(text).not.toContain(k.key.export({ type: 'pkcs8', format: 'der' }).toString('base64').slice(70, 120));
  }
  return { exitCode: result.exitCode, doc: parseRunDocument(result.stdout), stderr: result.stderr };
}

/** Asserts a run's exit code, showing its document when it differs. */
function expectExit(result: { exitCode: number; doc: RunDocumentShape }, code: number): void {
  if (result.exitCode !== code) throw new Error(`exit ${result.exitCode}, expected ${code}:\n${JSON.stringify(result.doc.hosts.map((h) => ({ name: h.name, status: h.status, error: h.error, cases: h.smoke?.cases.filter((c) => !c.ok), unproven: h.smoke?.unproven })), null, 2)}`);
}

/** Every host's smoke cases as "name=verdict", with the kid for the cases about one key ("valid token[kid]=pass"). */
const KEY_CASES = ['valid token', 'other key', 'retired kid'];
const casesOf = (doc: RunDocumentShape) => doc.hosts.map((h) => (h.smoke?.cases ?? []).map((c) => `${c.name}${c.kid && KEY_CASES.includes(c.name) ? `[${c.kid}]` : ''}=${c.verdict}`).sort());

async function rsAdmitted(key: TestKey, host: HostRecord): Promise<boolean> {
  const room = `rs-${randomBytes(4).toString('hex')}`;
  return tokenAdmitted({ url: url(host), domain: DOMAIN, room, token: rs256Token(key.key, key.kid, { iss: APP_ID, sub: DOMAIN, room }) });
}

async function everywhere(check: (host: HostRecord) => Promise<boolean>): Promise<boolean[]> {
  return Promise.all(hosts.map(check));
}

describe('public keys published on the hosts', () => {
  it('switches a fleet from the shared secret to a public key, shows the cut-over, proves it, and converges', async () => {
    expectExit(await run(['apply', ...targets(), '--app-id', APP_ID, '--yes'], { JITSI_JWT_APP_SECRET: SECRET }), EXIT.ok);

    const plan = await run(['plan', ...targets(), '--public-key', keys.a.pubFile, '--kid', keys.a.kid]);
    expectExit(plan, EXIT.ok);
    for (const host of plan.doc.hosts) {
      expect(host.keys).toMatchObject({ mode: 'published', kids: [keys.a.kid], keyServer: expect.stringMatching(/^http:\/\/127\.0\.0\.\d+:5280\/jitsi-jwt-keys\/meet\.test$/) });
      expect(host.keys?.cutOver?.from).toMatch(/HS256/);
      expect(host.changes[0]).toMatch(/^CUT-OVER/);
      expect(host.changes.some((c) => c.includes(`${KEY_DIR}/${fileName(keys.a.kid)}`))).toBe(true);
    }

    const applied = await run(['apply', ...targets(), '--public-key', keys.a.pubFile, '--kid', keys.a.kid, '--private-key', keys.a.keyFile, '--yes']);
    expectExit(applied, EXIT.ok);
    const kid = keys.a.kid;
    for (const cases of casesOf(applied.doc)) {
      expect(cases).toEqual(expect.arrayContaining([
        `valid token[${kid}]=pass`, 'no token=pass', 'unknown kid=pass', `other key[${kid}]=pass`, 'shared-secret token=pass', 'expired token=pass', 'wrong room=pass',
      ]));
      expect(cases.every((c) => c.endsWith('=pass'))).toBe(true);
    }
    // Checked from outside: the key's tokens get in, the old secret's do not.
    expect(await everywhere((h) => rsAdmitted(keys.a, h))).toEqual([true, true]);
    const room = 'after-switch';
    expect(await everywhere((h) => tokenAdmitted({ url: url(h), domain: DOMAIN, room, token: hs256Token(SECRET, { iss: APP_ID, sub: DOMAIN, room }) }))).toEqual([false, false]);
    for (const host of hosts) {
      const { stdout } = await bed.ssh(host.name, `stat -c '%a %U:%G' ${KEY_DIR}/${fileName(kid)}; grep -c 'app_secret="' /etc/prosody/conf.avail/${DOMAIN}.cfg.lua || true`);
      expect(stdout).toContain('644 root:prosody');
      expect(stdout.trim().split('\n')[1]).toBe('1');
    }

    const again = await run(['apply', ...targets(), '--public-key', keys.a.pubFile, '--kid', keys.a.kid, '--yes', '--no-smoke']);
    expectExit(again, EXIT.ok);
    expect(again.doc.hosts.map((h) => [h.status, h.restarts.length])).toEqual([['unchanged', 0], ['unchanged', 0]]);

    // A secret given for hosts on public keys is a mistake, not something to write.
    const secret = await run(['plan', ...targets()], { JITSI_JWT_APP_SECRET: SECRET });
    expectExit(secret, EXIT.badInput);
    expect(secret.doc.hosts.map((h) => h.error?.message)).toEqual([expect.stringMatching(/app secret has no place there/), expect.stringMatching(/app secret has no place there/)]);
    const out = path.join(work, 'never-written');
    const delivery = await run(['apply', ...targets(), '--yes', '--secret-out', out]);
    expectExit(delivery, EXIT.badInput);
    expect(delivery.doc.error?.message).toMatch(/hand out the app secret/);
    await expect(fs.stat(out)).rejects.toThrow();
  });

  it('rotate-key accepts a second key without a restart, then retires the first with one', async () => {
    const pids = await Promise.all(hosts.map((h) => prosodyPid(bed, h.name)));
    const added = await run(['rotate-key', ...targets(), '--add-public-key', keys.b.pubFile, '--kid', keys.b.kid, '--private-key', `${keys.a.keyFile},${keys.b.keyFile}`, '--yes']);
    expectExit(added, EXIT.ok);
    for (const [i, host] of added.doc.hosts.entries()) {
      expect(host.restarts).toEqual([]);
      expect(host.keys).toMatchObject({ kids: [keys.a.kid, keys.b.kid], added: [keys.b.kid] });
      expect(casesOf(added.doc)[i]).toEqual(expect.arrayContaining([`valid token[${keys.a.kid}]=pass`, `valid token[${keys.b.kid}]=pass`]));
    }
    expect(await Promise.all(hosts.map((h) => prosodyPid(bed, h.name)))).toEqual(pids);

    const retired = await run(['rotate-key', ...targets(), '--retire-kid', keys.a.kid, '--private-key', keys.a.keyFile, '--private-key', keys.b.keyFile, '--yes']);
    expectExit(retired, EXIT.ok);
    for (const [i, host] of retired.doc.hosts.entries()) {
      expect(host.restarts[0]).toBe('prosody');
      expect(host.restartReasons.join(' ')).toMatch(/in memory until it restarts/);
      expect(host.keys).toMatchObject({ kids: [keys.b.kid], retired: [keys.a.kid] });
      expect(casesOf(retired.doc)[i]).toEqual(expect.arrayContaining([`valid token[${keys.b.kid}]=pass`, `retired kid[${keys.a.kid}]=pass`]));
    }
    expect(await everywhere((h) => rsAdmitted(keys.a, h))).toEqual([false, false]);
    expect(await everywhere((h) => rsAdmitted(keys.b, h))).toEqual([true, true]);

    const last = await run(['rotate-key', ...targets(), '--retire-kid', keys.b.kid, '--yes']);
    expectExit(last, EXIT.badInput);
    expect(last.doc.hosts.map((h) => h.error?.message)).toEqual([expect.stringMatching(/no key/), expect.stringMatching(/no key/)]);
  });

  it('puts every host back when the new key cannot be proven on one of them', async () => {
    const [first, second] = hosts;
    // The second host's Prosody cannot read the key directory any more: a new key is never fetched there.
    await bed.ssh(second.name, `chmod 700 ${KEY_DIR}`);
    try {
      const result = await run(['rotate-key', ...targets(), '--add-public-key', keys.c.pubFile, '--kid', keys.c.kid, '--private-key', keys.c.keyFile, '--yes']);
      expectExit(result, EXIT.rolledBack);
      expect(result.doc.hosts.map((h) => h.status).sort()).toEqual(['reverted', 'rolled-back']);
      for (const host of [first, second]) {
        const { stdout } = await bed.ssh(host.name, `ls ${KEY_DIR}`);
        expect(stdout.trim().split('\n')).toEqual([fileName(keys.b.kid)]);
      }
    } finally {
      await bed.ssh(second.name, `chmod 755 ${KEY_DIR}`);
    }
    expect(await everywhere((h) => rsAdmitted(keys.c, h))).toEqual([false, false]);
    expect(await everywhere((h) => rsAdmitted(keys.b, h))).toEqual([true, true]);
  });

  it('smoke without a private key proves the refusals and says admission was not proven', async () => {
    const result = await run(['smoke', ...targets()]);
    expectExit(result, EXIT.ok);
    for (const host of result.doc.hosts) {
      expect(host.smoke?.unproven?.join(' ')).toMatch(/private key/);
      expect(host.smoke?.cases.map((c) => c.name)).not.toContain('valid token');
      expect(host.smoke?.cases.map((c) => c.name)).toEqual(expect.arrayContaining(['no token', 'unknown kid', 'other key', 'shared-secret token']));
    }
  });
});

describe('keys the backend publishes', () => {
  /** Serves B's key as <sha256hex(kid)>.pem and as a JWKS document from each host's own address. */
  async function serveKeys(): Promise<() => Promise<void>> {
    const jwk = { ...keys.b.key.export({ format: 'jwk' }), kid: keys.b.kid, alg: 'RS256', use: 'sig' } as Record<string, unknown>;
    const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: jwk.kid, alg: jwk.alg, use: jwk.use };
    const pids = await Promise.all(
      hosts.map(async (h) => {
        const script = [
          'set -e',
          'rm -rf /root/backend-keys && mkdir -p /root/backend-keys',
          `cat > /root/backend-keys/${fileName(keys.b.kid)} <<'EOF'\n${keys.b.pub}EOF`,
          `cat > /root/backend-keys/jwks.json <<'EOF'\n${JSON.stringify({ keys: [publicJwk] })}\nEOF`,
          `setsid python3 -m http.server ${KEY_PORT} --bind ${h.address} --directory /root/backend-keys >/dev/null 2>&1 </dev/null & echo $!`,
        ].join('\n');
        const pid = (await bed.ssh(h.name, script)).stdout.trim();
        for (let i = 0; i < 50; i += 1) {
          const { stdout } = await bed.ssh(h.name, `python3 -c "import urllib.request; print(urllib.request.urlopen('http://${h.address}:${KEY_PORT}/jwks.json').status)" 2>/dev/null || true`);
          if (stdout.trim() === '200') break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return pid;
      }),
    );
    return async () => {
      await Promise.all(hosts.map((h, i) => bed.ssh(h.name, `kill ${pids[i]} 2>/dev/null; rm -rf /root/backend-keys`)));
    };
  }

  it('a key server, then a JWKS document: each proven with the backend key; JWKS refused on plugins that cannot read it; then back to a shared secret', async () => {
    const stop = await serveKeys();
    try {
      const perHost = (args: (h: HostRecord) => string[]) => Promise.all(hosts.map((h) => run([...args(h), '--private-key', keys.b.keyFile, '--kid', keys.b.kid, '--yes'])));

      for (const result of await perHost((h) => ['apply', `deploy@${h.address}`, '--key-server', `http://${h.address}:${KEY_PORT}/`])) {
        expectExit(result, EXIT.ok);
        expect(result.doc.hosts[0].keys).toMatchObject({ mode: 'key-server', keyServer: expect.stringMatching(new RegExp(`:${KEY_PORT}$`)) });
        expect(result.doc.hosts[0].keys?.cutOver).toBeUndefined();
        expect(casesOf(result.doc)[0].every((c) => c.endsWith('=pass'))).toBe(true);
        expect(casesOf(result.doc)[0]).toContain(`valid token[${keys.b.kid}]=pass`);
      }
      for (const host of hosts) {
        const { stdout } = await bed.ssh(host.name, `grep -c 'jitsi-jwt-keys.${DOMAIN}' /etc/prosody/conf.avail/${DOMAIN}.cfg.lua || true`);
        expect(stdout.trim()).toBe('0');
      }

      // Jitsi's plugins read JWKS from the generation that ships token/jwk.lib.lua on (the stand-ins always ship it).
      const [first] = hosts;
      const readsJwks = (await bed.ssh(first.name, `test -f ${PLUGINS}/token/jwk.lib.lua && echo yes || echo no`)).stdout.trim() === 'yes';
      if (readsJwks) {
        for (const result of await perHost((h) => ['apply', `deploy@${h.address}`, '--jwks-url', `http://${h.address}:${KEY_PORT}/jwks.json`])) {
          expectExit(result, EXIT.ok);
          expect(result.doc.hosts[0].keys).toMatchObject({ mode: 'jwks' });
          expect(casesOf(result.doc)[0].every((c) => c.endsWith('=pass'))).toBe(true);
          expect(casesOf(result.doc)[0]).toEqual(expect.arrayContaining([`valid token[${keys.b.kid}]=pass`, 'unknown kid=pass']));
        }
        await bed.ssh(first.name, `mv ${PLUGINS}/token/jwk.lib.lua /root/jwk.lib.lua.saved`);
      }
      // Plugins older than JWKS support: no token/jwk.lib.lua.
      try {
        const refused = await run(['plan', `deploy@${first.address}`, '--jwks-url', `http://${first.address}:${KEY_PORT}/jwks.json`]);
        expectExit(refused, EXIT.hostState);
        expect(refused.doc.hosts[0].error?.message).toMatch(/cannot read a JWKS document/);
      } finally {
        if (readsJwks) await bed.ssh(first.name, `mv /root/jwk.lib.lua.saved ${PLUGINS}/token/jwk.lib.lua`);
      }
    } finally {
      await stop();
    }

    const secret = randomBytes(32).toString('base64url');
    const back = await run(['apply', ...targets(), '--shared-secret', '--yes'], { JITSI_JWT_APP_SECRET: secret });
    expectExit(back, EXIT.ok);
    for (const host of back.doc.hosts) {
      expect(host.keys?.mode).toBe('secret');
      expect(host.keys?.cutOver?.to).toMatch(/HS256/);
      expect(host.smoke?.ok).toBe(true);
    }
    const room = 'back-to-secret';
    expect(await everywhere((h) => tokenAdmitted({ url: url(h), domain: DOMAIN, room, token: hs256Token(secret, { iss: APP_ID, sub: DOMAIN, room }) }))).toEqual([true, true]);
    expect(await everywhere((h) => rsAdmitted(keys.b, h))).toEqual([false, false]);
  });
});
