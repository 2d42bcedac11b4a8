// The test bed itself, on both suites: real sshd with checked host keys, real
// Prosody bound to the host's own address, Jitsi-shaped config whose token
// plugins only load once the Lua libraries are there, and the whole token path
// (SASL, focus creating the room, MUC join) behaving as on a real Jitsi server.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { mintToken } from '../../src/token/mint.js';
import {
  attemptJoin,
  httpStatus,
  installTokenLuaPackages,
  linkPureLuaModules,
  waitForFileMatch,
  prosodyPid,
  restartProsody,
  switchToTokenAuth,
  waitForFocus,
  serviceEvents,
} from '../support/token-host.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-testbed-${process.pid}`);

beforeAll(async () => {
  // bookworm gets the older stock file (BOSH only), trixie the current one.
  await bed.up({ suites: ['bookworm'], count: 1, domain: DOMAIN, generation: '2024', brokenProsodyInit: false });
  await bed.up({ suites: ['trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

function boshUrl(host: HostRecord): string {
  return `http://${host.address}:5280/http-bind`;
}

describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  const appId = 'testbed_app';
  const appSecret = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    host = await bed.host(name);
  });

  it('lets root and both sudo users in by key, checking the host key', async () => {
    expect((await bed.ssh(name, 'id -u')).stdout).toBe('0');
    expect((await bed.ssh(name, 'sudo -n id -u', { user: 'deploy' })).stdout).toBe('0');
    const password = (await fs.readFile(bed.sudoPasswordFile, 'utf8')).trim();
    expect((await bed.ssh(name, 'sudo -n true', { user: 'sysadmin', reject: false })).exitCode).not.toBe(0);
    expect((await bed.ssh(name, "sudo -S -p '' id -u", { user: 'sysadmin', input: `${password}\n` })).stdout).toBe('0');

    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'known-hosts-'));
    try {
      await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(scratch, 'other')]);
      const otherKey = (await fs.readFile(path.join(scratch, 'other.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
      await fs.writeFile(path.join(scratch, 'known_hosts'), `${host.address} ${otherKey}\n`);
      const changed = await execa('ssh', ['-F', bed.sshConfigFile, '-o', `UserKnownHostsFile=${path.join(scratch, 'known_hosts')}`, '-o', 'LogLevel=ERROR', name, 'true'], { reject: false });
      expect(changed.exitCode).toBe(255);
      expect(changed.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
      const unknown = await execa('ssh', ['-F', bed.sshConfigFile, '-o', 'UserKnownHostsFile=/dev/null', name, 'true'], { reject: false });
      expect(unknown.exitCode).toBe(255);
      expect(unknown.stderr).toMatch(/Host key verification failed|No .* host key is known/);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
    const byPassword = await execa('ssh', ['-F', bed.sshConfigFile, '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'PubkeyAuthentication=no', name, 'true'], { reject: false });
    expect(byPassword.exitCode).toBe(255);
    expect(byPassword.stderr).toMatch(/Permission denied/);
  });

  it("binds sshd and Prosody to the host's own address only", async () => {
    const pids = new Set((await bed.processes(host)).map(String));
    const { stdout } = await execa('ss', ['-Hltnp']);
    const listening = stdout
      .split('\n')
      .map((line) => ({ local: line.split(/\s+/)[3], pid: /pid=(\d+)/.exec(line)?.[1], process: /\(\("([^"]+)"/.exec(line)?.[1] }))
      .filter((socket) => socket.pid && pids.has(socket.pid));
    const prosodyPorts = listening.filter((s) => s.process === 'lua5.4').map((s) => s.local);
    expect(prosodyPorts).toEqual(expect.arrayContaining([`${host.address}:5222`, `${host.address}:5280`]));
    expect(listening.map((s) => s.local).filter((local) => !local.startsWith(`${host.address}:`))).toEqual([]);
    expect(listening.filter((s) => s.process === 'sshd').map((s) => s.local)).toEqual([`${host.address}:22`]);
  });

  it('serves BOSH on both generations and WebSocket only on the current one', async () => {
    expect(await httpStatus(boshUrl(host), DOMAIN)).toBe(200);
    expect(await httpStatus(boshUrl(host), 'unknown.test')).toBe(404);
    expect(await httpStatus(`http://${host.address}:5280/xmpp-websocket`, DOMAIN)).toBe(host.generation === '2026' ? 200 : 404);
  });

  it('keeps the token plugins from loading until the Lua libraries are installed', async () => {
    await switchToTokenAuth(bed, name, DOMAIN, appId, appSecret);
    const before = await prosodyPid(bed, name);
    await restartProsody(bed, name);
    expect(await prosodyPid(bed, name)).not.toBe(before);
    const notLoaded = /Error initializing module 'auth_token' on 'meet\.test': .*module '(cjson\.safe|openssl\.[a-z]+|basexx|inspect)' not found/;
    expect(await waitForFileMatch(bed, name, '/var/log/prosody/prosody.err', notLoaded)).toMatch(notLoaded);
    const token = await mintToken({ appId, appSecret, room: 'r1', sub: DOMAIN });
    const attempt = await attemptJoin({ url: boshUrl(host), domain: DOMAIN, token, room: 'r1' });
    expect(attempt.auth).toMatchObject({ ok: false, condition: 'no-anonymous-mechanism' });

    // Debian's packages alone are not enough on Lua 5.4: basexx and inspect stay invisible.
    await installTokenLuaPackages(bed, name);
    await bed.ssh(name, ': > /var/log/prosody/prosody.err');
    await restartProsody(bed, name);
    const stillMissing = /Error initializing module 'auth_token' on 'meet\.test': .*module '(basexx|inspect)' not found/;
    expect(await waitForFileMatch(bed, name, '/var/log/prosody/prosody.err', stillMissing)).toMatch(stillMissing);
  });

  it('admits a valid token and refuses no token, a wrong secret, an expired token and a wrong room once the libraries load', async () => {
    await linkPureLuaModules(bed, name);
    await bed.ssh(name, `lua5.4 -e 'for _, m in ipairs({"cjson.safe", "openssl.hmac", "basexx", "inspect", "ssl"}) do require(m) end'`);
    await restartProsody(bed, name);
    const url = boshUrl(host);
    await waitForFocus({ url, domain: DOMAIN, token: await mintToken({ appId, appSecret, room: '*', sub: DOMAIN }) });

    const valid = await attemptJoin({ url, domain: DOMAIN, room: 'r1', token: await mintToken({ appId, appSecret, room: 'r1', sub: DOMAIN }) });
    expect(valid.auth.ok).toBe(true);
    expect(valid.conference?.ok).toBe(true);
    expect(valid.join?.ok).toBe(true);

    const noToken = await attemptJoin({ url, domain: DOMAIN, room: 'r1' });
    expect(noToken.auth).toMatchObject({ ok: false, condition: 'not-allowed' });

    const wrongSecret = await attemptJoin({ url, domain: DOMAIN, room: 'r1', token: await mintToken({ appId, appSecret: `${appSecret}x`, room: 'r1', sub: DOMAIN }) });
    expect(wrongSecret.auth).toMatchObject({ ok: false, condition: 'not-allowed' });

    const expired = await attemptJoin({
      url,
      domain: DOMAIN,
      room: 'r1',
      token: await mintToken({ appId, appSecret, room: 'r1', sub: DOMAIN, now: new Date(Date.now() - 3_600_000) }),
    });
    expect(expired.auth).toMatchObject({ ok: false, condition: 'not-allowed' });

    const wrongRoom = await attemptJoin({ url, domain: DOMAIN, room: 'r2', token: await mintToken({ appId, appSecret, room: 'r1', sub: DOMAIN }) });
    expect(wrongRoom.auth.ok).toBe(true);
    expect(wrongRoom.join).toMatchObject({ ok: false, condition: 'not-allowed' });
  });
});

describe('host lifecycle', () => {
  it('records service restarts with timestamps and new PIDs', async () => {
    const before = (await serviceEvents(bed, 'trixie-1')).length;
    await bed.ssh('trixie-1', 'service jicofo restart && service jitsi-videobridge2 restart');
    const events = (await serviceEvents(bed, 'trixie-1')).slice(before);
    expect(events).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z jicofo restart pid=\d+$/),
      expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z jitsi-videobridge2 restart pid=\d+$/),
    ]);
  });
});
