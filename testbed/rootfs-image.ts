// Debian root file systems for test hosts, built with mmdebstrap and cached as
// tarballs outside the checkout, keyed by everything that goes into them.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { withLock } from './lock.js';

export const SUITES = ['bookworm', 'trixie'] as const;
export type Suite = (typeof SUITES)[number];

export const MIRROR = 'http://deb.debian.org/debian';

// What a stock Jitsi box has that matters here, minus Jitsi itself: sshd, sudo,
// Prosody with its Recommends. The Lua token libraries (lua-cjson, lua-luaossl,
// lua-basexx, lua-inspect) are deliberately absent: installing them is the
// tool's job. python3 runs the jicofo stand-in.
export const PACKAGES = [
  'openssh-server',
  'prosody',
  'sudo',
  'ca-certificates',
  'procps',
  'iproute2',
  'openssl',
  'lua-unbound',
  'lua-event',
  'lua-readline',
  'python3',
  // systemd as PID 1, as on every real server: Debian's units for sshd and Prosody, the SysV generator for jicofo.
  'systemd',
  'systemd-sysv',
  'dbus',
  'libpam-systemd',
];

export function cacheRoot(): string {
  return process.env.JITSI_JWT_TESTBED_CACHE ?? '/var/cache/jitsi-jwt-testbed';
}

// Package lists age as the mirror moves on; a weekly key keeps `apt-get
// install` on the hosts working without rebuilding on every run.
function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((d.getTime() - yearStart.getTime()) / 86400000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export async function imageKey(suite: Suite, now = new Date()): Promise<string> {
  const { stdout: mmdebstrapVersion } = await execa('mmdebstrap', ['--version']);
  const input = JSON.stringify({ suite, packages: PACKAGES, mirror: MIRROR, mmdebstrapVersion, week: isoWeek(now) });
  return createHash('sha256').update(input).digest('hex').slice(0, 16);
}

export interface Image {
  suite: Suite;
  tarball: string;
  built: boolean;
  seconds: number;
}

/** Returns the cached tarball for `suite`, building it first when missing. */
export async function ensureImage(suite: Suite, log: (line: string) => void = () => {}): Promise<Image> {
  const started = Date.now();
  const dir = cacheRoot();
  await fs.mkdir(dir, { recursive: true });
  const tarball = path.join(dir, `${suite}-${await imageKey(suite)}.tar.zst`);
  return withLock(`${tarball}.lock`, async () => {
    if (existsSync(tarball)) return { suite, tarball, built: false, seconds: (Date.now() - started) / 1000 };
    log(`building the ${suite} root file system with mmdebstrap (about 30 s)`);
    const partial = `${tarball}.partial.tar.zst`;
    await fs.rm(partial, { force: true });
    try {
      await execa('mmdebstrap', [
        '--variant=minbase',
        `--include=${PACKAGES.join(',')}`,
        '--skip=cleanup/apt/lists',
        '--quiet',
        suite,
        partial,
        MIRROR,
      ]);
    } catch (error) {
      await fs.rm(partial, { force: true });
      throw new Error(`mmdebstrap could not build the ${suite} root file system: ${(error as Error).message}`);
    }
    await fs.rename(partial, tarball);
    await pruneOldImages(dir, suite, tarball);
    return { suite, tarball, built: true, seconds: (Date.now() - started) / 1000 };
  });
}

async function pruneOldImages(dir: string, suite: Suite, keep: string): Promise<void> {
  for (const entry of await fs.readdir(dir)) {
    const file = path.join(dir, entry);
    if (entry.startsWith(`${suite}-`) && entry.endsWith('.tar.zst') && file !== keep) {
      await fs.rm(file, { force: true });
    }
  }
}
