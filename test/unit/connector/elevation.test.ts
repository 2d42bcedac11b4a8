import { describe, expect, it } from 'vitest';
import { elevatedArgv, elevatedInput, establishElevation, type RawExec } from '../../../src/connector/elevation.js';
import type { ExecResult } from '../../../src/connector/types.js';
import { sh } from '../../../src/shell/script.js';
import { runDash } from '../../support/dash.js';

// What a host answers to each command line (argv joined with spaces; stdin as given).
type Answers = Record<string, (input: string) => Partial<ExecResult>>;

function host(answers: Answers): { exec: RawExec; calls: { command: string; input: string }[] } {
  const calls: { command: string; input: string }[] = [];
  return {
    calls,
    exec: async (argv, input) => {
      const command = argv.join(' ');
      calls.push({ command, input });
      const answer = answers[command]?.(input) ?? { code: 127, stderr: `${argv[0]}: not found` };
      return { stdout: '', stderr: '', code: 0, ...answer };
    },
  };
}

const ROOT_SHELL = 'sh -s';
const SUDO_VALIDATE = 'sudo -k -S -p  -v';
const SUDO_PASSWORD_SHELL = 'sudo -k -S -p  -- sh -s';
const where = { host: '127.0.0.2:22', user: 'sysadmin' };

/** What the one detection script prints on a host where the login user has `uid` and `sudo -n` answers so (undefined: no sudo). */
function detection(uid: number, sudo?: { code?: number; stdout?: string; stderr?: string }): Answers {
  return {
    [ROOT_SHELL]: (input) => {
      if (!input.includes('sudo -k -n -- sh -s')) return { code: 1, stderr: 'unexpected script' };
      if (uid === 0) return { stdout: 'root\n' };
      if (!sudo) return { stdout: 'sudo-missing\n' };
      const out = `${sudo.stdout ?? ''}${sudo.stderr ?? ''}`.replace(/\n$/, '');
      return { stdout: (sudo.code ?? 0) === 0 ? `sudo ${out}\n` : `sudo-refused\n${out}\n` };
    },
  };
}

describe('establishElevation', () => {
  it('uses sh directly when the login user is root, in one round trip', async () => {
    const h = host(detection(0));
    expect(await establishElevation(h.exec, where)).toEqual({ kind: 'root' });
    expect(h.calls.map((c) => c.command)).toEqual([ROOT_SHELL]);
  });

  it('uses sudo -n when sudo needs no password, even if one was given, in one round trip', async () => {
    const h = host(detection(1000, { stdout: '0\n' }));
    expect(await establishElevation(h.exec, where, 'secret')).toEqual({ kind: 'sudo' });
    expect(h.calls.some((c) => c.input.includes('secret'))).toBe(false);
    expect(h.calls).toHaveLength(1);
  });

  it('validates the password, then proves uid 0 through the path run() uses', async () => {
    const h = host({
      ...detection(1000, { code: 1, stderr: 'sudo: a password is required\n' }),
      [SUDO_VALIDATE]: (input) => (input === 'secret\n' ? { code: 0 } : { code: 1, stderr: 'Sorry, try again.\nsudo: 1 incorrect password attempt\n' }),
      [SUDO_PASSWORD_SHELL]: (input) => (input === 'secret\nid -u\n' ? { stdout: '0\n' } : { code: 1 }),
    });
    expect(await establishElevation(h.exec, where, 'secret')).toEqual({ kind: 'sudo-password', password: 'secret' });
    await expect(establishElevation(h.exec, where, 'wrong')).rejects.toMatchObject({ code: 'sudo', problem: 'wrong-password' });
    await expect(establishElevation(h.exec, where)).rejects.toMatchObject({ code: 'sudo', problem: 'password-required', message: expect.stringMatching(/--sudo-password-stdin/) });
  });

  it.each([
    ['sudo is missing', detection(1000), 'sudo-missing'],
    ['the user may not sudo', detection(1000, { code: 1, stderr: 'sysadmin is not in the sudoers file.\n' }), 'not-allowed'],
    ['sudo runs as someone else', detection(1000, { stdout: '1001\n' }), 'not-root'],
    ['the login shell cannot run the script', { [ROOT_SHELL]: () => ({ code: 126, stderr: 'This account is currently not available.\n' }) }, 'not-allowed'],
  ])('fails with a SudoError when %s', async (_name, answers, problem) => {
    const h = host(answers);
    const error = await establishElevation(h.exec, where).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'sudo', problem });
    expect((error as Error).message).toContain('127.0.0.2:22');
  });
});

describe('the detection script under dash', () => {
  it.skipIf(process.getuid?.() !== 0)('finds root, as root', async () => {
    const exec: RawExec = async (argv, input) => {
      expect(argv).toEqual(['sh', '-s']);
      return runDash(input);
    };
    expect(await establishElevation(exec, where)).toEqual({ kind: 'root' });
  });

  /** A login user with uid 1000 (id answers 0 once sudo ran it), and sudo as `sudo` says. */
  const user = (sudo: string) => ({
    id: 'if [ "$1" = -u ] && [ -z "$2" ]; then [ -n "$SUDOED" ] && echo 0 || echo 1000; else exec /usr/bin/id "$@"; fi',
    sudo,
  });
  it.each<[string, string, unknown]>([
    ['passwordless sudo', 'while [ "$1" != -- ]; do shift; done; shift; SUDOED=1 exec "$@"', { kind: 'sudo' }],
    ['sudo that wants a password', 'echo "sudo: a password is required" >&2; exit 1', { code: 'sudo', problem: 'password-required' }],
    ['sudo that runs as someone else', 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"', { code: 'sudo', problem: 'not-root' }],
  ])('finds %s', async (_name, sudo, expected) => {
    const exec: RawExec = async (_argv, input) => runDash(input, { stubs: user(sudo) });
    expect(await establishElevation(exec, where).catch((e: unknown) => e)).toMatchObject(expected as object);
  });
});

describe('what run() sends', () => {
  it.each([
    [{ kind: 'root' } as const, 'sh -s', 'echo hi\n'],
    [{ kind: 'sudo' } as const, 'sudo -n -- sh -s', 'echo hi\n'],
    [{ kind: 'sudo-password', password: 'pw' } as const, "sudo -k -S -p  -- sh -s", 'pw\necho hi\n'],
  ])('%j', (elevation, argv, input) => {
    expect(elevatedArgv(elevation).join(' ')).toBe(argv);
    expect(elevatedInput(elevation, sh`echo hi`)).toBe(input);
    expect(elevatedInput(elevation, sh`echo hi\n`)).toBe(input);
  });

  it.each([
    [{ kind: 'root' } as const, 'sh -s'],
    [{ kind: 'sudo' } as const, 'sudo -n -- sh -s'],
    [{ kind: 'sudo-password', password: 'pw' } as const, "sudo -k -S -p '' -- sh -s"],
  ])('gives the ssh login shell %j as one quoted word per argument', (elevation, line) => {
    expect(sh`${elevatedArgv(elevation)}`.text).toBe(line);
  });

  it('never puts the password on the command line', () => {
    expect(elevatedArgv({ kind: 'sudo-password', password: 'pw' })).not.toContain('pw');
  });
});
