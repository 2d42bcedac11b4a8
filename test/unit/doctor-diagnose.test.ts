// doctor's findings from facts alone: a converged host has none, and each
// state the end-to-end tests cannot easily make (a stopped service, a skewed
// clock, a missing key option, a plain file in conf.d...) gives its finding
// with the evidence and the fix.
import { describe, expect, it } from 'vitest';
import { diagnose, type DiagnoseInput } from '../../src/doctor/diagnose.js';
import type { HostFacts } from '../../src/facts/probe.js';
import { DOMAIN, facts, plan } from '../support/plan-fixtures.js';

const TARGET = 'deploy@meet.example.com';
const CONFIG = `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`;
const LUA_OK = { 'cjson.safe': true, 'openssl.hmac': true, basexx: true, inspect: true, ssl: true };
const PLUGINS = { dir: '/usr/share/jitsi-meet/prosody-plugins', present: ['mod_auth_token.lua', 'mod_token_verification.lua', 'mod_token_affiliation.lua', 'token', 'mod_muc_wait_for_host.lua', 'mod_persistent_lobby.lua', 'mod_muc_lobby_rooms.lua'] };
const JICOFO = 'jicofo {\n  conference: {\n  }\n}\njicofo.conference.enable-auto-owner = false\n';

function converged(options: Parameters<typeof plan>[1] = { moderatorFromToken: true }): string {
  return plan(facts({ plugins: PLUGINS, jicofoConf: JICOFO }), options).files.find((f) => f.path === CONFIG)!.after;
}

function hostFacts(text: string, overrides: Partial<HostFacts> = {}): HostFacts {
  const base = facts({ luaModules: LUA_OK, plugins: PLUGINS, jicofoConf: JICOFO, clock: { now: 5000, utcOffsetSeconds: 0 } }, text);
  base.domainFiles[0].mtime = 1000;
  return { ...base, ...overrides };
}

function run(f: HostFacts, extra: Partial<DiagnoseInput> = {}) {
  return diagnose({
    facts: f,
    reading: { log: '', logFiles: ['/var/log/prosody/prosody.log'], luarocksJwt: [], localLua: [], subRequiredAtLogin: true },
    log: { groups: [], linesRead: 0, since: 0, unparsed: 0, smokeTests: 0 },
    target: TARGET,
    localNow: 5000,
    ...extra,
  });
}

const ids = (f: HostFacts, extra: Partial<DiagnoseInput> = {}) => run(f, extra).findings.map((x) => [x.id, x.severity]);

