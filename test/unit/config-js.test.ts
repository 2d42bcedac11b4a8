import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, InternalError } from '../../src/errors.js';
import {
  applyWebConfigEdits,
  editAnonymousDomain,
  jsStringLiteral,
  readAnonymousDomain,
  WebConfigError,
} from '../../src/web/config-js.js';
import { caught } from '../support/errors.js';

const FILE = '/etc/jitsi/meet/meet.example.org-config.js';
const GUEST = 'guest.meet.example.org';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/config-js/${name}.js`, import.meta.url), 'utf8');
}

/** Current stock shape (2022 on): SSI variables before `var config`, trailing commas, JaaS and Debian lines after it. */
const STOCK_2024 = fixture('stock-2024');
/** Older stock shape (2020-2021): SSI inside the muc string, no comma after the last entry, Debian's appended flags. */
const STOCK_2021 = fixture('stock-2021');
/** Docker images: `var config = {}` and hosts set by top-level statements. */
const DOCKER = fixture('docker-system');

const EXAMPLE = "        // anonymousdomain: 'guest.example.com',";

function tabs(text: string): string {
  return text.replace(/^((?: {4})+)/gm, (indent) => '\t'.repeat(indent.length / 4));
}

function crlf(text: string): string {
  return text.replace(/\n/g, '\r\n');
}

function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`fixture text ${JSON.stringify(from)} is not there exactly once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** What a browser ends up with: the file run as a script, then config.hosts.anonymousdomain. */
function runtimeGuestDomain(text: string): unknown {
  return runInNewContext(`${text}\n;typeof config === 'undefined' || !config.hosts ? undefined : config.hosts.anonymousdomain`, {});
}

/** Edits, then checks what every result must satisfy. */
function edit(text: string, guest: string | undefined) {
  const result = editAnonymousDomain(text, guest, FILE);
  // The edits are the whole story: applying them to the input gives the output, in text order.
  expect(applyWebConfigEdits(text, result.edits)).toBe(result.text);
  for (let i = 1; i < result.edits.length; i++) expect(result.edits[i].range[0]).toBeGreaterThanOrEqual(result.edits[i - 1].range[1]);
  // It says what was asked, to this module and to a browser running it.
  expect(readAnonymousDomain(result.text, FILE)).toBe(guest);
  expect(runtimeGuestDomain(result.text)).toBe(guest);
  // Converged: a second run changes nothing.
  const again = editAnonymousDomain(result.text, guest, FILE);
  expect(again.edits).toEqual([]);
  expect(again.text).toBe(result.text);
  return result;
}


const NEW_LINE = `        anonymousdomain: '${GUEST}',`;

