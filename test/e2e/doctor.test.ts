// doctor on real test hosts of both suites, read in one run: a fresh host is
// told to switch to tokens; a host jitsi-jwt converged has no findings; each
// fault injected by hand (an open door, a missing Lua module, a stale Prosody,
// auto-owner on, the recorder refused, half-configured guests, a luarocks
// leftover) gives exactly its finding, with the evidence; tokens are explained
// as the hosts' Prosody then treats them (admitted, wrong secret, wrong room,
// expired, not yet valid, no sub, wrong iss). Nothing on the hosts changes,
// and no output holds the secret or a token's signature.
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile } from '../support/token-host.js';
import { parseDoctorDocument, type DoctorDocumentShape } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const APP_ID = 'doctor_backend';
const SECRET = randomBytes(32).toString('base64url');
const HOSTS = ['bookworm-1', 'trixie-1'];
const CONFIG = domainFile(DOMAIN);
const CONFIG_JS = `/etc/jitsi/meet/${DOMAIN}-config.js`;
const JICOFO = '/etc/jitsi/jicofo/jicofo.conf';
const bed = new TestBed(`e2e-doctor-${process.pid}`);
let hosts: HostRecord[];
// JITSI_JWT_TEST_PLUGINS=DIR (and JITSI_JWT_TEST_GENERATION=2024) run the same on Jitsi's own plugins.
const PLUGINS = process.env.JITSI_JWT_TEST_PLUGINS ? path.resolve(process.env.JITSI_JWT_TEST_PLUGINS) : undefined;
const GENERATION = process.env.JITSI_JWT_TEST_GENERATION === '2024' ? '2024' : '2026';
// Jitsi's own plugins have no mod_token_affiliation (the stand-ins do): there, moderators stay Jicofo's to make.
const MODERATORS = PLUGINS ? [] : ['--moderator-from-token'];
const BASELINE: string[][] = PLUGINS ? [['moderators-not-from-token', 'note']] : [];

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: GENERATION, pluginsDir: PLUGINS, brokenProsodyInit: false });
  hosts = await Promise.all(HOSTS.map((name) => bed.host(name)));
});

afterAll(async () => {
  await bed.down();
});

const targets = () => hosts.map((h) => `deploy@${h.address}`);

async function doctor(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; doc: DoctorDocumentShape }> {
  const run = await jitsiJwt(['doctor', ...targets(), ...sshFlags(bed), '--json', ...args.filter((a) => !a.startsWith('env:'))], {
    env: Object.fromEntries(args.filter((a) => a.startsWith('env:')).map((a) => a.slice(4).split(/=(.*)/s).slice(0, 2))),
  });
  for (const text of [run.stdout, run.stderr]) expect(text).not.toContain(SECRET);
  return { ...run, doc: parseDoctorDocument(run.stdout) };
}

/** Each host's findings as [id, severity]. */
const findingsOf = (doc: DoctorDocumentShape) => doc.hosts.map((h) => h.findings.map((f) => [f.id, f.severity]));

/** Runs a shell change on every host; the change's `undo` puts back what it touched, modification times included. */
async function onEveryHost(script: string): Promise<void> {
  await Promise.all(HOSTS.map((name) => bed.ssh(name, script)));
}

/** Edits a file with sed on every host, keeping its modification time (Prosody would otherwise look stale), and returns the undo. */
async function editKeepingTime(file: string, sed: string): Promise<() => Promise<void>> {
  const saved = `/root/doctor-saved-${path.basename(file)}`;
  await onEveryHost(`cp -p ${file} ${saved} && sed -i '${sed}' ${file} && touch -r ${saved} ${file} && ! cmp -s ${file} ${saved}`);
  return () => onEveryHost(`cp -p ${saved} ${file} && rm -f ${saved}`);
}

