// The connectors against a real sshd on a test host: logins as root and via
// sudo (with and without a password), ~/.ssh/config aliases and ProxyJump,
// host key checking as OpenSSH does it, failures that end an attempt with a
// typed error (how fast they do is measured by scripts/bench-connector.ts),
// a connection dropped mid-run, the host lock, and the tunnel to Prosody.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, USERS, type HostRecord } from '../../testbed/bed.js';
import { connectSsh, parseTarget, type SshOptions } from '../../src/connector/ssh.js';
import { connectLocal } from '../../src/connector/local.js';
import type { Connector } from '../../src/connector/types.js';
import { lockScript, parseLockAnswer } from '../../src/apply/scripts.js';
import { heredoc, sh } from '../../src/shell/script.js';

const DOMAIN = 'meet.test';
/** A script that holds a flock while its channel is open, and exits silently when another holds it (hold()'s semantics, not the tool's lock). */
const FLOCK_SCRIPT = sh`exec flock -n /var/tmp/connector-test.lock sh -c 'echo locked; exec cat >/dev/null'`;
const bed = new TestBed(`e2e-connector-${process.pid}`);
let host: HostRecord;
let sudoPassword: string;
let scratch: string;
/** The host's real key, as `ssh-keygen -lf` prints its fingerprint. */
let hostKeyFingerprint: string;

beforeAll(async () => {
  await bed.up({ suites: ['bookworm'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
  host = await bed.host('bookworm-1');
  sudoPassword = (await fs.readFile(bed.sudoPasswordFile, 'utf8')).trim();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'connector-e2e-'));
  const { stdout } = await execa('ssh-keygen', ['-lf', path.join(bed.hostDir(host.name), 'ssh_host_ed25519_key.pub')]);
  hostKeyFingerprint = stdout.split(/\s+/)[1];
});

afterAll(async () => {
  await bed.down();
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

const open: Connector[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => {})));
});

/** Options that use only the bed's files (no ~/.ssh of whoever runs the tests). */
function bedOptions(extra: SshOptions = {}): SshOptions {
  return { identityFile: bed.keyFile, knownHostsFile: bed.knownHostsFile, sshConfigFile: '/dev/null', ...extra };
}

async function connect(target: string, options: SshOptions = bedOptions()): Promise<Connector> {
  const connector = await connectSsh(parseTarget(target), options);
  open.push(connector);
  return connector;
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  );
  if ('value' in outcome) {
    if (outcome.value && typeof (outcome.value as Connector).close === 'function') await (outcome.value as Connector).close();
    throw new Error('expected a failure, got a result');
  }
  return outcome.error;
}

