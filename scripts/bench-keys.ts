// Public-key tokens on one test host: the switch from a shared secret to a
// published public key, rotate-key adding a key (no restart) and retiring one
// (Prosody restarts), each timed once as a whole run with its smoke test; then
// a converged apply re-run and a smoke test with a private key, each over
// several runs. Needs a build (npm run build).
// Prints figures; asserts nothing.
//   npx tsx scripts/bench-keys.ts [runs]     (default 7)
import { execa } from 'execa';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestBed, USERS } from '../testbed/bed.js';

const runs = Number(process.argv[2] ?? 7);
const CLI = ['dist/cli/bin.js'];
const bed = new TestBed(`bench-keys-${process.pid}`);
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'jitsi-jwt-bench-keys-'));

async function keyPair(name: string): Promise<{ key: string; pub: string }> {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = path.join(work, `${name}.key`);
  const pub = path.join(work, `${name}.pub`);
  await fs.writeFile(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await fs.writeFile(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
}

interface Run {
  seconds: number;
  host: { status: string; restarts: string[]; smoke: { cases: unknown[]; seconds: number } | null; timings: { roundTrips: number } };
}

async function once(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const started = performance.now();
  const result = await execa('node', [...CLI, ...args, '--json'], { env: { HOME: '/nonexistent', ...env }, reject: false });
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== 0) throw new Error(`${args[0]} exited ${result.exitCode}:\n${result.stdout}\n${result.stderr}`);
  return { seconds, host: JSON.parse(result.stdout).hosts[0] };
}

function line(label: string, run: Run): string {
  const smoke = run.host.smoke ? `, smoke ${run.host.smoke.cases.length} cases in ${run.host.smoke.seconds.toFixed(2)} s` : '';
  return `${label.padEnd(44)} ${run.seconds.toFixed(2)} s  (${run.host.status}, restarted: ${run.host.restarts.join(' ') || 'nothing'}${smoke}, round trips ${run.host.timings.roundTrips})`;
}

async function median(label: string, args: string[]): Promise<void> {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) all.push(await once(args));
  const sorted = all.map((r) => r.seconds).sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} median ${sorted[Math.floor(runs / 2)].toFixed(3)} s  (min ${sorted[0].toFixed(3)}, max ${sorted[runs - 1].toFixed(3)}; ${all[0].host.status})`);
}

try {
  await bed.up({ suites: ['bookworm'], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  const host = await bed.host('bookworm-1');
  const target = `${USERS.sudo}@${host.address}`;
  const ssh = ['--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile];
  const [a, b] = [await keyPair('a'), await keyPair('b')];
  await once(['apply', target, ...ssh, '--app-id', 'bench', '--yes'], { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') });

  console.log(`one Debian 12 test host, as ${USERS.sudo}`);
  console.log(line('apply: shared secret → published key A', await once(['apply', target, ...ssh, '--public-key', a.pub, '--kid', 'a', '--private-key', a.key, '--yes'])));
  console.log(line('rotate-key --add-public-key B', await once(['rotate-key', target, ...ssh, '--add-public-key', b.pub, '--kid', 'b', '--private-key', `${a.key},${b.key}`, '--yes'])));
  console.log(line('rotate-key --retire-kid A', await once(['rotate-key', target, ...ssh, '--retire-kid', 'a', '--private-key', `${a.key},${b.key}`, '--yes'])));
  console.log(`${runs} runs each`);
  await median('converged apply re-run (RS256 host)', ['apply', target, ...ssh, '--yes']);
  await median('smoke --private-key B', ['smoke', target, ...ssh, '--private-key', b.key]);
} finally {
  await bed.down();
  await fs.rm(work, { recursive: true, force: true });
}
