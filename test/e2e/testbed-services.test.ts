// What a test host offers beyond the token holder (Debian 12; both suites with
// Jitsi's own plugins): Jibri's recorder and Jigasi log in with their passwords; with room checks on they are
// refused at join until token_verification_allowlist lists them, as are guests;
// with the guest setup (guest VirtualHost, muc_wait_for_host, persistent_lobby)
// a guest waits with a 407 registration-required + waiting-for-host until a
// token holder arrives, muc_lobby_whitelist lets the recorder past the waiting
// room, and without persistent_lobby guests walk straight in.
//
// JITSI_JWT_TEST_PLUGINS=DIR runs the same checks on hosts with that
// prosody-plugins directory (Jitsi's own plugins) instead of the stand-ins.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { serviceAccounts, type ServiceAccount } from '../../testbed/provision.js';
import { BoshClient, type StepResult } from '../../src/smoke/bosh-client.js';
import {
  domainFile,
  hs256Token,
  installTokenLuaPackages,
  linkPureLuaModules,
  restartProsody,
  switchToTokenAuth,
  waitForFocus,
} from '../support/token-host.js';

const DOMAIN = 'meet.test';
const GUEST_DOMAIN = `guest.${DOMAIN}`;
const PLUGINS = process.env.JITSI_JWT_TEST_PLUGINS ? path.resolve(process.env.JITSI_JWT_TEST_PLUGINS) : undefined;
const bed = new TestBed(`e2e-services-${process.pid}`);

// With the stand-ins, Debian 12 and the older stock file are enough here: test/e2e/access.test.ts
// goes through the same paths with the tool on both suites and the current file. Jitsi's own
// plugins get both.
const HOSTS = PLUGINS ? ['bookworm-1', 'trixie-1'] : ['bookworm-1'];

