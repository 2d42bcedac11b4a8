// A test bed: named set of disposable Debian hosts on this machine, each in its
// own mount/PID/UTS namespace and chroot, sharing the network namespace, each
// on its own loopback address where its sshd and Prosody listen.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { withLock } from './lock.js';
import { ensureImage, type Suite } from './rootfs-image.js';
import { provisionHost, type HostSpec } from './provision.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BOOT_SCRIPT = path.join(HERE, 'boot-host.sh');

const BED_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function stateRoot(): string {
  return process.env.JITSI_JWT_TESTBED_STATE ?? '/var/lib/jitsi-jwt-testbed';
}

export const USERS = {
  root: 'root',
  /** passwordless sudo */
  sudo: 'deploy',
  /** sudo asks for the password in the bed's `sudo-password` file */
  sudoPassword: 'sysadmin',
} as const;

export interface HostRecord extends HostSpec {
  /** PID (in this machine's namespace) of the unshare process holding the host's namespaces. */
  unsharePid?: number;
  bootId?: string;
}

interface BedFile {
  hosts: HostRecord[];
}

export interface UpOptions {
  suites: Suite[];
  count: number;
  domain: string;
  generation: '2024' | '2026';
  pluginsDir?: string;
  domainConfigFile?: string;
  brokenProsodyInit: boolean;
}

export interface Timing {
  what: string;
  seconds: number;
}

export class TestBed {
  readonly dir: string;

  constructor(readonly name = 'default') {
    if (!BED_NAME.test(name)) throw new Error(`test bed name "${name}" must be lower-case letters, digits and dashes`);
    this.dir = path.join(stateRoot(), name);
  }

  /** Every bed under the state root. */
  static async all(): Promise<TestBed[]> {
    const names = await fs.readdir(stateRoot()).catch(() => [] as string[]);
    return names.filter((name) => BED_NAME.test(name)).map((name) => new TestBed(name));
  }

  get keyFile(): string {
    return path.join(this.dir, 'id_ed25519');
  }
  get knownHostsFile(): string {
    return path.join(this.dir, 'known_hosts');
  }
  get sshConfigFile(): string {
    return path.join(this.dir, 'ssh_config');
  }
  get sudoPasswordFile(): string {
    return path.join(this.dir, 'sudo-password');
  }
  hostDir(host: string): string {
    return path.join(this.dir, 'hosts', host);
  }
  /** The host's root as it runs: an overlay of its provisioned base and the writes since its last reset. */
  hostRoot(host: string): string {
    return path.join(this.hostDir(host), 'root');
  }
  /** The provisioned root file system, never written once provisioned: reset() drops the overlay's writes instead of provisioning again. */
  private baseDir(host: string): string {
    return path.join(this.hostDir(host), 'base');
  }

