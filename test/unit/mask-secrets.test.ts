// Secrets stay out of every diff the tool shows, in text and in --json, unless
// --show-secret: the value of every secret-bearing key in Lua, HOCON and
// JavaScript, on context, added and removed lines, and any known secret
// wherever it appears.
import { createTwoFilesPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { renderPlan } from '../../src/cli/render.js';
import { maskSecrets } from '../../src/cli/secret-mask.js';
import { runDocument } from '../../src/cli/run-document.js';
import type { HostResult } from '../../src/run/results.js';
import { JICOFO_CONF } from '../../src/plan/plan.js';
import { DOMAIN, SECRET, facts, plan, stockText } from '../support/plan-fixtures.js';
import { jicofoConf as stockJicofoConf } from '../../testbed/provision.js';

const LUA = `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`;
const HOCON = JICOFO_CONF;
const JS = `/etc/jitsi/meet/${DOMAIN}-config.js`;
const NOTE = 'hidden, --show-secret shows it';

// [what, file, diff line, the line as shown]
const masked: [string, string, string, string][] = [
  ['Lua app_secret, added', LUA, '+    app_secret="s3cret"', `+    app_secret="••••••••" -- ${NOTE}`],
  ['Lua app_secret, removed, with a comment', LUA, '-    app_secret = "old" -- rotated', `-    app_secret = "••••••••" -- rotated -- ${NOTE}`],
  ['Lua app_secret, commented example', LUA, '-    --app_secret="example_app_secret"', `-    --app_secret="••••••••" -- ${NOTE}`],
  ['Lua external_service_secret, context', LUA, ' external_service_secret = "turn-secret";', ` external_service_secret = "••••••••"; -- ${NOTE}`],
  ['Lua turncredentials_secret, single quotes', LUA, " turncredentials_secret = 'turn';", ` turncredentials_secret = '••••••••'; -- ${NOTE}`],
  ['Lua component_secret', LUA, '     component_secret = "abc"', `     component_secret = "••••••••" -- ${NOTE}`],
  ['Lua *passwd*, any case', LUA, ' LDAP_Passwd = "x"', ` LDAP_Passwd = "••••••••" -- ${NOTE}`],
  ['Lua *credential*', LUA, '+    turn_credential = "c"', `+    turn_credential = "••••••••" -- ${NOTE}`],
  ['Lua escapes in the value', LUA, '+    app_secret="a\\"b\\\\c"', `+    app_secret="••••••••" -- ${NOTE}`],
  ['Lua long string', LUA, '+    app_secret=[[a"b]]', `+    app_secret="••••••••" -- ${NOTE}`],
  ['Lua expression', LUA, ' app_secret = os.getenv("S") -- from the environment', ` app_secret = "••••••••" -- from the environment -- ${NOTE}`],
  ['Lua table fields, one line', LUA, '     { type = "turn", host = "t", secret = true, password = "p", ["credential"] = \'q\' },', `     { type = "turn", host = "t", secret = true, password = "••••••••", ["credential"] = '••••••••' }, -- ${NOTE}`],
  ['Lua string whose closing quote is on the next line', LUA, '+    app_secret = "first half', `+    app_secret = "••••••••" -- ${NOTE}`],
  ['Lua CRLF line', LUA, '+    app_secret="s"\r', `+    app_secret="••••••••" -- ${NOTE}\r`],
  ['HOCON password, context', HOCON, '       password: "focus-pass"', `       password: "••••••••" # ${NOTE}`],
  ['HOCON dotted key', HOCON, '+jicofo.xmpp.client.password = "focus-pass"', `+jicofo.xmpp.client.password = "••••••••" # ${NOTE}`],
  ['HOCON unquoted, removed', HOCON, '-      password = focuspass', `-      password = "••••••••" # ${NOTE}`],
  ['HOCON unquoted with a comment', HOCON, '       password: abc123 # set by the installer', `       password: "••••••••" # set by the installer # ${NOTE}`],
  ['HOCON substitution', HOCON, '       password: ${?JICOFO_AUTH_PASSWORD}', `       password: "••••••••" # ${NOTE}`],
  ['HOCON quoted key', HOCON, '       "password": "x"', `       "password": "••••••••" # ${NOTE}`],
  ['HOCON dashed key', HOCON, '       trust-store-password: "x"', `       trust-store-password: "••••••••" # ${NOTE}`],
  ['HOCON triple-quoted', HOCON, '       password: """a"b"""', `       password: "••••••••" # ${NOTE}`],
  ['HOCON commented', HOCON, '       # password: "x"', `       # password: "••••••••" # ${NOTE}`],
  ['JavaScript property', JS, "+    password: 'abc',", `+    password: '••••••••', // ${NOTE}`],
  ['JavaScript secret in an object', JS, ' var config = { secret: "x" };', ` var config = { secret: "••••••••" }; // ${NOTE}`],
  ['JavaScript template literal', JS, '    credentials: `tmpl`,', `    credentials: \`••••••••\`, // ${NOTE}`],
  ['JavaScript commented', JS, "-    // password: 'example',", `-    // password: '••••••••', // ${NOTE}`],
];

// [what, file, diff line]: shown as they are
const kept: [string, string, string][] = [
  ['Lua ssl key path', LUA, ' ssl = { key = "/etc/prosody/certs/x.key" }'],
  ['Lua asap_key_server', LUA, '+    asap_key_server = "https://keys.example.com/"'],
  ['Lua authentication', LUA, '+    authentication = "token" -- do not delete me'],
  ['Lua app_id', LUA, '+    app_id="backend"'],
  ['Lua commented app_id', LUA, '-    --app_id="example_app_id"'],
  ['Lua external_services entry (secret = true)', LUA, '     { type = "turn", host = "t", port = 3478, transport = "udp", secret = true, ttl = 86400, algorithm = "turn" },'],
  ['Lua turncredentials table', LUA, ' turncredentials = {'],
  ['Lua prose about a password', LUA, ' -- a password is needed here'],
  ['Lua the word inside a string', LUA, ' description = "password = hunter2"'],
  ['Lua comparison', LUA, ' if password == nil then'],
  ['HOCON username', HOCON, '       username: focus'],
  ['HOCON enable-auto-owner', HOCON, '+jicofo.conference.enable-auto-owner = false'],
  ['HOCON boolean under a secret key', HOCON, '       secret-file-enabled: true'],
  ['HOCON nested object under a secret key', HOCON, '       credentials {'],
  ['JavaScript hosts', JS, "    hosts: { domain: 'meet.example.com' },"],
  ['JavaScript anonymousdomain', JS, "    anonymousdomain: 'guest.meet.example.com',"],
  ['JavaScript boolean', JS, '    enableUserRolesBasedOnToken: true,'],
];

describe('maskSecrets, line by line', () => {
  it.each(masked)('masks %s', (_what, path, line, shown) => {
    expect(maskSecrets(line, { path })).toBe(shown);
  });

  it.each(kept)('keeps %s', (_what, path, line) => {
    expect(maskSecrets(line, { path })).toBe(line);
  });

  it('takes the comment syntax from the diff header', () => {
    const diff = ['Index: /etc/jitsi/jicofo/jicofo.conf', '--- /etc/jitsi/jicofo/jicofo.conf\t', '+++ /etc/jitsi/jicofo/jicofo.conf\t', '@@ -1,1 +1,1 @@', '-password: "a"', '+password: "b"', ''].join('\n');
    expect(maskSecrets(diff)).toBe(
      ['Index: /etc/jitsi/jicofo/jicofo.conf', '--- /etc/jitsi/jicofo/jicofo.conf\t', '+++ /etc/jitsi/jicofo/jicofo.conf\t', '@@ -1,1 +1,1 @@', `-password: "••••••••" # ${NOTE}`, `+password: "••••••••" # ${NOTE}`, ''].join('\n'),
    );
  });

  it('reads a removed Lua comment at the start of a line as content, not as a header', () => {
    const before = 'x = 1\n--app_secret="example_app_secret"\ny = 2\n';
    const after = 'x = 1\napp_secret="brand-new-secret-value"\ny = 2\n';
    const shown = maskSecrets(createTwoFilesPatch(LUA, LUA, before, after));
    expect(shown).toContain(`\n---app_secret="••••••••" -- ${NOTE}\n`);
    expect(shown).toContain(`\n+app_secret="••••••••" -- ${NOTE}\n`);
    expect(shown).toContain(`\n--- ${LUA}`);
    expect(shown).not.toContain('example_app_secret');
    expect(shown).not.toContain('brand-new-secret-value');
  });
});

describe('maskSecrets, known secrets', () => {
  const known = 'kn0wn"secret\\with-escapes';

  it('hides a known secret wherever it appears, also in its Lua- and JSON-escaped forms', () => {
    const lines = [
      ` -- rotated away from ${known}`,
      ` note = "kn0wn\\"secret\\\\with-escapes"`,
      `+  "value": ${JSON.stringify(known)}`,
    ];
    const shown = maskSecrets(lines.join('\n'), { path: LUA, secrets: [known] });
    expect(shown).toBe([' -- rotated away from ••••••••', ' note = "••••••••"', '+  "value": "••••••••"'].join('\n'));
  });

  it('hides each line of a multi-line secret', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    const diff = ['@@ -1,3 +1,3 @@', ' private-key: """-----BEGIN PRIVATE KEY-----', '-MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', '+-----END PRIVATE KEY-----"""'].join('\n');
    const shown = maskSecrets(diff, { path: HOCON, secrets: [pem] });
    expect(shown).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
  });

  it('leaves short known values alone rather than masking words all over the diff', () => {
    expect(maskSecrets(' username = "focus"', { path: LUA, secrets: ['focus'] })).toBe(' username = "focus"');
  });
});

