// Faults injected into real test hosts during apply: each leaves the host in
// its previous working state (or, for a dropped connection, one the next run
// converges from), with a clear message and a non-zero exit. And what other
// people's processes and files on a host cannot do to a run: an operator's
// processes that name Jitsi's services survive apply and rollback untouched
// while restarts are still confirmed; a local user can neither hold nor plant
// the lock, nor plant a file in /tmp that a run writes through; a lock that
// cannot be taken is told apart from one that is held; settings from the
// environment mean what they say before anything connects. And two states a
// host may be in before a run: Prosody stopped (plan says apply starts it;
// apply proves it where its config has it listen), and a VirtualHost set again
// in a file Prosody reads after the domain file (refused before anything
// changes, and doctor says so in the same words).
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TestBed, USERS, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { LOCK_DIR, LOCK_HOLDER } from '../../src/apply/scripts.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, prosodyPid } from '../support/token-host.js';
import { parseDoctorDocument, parseRunDocument } from '../support/run-schema.js';

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
/**
 * A freshly reset host whose room checks check nothing (a token for another
 * room gets in, so the smoke test's wrong-room case fails), with its stock
 * domain config as it was before any apply.
 */
async function stockHostWithoutRoomChecks(name: string): Promise<{ host: HostRecord; stockConfig: string }> {
  await bed.reset([name]);
  const host = await bed.host(name);
  const stockConfig = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
  await bed.ssh(name, `echo 'module:log("info", "room checks switched off for a test");' > /usr/share/jitsi-meet/prosody-plugins/mod_token_verification.lua`);
  return { host, stockConfig };
}

async function stillStock(host: HostRecord, stockConfig: string): Promise<void> {
  expect((await bed.ssh(host.name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);
  const attempt = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room: `probe-${randomBytes(3).toString('hex')}` });
  expect(attempt.auth.ok).toBe(true);
  expect(attempt.join?.ok).toBe(true);
}

/**
 * Processes an operator might have running, each naming a service on its
 * command line: as another user, and one as the service's own user that is
 * not the service. Returns "user pid" lines.
 */
async function startLookalikes(name: string): Promise<string[]> {
  const sleeper = (...words: string[]) => `python3 -c 'import time; time.sleep(900)' ${words.join(' ')}`;
  const started = (user: string, command: string) =>
    bed.ssh(name, `setsid ${command} >/dev/null 2>&1 </dev/null & echo "${user} $!"`, { user: user === 'root' ? undefined : user });
  const lines = await Promise.all([
    started(USERS.sudoPassword, 'tail -f /var/log/jitsi/jicofo.log'),
    started(USERS.sudoPassword, sleeper('vi', '/etc/jitsi/jicofo/jicofo.conf')),
    started(USERS.sudoPassword, sleeper('check_procs', '-C', 'jitsi-videobridge2', 'prosody')),
    started(USERS.sudoPassword, 'flock /run/lock/jitsi-jwt.lock sleep 900'),
    started('root', `runuser -u jicofo -- ${sleeper('jicofo', 'jitsi-videobridge2', 'prosody')}`),
  ]);
  return lines.map((r) => r.stdout.trim());
}

async function stillRunning(name: string, lookalikes: string[]): Promise<string[]> {
  const pids = lookalikes.map((l) => l.split(' ')[1]);
  const { stdout } = await bed.ssh(name, `for p in ${pids.join(' ')}; do [ -d /proc/$p ] && echo "$p"; done`);
  return stdout.split('\n').filter(Boolean);
}

