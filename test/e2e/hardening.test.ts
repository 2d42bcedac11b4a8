// What other people's processes and files on a host cannot do to a run, and
// what a run leaves of itself: an operator's processes that name Jitsi's
// services survive apply and rollback untouched while restarts are still
// confirmed; a local user can neither hold nor plant the lock, nor plant a
// file in /tmp that a run writes through; a lock that cannot be taken is told
// apart from one that is held; settings from the environment mean what they
// say before anything connects.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, USERS, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { LOCK_DIR } from '../../src/apply/scripts.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile } from '../support/token-host.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-hardening-${process.pid}`);
const env = { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') };

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

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

describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
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
    expect(report.applied?.restarted).toEqual([
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

describe('the lock', () => {
  const name = 'bookworm-1';

  it('cannot be taken from a place only root may write, and says why, apart from a held one', async () => {
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

describe('settings from the environment', () => {
  const name = 'trixie-1';

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
