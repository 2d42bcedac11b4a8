// Fleet wall time: apply on 1, 5 and 10 fresh test hosts (reset between
// rounds), then rotate-secret on all 10, each as one jitsi-jwt run. Prints
// wall time, the slowest host, round trips per host (commands and tunnels over
// its one SSH connection after login), the CPU time jitsi-jwt itself used, and
// the CPU time the whole machine was busy: all test hosts share this
// machine's cores, so a fleet's wall time here is bounded by their sum.
// Prints figures; asserts nothing.
//   npx tsx scripts/bench-fleet.ts [suite]     (default bookworm)
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestBed, type HostRecord } from '../testbed/bed.js';

const suite = (process.argv[2] ?? 'bookworm') as 'bookworm' | 'trixie';
const bed = new TestBed(`bench-fleet-${process.pid}`);
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'jitsi-jwt-bench-'));

interface HostDoc {
  status: string;
  timings: { totalSeconds: number; applySeconds: number | null; roundTrips: number };
}

/** CPU time the machine spent busy so far (all cores), in seconds. */
async function machineBusy(): Promise<number> {
  const fields = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0].split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

async function run(command: string, hosts: HostRecord[], extra: string[], env: Record<string, string> = {}) {
  const busyBefore = await machineBusy();
  const started = Date.now();
  // bash's `times` reports the CPU time of jitsi-jwt (its child) once it exits.
  const result = await execa(
    'bash',
    ['-c', 'node dist/cli/bin.js "$@"; rc=$?; times >&2; exit $rc', 'bench', command, ...hosts.map((h) => `deploy@${h.address}`), '--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--yes', '--json', ...extra],
    { env: { HOME: work, ...env }, reject: false },
  );
  const wall = (Date.now() - started) / 1000;
  const busy = (await machineBusy()) - busyBefore;
  const document = JSON.parse(result.stdout) as { exitCode: number; hosts: HostDoc[] };
  if (document.exitCode !== 0) throw new Error(`${command} on ${hosts.length} hosts exited ${document.exitCode}:\n${result.stdout}`);
  const trips = document.hosts.map((h) => h.timings.roundTrips);
  const toolCpu = (result.stderr.trim().split('\n').pop() ?? '').split(/\s+/).map((t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
  });
  return {
    wall,
    slowest: Math.max(...document.hosts.map((h) => h.timings.totalSeconds)),
    trips: trips.length > 0 ? `${Math.min(...trips)}–${Math.max(...trips)}` : '-',
    toolCpu: toolCpu.reduce((a, b) => a + b, 0),
    busy,
  };
}

try {
  const upStarted = Date.now();
  await bed.up({ suites: [suite], count: 10, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  console.log(`test bed: 10 ${suite} hosts up in ${((Date.now() - upStarted) / 1000).toFixed(1)} s`);
  const hosts = await bed.hosts();
  const rows: string[][] = [];
  const secret = () => ({ JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') });
  // "× one host": against the same command on one host.
  const row = (what: string, r: Awaited<ReturnType<typeof run>>, one: number) =>
    rows.push([what, r.wall.toFixed(1), r.slowest.toFixed(1), (r.wall / one).toFixed(2), r.trips, r.toolCpu.toFixed(1), r.busy.toFixed(1)]);
  let oneApply = 0;
  for (const [count, concurrency] of [[1, 8], [5, 8], [10, 8], [10, 10]]) {
    await bed.reset();
    const r = await run('apply', hosts.slice(0, count), ['--app-id', 'bench', '--concurrency', String(concurrency)], secret());
    if (count === 1) oneApply = r.wall;
    row(`apply, ${count} fresh host${count > 1 ? 's' : ''}, --concurrency ${concurrency}`, r, oneApply);
  }
  const secretOut = ['--secret-out', path.join(work, 'secret')];
  const oneRotate = await run('rotate-secret', hosts.slice(0, 1), secretOut);
  row('rotate-secret, 1 host', oneRotate, oneRotate.wall);
  row('rotate-secret, 10 hosts, --concurrency 8', await run('rotate-secret', hosts, ['--concurrency', '8', ...secretOut]), oneRotate.wall);
  row('rotate-secret, 10 hosts, --concurrency 10', await run('rotate-secret', hosts, ['--concurrency', '10', ...secretOut]), oneRotate.wall);
  row('apply again, 10 converged hosts', await run('apply', hosts, ['--concurrency', '10']), oneApply);

  const header = ['run', 'wall s', 'slowest host s', '× one host', 'round trips/host', 'jitsi-jwt CPU s', 'machine busy CPU s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`\n${line(header)}\n${rows.map(line).join('\n')}`);
  console.log(`\nmachine: ${os.cpus().length} cores shared by every test host; the default --concurrency is 8`);
} finally {
  await bed.down();
  await fs.rm(work, { recursive: true, force: true });
}
