import { describe, expect, it } from 'vitest';
import {
  DomainConfigError,
  findConferenceComponent,
  findVirtualHost,
  jitsiDomainCandidates,
  parseDomainConfig,
  readModulesEnabled,
  readTokenConfig,
} from '../../../src/prosody/domain-config.js';
import { DOMAIN, HAND_EDITED, OLD_GENERATION, stock } from './fixtures.js';

describe('parseDomainConfig on the stock shapes', () => {
  it.each(['2024', '2026'] as const)('%s: finds every section in order', (generation) => {
    const config = parseDomainConfig(stock(generation));
    expect(config.virtualHosts.map((s) => [s.name, s.enabled])).toEqual([
      [DOMAIN, true],
      [`auth.${DOMAIN}`, true],
      [`recorder.${DOMAIN}`, true],
      ['jigasi.meet.jitsi', false],
    ]);
    expect(config.components.map((s) => [s.name, s.module])).toEqual([
      [`conference.${DOMAIN}`, 'muc'],
      [`breakout.${DOMAIN}`, 'muc'],
      [`internal.auth.${DOMAIN}`, 'muc'],
      [`focus.${DOMAIN}`, 'client_proxy'],
      [`lobby.${DOMAIN}`, 'muc'],
    ]);
    expect(config.global.assignments.map((a) => a.name)).toEqual([
      'plugin_paths', 'muc_mapper_domain_base', 'external_service_secret', 'external_services',
      'cross_domain_bosh', 'consider_bosh_secure', ...(generation === '2026' ? ['consider_websocket_secure'] : []),
      'ssl', 'unlimited_jids',
    ]);
    // Sections tile the file: each runs to the next header.
    const all = config.sections;
    for (let i = 1; i < all.length; i++) expect(all[i - 1].range[1]).toBe(all[i].range[0]);
    expect(all.at(-1)!.range[1]).toBe(config.text.length);
  });

  it.each(['2024', '2026'] as const)('%s: reads the token-related options and commented examples', (generation) => {
    const text = stock(generation);
    const reading = readTokenConfig(parseDomainConfig(text), DOMAIN);
    expect(reading.authentication).toBe('jitsi-anonymous');
    expect(reading.appId).toBeUndefined();
    expect(reading.appSecret).toBeUndefined();
    expect(reading.allowEmptyToken).toBeUndefined();
    expect(reading.asapAcceptedIssuers).toBeUndefined(); // the jigasi host's do not count
    expect(reading.commentedAppId?.assignment).toEqual({ name: 'app_id', value: 'example_app_id' });
    expect(text.slice(...reading.commentedAppId!.range)).toBe('--app_id="example_app_id"');
    expect(text.slice(...reading.commentedAppSecret!.range)).toBe('--app_secret="example_app_secret"');
    expect(reading.pluginPaths).toEqual(['/usr/share/jitsi-meet/prosody-plugins/']);
    expect(reading.mucMapperDomainBase).toBe(DOMAIN);
    expect(reading.conference?.name).toBe(`conference.${DOMAIN}`);
    expect(reading.conferenceModules?.active).toEqual(['muc_meeting_id', 'muc_domain_mapper', 'polls', 'muc_rate_limit']);
    expect(reading.conferenceModules?.commented).toEqual(['token_verification']);
  });

  it('lists the Jitsi domain, not the disabled jigasi host or the auth host', () => {
    expect(jitsiDomainCandidates(parseDomainConfig(stock('2026')))).toEqual([DOMAIN]);
    expect(jitsiDomainCandidates(parseDomainConfig(HAND_EDITED))).toEqual([DOMAIN]);
    // old files: focus was an external component without a module
    expect(jitsiDomainCandidates(parseDomainConfig(OLD_GENERATION))).toEqual([DOMAIN]);
  });

  it('reads the jigasi host as disabled with its own token settings', () => {
    const config = parseDomainConfig(stock('2024'));
    const jigasi = findVirtualHost(config, 'jigasi.meet.jitsi')!;
    expect(jigasi.enabled).toBe(false);
    expect(jigasi.assignments.find((a) => a.name === 'authentication')?.value).toBe('token');
    expect(jigasi.assignments.find((a) => a.name === 'asap_accepted_issuers')?.value).toEqual(['jaas-components']);
  });
});

