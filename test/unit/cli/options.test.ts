// Every flag and JITSI_JWT_* variable goes through one typed reader: each
// on/off variable of every command against every spelling, the numeric
// options against good and bad numbers, the JSON request for early errors.
import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';
import { declaration, envName, jsonRequested } from '../../../src/cli/options.js';
import { SettingsError } from '../../../src/errors.js';

/** The program with every action replaced by one that records the options it would get. */
function program(): { root: Command; seen: () => Record<string, unknown> } {
  const root = buildProgram();
  let seen: Record<string, unknown> = {};
  for (const command of root.commands) command.action(() => void (seen = command.opts()));
  return { root, seen: () => seen };
}

async function optionsOf(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  vi.unstubAllEnvs();
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const { root, seen } = program();
  await root.parseAsync(['node', 'jitsi-jwt', ...args]);
  return seen();
}

afterEach(() => vi.unstubAllEnvs());

const booleanOptions = buildProgram().commands.flatMap((command) =>
  command.options
    .filter((o) => declaration(o)?.kind.type === 'boolean' && declaration(o)?.env)
    .map((o) => ({
      command: command.name(),
      key: o.attributeName(),
      variable: envName(o),
      negate: o.negate,
      // --no-guests beside --guests: off means "not given", and unset leaves the setting open.
      twin: o.negate && command.options.some((other) => other !== o && !other.negate && other.attributeName() === o.attributeName()),
    })),
);

describe('on/off variables', () => {
  it('covers the variables the README names', () => {
    const variables = new Set(booleanOptions.map((o) => o.variable));
    for (const name of ['ALLOW_EMPTY_TOKEN', 'ALLOW_WEAK_SECRET', 'NO_ROOM_CHECK', 'ACCEPT_NEW_HOST_KEY', 'SHOW_SECRET', 'JSON', 'LOCAL', 'NO_ROLLBACK', 'NO_SMOKE', 'MODERATOR_FROM_TOKEN']) {
      expect(variables).toContain(`JITSI_JWT_${name}`);
    }
  });

  const spellings: [string, boolean | undefined | 'refused'][] = [
    ['1', true], ['true', true], ['TRUE', true], ['yes', true], ['Yes', true], ['on', true], ['ON', true], [' on ', true],
    ['0', false], ['false', false], ['False', false], ['no', false], ['NO', false], ['off', false], ['Off', false],
    ['', undefined], ['   ', undefined],
    ['maybe', 'refused'], ['2', 'refused'], ['-1', 'refused'], ['y', 'refused'], ['enabled', 'refused'], ['truee', 'refused'],
  ];

  it.each(booleanOptions)('$command: $variable', async ({ command, key, variable, negate, twin }) => {
    for (const [text, meaning] of spellings) {
      const read = optionsOf([command], { [variable]: text });
      if (meaning === 'refused') {
        await expect(read, text).rejects.toThrow(SettingsError);
        await expect(read, text).rejects.toThrow(`${variable}="${text}"`);
        continue;
      }
      // --no-room-check: JITSI_JWT_NO_ROOM_CHECK=1 turns room checks off, 0 keeps them on.
      // Beside a positive twin (--guests / --no-guests), JITSI_JWT_NO_GUESTS=0 means neither flag.
      const expected = twin ? (meaning ? false : undefined) : meaning === undefined ? (negate ? true : undefined) : negate ? !meaning : meaning;
      expect((await read)[key], JSON.stringify(text)).toBe(expected);
    }
  });

  it('a flag on the command line wins over its variable', async () => {
    expect((await optionsOf(['apply', '--allow-empty-token'], { JITSI_JWT_ALLOW_EMPTY_TOKEN: 'off' })).allowEmptyToken).toBe(true);
    expect((await optionsOf(['apply', '--no-room-check'], { JITSI_JWT_NO_ROOM_CHECK: '0' })).roomCheck).toBe(false);
    expect((await optionsOf(['apply', '--guests'], { JITSI_JWT_NO_GUESTS: '1' })).guests).toBe(true);
    expect((await optionsOf(['apply', '--no-guests'], { JITSI_JWT_GUESTS: '1' })).guests).toBe(false);
  });

  it('--guests and --no-guests: on, off, or left as the host has it', async () => {
    expect((await optionsOf(['plan'])).guests).toBeUndefined();
    expect((await optionsOf(['plan', '--guests'])).guests).toBe(true);
    expect((await optionsOf(['plan', '--no-guests'])).guests).toBe(false);
    expect((await optionsOf(['plan'], { JITSI_JWT_GUESTS: 'on' })).guests).toBe(true);
    expect((await optionsOf(['plan'], { JITSI_JWT_GUESTS: 'off' })).guests).toBe(false);
    expect((await optionsOf(['plan'], { JITSI_JWT_NO_GUESTS: 'yes' })).guests).toBe(false);
  });

  it('--allow-without-token can be given several times', async () => {
    const seen = await optionsOf(['plan', '--allow-without-token', 'a.example.com', '--allow-without-token', 'b@c.example.com,d.example.com']);
    expect(seen.allowWithoutToken).toEqual(['a.example.com', 'b@c.example.com', 'd.example.com']);
  });
});

