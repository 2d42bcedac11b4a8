// Fleet wall time: apply on 1, 5 and 10 fresh test hosts (reset between
// rounds), then rotate-secret on all 10, each as one jitsi-jwt run with the
// default concurrency. Prints wall time, the slowest host, and round trips
// per host (commands and tunnels over its one SSH connection after login).
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

async function run(command: string, hosts: HostRecord[], extra: string[]) {
  const started = Date.now();
  const result = await execa(
    'node',
    ['dist/cli/bin.js', command, ...hosts.map((h) => `deploy@${h.address}`), '--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--yes', '--json', ...extra],
    { env: { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url'), HOME: work }, reject: false },
  );
  const wall = (Date.now() - started) / 1000;
  const document = JSON.parse(result.stdout) as { exitCode: number; hosts: HostDoc[] };
  if (document.exitCode !== 0) throw new Error(`${command} on ${hosts.length} hosts exited ${document.exitCode}:\n${result.stdout}`);
  const trips = document.hosts.map((h) => h.timings.roundTrips);
  return { wall, slowest: Math.max(...document.hosts.map((h) => h.timings.totalSeconds)), trips: `${Math.min(...trips)}–${Math.max(...trips)}` };
}

try {
  const upStarted = Date.now();
  await bed.up({ suites: [suite], count: 10, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  console.log(`test bed: 10 ${suite} hosts up in ${((Date.now() - upStarted) / 1000).toFixed(1)} s`);
  const hosts = await bed.hosts();
  const rows: string[][] = [];
  let one = 0;
  for (const count of [1, 5, 10]) {
    await bed.reset();
    const r = await run('apply', hosts.slice(0, count), ['--app-id', 'bench']);
    if (count === 1) one = r.wall;
    rows.push([`apply, ${count} fresh host${count > 1 ? 's' : ''}`, r.wall.toFixed(1), r.slowest.toFixed(1), (r.wall / one).toFixed(2), r.trips]);
  }
  const rotate = await run('rotate-secret', hosts, ['--secret-out', path.join(work, 'secret')]);
  rows.push(['rotate-secret, 10 hosts', rotate.wall.toFixed(1), rotate.slowest.toFixed(1), (rotate.wall / one).toFixed(2), rotate.trips]);
  const converged = await run('apply', hosts, []);
  rows.push(['apply again, 10 converged hosts', converged.wall.toFixed(1), converged.slowest.toFixed(1), (converged.wall / one).toFixed(2), converged.trips]);

  const header = ['run', 'wall s', 'slowest host s', '× one host', 'round trips/host'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`\n${line(header)}\n${rows.map(line).join('\n')}`);
  console.log(`\nmachine: ${os.cpus().length} cores, concurrency 8 (default)`);
} finally {
  await bed.down();
  await fs.rm(work, { recursive: true, force: true });
}
