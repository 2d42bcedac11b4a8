// npm run demo: a stock Jitsi-shaped Debian 12 test host, converted to token
// authentication by jitsi-jwt over SSH as a sudo user, exactly as a sysadmin
// would run it: plan, apply (with its smoke test), a second run that changes
// nothing, a token for a meeting, and doctor's read-only check of the result.
import { execa } from 'execa';
import { TestBed } from '../testbed/bed.js';

const say = (line = '') => process.stdout.write(`${line}\n`);
const bed = new TestBed('demo');
const domain = 'meet.test';

await bed.up({ suites: ['bookworm'], count: 1, domain, generation: '2026', brokenProsodyInit: false }, (line) => say(`  ${line}`));
const host = await bed.host('bookworm-1');
await bed.reset([host.name]);
const target = `deploy@${host.address}`;
const ssh = ['--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile];

async function jitsiJwt(args: string[]): Promise<number> {
  say(`\n$ jitsi-jwt ${args.join(' ')}`);
  const run = await execa('node', ['dist/cli/bin.js', ...args], { stdout: 'inherit', stderr: 'inherit', reject: false, env: { FORCE_COLOR: '1' } });
  return run.exitCode ?? 1;
}

say(`Test host ${host.name} (${host.address}): Debian 12, Prosody with Jitsi's stock domain config for ${domain}, anonymous logins.`);
if (process.argv.includes('--interactive')) {
  say(`\n$ jitsi-jwt setup ${target} ${ssh.join(' ')}`);
  const run = await execa('node', ['dist/cli/bin.js', 'setup', target, ...ssh], { stdio: 'inherit', reject: false });
  say(`\nThe host keeps running: ${bed.sshCommand(host)}   (stop it: npm run testbed -- down --bed demo)`);
  process.exit(run.exitCode ?? 1);
}
await jitsiJwt(['plan', target, ...ssh, '--app-id', 'demo_backend']);
const applied = await jitsiJwt(['apply', target, ...ssh, '--app-id', 'demo_backend', '--yes']);
await jitsiJwt(['apply', target, ...ssh, '--yes']);
await jitsiJwt(['token', target, ...ssh, '--room', 'Standup', '--name', 'Ada', '--url']);
await jitsiJwt(['doctor', target, ...ssh]);
say(`\nThe host keeps running: ${bed.sshCommand(host)}   (stop it: npm run testbed -- down --bed demo)`);
process.exitCode = applied;