describe('numbers and durations', () => {
  const table: [string[], Record<string, string>, string, unknown][] = [
    [['plan'], {}, 'concurrency', 8],
    [['plan', '--concurrency', '3'], {}, 'concurrency', 3],
    [['plan'], { JITSI_JWT_CONCURRENCY: '12' }, 'concurrency', 12],
    [['plan', '--concurrency', '2'], { JITSI_JWT_CONCURRENCY: '12' }, 'concurrency', 2],
    [['plan'], { JITSI_JWT_CONCURRENCY: '' }, 'concurrency', 8],
    [['plan', '--concurrency', 'abc'], {}, 'concurrency', 'refused'],
    [['plan', '--concurrency', '0'], {}, 'concurrency', 'refused'],
    [['plan', '--concurrency', '1.5'], {}, 'concurrency', 'refused'],
    [['plan', '--concurrency', '1e3'], {}, 'concurrency', 'refused'],
    [['plan', '--concurrency', '257'], {}, 'concurrency', 'refused'],
    [['plan'], { JITSI_JWT_CONCURRENCY: 'eight' }, 'concurrency', 'refused'],
    [['apply'], {}, 'dpkgLockTimeout', 120],
    [['apply', '--dpkg-lock-timeout', '0'], {}, 'dpkgLockTimeout', 0],
    [['apply', '--dpkg-lock-timeout', '300'], {}, 'dpkgLockTimeout', 300],
    [['rotate-secret'], { JITSI_JWT_DPKG_LOCK_TIMEOUT: '30' }, 'dpkgLockTimeout', 30],
    [['apply', '--dpkg-lock-timeout', 'abc'], {}, 'dpkgLockTimeout', 'refused'],
    [['apply', '--dpkg-lock-timeout', '-5'], {}, 'dpkgLockTimeout', 'refused'],
    [['apply', '--dpkg-lock-timeout', '2m'], {}, 'dpkgLockTimeout', 'refused'],
    [['apply'], { JITSI_JWT_DPKG_LOCK_TIMEOUT: '1.5' }, 'dpkgLockTimeout', 'refused'],
    [['apply'], {}, 'keepBackups', 10],
    [['rotate-secret', '--keep-backups', '2'], {}, 'keepBackups', 2],
    [['apply'], { JITSI_JWT_KEEP_BACKUPS: '5' }, 'keepBackups', 5],
    [['apply', '--keep-backups', '0'], {}, 'keepBackups', 'refused'],
    [['apply', '--keep-backups', 'ten'], {}, 'keepBackups', 'refused'],
    [['token'], {}, 'ttl', 600],
    [['token', '--ttl', '90'], {}, 'ttl', 90],
    [['token', '--ttl', '2h'], {}, 'ttl', 7200],
    [['token', '--ttl', '0'], {}, 'ttl', 'refused'],
    [['token', '--ttl', 'abc'], {}, 'ttl', 'refused'],
    [['token', '--ttl', '10x'], {}, 'ttl', 'refused'],
    [['token', '--ttl', '400d'], {}, 'ttl', 'refused'],
    [['token'], {}, 'nbfSkew', 30],
    [['token', '--nbf-skew', '0'], {}, 'nbfSkew', 0],
    [['token', '--nbf-skew', '-30'], {}, 'nbfSkew', 'refused'],
    [['plan', '--issuers', 'a, b'], {}, 'issuers', ['a', 'b']],
    [['plan'], { JITSI_JWT_AUDIENCES: 'jitsi' }, 'audiences', ['jitsi']],
    [['plan', '--issuers', ' , '], {}, 'issuers', 'refused'],
    [['apply', '--exec-env', 'VAULT_ADDR', '--exec-env', 'VAULT_TOKEN,VAULT_NAMESPACE'], {}, 'execEnv', ['VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_NAMESPACE']],
    [['rotate-secret'], { JITSI_JWT_EXEC_ENV: 'VAULT_ADDR,VAULT_TOKEN' }, 'execEnv', ['VAULT_ADDR', 'VAULT_TOKEN']],
  ];
  it.each(table)('%j %j → %s', async (args, env, key, expected) => {
    const read = optionsOf(args, env);
    if (expected === 'refused') await expect(read).rejects.toThrow(SettingsError);
    else expect((await read)[key]).toEqual(expected);
  });
});

