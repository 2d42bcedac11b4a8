// Runs host scripts the way a host does (dash, Debian's /bin/sh, reading the
// script on stdin) against temporary directories, with faults provoked:
// commands replaced by stubs, directories made read-only, a file system full.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinLines, sh, type ShellScript } from '../../src/shell/script.js';

export interface DashResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const isRoot = process.getuid?.() === 0;
/** Why the cases that need their own mounts are skipped. */
export const NEEDS_ROOT = 'needs root: a full file system is a tmpfs mounted for the script alone (root ignores permissions, so read-only takes a mount too)';

export interface DashOptions {
  /** commands found before the real ones: name → body of an sh script */
  stubs?: Record<string, string>;
  env?: Record<string, string>;
  /** the working directory (default: a scratch directory removed afterwards) */
  cwd?: string;
  /** directories the script may not write to */
  readOnly?: string[];
  /** directories that are a full file system of their own while the script runs, with their files in it (root only) */
  full?: string[];
}

/** A directory that the caller removes with removeScratch(). */
export function scratch(prefix = 'jitsi-jwt-dash-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs `script` under `dash -s`. As root, read-only and full directories are
 * mounts in a private mount namespace that ends with the script, so a failed
 * test leaves none behind; without root, read-only is mode 555 for the run.
 */
export function runDash(script: string | { text: string }, options: DashOptions = {}): DashResult {
  const text = typeof script === 'string' ? script : script.text;
  const work = scratch('jitsi-jwt-dash-run-');
  try {
    const stubDir = join(work, 'bin');
    mkdirSync(stubDir);
    for (const [name, body] of Object.entries(options.stubs ?? {})) writeFileSync(join(stubDir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const env = { ...process.env, ...options.env, PATH: `${stubDir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const cwd = options.cwd ?? work;
    const readOnly = options.readOnly ?? [];
    const full = options.full ?? [];
    if (full.length > 0 && !isRoot) throw new Error(NEEDS_ROOT);
    if (!isRoot) {
      const modes = readOnly.map((dir) => [dir, statSync(dir).mode & 0o7777] as const);
      for (const [dir] of modes) chmodSync(dir, 0o555);
      try {
        return finish(spawnSync('dash', ['-s'], { input: text, env, cwd, encoding: 'utf8' }));
      } finally {
        for (const [dir, mode] of modes) chmodSync(dir, mode);
      }
    }
    const mounts: ShellScript[] = [sh`set -e`];
    for (const [i, dir] of full.entries()) {
      // The directory's files are kept, then the tmpfs over it is filled to its last block.
      const kept = join(work, `kept-${i}`);
      cpSync(dir, kept, { recursive: true, preserveTimestamps: true });
      const options = `size=64k,mode=${(statSync(dir).mode & 0o7777).toString(8)}`;
      mounts.push(sh`mount -t tmpfs -o ${options} tmpfs ${dir}`, sh`cp -a ${kept}/. ${dir}/`, sh`dd if=/dev/zero of=${dir}/.filler bs=4k 2>/dev/null || true`);
    }
    for (const dir of readOnly) mounts.push(sh`mount --bind ${dir} ${dir}`, sh`mount -o remount,bind,ro ${dir}`);
    const setup = joinLines([...mounts, sh`exec dash -s`]).text;
    return finish(spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', setup], { input: text, env, cwd, encoding: 'utf8' }));
  } finally {
    removeScratch(work);
  }
}

function finish(result: ReturnType<typeof spawnSync>): DashResult {
  if (result.error) throw result.error;
  return { code: result.status ?? 128, stdout: String(result.stdout), stderr: String(result.stderr) };
}
