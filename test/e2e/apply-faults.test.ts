// Faults injected into real test hosts during apply: each leaves the host in
// its previous working state (or, for a dropped connection, one the next run
// converges from), with a clear message and a non-zero exit.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { LOCK_HOLDER } from '../../src/apply/scripts.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, prosodyPid } from '../support/token-host.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-faults-${process.pid}`);
const appSecret = randomBytes(32).toString('base64url');
const env = { JITSI_JWT_APP_SECRET: appSecret };

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

/** A stock host still admits anonymous clients: proof it works as before. */
async function stillStock(host: HostRecord, stockConfig: string): Promise<void> {
  expect((await bed.ssh(host.name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);
  const attempt = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room: `probe-${randomBytes(3).toString('hex')}` });
  expect(attempt.auth.ok).toBe(true);
  expect(attempt.join?.ok).toBe(true);
}

describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  let stockConfig: string;
  const apply = (extra: string[] = [], options: { input?: string; user?: string } = {}) =>
    jitsiJwt(['apply', `${options.user ?? 'deploy'}@${host.address}`, ...sshFlags(bed), '--app-id', 'faults', '--yes', ...extra], { env, input: options.input });

  beforeEach(async () => {
    await bed.reset([name]);
    host = await bed.host(name);
    stockConfig = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
  });

  it('rolls back when Prosody rejects the new config', async () => {
    // prosodyctl reports an error as soon as the file switches to token auth.
    await bed.ssh(
      name,
      `mv /usr/bin/prosodyctl /usr/bin/prosodyctl.real && cat > /usr/bin/prosodyctl <<'EOF' && chmod 755 /usr/bin/prosodyctl
#!/bin/sh
if [ "$1 $2" = "check config" ] && grep -q 'authentication = "token" -- do not delete me' ${domainFile(DOMAIN)}; then
	/usr/bin/prosodyctl.real "$@"; echo "Error: injected: the token configuration is rejected"; exit 1
fi
exec /usr/bin/prosodyctl.real "$@"
EOF`,
    );
    const pid = await prosodyPid(bed, name);
    const run = await apply();
    expect(run.exitCode).toBe(EXIT.rolledBack);
    expect(run.stderr).toContain('injected: the token configuration is rejected');
    expect(run.stderr).toMatch(/back as it was/);
    expect(await prosodyPid(bed, name)).toBe(pid);
    await stillStock(host, stockConfig);
  });

  it('rolls back when a service will not restart on the new config', async () => {
    await bed.ssh(name, `mkdir -p /etc/jitsi-testbed && echo "grep -q 'authentication = \\"token\\" -- do not delete me' ${domainFile(DOMAIN)}" > /etc/jitsi-testbed/fail-start-jicofo`);
    const run = await apply();
    expect(run.exitCode).toBe(EXIT.rolledBack);
    expect(run.stderr).toMatch(/jicofo did not come back/);
    expect((await bed.ssh(name, 'service jicofo status')).stdout).toMatch(/is running/);
    await stillStock(host, stockConfig);
  });

  it('survives a connection dropped mid-apply, and the next run converges', async () => {
    // The session dies right after the new file is in place, before any restart.
    await bed.ssh(
      name,
      `mv /usr/bin/prosodyctl /usr/bin/prosodyctl.real && cat > /usr/bin/prosodyctl <<'EOF' && chmod 755 /usr/bin/prosodyctl
#!/bin/sh
if [ "$1 $2" = "check config" ] && grep -q 'authentication = "token" -- do not delete me' ${domainFile(DOMAIN)} && [ ! -e /tmp/dropped ]; then
	touch /tmp/dropped; pkill -KILL -f 'sshd.*deploy'; sleep 5
fi
exec /usr/bin/prosodyctl.real "$@"
EOF`,
    );
    const pid = await prosodyPid(bed, name);
    const dropped = await apply();
    expect(dropped.exitCode).not.toBe(0);
    expect(dropped.stderr).toMatch(/the connection to .* was lost/);
    // Old services still run: the host works as before until the next run.
    expect(await prosodyPid(bed, name)).toBe(pid);
    const converged = await apply(['--json']);
    expect(converged.stderr).toBe('');
    expect(converged.exitCode).toBe(0);
    expect(parseRunDocument(converged.stdout).hosts[0].smoke?.ok).toBe(true);
    expect(await prosodyPid(bed, name)).not.toBe(pid);
  });

  it('refuses a changed host key, showing both fingerprints', async () => {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'faults-'));
    try {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(scratch, 'other')]);
      const other = (await fs.readFile(path.join(scratch, 'other.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      await fs.writeFile(path.join(scratch, 'known_hosts'), `${host.address} ${other}\n`);
      const run = await jitsiJwt(['apply', `deploy@${host.address}`, '--identity', bed.keyFile, '--known-hosts', path.join(scratch, 'known_hosts'), '--app-id', 'faults', '--yes'], { env });
      expect(run.exitCode).toBe(EXIT.connection);
      const { stdout: expected } = await execa('ssh-keygen', ['-l', '-f', path.join(scratch, 'other.pub')]);
      const { stdout: presented } = await execa('ssh-keygen', ['-l', '-f', path.join(bed.hostDir(name), 'ssh_host_ed25519_key.pub')]);
      expect(run.stderr).toContain(expected.split(' ')[1]);
      expect(run.stderr).toContain(presented.split(' ')[1]);
      await stillStock(host, stockConfig);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });

  it('refuses a wrong sudo password quickly, and works with the right one', async () => {
    const wrong = await apply(['--sudo-password-stdin'], { user: 'sysadmin', input: 'not-the-password\n' });
    expect(wrong.exitCode).toBe(EXIT.connection);
    expect(wrong.stderr).toMatch(/sudo/i);
    await stillStock(host, stockConfig);
    const password = await fs.readFile(bed.sudoPasswordFile, 'utf8');
    const right = await apply(['--sudo-password-stdin', '--no-smoke'], { user: 'sysadmin', input: password });
    expect(right.stderr).not.toContain(password.trim());
    expect(right.exitCode).toBe(0);
  });

  it('gives up on a dpkg lock held past the wait, changing nothing', async () => {
    await bed.ssh(
      name,
      `setsid python3 -c 'import fcntl, time; f = open("/var/lib/dpkg/lock-frontend", "w"); fcntl.lockf(f, fcntl.LOCK_EX); open("/tmp/dpkg-held", "w").close(); time.sleep(120)' >/dev/null 2>&1 < /dev/null & for i in $(seq 50); do [ -e /tmp/dpkg-held ] && break; sleep 0.1; done`,
    );
    const run = await apply(['--dpkg-lock-timeout', '2']);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/dpkg lock/);
    await bed.ssh(name, "pkill -f '[l]ock-frontend' || true");
    expect((await bed.ssh(name, 'dpkg-query -W -f="${db:Status-Abbrev}" lua-cjson', { reject: false })).stdout).not.toMatch(/^ii/);
    await stillStock(host, stockConfig);
  });

  it('refuses a second apply while the first one runs, and the first one finishes', async () => {
    // The lock's holder file names each new holder: wait until the first run is it, then start the second.
        const before = (await bed.ssh(name, `cat ${LOCK_HOLDER} 2>/dev/null || true`)).stdout;
    const first = apply(['--json']);
    for (let i = 0; i < 100; i++) {
      const now = (await bed.ssh(name, `cat ${LOCK_HOLDER} 2>/dev/null || true`)).stdout;
      if (now !== '' && now !== before) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const second = await apply();
    expect(second.exitCode).toBe(EXIT.locked);
    expect(second.stderr).toMatch(/another jitsi-jwt run is working on .* \(pid \d+, since \d{4}-\d\d-\d\dT[\d:]+Z, for deploy\)/);
    const done = await first;
    expect(done.exitCode).toBe(0);
    expect(parseRunDocument(done.stdout).hosts[0].smoke?.ok).toBe(true);
  });
});