describe('adding the guest domain', () => {
  const cases: Array<[name: string, before: string, after: string]> = [
    ['stock file (2024 shape)', STOCK_2024, replaceOnce(STOCK_2024, `${EXAMPLE}\n`, `${EXAMPLE}\n${NEW_LINE}\n`)],
    ['stock file (2021 shape, SSI inside a string, no trailing comma)', STOCK_2021, replaceOnce(STOCK_2021, `${EXAMPLE}\n`, `${EXAMPLE}\n${NEW_LINE}\n`)],
    ['stock file indented with tabs', tabs(STOCK_2024), replaceOnce(tabs(STOCK_2024), `\t\t// anonymousdomain: 'guest.example.com',\n`, `\t\t// anonymousdomain: 'guest.example.com',\n\t\tanonymousdomain: '${GUEST}',\n`)],
    ['stock file with CRLF line endings', crlf(STOCK_2024), replaceOnce(crlf(STOCK_2024), `${EXAMPLE}\r\n`, `${EXAMPLE}\r\n${NEW_LINE}\r\n`)],
    ['older stock with tabs and CRLF', crlf(tabs(STOCK_2021)), replaceOnce(crlf(tabs(STOCK_2021)), `\t\t// anonymousdomain: 'guest.example.com',\r\n`, `\t\t// anonymousdomain: 'guest.example.com',\r\n\t\tanonymousdomain: '${GUEST}',\r\n`)],
    [
      'no commented example: after domain',
      "var config = {\n  hosts: {\n    domain: 'meet.example.org', // the XMPP domain\n    muc: 'conference.meet.example.org'\n  },\n};\n",
      `var config = {\n  hosts: {\n    domain: 'meet.example.org', // the XMPP domain\n    anonymousdomain: '${GUEST}',\n    muc: 'conference.meet.example.org'\n  },\n};\n`,
    ],
    [
      'after domain, the last entry, without a trailing comma',
      "var config = {\n    hosts: {\n        muc: 'conference.meet.example.org',\n        domain: 'meet.example.org'\n    }\n};\n",
      `var config = {\n    hosts: {\n        muc: 'conference.meet.example.org',\n        domain: 'meet.example.org',\n        anonymousdomain: '${GUEST}'\n    }\n};\n`,
    ],
    [
      'commented example after the last entry, which has no trailing comma',
      "var config = {\n    hosts: {\n        domain: 'meet.example.org'\n        // anonymousdomain: 'guest.example.com'\n    }\n};\n",
      `var config = {\n    hosts: {\n        domain: 'meet.example.org',\n        // anonymousdomain: 'guest.example.com'\n        anonymousdomain: '${GUEST}'\n    }\n};\n`,
    ],
    [
      'no domain either: first entry',
      "var config = {\n    hosts: {\n        muc: 'conference.meet.example.org'\n    }\n};\n",
      `var config = {\n    hosts: {\n        anonymousdomain: '${GUEST}',\n        muc: 'conference.meet.example.org'\n    }\n};\n`,
    ],
    [
      'quoted keys',
      "var config = {\n    'hosts': {\n        'domain': 'meet.example.org',\n        'muc': 'conference.meet.example.org'\n    }\n};\n",
      `var config = {\n    'hosts': {\n        'domain': 'meet.example.org',\n        anonymousdomain: '${GUEST}',\n        'muc': 'conference.meet.example.org'\n    }\n};\n`,
    ],
    [
      'hosts on one line',
      "const config = { hosts: { domain: 'meet.example.org', muc: 'conference.meet.example.org' } };\n",
      `const config = { hosts: { domain: 'meet.example.org', anonymousdomain: '${GUEST}', muc: 'conference.meet.example.org' } };\n`,
    ],
    [
      'hosts on one line, domain last without a comma',
      "let config = { hosts: { domain: 'meet.example.org' } };\n",
      `let config = { hosts: { domain: 'meet.example.org', anonymousdomain: '${GUEST}' } };\n`,
    ],
    [
      'hosts on one line, with a trailing comma',
      "config = { hosts: { domain: 'meet.example.org', } };\n",
      `config = { hosts: { domain: 'meet.example.org', anonymousdomain: '${GUEST}', } };\n`,
    ],
    ['empty hosts', 'var config = { hosts: {} };\n', `var config = { hosts: { anonymousdomain: '${GUEST}' } };\n`],
    ['empty hosts over lines', 'var config = {\n\thosts: {\n\t}\n};\n', `var config = {\n\thosts: {\n\t\tanonymousdomain: '${GUEST}',\n\t}\n};\n`],
    [
      'hosts set again after the config object',
      `${STOCK_2024}config.hosts = {\n    domain: 'meet.example.org',\n};\n`,
      `${STOCK_2024}config.hosts = {\n    domain: 'meet.example.org',\n    anonymousdomain: '${GUEST}',\n};\n`,
    ],
    [
      'Docker shape: hosts built by statements',
      replaceOnce(DOCKER, `// When using authentication, domain for guest users.\nconfig.hosts.anonymousdomain = '${GUEST}';\n`, ''),
      replaceOnce(DOCKER, `// When using authentication, domain for guest users.\nconfig.hosts.anonymousdomain = '${GUEST}';\n`, '')
        .replace("config.hosts.authdomain = 'meet.example.org';\n", `config.hosts.authdomain = 'meet.example.org';\nconfig.hosts.anonymousdomain = '${GUEST}';\n`),
    ],
  ];

  it.each(cases)('%s', (_name, before, after) => {
    expect(readAnonymousDomain(before, FILE)).toBeUndefined();
    const result = edit(before, GUEST);
    expect(result.text).toBe(after);
    expect(result.warnings).toEqual([]);
    expect(result.edits.length).toBeGreaterThan(0);
  });

  it.each(cases)('%s: removing it again gives back the original byte for byte', (_name, before) => {
    const added = edit(before, GUEST);
    const removed = edit(added.text, undefined);
    expect(removed.text).toBe(before);
  });

  it('keeps the stock commented example and every SSI string as they are', () => {
    const { text, edits } = edit(STOCK_2021, GUEST);
    expect(edits).toHaveLength(1);
    expect(edits[0].range[0]).toBe(edits[0].range[1]);
    expect(edits[0].description).toBe(`add anonymousdomain: '${GUEST}' to hosts after the commented example on line 12`);
    expect(text).toContain(EXAMPLE);
    expect(text).toContain(`muc: 'conference.<!--# echo var="subdomain" default="" -->meet.example.org'`);
  });
});

