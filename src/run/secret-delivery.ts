// How a new app_secret reaches the operator without being printed: a file
// written atomically with mode 0600, or a local command that reads it on stdin
// (e.g. to store it in a vault). Both happen only after every host switched
// and passed its smoke test; a failure there puts every host back.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { JitsiJwtError, SettingsError } from '../errors.js';

/** The secret could not be delivered; the hosts were put back. */
export class SecretDeliveryError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('secret-delivery', message, hint);
  }
}

/** Checks up front that --secret-out can be written, before any host is touched. */
export async function checkSecretOut(file: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  try {
    await fs.access(dir, constants.W_OK);
  } catch {
    throw new SettingsError(`--secret-out ${file}: the directory ${dir} does not exist or is not writable`, 'name a file in a directory you can write to');
  }
  const stat = await fs.stat(file).catch(() => undefined);
  if (stat && !stat.isFile()) throw new SettingsError(`--secret-out ${file} exists and is not a regular file`, 'name a file (it is replaced atomically, mode 0600)');
}

/** Writes `secret` (plus a newline) to `file`, mode 0600, atomically; no write when it already holds exactly that. */
export async function writeSecretFile(file: string, secret: string): Promise<'written' | 'unchanged'> {
  const content = `${secret}\n`;
  const existing = await fs.stat(file).catch(() => undefined);
  if (existing && (existing.mode & 0o777) === 0o600 && (await fs.readFile(file, 'utf8').catch(() => '')) === content) return 'unchanged';
  const target = path.resolve(file);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.unlink(temp).catch(() => {});
    throw new SecretDeliveryError(`could not write --secret-out ${file}: ${(error as Error).message}`, 'name a file in a directory you can write to');
  }
  const dir = await fs.open(path.dirname(target), 'r').catch(() => undefined);
  await dir?.sync().catch(() => {});
  await dir?.close();
  return 'written';
}

export const EXEC_TIMEOUT_MS = 300_000;

/**
 * What an --exec command gets of our environment without being asked: what a
 * shell and its tools need, as sudo's env_reset keeps it (plus LC_*). Anything
 * else may hold a credential (a sudo password named by sudo_password_env, a
 * CI token) and passes only when named with --exec-env.
 */
const EXEC_BASE_ENV = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TERM', 'TZ', 'TMPDIR']);

/** The --exec command's whole environment: the base, the variables named in `pass`, then the run's own `run` variables. */
export function execEnvironment(parent: NodeJS.ProcessEnv, pass: readonly string[], run: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && (EXEC_BASE_ENV.has(name) || name.startsWith('LC_') || pass.includes(name))) env[name] = value;
  }
  return { ...env, ...run };
}

/** Checks --exec-env before any host is touched: names only beside --exec, each a variable set here. */
export function checkExecEnv(pass: readonly string[], exec: string | undefined, parent: NodeJS.ProcessEnv = process.env): void {
  if (pass.length === 0) return;
  if (exec === undefined) throw new SettingsError('--exec-env names variables for the --exec command, and there is no --exec', 'drop --exec-env, or add --exec CMD');
  for (const name of pass) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new SettingsError(`--exec-env "${name}" is not a variable name`, 'give names such as VAULT_ADDR,VAULT_TOKEN (letters, digits and _; not starting with a digit)');
    if (parent[name] === undefined) throw new SettingsError(`--exec-env ${name}: there is no such variable in this environment`, `export ${name} before running jitsi-jwt, or drop it from --exec-env`);
  }
}

/**
 * Runs `command` with sh on this machine, the secret on its stdin (no newline
 * after it), its output on our stderr so --json stays one document. Its
 * environment is execEnvironment's: the base, `pass`, and `env`. A non-zero
 * exit, a signal or the timeout is a failure.
 */
export async function execWithSecret(command: string, secret: string, env: Record<string, string>, options: { pass?: readonly string[]; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? EXEC_TIMEOUT_MS;
  // Its own process group, so a timeout stops everything the command started.
  const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], env: execEnvironment(process.env, options.pass ?? [], env), detached: true });
  child.stdout.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  // A command that does not read its stdin must not fail the run with EPIPE.
  child.stdin.on('error', () => {});
  child.stdin.end(secret);
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  }, timeoutMs);
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => clearTimeout(timer));
  if (outcome.error) throw new SecretDeliveryError(`--exec could not start: ${outcome.error.message}`, 'check the command');
  if (outcome.code !== 0) {
    const how = outcome.signal ? `was stopped by ${outcome.signal}${outcome.signal === 'SIGTERM' ? ` (timeout ${timeoutMs / 1000} s?)` : ''}` : `exited with ${outcome.code}`;
    throw new SecretDeliveryError(`--exec command ${how}, so the new secret did not reach its store`, 'fix the command (it gets the secret on stdin), then run again');
  }
}
