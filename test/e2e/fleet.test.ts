// Fleets on real test hosts of both suites: apply from an inventory, then
// rotate-secret on three hosts all or nothing. The new secret is accepted and
// the old one refused everywhere, proven with tokens signed outside the tool;
// when one host's Prosody refuses to restart after the others switched, or the
// --exec delivery fails, every host ends on the old secret. The secret never
// shows in output or in any process's argv on a host, and every --json
// document matches the published schema.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { domainFile, secretAdmitted } from '../support/token-host.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const APP_ID = 'fleet_backend';
const bed = new TestBed(`e2e-fleet-${process.pid}`);
const FLEET = ['bookworm-1', 'bookworm-2', 'trixie-1'];
const firstSecret = randomBytes(32).toString('base64url');
let hosts: HostRecord[];
let work: string;
let inventory: string;
/** the secret every host of FLEET shares right now, as the tests go */
let current = firstSecret;

const url = (host: HostRecord) => `http://${host.address}:5280/http-bind`;
const fleetHosts = () => hosts.filter((h) => FLEET.includes(h.name));

async function admitted(secret: string): Promise<boolean[]> {
  return Promise.all(fleetHosts().map((host) => secretAdmitted({ url: url(host), domain: DOMAIN, appId: APP_ID, secret })));
}

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 2, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
  hosts = await bed.hosts();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'jitsi-jwt-fleet-'));
  inventory = path.join(work, 'fleet.yml');
  // Per-host overrides: user, port and domain given per host, names for the table.
  await fs.writeFile(
    inventory,
    [
      'defaults:',
      '  user: deploy',
      'hosts:',
      ...fleetHosts().map((h) => `  - host: ${h.address}\n    name: ${h.name}\n    port: 22\n    domain: ${DOMAIN}`),
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await bed.down();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('a fleet of three', () => {
  it('applies from an inventory in one go, every host proven; a second run changes and restarts nothing', async () => {
    const run = await jitsiJwt(['apply', '--inventory', inventory, ...sshFlags(bed), '--app-id', APP_ID, '--yes', '--json'], { env: { JITSI_JWT_APP_SECRET: firstSecret } });
    expect(run.stderr).toBe('');
    const document = parseRunDocument(run.stdout);
    expect(run.exitCode).toBe(0);
    expect(document.hosts.map((h) => [h.name, h.status, h.smoke?.ok])).toEqual(FLEET.map((name) => [name, 'applied', true]));
    expect(document.appId).toBe(APP_ID);
    expect(document.secret).toEqual({ source: 'given', changed: true, delivered: [] });
    expect(run.stdout).not.toContain(firstSecret);
    expect(await admitted(firstSecret)).toEqual([true, true, true]);

    const again = await jitsiJwt(['apply', '--inventory', inventory, ...sshFlags(bed), '--yes', '--json'], { env: { JITSI_JWT_APP_SECRET: firstSecret } });
    const second = parseRunDocument(again.stdout);
    expect(again.exitCode).toBe(0);
    expect(second.hosts.map((h) => [h.status, h.changes, h.applied?.restarted])).toEqual(FLEET.map(() => ['unchanged', [], []]));
  });

  it('rotates: one new secret on every host, new accepted and old refused, delivered to --secret-out and --exec only, never in argv on a host', async () => {
    const secretOut = path.join(work, 'app_secret');
    const fromExec = path.join(work, 'exec-received');
    // Sample every process's argv on one host while the rotation runs.
    const sampled = FLEET[0];
    await bed.ssh(sampled, 'cat > /tmp/argv-sampler.sh', {
      input: 'rm -f /tmp/argv-stop\nwhile [ ! -e /tmp/argv-stop ]; do for f in /proc/[0-9]*/cmdline; do tr "\\000" " " < "$f" 2>/dev/null; echo; done; echo @@sample; sleep 0.02; done\n',
    });
    await bed.ssh(sampled, 'nohup sh /tmp/argv-sampler.sh > /tmp/argv.log 2>/dev/null < /dev/null &');

    const run = await jitsiJwt(
      ['rotate-secret', '--inventory', inventory, ...sshFlags(bed), '--yes', '--json', '--secret-out', secretOut, '--exec', `cat > '${fromExec}'; echo "stored for $JITSI_JWT_APP_ID" >&2`],
    );
    await bed.ssh(sampled, 'touch /tmp/argv-stop; sleep 0.2');
    const document = parseRunDocument(run.stdout);
    expect(run.exitCode).toBe(0);
    expect(document.hosts.map((h) => [h.name, h.status])).toEqual(FLEET.map((name) => [name, 'applied']));
    // Each host's own smoke test proved the old secret refused and the new one admitted.
    for (const host of document.hosts) {
      expect(host.smoke?.cases.filter((c) => ['valid token', 'old secret'].includes(c.name)).map((c) => [c.name, c.ok])).toEqual([
        ['valid token', true],
        ['old secret', true],
      ]);
    }
    expect(document.secret).toEqual({ source: 'generated', changed: true, delivered: ['exec', 'secret-out'] });

    const written = await fs.readFile(secretOut, 'utf8');
    expect((await fs.stat(secretOut)).mode & 0o777).toBe(0o600);
    const newSecret = written.replace(/\n$/, '');
    expect(newSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await fs.readFile(fromExec, 'utf8')).toBe(newSecret);
    expect(run.stderr).toContain(`stored for ${APP_ID}`);

    for (const text of [run.stdout, run.stderr]) {
      expect(text).not.toContain(newSecret);
      expect(text).not.toContain(current);
    }
    const argv = (await bed.ssh(sampled, 'cat /tmp/argv.log')).stdout;
    expect(argv.split('@@sample').length).toBeGreaterThan(20);
    expect(argv).toMatch(/sudo -n -- sh -s/); // the sampler saw the rotation's own commands
    expect(argv).not.toContain(newSecret);
    expect(argv).not.toContain(current);

    expect(await admitted(newSecret)).toEqual([true, true, true]);
    expect(await admitted(current)).toEqual([false, false, false]);
    current = newSecret;
  });

  it('puts every host back on the old secret when the last host cannot restart Prosody after the others switched', async () => {
    const wanted = randomBytes(32).toString('base64url');
    const secretFile = path.join(work, 'wanted');
    await fs.writeFile(secretFile, `${wanted}\n`, { mode: 0o600 });
    const failing = FLEET[2];
    // Prosody on the last host refuses to start unless its config still holds the current secret.
    await bed.ssh(failing, `mkdir -p /etc/jitsi-testbed && echo "! grep -qF -e '${current}' ${domainFile(DOMAIN)}" > /etc/jitsi-testbed/fail-start-prosody`);
    try {
      const run = await jitsiJwt(['rotate-secret', '--inventory', inventory, ...sshFlags(bed), '--yes', '--json', '--concurrency', '1', '--app-secret-file', secretFile]);
      const document = parseRunDocument(run.stdout);
      expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(EXIT.rolledBack);
      expect(document.hosts.map((h) => [h.name, h.status])).toEqual([
        [FLEET[0], 'reverted'],
        [FLEET[1], 'reverted'],
        [failing, 'rolled-back'],
      ]);
      const failed = document.hosts[2];
      expect(failed.error?.message).toMatch(/prosody did not come back after a restart/);
      expect(document.hosts[0].error?.message).toContain(`${failing} failed`);
      expect(document.secret?.changed).toBe(false);
      expect(run.stdout).not.toContain(wanted);

      const text = await jitsiJwt(['plan', '--inventory', inventory, ...sshFlags(bed), '--detailed-exitcode']);
      expect(text.exitCode).toBe(0); // converged on the old settings: nothing pending

      expect(await admitted(current)).toEqual([true, true, true]);
      expect(await admitted(wanted)).toEqual([false, false, false]);
    } finally {
      await bed.ssh(failing, 'rm -f /etc/jitsi-testbed/fail-start-prosody');
    }
  });

  it('names the failing host in its text table and exits non-zero', async () => {
    const failing = FLEET[1];
    await bed.ssh(failing, `mkdir -p /etc/jitsi-testbed && echo "! grep -qF -e '${current}' ${domainFile(DOMAIN)}" > /etc/jitsi-testbed/fail-start-prosody`);
    try {
      const run = await jitsiJwt(['rotate-secret', '--inventory', inventory, ...sshFlags(bed), '--yes', '--secret-out', path.join(work, 'never-written')]);
      expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(EXIT.rolledBack);
      expect(run.stdout).toMatch(new RegExp(`^${failing}\\s+meet\\.test\\s+FAILED, put back`, 'm'));
      expect(run.stdout).toMatch(new RegExp(`^${failing}: prosody did not come back after a restart`, 'm'));
      await expect(fs.access(path.join(work, 'never-written'))).rejects.toThrow();
      expect(await admitted(current)).toEqual([true, true, true]);
    } finally {
      await bed.ssh(failing, 'rm -f /etc/jitsi-testbed/fail-start-prosody');
    }
  });

  it('puts every host back when --exec fails, after all of them had switched', async () => {
    const run = await jitsiJwt(['rotate-secret', '--inventory', inventory, ...sshFlags(bed), '--yes', '--json', '--exec', 'cat > /dev/null; exit 3']);
    const document = parseRunDocument(run.stdout);
    expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(EXIT.rolledBack);
    expect(document.error?.code).toBe('secret-delivery');
    expect(document.error?.message).toMatch(/--exec command exited with 3/);
    expect(document.hosts.map((h) => h.status)).toEqual(['reverted', 'reverted', 'reverted']);
    expect(await admitted(current)).toEqual([true, true, true]);
  });
});

describe('fleet safeguards', () => {
  it('refuses hosts with different secrets until told which wins, then shares it', async () => {
    const other = hosts.find((h) => h.name === 'trixie-2')!;
    const otherSecret = randomBytes(32).toString('base64url');
    const first = await jitsiJwt(['apply', `deploy@${other.address}`, ...sshFlags(bed), '--app-id', APP_ID, '--yes', '--no-smoke'], { env: { JITSI_JWT_APP_SECRET: otherSecret } });
    expect(first.exitCode).toBe(0);

    const pair = [`deploy@${fleetHosts()[0].address}`, `deploy@${other.address}`];
    const refused = await jitsiJwt(['apply', ...pair, ...sshFlags(bed), '--yes', '--json']);
    const document = parseRunDocument(refused.stdout);
    expect(refused.exitCode).toBe(EXIT.badInput);
    expect(document.error?.message).toMatch(/2 different app_secrets/);
    expect(document.error?.hint).toMatch(/--secret-from/);
    expect(document.hosts.map((h) => h.status)).toEqual(['not-started', 'not-started']);
    expect(refused.stdout).not.toContain(otherSecret);

    const shared = await jitsiJwt(['apply', ...pair, ...sshFlags(bed), '--yes', '--json', '--secret-from', pair[0]]);
    const sharedDocument = parseRunDocument(shared.stdout);
    expect(shared.exitCode).toBe(0);
    expect(sharedDocument.hosts.map((h) => h.status)).toEqual(['unchanged', 'applied']);
    expect(sharedDocument.hosts[1].smoke?.cases.find((c) => c.name === 'old secret')?.ok).toBe(true);
    expect(await secretAdmitted({ url: url(other), domain: DOMAIN, appId: APP_ID, secret: current })).toBe(true);
    expect(await secretAdmitted({ url: url(other), domain: DOMAIN, appId: APP_ID, secret: otherSecret })).toBe(false);
  });

  it('touches no host when one of them cannot be reached', async () => {
    const host = fleetHosts()[0];
    const before = (await bed.ssh(host.name, `cat ${domainFile(DOMAIN)}`)).stdout;
    const run = await jitsiJwt(['rotate-secret', `deploy@${host.address}`, 'deploy@127.0.0.1:1', ...sshFlags(bed), '--yes', '--json', '--show-secret']);
    const document = parseRunDocument(run.stdout);
    expect(run.exitCode).toBe(EXIT.connection);
    expect(document.hosts.map((h) => [h.status, h.error?.code])).toEqual([
      ['not-started', 'not-started'],
      ['failed', 'host-unreachable'],
    ]);
    expect((await bed.ssh(host.name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(before);
  });

  it('refuses, before connecting anywhere, a rotation whose secret would reach nobody and an inventory with a typo', async () => {
    const nobody = await jitsiJwt(['rotate-secret', '--inventory', inventory, ...sshFlags(bed), '--yes', '--json']);
    expect(nobody.exitCode).toBe(EXIT.badInput);
    const document = parseRunDocument(nobody.stdout);
    expect(document.error?.message).toMatch(/would reach nobody/);
    expect(document.error?.hint).toMatch(/--secret-out FILE.*--exec CMD.*--show-secret/);

    const typo = path.join(work, 'typo.yml');
    await fs.writeFile(typo, 'hosts:\n  - host: 127.0.0.1\n    prot: 22\n');
    const bad = await jitsiJwt(['plan', '--inventory', typo, ...sshFlags(bed)]);
    expect(bad.exitCode).toBe(EXIT.badInput);
    expect(bad.stderr).toMatch(/inventory .*typo\.yml:3: host 1: unknown key "prot"/);
  });

  it('smoke-tests every host of an inventory and prints one valid document', async () => {
    // The token cases, and Jibri's and Jigasi's accounts (the test bed's hosts have both).
    const run = await jitsiJwt(['smoke', '--inventory', inventory, ...sshFlags(bed), '--json']);
    const document = parseRunDocument(run.stdout);
    expect(run.exitCode).toBe(0);
    expect(document.hosts.map((h) => [h.name, h.status, h.smoke?.cases.length])).toEqual(FLEET.map((name) => [name, 'passed', 7]));
  });
});
