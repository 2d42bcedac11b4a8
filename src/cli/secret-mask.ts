// Secrets in what the tool shows: every secret-bearing value in a diff (Lua,
// HOCON, JavaScript) and every known secret, masked unless --show-secret.
import type { FileChange, Plan } from '../plan/changes.js';
import { luaString } from '../prosody/lua-string.js';

const MASK = '••••••••';
const MASK_NOTE = 'hidden, --show-secret shows it';
/** Keys whose values are secrets: app_secret, external_service_secret, turncredentials_secret, jicofo's xmpp.client.password, ... */
const SECRET_KEY = /secret|password|passwd|credential/i;
/** What a secret key may be set to that is no secret (`secret = true` in Prosody's external_services). */
const NOT_A_SECRET = new Set(['true', 'false', 'nil', 'null', 'undefined']);
/** Shorter known secrets are not hidden as free text: they would hit key names and words, not just the secret. */
const MIN_KNOWN_SECRET = 8;

interface ConfigSyntax {
  /** starts the note after a masked value */
  comment: string;
  /** where an unquoted value ends */
  comments: string[];
}

const LUA: ConfigSyntax = { comment: '--', comments: ['--'] };
const HOCON: ConfigSyntax = { comment: '#', comments: ['#', '//'] };
const JAVASCRIPT: ConfigSyntax = { comment: '//', comments: ['//'] };
const UNKNOWN: ConfigSyntax = { comment: '--', comments: ['--', '#', '//'] };

function syntaxOf(path: string | undefined): ConfigSyntax {
  if (!path) return UNKNOWN;
  if (/\.lua$/i.test(path)) return LUA;
  if (/\.(?:conf|hocon)$/i.test(path)) return HOCON;
  if (/\.(?:[cm]?js|json)$/i.test(path)) return JAVASCRIPT;
  return UNKNOWN;
}

interface SecretValue {
  /** the value as written, delimiters included: [start, end) */
  start: number;
  end: number;
  /** the text between the delimiters, as written (escapes and all) */
  raw: string;
  quote: string;
}

const isWord = (ch: string | undefined) => ch !== undefined && /[\w$]/.test(ch);
const KEY_NAME = /[A-Za-z_$][\w$]*(?:[.-][\w$]+)*/y;
const LONG_BRACKET = /\[(=*)\[/y;

/** End of the string that opens at `pos` with `quote`, just after its closing quote; -1 when the line ends first. */
function closingQuote(text: string, pos: number, quote: string): number {
  for (let i = pos + 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === quote) return i + 1;
    else if (ch === '\n') return -1;
  }
  return -1;
}

/** A delimited string at `pos` (`"…"`, `'…'`, `` `…` ``, `"""…"""`, Lua `[[…]]`), or undefined. Unclosed ones run to the end of the text. */
function delimitedAt(text: string, pos: number): { end: number; open: string; close: string; closed: boolean } | undefined {
  if (text.startsWith('"""', pos)) {
    const close = text.indexOf('"""', pos + 3);
    return { end: close < 0 ? text.length : close + 3, open: '"""', close: '"""', closed: close >= 0 };
  }
  LONG_BRACKET.lastIndex = pos;
  const long = LONG_BRACKET.exec(text);
  if (long) {
    const closer = `]${long[1]}]`;
    const close = text.indexOf(closer, pos + long[0].length);
    return { end: close < 0 ? text.length : close + closer.length, open: long[0], close: closer, closed: close >= 0 };
  }
  const quote = text[pos];
  if (quote !== '"' && quote !== "'" && quote !== '`') return undefined;
  const end = closingQuote(text, pos, quote);
  if (end >= 0) return { end, open: quote, close: quote, closed: true };
  const lineEnd = text.indexOf('\n', pos);
  return { end: lineEnd < 0 ? text.length : lineEnd, open: quote, close: quote, closed: false };
}

/** The value assigned at `pos` when it can hold a secret: a string, or an expression up to the next separator or comment. */
function valueAt(text: string, pos: number, syntax: ConfigSyntax): SecretValue | undefined {
  const delimited = delimitedAt(text, pos);
  if (delimited) {
    const rawEnd = delimited.closed ? delimited.end - delimited.close.length : delimited.end;
    return { start: pos, end: delimited.end, raw: text.slice(pos + delimited.open.length, rawEnd), quote: delimited.open.length === 1 ? delimited.open : '"' };
  }
  if (text[pos] === '{') return undefined; // a nested object: its own keys are looked at one by one
  let depth = 0;
  let end = pos;
  while (end < text.length && text[end] !== '\n') {
    const ch = text[end];
    if (depth === 0 && (ch === ',' || ch === ';' || ch === '}' || ch === ']' || ch === ')' || syntax.comments.some((c) => text.startsWith(c, end)))) break;
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (ch === '"' || ch === "'") {
      const close = closingQuote(text, end, ch);
      if (close >= 0) {
        end = close;
        continue;
      }
    }
    end++;
  }
  const raw = text.slice(pos, end).trimEnd();
  if (raw === '' || NOT_A_SECRET.has(raw)) return undefined;
  return { start: pos, end: pos + raw.length, raw, quote: '"' };
}

/**
 * The values of secret-bearing keys in config text of any of the tool's
 * languages: Lua `name = value` and table fields (`["name"] = value` too), HOCON
 * `name: value` / `a.b.name = value`, JavaScript `name: 'value'`. Commented-out
 * assignments count: hiding an example is harmless, showing a real secret is not.
 */
function secretValues(text: string, syntax: ConfigSyntax): SecretValue[] {
  const found: SecretValue[] = [];
  let pos = 0;
  while (pos < text.length) {
    let key: string | undefined;
    let keyEnd = pos + 1;
    const bracketed = text[pos] === '[' && (text[pos + 1] === '"' || text[pos + 1] === "'");
    const delimited = delimitedAt(text, bracketed ? pos + 1 : pos);
    if (delimited) {
      if (!delimited.closed) {
        pos++; // an apostrophe in prose, not a string
        continue;
      }
      keyEnd = delimited.end;
      if (delimited.open.length === 1) key = text.slice((bracketed ? pos + 1 : pos) + 1, delimited.end - 1);
      if (bracketed) {
        if (text[keyEnd] === ']') keyEnd++;
        else key = undefined;
      }
    } else if (!isWord(text[pos - 1])) {
      KEY_NAME.lastIndex = pos;
      const name = KEY_NAME.exec(text);
      if (name) {
        key = name[0];
        keyEnd = pos + key.length;
      }
    }
    pos = keyEnd;
    if (key === undefined) continue;
    let p = keyEnd;
    while (text[p] === ' ' || text[p] === '\t') p++;
    const assigns = (text[p] === '=' && text[p + 1] !== '=') || (text[p] === ':' && text[p + 1] !== ':');
    if (!assigns || !SECRET_KEY.test(key.slice(key.lastIndexOf('.') + 1))) continue;
    p++;
    while (text[p] === ' ' || text[p] === '\t') p++;
    const value = valueAt(text, p, syntax);
    if (!value) continue;
    found.push(value);
    pos = value.end;
  }
  return found;
}

/** One line's text with every secret value masked and a note saying so. */
function maskLine(line: string, syntax: ConfigSyntax): string {
  const values = secretValues(line, syntax);
  if (values.length === 0) return line;
  let out = '';
  let cursor = 0;
  for (const v of values) {
    out += line.slice(cursor, v.start) + v.quote + MASK + v.quote;
    cursor = v.end;
  }
  const rest = line.slice(cursor);
  const cr = rest.endsWith('\r') ? '\r' : '';
  return `${out}${rest.slice(0, rest.length - cr.length)} ${syntax.comment} ${MASK_NOTE}${cr}`;
}

/** The forms a known secret can take in a file: as is, escaped for Lua and for JSON/HOCON, and line by line. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    const escaped = [secret, JSON.stringify(secret).slice(1, -1)];
    try {
      escaped.push(luaString(secret).slice(1, -1));
    } catch {
      // no Lua form (a lone surrogate), so not in a Lua file either
    }
    for (const form of escaped) {
      forms.add(form);
      for (const line of form.split(/\r?\n/)) forms.add(line.trim());
    }
  }
  return [...forms].filter((form) => form.length >= MIN_KNOWN_SECRET).sort((a, b) => b.length - a.length);
}

function hideKnown(line: string, forms: readonly string[]): string {
  return forms.reduce((text, form) => text.split(form).join(MASK), line);
}

export interface MaskOptions {
  /** the file the diff is of, when its headers do not say (decides the comment syntax of the note) */
  path?: string;
  /** secret values to hide wherever they appear, e.g. the new and the previous app_secret */
  secrets?: readonly string[];
}

