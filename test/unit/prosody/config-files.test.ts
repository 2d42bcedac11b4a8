// The files Prosody reads, as tables: the probe's copies of /etc/prosody in,
// the order Prosody reads them (Includes where they stand, a wildcard in
// directory order), where its HTTP port listens, which declarations repeat.
import { describe, expect, it } from 'vitest';
import { configLoad, configuredHttpAddress, prosodyHttpTarget, redeclaredSections } from '../../../src/prosody/config-files.js';
import { DOMAIN, domainFile, LINK, LOCALHOST, MAIN, prosodyHost as host, STOCK_MAIN, THE_DOMAIN } from './fixtures.js';

describe('the files Prosody reads, in its order', () => {
  it.each([
    {
      case: 'the stock main config and conf.d in directory order, not sorted by name',
      facts: host([['zz-local.cfg.lua', '-- x\n'], THE_DOMAIN, ['localhost.cfg.lua', LOCALHOST]]),
      files: [MAIN, '/etc/prosody/conf.d/zz-local.cfg.lua', LINK, '/etc/prosody/conf.d/localhost.cfg.lua'],
    },
    {
      case: 'no file starting with a dot, none the wildcard does not match, nothing of conf.avail unless included',
      facts: host([['.hidden.cfg.lua', ''], ['notes.lua', ''], THE_DOMAIN]),
      files: [MAIN, LINK],
    },
    {
      case: "an Include in an included file, relative to that file's directory, and an absolute one",
      facts: host([THE_DOMAIN, ['a.cfg.lua', 'Include "extra/b.lua"\nInclude "/etc/prosody/c.lua"\n']], STOCK_MAIN, [
        { path: '/etc/prosody/conf.d/extra/b.lua', text: '' },
        { path: '/etc/prosody/c.lua', text: '' },
      ]),
      files: [MAIN, LINK, '/etc/prosody/conf.d/a.cfg.lua', '/etc/prosody/conf.d/extra/b.lua', '/etc/prosody/c.lua'],
    },
    {
      case: 'an Include loop read once, a file that is not Lua left out',
      facts: host([THE_DOMAIN, ['loop.cfg.lua', 'Include "loop.cfg.lua"\n'], ['broken.cfg.lua', 'VirtualHost "x']]),
      files: [MAIN, LINK, '/etc/prosody/conf.d/loop.cfg.lua'],
    },
    {
      case: 'without the main config: the domain files, as the stock Include reads them',
      facts: { domainFiles: [domainFile()], prosodyConfigFiles: undefined },
      files: [LINK],
    },
  ])('$case', ({ facts, files }) => {
    expect(configLoad(facts).files).toEqual(files);
  });

  it('runs a main config around its Include: what stands after it comes after every included file', () => {
    const load = configLoad(host([THE_DOMAIN], 'a = 1\nInclude "conf.d/*.cfg.lua"\nb = 2\n'));
    const order = (name: string) => load.assignments.find((a) => a.assignment.name === name)!.order;
    const domainOptions = load.assignments.filter((a) => a.file === LINK).map((a) => a.order);
    expect(order('a')).toBeLessThan(Math.min(...domainOptions));
    expect(order('b')).toBeGreaterThan(Math.max(...domainOptions));
  });
});

describe("where Prosody's HTTP port listens by its config", () => {
  const withMain = (main: string, confD: [string, string][] = [THE_DOMAIN]) => configuredHttpAddress(configLoad(host(confD, `${main}\nInclude "conf.d/*.cfg.lua"\n`)));
  it.each([
    ['http_interfaces = { "127.0.0.6" }', { address: '127.0.0.6', setting: `http_interfaces at ${MAIN}:1` }],
    ['http_interfaces = "10.0.0.5"', { address: '10.0.0.5', setting: `http_interfaces at ${MAIN}:1` }],
    ['http_interfaces = { "*", "::" }', { address: '127.0.0.1', setting: `http_interfaces at ${MAIN}:1` }],
    ['interfaces = { "127.0.0.3" }', { address: '127.0.0.3', setting: `interfaces at ${MAIN}:1` }],
    ['interfaces = { "127.0.0.3" }\nhttp_interfaces = { "127.0.0.4" }', { address: '127.0.0.4', setting: `http_interfaces at ${MAIN}:2` }],
    // Set on a host, it is not the global option portmanager reads.
    ['VirtualHost "localhost"\n    http_interfaces = { "127.0.0.9" }', { address: '127.0.0.1', setting: "Prosody's default, every interface" }],
    ['http_interfaces = { "::1" }', { address: undefined, setting: `http_interfaces at ${MAIN}:1` }],
    ['use_ipv4 = false', { address: undefined, setting: "Prosody's default, every interface" }],
    ['', { address: '127.0.0.1', setting: "Prosody's default, every interface" }],
  ])('%s → %j', (main, expected) => {
    expect(withMain(main)).toEqual(expected);
  });

  it('takes the value of the file read last', () => {
    expect(withMain('http_interfaces = { "127.0.0.6" }', [THE_DOMAIN, ['zz.cfg.lua', 'http_interfaces = { "127.0.0.7" }\n']])).toEqual({
      address: '127.0.0.7',
      setting: 'http_interfaces at /etc/prosody/conf.d/zz.cfg.lua:1',
    });
  });

  it.each([
    { listening: ['127.0.0.2:5280'], expected: '127.0.0.2' },
    { listening: [], expected: '127.0.0.6' },
    { listening: ['127.0.0.2:22'], expected: '127.0.0.6' },
  ])('aims at where Prosody listens, else where its config has it listen: $listening → $expected', ({ listening, expected }) => {
    const facts = { ...host([THE_DOMAIN], 'http_interfaces = { "127.0.0.6" }\nInclude "conf.d/*.cfg.lua"\n'), listening };
    expect(prosodyHttpTarget(facts)).toBe(expected);
  });

  it('falls back to loopback without a config to go by', () => {
    expect(prosodyHttpTarget({ domainFiles: [domainFile()], listening: [] })).toBe('127.0.0.1');
  });
});

describe('declarations repeated across the files', () => {
  it.each([
    { case: "Debian's localhost, declared twice and setting nothing the second time", confD: [THE_DOMAIN, ['localhost.cfg.lua', LOCALHOST]], repeated: [] },
    { case: 'a host re-declared with options', confD: [THE_DOMAIN, ['localhost.cfg.lua', 'VirtualHost "LocalHost"\n    c2s_require_encryption = false\n']], repeated: [['virtualhost', 'localhost', 2]] },
    { case: 'a component re-declared with options', confD: [THE_DOMAIN, ['zz.cfg.lua', `Component "conference.${DOMAIN}" "muc"\n    modules_enabled = { }\n`]], repeated: [['component', `conference.${DOMAIN}`, 2]] },
  ])('$case', ({ confD, repeated }) => {
    expect(redeclaredSections(configLoad(host(confD as [string, string][]))).map((r) => [r.kind, r.name, r.declarations.length])).toEqual(repeated);
  });
});
