// A test bed: named set of disposable Debian hosts on this machine, sharing its
// network namespace, each on its own loopback address where its sshd and
// Prosody listen. A host boots with systemd as PID 1 under systemd-nspawn (as
// real servers run), or without systemd: its own mount/PID/UTS namespace and a
// chroot under the test bed's init.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { withLock } from './lock.js';
import { ensureImage, type Suite } from './rootfs-image.js';
import { provisionHost, type HostSpec, type InitSystem } from './provision.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BOOT_SCRIPT = path.join(HERE, 'boot-host.sh');
export const BOOT_SYSTEMD_SCRIPT = path.join(HERE, 'boot-systemd-host.sh');

const BED_NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * What runs as PID 1 of hosts that do not ask: systemd (what servers run), or
 * the test bed's own init when JITSI_JWT_TESTBED_INIT=sysv, to run a suite
 * written for systemd hosts on hosts without it.
 */
export function defaultInit(): InitSystem {
  const value = process.env.JITSI_JWT_TESTBED_INIT ?? 'systemd';
  if (value !== 'systemd' && value !== 'sysv') throw new Error(`JITSI_JWT_TESTBED_INIT must be systemd or sysv, not "${value}"`);
  return value;
}

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
  /** PID (in this machine's namespace) of the process holding the host: systemd-nspawn, or unshare for hosts without systemd. */
  launcherPid?: number;
  bootId?: string;
  /** systemd hosts: the cgroup (relative to each hierarchy's root) the host runs in, for this boot */
  cgroup?: string;
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
  /** systemd as PID 1 (the default: what servers run), or the test bed's own init */
  init?: InitSystem;
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

  /** Makes sure the bed has `count` hosts of each suite with the given init and that all of them run. */
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
      const init = options.init ?? defaultInit();
      // Hosts asked for without systemd are counted apart and named <suite>-sysv-<n>; the others <suite>-<n>, whatever the default.
      const apart = options.init === 'sysv';
      const named = (h: HostRecord) => /-sysv-\d+$/.test(h.name) === apart;
      const wanted = options.suites.flatMap((suite) => {
        const ofSuite = hosts.filter((h) => h.suite === suite && named(h)).length;
        return Array.from({ length: Math.max(0, options.count - ofSuite) }, (_, k) => ({ suite, index: ofSuite + k + 1 }));
      });
      const addresses = await leaseAddresses(this.dir, wanted.length);
      for (const suite of options.suites) {
        for (const { index: i } of wanted.filter((w) => w.suite === suite)) {
          const address = addresses.shift()!;
          const host: HostRecord = {
            name: apart ? `${suite}-sysv-${i}` : `${suite}-${i}`,
            suite,
            address,
            domain: options.domain,
            generation: options.generation,
            pluginsDir: options.pluginsDir ? path.resolve(options.pluginsDir) : undefined,
            domainConfigFile: options.domainConfigFile ? path.resolve(options.domainConfigFile) : undefined,
            brokenProsodyInit: options.brokenProsodyInit,
            init,
            focusPassword: randomBytes(12).toString('base64url'),
          };
          await this.ensureHostKey(host.name);
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

  /**
   * Stops one host: a clean shutdown first (SIGTERM to nspawn powers a systemd
   * host off; the test bed's init stops the services), SIGKILL after a grace
   * period; then its cgroups and mounts go.
   */
  async stop(host: HostRecord): Promise<void> {
    const root = this.hostRoot(host.name);
    if (host.launcherPid && isLauncherOf(host.launcherPid, root)) {
      // nspawn shuts its container down on SIGTERM; unshare holds SIGTERM while it waits, so its child (the host's init) gets it.
      const targets = host.init === 'systemd' ? [host.launcherPid] : childrenOf(host.launcherPid);
      for (const pid of targets) kill(pid, 'SIGTERM');
    }
    const deadline = Date.now() + 15_000;
    while ((await this.processes(host)).length > 0 && Date.now() < deadline) await sleep(100);
    for (const pid of await this.processes(host)) kill(pid, 'SIGKILL');
    while ((await this.processes(host)).length > 0) await sleep(50);
    if (host.cgroup) await removeCgroups(host.cgroup);
    await this.unmountRoot(host.name);
    if (host.launcherPid || host.cgroup) await this.updateHost(host.name, { launcherPid: undefined, bootId: undefined, cgroup: undefined }).catch(() => {});
  }

  /** PIDs (in this machine's namespace) of every process of a host: its cgroups' under systemd, else those whose root is the host's. */
  async processes(host: HostRecord): Promise<number[]> {
    const own = await processesIn(this.hostRoot(host.name));
    if (!host.cgroup) return own;
    return [...new Set([...own, ...(await cgroupProcesses(host.cgroup))])];
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
    if (!host.launcherPid || !host.bootId) return false;
    if (!isLauncherOf(host.launcherPid, this.hostRoot(host.name))) return false;
    return (await this.readyId(host.name)) === host.bootId;
  }

  private async readyId(name: string): Promise<string | undefined> {
    try {
      return (await fs.readFile(path.join(this.hostRoot(name), 'var/lib/jitsi-testbed/ready'), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }

  /** The host's ssh host key, made once and kept outside its root, so resets and re-provisioning keep it. */
  private async ensureHostKey(name: string): Promise<string> {
    const hostKey = path.join(this.hostDir(name), 'ssh_host_ed25519_key');
    if (!existsSync(hostKey)) {
      await fs.mkdir(this.hostDir(name), { recursive: true });
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${name}`, '-f', hostKey]);
    }
    return hostKey;
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
    const base = this.baseDir(host.name);
    await this.unmountRoot(host.name);
    // rm(1) removes a root file system in a fraction of the time fs.rm takes.
    await execa('rm', ['-rf', '--one-file-system', base, `${base}.image`]);
    await fs.mkdir(base, { recursive: true });
    await execa('tar', ['--zstd', '-xpf', tarball, '--numeric-owner', '-C', base]);
    const hostKey = await this.ensureHostKey(host.name);
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
    // The ready unit of a systemd host copies this file; the test bed's init reads BOOT_ID from its environment.
    await fs.writeFile(path.join(root, 'etc/jitsi-testbed/boot-id'), `${bootId}\n`);
    const cgroup = host.init === 'systemd' ? `jitsi-testbed/${host.name}-${bootId}` : undefined;
    const [command, args] =
      cgroup === undefined
        ? ['unshare', ['--mount', '--pid', '--uts', '--fork', '--kill-child=SIGTERM', 'bash', BOOT_SCRIPT, root, host.name, bootId]]
        : ['bash', [BOOT_SYSTEMD_SCRIPT, root, host.name, ...cgroupDirs(cgroup)]];
    const console = openSync(path.join(this.hostDir(host.name), 'console.log'), 'a');
    const child = spawn(command, args, { detached: true, stdio: ['ignore', console, console] });
    closeSync(console);
    child.unref();
    if (!child.pid) throw new Error(`could not start ${command} for ${host.name}`);
    await this.updateHost(host.name, { launcherPid: child.pid, bootId, cgroup });
    const deadline = Date.now() + 90_000;
    while ((await this.readyId(host.name)) !== bootId) {
      if (!isLauncherOf(child.pid, root) || Date.now() > deadline) {
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
    // Replaced whole, never truncated in place: an ssh started meanwhile reads the old file or the new one.
    await writeAtomically(this.knownHostsFile, knownHosts.map((l) => `${l}\n`).join(''));
    await writeAtomically(this.sshConfigFile, `${config.join('\n')}\n`);
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

async function writeAtomically(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, content);
  await fs.rename(temp, file);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Whether `pid` is the process that holds the host rooted at `root`: unshare,
 * or systemd-nspawn — and, on its way there, the boot script, unshare and sh
 * it execs through, each of which names the root.
 */
function isLauncherOf(pid: number, root: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg === root || arg === `--directory=${root}`);
  } catch {
    return false;
  }
}

/**
 * The directories of a cgroup in every hierarchy systemd uses on this machine:
 * the unified one (cgroup v2, at the root on a pure v2 machine, under unified/
 * on a hybrid one) and the named v1 hierarchy of a hybrid or v1 machine.
 */
export function cgroupDirs(cgroup: string): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return [path.join('/sys/fs/cgroup', cgroup)];
  return ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((hierarchy) => existsSync(path.join(hierarchy, 'cgroup.procs'))).map((hierarchy) => path.join(hierarchy, cgroup));
}

/** Every PID in a cgroup and the cgroups below it, in every hierarchy. */
async function cgroupProcesses(cgroup: string): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory()) await walk(path.join(dir, entry.name));
      else if (entry.name === 'cgroup.procs') {
        for (const pid of (await fs.readFile(path.join(dir, entry.name), 'utf8').catch(() => '')).split('\n')) if (pid) pids.add(Number(pid));
      }
    }
  };
  for (const dir of cgroupDirs(cgroup)) await walk(dir);
  return [...pids];
}

/** Removes a host's (empty) cgroups, the deepest first. */
async function removeCgroups(cgroup: string): Promise<void> {
  for (const dir of cgroupDirs(cgroup)) {
    if (existsSync(dir)) await execa('find', [dir, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', '+'], { reject: false });
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