describe('a guest domain that is already set', () => {
  const active = (value: string) => replaceOnce(STOCK_2024, `${EXAMPLE}\n`, `${EXAMPLE}\n        anonymousdomain: ${value},\n`);

  it('changes nothing when it is the same', () => {
    const text = active(`'${GUEST}'`);
    expect(readAnonymousDomain(text)).toBe(GUEST);
    const result = edit(text, GUEST);
    expect(result.edits).toEqual([]);
    expect(result.text).toBe(text);
  });

  it.each([
    ['single quotes', "'guest.old.example.org'", `'${GUEST}'`],
    ['double quotes', '"guest.old.example.org"', `"${GUEST}"`],
    ['a template literal', '`guest.old.example.org`', `'${GUEST}'`],
  ])('replaces only the value in %s', (_name, old, written) => {
    const text = active(old);
    expect(readAnonymousDomain(text)).toBe('guest.old.example.org');
    const result = edit(text, GUEST);
    expect(result.edits).toHaveLength(1);
    expect(text.slice(...result.edits[0].range)).toBe(old);
    expect(result.edits[0].text).toBe(written);
    expect(result.edits[0].description).toBe(`set anonymousdomain to '${GUEST}' on line 37 (was "guest.old.example.org")`);
    expect(result.text).toBe(active(written));
  });

  it('changes the last of several, which is the one that applies, and says so', () => {
    const text = replaceOnce(STOCK_2024, `${EXAMPLE}\n`, `${EXAMPLE}\n        anonymousdomain: 'guest.one.example.org',\n        anonymousdomain: 'guest.two.example.org',\n`);
    expect(readAnonymousDomain(text)).toBe('guest.two.example.org');
    const result = edit(text, GUEST);
    expect(result.text).toBe(replaceOnce(text, "'guest.two.example.org'", `'${GUEST}'`));
    expect(result.warnings).toEqual([`${FILE} sets anonymousdomain 2 times (lines 37, 38); the one on line 38 applies last and is the one this tool manages.`]);
  });

  it('edits a top-level config.hosts.anonymousdomain statement after the config object, not the object', () => {
    const text = `${STOCK_2024}config.hosts.anonymousdomain = 'guest.old.example.org';\n`;
    expect(readAnonymousDomain(text)).toBe('guest.old.example.org');
    const result = edit(text, GUEST);
    expect(result.text).toBe(`${STOCK_2024}config.hosts.anonymousdomain = '${GUEST}';\n`);
    expect(result.edits[0].description).toBe(`set config.hosts.anonymousdomain to '${GUEST}' on line 79 (was "guest.old.example.org")`);
  });

  it('follows the statement over an entry in hosts, since it runs later', () => {
    const text = `${active("'guest.one.example.org'")}config.hosts['anonymousdomain'] = 'guest.two.example.org';\n`;
    expect(readAnonymousDomain(text)).toBe('guest.two.example.org');
    expect(runtimeGuestDomain(text)).toBe('guest.two.example.org');
    const result = edit(text, GUEST);
    expect(result.text).toBe(replaceOnce(text, "'guest.two.example.org'", `'${GUEST}'`));
    expect(result.warnings).toHaveLength(1);
  });

  it('ignores a statement before the config object, which the object replaces', () => {
    const text = `var config = {};\nconfig.hosts = {};\nconfig.hosts.anonymousdomain = 'guest.old.example.org';\n${STOCK_2024}`;
    expect(readAnonymousDomain(text)).toBeUndefined();
    expect(runtimeGuestDomain(text)).toBeUndefined();
  });

  it('reads and edits the Docker shape', () => {
    expect(readAnonymousDomain(DOCKER)).toBe(GUEST);
    expect(edit(DOCKER, GUEST).edits).toEqual([]);
    const result = edit(DOCKER, 'guests.example.net');
    expect(result.text).toBe(replaceOnce(DOCKER, `'${GUEST}'`, "'guests.example.net'"));
  });

  it('warns about a mention it does not follow', () => {
    const text = `${STOCK_2024}if (enableJaaS) {\n    config.hosts.anonymousdomain = 'guest.jaas.example.org';\n}\n`;
    const result = edit(text, GUEST);
    expect(result.text).toBe(replaceOnce(text, `${EXAMPLE}\n`, `${EXAMPLE}\n${NEW_LINE}\n`));
    expect(result.warnings).toEqual([
      `${FILE} also mentions anonymousdomain on line 80, in code this tool does not follow (a block, a function, another object); the guest domain the web client sees may not be the one written here.`,
    ]);
  });
});

