// The one jicofo.conf setting token moderators need: with
// jicofo.conference.enable-auto-owner = false, Jicofo stops making the first
// joiner moderator and mod_token_affiliation decides. The edit changes the
// value where the key already is, or appends one dotted HOCON path (later
// values win in HOCON), and keeps every other byte.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { templateDir } from '../template-dir.js';
import Handlebars from 'handlebars';

const AUTO_OWNER = /^([ \t]*(?:(?:jicofo\.)?conference\.)?"?enable-auto-owner"?[ \t]*[:=][ \t]*)(true|false|"true"|"false")([ \t]*(?:#.*|\/\/.*)?)$/gm;

const handlebars = Handlebars.create();
handlebars.registerHelper('json', (value: unknown) => JSON.stringify(value));

function template(): Handlebars.TemplateDelegate {
  return handlebars.compile(readFileSync(join(templateDir('jicofo'), 'enable-auto-owner.hbs'), 'utf8'), { strict: true, noEscape: true });
}

/** What enable-auto-owner is set to (the last occurrence wins), or undefined when the file leaves the default (true). */
export function readAutoOwner(text: string): boolean | undefined {
  const matches = [...text.matchAll(AUTO_OWNER)];
  if (matches.length === 0) return undefined;
  return matches[matches.length - 1][2].replace(/"/g, '') === 'true';
}

export function setAutoOwner(text: string, value: boolean): string {
  if (readAutoOwner(text) === value) return text;
  const matches = [...text.matchAll(AUTO_OWNER)];
  if (matches.length > 0) {
    const last = matches[matches.length - 1];
    const start = last.index! + last[1].length;
    return text.slice(0, start) + String(value) + text.slice(start + last[2].length);
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const separator = text === '' || text.endsWith('\n') ? '' : eol;
  return `${text}${separator}${template()({ value }).replace(/\n/g, eol)}`;
}

/**
 * Jicofo's own login check (the "secure domain" guide's
 * `authentication { enabled: true, type: XMPP, login-url: ... }`). With token
 * authentication it must be off (Jitsi's handbook): Prosody decides who gets in.
 * Reads the `enabled` key of a `jicofo { authentication { ... } }` block, or a
 * dotted `authentication.enabled`; undefined when the file has neither.
 */
export function readJicofoAuthentication(text: string): boolean | undefined {
  const found = authenticationEnabled(text);
  return found.length === 0 ? undefined : found[found.length - 1].value;
}

/** Sets the last `enabled` of Jicofo's authentication section to `value` in place; a file without one is left as it is. */
export function setJicofoAuthentication(text: string, value: boolean): string {
  const found = authenticationEnabled(text);
  const last = found[found.length - 1];
  if (!last || last.value === value) return text;
  return text.slice(0, last.range[0]) + String(value) + text.slice(last.range[1]);
}

const DOTTED_ENABLED = /^[ \t]*(?:jicofo\.)?authentication\.enabled[ \t]*[:=][ \t]*("?)(true|false)\1[ \t]*(?:#.*|\/\/.*)?$/gm;

/** Every `enabled` of an `authentication` object (in a block or dotted), in file order, with the range of its value. */
function authenticationEnabled(text: string): { value: boolean; range: [number, number] }[] {
  const found: { value: boolean; range: [number, number] }[] = [];
  for (const m of text.matchAll(DOTTED_ENABLED)) {
    const start = m.index! + m[0].indexOf(m[2], m[0].search(/[:=]/));
    found.push({ value: m[2] === 'true', range: [start, start + m[2].length] });
  }
  const block = /(^|[\s{,])(?:jicofo\.)?"?authentication"?[ \t]*[:=]?[ \t]*\{/gm;
  const depth = braceDepths(text);
  for (const m of text.matchAll(block)) {
    const open = m.index! + m[0].length - 1;
    if (depth[open] < 0) continue; // in a string or comment
    const close = matchingBrace(text, depth, open);
    if (close < 0) continue;
    const body = text.slice(open + 1, close);
    for (const e of body.matchAll(/(^|[\s{,])"?enabled"?[ \t]*[:=][ \t]*("?)(true|false)\2/gm)) {
      // Only the block's own key: not a nested object's, not one in a comment or a string
      // (judged by the character before the key, or the key right after the brace).
      const before = open + e.index! + e[1].length;
      if (before !== open && depth[before] !== depth[open] + 1) continue;
      const start = open + 1 + e.index! + e[0].lastIndexOf(e[3]);
      found.push({ value: e[3] === 'true', range: [start, start + e[3].length] });
    }
  }
  return found.sort((a, b) => a.range[0] - b.range[0]);
}

/**
 * The brace depth at each position of a HOCON text (a `{` counts from the
 * position after it), or -1 inside a quoted string or a comment.
 */
function braceDepths(text: string): Int32Array {
  const depth = new Int32Array(text.length + 1);
  let level = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      depth[i] = -1;
      for (i++; i < text.length && text[i] !== '"'; i++) {
        depth[i] = -1;
        if (text[i] === '\\' && i + 1 < text.length) depth[++i] = -1;
      }
      if (i < text.length) depth[i] = -1;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      for (; i < text.length && text[i] !== '\n'; i++) depth[i] = -1;
      if (i < text.length) depth[i] = level;
    } else {
      depth[i] = level;
      if (c === '{') level++;
      else if (c === '}') level--;
    }
  }
  depth[text.length] = level;
  return depth;
}

/** The `}` closing the `{` at `open`, outside strings and comments; -1 when there is none. */
function matchingBrace(text: string, depth: Int32Array, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '}' && depth[i] === depth[open] + 1) return i;
  }
  return -1;
}
