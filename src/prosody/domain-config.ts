// A Lua-aware reading of a Prosody domain config such as Jitsi's
// /etc/prosody/conf.avail/<domain>.cfg.lua.
//
// Prosody runs the file as Lua: `VirtualHost "x"` and `Component "x" "module"`
// are calls that switch the current section until the next such call, and
// `name = value` statements set options in the current section. We parse with
// luaparse (nothing is executed) and keep source ranges for every section,
// option, table field and comment, so that an editor can change exactly the
// bytes it means to change.
//
// luaparse works on bytes ('pseudo-latin1': one char per UTF-8 byte) so that
// raw UTF-8 and `\ddd` escapes in strings mean what they mean to Lua. All
// ranges this module hands out are converted back to offsets into the
// original JavaScript string, so `text.slice(start, end)` works.
import luaparse from 'luaparse';
import type {
  Chunk,
  Comment,
  Expression,
  LuaParseSyntaxError,
  Statement,
  TableConstructorExpression,
} from 'luaparse';
import { fromLuaBytes, toLuaBytes } from './lua-string.js';
import { ConfigFileError } from '../errors.js';

/** [start, end) offsets into DomainConfig.text (UTF-16 code units, as String.prototype.slice takes). */
export type Range = [number, number];

/** What we can tell about a Lua value without running anything. */
export type LuaValue = string | number | boolean | string[] | { table: true } | { unknown: true };

export interface TableField {
  /** the field itself, without the separator that follows it */
  range: Range;
  /** the key for `key = value` and `[key] = value` fields (string keys only) */
  key?: string;
  value: LuaValue;
  /** the `,` or `;` after this field, when there is one */
  separator?: Range;
}

export interface CommentedEntries {
  /** the strings listed in the comment body */
  values: string[];
  /** the separator written after the last one, if any */
  separator?: ',' | ';';
  /** whatever follows that separator (or the last string) in the comment, e.g. ` -- why` */
  rest: string;
}

export interface CommentLine {
  /** from the `--` to the end of the comment (the line break is not included) */
  range: Range;
  /** the body after `--`, decoded as UTF-8 */
  text: string;
  /** 1-based line of the `--` */
  line: number;
  /** a `--[[ ... ]]` block comment rather than a line comment */
  block: boolean;
  /** only whitespace precedes the comment on its line */
  ownLine: boolean;
  /** set when the body is itself an assignment, as in `--app_id="example_app_id"` */
  assignment?: { name: string; value: LuaValue };
  /** set when the body is a list of strings, as in `--"token_verification";` */
  entries?: CommentedEntries;
}

export interface TableInfo {
  /** from `{` to `}` inclusive */
  range: Range;
  fields: TableField[];
  /** line comments between the braces that list strings: commented-out entries */
  commentedEntries: CommentLine[];
  /** the separator the table's fields use (the first one found) */
  separator?: ',' | ';';
}

export interface Assignment {
  name: string;
  /** the whole statement */
  range: Range;
  /** the expression assigned */
  valueRange: Range;
  value: LuaValue;
  /** set when the value is a table constructor */
  table?: TableInfo;
}

export interface Section {
  kind: 'global' | 'virtualhost' | 'component';
  name?: string;
  module?: string;
  /** from the section's header call (or the start of the file) to the next header (or the end) */
  range: Range;
  /** the `VirtualHost "x"` / `Component "x" "y"` call; absent for the global section */
  headerRange?: Range;
  /** every top-level statement in the section after the header, in order */
  statements: Range[];
  assignments: Assignment[];
  comments: CommentLine[];
  /** false when the section sets `enabled = false` */
  enabled: boolean;
}

export interface DomainConfig {
  text: string;
  /** how errors name the file: its path on the host, or "the domain config" */
  fileName: string;
  /** statements before the first VirtualHost/Component */
  global: Section;
  virtualHosts: Section[];
  components: Section[];
  /** every section in file order, global first */
  sections: Section[];
  /** top-level `Include "..."` calls, in file order */
  includes: IncludeCall[];
  /** the file's dominant line ending; new lines are written with it */
  eol: '\n' | '\r\n';
}

/** `Include "conf.d/*.cfg.lua"`: Prosody reads the file(s) named, relative to this file's directory, where the call stands. */
export interface IncludeCall {
  /** the argument: a path, whose last part may hold `*` and `?` */
  file: string;
  range: Range;
}

