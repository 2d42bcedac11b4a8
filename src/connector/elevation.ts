// How a script becomes root: directly, through passwordless sudo, or through
// sudo with a password fed on stdin. Shared by the ssh and local connectors.
import { sh, type ShellScript } from '../shell/script.js';
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
export function elevatedInput(elevation: Elevation, script: ShellScript): string {
  const body = script.text.endsWith('\n') ? script.text : `${script.text}\n`;
  return elevation.kind === 'sudo-password' ? `${elevation.password}\n${body}` : body;
}

const UID_SCRIPT = sh`id -u`;

/**
 * One round trip: root already, or what passwordless sudo makes of `id -u`
 * through the very path run() uses (sudo -n -- sh -s, script on stdin).
 */
const DETECT_SCRIPT = sh`if [ "$(id -u)" = 0 ]; then echo root; exit 0; fi
if ! command -v sudo >/dev/null 2>&1; then echo sudo-missing; exit 0; fi
if out=$(printf 'id -u\\n' | sudo -k -n -- sh -s 2>&1); then printf 'sudo %s\\n' "$out"; exit 0; fi
printf 'sudo-refused\\n%s\\n' "$out"
`;

/**
 * Finds how to become root and proves it (uid 0 through the very path run()
 * will use), so sudo problems surface before anything else runs.
 */
export async function establishElevation(exec: RawExec, where: { host: string; user: string }, password?: string): Promise<Elevation> {
  const fail = (problem: ConstructorParameters<typeof SudoError>[2], detail = '') => new SudoError(where.host, where.user, problem, detail);

  const detected = await exec(SHELL, elevatedInput({ kind: 'root' }, DETECT_SCRIPT));
  const [first, ...rest] = detected.stdout.split('\n');
  const answer = first.trim();
  if (detected.code !== 0 && answer === '') throw fail('not-allowed', detected.stderr);
  if (answer === 'root') return { kind: 'root' };
  if (answer === 'sudo-missing') throw fail('sudo-missing', detected.stderr);
  if (answer.startsWith('sudo ')) {
    const uid = answer.slice(5).trim();
    if (uid !== '0') throw fail('not-root', `id -u printed ${uid}`);
    return { kind: 'sudo' };
  }
  const refusal = rest.join('\n').trim();
  if (!/password is required/i.test(refusal)) throw fail('not-allowed', refusal);
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

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
