import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkSecretOut, execWithSecret, SecretDeliveryError, writeSecretFile } from '../../../src/run/secret-delivery.js';
import { SettingsError } from '../../../src/errors.js';

const SECRET = 'Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg';
let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jitsi-jwt-delivery-'));
});
afterEach(async () => {
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
    await expect(execWithSecret(`sleep 600 & echo $! > '${pidFile}'; wait`, SECRET, {}, 300)).rejects.toThrow(/stopped by SIGTERM/);
    const child = Number(await fs.readFile(pidFile, 'utf8'));
    // It got the signal too: it is gone (or a zombie not yet reaped).
    const state = await fs.readFile(`/proc/${child}/stat`, 'utf8').then((stat) => stat.split(') ')[1]?.[0]).catch(() => 'gone');
    expect(['gone', 'Z']).toContain(state);
  }, 20_000);
});