describe('parseDomainConfig details', () => {
  it('keeps ranges right in UTF-8 and CRLF text', () => {
    const config = parseDomainConfig(HAND_EDITED);
    expect(config.eol).toBe('\r\n');
    const vh = findVirtualHost(config, DOMAIN)!;
    const appId = vh.assignments.find((a) => a.name === 'app_id')!;
    expect(HAND_EDITED.slice(...appId.valueRange)).toBe('"old_backend"');
    expect(HAND_EDITED.slice(...vh.headerRange!)).toBe(`VirtualHost "${DOMAIN}"`);
    const modules = readModulesEnabled(findConferenceComponent(config, DOMAIN)!);
    expect(modules.active).toEqual(['muc_meeting_id', 'polls']);
    expect(modules.assignment!.table!.separator).toBe(',');
    expect(config.global.comments[0].text).toContain('ünïcødé team 🎥');
  });

  it('decodes escapes and raw UTF-8 in values alike', () => {
    const config = parseDomainConfig('a = "\\195\\188ber"\nb = "über"\nc = [[x]]\nd = 5\ne = true\nf = os.getenv("X")\ng = { "x", y = 1 }\nh = {}\n');
    expect(Object.fromEntries(config.global.assignments.map((x) => [x.name, x.value]))).toEqual({
      a: 'über', b: 'über', c: 'x', d: 5, e: true, f: { unknown: true }, g: { table: true }, h: [],
    });
  });

  it('reads headers in every form Prosody accepts, and Include', () => {
    const config = parseDomainConfig([
      'Include "conf.d/extra.cfg.lua"',
      'VirtualHost("a.example")',
      'Host "b.example"',
      'Component "ext.example"',
      '    component_secret = "x"',
      'Component("c.example")("muc")',
      'include "/etc/prosody/local.lua"',
      'Include("conf.d/*.lua")',
      'Includes "not/an/include.lua"',
    ].join('\n'));
    expect(config.includes.map((i) => i.file)).toEqual(['conf.d/extra.cfg.lua', '/etc/prosody/local.lua', 'conf.d/*.lua']);
    expect(config.virtualHosts.map((s) => s.name)).toEqual(['a.example', 'b.example']);
    expect(config.components.map((s) => [s.name, s.module])).toEqual([['ext.example', undefined], ['c.example', 'muc']]);
  });

  it('sees commented table entries with their separators and trailing text', () => {
    const text = 'modules_enabled = {\n  "a";\n  -- "b", -- why\n  --"c"\n  -- not an entry\n}\n';
    const table = parseDomainConfig(text).global.assignments[0].table!;
    expect(table.commentedEntries.map((c) => c.entries)).toEqual([
      { values: ['b'], separator: ',', rest: ' -- why' },
      { values: ['c'], separator: undefined, rest: '' },
    ]);
    expect(table.fields.map((f) => text.slice(...f.separator!))).toEqual([';']);
  });

  it.each([
    ['a syntax error', 'plugin_paths = { "/x/" }\nVirtualHost "x"\n    authentication = = "token"\n', 3, 22],
    ['an unfinished string', 'a = 1\nb = 2\nc = "oops\n', 3, 10],
    ['a stray brace after UTF-8', '-- ü\nx = { "ü" }}\n', 2, 12],
  ])('reports %s as invalid Lua with its line and column', (_name, text, line, column) => {
    let error: unknown;
    try {
      parseDomainConfig(text, '/etc/prosody/conf.avail/x.cfg.lua');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DomainConfigError);
    const e = error as DomainConfigError;
    expect(e.problem).toBe('invalid-lua');
    expect(e.code).toBe('host-state');
    expect(e.line).toBe(line);
    expect(e.column).toBe(column);
    expect(e.message).toContain('/etc/prosody/conf.avail/x.cfg.lua is not valid Lua');
    expect(e.message).toContain(`line ${line}`);
    expect(e.hint).toBeTruthy();
  });

  it('refuses the `VirtualHost "x" { ... }` table form rather than misreading it', () => {
    expect(() => parseDomainConfig('VirtualHost "x" { authentication = "token" }\n')).toThrow(DomainConfigError);
  });
});