describe('logging in', () => {
  it('as root by key', async () => {
    const c = await connect(`root@${host.address}`);
    expect(c.label).toBe(`root@${host.address}:22`);
    expect(await c.run(sh`id -un; id -u; echo oops >&2; exit 3`)).toEqual({ stdout: 'root\n0\n', stderr: 'oops\n', code: 3 });
  });

  it('as deploy through passwordless sudo', async () => {
    const c = await connect(`${USERS.sudo}@${host.address}:22`);
    expect(c.label).toBe(`deploy@${host.address}:22`);
    expect(await c.run(sh`id -u; echo "$SUDO_USER"`)).toMatchObject({ stdout: '0\ndeploy\n', code: 0 });
  });

  it('as sysadmin with the sudo password, which never shows in a process list', async () => {
    const c = await connect(`${USERS.sudoPassword}@${host.address}`, bedOptions({ sudoPassword }));
    const result = await c.run(sh`id -u; ps -eo args`);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('0');
    expect(result.stdout).toContain('sudo -k -S -p  -- sh -s');
    expect(result.stdout).not.toContain(sudoPassword);
    expect(result.stderr).toBe('');
  });

  it('refuses sysadmin with a wrong sudo password, at connect time', async () => {
    const error = await failure(connect(`${USERS.sudoPassword}@${host.address}`, bedOptions({ sudoPassword: 'not-the-password' })));
    expect(error.name).toBe('SudoError');
    expect(error.code).toBe('sudo');
    expect(error.message).toMatch(/rejected the password/);
    expect(error.message).toContain(host.address);
  });

  it('refuses sysadmin without a sudo password, naming --sudo-password-stdin', async () => {
    const error = await failure(connect(`${USERS.sudoPassword}@${host.address}`));
    expect(error.name).toBe('SudoError');
    expect(error.message).toContain('--sudo-password-stdin');
  });

  it('through ssh-agent when SSH_AUTH_SOCK is set and no key file is given', async () => {
    const socket = path.join(scratch, 'agent.sock');
    const agent = execa('ssh-agent', ['-D', '-a', socket], { reject: false });
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      for (let i = 0; i < 100 && !(await fs.stat(socket).catch(() => undefined)); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await execa('ssh-add', ['-q', bed.keyFile], { env: { SSH_AUTH_SOCK: socket } });
      process.env.SSH_AUTH_SOCK = socket;
      const c = await connect(`${USERS.sudo}@${host.address}`, { knownHostsFile: bed.knownHostsFile, sshConfigFile: '/dev/null' });
      expect((await c.run(sh`id -u`)).stdout).toBe('0\n');
      await execa('ssh-add', ['-D'], { env: { SSH_AUTH_SOCK: socket } });
      const error = await failure(connect(`root@${host.address}`, { knownHostsFile: bed.knownHostsFile, sshConfigFile: '/dev/null' }));
      expect(error.name).toBe('AuthenticationError');
      expect(error.message).toContain('ssh-agent');
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.kill();
      await agent;
    }
  });

  it('refuses a key the server does not know, listing what was tried', async () => {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(scratch, 'stranger')]);
    const error = await failure(connect(`root@${host.address}`, bedOptions({ identityFile: path.join(scratch, 'stranger') })));
    expect(error.name).toBe('AuthenticationError');
    expect(error.code).toBe('authentication');
    expect(error.message).toContain(`key ${path.join(scratch, 'stranger')}`);
    expect(error.message).toContain('--identity');
  });

  it('says why a passphrase-protected key cannot be used without an agent', async () => {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', path.join(scratch, 'locked')]);
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const error = await failure(connect(`root@${host.address}`, bedOptions({ identityFile: path.join(scratch, 'locked') })));
      expect(error.name).toBe('AuthenticationError');
      expect(error.message).toMatch(/passphrase.*ssh-add/);
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });
});

describe('~/.ssh/config', () => {
  it('follows an alias: HostName, User, Port, IdentityFile, UserKnownHostsFile', async () => {
    const config = path.join(scratch, 'alias_config');
    await fs.writeFile(
      config,
      ['Host jitsi-alias', `  HostName ${host.address}`, '  User deploy', '  Port 22', `  IdentityFile ${bed.keyFile}`, `  UserKnownHostsFile ${bed.knownHostsFile}`, ''].join('\n'),
    );
    const c = await connect('jitsi-alias', { sshConfigFile: config });
    expect(c.label).toBe(`deploy@${host.address}:22`);
    expect((await c.run(sh`id -u; echo "$SUDO_USER"`)).stdout).toBe('0\ndeploy\n');
  });

  it("reads the test bed's own ssh_config", async () => {
    const c = await connect(`${USERS.sudo}@${host.name}`, { sshConfigFile: bed.sshConfigFile });
    expect(c.label).toBe(`deploy@${host.address}:22`);
    expect((await c.run(sh`id -u`)).stdout).toBe('0\n');
  });

  it('goes through a ProxyJump host (an alias with its own config) to a name only the jump host resolves', async () => {
    const config = path.join(scratch, 'jump_config');
    await fs.writeFile(
      config,
      [
        'Host jump',
        `  HostName ${host.address}`,
        '  User root',
        'Host behind-jump',
        // The host's own /etc/hosts names itself; this machine cannot resolve that name.
        `  HostName ${host.name}`,
        `  HostKeyAlias ${host.address}`,
        '  User deploy',
        '  ProxyJump jump',
        'Host *',
        `  IdentityFile ${bed.keyFile}`,
        `  UserKnownHostsFile ${bed.knownHostsFile}`,
        '',
      ].join('\n'),
    );
    await expect(execa('getent', ['hosts', host.name])).rejects.toThrow();
    const c = await connect('behind-jump', { sshConfigFile: config });
    expect(c.label).toBe(`deploy@${host.name}:22`);
    expect((await c.run(sh`id -u; echo "$SUDO_USER"`)).stdout).toBe('0\ndeploy\n');
  });
});