export type DomainConfigProblem =
  | 'invalid-lua'
  | 'unsupported-syntax'
  | 'no-virtualhost'
  | 'no-conference-component'
  | 'app-secret-not-plain'
  | 'modules-enabled-not-table'
  | 'option-not-string-table'
  | 'overridden-elsewhere';

/** A problem with the domain config on the host (see ConfigFileError). */
export class DomainConfigError extends ConfigFileError<DomainConfigProblem> {}

const DEFAULT_FILE_NAME = 'the domain config';

const PARSE_OPTIONS = {
  comments: true,
  ranges: true,
  locations: true,
  scope: false,
  luaVersion: '5.3',
  encodingMode: 'pseudo-latin1',
} as const;

/** Maps offsets in the byte string luaparse saw to offsets in the JavaScript string. */
function byteToCharMapper(text: string, bytes: string): (offset: number) => number {
  if (bytes.length === text.length) return (offset) => offset; // ASCII only
  const map = new Uint32Array(bytes.length + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length
      && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff;
    // Lone surrogates become U+FFFD (3 bytes) in Buffer's UTF-8, like any BMP char above U+07FF.
    const n = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    for (let k = 0; k < n; k++) map[b + k] = i;
    b += n;
    if (pair) i++;
  }
  map[b] = text.length;
  return (offset) => map[offset];
}

function dominantEol(text: string): '\n' | '\r\n' {
  let crlf = 0;
  let lf = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
    if (i > 0 && text[i - 1] === '\r') crlf++;
    else lf++;
  }
  return crlf > lf ? '\r\n' : '\n';
}

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\f' || ch === '\v';
}

function parseBytes(bytes: string): Chunk {
  return luaparse.parse(bytes, PARSE_OPTIONS);
}

/** The value of an expression, when it is a literal we can read. */
function literalValue(e: Expression): LuaValue {
  switch (e.type) {
    case 'StringLiteral':
      return fromLuaBytes(e.value);
    case 'NumericLiteral':
    case 'BooleanLiteral':
      return e.value;
    case 'TableConstructorExpression': {
      const strings: string[] = [];
      for (const field of e.fields) {
        if (field.type !== 'TableValue' || field.value.type !== 'StringLiteral') return { table: true };
        strings.push(fromLuaBytes(field.value.value));
      }
      return strings;
    }
    default:
      return { unknown: true };
  }
}

interface HeaderCall {
  kind: 'virtualhost' | 'component';
  name: string;
  module?: string;
}

/**
 * Recognises `VirtualHost "x"`, `Host "x"`, `Component "x" "mod"` and their
 * parenthesised forms. `Component "a" "b"` parses as a call of a call, so the
 * string arguments are collected walking down the chain.
 */
function headerCall(statement: Statement): HeaderCall | 'table-form' | undefined {
  if (statement.type !== 'CallStatement') return undefined;
  const args: string[] = [];
  let e: Expression = statement.expression;
  let tableForm = false;
  for (;;) {
    if (e.type === 'StringCallExpression') {
      args.unshift(fromLuaBytes(e.argument.value));
      e = e.base;
    } else if (e.type === 'CallExpression') {
      const a = e.arguments;
      if (a.length !== 1 || a[0].type !== 'StringLiteral') return undefined;
      args.unshift(fromLuaBytes(a[0].value));
      e = e.base;
    } else if (e.type === 'TableCallExpression') {
      tableForm = true;
      e = e.base;
    } else break;
  }
  if (e.type !== 'Identifier') return undefined;
  const isHost = e.name === 'VirtualHost' || e.name === 'Host' || e.name === 'host';
  const isComponent = e.name === 'Component';
  if (!isHost && !isComponent) return undefined;
  // `VirtualHost "x" { opts }` sets options and returns to the global scope;
  // statements after it are not in the host. Rare, and not worth guessing at.
  if (tableForm) return 'table-form';
  if (isHost && args.length === 1) return { kind: 'virtualhost', name: args[0] };
  if (isComponent && (args.length === 1 || args.length === 2)) return { kind: 'component', name: args[0], module: args[1] };
  return undefined;
}

