// The planner as a table: host facts and settings in, changes out. Converged
// hosts plan nothing; restarts follow only from changes that need them.
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../src/facts/probe.js';
import type { TokenOptions } from '../../src/settings/settings.js';
import { isEmpty } from '../../src/plan/changes.js';
import { DOMAIN, facts, plan, SECRET, stockText } from '../support/plan-fixtures.js';
import { summarisePlan } from '../../src/cli/render.js';

const converged = () => {
  const first = plan(facts());
  return facts({
    domainFiles: [{ ...facts().domainFiles[0], text: first.files[0].after, mode: '640', group: 'prosody' }],
    packages: { prosody: { installed: true }, 'lua-sec': { installed: true }, 'lua-cjson': { installed: true }, 'lua-luaossl': { installed: true }, 'lua-basexx': { installed: true }, 'lua-inspect': { installed: true } },
    luaModules: { 'cjson.safe': true, 'openssl.hmac': true, basexx: true, inspect: true, ssl: true },
  });
};

describe('planTokenAuth', () => {
  it('plans packages, links, the edit and all three restarts on a stock Debian 12 host', () => {
    const p = plan(facts());
    expect(p.packages).toEqual(['lua-cjson', 'lua-luaossl', 'lua-basexx', 'lua-inspect']);
    expect(p.links.map((l) => l.path)).toEqual(['/usr/local/share/lua/5.4/basexx.lua', '/usr/local/share/lua/5.4/inspect.lua']);
    expect(p.files[0]?.diff).toContain('+    authentication = "token" -- do not delete me');
    expect(p.files[0]?.mode).toEqual({ from: '644', to: '640' });
    expect(p.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(p.secretSource).toBe('given');
  });

  it('plans nothing on a converged host', () => {
    const p = plan(converged());
    expect(isEmpty(p)).toBe(true);
    expect(p.restarts).toEqual([]);
  });

  it('keeps the secret on the host when none is given, and never rotates', () => {
    const p = plan(converged(), { appSecret: undefined });
    expect(p.secretSource).toBe('kept');
    expect(isEmpty(p)).toBe(true);
  });

  it('generates a secret when neither the host nor the user has one', () => {
    const p = plan(facts(), { appSecret: undefined });
    expect(p.secretSource).toBe('generated');
    expect(p.files[0]?.after).toContain('generated-secret-');
  });

  it('fixes permissions without restarting anything', () => {
    const f = converged();
    f.domainFiles[0].mode = '644';
    const p = plan(f);
    expect(p.files[0]?.mode).toEqual({ from: '644', to: '640' });
    expect(p.restarts).toEqual([]);
  });

  it('restarts a Prosody that still runs on a config older than the file', () => {
    const f = converged();
    f.domainFiles[0].mtime = 3000;
    const p = plan(f);
    expect(p.files).toEqual([]);
    expect(p.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(p.restartReasons.join()).toMatch(/older than the file/);
  });

  it.each([
    [['jicofo'], ['jicofo']],
    [['jicofo', 'jitsi-videobridge2'], ['jicofo', 'jitsi-videobridge2']],
    // Jicofo and the videobridge log in to Prosody: they restart with it.
    [['prosody'], ['prosody', 'jicofo', 'jitsi-videobridge2']],
  ] as const)('on a converged host with %j down, restarts %j', (down, restarts) => {
    const f = converged();
    for (const service of down) f.services[service] = { installed: true, processes: [] };
    const p = plan(f);
    expect(p.files).toEqual([]);
    expect(p.restarts).toEqual(restarts);
    expect(p.restartReasons.join('; ')).toMatch(/not running/);
  });

  it('restarts every service, the dead one among them, when the config changes too', () => {
    const p = plan(facts({ services: { ...facts().services, jicofo: { installed: true, processes: [] } } }));
    expect(p.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(p.restartReasons).toContain('jicofo is not running');
  });

  it('skips services that are not installed, with a warning', () => {
    const p = plan(facts({ services: { ...facts().services, 'jitsi-videobridge2': { installed: false, processes: [] } } }));
    expect(p.restarts).toEqual(['prosody', 'jicofo']);
    expect(p.warnings).toContain('jitsi-videobridge2 is not installed here; it is not restarted');
  });

  it('links nothing on a Lua that Debian packages the pure-Lua modules for', () => {
    expect(plan(facts({ prosody: { lua: 'lua5.2' } })).links).toEqual([]);
  });

  it.each([
    [{ plugins: { dir: '/usr/share/jitsi-meet/prosody-plugins', present: [] } }, {}, /\(mod_auth_token\.lua\) is not in/],
    [{ plugins: { dir: '/usr/share/jitsi-meet/prosody-plugins', present: ['mod_auth_token.lua'] } }, {}, /room checks cannot be enabled/],
    [{ domainFiles: [] }, {}, /no Jitsi domain config found/],
    [{}, { domain: 'other.example.com' }, /has no Jitsi domain "other\.example\.com"/],
    [{}, { appId: undefined }, /has no app_id yet/],
    [{}, { appSecret: 'short' }, /at least 32/],
  ] as [Partial<HostFacts>, Partial<TokenOptions>, RegExp][])('refuses what it cannot do (%#)', (f, o, message) => {
    expect(() => plan(facts(f), o)).toThrow(message);
  });

  it('asks which domain when a host serves several', () => {
    const second = stockText.replaceAll(DOMAIN, 'meet2.example.com');
    const f = facts();
    f.domainFiles.push({ ...f.domainFiles[0], path: '/etc/prosody/conf.avail/meet2.example.com.cfg.lua', text: second });
    expect(() => plan(f)).toThrow(/several Jitsi domains: meet\.example\.com .*meet2\.example\.com/);
    expect(plan(f, { domain: 'meet2.example.com' }).configPath).toBe('/etc/prosody/conf.avail/meet2.example.com.cfg.lua');
  });
});

describe('the rest of what Prosody reads', () => {
  const MAIN = 'http_interfaces = { "127.0.0.6" }\nInclude "conf.d/*.cfg.lua"\n';
  /** The probe's copies of /etc/prosody: the main config, the domain file's link and a local file read after it. */
  const withFiles = (local?: string, services?: Partial<HostFacts['services']>) => {
    const f = facts();
    if (services) f.services = { ...f.services, ...services };
    f.prosodyConfigFiles = [
      { path: '/etc/prosody/prosody.cfg.lua', text: MAIN },
      { path: f.domainFiles[0].link, text: f.domainFiles[0].text },
      ...(local === undefined ? [] : [{ path: '/etc/prosody/conf.d/zz-local.cfg.lua', text: local }]),
    ];
    // The probe lists every conf.d file among the domain files too.
    if (local !== undefined) f.domainFiles.push({ ...f.domainFiles[0], link: '/etc/prosody/conf.d/zz-local.cfg.lua', path: '/etc/prosody/conf.d/zz-local.cfg.lua', text: local });
    return f;
  };
  const down = { prosody: { installed: true, processes: [] } };

  it('refuses a domain whose VirtualHost a file read later sets again, before planning any change', () => {
    const f = withFiles(`VirtualHost "${DOMAIN}"\n    authentication = "jitsi-anonymous"\n`);
    expect(() => plan(f)).toThrow(expect.objectContaining({
      code: 'host-state',
      problem: 'overridden-elsewhere',
      message: expect.stringMatching(/^VirtualHost "meet\.example\.com" is declared again at \/etc\/prosody\/conf\.d\/zz-local\.cfg\.lua:1, which Prosody reads after/),
    }));
    expect(plan(withFiles(`VirtualHost "${DOMAIN}"\n    c2s_require_encryption = false\n`)).files).toHaveLength(1);
  });

  it('refuses it too when the later file declares the conference MUC as well, rather than take it for a second domain', () => {
    const f = withFiles(`VirtualHost "${DOMAIN}"\n    app_id = "other"\nComponent "conference.${DOMAIN}" "muc"\n    modules_enabled = { }\n`);
    expect(() => plan(f)).toThrow(/^VirtualHost "meet\.example\.com" is declared again .*; Component "conference\.meet\.example\.com" is declared again at \/etc\/prosody\/conf\.d\/zz-local\.cfg\.lua:3, .* modules_enabled = \{ \} \(line 4\) there: /);
  });

  it('says a stopped Prosody will be started, and where the smoke test will reach it', () => {
    const p = plan(withFiles(undefined, down));
    expect(p.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(p.restartReasons).toContain('Prosody is not running (apply starts it)');
    expect(p.warnings).toContain(
      'Prosody is not running on this host: apply starts it, restarts the services that log in to it after it, and smoke-tests it at 127.0.0.6:5280, where its config has it listen (http_interfaces at /etc/prosody/prosody.cfg.lua:1)',
    );
    expect(plan(withFiles()).warnings.join('\n')).not.toMatch(/not running/);
  });
});

describe('starting points', () => {
  const notes = (p: ReturnType<typeof plan>) => p.warnings.filter((w) => /half set up|plain file/.test(w));

  it('says nothing about a stock file or a converged one', () => {
    expect(notes(plan(facts()))).toEqual([]);
    expect(notes(plan(converged()))).toEqual([]);
  });

  it('says what a hand-made token setup lacked, and completes it', () => {
    const text = stockText
      .replace('authentication = "jitsi-anonymous" -- do not delete me', 'authentication = "token" -- do not delete me')
      .replace('--app_id="example_app_id"', 'app_id="backend"');
    const p = plan(facts({}, text));
    expect(notes(p)).toEqual(['token authentication was half set up by hand: no app_secret. This run completes it.']);
    expect(p.files[0].after).toMatch(/\n\s+app_secret=/);
  });

  it('names token_verification left without muc_mapper_domain_base', () => {
    const text = stockText.replace(/^muc_mapper_domain_base = .*\n/m, '').replace('--"token_verification";', '"token_verification";');
    const p = plan(facts({}, text));
    expect(notes(p)[0]).toMatch(/authentication is not "token"; no app_id; no app_secret; token_verification without muc_mapper_domain_base/);
    expect(p.files[0].after).toMatch(/^muc_mapper_domain_base = "meet\.example\.com";$/m);
  });

  it('edits a conf.d file that is not a link where it is, and says so', () => {
    const f = facts();
    const link = f.domainFiles[0].link;
    const p = plan(facts({ domainFiles: [{ ...f.domainFiles[0], path: link }] }));
    expect(p.configPath).toBe(link);
    expect(notes(p)).toEqual([`${link} is a plain file, not a link to /etc/prosody/conf.avail/ as Jitsi's package makes it: this run edits it where it is (a copy in conf.avail/, if any, is not what Prosody reads)`]);
  });
});

describe("jitsi-meet-tokens' debconf answers", () => {
  const withPackage = (answers: HostFacts['tokensDebconf']) => facts({ packages: { ...facts().packages, 'jitsi-meet-tokens': { installed: true } }, tokensDebconf: answers });

  it('keeps them in step with app_id and the secret, the secret hidden in the summary', () => {
    const p = plan(withPackage({ appId: 'old_app', appSecret: 'old-secret' }));
    expect(p.debconf?.selections).toEqual([
      { question: 'jitsi-meet-tokens/appid', type: 'string', value: 'backend' },
      { question: 'jitsi-meet-tokens/appsecret', type: 'password', value: SECRET },
    ]);
    const line = summarisePlan(p).find((l) => l.includes('debconf'))!;
    expect(line).toBe(`set jitsi-meet-tokens's debconf answers appid "backend", appsecret (hidden): removing jitsi-meet-tokens later undoes its edits by these answers, and no old secret stays in debconf's database`);
    expect(line).not.toContain(SECRET);
  });

  it('sets nothing when they already match, or when the package is not installed', () => {
    expect(plan(withPackage({ appId: 'backend', appSecret: SECRET })).debconf).toBeUndefined();
    expect(plan(facts({ tokensDebconf: { appId: 'other' } })).debconf).toBeUndefined();
  });

  it('counts as a change: a converged config with stale answers is not converged', () => {
    const p = plan({ ...converged(), packages: { ...converged().packages, 'jitsi-meet-tokens': { installed: true } }, tokensDebconf: { appId: 'backend', appSecret: 'stale' } });
    expect(p.files).toEqual([]);
    expect(p.debconf?.selections.map((s) => s.question)).toEqual(['jitsi-meet-tokens/appsecret']);
    expect(isEmpty(p)).toBe(false);
  });
});