  async hosts(): Promise<HostRecord[]> {
    try {
      const file = JSON.parse(await fs.readFile(path.join(this.dir, 'bed.json'), 'utf8')) as BedFile;
      return file.hosts;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async host(name: string): Promise<HostRecord> {
    const host = (await this.hosts()).find((h) => h.name === name);
    if (!host) throw new Error(`test bed "${this.name}" has no host "${name}"`);
    return host;
  }

  private async saveHosts(hosts: HostRecord[]): Promise<void> {
    const file = path.join(this.dir, 'bed.json');
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await fs.writeFile(temp, JSON.stringify({ hosts } satisfies BedFile, null, 2));
    await fs.rename(temp, file);
    await this.writeSshFiles(hosts);
  }

  private async updateHost(name: string, change: Partial<HostRecord>): Promise<HostRecord> {
    return withLock(path.join(this.dir, 'bed.lock'), async () => {
      const hosts = await this.hosts();
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`test bed "${this.name}" has no host "${name}"`);
      Object.assign(host, change);
      await this.saveHosts(hosts);
      return host;
    });
  }

  /** Makes sure the bed has `count` hosts of each suite and that all of them run. */
  async up(options: UpOptions, log: (line: string) => void = () => {}): Promise<Timing[]> {
    const timings: Timing[] = [];
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.ensureKeys();
    const images = new Map<Suite, string>();
    for (const suite of options.suites) {
      const image = await ensureImage(suite, log);
      images.set(suite, image.tarball);
      timings.push({ what: `${suite} image ${image.built ? 'built' : 'cached'}`, seconds: image.seconds });
    }
    const created = await withLock(path.join(this.dir, 'bed.lock'), async () => {
      const hosts = await this.hosts();
      const fresh: HostRecord[] = [];
      const wanted = options.suites.flatMap((suite) => {
        const ofSuite = hosts.filter((h) => h.suite === suite).length;
        return Array.from({ length: Math.max(0, options.count - ofSuite) }, (_, k) => ({ suite, index: ofSuite + k + 1 }));
      });
      const addresses = await leaseAddresses(this.dir, wanted.length);
      for (const suite of options.suites) {
        for (const { index: i } of wanted.filter((w) => w.suite === suite)) {
          const address = addresses.shift()!;
          const host: HostRecord = {
            name: `${suite}-${i}`,
            suite,
            address,
            domain: options.domain,
            generation: options.generation,
            pluginsDir: options.pluginsDir ? path.resolve(options.pluginsDir) : undefined,
            domainConfigFile: options.domainConfigFile ? path.resolve(options.domainConfigFile) : undefined,
            brokenProsodyInit: options.brokenProsodyInit,
            focusPassword: randomBytes(12).toString('base64url'),
          };
          fresh.push(host);
          hosts.push(host);
        }
      }
      await this.saveHosts(hosts);
      return fresh;
    });
    await Promise.all(
      created.map(async (host) => {
        const started = Date.now();
        await this.createHostFiles(host, images.get(host.suite)!);
        timings.push({ what: `${host.name} created`, seconds: (Date.now() - started) / 1000 });
      }),
    );
    await Promise.all(
      (await this.hosts()).map(async (host) => {
        if (await this.isRunning(host)) return;
        const started = Date.now();
        await this.boot(host);
        timings.push({ what: `${host.name} booted`, seconds: (Date.now() - started) / 1000 });
        log(`${host.name} is up on ${host.address}`);
      }),
    );
    return timings;
  }

  /** Stops every host and deletes the bed with everything in it. */
  async down(log: (line: string) => void = () => {}): Promise<void> {
    const hosts = await this.hosts();
    await Promise.all(hosts.map((host) => this.stop(host)));
    for (const host of hosts) log(`${host.name} stopped`);
    await execa('rm', ['-rf', '--one-file-system', this.dir]);
    await releaseAddresses(this.dir);
  }

  /**
   * Puts hosts back to their freshly provisioned state (same address, keys and
   * secrets) and boots them: the writes since the last reset are dropped from
   * the overlay, and the base is provisioned again only when the image changed.
   */
  async reset(names: string[] = [], log: (line: string) => void = () => {}): Promise<void> {
    const hosts = (await this.hosts()).filter((h) => names.length === 0 || names.includes(h.name));
    await Promise.all(
      hosts.map(async (host) => {
        await this.stop(host);
        const image = await ensureImage(host.suite, log);
        if ((await fs.readFile(`${this.baseDir(host.name)}.image`, 'utf8').catch(() => '')) !== image.tarball) await this.createHostFiles(host, image.tarball);
        await this.boot(await this.host(host.name), { fresh: true });
        log(`${host.name} reset`);
      }),
    );
  }

  /** Stops one host: SIGTERM to its init (services stop cleanly), SIGKILL after a grace period. */
  async stop(host: HostRecord): Promise<void> {
    const root = this.hostRoot(host.name);
    // unshare holds SIGTERM while it waits: signal the host's init (its child) instead.
    if (host.unsharePid && isUnshareOf(host.unsharePid, root)) {
      for (const pid of childrenOf(host.unsharePid)) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
    }
    const deadline = Date.now() + 15_000;
    while ((await processesIn(root)).length > 0 && Date.now() < deadline) await sleep(100);
    for (const pid of await processesIn(root)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    while ((await processesIn(root)).length > 0) await sleep(50);
    await this.unmountRoot(host.name);
    if (host.unsharePid) await this.updateHost(host.name, { unsharePid: undefined, bootId: undefined }).catch(() => {});
  }

  private mounted(host: string): boolean {
    const root = this.hostRoot(host);
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[4] === root);
  }

  /** Mounts the host's root: the base under an overlay; `fresh` drops what earlier boots wrote. */
  private async mountRoot(host: string, fresh: boolean): Promise<void> {
    // A host made before bases existed runs on its root directory as it is, until its next reset.
    if (this.mounted(host) || !existsSync(this.baseDir(host))) return;
    const dir = this.hostDir(host);
    const [upper, work, root] = ['upper', 'work', 'root'].map((d) => path.join(dir, d));
    if (fresh) await execa('rm', ['-rf', '--one-file-system', upper, work]);
    for (const d of [upper, work, root]) await fs.mkdir(d, { recursive: true });
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${this.baseDir(host)},upperdir=${upper},workdir=${work}`, root]);
  }

  private async unmountRoot(host: string): Promise<void> {
    if (this.mounted(host)) await execa('umount', [this.hostRoot(host)]);
  }

  async isRunning(host: HostRecord): Promise<boolean> {
    if (!host.unsharePid || !host.bootId) return false;
    if (!isUnshareOf(host.unsharePid, this.hostRoot(host.name))) return false;
    return (await this.readyId(host.name)) === host.bootId;
  }

  private async readyId(name: string): Promise<string | undefined> {
    try {
      return (await fs.readFile(path.join(this.hostRoot(name), 'var/lib/jitsi-testbed/ready'), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }

  private async ensureKeys(): Promise<void> {
    if (!existsSync(this.keyFile)) {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `jitsi-jwt-testbed-${this.name}`, '-f', this.keyFile]);
    }
    if (!existsSync(this.sudoPasswordFile)) {
      await fs.writeFile(this.sudoPasswordFile, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
    }
  }

  /** Builds the host's base: the image, provisioned. The host must be stopped. */
  private async createHostFiles(host: HostRecord, tarball: string): Promise<void> {
    const dir = this.hostDir(host.name);
    const base = this.baseDir(host.name);
    await this.unmountRoot(host.name);
    // rm(1) removes a root file system in a fraction of the time fs.rm takes.
    await execa('rm', ['-rf', '--one-file-system', base, `${base}.image`]);
    await fs.mkdir(base, { recursive: true });
    await execa('tar', ['--zstd', '-xpf', tarball, '--numeric-owner', '-C', base]);
    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    if (!existsSync(hostKey)) {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${host.name}`, '-f', hostKey]);
    }
    await provisionHost(base, host, {
      hostKey,
      userPublicKey: await fs.readFile(`${this.keyFile}.pub`, 'utf8'),
      sudoPassword: (await fs.readFile(this.sudoPasswordFile, 'utf8')).trim(),
    });
    await fs.writeFile(`${base}.image`, tarball);
    await this.mountRoot(host.name, true);
  }

  private async boot(host: HostRecord, options: { fresh?: boolean } = {}): Promise<void> {
    await this.mountRoot(host.name, options.fresh ?? false);
    const root = this.hostRoot(host.name);
    const bootId = randomBytes(8).toString('hex');
    await fs.rm(path.join(root, 'var/lib/jitsi-testbed/ready'), { force: true });
    const console = openSync(path.join(this.hostDir(host.name), 'console.log'), 'a');
    const child = spawn(
      'unshare',
      ['--mount', '--pid', '--uts', '--fork', '--kill-child=SIGTERM', 'bash', BOOT_SCRIPT, root, host.name, bootId],
      { detached: true, stdio: ['ignore', console, console] },
    );
    closeSync(console);
    child.unref();
    if (!child.pid) throw new Error(`could not start unshare for ${host.name}`);
    await this.updateHost(host.name, { unsharePid: child.pid, bootId });
    const deadline = Date.now() + 90_000;
    while ((await this.readyId(host.name)) !== bootId) {
      if (!isUnshareOf(child.pid, root) || Date.now() > deadline) {
        const tail = (await fs.readFile(path.join(this.hostDir(host.name), 'console.log'), 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
        await this.stop(await this.host(host.name));
        throw new Error(`${host.name} did not come up; its console said:\n${tail}`);
      }
      await sleep(100);
    }
  }

  private async writeSshFiles(hosts: HostRecord[]): Promise<void> {
    const knownHosts: string[] = [];
    const config: string[] = [`# ssh configuration for the jitsi-jwt test bed "${this.name}"`];
    for (const host of hosts) {
      const pub = await fs.readFile(path.join(this.hostDir(host.name), 'ssh_host_ed25519_key.pub'), 'utf8').catch(() => undefined);
      if (pub) knownHosts.push(`${host.address} ${pub.trim().split(/\s+/).slice(0, 2).join(' ')}`);
      config.push(
        '',
        `Host ${host.name}`,
        `  HostName ${host.address}`,
        '  User root',
        `  IdentityFile ${this.keyFile}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${this.knownHostsFile}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  BatchMode yes',
        '  LogLevel ERROR',
      );
    }
    await fs.writeFile(this.knownHostsFile, knownHosts.map((l) => `${l}\n`).join(''));
    await fs.writeFile(this.sshConfigFile, `${config.join('\n')}\n`);
  }

  /** Runs a shell command on a host over ssh, as `user` (root by default). */
  async ssh(hostName: string, command: string, options: { user?: string; input?: string; reject?: boolean } = {}) {
    const target = options.user ? `${options.user}@${hostName}` : hostName;
    return execa('ssh', ['-F', this.sshConfigFile, target, command], {
      input: options.input ?? '',
      reject: options.reject ?? true,
    });
  }

  sshCommand(host: HostRecord, user: string = USERS.root): string {
    return `ssh -F ${this.sshConfigFile} ${user === 'root' ? '' : `${user}@`}${host.name}`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isUnshareOf(pid: number, root: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline[0]?.endsWith('unshare') === true && cmdline.includes(root);
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** PIDs of every process whose root directory is `root` (the processes of one host). */
export async function processesIn(root: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`) === root) pids.push(Number(entry));
    } catch {
      /* exited, or not ours to read */
    }
  }
  return pids;
}