/** The file named by `Include "x"`, `include "x"` or `Include("x")`. */
function includeArgument(e: Expression): string | undefined {
  if (e.type === 'StringCallExpression') {
    return e.base.type === 'Identifier' && (e.base.name === 'Include' || e.base.name === 'include') ? fromLuaBytes(e.argument.value) : undefined;
  }
  if (e.type !== 'CallExpression' || e.base.type !== 'Identifier' || (e.base.name !== 'Include' && e.base.name !== 'include')) return undefined;
  const [arg] = e.arguments;
  return e.arguments.length === 1 && arg.type === 'StringLiteral' ? fromLuaBytes(arg.value) : undefined;
}

/**
 * Reads a domain config. Throws DomainConfigError('invalid-lua') with the
 * line and column when the text is not valid Lua.
 */
/** The last few readings: a run reads one file several times (domain, token state, plan). Readings are never changed. */
const readings: { text: string; fileName: string; config: DomainConfig }[] = [];

export function parseDomainConfig(text: string, fileName = DEFAULT_FILE_NAME): DomainConfig {
  const known = readings.find((r) => r.text === text && r.fileName === fileName);
  if (known) return known.config;
  const config = parseText(text, fileName);
  readings.unshift({ text, fileName, config });
  readings.length = Math.min(readings.length, 4);
  return config;
}

function parseText(text: string, fileName: string): DomainConfig {
  const bytes = toLuaBytes(text);
  const toChar = byteToCharMapper(text, bytes);
  const mapRange = (r: [number, number]): Range => [toChar(r[0]), toChar(r[1])];

  let chunk: Chunk;
  try {
    chunk = parseBytes(bytes);
  } catch (err) {
    const e = err as LuaParseSyntaxError;
    if (typeof e.line !== 'number') throw err;
    // Trust luaparse's line (its index can point past the line break for an
    // unfinished string); its column counts bytes, ours counts characters.
    let lineStart = 0;
    for (let l = 1; l < e.line && lineStart >= 0; l++) lineStart = bytes.indexOf('\n', lineStart) + 1;
    const lineEnd = bytes.indexOf('\n', lineStart) < 0 ? bytes.length : bytes.indexOf('\n', lineStart);
    const at = Math.min(lineStart + Math.max(e.column, 0), lineEnd);
    const column = toChar(at) - toChar(lineStart) + 1;
    // luaparse prefixes "[line:col] " (0-based column); we give our own position.
    const detail = e.message.replace(/^\[\d+:\d+\]\s*/, '');
    throw new DomainConfigError(
      'invalid-lua',
      `${fileName} is not valid Lua: line ${e.line}, column ${column}: ${detail}`,
      'Prosody cannot load this file either. Fix the syntax error (or restore the file from a backup) and run again.',
      { line: e.line, column },
    );
  }

  const rawComments = chunk.comments ?? [];
  const commentAt = new Map<number, Comment>(rawComments.map((c) => [c.range[0], c]));

  /** Skips whitespace and comments in the byte string. */
  const skipTrivia = (pos: number, limit: number): number => {
    let p = pos;
    while (p < limit) {
      if (isSpace(bytes[p])) p++;
      else {
        const c = commentAt.get(p);
        if (!c) break;
        p = c.range[1];
      }
    }
    return p;
  };

  const comments: CommentLine[] = rawComments.map((c) => readComment(c, bytes, mapRange));

  const tableInfo = (t: TableConstructorExpression): TableInfo => {
    const fields: TableField[] = [];
    let separator: ',' | ';' | undefined;
    t.fields.forEach((f, i) => {
      const limit = i + 1 < t.fields.length ? t.fields[i + 1].range[0] : t.range[1] - 1;
      const p = skipTrivia(f.range[1], limit);
      const sep = bytes[p] === ',' || bytes[p] === ';' ? (bytes[p] as ',' | ';') : undefined;
      separator ??= sep;
      let key: string | undefined;
      if (f.type === 'TableKeyString') key = f.key.name;
      else if (f.type === 'TableKey' && f.key.type === 'StringLiteral') key = fromLuaBytes(f.key.value);
      fields.push({
        range: mapRange(f.range),
        key,
        value: literalValue(f.value),
        separator: sep ? mapRange([p, p + 1]) : undefined,
      });
    });
    const range = mapRange(t.range);
    // Commented entries: line comments inside the braces but not inside a field.
    const commentedEntries = comments.filter((c) =>
      c.entries && c.range[0] > range[0] && c.range[1] < range[1]
      && !fields.some((f) => c.range[0] >= f.range[0] && c.range[1] <= f.range[1]));
    return { range, fields, commentedEntries, separator };
  };

  const newSection = (kind: Section['kind'], start: number, header?: HeaderCall, headerRange?: Range): Section => ({
    kind,
    name: header?.name,
    module: header?.module,
    range: [start, text.length],
    headerRange,
    statements: [],
    assignments: [],
    comments: [],
    enabled: true,
  });

  const global = newSection('global', 0);
  const sections: Section[] = [global];
  const includes: IncludeCall[] = [];
  let current = global;

  for (const statement of chunk.body) {
    const header = headerCall(statement);
    if (header === 'table-form') {
      const line = statement.loc?.start.line ?? 0;
      throw new DomainConfigError(
        'unsupported-syntax',
        `${fileName} uses the \`VirtualHost "name" { ... }\` table form on line ${line}, which this tool does not read`,
        'Write the options as separate lines under `VirtualHost "name"` (the form Jitsi\'s own file uses) and run again.',
        { line, column: (statement.loc?.start.column ?? 0) + 1 },
      );
    }
    if (header) {
      const headerRange = mapRange(statement.range);
      current.range[1] = headerRange[0];
      current = newSection(header.kind, headerRange[0], header, headerRange);
      sections.push(current);
      continue;
    }
    current.statements.push(mapRange(statement.range));
    if (statement.type === 'CallStatement') {
      const file = includeArgument(statement.expression);
      if (file !== undefined) includes.push({ file, range: mapRange(statement.range) });
    }
    if (statement.type !== 'AssignmentStatement') continue;
    statement.variables.forEach((variable, i) => {
      const init = statement.init[i];
      if (variable.type !== 'Identifier' || !init) return;
      current.assignments.push({
        name: variable.name,
        range: mapRange(statement.range),
        valueRange: mapRange(init.range),
        value: literalValue(init),
        table: init.type === 'TableConstructorExpression' ? tableInfo(init) : undefined,
      });
    });
  }

  for (const section of sections) {
    section.comments = comments.filter((c) => c.range[0] >= section.range[0] && c.range[0] < section.range[1]);
    const enabled = lastAssignment([section], 'enabled');
    section.enabled = !(enabled && enabled.value === false);
  }

  return {
    text,
    fileName,
    global,
    virtualHosts: sections.filter((s) => s.kind === 'virtualhost'),
    components: sections.filter((s) => s.kind === 'component'),
    sections,
    includes,
    eol: dominantEol(text),
  };
}