describe('secrets on the command line', () => {
  const token = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2lnbmF0dXJl';

  it('refuses doctor --token, naming the forms that keep the token out of argv', async () => {
    for (const args of [['doctor', 'host', '--token', token], ['doctor', 'host', `--token=${token}`]]) {
      const read = optionsOf(args);
      await expect(read).rejects.toThrow(SettingsError);
      await expect(read).rejects.toThrow(/--token would put a secret on the command line, where ps and shell history show it/);
      const error = await read.catch((caught: SettingsError) => caught);
      expect(error.hint).toMatch(/JITSI_JWT_TOKEN.*--token-file FILE.*--token-file - reads it from standard input/);
      expect(`${error.message} ${error.hint}`).not.toContain(token);
    }
  });

  it('takes the token from JITSI_JWT_TOKEN, and a file or standard input from --token-file', async () => {
    expect((await optionsOf(['doctor', 'host'], { JITSI_JWT_TOKEN: token })).token).toBe(token);
    expect((await optionsOf(['doctor', 'host', '--token-file', '-'])).tokenFile).toBe('-');
  });

  it('does not offer --token in help, and points to the safe forms there', () => {
    const doctor = buildProgram().commands.find((c) => c.name() === 'doctor')!;
    const help = doctor.helpInformation();
    expect(help).not.toMatch(/--token </);
    expect(help).toMatch(/--token-file <file>[\s\S]*JITSI_JWT_TOKEN/);
  });
});

describe('asking for JSON', () => {
  it.each([
    [['plan', '--json'], {}, true],
    [['plan'], { JITSI_JWT_JSON: '1' }, true],
    [['plan'], { JITSI_JWT_JSON: 'TRUE' }, true],
    [['plan'], { JITSI_JWT_JSON: '0' }, false],
    [['plan'], { JITSI_JWT_JSON: '' }, false],
    [['plan'], {}, false],
    [['token', '--', '--json'], {}, false],
  ] as [string[], Record<string, string>, boolean][])('%j %j → %s', (args, env, expected) => {
    expect(jsonRequested(args, env)).toBe(expected);
  });
});