describe('removing the guest domain', () => {
  it.each([
    ['stock file: nothing to remove', STOCK_2024, STOCK_2024],
    ['no config object', 'var other = { hosts: {} };\n', 'var other = { hosts: {} };\n'],
    ['no hosts', "var config = { bosh: '//meet.example.org/http-bind' };\n", "var config = { bosh: '//meet.example.org/http-bind' };\n"],
    [
      'an entry on its own line with a comment after it',
      `var config = {\n    hosts: {\n        domain: 'meet.example.org',\n        anonymousdomain: '${GUEST}', // guests\n        muc: 'conference.meet.example.org',\n    },\n};\n`,
      "var config = {\n    hosts: {\n        domain: 'meet.example.org',\n        muc: 'conference.meet.example.org',\n    },\n};\n",
    ],
    [
      'several entries, CRLF',
      crlf(`var config = {\n    hosts: {\n        domain: 'meet.example.org',\n        anonymousdomain: 'a.example.org',\n        anonymousdomain: 'b.example.org',\n        muc: 'conference.meet.example.org'\n    }\n};\n`),
      crlf("var config = {\n    hosts: {\n        domain: 'meet.example.org',\n        muc: 'conference.meet.example.org'\n    }\n};\n"),
    ],
    [
      'an entry set from an expression',
      "var subdomain = '';\nvar config = {\n    hosts: {\n        domain: 'meet.example.org',\n        anonymousdomain: 'guest.' + subdomain + 'meet.example.org',\n    },\n};\n",
      "var subdomain = '';\nvar config = {\n    hosts: {\n        domain: 'meet.example.org',\n    },\n};\n",
    ],
    [
      'the last entry of several on one line, without a comma',
      `var config = { hosts: { domain: 'meet.example.org', anonymousdomain: 'a.example.org', anonymousdomain: 'b.example.org' } };\n`,
      "var config = { hosts: { domain: 'meet.example.org' } };\n",
    ],
    [
      'the entry in hosts and the statement after the config object',
      `${replaceOnce(STOCK_2024, `${EXAMPLE}\n`, `${EXAMPLE}\n${NEW_LINE}\n`)}config.hosts.anonymousdomain = 'guest.two.example.org'; // override\n`,
      STOCK_2024,
    ],
    [
      'the Docker statement (its comment line stays)',
      DOCKER,
      replaceOnce(DOCKER, `config.hosts.anonymousdomain = '${GUEST}';\n`, ''),
    ],
  ])('%s', (_name, before, after) => {
    const result = edit(before, undefined);
    expect(result.text).toBe(after);
    expect(result.edits.length === 0).toBe(before === after);
  });
});

