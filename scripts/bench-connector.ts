// How fast the SSH connector gives up or reports, against a test host: the
// failures a user waits on (a closed port, a silent port, a wrong or missing
// sudo password, a script over its time limit) and a plain login for scale.
// Prints figures; asserts nothing (the end-to-end tests check what happens,
// this measures how long it takes).
import net from 'node:net';
import fs from 'node:fs/promises';
import { TestBed, USERS } from '../testbed/bed.js';
import { connectSsh, parseTarget, type SshOptions } from '../src/connector/ssh.js';
import { sh } from '../src/shell/script.js';

const runs = Number(process.argv[2] ?? 5);
const bed = new TestBed(`bench-connector-${process.pid}`);

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work().catch(() => undefined);
  return (performance.now() - started) / 1000;
}

function summary(label: string, figures: number[]): string {
  const sorted = [...figures].sort((a, b) => a - b);
  return `${label.padEnd(52)} median ${sorted[Math.floor(sorted.length / 2)].toFixed(3)} s  (min ${sorted[0].toFixed(3)}, max ${sorted[sorted.length - 1].toFixed(3)})`;
}

try {
  await bed.up({ suites: ['bookworm'], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  const host = await bed.host('bookworm-1');
  const sudoPassword = (await fs.readFile(bed.sudoPasswordFile, 'utf8')).trim();
  const options = (extra: SshOptions = {}): SshOptions => ({ identityFile: bed.keyFile, knownHostsFile: bed.knownHostsFile, sshConfigFile: '/dev/null', ...extra });
  const attempt = (target: string, extra: SshOptions = {}) => async () => (await connectSsh(parseTarget(target), options(extra))).close();

  const silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as net.AddressInfo).port;

  const cases: [string, () => Promise<unknown>][] = [
    ['login as root (for scale)', attempt(`root@${host.address}`)],
    ['login through passwordless sudo (for scale)', attempt(`${USERS.sudo}@${host.address}`)],
    ['closed port: refused', attempt(`root@${host.address}:1`)],
    ['silent port: connect timeout of 1 s', attempt(`root@127.0.0.1:${silentPort}`, { connectTimeoutMs: 1_000 })],
    ['wrong sudo password: refused', attempt(`${USERS.sudoPassword}@${host.address}`, { sudoPassword: 'not-the-password' })],
    ['no sudo password where one is needed: refused', attempt(`${USERS.sudoPassword}@${host.address}`)],
    ['right sudo password (for scale)', attempt(`${USERS.sudoPassword}@${host.address}`, { sudoPassword })],
    [
      'script over a 1 s limit: ended with 124',
      async () => {
        const c = await connectSsh(parseTarget(`root@${host.address}`), options());
        const started = performance.now();
        await c.run(sh`sleep 30`, { timeoutMs: 1_000 });
        const took = performance.now() - started;
        await c.close();
        return took;
      },
    ],
  ];
  console.log(`connector on a bookworm test host, ${runs} runs each`);
  for (const [label, work] of cases) {
    const figures: number[] = [];
    for (let i = 0; i < runs; i++) figures.push(await seconds(work));
    console.log(summary(label, figures));
  }
  silent.close();
} finally {
  await bed.down();
}