/**
 * Loopback addresses are leased machine-wide (whatever the state root), in
 * ADDRESS_LEASES/<address> files naming the bed directory that holds them; a
 * lease whose bed directory is gone is free again, and so is no address that
 * something already listens on.
 */
const ADDRESS_LEASES = '/var/lib/jitsi-jwt-testbed-addresses';

async function leaseAddresses(bedDir: string, count: number): Promise<string[]> {
  await fs.mkdir(ADDRESS_LEASES, { recursive: true });
  return withLock(path.join(ADDRESS_LEASES, '.lock'), async () => {
    const { stdout } = await execa('ss', ['-Hltn']);
    const listening = new Set(stdout.split('\n').map((line) => line.split(/\s+/)[3]?.replace(/:\d+$/, '')));
    const leased: string[] = [];
    for (let i = 2; i < 255 && leased.length < count; i++) {
      const address = `127.0.0.${i}`;
      const lease = path.join(ADDRESS_LEASES, address);
      const holder = await fs.readFile(lease, 'utf8').catch(() => undefined);
      if (holder !== undefined && existsSync(holder)) continue;
      if (listening.has(address)) continue;
      await fs.writeFile(lease, bedDir);
      leased.push(address);
    }
    if (leased.length < count) throw new Error('no free loopback address left in 127.0.0.2-254');
    return leased;
  });
}

async function releaseAddresses(bedDir: string): Promise<void> {
  for (const entry of await fs.readdir(ADDRESS_LEASES).catch(() => [] as string[])) {
    const lease = path.join(ADDRESS_LEASES, entry);
    if ((await fs.readFile(lease, 'utf8').catch(() => '')) === bedDir) await fs.rm(lease, { force: true });
  }
}