describe('files this tool cannot edit', () => {
  it('names the file, line and column when it is not valid JavaScript', () => {
    const text = `${STOCK_2024}this is not JavaScript\n`;
    for (const fn of [() => readAnonymousDomain(text, FILE), () => editAnonymousDomain(text, GUEST, FILE), () => editAnonymousDomain(text, undefined, FILE)]) {
      const error = caught(fn);
      expect(error).toBeInstanceOf(WebConfigError);
      expect(error).toMatchObject({ code: 'host-state', problem: 'invalid-js', line: 79, column: 6 });
      expect(error.message).toBe(`${FILE} is not valid JavaScript: line 79, column 6: Unexpected token`);
      expect(error.hint).toContain(`node --check ${FILE}`);
      expect(exitCodeFor(error)).toBe(EXIT.hostState);
    }
  });

  it.each([
    ['no config object', 'var settings = { hosts: { domain: \'meet.example.org\' } };\n', 'no-config', `${FILE} has no \`var config = { ... };\` object literal`],
    ['a config that is not an object literal', 'var config = makeConfig();\n', 'no-config', `${FILE} has no \`var config = { ... };\` object literal`],
    ['no hosts', "var config = {\n    bosh: '//meet.example.org/http-bind',\n};\n", 'no-hosts', `the config object in ${FILE} (line 1) has no hosts: { ... } entry`],
    ['hosts from a function', "var config = {\n    hosts: makeHosts(),\n};\n", 'hosts-not-object', `hosts in ${FILE} (line 2) is not an object literal`],
    ['hosts replaced after the object', `${STOCK_2024}config.hosts = Object.assign({}, config.hosts);\n`, 'hosts-not-object', `hosts in ${FILE} (line 79) is not an object literal`],
  ])('%s: refuses to add, reads nothing', (_name, text, problem, message) => {
    const error = caught(() => editAnonymousDomain(text, GUEST, FILE));
    expect(error).toBeInstanceOf(WebConfigError);
    expect(error).toMatchObject({ code: 'host-state', problem });
    expect(error.message).toContain(message);
    expect(error.hint).toBeTruthy();
    expect(exitCodeFor(error)).toBe(EXIT.hostState);
    expect(readAnonymousDomain(text, FILE)).toBeUndefined();
    expect(editAnonymousDomain(text, undefined, FILE).edits).toEqual([]);
  });

  it('refuses a guest domain set from an expression, when reading and when setting', () => {
    const text = replaceOnce(STOCK_2024, `${EXAMPLE}\n`, `${EXAMPLE}\n        anonymousdomain: 'guest.' + subdomain + 'meet.example.org',\n`);
    for (const fn of [() => readAnonymousDomain(text, FILE), () => editAnonymousDomain(text, GUEST, FILE)]) {
      const error = caught(fn);
      expect(error).toMatchObject({ code: 'host-state', problem: 'anonymousdomain-not-plain', line: 37, column: 9 });
      expect(error.message).toBe(`anonymousdomain in hosts in ${FILE} (line 37) is set from an expression, not a plain string`);
    }
  });

  it.each(['', 'guest.example.org\'; alert(1); //', '-guest.example.org', 'guest..example.org', 'guest example.org', 'gäst.example.org', `${'a'.repeat(64)}.example.org`])(
    'treats a guest domain that is not a plain DNS name (%j) as a bug of the caller',
    (guest) => {
      const error = caught(() => editAnonymousDomain(STOCK_2024, guest, FILE));
      expect(error).toBeInstanceOf(InternalError);
      expect(error.code).toBe('internal');
    },
  );
});

describe('JavaScript string literals', () => {
  it.each([
    ["it's", "'", "'it\\'s'"],
    ['say "hi"', '"', '"say \\"hi\\""'],
    ['back\\slash', "'", "'back\\\\slash'"],
    ['line\nbreak\r\ttab', "'", "'line\\nbreak\\r\\ttab'"],
    ['nul\u00001', "'", "'nul\\x001'"],
    ['sep\u2028arator', "'", "'sep\\u2028arator'"],
    ['lone \ud800 surrogate', "'", "'lone \\ud800 surrogate'"],
    ['ünïcode 🎉', "'", "'ünïcode 🎉'"],
  ] as const)('writes %j', (value, quote, literal) => {
    expect(jsStringLiteral(value, quote)).toBe(literal);
    expect(runInNewContext(literal)).toBe(value);
  });
});
