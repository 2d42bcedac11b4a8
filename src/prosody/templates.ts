// Every piece of Prosody config text this tool writes comes from a handlebars
// template in templates/prosody/. They are compiled with noEscape (handlebars
// would HTML-escape `"` and `&`, corrupting Lua) and strict (a missing value
// is an error, never an empty string); values are only ever rendered through
// the Lua helpers below.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/**
 * The templates/prosody directory, found by walking up from this module: it is
 * two levels up when run from src/ (tsx, vitest) and three from dist/src/.
 */
function findTemplateDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'templates', 'prosody');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('templates/prosody not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

let templateDir: string | undefined;
const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Loads the directory once; every template is also a partial (`{{> string-table}}`). */
function loadTemplates(): string {
  if (templateDir) return templateDir;
  const dir = findTemplateDir();
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.hbs')) continue;
    // Partials are inlined where they are used: drop the file's final newline.
    handlebars.registerPartial(file.slice(0, -4), readFileSync(join(dir, file), 'utf8').replace(/\r?\n$/, ''));
  }
  templateDir = dir;
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