describe('host keys', () => {
  async function knownHosts(name: string, text: string): Promise<string> {
    const file = path.join(scratch, name);
    await fs.writeFile(file, text);
    return file;
  }

  it('refuses a changed host key, showing both fingerprints, the file and line, and the fix', async () => {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(scratch, 'impostor')]);
    const impostor = (await fs.readFile(path.join(scratch, 'impostor.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    const impostorFingerprint = (await execa('ssh-keygen', ['-lf', path.join(scratch, 'impostor.pub')])).stdout.split(/\s+/)[1];
    const file = await knownHosts('changed_known_hosts', `# first line\nother.example ${impostor}\n${host.address} ${impostor}\n`);
    const error = await failure(connect(`root@${host.address}`, bedOptions({ knownHostsFile: file, acceptNewHostKey: true })));
    expect(error.name).toBe('HostKeyChangedError');
    expect(error.code).toBe('host-key-changed');
    expect(error.message).toContain(impostorFingerprint);
    expect(error.message).toContain(hostKeyFingerprint);
    expect(error.message).toContain(`${file} line 3`);
    expect(error.message).toContain(`ssh-keygen -R ${host.address}`);
    // Nothing was added: a changed key is never "accepted as new".
    expect(await fs.readFile(file, 'utf8')).toBe(`# first line\nother.example ${impostor}\n${host.address} ${impostor}\n`);
  });

  it('refuses a revoked host key', async () => {
    const real = readFileSync(bed.knownHostsFile, 'utf8').trim().split(' ').slice(1).join(' ');
    const file = await knownHosts('revoked_known_hosts', `${host.address} ${real}\n@revoked * ${real}\n`);
    const error = await failure(connect(`root@${host.address}`, bedOptions({ knownHostsFile: file })));
    expect(error.name).toBe('HostKeyChangedError');
    expect(error.message).toMatch(/revoked/);
  });

  it('refuses an unknown host, showing the fingerprint and how to accept it', async () => {
    const file = await knownHosts('empty_known_hosts', '');
    const error = await failure(connect(`root@${host.address}`, bedOptions({ knownHostsFile: file })));
    expect(error.name).toBe('HostKeyUnknownError');
    expect(error.code).toBe('host-key-unknown');
    expect(error.message).toContain(hostKeyFingerprint);
    expect(error.message).toContain('--accept-new-host-key');
    expect(await fs.readFile(file, 'utf8')).toBe('');
  });

  it('with acceptNewHostKey, writes the line OpenSSH would and connects; OpenSSH then trusts the file', async () => {
    const file = path.join(scratch, 'new', 'known_hosts'); // the directory does not exist yet
    const c = await connect(`root@${host.address}`, bedOptions({ knownHostsFile: file, acceptNewHostKey: true }));
    expect((await c.run(sh`id -u`)).stdout).toBe('0\n');
    expect(await fs.readFile(file, 'utf8')).toBe(await fs.readFile(bed.knownHostsFile, 'utf8'));
    const ssh = await execa('ssh', ['-F', '/dev/null', '-i', bed.keyFile, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${file}`, '-o', 'GlobalKnownHostsFile=/dev/null', `root@${host.address}`, 'id -u']);
    expect(ssh.stdout).toBe('0');
    // Known now: the second connection needs no acceptance.
    await connect(`root@${host.address}`, bedOptions({ knownHostsFile: file }));
  });

  it('asks confirmNewHostKey about an unknown key, and honours the answer', async () => {
    const file = await knownHosts('confirm_known_hosts', '');
    const asked: [string, string][] = [];
    const no = await failure(connect(`root@${host.address}`, bedOptions({ knownHostsFile: file, confirmNewHostKey: async (fp, name) => (asked.push([fp, name]), false) })));
    expect(no.name).toBe('HostKeyUnknownError');
    expect(asked).toEqual([[hostKeyFingerprint, host.address]]);
    await connect(`root@${host.address}`, bedOptions({ knownHostsFile: file, confirmNewHostKey: async () => true }));
    expect(await fs.readFile(file, 'utf8')).toMatch(new RegExp(`^${host.address.replace(/\./g, '\\.')} ssh-ed25519 `));
  });

  it('accepts hashed entries (ssh-keygen -H)', async () => {
    const file = await knownHosts('hashed_known_hosts', await fs.readFile(bed.knownHostsFile, 'utf8'));
    await execa('ssh-keygen', ['-H', '-f', file]);
    const hashed = await fs.readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(hashed).not.toContain(host.address);
    const c = await connect(`root@${host.address}`, bedOptions({ knownHostsFile: file }));
    expect((await c.run(sh`id -u`)).stdout).toBe('0\n');
  });
});

describe('failures that end an attempt', () => {
  it('a closed port is HostUnreachableError', async () => {
    const error = await failure(connect(`root@${host.address}:1`));
    expect(error.name).toBe('HostUnreachableError');
    expect(error.code).toBe('host-unreachable');
    expect(error.message).toContain(`${host.address}:1`);
    expect(error.message).toMatch(/refused/);
  });

  it('a port that never speaks SSH is HostUnreachableError after the connect timeout', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const error = await failure(connect(`root@127.0.0.1:${port}`, bedOptions({ connectTimeoutMs: 1_000 })));
      expect(error.name).toBe('HostUnreachableError');
      expect(error.message).toMatch(/within 1 s/);
    } finally {
      silent.close();
    }
  });

  it('a script over its time limit ends with code 124', async () => {
    const c = await connect(`root@${host.address}`);
    const result = await c.run(sh`echo started; sleep 30`, { timeoutMs: 1_000 });
    expect(result.code).toBe(124);
    expect(result.stdout).toBe('started\n');
    expect(result.stderr).toMatch(/timed out/);
    expect((await c.run(sh`echo still usable`)).stdout).toBe('still usable\n');
  });
});

/**
 * Kills the sshd processes serving the session of the process that has PID
 * `nsPid` inside the host (and that process too, unless told otherwise).
 */
async function killSessionOf(nsPid: number, options: { sparingTheScript?: boolean } = {}): Promise<void> {
  const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (pid: number, name: string) => status(pid).match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1] ?? '';
  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  const onHost = new Set(await bed.processes(await bed.host(host.name)));
  const script = [...onHost].find((pid) => Number(field(pid, 'NSpid').split(/\s+/).pop()) === nsPid);
  if (!script) throw new Error(`no process ${nsPid} on ${host.name}`);
  // Up from the script (through sudo, if any) to sshd's listener: the sshd processes in between serve this connection.
  const sessions: number[] = [];
  for (let pid = Number(field(script, 'PPid')); onHost.has(pid) && !cmdline(pid).includes('[listener]'); pid = Number(field(pid, 'PPid'))) {
    if (cmdline(pid).startsWith('sshd')) sessions.push(pid);
  }
  expect(sessions.length).toBeGreaterThan(0);
  for (const pid of sessions) process.kill(pid, 'SIGKILL');
  if (!options.sparingTheScript) process.kill(script, 'SIGKILL');
}

async function waitForFile(file: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${file} never appeared`);
}

describe('a connection dropped mid-run', () => {
  it('rejects the running script with ConnectionLostError instead of hanging, and every later call too', async () => {
    const c = await connect(`root@${host.address}`);
    const pidFile = path.join(bed.hostRoot(host.name), 'var/tmp/dropped.pid');
    await fs.rm(pidFile, { force: true });
    const running = c.run(sh`echo $$ > /var/tmp/dropped.pid; exec sleep 300`);
    const outcome = running.catch((error: Error) => error);
    await killSessionOf(Number((await waitForFile(pidFile)).trim()));
    const error = await outcome;
    expect((error as Error).name).toBe('ConnectionLostError');
    expect((error as Error & { code: string }).code).toBe('connection-lost');
    expect((error as Error).message).toContain(host.address);
    await expect(c.run(sh`true`)).rejects.toMatchObject({ name: 'ConnectionLostError' });
    await expect(c.openTunnel(host.address, 5280)).rejects.toMatchObject({ name: 'ConnectionLostError' });
  });

  it('takes a held lock with it', async () => {
    const a = await connect(`${USERS.sudo}@${host.address}`);
    const b = await connect(`root@${host.address}`);
    const pidFile = path.join(bed.hostRoot(host.name), 'var/tmp/holder.pid');
    await fs.rm(pidFile, { force: true });
    const held = await a.hold(sh`echo $$ > /var/tmp/holder.pid\n${FLOCK_SCRIPT}`);
    expect(held.firstLine).toBe('locked');
    await expect(b.hold(FLOCK_SCRIPT)).rejects.toMatchObject({ name: 'ScriptExitedError' });
    // The holder runs as root under sudo; only its sshd session is killed, the lock must go by itself.
    await killSessionOf(Number((await waitForFile(pidFile)).trim()), { sparingTheScript: true });
    let again: Awaited<ReturnType<Connector['hold']>> | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      again = await b.hold(FLOCK_SCRIPT).catch(() => undefined);
      if (!again) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(again?.firstLine).toBe('locked');
    await again?.release();
    await held.release(); // after the loss: returns, does not hang
  });
});

describe('hold()', () => {
  it('a second hold on the same flock fails while the first holds, and succeeds after release()', async () => {
    const first = await connect(`${USERS.sudoPassword}@${host.address}`, bedOptions({ sudoPassword }));
    const second = await connect(`${USERS.sudo}@${host.address}`);
    const held = await first.hold(FLOCK_SCRIPT);
    expect(held.firstLine).toBe('locked');
    const error = await failure(second.hold(FLOCK_SCRIPT));
    expect(error.name).toBe('ScriptExitedError');
    // The first connection still runs scripts while it holds the lock.
    expect((await first.run(sh`id -u`)).stdout).toBe('0\n');
    await held.release();
    const after = await second.hold(FLOCK_SCRIPT);
    expect(after.firstLine).toBe('locked');
    await after.release();
  });

  it("works with the tool's lock script: busy as a line naming the holder, not an exit", async () => {
    const c = await connect(`root@${host.address}`);
    const script = lockScript();
    const first = await c.hold(script);
    const second = await c.hold(script);
    expect(parseLockAnswer(first.firstLine)).toEqual({ state: 'locked' });
    expect(parseLockAnswer(second.firstLine)).toMatchObject({ state: 'busy', pid: expect.any(Number), user: 'root' });
    await Promise.all([second.release(), first.release()]);
    const third = await c.hold(script);
    expect(third.firstLine).toBe('locked');
    await third.release();
  });
});

describe('scripts go over stdin', () => {
  it('carries a large script and a large output intact', async () => {
    const c = await connect(`${USERS.sudo}@${host.address}`);
    const payload = 'x'.repeat(200_000);
    const result = await c.run(sh`cat ${heredoc(payload)} | wc -c\nhead -c 3000000 /dev/zero | tr '\\0' y`);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith(`${payload.length + 1}\n`)).toBe(true);
    expect(result.stdout.length).toBe(`${payload.length + 1}\n`.length + 3_000_000);
  });

  it('runs several scripts at once on the one connection', async () => {
    const c = await connect(`root@${host.address}`);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => c.run(sh`sleep 0.2; echo ${i}`)));
    expect(results.map((r) => r.stdout)).toEqual(['0\n', '1\n', '2\n', '3\n', '4\n', '5\n']);
  });
});

async function httpGet(stream: Duplex, requestPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let response = '';
    stream.on('data', (chunk: Buffer) => (response += chunk.toString('utf8')));
    stream.on('end', () => resolve(response));
    stream.on('close', () => resolve(response));
    stream.on('error', reject);
    stream.write(`GET ${requestPath} HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: close\r\n\r\n`);
  });
}

