// Runs whose controller is stopped mid-change, on systemd hosts of both
// suites and on a host without systemd. A signal that can be caught (SIGTERM
// from a cancelled CI job, SIGHUP from a closed terminal) puts the host back
// and exits 128 + the signal; a second one is reported, not obeyed. What
// cannot be caught (SIGKILL at any step) leaves the host a record of the run:
// the next plan and doctor name it, and the next apply finishes it — with a
// secret that someone has — or restore puts the backup back.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { JOURNAL_FILE, LOCK_FILE } from '../../src/facts/run-journal.js';
import { jitsiJwt, jitsiJwtWith, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, hs256Token } from '../support/token-host.js';
import { parseDoctorDocument, parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const APP_ID = 'interrupted_backend';
const bed = new TestBed(`e2e-interruptions-${process.pid}`);
const appSecret = randomBytes(32).toString('base64url');
const env = { JITSI_JWT_APP_SECRET: appSecret };
let scratch: string;

beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'interruptions-'));
  // One bed, filled in turn: each up() boots every host of the bed that is not running yet.
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
  await bed.up({ suites: ['bookworm'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false, init: 'sysv' });
});

afterAll(async () => {
  await bed.down();
  await fs.rm(scratch, { recursive: true, force: true });
});

const PROGRESS = { change: /→ (installing|backing up to) /, restart: /→ restarting /, smoke: /→ smoke-testing/, rollback: /→ rolling back/ };
const send = (signal: NodeJS.Signals) => (pid: number) => process.kill(pid, signal);

async function admits(host: HostRecord, secret: string): Promise<boolean> {
  const room = `r${randomBytes(3).toString('hex')}`;
  const attempt = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room, token: hs256Token(secret, { iss: APP_ID, sub: DOMAIN, room }) });
  return attempt.join?.ok === true;
}

/** Anonymous clients still get in: the stock host works as before. */
async function worksAsStock(host: HostRecord, stock: string): Promise<void> {
  expect((await bed.ssh(host.name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stock);
  const attempt = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room: `probe-${randomBytes(3).toString('hex')}` });
  expect(attempt.join?.ok).toBe(true);
}

async function journal(name: string): Promise<string> {
  return (await bed.ssh(name, `cat ${JOURNAL_FILE} 2>/dev/null || true`)).stdout;
}

const STEPS = ['write', 'restart', 'smoke'] as const;

/**
 * SIGKILL to the controller once the host's record says the run reached
 * `step` (the progress line comes a moment before the step reaches the host).
 * At the smoke step, which takes a fraction of a second, Prosody pauses the
 * moment the restarts are done and goes on after the kill, so the run surely
 * dies inside it.
 */
function killAt(name: string, step: (typeof STEPS)[number]) {
  return async (pid: number) => {
    const reached = STEPS.slice(STEPS.indexOf(step)).join('|');
    const pause = step === 'smoke' ? '; kill -STOP $(cat /run/prosody/prosody.pid)' : '';
    await bed.ssh(name, `timeout 60 sh -c 'until grep -Eq "^step (${reached})$" ${JOURNAL_FILE} 2>/dev/null; do sleep 0.01; done${pause}'`);
    process.kill(pid, 'SIGKILL');
    if (pause) await bed.ssh(name, 'kill -CONT $(cat /run/prosody/prosody.pid)');
  };
}

