// jitsi-jwt setup driven in a pseudo-terminal against real test hosts: a fresh
// host set up with Enter and a few answers ends converged and proven (every
// question, where to save the secret included, asked before the host changes),
// a re-run shows the host's choices, Ctrl-C at the confirmation changes
// nothing, and a password-protected server is switched only after an explicit yes.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { mintToken } from '../../src/token/mint.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { KEY, Terminal } from '../support/terminal.js';
import { attemptJoin, domainFile } from '../support/token-host.js';
import { parseRunDocument, type RunDocumentShape } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-setup-${process.pid}`);
let scratch: string;

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'setup-'));
});

afterAll(async () => {
  await bed.down();
  await fs.rm(scratch, { recursive: true, force: true });
});

describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  const setup = (knownHosts = bed.knownHostsFile) =>
    new Terminal(['setup', `deploy@${host.address}`, '--identity', bed.keyFile, '--known-hosts', knownHosts], { HOME: scratch });

  beforeAll(async () => {
    host = await bed.host(name);
  });

  it('leaves the host byte-for-byte untouched on Ctrl-C at the confirmation', async () => {
    const snapshot = 'md5sum /etc/prosody/conf.avail/* /etc/jitsi/jicofo/jicofo.conf; dpkg -l | md5sum; ls /var/backups/jitsi-jwt 2>/dev/null | wc -l; cat /run/prosody/prosody.pid';
    const before = (await bed.ssh(name, snapshot)).stdout;
    const t = setup();
    await t.waitFor(/app_id/);
    await t.type(KEY.enter);
    await t.waitFor(/How does your backend sign tokens/);
    await t.type(KEY.enter);
    await t.waitFor(/Keep the one on the server|Generate a new one/);
    await t.type(KEY.enter);
    for (const question of [/Admit a token only/, /Make moderators/, /Let guests in/, /Advanced/, /Save app_secret to a local file/]) {
      await t.waitFor(question);
      await t.type(KEY.enter);
    }
    await t.waitFor(/Apply these changes/);
    await t.type(KEY.ctrlC);
    expect(await t.exitCode()).toBe(EXIT.interrupted);
    expect(t.screen).toContain('nothing changed');
    expect((await bed.ssh(name, snapshot)).stdout).toBe(before);
  });

  it('sets up a fresh host with Enter and a few answers, all asked before the host changes: converged, proven, secret saved', async () => {
    const untouched = 'md5sum /etc/prosody/conf.avail/* /etc/jitsi/jicofo/jicofo.conf; ls /var/backups/jitsi-jwt 2>/dev/null | wc -l; cat /run/prosody/prosody.pid';
    const before = (await bed.ssh(name, untouched)).stdout;
    // An unknown host key is shown and recorded only after a yes.
    const knownHosts = path.join(scratch, `known_hosts-${name}`);
    await fs.writeFile(knownHosts, '');
    const secretFile = path.join(scratch, `${name}.app_secret`);
    const t = setup(knownHosts);
    await t.waitFor(/is not in known_hosts\. Its host key fingerprint is SHA256:/);
    await t.type('y', KEY.enter);
    await t.waitFor(/app_id/);
    await t.type(...'e2e_backend', KEY.enter);
    await t.waitFor(/How does your backend sign tokens/);
    await t.type(KEY.enter);
    await t.waitFor(/Keep the one on the server|Generate a new one/);
    await t.type(KEY.enter);
    await t.waitFor(/Admit a token only to the room it names/);
    await t.type(KEY.enter);
    await t.waitFor(/Make moderators from the token/);
    await t.type(KEY.enter);
    await t.waitFor(/Let guests in without a token once a token holder is in the room/);
    await t.type(KEY.enter);
    await t.waitFor(/Advanced/);
    await t.type(KEY.enter);
    // Where the secret goes is asked with the plan on the screen, before anything changed: not after the
    // switch, when the host would wait on the new secret, locked, for a person to type.
    await t.waitFor(/Save app_secret to a local file/);
    expect(t.screen).not.toMatch(/installing lua-cjson|smoke-testing/);
    expect((await bed.ssh(name, untouched)).stdout).toBe(before);
    await t.type('y');
    await t.waitFor(/File/);
    await t.type(...secretFile, KEY.enter);
    await t.waitFor(/Apply these changes/);
    expect((await bed.ssh(name, untouched)).stdout).toBe(before);
    await t.type(KEY.enter);
    expect(await t.exitCode()).toBe(0);
    // After the confirmation the run goes to its end without another question.
    expect(t.screen.slice(t.screen.lastIndexOf('Apply these changes'))).not.toContain('Save app_secret');
    expect(t.screen).toMatch(/ok\s+valid token\s+expected admitted\s+admitted/);
    expect(t.screen).toMatch(/ok\s+wrong room\s+expected refused\s+refused at room join/);
    expect(t.screen).toContain(`meeting URL: https://${DOMAIN}/jitsi-jwt-test?jwt=`);
    expect(t.screen).toContain('new JitsiMeetExternalAPI(');
    expect(await fs.readFile(knownHosts, 'utf8')).toContain(host.address);

    const stat = await fs.stat(secretFile);
    expect(stat.mode & 0o777).toBe(0o600);
    const secret = (await fs.readFile(secretFile, 'utf8')).trim();
    expect(t.screen).not.toContain(secret);
    expect((await bed.ssh(name, `grep -c 'app_id="e2e_backend"' ${domainFile(DOMAIN)}`)).stdout).toBe('1');
    const token = await mintToken({ appId: 'e2e_backend', appSecret: secret, room: 'after-setup', sub: DOMAIN });
    const joined = await attemptJoin({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, room: 'after-setup', token });
    expect(joined.join?.ok).toBe(true);
    expect((await jitsiJwt(['plan', `deploy@${host.address}`, ...sshFlags(bed), '--detailed-exitcode'])).exitCode).toBe(0);
  });

  it('shows the converged choices on a re-run and leaves the host alone', async () => {
    const pid = (await bed.ssh(name, 'cat /run/prosody/prosody.pid')).stdout;
    const t = setup();
    await t.waitFor(/already uses token authentication: app_id e2e_backend, room checks on, clients without a token refused, moderators by Jicofo/);
    await t.waitFor(/Leave it as it is/);
    await t.type(KEY.enter);
    expect(await t.exitCode()).toBe(0);
    expect(t.screen).toContain('Nothing changed.');
    expect((await bed.ssh(name, 'cat /run/prosody/prosody.pid')).stdout).toBe(pid);
  });
});

