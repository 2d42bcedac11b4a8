import { describe, expect, it } from 'vitest';
import { elevatedArgv, elevatedInput, establishElevation, type RawExec } from '../../../src/connector/elevation.js';
import type { ExecResult } from '../../../src/connector/types.js';

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
const SUDO_PROBE = 'sudo -k -n -- sh -s';
const SUDO_VALIDATE = 'sudo -k -S -p  -v';
const SUDO_PASSWORD_SHELL = 'sudo -k -S -p  -- sh -s';
const where = { host: '127.0.0.2:22', user: 'sysadmin' };
const user = { [ROOT_SHELL]: () => ({ stdout: '1000\n' }) };

describe('establishElevation', () => {
  it('uses sh directly when the login user is root', async () => {
    const h = host({ [ROOT_SHELL]: () => ({ stdout: '0\n' }) });
    expect(await establishElevation(h.exec, where)).toEqual({ kind: 'root' });
    expect(h.calls.map((c) => c.command)).toEqual([ROOT_SHELL]);
  });

  it('uses sudo -n when sudo needs no password, even if one was given', async () => {
    const h = host({ ...user, [SUDO_PROBE]: () => ({ stdout: '0\n' }) });
    expect(await establishElevation(h.exec, where, 'secret')).toEqual({ kind: 'sudo' });
    expect(h.calls.some((c) => c.input.includes('secret'))).toBe(false);
  });

  it('validates the password, then proves uid 0 through the path run() uses', async () => {
    const h = host({
      ...user,
      [SUDO_PROBE]: () => ({ code: 1, stderr: 'sudo: a password is required\n' }),
      [SUDO_VALIDATE]: (input) => (input === 'secret\n' ? { code: 0 } : { code: 1, stderr: 'Sorry, try again.\nsudo: 1 incorrect password attempt\n' }),
      [SUDO_PASSWORD_SHELL]: (input) => (input === 'secret\nid -u\n' ? { stdout: '0\n' } : { code: 1 }),
    });
    expect(await establishElevation(h.exec, where, 'secret')).toEqual({ kind: 'sudo-password', password: 'secret' });
    await expect(establishElevation(h.exec, where, 'wrong')).rejects.toMatchObject({ code: 'sudo', problem: 'wrong-password' });
    await expect(establishElevation(h.exec, where)).rejects.toMatchObject({ code: 'sudo', problem: 'password-required', message: expect.stringMatching(/--sudo-password-stdin/) });
  });

  it.each([
    ['sudo is missing', { [SUDO_PROBE]: () => ({ code: 127, stderr: 'bash: sudo: command not found\n' }) }, 'sudo-missing'],
    ['the user may not sudo', { [SUDO_PROBE]: () => ({ code: 1, stderr: 'sysadmin is not in the sudoers file.\n' }) }, 'not-allowed'],
    ['sudo runs as someone else', { [SUDO_PROBE]: () => ({ stdout: '1001\n' }) }, 'not-root'],
  ])('fails with a SudoError when %s', async (_name, answers, problem) => {
    const h = host({ ...user, ...answers });
    const error = await establishElevation(h.exec, where).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'sudo', problem });
    expect((error as Error).message).toContain('127.0.0.2:22');
  });
});

describe('what run() sends', () => {
  it.each([
    [{ kind: 'root' } as const, 'sh -s', 'echo hi\n'],
    [{ kind: 'sudo' } as const, 'sudo -n -- sh -s', 'echo hi\n'],
    [{ kind: 'sudo-password', password: 'pw' } as const, "sudo -k -S -p  -- sh -s", 'pw\necho hi\n'],
  ])('%j', (elevation, argv, input) => {
    expect(elevatedArgv(elevation).join(' ')).toBe(argv);
    expect(elevatedInput(elevation, 'echo hi')).toBe(input);
    expect(elevatedInput(elevation, 'echo hi\n')).toBe(input);
  });

  it('never puts the password on the command line', () => {
    expect(elevatedArgv({ kind: 'sudo-password', password: 'pw' })).not.toContain('pw');
  });
});
