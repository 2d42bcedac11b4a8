// Smoke test wall time against a converged test host, through the SSH tunnel
// as the sudo user, the way `jitsi-jwt smoke` runs it. Prints figures; asserts nothing.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { TestBed } from '../testbed/bed.js';

const runs = Number(process.argv[2] ?? 5);
const bed = new TestBed(`bench-smoke-${process.pid}`);
try {
  await bed.up({ suites: ['bookworm'], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  const host = await bed.host('bookworm-1');
  const ssh = ['--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile];
  const env = { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url'), HOME: '/nonexistent' };
  let start = Date.now();
  await execa('node', ['dist/cli/bin.js', 'apply', `deploy@${host.address}`, ...ssh, '--app-id', 'bench', '--yes'], { env });
  console.log(`apply on a stock host (install, write, restarts, smoke): ${((Date.now() - start) / 1000).toFixed(2)} s`);
  start = Date.now();
  await execa('node', ['dist/cli/bin.js', 'apply', `deploy@${host.address}`, ...ssh, '--yes'], { env });
  console.log(`second apply (converged, no changes): ${((Date.now() - start) / 1000).toFixed(2)} s`);
  const walls: number[] = [];
  const inner: number[] = [];
  for (let i = 0; i < runs; i++) {
    start = Date.now();
    const run = await execa('node', ['dist/cli/bin.js', 'smoke', `deploy@${host.address}`, ...ssh, '--json'], { env, reject: false });
    walls.push((Date.now() - start) / 1000);
    inner.push(JSON.parse(run.stdout).hosts[0].smoke.seconds);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`jitsi-jwt smoke, ${runs} runs: wall median ${median(walls).toFixed(2)} s (min ${Math.min(...walls).toFixed(2)}), cases alone median ${median(inner).toFixed(2)} s`);
} finally {
  await bed.down();
}
