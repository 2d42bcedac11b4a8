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
