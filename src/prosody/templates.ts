// Every piece of Prosody config text this tool writes comes from a handlebars
// template in templates/prosody/. They are compiled with noEscape (handlebars
// would HTML-escape `"` and `&`, corrupting Lua) and strict (a missing value
// is an error, never an empty string); values are only ever rendered through
// the Lua helpers below.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { templateDir } from '../template-dir.js';
import Handlebars from 'handlebars';
import { luaString, luaStringArray } from './lua-string.js';

export type LuaTemplateValue = string | boolean | number | readonly string[];

/** Formats a value as Lua: strings quoted and escaped, booleans/numbers bare, string arrays as `{ "a", "b" }`. */
export function luaLiteral(value: LuaTemplateValue): string {
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as a Lua number`);
    return String(value);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return luaStringArray(value);
  throw new TypeError(`cannot write a ${typeof value} as a Lua value`);
}

const handlebars = Handlebars.create();
handlebars.registerHelper('lua', (value: unknown) => {
  if (typeof value !== 'string') throw new TypeError('the "lua" template helper takes a string');
  return luaString(value);
});
handlebars.registerHelper('luaBool', (value: unknown) => {
  if (typeof value !== 'boolean') throw new TypeError('the "luaBool" template helper takes a boolean');
  return value ? 'true' : 'false';
});
handlebars.registerHelper('luaArray', (value: unknown) => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TypeError('the "luaArray" template helper takes an array of strings');
  }
  return luaStringArray(value);
});
handlebars.registerHelper('luaValue', (value: unknown) => luaLiteral(value as LuaTemplateValue));

let loadedDir: string | undefined;
const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Loads the directory once; every template is also a partial (`{{> string-table}}`). */
function loadTemplates(): string {
  if (loadedDir) return loadedDir;
  const dir = templateDir('prosody');
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.hbs')) continue;
    // Partials are inlined where they are used: drop the file's final newline.
    handlebars.registerPartial(file.slice(0, -4), readFileSync(join(dir, file), 'utf8').replace(/\r?\n$/, ''));
  }
  loadedDir = dir;
  return dir;
}

/** Renders templates/prosody/<name>.hbs. The result has '\n' line ends and no trailing newline. */
export function renderProsodyTemplate(name: string, context: Record<string, unknown>): string {
  let template = cache.get(name);
  if (!template) {
    const source = readFileSync(join(loadTemplates(), `${name}.hbs`), 'utf8');
    template = handlebars.compile(source, { strict: true, noEscape: true });
    cache.set(name, template);
  }
  // Template files end with a newline like any text file; callers place line
  // breaks themselves.
  return template(context).replace(/\r\n/g, '\n').replace(/\n+$/, '');
}