describe('a smoke test that fails after apply', () => {
  it('rolls the host back, or keeps the new state with --no-rollback', async () => {
    const name = 'bookworm-1';
    await bed.reset([name]);
    const host = await bed.host(name);
    const stockConfig = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
    // Jicofo runs but cannot log in, so nobody's room gets created.
    await bed.ssh(name, `sed -i 's/^      password: .*/      password: "not-the-focus-password"/' /etc/jitsi/jicofo/jicofo.conf && service jicofo restart >/dev/null`);
    const args = ['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'faults', '--yes'];
    const rolledBack = await jitsiJwt(args, { env });
    expect(rolledBack.exitCode).toBe(EXIT.rolledBack);
    expect(rolledBack.stderr).toMatch(/smoke test failed[\s\S]*valid token: expected admitted, refused by focus/);
    expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);

    const kept = await jitsiJwt([...args, '--no-rollback'], { env });
    expect(kept.exitCode).toBe(EXIT.smokeFailed);
    expect(kept.stdout).toMatch(/FAIL valid token/);
    expect((await bed.ssh(name, `grep -c 'authentication = "token" -- do not delete me' ${domainFile(DOMAIN)}`)).stdout).toBe('1');
  });
});

describe('--no-rollback with a new secret', () => {
  it('delivers the secret a host keeps, and puts the host back when the delivery fails', async () => {
    const name = 'trixie-1';
    await bed.reset([name]);
    const host = await bed.host(name);
    const stockConfig = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
    // Room checks that check nothing: the smoke test's wrong-room case gets in, so the smoke test fails.
    await bed.ssh(name, `echo 'module:log("info", "room checks switched off for a test");' > /usr/share/jitsi-meet/prosody-plugins/mod_token_verification.lua`);
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'no-rollback-'));
    // No secret given: the host gets a generated one, which only the delivery hands on.
    const args = ['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'faults', '--yes', '--no-rollback'];
    try {
      const undelivered = await jitsiJwt([...args, '--exec', 'cat >/dev/null; exit 3']);
      expect(undelivered.exitCode).toBe(EXIT.rolledBack);
      expect(undelivered.stderr).toMatch(/--exec command .*the new secret did not reach its store/);
      expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);

      const out = path.join(scratch, 'app_secret');
      const kept = await jitsiJwt([...args, '--secret-out', out, '--json']);
      expect(kept.exitCode).toBe(EXIT.smokeFailed);
      const document = parseRunDocument(kept.stdout);
      expect(document.hosts[0].status).toBe('smoke-failed');
      expect(document.secret).toMatchObject({ source: 'generated', changed: true, delivered: ['secret-out'] });
      const onHost = (await bed.ssh(name, `sed -n 's/^ *app_secret *= *"\\(.*\\)"$/\\1/p' ${domainFile(DOMAIN)}`)).stdout.trim();
      expect(onHost.length).toBeGreaterThanOrEqual(32);
      expect(await fs.readFile(out, 'utf8')).toBe(`${onHost}\n`);
      expect((await fs.stat(out)).mode & 0o777).toBe(0o600);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});
