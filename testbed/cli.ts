// npm run testbed -- up|down|reset|status [options]
import { parseArgs } from 'node:util';
import { SUITES, type Suite } from './rootfs-image.js';
import { TestBed, USERS } from './bed.js';

const USAGE = `usage: npm run testbed -- <up|down|reset|status> [options]

  up       create and boot hosts (adds to the bed; boots hosts that are stopped)
  down     stop every host of the bed and delete it (no process, mount or socket is left) [--all: every bed]
  reset    put hosts back to their freshly provisioned state and boot them [--host NAME]
  status   list the hosts and how to ssh in

options:
  --bed NAME             test bed name (default: default)
  --suite S[,S]          bookworm, trixie or both (default: bookworm)
  --count N              hosts of each suite (default: 1)
  --domain DOMAIN        Jitsi domain on the hosts (default: meet.test)
  --generation 2024|2026 shape of Jitsi's stock domain file: 2024 has no WebSocket (default: 2026)
  --plugins DIR          install DIR as /usr/share/jitsi-meet/prosody-plugins (e.g. Jitsi's own)
  --domain-config FILE   use FILE as the domain config (jitmeet.example.com is replaced by the domain)
  --init systemd|sysv    PID 1 of the hosts: systemd, as on servers (default), or the test bed's own init
  --broken-prosody-init  keep Debian 12's prosody init script that cannot restart Prosody on Lua 5.4 (sysv hosts)
  --host NAME            with reset: only this host (repeatable)
`;

function fail(message: string): never {
  process.stderr.write(`testbed: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      bed: { type: 'string', default: 'default' },
      suite: { type: 'string', default: 'bookworm' },
      count: { type: 'string', default: '1' },
      domain: { type: 'string', default: 'meet.test' },
      generation: { type: 'string', default: '2026' },
      plugins: { type: 'string' },
      'domain-config': { type: 'string' },
      'broken-prosody-init': { type: 'boolean', default: false },
      init: { type: 'string' },
      host: { type: 'string', multiple: true, default: [] },
      all: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const command = positionals[0];
  if (process.getuid?.() !== 0) fail('the test bed needs root (namespaces, chroot, mounts)');
  const bed = new TestBed(values.bed);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  switch (command) {
    case 'up': {
      const suites = values.suite.split(',').map((s) => s.trim());
      for (const suite of suites) if (!(SUITES as readonly string[]).includes(suite)) fail(`unknown suite "${suite}" (use ${SUITES.join(' or ')})`);
      const count = Number(values.count);
      if (!Number.isInteger(count) || count < 1 || count > 50) fail(`--count must be a whole number from 1 to 50, not "${values.count}"`);
      if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(values.domain)) fail(`"${values.domain}" is not a valid domain name`);
      if (values.generation !== '2024' && values.generation !== '2026') fail('--generation must be 2024 or 2026');
      if (values.init !== undefined && values.init !== 'systemd' && values.init !== 'sysv') fail('--init must be systemd or sysv');
      const timings = await bed.up(
        {
          suites: suites as Suite[],
          count,
          domain: values.domain,
          generation: values.generation,
          pluginsDir: values.plugins,
          domainConfigFile: values['domain-config'],
          brokenProsodyInit: values['broken-prosody-init'],
          init: values.init as 'systemd' | 'sysv' | undefined,
        },
        log,
      );
      for (const t of timings) log(`  ${t.what}: ${t.seconds.toFixed(1)} s`);
      await printStatus(bed);
      break;
    }
    case 'down':
      for (const each of values.all ? await TestBed.all() : [bed]) await each.down(log);
      break;
    case 'reset':
      await bed.reset(values.host, log);
      await printStatus(bed);
      break;
    case 'status':
      await printStatus(bed);
      break;
    default:
      fail(command ? `unknown command "${command}"` : 'missing command');
  }
}

async function printStatus(bed: TestBed): Promise<void> {
  const hosts = await bed.hosts();
  if (hosts.length === 0) {
    process.stdout.write(`test bed "${bed.name}" has no hosts (npm run testbed -- up)\n`);
    return;
  }
  const lines = [`test bed "${bed.name}" (${bed.dir})`];
  for (const host of hosts) {
    const state = (await bed.isRunning(host)) ? 'running' : 'stopped';
    lines.push(
      '',
      `${host.name}  ${host.address}  ${host.suite}  ${host.domain}  ${state}  ${host.init === 'systemd' ? 'systemd' : 'no systemd'}${host.brokenProsodyInit ? '  (stock Debian 12 prosody init)' : ''}`,
      `  root:              ${bed.sshCommand(host)}`,
      `  passwordless sudo: ${bed.sshCommand(host, USERS.sudo)}`,
      `  sudo by password:  ${bed.sshCommand(host, USERS.sudoPassword)}   (password in ${bed.sudoPasswordFile})`,
      `  prosody:           http://${host.address}:5280/http-bind (Host: ${host.domain})`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`testbed: ${error.message}\n`);
  process.exit(1);
});
