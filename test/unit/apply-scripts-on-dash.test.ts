// apply's host scripts run under dash against a temporary directory standing
// for the host, with their failures provoked: a step that fails must never be
// reported as done.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreScript, writeScript, type FileWrite, type LinkWrite } from '../../src/apply/scripts.js';
import { isRoot, NEEDS_ROOT, removeScratch, runDash, scratch } from '../support/dash.js';

/** A host in a directory: a domain config to edit, a key file to add, a Lua module to link. */
function fakeHost(root: string) {
  const conf = join(root, 'etc/prosody/conf.avail');
  const config = join(conf, 'meet.test.cfg.lua');
  const keyDir = join(root, 'etc/prosody/jitsi-jwt-keys/meet.test');
  const key = join(keyDir, 'abc.pem');
  const luaShare = join(root, 'usr/share/lua/5.3');
  const linkPath = join(root, 'usr/local/share/lua/5.4/basexx.lua');
  mkdirSync(conf, { recursive: true });
  mkdirSync(luaShare, { recursive: true });
  writeFileSync(config, 'VirtualHost "meet.test"\n');
  chmodSync(config, 0o640);
  writeFileSync(join(luaShare, 'basexx.lua'), 'return {}\n');
  const backupDir = join(root, 'var/backups/jitsi-jwt/2026-01-02T03-04-05-006Z');
  const files: FileWrite[] = [
    { path: config, content: 'VirtualHost "meet.test"\n\tauthentication = "token"\n' },
    { path: key, content: '-----BEGIN PUBLIC KEY-----\n', create: true, ownership: { mode: '644', owner: `${process.getuid!()}:${process.getgid!()}` } },
  ];
  const links: LinkWrite[] = [{ path: linkPath, module: 'basexx.lua', target: join(luaShare, 'basexx.lua') }];
  const write = () => runDash(writeScript({ backupDir, files, links, lua: 'lua5.4', luaModules: [] }));
  return { conf, config, key, keyDir, linkPath, backupDir, write };
}

describe('writeScript and restoreScript under dash', () => {
  let root: string;
  let host: ReturnType<typeof fakeHost>;
  beforeEach(() => {
    root = scratch();
    host = fakeHost(root);
  });
  afterEach(() => removeScratch(root));

  it('writes, and a restore puts every file and link back as it was', () => {
    const written = host.write();
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    expect(written.stdout).toContain('@@section end');
    expect(readFileSync(host.config, 'utf8')).toContain('authentication = "token"');
    expect(statSync(host.config).mode & 0o777).toBe(0o640);
    expect(readFileSync(host.key, 'utf8')).toBe('-----BEGIN PUBLIC KEY-----\n');
    expect(readlinkSync(host.linkPath)).toBe(join(root, 'usr/share/lua/5.3/basexx.lua'));
    expect(statSync(join(root, 'var/backups/jitsi-jwt')).mode & 0o777).toBe(0o700);

    const restored = runDash(restoreScript(host.backupDir));
    expect(restored).toMatchObject({ code: 0, stderr: '' });
    expect(restored.stdout).toContain('@@result restored yes');
    expect(readFileSync(host.config, 'utf8')).toBe('VirtualHost "meet.test"\n');
    expect(statSync(host.config).mode & 0o777).toBe(0o640);
    expect(existsSync(host.key)).toBe(false);
    expect(() => lstatSync(host.linkPath)).toThrow();
  });

  it('fails, naming the file, when a saved copy is missing; and still undoes the rest', () => {
    expect(host.write().code).toBe(0);
    rmSync(join(host.backupDir, 'file-0'));
    const restored = runDash(restoreScript(host.backupDir));
    expect(restored.code).not.toBe(0);
    expect(restored.stdout).not.toContain('@@result restored yes');
    expect(restored.stderr).toContain(`could not restore ${host.config}`);
    expect(readdirSync(host.conf).filter((f) => f.startsWith('.jitsi-jwt.'))).toEqual([]);
    expect(existsSync(host.key)).toBe(false);
    expect(() => lstatSync(host.linkPath)).toThrow();
  });

  it('fails when the file\'s directory cannot be written', () => {
    expect(host.write().code).toBe(0);
    const restored = runDash(restoreScript(host.backupDir), { readOnly: [host.conf] });
    expect(restored.code).not.toBe(0);
    expect(restored.stdout).not.toContain('@@result restored yes');
    expect(restored.stderr).toContain(host.config);
    expect(readFileSync(host.config, 'utf8')).toContain('authentication = "token"');
  });

  it.skipIf(!isRoot)('fails when the file\'s file system is full', () => {
    expect(host.write().code).toBe(0);
    const restored = runDash(restoreScript(host.backupDir), { full: [host.conf] });
    expect(restored.code).not.toBe(0);
    expect(restored.stdout).not.toContain('@@result restored yes');
    expect(restored.stderr).toContain(host.config);
  });
  if (!isRoot) it.skip(`fails when the file's file system is full (${NEEDS_ROOT})`, () => {});

  it('does nothing and succeeds when the write step never started its manifest', () => {
    const restored = runDash(restoreScript(host.backupDir));
    expect(restored).toMatchObject({ code: 0, stderr: '' });
  });
});
