// jitsi-jwt plan/apply against stock Jitsi-shaped hosts on both suites, as the
// passwordless sudo user: the exact config edit, the Lua libraries, one restart
// of each service, tokens admitted and refused by the real Prosody, and a
// second run that changes nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { mintToken } from '../../src/token/mint.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, eventNames, prosodyPid, restartProsody, serviceEvents } from '../support/token-host.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-apply-${process.pid}`);

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

/** The secret as a Lua double-quoted string literal, escaped by hand. */
function luaQuoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}


describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  const appId = 'e2e_backend';
  const appSecret = `q"uo'te\\back]]--dash ünïcødé-${randomBytes(16).toString('hex')}`;
  const target = () => `deploy@${host.address}`;
  const flags = () => [...sshFlags(bed), '--app-id', appId];
  const env = { JITSI_JWT_APP_SECRET: appSecret };
  let stockConfig: string;

  beforeAll(async () => {
    host = await bed.host(name);
    stockConfig = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
  });

  it('plans changes without touching anything, exit 2 with --detailed-exitcode', async () => {
    const pidBefore = await prosodyPid(bed, name);
    const plan = await jitsiJwt(['plan', target(), ...flags(), '--detailed-exitcode'], { env });
    expect(plan.stderr).toBe('');
    expect(plan.exitCode).toBe(2);
    expect(plan.stdout).toContain('install lua-cjson, lua-luaossl, lua-basexx, lua-inspect');
    expect(plan.stdout).toContain('+    authentication = "token" -- do not delete me');
    expect(plan.stdout).not.toContain(appSecret);
    expect(plan.stdout).not.toContain(luaQuoted(appSecret));
    expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(stockConfig);
    expect(await prosodyPid(bed, name)).toBe(pidBefore);
  });

  it('applies as the sudo user: exact edit, libraries loading, one restart each, smoke test passing', async () => {
    const pidBefore = await prosodyPid(bed, name);
    const eventsBefore = (await serviceEvents(bed, name)).length;
    const apply = await jitsiJwt(['apply', target(), ...flags(), '--yes', '--json'], { env });
    expect(apply.stderr).toBe('');
    expect(apply.exitCode).toBe(0);
    const report = parseRunDocument(apply.stdout).hosts[0];
    expect(report.status).toBe('applied');
    expect(report.smoke?.ok).toBe(true);
    expect(report.smoke?.cases.map((c) => [c.name, c.ok])).toEqual([
      ['valid token', true],
      ['no token', true],
      ['wrong secret', true],
      ['expired token', true],
      ['wrong room', true],
      ['jibri account', true],
      ['jigasi account', true],
    ]);
    expect(apply.stdout).not.toContain(appSecret);

    const expected = stockConfig
      .replace('    authentication = "jitsi-anonymous" -- do not delete me\n', '    authentication = "token" -- do not delete me\n')
      .replace('    --app_id="example_app_id"\n', `    app_id="${appId}"\n`)
      .replace(
        '    --app_secret="example_app_secret"\n',
        `    app_secret=${luaQuoted(appSecret)}\n    allow_empty_token = false\n    enable_domain_verification = true\n`,
      )
      .replace('        --"token_verification";\n', '        "token_verification";\n')
      // Jibri (the stock recorder host) and Jigasi (its account on auth.<domain>) join without a token, also past the lobby.
      .replace(/(    -- muc_lobby_whitelist = [^\n]*\n)/, `$1    muc_lobby_whitelist = { "recorder.${DOMAIN}", "auth.${DOMAIN}" }\n`)
      .replace('        "muc_rate_limit";\n    }\n', `        "muc_rate_limit";\n    }\n    token_verification_allowlist = { "recorder.${DOMAIN}", "auth.${DOMAIN}" }\n`);
    expect(expected).not.toBe(stockConfig);
    expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(expected);
    expect((await bed.ssh(name, `stat -c '%a %U %G' $(readlink -f /etc/prosody/conf.d/${DOMAIN}.cfg.lua)`)).stdout).toBe('640 root prosody');
    await bed.ssh(name, `lua5.4 -e 'for _, m in ipairs({"cjson.safe", "openssl.hmac", "basexx", "inspect", "ssl"}) do require(m) end'`);

    expect(await prosodyPid(bed, name)).not.toBe(pidBefore);
    const events = eventNames((await serviceEvents(bed, name)).slice(eventsBefore));
    // Once each; the two restart together after Prosody, in either order.
    expect([...events].sort()).toEqual(['jicofo restart', 'jitsi-videobridge2 restart']);

    // Independently of the tool's own smoke test: the real server's answers.
    const url = `http://${host.address}:5280/http-bind`;
    const claims = { appId, room: 'standup', sub: DOMAIN };
    const valid = await attemptJoin({ url, domain: DOMAIN, room: 'standup', token: await mintToken({ ...claims, appSecret }) });
    expect(valid.join?.ok).toBe(true);
    expect((await attemptJoin({ url, domain: DOMAIN, room: 'standup' })).auth).toMatchObject({ ok: false, condition: 'not-allowed' });
    expect((await attemptJoin({ url, domain: DOMAIN, room: 'standup', token: await mintToken({ ...claims, appSecret: 'x'.repeat(40) }) })).auth).toMatchObject({ ok: false });
    const wrongRoom = await attemptJoin({ url, domain: DOMAIN, room: 'other', token: await mintToken({ ...claims, appSecret }) });
    expect(wrongRoom.join).toMatchObject({ ok: false, condition: 'not-allowed' });
  });

  it('changes nothing and restarts nothing on a second run', async () => {
    const pidBefore = await prosodyPid(bed, name);
    const eventsBefore = await serviceEvents(bed, name);
    const configBefore = (await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout;
    const again = await jitsiJwt(['apply', target(), ...flags(), '--yes'], { env });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('No changes');
    expect(await prosodyPid(bed, name)).toBe(pidBefore);
    expect(await serviceEvents(bed, name)).toEqual(eventsBefore);
    expect((await bed.ssh(name, `cat ${domainFile(DOMAIN)}`)).stdout).toBe(configBefore);

    // Without the secret: the host's is kept, never rotated.
    const plan = await jitsiJwt(['plan', target(), ...sshFlags(bed), '--detailed-exitcode']);
    expect(plan.exitCode).toBe(0);
    expect(plan.stdout).toContain('kept from the host');
  });
  it('takes over a hand-made, half-done setup in a conf.d file that is not a link: completes it, says so, proves it', async () => {
    await bed.reset([name]);
    const link = `/etc/prosody/conf.d/${DOMAIN}.cfg.lua`;
    // An admin copied the file over its link and started on tokens by hand: app_id, no secret.
    await bed.ssh(name, [
      `cp --remove-destination "$(readlink -f ${link})" ${link}`,
      `sed -i -e 's/authentication = "jitsi-anonymous" -- do not delete me/authentication = "token" -- do not delete me/' -e 's/--app_id="example_app_id"/app_id="${appId}"/' ${link}`,
    ].join(' && '));
    const avail = (await bed.ssh(name, `cat /etc/prosody/conf.avail/${DOMAIN}.cfg.lua`)).stdout;
    const apply = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--yes', '--json'], { env });
    expect(apply.exitCode, apply.stderr).toBe(0);
    const report = parseRunDocument(apply.stdout).hosts[0];
    expect(report.smoke?.ok).toBe(true);
    expect(report.warnings).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^${link.replace(/\./g, '\\.')} is a plain file, not a link`)),
      'token authentication was half set up by hand: no app_secret. This run completes it.',
    ]));
    expect((await bed.ssh(name, `test -f ${link} && test ! -L ${link} && echo plain`)).stdout).toBe('plain');
    expect((await bed.ssh(name, `grep -c '^    app_secret=' ${link}`)).stdout).toBe('1');
    // The copy Prosody does not read is left as it was.
    expect((await bed.ssh(name, `cat /etc/prosody/conf.avail/${DOMAIN}.cfg.lua`)).stdout).toBe(avail);
    const again = await jitsiJwt(['plan', target(), ...sshFlags(bed), '--detailed-exitcode']);
    expect(again.exitCode, again.stdout).toBe(0);
  });
  it('on a Prosody with two Jitsi domains, asks which one and changes only that one', async () => {
    await bed.reset([name]);
    const second = '/etc/prosody/conf.avail/meet2.test.cfg.lua';
    await bed.ssh(name, `sed 's/meet\\.test/meet2.test/g' ${domainFile(DOMAIN)} > ${second} && ln -s ${second} /etc/prosody/conf.d/meet2.test.cfg.lua`);
    await restartProsody(bed, name);
    const secondBefore = (await bed.ssh(name, `cat ${second}`)).stdout;

    const ambiguous = await jitsiJwt(['plan', target(), ...flags()], { env });
    expect(ambiguous.exitCode).toBe(3);
    expect(ambiguous.stderr).toMatch(/this host serves several Jitsi domains: meet2?\.test .*meet2?\.test/);
    expect(ambiguous.stderr).toContain('choose one with --domain');

    const apply = await jitsiJwt(['apply', target(), ...flags(), '--domain', DOMAIN, '--yes', '--json'], { env });
    expect(apply.exitCode, apply.stderr).toBe(0);
    const report = parseRunDocument(apply.stdout).hosts[0];
    expect(report.domain).toBe(DOMAIN);
    expect(report.smoke?.ok, JSON.stringify(report.smoke?.cases)).toBe(true);
    expect(report.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^muc_mapper_domain_base is a global option shared by every file Prosody reads, and \/etc\/prosody\/conf\.d\/meet2\.test\.cfg\.lua sets it to "meet2\.test"/)]));
    expect((await bed.ssh(name, `cat ${second}`)).stdout).toBe(secondBefore);
  });
  it("takes over a server set up by jitsi-meet-tokens and keeps its debconf answers in step, so removing the package still undoes its edits", async () => {
    await bed.reset([name]);
    const file = domainFile(DOMAIN);
    const packageSecret = randomBytes(24).toString('hex');
    // What the package leaves: itself installed, its debconf answers, and its postinst's sed edits made with them.
    await bed.ssh(name, [
      'd=$(mktemp -d) && mkdir "$d/DEBIAN"',
      `printf 'Package: jitsi-meet-tokens\\nVersion: 1.0.8043-1\\nArchitecture: all\\nMaintainer: test bed <root@localhost>\\nDescription: stand-in with the state Jitsi\\x27s jitsi-meet-tokens leaves\\n' > "$d/DEBIAN/control"`,
      'dpkg-deb --build "$d" "$d.deb" >/dev/null && dpkg -i "$d.deb" >/dev/null',
      `printf 'jitsi-meet-tokens jitsi-meet-tokens/appid string ${appId}\\njitsi-meet-tokens jitsi-meet-tokens/appsecret password ${packageSecret}\\n' | debconf-set-selections`,
      `sed -i 's/authentication = "jitsi-anonymous" -- do not delete me/authentication = "token" -- do not delete me/g' ${file}`,
      `sed -i 's/ --app_id="example_app_id"/ app_id="${appId}"/g; s/ --app_secret="example_app_secret"/ app_secret="${packageSecret}"/g' ${file}`,
      `sed -i '/^\\s*--\\s*"token_verification"/ s/--\\s*//' ${file}`,
    ].join(' && '));
    const answers = async () => (await bed.ssh(name, `grep -h -A2 '^Name: jitsi-meet-tokens/app' /var/cache/debconf/config.dat /var/cache/debconf/passwords.dat`)).stdout;

    // Taken over as it is: app_id and secret kept, so the answers already match.
    const takeover = await jitsiJwt(['apply', target(), ...sshFlags(bed), '--yes', '--json']);
    expect(takeover.exitCode, takeover.stderr).toBe(0);
    const report = parseRunDocument(takeover.stdout).hosts[0];
    expect(report.smoke?.ok).toBe(true);
    expect(report.changes.join('\n')).not.toContain('debconf');
    expect(await answers()).toContain(`Value: ${packageSecret}`);

    // A rotation sets the new secret in debconf too, and the old one is gone from it.
    const secretOut = `${process.env.TMPDIR ?? '/tmp'}/${name}-tokens-secret`;
    const rotated = await jitsiJwt(['rotate-secret', target(), ...sshFlags(bed), '--yes', '--json', '--secret-out', secretOut]);
    expect(rotated.exitCode, rotated.stderr).toBe(0);
    expect(parseRunDocument(rotated.stdout).hosts[0].changes.join('\n')).toMatch(/set jitsi-meet-tokens's debconf answers appsecret \(hidden\)/);
    const newSecret = (await import('node:fs')).readFileSync(secretOut, 'utf8').trim();
    const now = await answers();
    expect(now).toContain(`Value: ${newSecret}`);
    expect(now).not.toContain(packageSecret);

    // The package's removal script un-edits the file by its answers: with them in step, it finds its lines.
    await bed.ssh(name, [
      `APP_ID=${appId} APP_SECRET=$(awk 'BEGIN { RS = ""; FS = "\\n" } /Name: jitsi-meet-tokens\\/appsecret/ { for (i = 1; i <= NF; i++) if ($i ~ /^Value: /) print substr($i, 8) }' /var/cache/debconf/passwords.dat)`,
      `sed -i "s/ app_id=\\"$APP_ID\\"/ --app_id=\\"example_app_id\\"/g; s/ app_secret=\\"$APP_SECRET\\"/ --app_secret=\\"example_app_secret\\"/g" ${file}`,
    ].join(' && '));
    const undone = (await bed.ssh(name, `cat ${file}`)).stdout;
    expect(undone).toContain('    --app_id="example_app_id"\n');
    expect(undone).toContain('    --app_secret="example_app_secret"\n');
  });
});
