// The one quoting construct: every value reaches the script as one literal
// word, proven by running the scripts under dash; values where a quoted word
// would not mean itself are refused when the script is built.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heredoc, joinLines, raw, sh, underRoot, type ShellScript } from '../../../src/shell/script.js';
import { removeScratch, runDash, scratch } from '../../support/dash.js';

const HOSTILE: [string, string][] = [
  ['a single quote', "it's"],
  ['quotes of both kinds', `"'"'"`],
  ['an escaped quote', `'\\''`],
  ['a command substitution', '$(touch PWNED)'],
  ['backticks', '`touch PWNED`'],
  ['a parameter', '$HOME ${IFS} $1 $@'],
  ['arithmetic', '$((1+1))'],
  ['a newline', 'line 1\nline 2'],
  ['only newlines', '\n\n'],
  ['a trailing backslash', 'a\\'],
  ['a leading dash', '-n'],
  ['two leading dashes', '--help'],
  ['an option with a value', '-e=1'],
  ['a glob', '*'],
  ['a question mark and a bracket', '?[a-z]'],
  ['a tilde', '~root'],
  ['the empty string', ''],
  ['a space', ' '],
  ['tabs and spaces', '\t a  b \t'],
  ['a separator', '; touch PWNED'],
  ['a pipe', '| touch PWNED'],
  ['an and-list', '&& touch PWNED'],
  ['a redirection', '> PWNED'],
  ['a here-document', '<<EOF'],
  ['a comment', '#not a comment'],
  ['an assignment', 'PATH=/nowhere'],
  ['a reserved word', 'if'],
  ['a brace', '{'],
  ['a bang', '!'],
  ['accents', 'Réunion'],
  ['CJK', '会議室'],
  ['an emoji', '😀 room'],
  ['Latin-1 characters', '\u0080\u00ff\u00a0'],
  ['a lone surrogate (sent as U+FFFD)', 'a\ud800b'],
  ['control characters', '\u0001\u001b[31mred\u007f'],
  ['a long value', `${"x'".repeat(20_000)}$(touch PWNED)`],
];

/** What the value is as bytes on the host: its UTF-8 (a lone surrogate becomes U+FFFD, as Node writes it). */
const onHost = (value: string) => Buffer.from(value, 'utf8').toString('utf8');

describe('sh`` under dash', () => {
  let dir: string;
  beforeEach(() => {
    dir = scratch();
  });
  afterEach(() => removeScratch(dir));

  it.each(HOSTILE)('passes %s as one literal word, to a builtin and to a program', (_name, value) => {
    const script = sh`set -- ${value}
printf '%s\n' "$#"
printf '%s|' "$1"
/usr/bin/printf '%s|' ${value}`;
    const result = runDash(script, { cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`1\n${onHost(value)}|${onHost(value)}|`);
    expect(existsSync(join(dir, 'PWNED'))).toBe(false);
  });

  it.each(HOSTILE)('passes %s inside $( ) inside double quotes', (_name, value) => {
    const result = runDash(sh`x="$(printf '%s.' ${value})"; printf '%s' "$x"`, { cwd: dir });
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `${onHost(value)}.` });
    expect(existsSync(join(dir, 'PWNED'))).toBe(false);
  });

  it.each([['if'], ['PATH=/nowhere'], ['{'], ['!'], ['-n']])('runs %s as a command name, not as grammar', (value) => {
    const result = runDash(sh`${value}`, { cwd: dir });
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/not found/);
  });

  it('makes an array one word per element, and an empty array no word', () => {
    expect(runDash(sh`set -- ${['a b', '', '*', "it's"]} end; printf '%s|' "$@"`).stdout).toBe("a b||*|it's|end|");
    expect(runDash(sh`set -- ${[]}; printf '%s' "$#"`).stdout).toBe('0');
  });

  it('writes numbers as they are, also in arithmetic', () => {
    expect(sh`sleep ${0.2}; kill -${15} ${-1}`.text).toBe('sleep 0.2; kill -15 -1');
    expect(runDash(sh`echo $(( ${40} + ${2} ))`).stdout).toBe('42\n');
  });

  it('keeps digits before a redirection a word, not a file descriptor', () => {
    const file = join(dir, 'out');
    expect(runDash(sh`echo ${'2'}>${file}`).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('2\n');
    expect(runDash(sh`echo ${['1', '2']}>${file}`).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('1 2\n');
  });

  it('inserts nested scripts and raw() text as script', () => {
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a', '1.txt'), '');
    writeFileSync(join(dir, 'a', '2.txt'), '');
    const glob = raw('*.txt');
    const list: ShellScript = sh`for f in ${join(dir, 'a')}/${glob}; do echo "\${f##*/}"; done`;
    expect(runDash(joinLines([sh`echo start`, list, sh`echo ${"it's"}`])).stdout).toBe("start\n1.txt\n2.txt\nit's\n");
  });

  it('feeds heredoc() text verbatim, whatever lines it has', () => {
    const text = "$(touch PWNED) `x` 'q' \"d\" \\\nJITSI_JWT_EOF\n\ttab\n";
    const result = runDash(sh`cat ${heredoc(text)} | wc -l
cat ${heredoc(text)}
echo after`, { cwd: dir });
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: `3\n${text}after\n` });
    expect(existsSync(join(dir, 'PWNED'))).toBe(false);
    expect(runDash(sh`cat ${heredoc('no newline')}`).stdout).toBe('no newline\n');
    expect(runDash(sh`cat ${heredoc('')}; echo end`).stdout).toBe('end\n');
  });

  it.each<[string, () => unknown]>([
    ['inside double quotes', () => sh`echo "${'x'}"`],
    ['inside single quotes', () => sh`echo '${'x'}'`],
    ['inside ${...}', () => sh`echo \${x:-${'x'}}`],
    ['after $', () => sh`echo $${'x'}`],
    ['after a backslash', () => sh`echo \\${'x'}`],
    ['inside a comment', () => sh`true # ${'x'}`],
    ['a string inside $(( ))', () => sh`echo $(( ${'1'} ))`],
    ['undefined', () => sh`echo ${undefined as unknown as string}`],
    ['null', () => sh`echo ${null as unknown as string}`],
    ['a boolean', () => sh`echo ${true as unknown as string}`],
    ['an object', () => sh`echo ${{ text: 'rm -rf /' } as unknown as ShellScript}`],
    ['NaN', () => sh`echo ${Number.NaN}`],
    ['a NUL character', () => sh`echo ${'a\0b'}`],
    ['a template that leaves a quote open', () => sh`echo "${'x'}`],
    ['a here-document in the template', () => sh`cat <<EOF\nx\nEOF`],
    ['raw() text that leaves a quote open', () => raw("echo 'x")],
    ['a NUL in a here-document', () => heredoc('a\0b')],
  ])('refuses %s', (_name, build) => {
    expect(build).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('finds host paths under a root standing for /', () => {
    expect(underRoot('', '/etc/prosody')).toBe('/etc/prosody');
    expect(underRoot('/tmp/host/', '/etc/prosody')).toBe('/tmp/host/etc/prosody');
  });
});