beforeAll(async () => {
  // bookworm gets the older stock file (recorder host added by hand), trixie the current one.
  await bed.up({ suites: ['bookworm'], count: 1, domain: DOMAIN, generation: '2024', pluginsDir: PLUGINS, brokenProsodyInit: false });
  if (PLUGINS) await bed.up({ suites: ['trixie'], count: 1, domain: DOMAIN, generation: '2026', pluginsDir: PLUGINS, brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

/** One XMPP client kept open across steps: logged in, bound, able to ask focus for rooms and join them. */
class Participant {
  readonly client: BoshClient;
  constructor(url: string, options: { xmppDomain?: string; token?: string; login?: ServiceAccount }) {
    this.client = new BoshClient({
      url,
      domain: DOMAIN,
      xmppDomain: options.login?.host ?? options.xmppDomain,
      token: options.token,
      login: options.login ? { user: options.login.user, password: options.login.password } : undefined,
    });
  }
  async login(): Promise<StepResult> {
    await this.client.connect();
    const auth = await this.client.authenticate();
    if (auth.ok) await this.client.bind();
    return auth;
  }
  async enter(room: string): Promise<{ conference: StepResult; join?: StepResult }> {
    const roomJid = `${room}@conference.${DOMAIN}`;
    const conference = await this.client.requestConference(roomJid);
    if (!conference.ok) return { conference };
    return { conference, join: await this.join(roomJid) };
  }
  join(roomJid: string): Promise<StepResult> {
    return this.client.join(roomJid, `p-${randomBytes(3).toString('hex')}`, { settleMs: 300 });
  }
  close(): Promise<void> {
    return this.client.close();
  }
}

/** Edits the domain file on the host line by line, the way an administrator would, and restarts Prosody. */
async function editDomainFile(name: string, edit: (lines: string[]) => void): Promise<void> {
  const file = domainFile(DOMAIN);
  const lines = (await bed.ssh(name, `cat ${file}`)).stdout.split('\n');
  edit(lines);
  await bed.ssh(name, `cat > ${file}.new && chmod 640 ${file}.new && chown root:prosody ${file}.new && mv ${file}.new ${file}`, { input: `${lines.join('\n')}\n` });
  await restartProsody(bed, name);
}

function indexOf(lines: string[], text: string, from = 0): number {
  const index = lines.findIndex((line, i) => i >= from && line.trim() === text);
  if (index < 0) throw new Error(`the domain file has no line "${text}"${from ? ` after line ${from + 1}` : ''}`);
  return index;
}

/** Inserts `line` after the first line reading `after` (trimmed) that follows the line reading `section`. */
function insertAfter(lines: string[], section: string | undefined, after: string, line: string): void {
  lines.splice(indexOf(lines, after, section ? indexOf(lines, section) : 0) + 1, 0, line);
}

function remove(lines: string[], text: string): void {
  lines.splice(indexOf(lines, text), 1);
}

/** `prosodyctl check config`'s findings, minus the list of files it read. */
async function configFindings(name: string): Promise<string> {
  const { stdout } = await bed.ssh(name, 'prosodyctl check config 2>&1', { reject: false });
  return stdout.split('\n').filter((line) => !/^\s+-\s+\/etc\/prosody\//.test(line)).join('\n');
}

describe.each(HOSTS)('%s', (name) => {
  let host: HostRecord;
  let url: string;
  let accounts: ReturnType<typeof serviceAccounts>;
  const appId = 'services_app';
  const appSecret = randomBytes(32).toString('base64url');
  const token = (room: string) => hs256Token(appSecret, { iss: appId, sub: DOMAIN, room });

  beforeAll(async () => {
    host = await bed.host(name);
    url = `http://${host.address}:5280/http-bind`;
    accounts = serviceAccounts(host);
    await installTokenLuaPackages(bed, name);
    await linkPureLuaModules(bed, name);
    // Errors from before the libraries were there are not this test's business.
    await bed.ssh(name, ': > /var/log/prosody/prosody.err');
    await restartProsody(bed, name);
  });

  it('keeps the component passwords root-only in host.env and the stock-shaped web config in /etc/jitsi/meet', async () => {
    const env = await bed.ssh(name, 'stat -c "%U:%G %a" /etc/jitsi-testbed/host.env && cat /etc/jitsi-testbed/host.env');
    expect(env.stdout).toContain('root:root 600');
    expect(env.stdout).toContain(`RECORDER_PASSWORD=${accounts.recorder.password}\n`);
    expect(env.stdout).toContain(`JIGASI_PASSWORD=${accounts.jigasi.password}`);

    const web = await bed.ssh(name, `stat -c "%U:%G %a" /etc/jitsi/meet/${DOMAIN}-config.js && cat /etc/jitsi/meet/${DOMAIN}-config.js`);
    expect(web.stdout).toContain('root:root 644');
    expect(web.stdout).toContain(`        domain: '${DOMAIN}',\n\n        // When using authentication, domain for guest users.\n        // anonymousdomain: 'guest.example.com',\n`);
    expect(web.stdout).not.toContain('jitsi-meet.example.com');
    expect(web.stdout).toMatch(host.generation === '2024' ? /^ {4}\/\/ websocket: 'wss:\/\/meet\.test\//m : /^ {4}websocket: 'wss:\/\/meet\.test\//m);
  });

  it('loads the recorder host and the lobby module without new findings from prosodyctl check config', async () => {
    const withThem = await configFindings(name);
    const file = domainFile(DOMAIN);
    const original = (await bed.ssh(name, `cat ${file}`)).stdout;
    try {
      await editDomainFile(name, (lines) => {
        remove(lines, '"muc_lobby_rooms";');
        const start = indexOf(lines, `VirtualHost "recorder.${DOMAIN}"`);
        const end = lines.findIndex((line, i) => i > start && /^(VirtualHost|Component|--)/.test(line));
        lines.splice(start, end - start);
      });
      expect(await configFindings(name)).toBe(withThem);
    } finally {
      await bed.ssh(name, `cat > ${file}`, { input: original });
      await restartProsody(bed, name);
    }
    const errors = (await bed.ssh(name, 'cat /var/log/prosody/prosody.err')).stdout;
    expect(errors).not.toMatch(/muc_lobby_rooms|recorder\./);
  });

  it('lets the recorder and Jigasi log in with their passwords, and nobody with a wrong one', async () => {
    for (const account of [accounts.recorder, accounts.jigasi]) {
      const participant = new Participant(url, { login: account });
      try {
        expect(await participant.login()).toEqual({ ok: true });
        expect(participant.client.jid).toMatch(new RegExp(`^${account.jid.replace(/\./g, '\\.')}/`));
      } finally {
        await participant.close();
      }
      const wrong = new Participant(url, { login: { ...account, password: `${account.password}x` } });
      try {
        expect(await wrong.login()).toMatchObject({ ok: false, condition: 'not-authorized' });
      } finally {
        await wrong.close();
      }
    }
  });

  it('refuses tokenless sessions at join with room checks on, until the allowlist names them', async () => {
    await switchToTokenAuth(bed, name, DOMAIN, appId, appSecret);
    await editDomainFile(name, (lines) => lines.push('', `VirtualHost "${GUEST_DOMAIN}"`, '    authentication = "jitsi-anonymous"', '    c2s_require_encryption = false'));
    await waitForFocus({ url, domain: DOMAIN, token: token('*') });

    const recorder = new Participant(url, { login: accounts.recorder });
    const guest = new Participant(url, { xmppDomain: GUEST_DOMAIN });
    const holder = new Participant(url, { token: token('checks') });
    try {
      for (const p of [recorder, guest, holder]) expect(await p.login()).toEqual({ ok: true });
      expect((await holder.enter('checks')).join).toMatchObject({ ok: true });
      expect((await recorder.enter('checks')).join).toMatchObject({ ok: false, condition: 'not-allowed' });
      const refused = (await guest.enter('checks')).join;
      expect(refused).toMatchObject({ ok: false, condition: 'not-allowed' });
    } finally {
      await Promise.all([recorder, guest, holder].map((p) => p.close()));
    }
    expect((await bed.ssh(name, 'cat /var/log/prosody/prosody.log')).stdout).toMatch(/Token nil not allowed to join: checks@conference\.meet\.test/);

    // A domain (recorder.<domain>) and a bare JID (jigasi@auth.<domain>).
    await editDomainFile(name, (lines) =>
      insertAfter(lines, `Component "conference.${DOMAIN}" "muc"`, `admins = { "focus@auth.${DOMAIN}" }`, `    token_verification_allowlist = { "${accounts.recorder.host}", "${accounts.jigasi.jid}" }`),
    );
    await waitForFocus({ url, domain: DOMAIN, token: token('*') });
    const allowed = [new Participant(url, { login: accounts.recorder }), new Participant(url, { login: accounts.jigasi })];
    const stillGuest = new Participant(url, { xmppDomain: GUEST_DOMAIN });
    try {
      for (const p of [...allowed, stillGuest]) expect(await p.login()).toEqual({ ok: true });
      for (const p of allowed) expect((await p.enter('allowed')).join).toMatchObject({ ok: true });
      expect((await stillGuest.enter('allowed')).join).toMatchObject({ ok: false, condition: 'not-allowed' });
    } finally {
      await Promise.all([...allowed, stillGuest].map((p) => p.close()));
    }
  });

  it('holds guests until a token holder arrives, lets the whitelisted recorder past the waiting room, then admits everyone', async () => {
    await editDomainFile(name, (lines) => {
      const allowlist = lines.findIndex((line) => line.trim().startsWith('token_verification_allowlist = '));
      lines[allowlist] = lines[allowlist].replace(' }', `, "${GUEST_DOMAIN}" }`);
      insertAfter(lines, `Component "conference.${DOMAIN}" "muc"`, '"token_verification";', '        "muc_wait_for_host";');
      insertAfter(lines, `VirtualHost "${DOMAIN}"`, '"muc_lobby_rooms";', '        "persistent_lobby";');
      const whitelist = lines.findIndex((line) => line.trim().startsWith('-- muc_lobby_whitelist = '));
      lines[whitelist] = `    muc_lobby_whitelist = { "${accounts.recorder.host}" }`;
    });
    await waitForFocus({ url, domain: DOMAIN, token: token('*') });

    const room = `wait-${randomBytes(3).toString('hex')}`;
    const roomJid = `${room}@conference.${DOMAIN}`;
    const guest = new Participant(url, { xmppDomain: GUEST_DOMAIN });
    const jigasi = new Participant(url, { login: accounts.jigasi });
    const recorder = new Participant(url, { login: accounts.recorder });
    const holder = new Participant(url, { token: token(room) });
    try {
      for (const p of [guest, jigasi, recorder, holder]) expect(await p.login()).toEqual({ ok: true });

      const waiting = await guest.enter(room);
      expect(waiting.conference).toEqual({ ok: true });
      expect(waiting.join).toMatchObject({ ok: false, condition: 'registration-required', extra: ['waiting-for-host', 'lobbyroom', 'lobbyroom'] });
      const stanza = waiting.join!.ok ? '' : waiting.join!.stanza;
      expect(stanza).toMatch(/<error [^>]*code=["']407["']/);
      expect(stanza).toMatch(/<error [^>]*type=["']auth["']/);
      expect(stanza).toContain(`<waiting-for-host xmlns="http://jitsi.org/jitmeet"/>`);
      expect(stanza).toContain(`<lobbyroom xmlns="http://jitsi.org/jitmeet">${room}@lobby.${DOMAIN}</lobbyroom></error><lobbyroom>${room}@lobby.${DOMAIN}</lobbyroom>`);
      // The waiting room exists in the lobby component.
      expect(await guest.join(`${room}@lobby.${DOMAIN}`)).toMatchObject({ ok: true });

      expect(await jigasi.join(roomJid)).toMatchObject({ ok: false, condition: 'registration-required' });
      expect(await recorder.join(roomJid)).toMatchObject({ ok: true, detail: 'affiliation member' });

      expect(await holder.join(roomJid)).toMatchObject({ ok: true, detail: 'affiliation owner' });
      const admitted = await guest.join(roomJid);
      expect(admitted.ok).toBe(true);
      expect(admitted.ok && admitted.detail).not.toBe('affiliation owner');
      expect(await jigasi.join(roomJid)).toMatchObject({ ok: true });
    } finally {
      await Promise.all([guest, jigasi, recorder, holder].map((p) => p.close()));
    }
  });

  it('lets guests straight in without persistent_lobby: no waiting room is made', async () => {
    await editDomainFile(name, (lines) => remove(lines, '"persistent_lobby";'));
    await waitForFocus({ url, domain: DOMAIN, token: token('*') });
    const guest = new Participant(url, { xmppDomain: GUEST_DOMAIN });
    try {
      expect(await guest.login()).toEqual({ ok: true });
      expect((await guest.enter(`open-${randomBytes(3).toString('hex')}`)).join).toMatchObject({ ok: true });
    } finally {
      await guest.close();
    }
  });
});
