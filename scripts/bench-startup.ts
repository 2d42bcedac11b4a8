// How fast the CLI answers: node alone, --help, a typo, a converged apply
// re-run on a test host (as root and through passwordless sudo) and doctor on
// it, each timed as a whole process over several runs, with the run's own
// breakdown (connect, read, round trips) from its JSON document. Needs a build
// (npm run build).
// Prints figures; asserts nothing.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { TestBed, USERS } from '../testbed/bed.js';

const runs = Number(process.argv[2] ?? 9);
const CLI = ['dist/cli/bin.js'];

async function wall(command: string, args: string[], env: Record<string, string> = {}): Promise<{ seconds: number; stdout: string }> {
  const started = performance.now();
  const result = await execa(command, args, { env, reject: false });
  return { seconds: (performance.now() - started) / 1000, stdout: result.stdout };
}

function figures(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return `${label.padEnd(46)} median ${median.toFixed(3)} s  (min ${sorted[0].toFixed(3)}, max ${sorted[sorted.length - 1].toFixed(3)})`;
}

async function timed(label: string, command: string, args: string[], env?: Record<string, string>): Promise<string[]> {
  const seconds: number[] = [];
  const outputs: string[] = [];
  for (let i = 0; i < runs; i++) {
    const run = await wall(command, args, env);
    seconds.push(run.seconds);
    outputs.push(run.stdout);
  }
  console.log(figures(label, seconds));
  return outputs;
}

console.log(`${runs} runs each`);
await timed('node -e 0', 'node', ['-e', '0']);
await timed('jitsi-jwt --help', 'node', [...CLI, '--help']);
await timed('jitsi-jwt plan --concurency 3 (a typo)', 'node', [...CLI, 'plan', '--concurency', '3']);

const bed = new TestBed(`bench-startup-${process.pid}`);
try {
  await bed.up({ suites: ['bookworm'], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  const host = await bed.host('bookworm-1');
  const env = { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url'), HOME: '/nonexistent' };
  const ssh = ['--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile];
  await execa('node', [...CLI, 'apply', `${USERS.sudo}@${host.address}`, ...ssh, '--app-id', 'bench', '--yes', '--no-smoke'], { env });
  for (const user of [USERS.root, USERS.sudo]) {
    const documents = await timed(`converged apply re-run as ${user}`, 'node', [...CLI, 'apply', `${user}@${host.address}`, ...ssh, '--yes', '--json'], env);
    const hosts = documents.map((d) => JSON.parse(d).hosts[0]);
    const median = (key: 'connectSeconds' | 'readSeconds' | 'totalSeconds') => [...hosts.map((h) => h.timings[key] as number)].sort((a, b) => a - b)[Math.floor(hosts.length / 2)];
    console.log(
      `  inside the run: connect and become root ${median('connectSeconds').toFixed(3)} s, lock and read ${median('readSeconds').toFixed(3)} s, ` +
        `host total ${median('totalSeconds').toFixed(3)} s, round trips ${hosts[0].timings.roundTrips}, status ${hosts[0].status}`,
    );
  }
  const doctors = await timed(`doctor on the converged host as ${USERS.sudo}`, 'node', [...CLI, 'doctor', `${USERS.sudo}@${host.address}`, ...ssh, '--json'], env);
  console.log(`  round trips ${JSON.parse(doctors[0]).hosts[0].roundTrips}, status ${JSON.parse(doctors[0]).hosts[0].status}`);
} finally {
  await bed.down();
}
