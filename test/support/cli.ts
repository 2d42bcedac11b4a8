// Runs the real jitsi-jwt command (the build in dist/, as installed users run
// it) against a test host, with a clean HOME so nothing of this machine's own
// ssh setup leaks in.
import { execa } from 'execa';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestBed } from '../../testbed/bed.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILT = path.join(ROOT, 'dist/cli/bin.js');
const home = mkdtempSync(path.join(os.tmpdir(), 'jitsi-jwt-home-'));

export interface CliRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function jitsiJwt(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliRun> {
  const command = existsSync(BUILT) ? ['node', BUILT] : ['npx', 'tsx', path.join(ROOT, 'src/cli/bin.ts')];
  const result = await execa(command[0], [...command.slice(1), ...args], {
    cwd: ROOT,
    reject: false,
    input: options.input ?? '',
    env: { HOME: home, SSH_AUTH_SOCK: '', NO_COLOR: '1', ...options.env },
    extendEnv: true,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The flags that point the tool at a test host's key and known_hosts. */
export function sshFlags(bed: TestBed): string[] {
  return ['--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile];
}

/**
 * Starts the real jitsi-jwt command and acts on its progress: each time its
 * stderr matches the next step's `at`, that step's `then` runs (e.g. sends
 * the process a signal). Resolves with the whole run and how many steps were
 * reached.
 */
export async function jitsiJwtWith(
  args: string[],
  steps: { at: RegExp; then: (pid: number) => Promise<unknown> | unknown }[],
  options: { env?: Record<string, string> } = {},
): Promise<CliRun & { reached: number; signal?: string }> {
  const command = existsSync(BUILT) ? ['node', BUILT] : ['npx', 'tsx', path.join(ROOT, 'src/cli/bin.ts')];
  const child = execa(command[0], [...command.slice(1), ...args], {
    cwd: ROOT,
    reject: false,
    input: '',
    env: { HOME: home, SSH_AUTH_SOCK: '', NO_COLOR: '1', ...options.env },
    extendEnv: true,
  });
  let reached = 0;
  let seen = '';
  const acting: Promise<unknown>[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    seen += chunk.toString('utf8');
    for (let match = steps[reached]?.at.exec(seen); match; match = steps[reached]?.at.exec(seen)) {
      seen = seen.slice(match.index + match[0].length);
      acting.push(Promise.resolve(steps[reached++].then(child.pid!)));
    }
  });
  const result = await child;
  await Promise.all(acting);
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), reached, signal: result.signal ?? undefined };
}
