// jitsi-jwt smoke and token on converged hosts of both suites: every case
// behaves through the SSH tunnel as the sudo user; the smoke test fails,
// naming the case, on a host left open, a secret that differs, room checks
// switched off; moderators come from the token; it holds the host's lock, so
// it is refused while another run works on the host and an apply is refused
// while it runs; and the same proof works at a public https URL through nginx
// from Debian, as Jitsi's stock site proxies it.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { LOCK_DIR, LOCK_FILE, LOCK_HOLDER } from '../../src/apply/scripts.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, restartProsody, waitForFocus } from '../support/token-host.js';
import { mintToken } from '../../src/token/mint.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-smoke-${process.pid}`);
const appSecret = randomBytes(32).toString('base64url');
const appId = 'smoke_backend';
const NGINX_HOST = 'trixie-1';

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

// The two hosts' suites run side by side (each works on its own host only); each host's cases run in order.
describe.concurrent.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  const target = () => `deploy@${host.address}`;

  beforeAll(async () => {
    host = await bed.host(name);
    const applied = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--app-id', appId, '--moderator-from-token', '--yes', '--no-smoke', '--json'], {
      env: { JITSI_JWT_APP_SECRET: appSecret },
    });
    expect(applied.stderr).toBe('');
    expect(applied.exitCode).toBe(0);
  });

  it.sequential('passes every case through the SSH tunnel, with the secret read from the host', async () => {
    const run = await jitsiJwt(['smoke', target(), ...sshFlags(bed), '--moderator-from-token', '--json']);
    expect(run.exitCode).toBe(0);
    const host = parseRunDocument(run.stdout).hosts[0];
    const report = host.smoke!;
    // Every BOSH request travelled through the SSH connection (one tunnel each), not straight to the host's address.
    expect(host.timings.roundTrips).toBeGreaterThanOrEqual(report.cases.length * 3);
    expect(report.cases.map((c) => c.verdict)).toEqual(report.cases.map(() => 'pass'));
    expect(report.cases.map((c) => [c.name, c.ok, c.observed.split(':')[0]])).toEqual([
      ['valid token', true, 'admitted as member'],
      ['no token', true, 'refused at login'],
      ['wrong secret', true, 'refused at login'],
      ['expired token', true, 'refused at login'],
      ['wrong room', true, 'refused at room join'],
      ['jibri account', true, 'admitted'],
      ['jigasi account', true, 'admitted'],
      ['moderator token', true, 'admitted as owner'],
      ['plain token', true, 'admitted as member'],
    ]);
    expect(run.stdout).not.toContain(appSecret);
  });

  // One suite is enough: the lock is the same on both, and bookworm's suite has the slow focus-less case.
  it.runIf(name === 'trixie-1').sequential('holds the host lock: refused while another run works on the host, and an apply is refused while it runs', async () => {
    const holder = async () => (await bed.ssh(name, `cat ${LOCK_HOLDER} 2>/dev/null || true`)).stdout;
    const until = async (done: (text: string) => boolean) => {
      for (let i = 0; i < 200 && !done(await holder()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    };
    // Another run holds the lock the way the tool's lock script does: flock on the file, its holder named.
    const other = await bed.ssh(
      name,
      `mkdir -p -m 700 ${LOCK_DIR} && { setsid sh -c 'exec 9>>${LOCK_FILE}; flock 9; printf "%s %s ops\\n" $$ $(date +%s) > ${LOCK_HOLDER}; exec sleep 120' >/dev/null 2>&1 </dev/null & echo $!; }`,
    );
    try {
      await until((text) => text.endsWith(' ops'));
      const refused = await jitsiJwt(['smoke', target(), ...sshFlags(bed), '--json']);
      expect(refused.exitCode).toBe(EXIT.locked);
      const result = parseRunDocument(refused.stdout).hosts[0];
      expect(result.error?.code).toBe('locked');
      expect(result.error?.message).toMatch(/^another jitsi-jwt run is working on deploy@\S+ right now \(pid \d+, since [\d-]+T[\d:]+Z, for ops\)$/);
      expect(result.smoke).toBeNull();
      const text = await jitsiJwt(['smoke', target(), ...sshFlags(bed)]);
      expect(text.exitCode).toBe(EXIT.locked);
      expect(text.stderr).toMatch(/another jitsi-jwt run is working on .* right now/);
    } finally {
      await bed.ssh(name, `kill ${other.stdout.trim()}`);
    }

    const apply = () => jitsiJwt(['apply', target(), ...sshFlags(bed), '--app-id', appId, '--moderator-from-token', '--yes', '--no-smoke'], { env: { JITSI_JWT_APP_SECRET: appSecret } });
    const before = await holder();
    const smoke = jitsiJwt(['smoke', target(), ...sshFlags(bed), '--moderator-from-token', '--json']);
    await until((text) => text !== '' && text !== before);
    const during = await apply();
    expect(during.exitCode).toBe(EXIT.locked);
    expect(during.stderr).toMatch(/another jitsi-jwt run is working on .* right now \(pid \d+, since [\d-]+T[\d:]+Z, for deploy\)/);
    const done = await smoke;
    expect(done.exitCode).toBe(0);
    expect(parseRunDocument(done.stdout).hosts[0].smoke?.ok).toBe(true);
    // Released when it ended.
    expect((await apply()).exitCode).toBe(0);
  });

  // One suite is enough: with focus gone, the valid token waits 30 s for it (the cases after it do not wait again).
  it.runIf(name === 'bookworm-1').sequential('calls a wrong room refused by focus, not by the room check, inconclusive', async () => {
    await bed.ssh(name, 'service jicofo stop');
    try {
      const run = await jitsiJwt(['smoke', target(), ...sshFlags(bed), '--json']);
      expect(run.exitCode).toBe(EXIT.smokeFailed);
      const cases = parseRunDocument(run.stdout).hosts[0].smoke!.cases;
      const byName = Object.fromEntries(cases.map((c) => [c.name, c]));
      expect(byName['valid token']).toMatchObject({ verdict: 'fail', ok: false });
      expect(byName['valid token'].observed).toMatch(/^refused by focus: service-unavailable\b/);
      expect(byName['wrong room']).toMatchObject({ verdict: 'inconclusive', ok: false });
      expect(byName['wrong room'].observed).toMatch(/^inconclusive: refused by focus: service-unavailable\b.* — not the room check$/);
      // Refused at login as they should be, yet unproven while the valid token cannot get in either.
      for (const login of ['no token', 'wrong secret', 'expired token']) {
        expect(byName[login]).toMatchObject({ verdict: 'inconclusive', ok: false });
        expect(byName[login].observed).toMatch(/^inconclusive: refused at login: not-allowed\b/);
      }
    } finally {
      await bed.ssh(name, 'service jicofo start');
      await waitForFocus({ url: `http://${host.address}:5280/http-bind`, domain: DOMAIN, token: await mintToken({ appId, appSecret, room: '*', sub: DOMAIN }) });
    }
  });

  it.sequential('fails on a secret that differs from the host one, naming the case', async () => {
    const run = await jitsiJwt(['smoke', target(), ...sshFlags(bed)], { env: { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') } });
    expect(run.exitCode).toBe(EXIT.smokeFailed);
    expect(run.stdout).toMatch(/FAIL valid token\s+expected admitted\s+refused at login: not-allowed/);
  });

  it.sequential('makes moderators of the tokens that say so, members of the rest', async () => {
    expect((await bed.ssh(name, 'cat /etc/jitsi/jicofo/jicofo.conf')).stdout).toContain('jicofo.conference.enable-auto-owner = false');
    const url = `http://${host.address}:5280/http-bind`;
    const moderator = await jitsiJwt(['token', '--app-id', appId, '--domain', DOMAIN, '--room', 'Board', '--moderator', '--name', 'Chair'], { env: { JITSI_JWT_APP_SECRET: appSecret } });
    expect(moderator.exitCode).toBe(0);
    const chair = await attemptJoin({ url, domain: DOMAIN, room: 'board', token: moderator.stdout.trim() });
    expect(chair.join).toMatchObject({ ok: true, detail: 'affiliation owner' });
    const member = await jitsiJwt(['token', target(), ...sshFlags(bed), '--room', 'board']);
    expect(member.exitCode).toBe(0);
    const guest = await attemptJoin({ url, domain: DOMAIN, room: 'board', token: member.stdout.trim() });
    expect(guest.join).toMatchObject({ ok: true, detail: 'affiliation member' });
  });

  it.sequential('fails when room checks are off but expected, naming the case', async () => {
    const off = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--no-room-check', '--yes', '--no-smoke']);
    expect(off.exitCode).toBe(0);
    expect((await bed.ssh(name, `grep -c '^ *--"token_verification";' ${domainFile(DOMAIN)}`)).stdout).toBe('1');
    const run = await jitsiJwt(['smoke', target(), ...sshFlags(bed)]);
    expect(run.exitCode).toBe(EXIT.smokeFailed);
    expect(run.stdout).toMatch(/FAIL wrong room\s+expected refused\s+admitted/);
    expect((await jitsiJwt(['smoke', target(), ...sshFlags(bed), '--no-room-check'])).exitCode).toBe(0);
    expect((await jitsiJwt(['apply', target(), ...sshFlags(bed), '--yes', '--no-smoke'])).exitCode).toBe(0);
  });

  it.sequential('fails on a host left open to clients without a token, naming the case', async () => {
    await bed.ssh(name, `sed -i 's/^    allow_empty_token = false$/    allow_empty_token = true/' ${domainFile(DOMAIN)}`);
    await restartProsody(bed, name);
    const run = await jitsiJwt(['smoke', target(), ...sshFlags(bed)]);
    expect(run.exitCode).toBe(EXIT.smokeFailed);
    expect(run.stdout).toMatch(/FAIL no token\s+expected refused\s+admitted/);
    // apply puts it right again, and its own smoke test agrees.
    const fixed = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--yes']);
    expect(fixed.exitCode).toBe(0);
    expect(fixed.stdout).toMatch(/ok\s+no token\s+expected refused/);
  });

  // One suite is enough: what this adds to the cases above (run on both suites) is nginx in front, terminating TLS.
  // It runs on the suite without the focus-less case, so that the two suites, side by side, take about as long.
  it.runIf(name === NGINX_HOST).sequential('proves the same cases at a public https URL through nginx terminating TLS with a test CA', async () => {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'smoke-ca-'));
    try {
      const file = (n: string) => path.join(scratch, n);
      await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=jitsi-jwt test CA', '-keyout', file('ca.key'), '-out', file('ca.pem')]);
      await execa('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${DOMAIN}`, '-keyout', file('site.key'), '-out', file('site.csr')]);
      await fs.writeFile(file('ext'), `subjectAltName=DNS:${DOMAIN}\n`);
      await execa('openssl', ['x509', '-req', '-in', file('site.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('ext'), '-out', file('site.pem')]);
      const site = `server {
    listen ${host.address}:443 ssl;
    server_name ${DOMAIN};
    ssl_certificate /etc/ssl/${DOMAIN}.pem;
    ssl_certificate_key /etc/ssl/${DOMAIN}.key;
    location = /http-bind {
        proxy_pass http://${host.address}:5280/http-bind;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header Host ${DOMAIN};
    }
    location = /xmpp-websocket {
        proxy_pass http://${host.address}:5280/xmpp-websocket;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host ${DOMAIN};
        tcp_nodelay on;
    }
}
`;
      await bed.ssh(NGINX_HOST, 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null && rm -f /etc/nginx/sites-enabled/default');
      await bed.ssh(NGINX_HOST, `cat > /etc/ssl/${DOMAIN}.pem`, { input: await fs.readFile(file('site.pem'), 'utf8') });
      await bed.ssh(NGINX_HOST, `cat > /etc/ssl/${DOMAIN}.key && chmod 600 /etc/ssl/${DOMAIN}.key`, { input: await fs.readFile(file('site.key'), 'utf8') });
      await bed.ssh(NGINX_HOST, `cat > /etc/nginx/sites-enabled/${DOMAIN}.conf && (service nginx restart || nginx) >/dev/null 2>&1 && sleep 0.5`, { input: site });

      const args = ['smoke', '--url', `https://${host.address}/http-bind`, '--domain', DOMAIN, '--app-id', appId, '--ca', file('ca.pem')];
      const run = await jitsiJwt(args, { env: { JITSI_JWT_APP_SECRET: appSecret } });
      expect(run.stdout).toMatch(/ok\s+valid token\s+expected admitted\s+admitted/);
      expect(run.exitCode).toBe(0);
      const untrusted = await jitsiJwt(args.slice(0, -2), { env: { JITSI_JWT_APP_SECRET: appSecret } });
      expect(untrusted.exitCode).toBe(EXIT.smokeFailed);
      expect(untrusted.stdout).toMatch(/certificate/i);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});
