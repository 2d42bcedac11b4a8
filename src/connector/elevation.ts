// How a script becomes root: directly, through passwordless sudo, or through
// sudo with a password fed on stdin. Shared by the ssh and local connectors.
import { SudoError } from './errors.js';
import type { ExecResult } from './types.js';

export type Elevation = { kind: 'root' } | { kind: 'sudo' } | { kind: 'sudo-password'; password: string };

/** Runs argv with `input` on stdin, as the login user. */
export type RawExec = (argv: string[], input: string) => Promise<ExecResult>;

const SHELL = ['sh', '-s'];
// -k: always authenticate, so sudo always reads the password line and sh never sees it.
const SUDO_PASSWORD = ['sudo', '-k', '-S', '-p', ''];

export function elevatedArgv(elevation: Elevation): string[] {
  switch (elevation.kind) {
    case 'root':
      return SHELL;
    case 'sudo':
      return ['sudo', '-n', '--', ...SHELL];
    case 'sudo-password':
      return [...SUDO_PASSWORD, '--', ...SHELL];
  }
}

/** What goes on stdin: the password line for sudo (if any), then the script, ending in a newline so sh runs its last line without waiting for EOF. */
export function elevatedInput(elevation: Elevation, script: string): string {
  const body = script.endsWith('\n') ? script : `${script}\n`;
  return elevation.kind === 'sudo-password' ? `${elevation.password}\n${body}` : body;
}

const UID_SCRIPT = 'id -u\n';

/**
 * Finds how to become root and proves it (uid 0 through the very path run()
 * will use), so sudo problems surface before anything else runs.
 */
export async function establishElevation(exec: RawExec, where: { host: string; user: string }, password?: string): Promise<Elevation> {
  const fail = (problem: ConstructorParameters<typeof SudoError>[2], detail = '') => new SudoError(where.host, where.user, problem, detail);

  const plain = await exec(SHELL, UID_SCRIPT);
  if (plain.code === 0 && plain.stdout.trim() === '0') return { kind: 'root' };

  const probe = await exec(['sudo', '-k', '-n', '--', ...SHELL], UID_SCRIPT);
  if (probe.code === 0) {
    if (probe.stdout.trim() !== '0') throw fail('not-root', `id -u printed ${probe.stdout.trim()}`);
    return { kind: 'sudo' };
  }
  if (sudoMissing(probe)) throw fail('sudo-missing', probe.stderr);
  if (!/password is required/i.test(probe.stderr)) throw fail('not-allowed', probe.stderr);
  if (password === undefined) throw fail('password-required');

  const validate = await exec([...SUDO_PASSWORD, '-v'], `${password}\n`);
  if (validate.code !== 0) {
    if (/incorrect password|try again|authentication failure|no password was provided/i.test(validate.stderr)) throw fail('wrong-password', lastLine(validate.stderr));
    throw fail('not-allowed', validate.stderr);
  }
  const elevation: Elevation = { kind: 'sudo-password', password };
  const check = await exec(elevatedArgv(elevation), elevatedInput(elevation, UID_SCRIPT));
  if (check.code !== 0 || check.stdout.trim() !== '0') throw fail(check.code === 0 ? 'not-root' : 'not-allowed', check.stderr || `id -u printed ${check.stdout.trim()}`);
  return elevation;
}

function sudoMissing(result: ExecResult): boolean {
  return result.code === 127 || /sudo: (command )?not found|sudo: No such file/i.test(result.stderr);
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
