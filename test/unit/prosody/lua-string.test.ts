import { describe, expect, it } from 'vitest';
import { decodeLuaStringLiteral, luaString, luaStringArray } from '../../../src/prosody/lua-string.js';
import { parseDomainConfig } from '../../../src/prosody/domain-config.js';
import { renderProsodyTemplate } from '../../../src/prosody/templates.js';

// Strings that break naive quoting: quotes, backslashes, Lua comment and
// long-bracket markers, escapes-lookalikes, control characters, UTF-8.
const NASTY: string[] = [
  '',
  'plain',
  'say "hi"',
  "it's",
  'back\\slash',
  'ends with backslash\\',
  '\\"',
  ']]',
  '[[long]]',
  ']=]',
  '--',
  'a -- not a comment',
  '--[[ not a block ]]',
  '\\n is not a newline',
  '\\065',
  'line1\nline2',
  'cr\rlf\r\n',
  'tab\there',
  '\u0000nul',
  'bell\u0007 then 1 digit: \u00071',
  'del\u007f',
  'ünïcødé',
  '😀 emoji',
  '日本語',
  '\u00a0nbsp\u2028ls',
  '$(rm -rf /) `id` ${HOME}',
  '%s %d %%',
  '{{handlebars}} &amp; <b>',
];

function randomStrings(count: number): string[] {
  // Deterministic PRNG: the same "random" cases on every run.
  let seed = 0x2545f491;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const alphabet = ['"', "'", '\\', ']', '[', '-', '=', '\n', '\r', '\t', '\u0000', '\u001b', '0', '9', 'a', 'ü', '€', '😀', ' ', ';', '{', '}'];
  return Array.from({ length: count }, () =>
    Array.from({ length: Math.floor(next() * 24) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
}

describe('luaString', () => {
  it.each([...NASTY, ...randomStrings(300)].map((s) => [JSON.stringify(s), s]))('round-trips %s', (_name, value) => {
    const literal = luaString(value);
    expect(literal.startsWith('"') && literal.endsWith('"')).toBe(true);
    expect(literal).not.toMatch(/[\u0000-\u001f\u007f]/); // one physical line, no raw control chars
    expect(decodeLuaStringLiteral(literal)).toBe(value);
    // and as an option value in a config file, read by the config reader
    const config = parseDomainConfig(`x = ${literal}\n`);
    expect(config.global.assignments[0].value).toBe(value);
  });

  it('uses three-digit decimal escapes, so a following digit stays a digit', () => {
    expect(luaString('a\nb')).toBe('"a\\010b"');
    expect(luaString('\u00071')).toBe('"\\0071"');
    expect(decodeLuaStringLiteral('"\\0071"')).toBe('\u00071');
  });

  it('keeps non-ASCII as raw UTF-8 and escapes only quote and backslash', () => {
    expect(luaString('ünï "x" \\ 😀')).toBe('"ünï \\"x\\" \\\\ 😀"');
  });

  it('refuses text that has no UTF-8 form', () => {
    expect(() => luaString('\ud800')).toThrow(TypeError);
  });

  it('formats string arrays in Jitsi\'s spacing', () => {
    expect(luaStringArray(['a', 'b"c'])).toBe('{ "a", "b\\"c" }');
    expect(luaStringArray([])).toBe('{}');
  });
});

describe('decodeLuaStringLiteral', () => {
  it.each([
    ['"\\195\\188"', 'ü'],
    ["'single'", 'single'],
    ['[[long\nstring]]', 'long\nstring'],
    ['[==[a]]b]==]', 'a]]b'],
    ['"\\x41\\u{1F600}"', 'A😀'],
    ['"a\\z   \n  b"', 'ab'],
  ])('%s', (literal, value) => {
    expect(decodeLuaStringLiteral(literal)).toBe(value);
  });

  it('rejects anything but one string literal', () => {
    expect(() => decodeLuaStringLiteral('"a" .. "b"')).toThrow(SyntaxError);
    expect(() => decodeLuaStringLiteral('42')).toThrow(SyntaxError);
  });
});

describe('prosody templates', () => {
  it('render values through the Lua helpers, never HTML-escaped', () => {
    expect(renderProsodyTemplate('token-credential', { name: 'app_secret', value: '<&"\'>' })).toBe('app_secret="<&\\"\'>"');
    expect(renderProsodyTemplate('option', { name: 'allow_empty_token', value: false })).toBe('allow_empty_token = false');
    expect(renderProsodyTemplate('option', { name: 'asap_accepted_issuers', value: ['a', 'b'] })).toBe('asap_accepted_issuers = { "a", "b" }');
  });

  it('are strict: a missing value is an error, not an empty string', () => {
    expect(() => renderProsodyTemplate('token-credential', { name: 'app_id' })).toThrow();
  });

  it('render multi-line tables with the given indentation unit', () => {
    expect(renderProsodyTemplate('modules-enabled', { modules: ['token_verification'], unit: '\t' }))
      .toBe('modules_enabled = {\n\t"token_verification";\n}');
  });
});
