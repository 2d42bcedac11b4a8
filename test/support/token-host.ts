// Test-side helpers that act on a test host the way an administrator would by
// hand (ssh, apt, editing the domain file like jitsi-meet-tokens does), so the
// test bed can be checked before and independently of the tool.
import { createHmac, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { TestBed } from '../../testbed/bed.js';
import http from 'node:http';
import { BoshClient, type StepResult } from '../../src/smoke/bosh-client.js';

export const TOKEN_LUA_PACKAGES = ['lua-cjson', 'lua-luaossl', 'lua-basexx', 'lua-inspect'];

export function domainFile(domain: string): string {
  return `/etc/prosody/conf.avail/${domain}.cfg.lua`;
}

/** Switches the stock domain file to token auth, editing the same lines jitsi-meet-tokens edits. */
export async function switchToTokenAuth(bed: TestBed, host: string, domain: string, appId: string, appSecret: string): Promise<void> {
  const file = domainFile(domain);
  const { stdout } = await bed.ssh(host, `cat ${file}`);
  const lines = stdout.split('\n');
  const replace = (from: string, to: string) => {
    const index = lines.findIndex((l) => l.trim() === from);
    if (index < 0) throw new Error(`${file} on ${host} has no line "${from}"`);
    lines[index] = lines[index].replace(from, to);
  };
  replace('authentication = "jitsi-anonymous" -- do not delete me', 'authentication = "token" -- do not delete me');
  replace('--app_id="example_app_id"', `app_id="${appId}"`);
  replace('--app_secret="example_app_secret"', `app_secret="${appSecret}"`);
  replace('--"token_verification";', '"token_verification";');
  await bed.ssh(host, `cat > ${file}.new && chmod 640 ${file}.new && chown root:prosody ${file}.new && mv ${file}.new ${file}`, {
    input: `${lines.join('\n')}\n`,
  });
}

/** Installs the token plugins' Lua libraries with apt, as Debian packages them. */
export async function installTokenLuaPackages(bed: TestBed, host: string): Promise<void> {
  await bed.ssh(
    host,
    ['set -e', 'export DEBIAN_FRONTEND=noninteractive', 'apt-get update -qq', `apt-get install -y -qq ${TOKEN_LUA_PACKAGES.join(' ')} >/dev/null`].join('\n'),
  );
}

/** Makes the pure-Lua modules Debian packages only for older Lua versions visible to Lua 5.4. */
export async function linkPureLuaModules(bed: TestBed, host: string): Promise<void> {
  await bed.ssh(
    host,
    [
      'set -e',
      'mkdir -p /usr/local/share/lua/5.4',
      'for m in basexx inspect; do',
      '  [ -e /usr/local/share/lua/5.4/$m.lua ] || ln -s "$(ls /usr/share/lua/5.*/$m.lua | head -n1)" /usr/local/share/lua/5.4/$m.lua',
      'done',
    ].join('\n'),
  );
}

export async function prosodyPid(bed: TestBed, host: string): Promise<number> {
  const { stdout } = await bed.ssh(host, 'cat /run/prosody/prosody.pid');
  return Number(stdout.trim());
}

export interface Attempt {
  auth: StepResult;
  conference?: StepResult;
  join?: StepResult;
}

/** Logs in over BOSH with `token` (or none, or an account on `xmppDomain`), asks focus for `room` and joins it, as a Jitsi client does. */
export async function attemptJoin(options: { url: string; domain: string; token?: string; room: string; xmppDomain?: string; login?: { user: string; password: string } }): Promise<Attempt> {
  const client = new BoshClient({ url: options.url, domain: options.domain, token: options.token, xmppDomain: options.xmppDomain, login: options.login });
  try {
    await client.connect();
    const auth = await client.authenticate();
    if (!auth.ok) return { auth };
    await client.bind();
    const roomJid = `${options.room}@conference.${options.domain}`;
    const conference = await client.requestConference(roomJid);
    if (!conference.ok) return { auth, conference };
    const join = await client.join(roomJid, `smoke-${randomBytes(3).toString('hex')}`);
    return { auth, conference, join };
  } finally {
    await client.close();
  }
}

/** Waits until the jicofo stand-in is logged in again after a Prosody restart (focus answers conference requests). */
export async function waitForFocus(options: { url: string; domain: string; token?: string }, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Attempt | undefined;
  while (Date.now() < deadline) {
    last = await attemptJoin({ ...options, room: `focus-probe-${randomBytes(3).toString('hex')}` }).catch(() => undefined);
    if (last?.conference?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`focus did not answer conference requests within ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** The HTTP status a plain GET gets, with the Host header Prosody picks its virtual host by. */
export function httpStatus(url: string, hostHeader: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { Host: hostHeader } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

/** Waits until a file on the host matches `pattern` (daemons log a moment after their init script returns). */
export async function waitForFileMatch(bed: TestBed, host: string, file: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { stdout } = await bed.ssh(host, `cat ${file}`);
    if (pattern.test(stdout) || Date.now() > deadline) return stdout;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Restarts Prosody with its init script and waits until BOSH answers again. */
export async function restartProsody(bed: TestBed, host: string): Promise<void> {
  const { address, domain } = await bed.host(host);
  await bed.ssh(host, 'service prosody restart >/dev/null');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await httpStatus(`http://${address}:5280/http-bind`, domain).catch(() => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`Prosody on ${host} did not answer BOSH after a restart`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An HS256 token signed with node:crypto alone (not the tool's minting code), for checking a host from outside. */
export function hs256Token(secret: string, claims: { iss: string; sub: string; room: string; aud?: string }): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ aud: 'jitsi', ...claims, nbf: now - 10, exp: now + 300 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** Whether a token signed with `secret` gets into a room on the host (login, focus, join), once focus is back after a restart. */
export async function secretAdmitted(options: { url: string; domain: string; appId: string; secret: string }): Promise<boolean> {
  const room = `check-${randomBytes(4).toString('hex')}`;
  const token = hs256Token(options.secret, { iss: options.appId, sub: options.domain, room });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const attempt = await attemptJoin({ url: options.url, domain: options.domain, token, room });
    if (!attempt.auth.ok) return false;
    if (attempt.conference?.ok) return Boolean(attempt.join?.ok);
    if (Date.now() > deadline) throw new Error(`focus never answered on ${options.url}: ${JSON.stringify(attempt)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** An RS256 token with a kid, signed with node:crypto alone (not the tool's minting code). */
export function rs256Token(key: KeyObject, kid: string, claims: { iss: string; sub: string; room: string; aud?: string }): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part({ aud: 'jitsi', ...claims, nbf: now - 10, exp: now + 300 })}`;
  return `${body}.${cryptoSign('sha256', Buffer.from(body), key).toString('base64url')}`;
}

/** Whether a token gets into its room on the host (login, focus, join), once focus is back after a restart. */
export async function tokenAdmitted(options: { url: string; domain: string; token: string; room: string }): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const attempt = await attemptJoin(options);
    if (!attempt.auth.ok) return false;
    if (attempt.conference?.ok) return Boolean(attempt.join?.ok);
    if (Date.now() > deadline) throw new Error(`focus never answered on ${options.url}: ${JSON.stringify(attempt)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/**
 * The test bed's record of jicofo and videobridge starts on a host, one
 * "TIME SERVICE EVENT pid=PID" line each. Stops are left out: under systemd a
 * restart of jicofo's unit (made from its SysV script) runs the script's stop,
 * then its start, so a stop is part of a restart there.
 */
export async function serviceEvents(bed: TestBed, host: string): Promise<string[]> {
  const { stdout } = await bed.ssh(host, 'cat /var/log/jitsi/testbed-services.log');
  return stdout.split('\n').filter((line) => line && line.split(' ')[2] !== 'stop');
}

/** "SERVICE EVENT" of each record line. */
export const eventNames = (lines: string[]) => lines.map((line) => line.split(' ').slice(1, 3).join(' '));