// Each host's suite works on that host only, so the two run side by side; within a host everything runs in order.
describe.concurrent.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  describe.sequential('faults during apply', () => {
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
      // The SysV script's own answer, or systemd's for the unit it wraps ("active (exited)" would mean the daemon is gone).
      expect((await bed.ssh(name, 'service jicofo status', { reject: false })).stdout).toMatch(/is running|Active: active \(running\)/);
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

    it('starts a Prosody that was stopped, says so in the plan, and proves it where its config has it listen', async () => {
      // service(8) hands the stop to systemctl where systemd runs, to the init script where it does not.
      await bed.ssh(name, 'service prosody stop');
      const planned = await jitsiJwt(['plan', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'faults'], { env });
      expect(planned.exitCode).toBe(0);
      // The test bed pins Prosody to the host's own address in prosody.cfg.lua (testbed/provision.ts).
      expect(planned.stdout).toContain(
        `warning: Prosody is not running on this host: apply starts it, restarts the services that log in to it after it, and smoke-tests it at ${host.address}:5280, where its config has it listen (http_interfaces at /etc/prosody/prosody.cfg.lua:4)`,
      );
      const run = await apply(['--json']);
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      const report = parseRunDocument(run.stdout).hosts[0];
      expect(report.restartReasons).toContain('Prosody is not running (apply starts it)');
      expect(report.smoke?.cases.map((c) => [c.name, c.verdict])).toContainEqual(['valid token', 'pass']);
      expect(report.smoke?.ok).toBe(true);
      expect((await bed.ssh(name, 'kill -0 "$(cat /run/prosody/prosody.pid)" && echo running', { reject: false })).stdout.trim()).toBe('running');
    });

    it('refuses, before changing anything, a VirtualHost that a file Prosody reads later sets again; doctor says the same', async () => {
      const local = '/etc/prosody/conf.d/zz-local.cfg.lua';
      await bed.ssh(name, `printf '%s\\n' '-- local settings' 'VirtualHost "${DOMAIN}"' '    authentication = "jitsi-anonymous"' > ${local}`);
      const pid = await prosodyPid(bed, name);
      const refusal = (host: string) =>
        `VirtualHost "${DOMAIN}" is declared again at ${local}:2 on ${host}, which Prosody reads after the domain config ${domainFile(DOMAIN)}, ` +
        'and sets authentication = "jitsi-anonymous" (line 3) there: that replaces what jitsi-jwt writes in the domain config, so token authentication would not take effect';
      const fix = `remove the duplicate declaration from ${local}, or move its settings into ${domainFile(DOMAIN)} (the domain config); then run again`;
      for (const command of ['plan', 'apply']) {
        const run = await jitsiJwt([command, `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'faults', ...(command === 'apply' ? ['--yes'] : [])], { env });
        expect(run.exitCode).toBe(EXIT.hostState);
        expect(run.stderr).toContain(`error: ${refusal(`deploy@${host.address}:22`)}\nhint: ${fix}`);
      }
      expect(await prosodyPid(bed, name)).toBe(pid);
      expect((await bed.ssh(name, 'ls -A /var/backups/jitsi-jwt 2>/dev/null || true')).stdout).toBe('');
      await stillStock(host, stockConfig);

      const doctor = await jitsiJwt(['doctor', `deploy@${host.address}`, ...sshFlags(bed), '--json']);
      expect(doctor.exitCode).toBe(EXIT.failed);
      expect(parseDoctorDocument(doctor.stdout).hosts[0].findings.find((f) => f.id === 'duplicate-virtualhost')).toMatchObject({
        severity: 'problem',
        title: refusal(`deploy@${host.address}`),
        evidence: [expect.stringMatching(new RegExp(`^${domainFile(DOMAIN)}:\\d+  VirtualHost "${DOMAIN}"$`)), `${local}:2  VirtualHost "${DOMAIN}"`, `${local}:3  authentication = "jitsi-anonymous"`],
        fix,
      });

      await bed.ssh(name, `rm ${local}`);
      expect((await jitsiJwt(['plan', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'faults'], { env })).exitCode).toBe(0);
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

  if (name === 'bookworm-1') {
    describe.sequential('a smoke test that fails after apply', () => {
      it('rolls the host back, or keeps the new state with --no-rollback', async () => {
        const { host, stockConfig } = await stockHostWithoutRoomChecks(name);
        const args = ['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'faults', '--yes'];
        const rolledBack = await jitsiJwt(args, { env });
        expect(rolledBack.exitCode).toBe(EXIT.rolledBack);
        expect(rolledBack.stderr).toMatch(/smoke test failed[\s\S]*wrong room: expected refused[^\n]*, admitted/);
        expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);

        const kept = await jitsiJwt([...args, '--no-rollback'], { env });
        expect(kept.exitCode).toBe(EXIT.smokeFailed);
        expect(kept.stdout).toMatch(/FAIL +wrong room/);
        expect((await bed.ssh(name, `grep -c 'authentication = "token" -- do not delete me' ${domainFile(DOMAIN)}`)).stdout).toBe('1');
      });
    });
  }

  if (name === 'trixie-1') {
    describe.sequential('--no-rollback with a new secret', () => {
      it('delivers the secret a host keeps, and puts the host back when the delivery fails', async () => {
        const { host, stockConfig } = await stockHostWithoutRoomChecks(name);
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
  }

  describe.sequential("an operator's processes and files", () => {
    let host: HostRecord;
    const apply = (extra: string[] = []) => jitsiJwt(['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'hardening', '--yes', '--json', ...extra], { env });

    beforeAll(async () => {
      await bed.reset([name]);
      host = await bed.host(name);
    });

    it("leaves an operator's processes alone through a rollback and an apply, and still confirms each restart", async () => {
      const stockConfig = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
      const lookalikes = await startLookalikes(name);
      const pids = lookalikes.map((l) => l.split(' ')[1]);
      expect(await stillRunning(name, lookalikes)).toEqual(pids);
      // A file in /tmp planted where a run once wrote as root: a link to a file of root's.
      await bed.ssh(name, 'echo untouched > /etc/jitsi-jwt-victim');
      await bed.ssh(name, 'ln -s /etc/jitsi-jwt-victim /tmp/jitsi-jwt-apt.log', { user: USERS.sudoPassword });
      const tmpBefore = (await bed.ssh(name, 'ls -A /tmp')).stdout;

      await bed.ssh(name, `mkdir -p /etc/jitsi-testbed && echo "grep -q 'authentication = \\"token\\" -- do not delete me' ${domainFile(DOMAIN)}" > /etc/jitsi-testbed/fail-start-jicofo`);
      const failed = await apply();
      expect(failed.exitCode).toBe(EXIT.rolledBack);
      expect(parseRunDocument(failed.stdout).hosts[0].error?.message).toMatch(/jicofo did not come back/);
      expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);
      expect(await stillRunning(name, lookalikes)).toEqual(pids);

      await bed.ssh(name, 'rm /etc/jitsi-testbed/fail-start-jicofo');
      const events = (await bed.ssh(name, 'wc -l < /var/log/jitsi/testbed-services.log')).stdout.trim();
      const applied = await apply();
      expect(applied.stderr).toBe('');
      expect(applied.exitCode).toBe(0);
      const report = parseRunDocument(applied.stdout).hosts[0];
      expect(report.smoke?.ok).toBe(true);
      // Told by the new processes the init scripts started, not by a stop-and-start that killed strangers.
      expect(report.applied?.restarted.map(({ service, how }) => ({ service, how }))).toEqual([
        { service: 'prosody', how: 'restarted' },
        { service: 'jicofo', how: 'restarted' },
        { service: 'jitsi-videobridge2', how: 'restarted' },
      ]);
      const { stdout: log } = await bed.ssh(name, `tail -n +${Number(events) + 1} /var/log/jitsi/testbed-services.log`);
      expect(log.match(/ jicofo restart pid=/g)).toHaveLength(1);
      expect(log.match(/ jitsi-videobridge2 restart pid=/g)).toHaveLength(1);
      expect(await stillRunning(name, lookalikes)).toEqual(pids);

      // Nothing was written through the planted link, and the runs left no temporary file behind.
      expect((await bed.ssh(name, 'cat /etc/jitsi-jwt-victim')).stdout).toBe('untouched');
      expect((await bed.ssh(name, 'readlink /tmp/jitsi-jwt-apt.log')).stdout.trim()).toBe('/etc/jitsi-jwt-victim');
      expect((await bed.ssh(name, 'ls -A /tmp')).stdout).toBe(tmpBefore);
      expect((await bed.ssh(name, `ls -A $(dirname ${domainFile(DOMAIN)}) | grep -c '^\\.jitsi-jwt' || true`)).stdout.trim()).toBe('0');
      await bed.ssh(name, `kill ${pids.join(' ')} 2>/dev/null || true`);
    });
  });

  if (name === 'bookworm-1') {
    describe.sequential('the lock', () => {
      it('cannot be taken from a place only root may write, and says why, apart from a held one', async () => {
        await bed.reset([name]);
        const host = await bed.host(name);
        const plan = () => jitsiJwt(['plan', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'hardening'], { env });
        // A local user cannot make the lock's directory, so cannot hold or plant the lock.
        const planted = await bed.ssh(name, `mkdir ${LOCK_DIR}-x 2>&1; ls -ld /run | cut -c1-10`, { user: USERS.sudoPassword, reject: false });
        expect(planted.stdout).toMatch(/Permission denied/);
        expect((await plan()).exitCode).toBe(0);

        await bed.ssh(name, `rm -rf ${LOCK_DIR} && touch ${LOCK_DIR}`);
        try {
          const broken = await plan();
          expect(broken.exitCode).toBe(EXIT.failed);
          expect(broken.stderr).toMatch(/could not take the jitsi-jwt lock on .*: \/run\/jitsi-jwt is not a directory/);
          expect(broken.stderr).not.toMatch(/another jitsi-jwt run/);
        } finally {
          await bed.ssh(name, `rm -f ${LOCK_DIR}`);
        }
        await bed.ssh(name, `mkdir -m 777 ${LOCK_DIR}`);
        try {
          const open = await plan();
          expect(open.exitCode).toBe(EXIT.failed);
          expect(open.stderr).toMatch(/may be written by others than root \(owner root, mode 777\)/);
        } finally {
          await bed.ssh(name, `rmdir ${LOCK_DIR}`);
        }
        expect((await plan()).exitCode).toBe(0);
      });
    });
  }

  if (name === 'trixie-1') {
    describe.sequential('settings from the environment', () => {
      it('reads JITSI_JWT_ALLOW_EMPTY_TOKEN=false as off, and refuses an unreadable one before connecting', async () => {
        await bed.reset([name]);
        const host = await bed.host(name);
        const args = ['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'hardening', '--yes', '--json'];
        const unclear = await jitsiJwt(args, { env: { ...env, JITSI_JWT_ALLOW_EMPTY_TOKEN: 'maybe' } });
        expect(unclear.exitCode).toBe(EXIT.badInput);
        expect(parseRunDocument(unclear.stdout).error).toMatchObject({ code: 'settings', message: expect.stringContaining('JITSI_JWT_ALLOW_EMPTY_TOKEN="maybe"') });
        expect(parseRunDocument(unclear.stdout).hosts).toEqual([]);

        const run = await jitsiJwt(args, { env: { ...env, JITSI_JWT_ALLOW_EMPTY_TOKEN: 'false', JITSI_JWT_NO_ROOM_CHECK: '0' } });
        expect(run.exitCode).toBe(0);
        const config = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
        expect(config).toContain('allow_empty_token = false');
        expect(config).toMatch(/^\s+"token_verification";$/m);
        // And the server refuses a client without a token.
        const anonymous = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room: 'anyone' });
        expect(anonymous.auth).toMatchObject({ ok: false, condition: 'not-allowed' });
      });

      it('gives one JSON document for an early error when JITSI_JWT_JSON asks for it', async () => {
        const run = await jitsiJwt(['plan'], { env: { JITSI_JWT_JSON: '1' } });
        expect(run.exitCode).toBe(EXIT.badInput);
        expect(parseRunDocument(run.stdout)).toMatchObject({ command: 'plan', ok: false, error: { code: 'settings', message: 'no target given' } });
        const typo = await jitsiJwt(['plan', '--concurency', '3'], { env: { JITSI_JWT_JSON: 'yes' } });
        expect(typo.exitCode).toBe(EXIT.badInput);
        expect(parseRunDocument(typo.stdout).error?.message).toMatch(/unknown option '--concurency'/);
        const bad = await jitsiJwt(['apply', 'deploy@127.0.0.1:1', '--dpkg-lock-timeout', 'abc', '--json']);
        expect(bad.exitCode).toBe(EXIT.badInput);
        expect(parseRunDocument(bad.stdout).error?.message).toMatch(/--dpkg-lock-timeout "abc" is not a whole number/);
      });
    });
  }
});