/** After a SIGKILL the host's side of the dead run ends by itself: its lock is released once the connection is gone, and its script stops at its next output. */
async function lockReleased(name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await bed.ssh(name, `flock -n ${LOCK_FILE} true`, { reject: false })).exitCode === 0) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the lock on ${name} stayed held after its run was killed`);
}

/**
 * Which host shows what: every case runs on some host, each host's cases run
 * in order, and the hosts run side by side. Crash recovery runs on both
 * suites with systemd and on the host without systemd.
 */
const CASES = {
  'bookworm-1': ['sigterm-restart', 'rotate-sigterm', 'kill-write', 'kill-rotate-restart'],
  'trixie-1': ['sighup-smoke', 'kill-restart', 'kill-smoke', 'kill-rotate-smoke'],
  'bookworm-sysv-1': ['sigterm-restart', 'kill-write', 'kill-restart', 'kill-rotate-restart'],
} as const;
type Case = (typeof CASES)[keyof typeof CASES][number];

describe.concurrent.each(Object.keys(CASES) as (keyof typeof CASES)[])('%s', (name) => {
  const shows = (id: Case) => (CASES[name] as readonly Case[]).includes(id);
  // A host defines only the cases it shows.
  const testing = (id: Case) => (title: string, body: () => Promise<void>) => (shows(id) ? it(title, body) : undefined);
  let host: HostRecord;
  let stock: string;
  const target = () => `deploy@${host.address}`;
  const cli = (command: string, rest: string[] = [], extraEnv: Record<string, string> = {}) => jitsiJwt([command, target(), ...sshFlags(bed), ...rest], { env: { ...env, ...extraEnv } });
  const applyWith = (steps: Parameters<typeof jitsiJwtWith>[1], rest: string[] = [], extraEnv: Record<string, string> = env) =>
    jitsiJwtWith(['apply', target(), ...sshFlags(bed), '--app-id', APP_ID, '--yes', ...rest], steps, { env: extraEnv });
  const fresh = async () => {
    await bed.reset([name]);
    host = await bed.host(name);
    stock = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
  };

  describe.sequential('signals', () => {
    testing('sigterm-restart')('SIGTERM during the restarts: the host goes back, a second SIGTERM is reported, exit 143, no temporary file left', async () => {
      await fresh();
      const tmpBefore = (await bed.ssh(name, 'ls -A /tmp')).stdout;
      const run = await applyWith([
        { at: PROGRESS.restart, then: send('SIGTERM') },
        { at: PROGRESS.rollback, then: send('SIGTERM') },
      ]);
      expect(run.reached).toBe(2);
      expect(run.exitCode, run.stderr).toBe(143);
      expect(run.stderr).toMatch(/SIGTERM received: finishing the current step/);
      expect(run.stderr).toMatch(/SIGTERM again: still putting things back/);
      await worksAsStock(host, stock);
      expect(await journal(name)).toBe('');
      expect((await bed.ssh(name, 'ls -A /tmp')).stdout).toBe(tmpBefore);
    });

    testing('sighup-smoke')('SIGHUP during the smoke test of a generated secret: the host goes back, --secret-out is never written, exit 129', async () => {
      await fresh();
      const secretOut = path.join(scratch, `${name}-hup.secret`);
      // Prosody pauses the moment the restarts are done, so the smoke test is surely under way when the signal comes.
      await bed.ssh(
        name,
        `setsid timeout 120 sh -c 'while ! grep -q "^step smoke" ${JOURNAL_FILE} 2>/dev/null; do sleep 0.01; done; kill -STOP $(cat /run/prosody/prosody.pid)' >/dev/null 2>&1 < /dev/null &`,
      );
      const run = await applyWith(
        [{ at: PROGRESS.smoke, then: async (pid) => { process.kill(pid, 'SIGHUP'); await bed.ssh(name, 'kill -CONT $(cat /run/prosody/prosody.pid)'); } }],
        ['--secret-out', secretOut],
        {},
      );
      expect(run.exitCode, run.stderr).toBe(129);
      await expect(fs.access(secretOut)).rejects.toThrow();
      await worksAsStock(host, stock);
      expect(await journal(name)).toBe('');
    });

    testing('rotate-sigterm')('rotate-secret, SIGTERM during the restarts: the old secret still works, --secret-out untouched, exit 143', async () => {
      expect((await cli('apply', ['--app-id', APP_ID, '--yes'])).exitCode).toBe(0);
      const secretOut = path.join(scratch, `${name}-rotate.secret`);
      const run = await jitsiJwtWith(['rotate-secret', target(), ...sshFlags(bed), '--yes', '--secret-out', secretOut], [{ at: PROGRESS.restart, then: send('SIGTERM') }]);
      expect(run.exitCode, run.stderr).toBe(143);
      await expect(fs.access(secretOut)).rejects.toThrow();
      expect(await admits(host, appSecret)).toBe(true);
      expect(await journal(name)).toBe('');
    });
  });

  describe.sequential('SIGKILL', () => {
    for (const step of STEPS) {
      testing(`kill-${step}`)(`at the ${step} step of apply: plan and doctor name the interrupted run, and the next apply finishes it`, async () => {
        await fresh();
        const killed = await applyWith([{ at: PROGRESS.change, then: killAt(name, step) }]);
        expect(killed.signal).toBe('SIGKILL');
        await lockReleased(name);
        expect(await journal(name)).toMatch(/^command apply$/m);

        const plan = await cli('plan', ['--app-id', APP_ID]);
        expect(plan.stdout).toMatch(new RegExp(`an earlier apply run \\(pid ${'\\d+'} on .*\\) was interrupted at its (write|restart|smoke) step`));
        const doctor = await cli('doctor', ['--json']);
        expect(parseDoctorDocument(doctor.stdout).hosts[0].findings.map((f) => f.id)).toContain('interrupted-run');

        const again = await cli('apply', ['--app-id', APP_ID, '--yes', '--json']);
        expect(again.exitCode, `${again.stderr}${again.stdout}`).toBe(0);
        const report = parseRunDocument(again.stdout).hosts[0];
        expect(report.applied?.restarted.map((r) => r.service)).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
        expect(report.smoke?.ok).toBe(true);
        expect(await journal(name)).toBe('');
        expect(await admits(host, appSecret)).toBe(true);
        const settled = await cli('apply', ['--app-id', APP_ID, '--yes']);
        expect(settled.stdout).toContain('No changes');
      });
    }

    testing('kill-rotate-restart')('at the restart step of rotate-secret: apply without a way to hand out the secret refuses; with --secret-out it finishes, and that secret works', async () => {
      await fresh();
      expect((await cli('apply', ['--app-id', APP_ID, '--yes'])).exitCode).toBe(0);
      const lost = path.join(scratch, `${name}-lost.secret`);
      const killed = await jitsiJwtWith(['rotate-secret', target(), ...sshFlags(bed), '--yes', '--secret-out', lost], [{ at: PROGRESS.change, then: killAt(name, 'restart') }]);
      expect(killed.signal).toBe('SIGKILL');
      await lockReleased(name);
      await expect(fs.access(lost)).rejects.toThrow();
      expect(await journal(name)).toMatch(/^secret new$/m);

      const refused = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--yes']);
      expect(refused.exitCode).toBe(EXIT.badInput);
      expect(refused.stderr).toMatch(/interrupted at its (restart|smoke) step .*new app_secret that never reached anyone/s);
      expect(refused.stderr).toMatch(/--secret-out FILE/);

      const secretOut = path.join(scratch, `${name}-found.secret`);
      const finished = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--yes', '--secret-out', secretOut]);
      expect(finished.exitCode, finished.stderr).toBe(0);
      const secret = (await fs.readFile(secretOut, 'utf8')).trim();
      expect(secret).not.toBe(appSecret);
      expect(await admits(host, secret)).toBe(true);
      expect(await admits(host, appSecret)).toBe(false);
      expect(await journal(name)).toBe('');
    });

    testing('kill-rotate-smoke')('at the smoke step of rotate-secret: restore puts the backup the record names back, and the old secret works again', async () => {
      await fresh();
      expect((await cli('apply', ['--app-id', APP_ID, '--yes'])).exitCode).toBe(0);
      const killed = await jitsiJwtWith(['rotate-secret', target(), ...sshFlags(bed), '--yes', '--show-secret'], [{ at: PROGRESS.change, then: killAt(name, 'smoke') }]);
      expect(killed.signal).toBe('SIGKILL');
      await lockReleased(name);
      const backup = /^backup (.*)$/m.exec(await journal(name))?.[1];
      expect(backup).toBeTruthy();
      const restored = await cli('restore', ['--backup', path.basename(backup!), '--yes']);
      expect(restored.exitCode, restored.stderr).toBe(0);
      expect(await admits(host, appSecret)).toBe(true);
      expect(await journal(name)).toBe('');
    });
  });
});