/** Reads one comment, and what its body would mean if it were uncommented. */
function readComment(c: Comment, bytes: string, mapRange: (r: [number, number]) => Range): CommentLine {
  const body = c.raw.slice(2);
  const block = /^\[=*\[/.test(body);
  let lineStart = c.range[0];
  while (lineStart > 0 && bytes[lineStart - 1] !== '\n') lineStart--;
  const comment: CommentLine = {
    range: mapRange(c.range),
    text: fromLuaBytes(body),
    line: c.loc?.start.line ?? 0,
    block,
    ownLine: bytes.slice(lineStart, c.range[0]).trim() === '',
  };
  if (block || body.trim() === '') return comment;

  // `--app_id="example_app_id"`: the body alone is an assignment.
  try {
    const chunk = parseBytes(body);
    const s = chunk.body[0];
    if (chunk.body.length === 1 && s.type === 'AssignmentStatement' && s.variables.length === 1
      && s.variables[0].type === 'Identifier' && s.init.length === 1) {
      comment.assignment = { name: s.variables[0].name, value: literalValue(s.init[0]) };
    }
  } catch {
    // prose, not code
  }

  // `--"token_verification";`: the body is a list of table entries.
  if (!comment.assignment) {
    const prefix = '_={';
    try {
      const chunk = parseBytes(`${prefix}${body}\n}`);
      const s = chunk.body[0];
      if (chunk.body.length === 1 && s.type === 'AssignmentStatement' && s.init[0]?.type === 'TableConstructorExpression') {
        const fields = s.init[0].fields;
        if (fields.length > 0 && fields.every((f) => f.type === 'TableValue' && f.value.type === 'StringLiteral')) {
          const values = fields.map((f) => fromLuaBytes((f.value as { value: string }).value));
          // Find the separator after the last string, skipping spaces (a comment
          // inside the comment body ends the line, so nothing else can be there).
          let p = fields[fields.length - 1].range[1] - prefix.length;
          while (body[p] === ' ' || body[p] === '\t') p++;
          const separator = body[p] === ',' || body[p] === ';' ? (body[p] as ',' | ';') : undefined;
          const restStart = separator ? p + 1 : fields[fields.length - 1].range[1] - prefix.length;
          comment.entries = { values, separator, rest: fromLuaBytes(body.slice(restStart)) };
        }
      }
    } catch {
      // not a list of strings
    }
  }
  return comment;
}

/** The 1-based line of an offset in a text. */
export function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

// ---------------------------------------------------------------------------
// Lookups

export function sameName(a: string | undefined, b: string): boolean {
  // Host names are case-insensitive (Prosody nameprep's them).
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** All sections declaring this host (Prosody merges repeated declarations of one host). */
export function sectionsNamed(config: DomainConfig, kind: 'virtualhost' | 'component', name: string): Section[] {
  return config.sections.filter((s) => s.kind === kind && sameName(s.name, name));
}

/** The assignment that wins (the last one) across the given sections, in file order. */
export function lastAssignment(sections: readonly Section[], name: string): Assignment | undefined {
  let found: Assignment | undefined;
  for (const section of sections) {
    for (const a of section.assignments) if (a.name === name && (!found || a.range[0] >= found.range[0])) found = a;
  }
  return found;
}

export function findVirtualHost(config: DomainConfig, domain: string): Section | undefined {
  return config.virtualHosts.find((s) => sameName(s.name, domain));
}

/** Like findVirtualHost, but a missing host is a DomainConfigError naming the hosts that are there. */
export function requireVirtualHost(config: DomainConfig, domain: string): Section {
  const vh = findVirtualHost(config, domain);
  if (vh) return vh;
  const found = config.virtualHosts.map((s) => `"${s.name}"`);
  const candidates = jitsiDomainCandidates(config);
  throw new DomainConfigError(
    'no-virtualhost',
    `there is no VirtualHost "${domain}" in ${config.fileName}` + (found.length ? ` (it declares VirtualHost ${found.join(', ')})` : ' (it declares no VirtualHost)'),
    candidates.length
      ? `Jitsi's domain in this file looks like ${candidates.map((c) => `"${c}"`).join(' or ')}: use that as the domain.`
      : 'Check the domain name, and that this is the Jitsi domain file (/etc/prosody/conf.avail/<domain>.cfg.lua).',
  );
}

/**
 * Refuses a domain whose app_secret is set from an expression (os.getenv(...),
 * a concatenation, a variable): its value cannot be read, kept or rewritten.
 */
export function requirePlainAppSecret(config: DomainConfig, domain: string): void {
  const secret = lastAssignment(sectionsNamed(config, 'virtualhost', domain), 'app_secret');
  if (!secret || typeof secret.value === 'string') return;
  const before = config.text.slice(0, secret.range[0]);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  throw new DomainConfigError(
    'app-secret-not-plain',
    // The expression itself is not quoted: it may contain the secret.
    `app_secret of VirtualHost "${domain}" in ${config.fileName} (line ${line}) is set from an expression (for example os.getenv(...)), not a plain string`,
    'jitsi-jwt only manages app_secret as a plain string: replace the expression with a string literal and run again, or keep managing the secret yourself and leave this host out',
    { line, column },
  );
}

export function findComponent(config: DomainConfig, name: string, module?: string): Section | undefined {
  return config.components.find((s) => sameName(s.name, name) && (module === undefined || s.module === module));
}

/**
 * The conference MUC of a Jitsi domain: the component the VirtualHost's
 * `main_muc` names, or else `conference.<domain>`, with module "muc".
 */
export function findConferenceComponent(config: DomainConfig, domain: string): Section | undefined {
  const vh = sectionsNamed(config, 'virtualhost', domain);
  const mainMuc = lastAssignment(vh, 'main_muc')?.value;
  if (typeof mainMuc === 'string') {
    const named = findComponent(config, mainMuc, 'muc');
    if (named) return named;
  }
  return findComponent(config, `conference.${domain}`, 'muc');
}

/**
 * Domains this file looks like it serves as Jitsi: an enabled VirtualHost X
 * with `Component "conference.X" "muc"` and/or `Component "focus.X"` (the
 * client_proxy of current files, or the external component of old ones).
 */
export function jitsiDomainCandidates(config: DomainConfig): string[] {
  const out: string[] = [];
  for (const vh of config.virtualHosts) {
    const name = vh.name!;
    if (!vh.enabled || out.some((o) => sameName(o, name))) continue;
    const conference = findComponent(config, `conference.${name}`, 'muc');
    const focus = config.components.find((c) => sameName(c.name, `focus.${name}`)
      && (c.module === 'client_proxy' || c.module === undefined));
    if (conference || focus) out.push(name);
  }
  return out;
}

export interface ModulesEnabled {
  assignment?: Assignment;
  /** active string entries, in order */
  active: string[];
  /** entries in commented lines inside the table, like `--"token_verification";` */
  commented: string[];
}

/** The `modules_enabled` of a section (the winning assignment across same-named sections). */
export function readModulesEnabled(sections: Section | readonly Section[]): ModulesEnabled {
  const list = Array.isArray(sections) ? sections : [sections as Section];
  const assignment = lastAssignment(list, 'modules_enabled');
  const table = assignment?.table;
  return {
    assignment,
    active: table ? table.fields.filter((f) => f.key === undefined && typeof f.value === 'string').map((f) => f.value as string) : [],
    commented: table ? table.commentedEntries.flatMap((c) => c.entries!.values) : [],
  };
}

/**
 * The first own-line comment in the sections whose body assigns `name` a value
 * `accept` takes (a string by default): `--app_id="example_app_id"`.
 */
export function findCommentedAssignment(
  sections: readonly Section[],
  name: string,
  accept: (value: LuaValue) => boolean = (value) => typeof value === 'string',
): CommentLine | undefined {
  for (const section of sections) {
    const c = section.comments.find((x) => x.ownLine && x.assignment?.name === name && accept(x.assignment.value));
    if (c) return c;
  }
  return undefined;
}

/** What the token-related parts of a Jitsi domain file say now. */
export interface TokenConfigReading {
  domain: string;
  virtualHost: Section;
  conference?: Section;
  authentication?: LuaValue;
  appId?: LuaValue;
  /** decoded; `{unknown: true}` when it is an expression such as os.getenv(...) */
  appSecret?: LuaValue;
  allowEmptyToken?: LuaValue;
  enableDomainVerification?: LuaValue;
  asapAcceptedIssuers?: LuaValue;
  asapAcceptedAudiences?: LuaValue;
  /** public keys instead of app_secret: asap_key_server, cache_keys_url, and the algorithm they use */
  asapKeyServer?: LuaValue;
  cacheKeysUrl?: LuaValue;
  signatureAlgorithm?: LuaValue;
  asapRequireRoomClaim?: LuaValue;
  commentedAppId?: CommentLine;
  commentedAppSecret?: CommentLine;
  pluginPaths?: LuaValue;
  /** global, or else on the conference component */
  mucMapperDomainBase?: LuaValue;
  conferenceModules?: ModulesEnabled;
}

export function readTokenConfig(config: DomainConfig, domain: string): TokenConfigReading {
  const virtualHost = requireVirtualHost(config, domain);
  const vh = sectionsNamed(config, 'virtualhost', domain);
  const conference = findConferenceComponent(config, domain);
  const conf = conference ? sectionsNamed(config, 'component', conference.name!) : [];
  const opt = (sections: readonly Section[], name: string) => lastAssignment(sections, name)?.value;
  return {
    domain,
    virtualHost,
    conference,
    authentication: opt(vh, 'authentication'),
    appId: opt(vh, 'app_id'),
    appSecret: opt(vh, 'app_secret'),
    allowEmptyToken: opt(vh, 'allow_empty_token'),
    enableDomainVerification: opt(vh, 'enable_domain_verification'),
    asapAcceptedIssuers: opt(vh, 'asap_accepted_issuers'),
    asapAcceptedAudiences: opt(vh, 'asap_accepted_audiences'),
    asapKeyServer: opt(vh, 'asap_key_server'),
    cacheKeysUrl: opt(vh, 'cache_keys_url'),
    signatureAlgorithm: opt(vh, 'signature_algorithm'),
    asapRequireRoomClaim: opt(vh, 'asap_require_room_claim'),
    commentedAppId: findCommentedAssignment(vh, 'app_id'),
    commentedAppSecret: findCommentedAssignment(vh, 'app_secret'),
    pluginPaths: opt([config.global], 'plugin_paths'),
    mucMapperDomainBase: opt([config.global], 'muc_mapper_domain_base') ?? opt(conf, 'muc_mapper_domain_base'),
    conferenceModules: conference ? readModulesEnabled(conf) : undefined,
  };
}
