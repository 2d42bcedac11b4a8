import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkExecEnv, checkSecretOut, execEnvironment, execWithSecret, SecretDeliveryError, writeSecretFile } from '../../../src/run/secret-delivery.js';
import { SettingsError } from '../../../src/errors.js';

const SECRET = 'Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg';
let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jitsi-jwt-delivery-'));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('writeSecretFile', () => {
  it('writes the secret and a newline, mode 0600, leaving no temporary file behind', async () => {
    const file = path.join(dir, 'app_secret');
    expect(await writeSecretFile(file, SECRET)).toBe('written');
    expect(await fs.readFile(file, 'utf8')).toBe(`${SECRET}\n`);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect(await fs.readdir(dir)).toEqual(['app_secret']);
  });

  it('replaces a world-readable file with a 0600 one, and leaves an identical one alone', async () => {
    const file = path.join(dir, 'app_secret');
    await fs.writeFile(file, 'old\n', { mode: 0o644 });
    expect(await writeSecretFile(file, SECRET)).toBe('written');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const inode = (await fs.stat(file)).ino;
    expect(await writeSecretFile(file, SECRET)).toBe('unchanged');
    expect((await fs.stat(file)).ino).toBe(inode);
  });
});

describe('checkSecretOut', () => {
  it('refuses a missing directory and a directory in place of the file', async () => {
    await expect(checkSecretOut(path.join(dir, 'nope', 'secret'))).rejects.toThrow(SettingsError);
    await expect(checkSecretOut(dir)).rejects.toThrow(/not a regular file/);
    await expect(checkSecretOut(path.join(dir, 'fine'))).resolves.toBeUndefined();
  });
});

describe('execWithSecret', () => {
  it('hands the secret to the command on stdin, exactly, with the run described in its environment', async () => {
    const out = path.join(dir, 'got');
    await execWithSecret(`cat > '${out}'; printf '%s' "$JITSI_JWT_APP_ID" > '${out}.id'`, SECRET, { JITSI_JWT_APP_ID: 'my_app' });
    expect(await fs.readFile(out, 'utf8')).toBe(SECRET);
    expect(await fs.readFile(`${out}.id`, 'utf8')).toBe('my_app');
  });

  it('gives the command a minimal environment: no sudo password or other credential of ours unless named with --exec-env', async () => {
    vi.stubEnv('DEPLOY_SUDO_PASSWORD', 'sudo-password-1');
    vi.stubEnv('JITSI_JWT_APP_SECRET', SECRET);
    vi.stubEnv('CI_JOB_TOKEN', 'ci-token-1');
    vi.stubEnv('VAULT_TOKEN', 'vault-token-1');
    vi.stubEnv('LC_ALL', 'C.UTF-8');
    const out = path.join(dir, 'env');
    const seenBy = async (options?: { pass: string[] }) => {
      await execWithSecret(`cat >/dev/null; env > '${out}'`, SECRET, { JITSI_JWT_APP_ID: 'my_app', JITSI_JWT_HOSTS: 'a b' }, options);
      const text = await fs.readFile(out, 'utf8');
      expect(text).not.toContain(SECRET);
      return Object.fromEntries(text.split('\n').filter(Boolean).map((line) => line.split(/=(.*)/s).slice(0, 2)));
    };
    const minimal = await seenBy();
    expect(minimal).toMatchObject({ JITSI_JWT_APP_ID: 'my_app', JITSI_JWT_HOSTS: 'a b', LC_ALL: 'C.UTF-8', PATH: process.env.PATH });
    for (const name of ['DEPLOY_SUDO_PASSWORD', 'JITSI_JWT_APP_SECRET', 'CI_JOB_TOKEN', 'VAULT_TOKEN']) expect(minimal).not.toHaveProperty(name);
    const named = await seenBy({ pass: ['VAULT_TOKEN'] });
    expect(named).toMatchObject({ VAULT_TOKEN: 'vault-token-1', JITSI_JWT_APP_ID: 'my_app' });
    for (const name of ['DEPLOY_SUDO_PASSWORD', 'JITSI_JWT_APP_SECRET', 'CI_JOB_TOKEN']) expect(named).not.toHaveProperty(name);
  });

  it('fails on a non-zero exit, naming it', async () => {
    await expect(execWithSecret('exit 4', SECRET, {})).rejects.toThrow(SecretDeliveryError);
    await expect(execWithSecret('exit 4', SECRET, {})).rejects.toThrow(/exited with 4/);
  });

  it('does not trip over a command that ignores its stdin', async () => {
    await expect(execWithSecret('true', SECRET.repeat(4000), {})).resolves.toBeUndefined();
  });

  it('stops a command that runs past the timeout, with everything it started', async () => {
    const pidFile = path.join(dir, 'child.pid');
    // A background job that would outlive the run by minutes unless it is stopped with the command.
    await expect(execWithSecret(`sleep 600 & echo $! > '${pidFile}'; wait`, SECRET, {}, { timeoutMs: 300 })).rejects.toThrow(/stopped by SIGTERM/);
    const child = Number(await fs.readFile(pidFile, 'utf8'));
    // It got the signal too: it is gone (or a zombie not yet reaped).
    const state = await fs.readFile(`/proc/${child}/stat`, 'utf8').then((stat) => stat.split(') ')[1]?.[0]).catch(() => 'gone');
    expect(['gone', 'Z']).toContain(state);
  }, 20_000);
});