describe('diagnose', () => {
  it('finds nothing on a host jitsi-jwt converged with moderators from the token', () => {
    const result = run(hostFacts(converged()));
    expect(result.findings).toEqual([]);
    expect(result.domains).toEqual([DOMAIN]);
    expect(result.checked.join('\n')).toContain("Prosody's log");
  });

  it('notes, without calling it a problem, that moderators do not come from the token', () => {
    expect(ids(hostFacts(converged({})))).toEqual([['moderators-not-from-token', 'note']]);
  });

  it.each([
    ['app_id and app_secret removed', (t: string) => t.replace(/^\s*app_id=.*$/m, '').replace(/^\s*app_secret=.*$/m, ''), 'token-auth-incomplete', 'problem'],
    ['enable_domain_verification off', (t: string) => t.replace('enable_domain_verification = true', 'enable_domain_verification = false'), 'domain-verification-off', 'warning'],
    ['no room check', (t: string) => t.replace(/^(\s*)"token_verification";$/m, '$1--"token_verification";'), 'room-check-off', 'warning'],
    ['no muc_mapper_domain_base', (t: string) => t.replace(/^muc_mapper_domain_base = .*$/m, ''), 'muc-mapper-missing', 'problem'],
  ])('%s', (_name, edit, id, severity) => {
    const text = edit(converged());
    expect(text).not.toBe(converged());
    expect(ids(hostFacts(text))).toContainEqual([id, severity]);
  });

  it('names the file and line of what it finds', () => {
    const text = converged().replace('allow_empty_token = false', 'allow_empty_token = true');
    const [finding] = run(hostFacts(text)).findings;
    expect(finding.id).toBe('open-door');
    expect(finding.evidence).toEqual([expect.stringMatching(new RegExp(`^${CONFIG}:\\d+  allow_empty_token = true$`))]);
    expect(finding.fix).toBe(`jitsi-jwt apply ${TARGET}`);
  });

  it('finds stopped services and a Prosody older than its config, with the restart to run', () => {
    const f = hostFacts(converged());
    f.services.jicofo = { installed: true, processes: [] };
    f.domainFiles[0].mtime = 3000;
    const result = run(f);
    expect(result.findings.map((x) => x.id)).toEqual(['service-down', 'prosody-stale']);
    expect(result.findings[0].title).toBe('jicofo is not running');
    expect(result.findings[1].evidence).toEqual(['Prosody running since 1970-01-01T00:33:20Z', `${CONFIG} changed at 1970-01-01T00:50:00Z`]);
    expect(result.findings[1].fix).toContain('service prosody restart');
  });

  it("warns about a skewed clock, and calls one off by minutes a problem", () => {
    expect(ids(hostFacts(converged()), { localNow: 5000 - 45 })).toEqual([['clock-skew', 'warning']]);
    const late = run(hostFacts(converged()), { localNow: 5000 + 600 }).findings[0];
    expect([late.id, late.severity]).toEqual(['clock-skew', 'problem']);
    expect(late.title).toMatch(/600 s behind this machine's/);
  });

  it('lists the Lua modules that do not load, with their error, and the packages apply installs', () => {
    const f = hostFacts(converged(), { luaModules: { ...LUA_OK, 'cjson.safe': false }, luaErrors: { 'cjson.safe': "module 'cjson.safe' not found:" } });
    const [finding] = run(f).findings;
    expect(finding.id).toBe('lua-modules');
    expect(finding.evidence).toEqual([`require "cjson.safe" as the prosody user: module 'cjson.safe' not found`]);
    expect(finding.fix).toContain('lua-cjson');
  });

  it('finds missing token plugins', () => {
    expect(ids(hostFacts(converged(), { plugins: { dir: '/usr/share/jitsi-meet/prosody-plugins', present: ['mod_muc_meeting_id.lua'] } }))).toEqual([['plugins-missing', 'problem']]);
  });

  it('finds Jigasi kept out by the room check, and Jibri installed without its recorder host', () => {
    const text = converged().replace(/token_verification_allowlist = \{[^}]*\}/, 'token_verification_allowlist = { "recorder.meet.example.com" }').replace(/^VirtualHost "recorder\.[^\n]*\n(?:(?!VirtualHost|Component)[^\n]*\n)*/m, '');
    const f = hostFacts(text, { jigasiUser: `jigasi@auth.${DOMAIN}`, packages: { prosody: { installed: true }, jibri: { installed: true, version: '8.0' } } });
    expect(ids(f)).toEqual([['jigasi-blocked', 'problem'], ['jibri-no-host', 'warning']]);
  });

  it('finds a guest host the web client does not use', () => {
    const text = converged({ moderatorFromToken: true, guests: true });
    const web = { path: `/etc/jitsi/meet/${DOMAIN}-config.js`, mode: '644', owner: 'root', group: 'root', text: "var config = {\n    hosts: {\n        domain: 'meet.example.com',\n    },\n};\n" };
    const [finding] = run(hostFacts(text, { webConfigs: [web] })).findings;
    expect([finding.id, finding.severity]).toEqual(['guests-half-configured', 'warning']);
    expect(finding.evidence[0]).toMatch(new RegExp(`^${CONFIG}:\\d+  VirtualHost "guest\\.${DOMAIN.replace(/\./g, '\\.')}"$`));
  });

  it('finds leftovers: a plain file in conf.d, a VirtualHost declared twice, Lua copies under /usr/local', () => {
    const text = `${converged()}\nVirtualHost "${DOMAIN}"\n    c2s_require_encryption = false\n`;
    const f = hostFacts(text);
    f.domainFiles[0].link = f.domainFiles[0].path;
    const result = run(f, { reading: { log: '', logFiles: [], luarocksJwt: [], localLua: ['/usr/local/share/lua/5.4/basexx.lua'], subRequiredAtLogin: true } });
    expect(result.findings.map((x) => x.id)).toEqual(['shadowing-lua', 'domain-file-not-link', 'duplicate-virtualhost']);
    expect(result.findings[2].evidence).toHaveLength(2);
  });

  describe('in the files Prosody reads besides the domain file', () => {
    const MAIN = 'VirtualHost "localhost"\nInclude "conf.d/*.cfg.lua"\n';
    const LOCAL = '/etc/prosody/conf.d/zz-local.cfg.lua';
    /** A converged host whose conf.d also holds Debian's localhost.cfg.lua and, read after the domain file, a local file. */
    const withLocal = (local: string) => {
      const f = hostFacts(converged());
      const extra = [
        { link: '/etc/prosody/conf.d/localhost.cfg.lua', path: '/etc/prosody/conf.avail/localhost.cfg.lua', text: 'VirtualHost "localhost"\n' },
        { link: LOCAL, path: LOCAL, text: local },
      ].map((x) => ({ ...f.domainFiles[0], ...x }));
      f.domainFiles.push(...extra);
      f.prosodyConfigFiles = [{ path: '/etc/prosody/prosody.cfg.lua', text: MAIN }, ...f.domainFiles.map((d) => ({ path: d.link, text: d.text }))];
      return f;
    };

    it('finds nothing in Debian\'s localhost declared twice, nor in an operator\'s own conf.d file', () => {
      expect(run(withLocal('VirtualHost "other.example"\n    c2s_require_encryption = false\n')).findings).toEqual([]);
    });

    it('calls a later declaration that replaces what jitsi-jwt sets a problem, in the words plan and apply refuse the host with', () => {
      const f = withLocal(`VirtualHost "${DOMAIN}"\n    authentication = "jitsi-anonymous"\n`);
      const [finding, ...rest] = run(f).findings;
      expect(rest).toEqual([]);
      let refusal: { message: string; hint: string } | undefined;
      try {
        plan(f);
      } catch (error) {
        refusal = error as { message: string; hint: string };
      }
      expect(refusal?.message).toMatch(/^VirtualHost "meet\.example\.com" is declared again at \/etc\/prosody\/conf\.d\/zz-local\.cfg\.lua:1, which/);
      expect(finding).toEqual({
        id: 'duplicate-virtualhost',
        severity: 'problem',
        domain: DOMAIN,
        title: refusal!.message.replace(':1, which', `:1 on ${TARGET}, which`),
        evidence: [expect.stringMatching(new RegExp(`^${CONFIG}:\\d+  VirtualHost "${DOMAIN}"$`)), `${LOCAL}:1  VirtualHost "${DOMAIN}"`, `${LOCAL}:2  authentication = "jitsi-anonymous"`],
        fix: refusal!.hint,
      });
    });

    it('gives one problem per domain, whatever else the later file overrides', () => {
      const f = withLocal(`VirtualHost "${DOMAIN}"\n    app_id = "other"\nComponent "conference.${DOMAIN}" "muc"\n    modules_enabled = { "muc_meeting_id" }\n`);
      const findings = run(f).findings;
      expect(findings.map((x) => [x.id, x.severity])).toEqual([['duplicate-virtualhost', 'problem']]);
      expect(findings[0].title).toMatch(/^VirtualHost "meet\.example\.com" is declared again .* app_id = "other" \(line 2\) there; Component "conference\.meet\.example\.com" is declared again at \/etc\/prosody\/conf\.d\/zz-local\.cfg\.lua:3 .* modules_enabled = \{ "muc_meeting_id" \} \(line 4\) there: /);
      expect(findings[0].evidence.filter((e) => e.startsWith(LOCAL))).toEqual([
        `${LOCAL}:1  VirtualHost "${DOMAIN}"`,
        `${LOCAL}:3  Component "conference.${DOMAIN}" "muc"`,
        `${LOCAL}:2  app_id = "other"`,
        `${LOCAL}:4  modules_enabled = { "muc_meeting_id" }`,
      ]);
    });
  });

  it('reports module load errors logged since Prosody started, not older ones', () => {
    const group = (last: number) => ({ kind: 'module-load' as const, reason: 'auth_token', module: 'auth_token', count: 2, first: last - 10, last, sample: "Error initializing module 'auth_token'" });
    const log = (last: number) => ({ groups: [group(last)], linesRead: 2, since: 0, unparsed: 0, smokeTests: 0 });
    expect(ids(hostFacts(converged()), { log: log(2500) })).toEqual([['module-load-error', 'problem']]);
    expect(ids(hostFacts(converged()), { log: log(1500) })).toEqual([]);
  });

  it('says a config it cannot read is a problem instead of failing', () => {
    const result = run(hostFacts('VirtualHost "broken'));
    expect(result.findings[0].id).toBe('config-unreadable');
  });
});