it('without a terminal, names what is missing instead of asking', async () => {
  const run = await jitsiJwt(['setup'], { env: { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') } });
  expect(run.exitCode).toBe(EXIT.badInput);
  expect(run.stderr).toContain('setup has no terminal to ask on; give TARGET and --yes');
});

it('stops at a safe point on Ctrl-C during apply and leaves the host as it was', async () => {
  const name = 'bookworm-1';
  await bed.reset([name]);
  const host = await bed.host(name);
  const stock = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
  const t = new Terminal(['apply', `deploy@${host.address}`, '--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--app-id', 'interrupted', '--yes'], {
    HOME: scratch,
    JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url'),
  });
  await t.waitFor(/installing lua-cjson/);
  await t.type(KEY.ctrlC);
  expect(await t.exitCode()).toBe(EXIT.interrupted);
  expect(t.screen).toMatch(/interrupted: finishing the current step, then putting the host back as it was/);
  expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stock);
  expect((await bed.ssh(name, 'ls /var/backups/jitsi-jwt 2>/dev/null | wc -l')).stdout).toBe('0');
});

it.each(['bookworm-1', 'trixie-1'])('%s: asks before ending password login on a password-protected server, and a no changes nothing', async (name) => {
  await bed.reset([name]);
  const host = await bed.host(name);
  const file = domainFile(DOMAIN);
  await bed.ssh(name, `sed -i 's/authentication = "jitsi-anonymous" -- do not delete me/authentication = "internal_hashed"/' ${file} && service prosody restart >/dev/null 2>&1; sleep 1; prosodyctl register alice ${DOMAIN} alice-password-1`);
  const before = (await bed.ssh(name, `cat ${file}`)).stdout;
  const t = new Terminal(['setup', `deploy@${host.address}`, '--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile], { HOME: scratch });
  await t.waitFor(/meet\.test logs users in with passwords \(a "secure domain", 1 account\)\. With token authentication none of them can log in any more\./);
  await t.waitFor(/Switch it to tokens and end password login\?/);
  await t.type(KEY.enter);
  expect(await t.exitCode()).toBe(0);
  expect(t.screen).toContain('Nothing changed.');
  expect((await bed.ssh(name, `cat ${file}`)).stdout).toBe(before);
});

/** A run document without what differs between two runs of the same change: times, the backup's name, the command's own name. */
function comparable(document: RunDocumentShape): unknown {
  return JSON.parse(
    JSON.stringify({ ...document, command: 'apply' }, (key, value) => {
      if (key === 'seconds' || key === 'timings') return undefined;
      if (typeof value === 'string') return value.replace(/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z/g, 'STAMP').replace(/\(\d+ sec since expired[^)]*\)/, '(… since expired)');
      return value;
    }),
  );
}

it('gives, with --json at a terminal, the document apply gives for the same host and answers', async () => {
  const name = 'bookworm-1';
  await bed.reset([name]);
  const host = await bed.host(name);
  const out = path.join(scratch, 'setup.json');
  const t = new Terminal(['setup', `deploy@${host.address}`, '--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--json'], { HOME: scratch }, { stdoutFile: out });
  await t.waitFor(/app_id/);
  await t.type(...'same_backend', KEY.enter);
  for (const question of [/How does your backend sign tokens/, /Keep the one on the server|Generate a new one/, /Admit a token only/, /Make moderators/, /Let guests in/, /Advanced/]) {
    await t.waitFor(question);
    await t.type(KEY.enter);
  }
  await t.waitFor(/Save app_secret to a local file/);
  await t.type('n');
  await t.waitFor(/Apply these changes/);
  await t.type(KEY.enter);
  expect(await t.exitCode()).toBe(0);
  const fromSetup = parseRunDocument(await fs.readFile(out, 'utf8'));
  expect(fromSetup).toMatchObject({ command: 'setup', ok: true, secret: { source: 'generated', changed: true, delivered: [] } });

  await bed.reset([name]);
  const applied = await jitsiJwt(['apply', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', 'same_backend', '--yes', '--json']);
  expect(applied.exitCode).toBe(0);
  expect(comparable(fromSetup)).toEqual(comparable(parseRunDocument(applied.stdout)));
});

it('switches a converged host to a public key it publishes, when asked how the backend signs, and proves it with the private key', async () => {
  const name = 'bookworm-1';
  const host = await bed.host(name);
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pub = path.join(scratch, 'setup-key.pub');
  const key = path.join(scratch, 'setup-key.pem');
  await fs.writeFile(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  await fs.writeFile(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const t = new Terminal(['setup', `deploy@${host.address}`, '--identity', bed.keyFile, '--known-hosts', bed.knownHostsFile], { HOME: scratch });
  await t.waitFor(/Leave it as it is/);
  await t.type(KEY.down, KEY.down, KEY.enter);
  await t.waitFor(/app_id/);
  await t.type(KEY.enter);
  await t.waitFor(/How does your backend sign tokens/);
  await t.type(KEY.down, KEY.enter);
  await t.waitFor(/Public key file/);
  await t.type(...pub, KEY.enter);
  await t.waitFor(/Its key id/);
  await t.type(...'setup-kid', KEY.enter);
  await t.waitFor(/Private key to prove a token gets in/);
  await t.type(...key, KEY.enter);
  for (const question of [/Admit a token only/, /Make moderators/, /Let guests in/, /Advanced/]) {
    await t.waitFor(question);
    await t.type(KEY.enter);
  }
  // A cut-over is not the default answer.
  await t.waitFor(/hard cut-over to RS256 tokens, public keys published on the host.*\(y\/N\)/s);
  await t.type('y');
  expect(await t.exitCode()).toBe(0);
  expect(t.screen).toMatch(/CUT-OVER from HS256 tokens signed with the shared app_secret/);
  expect(t.screen).toMatch(/ok\s+valid token\s+expected admitted\s+admitted\s+\[kid setup-kid\]/);
  expect(t.screen).not.toMatch(/Save app_secret/);
  expect(t.screen).not.toContain('PRIVATE KEY');
  expect((await bed.ssh(name, `grep -c 'signature_algorithm = "RS256"' ${domainFile(DOMAIN)}`)).stdout.trim()).toBe('1');
});