describe('execEnvironment', () => {
  const parent = { PATH: '/usr/bin:/bin', HOME: '/home/ci', USER: 'ci', LANG: 'C.UTF-8', LC_CTYPE: 'C.UTF-8', TERM: 'xterm', TZ: 'UTC', TMPDIR: '/tmp/ci', SSH_AUTH_SOCK: '/run/agent', AWS_SECRET_ACCESS_KEY: 'aws', SUDO_PW: 'pw', VAULT_ADDR: 'https://vault', EMPTY: '' };

  it.each([
    [[], {}, { PATH: '/usr/bin:/bin', HOME: '/home/ci', USER: 'ci', LANG: 'C.UTF-8', LC_CTYPE: 'C.UTF-8', TERM: 'xterm', TZ: 'UTC', TMPDIR: '/tmp/ci' }],
    [['VAULT_ADDR', 'EMPTY'], {}, { VAULT_ADDR: 'https://vault', EMPTY: '' }],
    [['NOT_SET'], {}, {}],
    [[], { JITSI_JWT_APP_ID: 'app', PATH: '/run/path' }, { JITSI_JWT_APP_ID: 'app', PATH: '/run/path' }],
  ] as [string[], Record<string, string>, Record<string, string>][])('passes %j with %j', (pass, run, added) => {
    const env = execEnvironment(parent, pass, run);
    expect(env).toMatchObject(added);
    expect(Object.keys(env).sort()).toEqual([...new Set([...['PATH', 'HOME', 'USER', 'LANG', 'LC_CTYPE', 'TERM', 'TZ', 'TMPDIR'], ...Object.keys(added)])].sort());
  });
});

describe('checkExecEnv', () => {
  const env = { VAULT_TOKEN: 't', VAULT_ADDR: 'a' };

  it.each([
    [[], undefined, undefined],
    [['VAULT_TOKEN', 'VAULT_ADDR'], 'vault kv put x v=-', undefined],
    [['VAULT_TOKEN'], undefined, /--exec-env names variables for the --exec command, and there is no --exec/],
    [['VAULT-TOKEN'], 'cmd', /--exec-env "VAULT-TOKEN" is not a variable name/],
    [['1X'], 'cmd', /is not a variable name/],
    [['VAULT_NAMESPACE'], 'cmd', /--exec-env VAULT_NAMESPACE: there is no such variable in this environment/],
  ] as [string[], string | undefined, RegExp | undefined][])('%j with --exec %j', (pass, exec, refusal) => {
    if (refusal) expect(() => checkExecEnv(pass, exec, env)).toThrow(SettingsError);
    if (refusal) expect(() => checkExecEnv(pass, exec, env)).toThrow(refusal);
    else expect(() => checkExecEnv(pass, exec, env)).not.toThrow();
  });
});