/** Hashes of the configs, data and installed files doctor could touch, and the services' processes. */
async function hostState(name: string): Promise<string> {
  const { stdout } = await bed.ssh(
    name,
    'find /etc/prosody /etc/jitsi /usr/local /usr/share/lua /var/lib/prosody /var/backups -xdev \\( -type f -o -type l \\) -print0 2>/dev/null | sort -z | xargs -0 sha256sum; ls -l --time-style=+%s /etc/prosody/conf.avail; cat /run/prosody/prosody.pid /run/jicofo.pid /run/jitsi-videobridge.pid 2>/dev/null; dpkg-query -W -f "\\${Package} \\${Version}\\n" | sha256sum',
  );
  return stdout;
}

function sign(secret: string, claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ iss: APP_ID, aud: 'jitsi', sub: DOMAIN, room: 'standup', nbf: now() - 30, exp: now() + 600, ...extra });

it('tells a fresh host to switch to tokens, with the line that says otherwise', async () => {
  const { exitCode, doc } = await doctor();
  expect(exitCode).toBe(EXIT.failed);
  for (const host of doc.hosts) {
    expect(host.status).toBe('problems');
    expect(host.roundTrips).toBe(1);
    const off = host.findings.find((f) => f.id === 'token-auth-off')!;
    expect(off.evidence[0]).toMatch(new RegExp(`^${CONFIG}:\\d+  authentication = "jitsi-anonymous"`));
    expect(off.fix).toBe(`jitsi-jwt apply ${host.target}`);
    // The Lua libraries are not a problem before the switch: apply installs them.
    expect(host.findings.find((f) => f.id === 'lua-modules')?.severity).toBe('note');
  }
});