describe('a real plan, in text and in --json', () => {
  const FOCUS_PASSWORD = 'focus-password-7f3a9c';
  const TURN_SECRET = 'turn-secret';
  const OLD_SECRET = 'the-previous-app-secret-'.repeat(2);
  // The stock jicofo.conf (testbed/provision.ts), with an operator's override at
  // its end: the appended enable-auto-owner lines put the password in the diff's context.
  const jicofoConf = `${stockJicofoConf({ domain: DOMAIN, address: '127.0.0.2', focusPassword: FOCUS_PASSWORD })}jicofo.xmpp.client.password = "${FOCUS_PASSWORD}"
`;
  // stockDomainConfig(…, 'turn-secret') sets external_service_secret near the top of
  // the file, far from the lines the edit changes; older Jitsi files also set
  // turncredentials_secret, here next to the credentials so it is in the diff.
  const domainText = stockText
    .replace('    --app_secret="example_app_secret"\n', `    app_secret="${OLD_SECRET}"\n    turncredentials_secret = "${TURN_SECRET}";\n`)
    .replace('    --app_id="example_app_id"\n', '    app_id="backend"\n');
  const hostFacts = facts(
    { jicofoConf, plugins: { dir: '/usr/share/jitsi-meet/prosody-plugins', present: ['mod_auth_token.lua', 'mod_token_verification.lua', 'mod_token_affiliation.lua'] } },
    domainText,
  );
  const p = plan(hostFacts, { moderatorFromToken: true });
  const result: HostResult = { name: 'meet', target: 'root@meet', status: 'pending', exitCode: 0, plan: p, timings: { totalSeconds: 1, roundTrips: 3 } };
  const text = (showSecret: boolean) => renderPlan(p, 'meet', { showSecret }, { color: false });
  const json = (showSecret: boolean) => JSON.stringify(runDocument('plan', [result], { exitCode: 0, seconds: 1, showSecret }));

  it('changes both files, and their diffs hold every secret', () => {
    expect(stockText).toContain(`external_service_secret = "${TURN_SECRET}"`);
    expect(p.files.map((f) => f.path)).toEqual([LUA, JICOFO_CONF]);
    const diffs = p.files.map((f) => f.diff).join('\n');
    for (const secret of [FOCUS_PASSWORD, TURN_SECRET, OLD_SECRET, SECRET]) expect(diffs).toContain(secret);
  });

  const SECRETS = [FOCUS_PASSWORD, TURN_SECRET, OLD_SECRET, SECRET];

  it('keeps every secret out of the text output, and shows them with --show-secret', () => {
    const hidden = text(false);
    for (const secret of SECRETS) expect(hidden).not.toContain(secret);
    expect(hidden).toContain(` jicofo.xmpp.client.password = "••••••••" # ${NOTE}`);
    expect(hidden).toContain(`     turncredentials_secret = "••••••••"; -- ${NOTE}`);
    expect(hidden).toContain(`-    app_secret="••••••••" -- ${NOTE}`);
    const shown = text(true);
    for (const secret of SECRETS) expect(shown).toContain(secret);
    expect(shown).not.toContain(NOTE);
  });

  it('keeps every secret out of the --json document, and shows them with --show-secret', () => {
    const hidden = json(false);
    for (const secret of SECRETS) expect(hidden).not.toContain(secret);
    const diffs = (JSON.parse(hidden) as { hosts: { files: { diff: string }[] }[] }).hosts[0].files.map((f) => f.diff);
    expect(diffs[1]).toContain(` jicofo.xmpp.client.password = "••••••••" # ${NOTE}`);
    expect(diffs[0]).toContain(`     turncredentials_secret = "••••••••"; -- ${NOTE}`);
    const shown = json(true);
    for (const secret of SECRETS) expect(shown).toContain(secret);
    expect(shown).not.toContain(NOTE);
  });
});
