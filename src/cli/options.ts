// Every flag, the JITSI_JWT_* variable that stands in for it, and the one typed
// reader both go through. Commander parses the command line; readOptionValues
// then reads each option's text (flag first, else its variable) with its kind's
// reader, so "--concurrency abc" and JITSI_JWT_ALLOW_EMPTY_TOKEN=false are
// refused or read alike, before anything connects.
import { Option, type Command } from 'commander';
import { SettingsError } from '../errors.js';
import { parseBoolean, parseDuration, parseInteger, parseList, type IntegerRange } from '../settings/values.js';

export type OptionKind =
  | { type: 'boolean' }
  | { type: 'string' }
  | { type: 'list' }
  | ({ type: 'integer' } & IntegerRange)
  | { type: 'duration'; min: number; max: number };

export const ENV_PREFIX = 'JITSI_JWT_';

/** A flag that would carry a secret: only its variable sets it; `hint` names the safe ways to give it. */
export interface SecretOption {
  hint: string;
}

const DECLARED = new WeakMap<Option, { kind: OptionKind; env: boolean; secret?: SecretOption }>();

/** JITSI_JWT_ and the long flag in capitals: --no-room-check → JITSI_JWT_NO_ROOM_CHECK. */
export function envName(option: Option): string {
  return `${ENV_PREFIX}${option.name().toUpperCase().replace(/-/g, '_')}`;
}

/**
 * An option read by its kind's reader, also from its environment variable
 * unless `env: false`. Booleans are flags; the others take a value. A
 * `secret` option is set by its variable only: on the command line (which ps
 * and shell history show) it is refused, and help does not offer it.
 */
export function option(flags: string, description: string, kind: OptionKind, extra: { default?: unknown; env?: boolean; choices?: string[]; repeatable?: boolean; secret?: SecretOption } = {}): Option {
  const made = new Option(flags, description);
  // A list flag given several times reads as one comma-separated list.
  if (extra.repeatable) made.argParser((value: string, previous: unknown) => (typeof previous === 'string' ? `${previous},${value}` : value));
  if (extra.default !== undefined) made.default(extra.default);
  if (extra.choices) made.choices(extra.choices);
  const env = extra.env !== false;
  if (env) made.description = `${description} [env: ${envName(made)}${kind.type === 'boolean' ? ', on/off' : ''}]`;
  if (extra.secret) made.hideHelp();
  DECLARED.set(made, { kind, env, ...(extra.secret ? { secret: extra.secret } : {}) });
  return made;
}

/** How an option is read, and whether a variable stands in for it (undefined: not declared through option()). */
export function declaration(declared: Option): { kind: OptionKind; env: boolean; secret?: SecretOption } | undefined {
  return DECLARED.get(declared);
}

function readValue(kind: OptionKind, text: string, source: string): unknown {
  switch (kind.type) {
    case 'boolean':
      return parseBoolean(text, source);
    case 'string':
      return text;
    case 'list':
      return parseList(text, source);
    case 'integer':
      return parseInteger(text, source, kind);
    case 'duration':
      return parseDuration(text, source, kind);
  }
}

/**
 * Turns the command's option texts into typed values: a flag given on the
 * command line wins; otherwise a non-empty JITSI_JWT_* variable; otherwise the
 * default. An empty variable counts as unset.
 */
export function readOptionValues(command: Command, env: NodeJS.ProcessEnv = process.env): void {
  for (const declared of command.options) {
    const declaration = DECLARED.get(declared);
    if (!declaration) continue;
    const { kind } = declaration;
    const key = declared.attributeName();
    const source = command.getOptionValueSource(key);
    const value = command.getOptionValue(key);
    if (source === 'cli') {
      if (declaration.secret) throw new SettingsError(`--${declared.name()} would put a secret on the command line, where ps and shell history show it`, declaration.secret.hint);
      if (kind.type !== 'boolean' && typeof value === 'string') command.setOptionValueWithSource(key, readValue(kind, value, `--${declared.name()}`), 'cli');
      continue;
    }
    const variable = envName(declared);
    const text = declaration.env ? env[variable] : undefined;
    if (text !== undefined && text.trim() !== '') {
      const read = readValue(kind, text, variable);
      // JITSI_JWT_NO_GUESTS=0 beside --guests: neither flag, the setting stays open.
      const twin = declared.negate && command.options.some((o) => o !== declared && !o.negate && o.attributeName() === key);
      if (twin && read === false) continue;
      // JITSI_JWT_NO_ROOM_CHECK=1 means what --no-room-check means: room checks off.
      command.setOptionValueWithSource(key, kind.type === 'boolean' && declared.negate ? !read : read, 'env');
    } else if (typeof value === 'string' && kind.type !== 'string' && kind.type !== 'boolean') {
      command.setOptionValueWithSource(key, readValue(kind, value, `--${declared.name()}`), source ?? 'default');
    }
  }
}

/** Whether the run asked for JSON, by flag or variable, judged from the raw arguments (for errors before parsing ends). */
export function jsonRequested(argv: string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const dashdash = argv.indexOf('--');
  if ((dashdash < 0 ? argv : argv.slice(0, dashdash)).includes('--json')) return true;
  const text = env[`${ENV_PREFIX}JSON`];
  if (text === undefined || text.trim() === '') return false;
  try {
    return parseBoolean(text, `${ENV_PREFIX}JSON`);
  } catch {
    return false;
  }
}