describe('a host jitsi-jwt converged', () => {
  beforeAll(async () => {
    const applied = await jitsiJwt(['apply', ...targets(), ...sshFlags(bed), '--app-id', APP_ID, ...MODERATORS, '--yes'], { env: { JITSI_JWT_APP_SECRET: SECRET } });
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
  });

  it('has no findings, counts the smoke test’s refusals apart, and changes nothing on the host', async () => {
    const before = await Promise.all(HOSTS.map(hostState));
    const { exitCode, doc } = await doctor('env:JITSI_JWT_TOKEN=' + sign(SECRET, claims()), '--room', 'standup');
    expect(exitCode).toBe(EXIT.ok);
    expect(findingsOf(doc)).toEqual([BASELINE, BASELINE]);
    for (const host of doc.hosts) {
      expect(host.status).toBe('healthy');
      expect(host.domains).toEqual([DOMAIN]);
      expect(host.token?.verdict).toBe('admitted');
      expect(host.refusals?.smokeTests).toBeGreaterThan(0);
      // 2024's plugins log no room with a refused login, so its smoke test's refusals cannot be told apart.
      if (GENERATION === '2026') expect(host.refusals?.groups).toEqual([]);
    }
    expect(await Promise.all(HOSTS.map(hostState))).toEqual(before);

    const text = await jitsiJwt(['doctor', ...targets(), ...sshFlags(bed)]);
    expect(text.exitCode).toBe(EXIT.ok);
    expect(text.stdout).toMatch(/^No problems found\.$/m);
    expect(text.stdout).toMatch(/^Checked:\n(  - .*\n)*  - Prosody's log since /m);
    // Several hosts end with one line each.
    expect(text.stdout).toMatch(/^HOST +DOMAIN +RESULT +PROBLEMS +WARNINGS +TOKEN +EXIT$/m);
    for (const target of targets()) expect(text.stdout).toMatch(new RegExp(`^${target.replace(/\./g, '\\.')} +meet\\.test +HEALTHY +0 +0 +- +0$`, 'm'));
  });

  it.each([
    {
      fault: 'an open door (allow_empty_token = true)',
      inject: () => editKeepingTime(CONFIG, 's/^    allow_empty_token = false$/    allow_empty_token = true/'),
      id: 'open-door',
      severity: 'problem',
      evidence: new RegExp(`^${CONFIG}:\\d+  allow_empty_token = true$`),
    },
    {
      fault: "a Lua module Prosody's Lua cannot find",
      inject: async () => {
        const lua = `$(head -n1 /usr/bin/prosody | sed 's|^#! *||; s|^/usr/bin/env *||' | cut -d' ' -f1)`;
        await onEveryHost(`p=$(runuser -u prosody -- ${lua} -e 'print(package.searchpath("basexx", package.path))') && mv "$p" /root/basexx.off && echo "$p" > /root/basexx.path`);
        return () => onEveryHost('mv /root/basexx.off "$(cat /root/basexx.path)" && rm /root/basexx.path');
      },
      id: 'lua-modules',
      severity: 'problem',
      evidence: /^require "basexx" as the prosody user: module 'basexx' not found/,
    },
    {
      fault: 'a Prosody started before the config last changed',
      inject: async () => {
        await onEveryHost(`cp -p ${CONFIG} /root/doctor-stale && touch ${CONFIG}`);
        return () => onEveryHost(`touch -r /root/doctor-stale ${CONFIG} && rm /root/doctor-stale`);
      },
      id: 'prosody-stale',
      severity: 'problem',
      evidence: /^Prosody running since \d{4}-\d\d-\d\dT/,
    },
    {
      fault: "Jicofo's auto-owner on while tokens decide moderators",
      inject: () => editKeepingTime(JICOFO, 's/enable-auto-owner = false/enable-auto-owner = true/'),
      id: 'auto-owner',
      severity: 'warning',
      evidence: /enable-auto-owner = true/,
    },
    {
      fault: "Jibri's recorder domain missing from the allowlist",
      inject: () => editKeepingTime(CONFIG, `s/{ "recorder.${DOMAIN}", "auth.${DOMAIN}" }/{ "auth.${DOMAIN}" }/`),
      id: 'jibri-blocked',
      severity: 'problem',
      evidence: /hidden VirtualHost "recorder\.meet\.test"/,
    },
    {
      fault: 'config.js sending guests to a domain Prosody does not serve',
      inject: () => editKeepingTime(CONFIG_JS, `s|// anonymousdomain: .guest.example.com.,|anonymousdomain: "guest.${DOMAIN}",|`),
      id: 'guests-half-configured',
      severity: 'problem',
      evidence: new RegExp(`^${CONFIG_JS}:\\d+  anonymousdomain: "guest\\.meet\\.test",$`),
    },
    {
      fault: "luarocks' luajwtjitsi left from an old install",
      inject: async () => {
        await onEveryHost('mkdir -p /usr/local/lib/luarocks/rocks-5.4/luajwtjitsi/3.0-0');
        return () => onEveryHost('rm -r /usr/local/lib/luarocks');
      },
      id: 'luarocks-leftover',
      severity: 'warning',
      evidence: /^\/usr\/local\/lib\/luarocks\/rocks-5\.4\/luajwtjitsi$/,
    },
  ].filter((c) => !(PLUGINS && c.id === 'auto-owner')))('finds $fault, and only that', async ({ inject, id, severity, evidence }) => {
    const undo = await inject();
    try {
      const { exitCode, doc } = await doctor();
      expect(exitCode).toBe(severity === 'problem' ? EXIT.failed : EXIT.changesPending);
      expect(findingsOf(doc)).toEqual([[[id, severity], ...BASELINE], [[id, severity], ...BASELINE]]);
      for (const host of doc.hosts) {
        expect(host.findings[0].evidence.some((line) => evidence.test(line)), host.findings[0].evidence.join('\n')).toBe(true);
        expect(host.findings[0].fix).not.toBe('');
      }
    } finally {
      await undo();
    }
  });

  it('refuses a --domain the host does not serve, naming the ones it does', async () => {
    const { exitCode, doc } = await doctor('--domain', 'meet.tset');
    expect(exitCode).toBe(EXIT.badInput);
    for (const host of doc.hosts) {
      expect(host.status).toBe('failed');
      expect(host.error).toMatchObject({ code: 'settings', message: 'this host has no Jitsi domain "meet.tset"', hint: `domains found: ${DOMAIN}` });
    }
  });

  it('shows a finding in text with its evidence and fix', async () => {
    const undo = await editKeepingTime(CONFIG, 's/^    allow_empty_token = false$/    allow_empty_token = true/');
    try {
      const run = await jitsiJwt(['doctor', targets()[1], ...sshFlags(bed)]);
      expect(run.exitCode).toBe(EXIT.failed);
      expect(run.stdout).toMatch(/^PROBLEM {2}allow_empty_token = true: clients without any token get into meet\.test {2}\[open-door\]$/m);
      expect(run.stdout).toMatch(new RegExp(`^ +evidence: ${CONFIG}:\\d+  allow_empty_token = true$`, 'm'));
      expect(run.stdout).toMatch(new RegExp(`^ +fix: jitsi-jwt apply ${targets()[1].replace(/\./g, '\\.')}$`, 'm'));
    } finally {
      await undo();
    }
  });

  it.each([
    { name: 'a wrong secret', token: () => sign(randomBytes(32).toString('base64url'), claims()), verdict: 'refused-at-login', reason: /^Invalid signature$/, failed: 'signature', server: 'login' },
    { name: 'a wrong room', token: () => sign(SECRET, claims({ room: 'other' })), verdict: 'refused-at-join', reason: /^Room and token mismatched$/, failed: 'room', server: 'join' },
    { name: 'an expired token', token: () => sign(SECRET, claims({ nbf: now() - 900, exp: now() - 120 })), verdict: 'refused-at-login', reason: /^Not acceptable by exp \(1[2-9]\d sec since expired\)$/, failed: 'exp', server: 'login' },
    { name: 'a token not valid yet on the host clock', token: () => sign(SECRET, claims({ nbf: now() + 600 })), verdict: 'refused-at-login', reason: /^Not acceptable by nbf$/, failed: 'nbf', server: 'login' },
    // Newer plugins refuse it at login, older ones at the join: doctor reads which from the host's plugins.
    { name: 'a token without sub', token: () => { const c: Record<string, unknown> = claims(); delete c.sub; return sign(SECRET, c); }, verdict: undefined, reason: /^sub claim is missing$/, failed: 'sub', server: undefined },
    { name: 'a wrong iss', token: () => sign(SECRET, claims({ iss: 'someone_else' })), verdict: 'refused-at-login', reason: /^invalid 'iss' claim$/, failed: 'iss', server: 'login' },
  ])('explains $name as the host refuses it, and finds the refusal in the log', async ({ token: make, verdict, reason, failed, server }) => {
    const token = make();
    const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'doctor-token-')), 'token');
    await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
    // Older plugins fail on a token without sub at the join with a Lua error: the join is never answered.
    const attempts = await Promise.all(
      hosts.map((h) => attemptJoin({ url: `http://${h.address}:5280/http-bind`, domain: DOMAIN, token, room: 'standup' }).catch((error: Error) => ({ auth: { ok: true }, conference: undefined, join: { ok: false, error: error.message } }))),
    );
    for (const attempt of attempts) {
      if (server) expect(attempt.auth.ok).toBe(server !== 'login');
      if (attempt.auth.ok) expect(attempt.join?.ok ?? attempt.conference?.ok).toBe(false);
    }
    const { exitCode, stdout, doc } = await doctor('--token-file', file, '--room', 'standup');
    expect(exitCode).toBe(EXIT.failed);
    expect(stdout).not.toContain(token.split('.')[2]);
    for (const [i, host] of doc.hosts.entries()) {
      expect(findingsOf({ ...doc, hosts: [host] })).toEqual([BASELINE]);
      // Prosody itself refused it where doctor says it does.
      expect(host.token?.verdict).toBe(attempts[i].auth.ok ? 'refused-at-join' : 'refused-at-login');
      if (verdict) expect(host.token?.verdict).toBe(verdict);
      expect(host.token?.reason).toMatch(reason);
      expect(host.token?.checks.find((c) => c.id === failed)?.verdict).toBe('fail');
      if (!attempts[i].auth.ok) {
        const logged = host.refusals!.groups.find((g) => g.kind === 'token-rejected' && host.token!.reason!.startsWith(g.reason));
        expect(logged, JSON.stringify(host.refusals)).toBeDefined();
        expect(logged!.sample).not.toContain('eyJ');
      }
    }
  });
});
