// Jitsi's services as real servers run them, and what goes wrong with them:
// on systemd hosts (Debian's prosody unit, jicofo wrapped from its SysV script
// with no MainPID, the videobridge's native unit) and, for the restart paths,
// on a host without systemd. A daemon that dies a moment after a successful
// start is not a restart; a unit that will not start rolls the change back and
// the report names only what really failed; jicofo dead under a unit that
// still says "active (exited)" is found by doctor and brought back by apply.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, hs256Token } from '../support/token-host.js';
import { parseDoctorDocument, parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const APP_ID = 'services_backend';
const bed = new TestBed(`e2e-services-units-${process.pid}`);
const appSecret = randomBytes(32).toString('base64url');
const env = { JITSI_JWT_APP_SECRET: appSecret };
/** The condition the stand-ins' fault files take: true once the domain file is on token auth. */
const ON_TOKENS = `grep -q 'authentication = \\"token\\" -- do not delete me' ${domainFile(DOMAIN)}`;

beforeAll(async () => {
  // One bed, filled in turn: each up() boots every host of the bed that is not running yet.
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
  await bed.up({ suites: ['bookworm'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false, init: 'sysv' });
});

afterAll(async () => {
  await bed.down();
});

const apply = (host: HostRecord, extra: string[] = []) => jitsiJwt(['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', APP_ID, '--yes', '--json', ...extra], { env });

/** The live processes of a service as its init system knows them: the unit's cgroup, or the SysV pidfile. */
async function serviceProcesses(host: HostRecord, service: string): Promise<string[]> {
  const pidfile = { prosody: '/run/prosody/prosody.pid', jicofo: '/run/jicofo.pid', 'jitsi-videobridge2': '/run/jitsi-videobridge.pid' }[service];
  const command =
    host.init === 'systemd'
      ? `[ "$(systemctl show -p ActiveState --value ${service})" = active ] && cat /sys/fs/cgroup/system.slice/${service}.service/cgroup.procs || true`
      : `p=$(cat ${pidfile} 2>/dev/null) && [ -d /proc/$p ] && echo $p || true`;
  return (await bed.ssh(host.name, command)).stdout.split('\n').filter(Boolean);
}

async function allRunning(host: HostRecord): Promise<void> {
  for (const service of ['prosody', 'jicofo', 'jitsi-videobridge2']) expect(await serviceProcesses(host, service), service).not.toEqual([]);
}

/** A token signed with the host's secret gets into a room: the host works on tokens. */
async function admitsTokens(host: HostRecord): Promise<void> {
  const room = `r${randomBytes(3).toString('hex')}`;
  const attempt = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room, token: hs256Token(appSecret, { iss: APP_ID, sub: DOMAIN, room }) });
  expect(attempt.join?.ok).toBe(true);
}

describe.concurrent.each(['bookworm-1', 'trixie-1', 'bookworm-sysv-1'])('%s', (name) => {
  describe.sequential('restart faults', () => {
    let host: HostRecord;
    let stock: string;

    beforeAll(async () => {
      host = await bed.host(name);
      stock = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
    });

    it('a daemon that dies a moment after starting is no restart: the change is rolled back and the service runs again', async () => {
      await bed.ssh(name, `mkdir -p /etc/jitsi-testbed && echo "${ON_TOKENS}" > /etc/jitsi-testbed/die-after-start-jicofo`);
      try {
        const run = await apply(host);
        expect(run.exitCode, `${run.stderr}${run.stdout}`).toBe(EXIT.rolledBack);
        const message = parseRunDocument(run.stdout).hosts[0].error?.message ?? '';
        expect(message).toMatch(/jicofo did not come back/);
        expect(message).not.toMatch(/prosody did not|jitsi-videobridge2 did not/);
        expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stock);
        await allRunning(host);
      } finally {
        await bed.ssh(name, 'rm -f /etc/jitsi-testbed/die-after-start-jicofo');
      }
    });

    it('a unit that will not start on the new config: rolled back, and only that service is named', async () => {
      await bed.ssh(name, `echo "${ON_TOKENS}" > /etc/jitsi-testbed/fail-start-jitsi-videobridge2`);
      try {
        const run = await apply(host);
        expect(run.exitCode, `${run.stderr}${run.stdout}`).toBe(EXIT.rolledBack);
        const message = parseRunDocument(run.stdout).hosts[0].error?.message ?? '';
        expect(message).toMatch(/jitsi-videobridge2 did not come back/);
        expect(message).not.toMatch(/prosody did not|jicofo did not/);
        expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stock);
        await allRunning(host);
      } finally {
        await bed.ssh(name, 'rm -f /etc/jitsi-testbed/fail-start-jitsi-videobridge2');
      }
    });

    it('converges once the fault is gone, and confirms every restart by new processes', async () => {
      const before = await serviceProcesses(host, 'jicofo');
      const run = await apply(host);
      expect(run.exitCode, `${run.stderr}${run.stdout}`).toBe(0);
      const report = parseRunDocument(run.stdout).hosts[0];
      expect(report.applied?.restarted.map((r) => r.service)).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
      for (const restart of report.applied?.restarted ?? []) expect(restart.seconds).toBeGreaterThanOrEqual(0);
      expect(report.smoke?.ok).toBe(true);
      const after = await serviceProcesses(host, 'jicofo');
      expect(after).not.toEqual([]);
      expect(after.filter((pid) => before.includes(pid))).toEqual([]);
    });

    // Only a systemd unit can say "active (exited)" with its daemon gone.
    if (name.includes('sysv')) return;
    it('jicofo dead under a unit that says "active (exited)": doctor says it is not running, apply restarts jicofo alone brings it back and proves it, and the next run changes nothing', async () => {
      // The restart-faults suite left the host converged on tokens.
      const daemons = await serviceProcesses(host, 'jicofo');
      expect(daemons).toHaveLength(1);
      await bed.ssh(name, `kill -KILL ${daemons[0]}`);
      const states = async () => (await bed.ssh(name, 'systemctl show -p ActiveState -p SubState --value jicofo')).stdout.split('\n');
      for (let i = 0; i < 50 && (await serviceProcesses(host, 'jicofo')).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await states()).toEqual(['active', 'exited']);

      const doctor = await jitsiJwt(['doctor', `deploy@${host.address}`, ...sshFlags(bed), '--json']);
      const findings = parseDoctorDocument(doctor.stdout).hosts[0].findings;
      expect(findings.filter((f) => f.id === 'service-down').map((f) => f.title)).toEqual(['jicofo is not running']);
      expect(findings.find((f) => f.id === 'service-down')?.fix).toContain('systemctl restart jicofo');

      const prosodyBefore = await serviceProcesses(host, 'prosody');
      const run = await apply(host);
      expect(run.exitCode, `${run.stderr}${run.stdout}`).toBe(0);
      const report = parseRunDocument(run.stdout).hosts[0];
      expect(report.applied?.restarted.map((r) => r.service)).toEqual(['jicofo']);
      expect(report.smoke?.ok).toBe(true);
      expect(await serviceProcesses(host, 'prosody')).toEqual(prosodyBefore);
      expect(await states()).toEqual(['active', 'running']);
      await admitsTokens(host);

      const again = await apply(host);
      expect(again.exitCode, `${again.stderr}${again.stdout}`).toBe(0);
      expect(parseRunDocument(again.stdout).hosts[0].applied?.restarted ?? []).toEqual([]);
    });
  });
});