describe('openTunnel()', () => {
  it("reaches Prosody's HTTP port as seen from the host", async () => {
    const c = await connect(`${USERS.sudo}@${host.address}`);
    const response = await httpGet(await c.openTunnel(host.address, 5280), '/http-bind');
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('says so when nothing listens there', async () => {
    const c = await connect(`root@${host.address}`);
    await expect(c.openTunnel(host.address, 1)).rejects.toMatchObject({ name: 'TunnelError', code: 'tunnel' });
  });
});

describe('the local connector', () => {
  it('runs scripts as root, holds, and connects to the host directly', async () => {
    const c = connectLocal({});
    open.push(c);
    expect(c.label).toBe('local');
    expect(await c.run(sh`id -u; echo oops >&2; exit 4`)).toEqual({ stdout: '0\n', stderr: 'oops\n', code: 4 });
    expect((await c.run(sh`sleep 30`, { timeoutMs: 500 })).code).toBe(124);
    const lock = path.join(scratch, 'local.lock');
    const script = sh`exec flock -n ${lock} sh -c 'echo locked; exec cat >/dev/null'`;
    const held = await c.hold(script);
    expect(held.firstLine).toBe('locked');
    await expect(c.hold(script)).rejects.toMatchObject({ name: 'ScriptExitedError' });
    await held.release();
    const again = await c.hold(script);
    await again.release();
    expect(await httpGet(await c.openTunnel(host.address, 5280), '/http-bind')).toMatch(/^HTTP\/1\.1 200 /);
    await expect(c.openTunnel(host.address, 1)).rejects.toMatchObject({ name: 'TunnelError' });
  });
});
