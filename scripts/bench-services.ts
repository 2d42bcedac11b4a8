// The runs that restart Jitsi's services, on test hosts of both suites with
// systemd as PID 1 (Jitsi's unit layout) and, for comparison, without systemd:
// a first converge from the stock config and a rotate-secret, each timed as a
// whole run, with the time each service took to come back and the smoke test's.
// A host is reset to its stock state before each first converge. Needs a build
// (npm run build); JITSI_JWT_BENCH_CLI=path/to/bin.js times another build (an
// older checkout's), whose failures are printed, not thrown.
// Prints figures; asserts nothing.
//   npx tsx scripts/bench-services.ts [runs]     (default 3)
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { TestBed, USERS, type HostRecord } from '../testbed/bed.js';
import type { InitSystem } from '../testbed/provision.js';

const runs = Number(process.argv[2] ?? 3);
const CLI = process.env.JITSI_JWT_BENCH_CLI ?? 'dist/cli/bin.js';
const bed = new TestBed(`bench-services-${process.pid}`);

interface Run {
  seconds: number;
  exitCode: number;
  restarted: { service: string; seconds?: number }[];
  smokeSeconds?: number;
  error?: string;
}

async function once(host: HostRecord, args: string[], env: Record<string, string>): Promise<Run> {
  const ssh = ['--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile];
  const started = performance.now();
  const result = await execa('node', [CLI, args[0], `${USERS.sudo}@${host.address}`, ...ssh, ...args.slice(1), '--yes', '--json'], { env: { HOME: '/nonexistent', ...env }, reject: false });
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.parse(result.stdout || '{"hosts":[{}]}').hosts[0] ?? {};
  return {
    seconds,
    exitCode: result.exitCode ?? -1,
    restarted: report.applied?.restarted ?? [],
    smokeSeconds: report.smoke?.seconds,
    error: report.error?.message?.split('\n')[0],
  };
}

function describe(run: Run): string {
  if (run.exitCode !== 0) return `exit ${run.exitCode}: ${run.error ?? 'no message'}`;
  const services = run.restarted.map((r) => `${r.service.replace('jitsi-videobridge2', 'jvb')} ${r.seconds === undefined ? '?' : r.seconds.toFixed(1)}`).join(', ');
  return `restarts: ${services || 'none'}; smoke ${run.smokeSeconds?.toFixed(2) ?? '-'} s`;
}

function summary(label: string, all: Run[]): void {
  const sorted = all.map((r) => r.seconds).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(`  ${label.padEnd(22)} median ${median.toFixed(2)} s (min ${sorted[0].toFixed(2)}, max ${sorted[sorted.length - 1].toFixed(2)})  ${describe(all[all.length - 1])}`);
}

try {
  const inits: InitSystem[] = ['systemd', 'sysv'];
  for (const init of inits) await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false, init });
  console.log(`${CLI}, ${runs} runs each, one host at a time`);
  for (const host of await bed.hosts()) {
    const converge: Run[] = [];
    const rotate: Run[] = [];
    for (let i = 0; i < runs; i++) {
      await bed.reset([host.name]);
      converge.push(await once(host, ['apply', '--app-id', 'bench'], { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') }));
      if (converge[i].exitCode === 0) rotate.push(await once(host, ['rotate-secret', '--show-secret'], {}));
    }
    console.log(`${host.name} (${host.init === 'systemd' ? 'systemd' : 'no systemd'})`);
    summary('first converge', converge);
    if (rotate.length > 0) summary('rotate-secret', rotate);
  }
} finally {
  await bed.down();
}