/**
 * Hides secrets in a unified diff: the value of every secret-bearing key
 * (`*secret*`, `*password*`, `*passwd*`, `*credential*`) on context, added
 * and removed lines, keeping the key and the line's shape, and every literal
 * occurrence of the known secrets. The note after a masked value uses the
 * comment syntax of the file: `--` Lua, `#` HOCON, `//` JavaScript.
 */
export function maskSecrets(diff: string, options: MaskOptions = {}): string {
  let syntax = syntaxOf(options.path);
  const forms = secretForms(options.secrets ?? []);
  let oldLeft = 0;
  let newLeft = 0;
  return diff
    .split('\n')
    .map((line) => {
      if (oldLeft > 0 || newLeft > 0) {
        const tag = line[0];
        if (tag === '\\') return line;
        if (tag !== '+') oldLeft--;
        if (tag !== '-') newLeft--;
        return hideKnown(tag + maskLine(line.slice(1), syntax), forms);
      }
      const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
      if (hunk) {
        oldLeft = Number(hunk[1] ?? 1);
        newLeft = Number(hunk[2] ?? 1);
        return line;
      }
      const header = /^(?:Index:|---|\+\+\+) (\S+)/.exec(line);
      if (header) {
        syntax = syntaxOf(header[1]);
        return line;
      }
      // Lines outside any hunk (a diff cut to pieces): judged by their tag alone.
      if (/^[ +-]/.test(line)) return hideKnown(line[0] + maskLine(line.slice(1), syntax), forms);
      return hideKnown(line, forms);
    })
    .join('\n');
}

/**
 * Every secret a plan's files hold, before and after the change (the new and
 * the previous app_secret, jicofo's password, TURN secrets), plus `extra`: so
 * a secret is hidden even on a diff line that does not name its key.
 */
export function planSecrets(plan: Plan, extra: readonly string[] = []): string[] {
  const found = new Set(extra);
  for (const file of plan.files) {
    const syntax = syntaxOf(file.path);
    for (const text of [file.before, file.after]) for (const value of secretValues(text, syntax)) found.add(value.raw);
  }
  return [...found];
}

/** A file change's diff as it is shown, in text and in --json: secrets masked unless showSecret. */
export function shownDiff(plan: Plan, file: FileChange, options: { showSecret: boolean; secrets?: readonly string[] }): string {
  return options.showSecret ? file.diff : maskSecrets(file.diff, { path: file.path, secrets: planSecrets(plan, options.secrets) });
}
