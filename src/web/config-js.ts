// Reads and edits `anonymousdomain`, the guest domain of Jitsi Meet's web
// config /etc/jitsi/meet/<domain>-config.js. The web client logs people
// without a token into that XMPP domain (SASL ANONYMOUS) instead of the main one.
//
// The file is a browser script: Jitsi's stock config.js declares
// `var config = { hosts: { domain: ..., // anonymousdomain: 'guest.example.com', muc: ... }, ... };`
// and code before and after it (SSI variables, JaaS defaults, and
// `config.flags.* = ...` lines that Debian's jitsi-meet-web-config appends on
// upgrade). Docker images set hosts with top-level statements such as
// `config.hosts.anonymousdomain = '...';` instead. We parse with acorn
// (nothing is executed), follow the top-level statements in order the way the
// browser runs them, and change only the bytes of the value or line that
// decides the guest domain.
//
// Pure: text in, text and the list of edits out. Adding writes a line of its
// own next to the stock commented example (which stays as it is), so removing
// it gives back the original file byte for byte. Running on its own output
// gives no edits.
import { parse } from 'acorn';
import type {
  AnyNode,
  Comment,
  Expression,
  ExpressionStatement,
  Node,
  ObjectExpression,
  Pattern,
  Program,
  Property,
  SpreadElement,
} from 'acorn';
import { ConfigFileError, InternalError } from '../errors.js';

/** [start, end) offsets into the text (UTF-16 code units, as String.prototype.slice takes). */
export type Range = [number, number];

export interface WebConfigEdit {
  /** [start, end) in the original text; start === end for an insertion */
  range: Range;
  /** replacement text */
  text: string;
  /** what the edit does, for plans and logs */
  description: string;
}

export interface WebConfigResult {
  text: string;
  /** in text order; empty when the file already is in the target state */
  edits: WebConfigEdit[];
  /** things left alone that the operator should know about */
  warnings: string[];
}

export type WebConfigProblem =
  | 'invalid-js'
  | 'no-config'
  | 'no-hosts'
  | 'hosts-not-object'
  | 'anonymousdomain-not-plain';

/** A problem with the web config on the host (see ConfigFileError). */
export class WebConfigError extends ConfigFileError<WebConfigProblem> {}

const DEFAULT_FILE_NAME = 'the web config';
const KEY = 'anonymousdomain';
const STOCK_CONFIG = '/usr/share/jitsi-meet-web-config/config.js';

interface WebConfigText {
  text: string;
  fileName: string;
  program: Program;
  comments: Comment[];
  /** the file's dominant line ending; new lines are written with it */
  eol: '\n' | '\r\n';
}

function parseWebConfig(text: string, fileName: string): WebConfigText {
  const comments: Comment[] = [];
  let program: Program;
  try {
    program = parse(text, {
      ecmaVersion: 'latest',
      sourceType: 'script',
      ranges: true,
      locations: true,
      allowHashBang: false,
      allowReturnOutsideFunction: false,
      onComment: comments,
    });
  } catch (error) {
    // acorn throws a SyntaxError carrying `loc` (1-based line, 0-based column).
    const e = error as SyntaxError & { loc?: { line: number; column: number } };
    if (!(error instanceof SyntaxError) || !e.loc) throw error;
    const position = { line: e.loc.line, column: e.loc.column + 1 };
    // acorn ends its message with " (line:column)" (0-based column); we give our own position.
    const detail = e.message.replace(/\s*\(\d+:\d+\)$/, '');
    const check = fileName === DEFAULT_FILE_NAME ? 'node --check on the file' : `node --check ${fileName}`;
    throw new WebConfigError(
      'invalid-js',
      `${fileName} is not valid JavaScript: line ${position.line}, column ${position.column}: ${detail}`,
      `The web client cannot load it either. Repair the file (${check} shows the same error), or restore it from a backup, and run again.`,
      position,
    );
  }
  const crlf = text.split('\r\n').length - 1;
  const lf = text.split('\n').length - 1;
  return { text, fileName, program, comments, eol: crlf > 0 && crlf * 2 >= lf ? '\r\n' : '\n' };
}

// --- following the script --------------------------------------------------

/** One place the file gives anonymousdomain a value. */
interface Definition {
  kind: 'property' | 'assignment';
  /** the property, or the whole `config.hosts.anonymousdomain = ...;` statement */
  node: Property | ExpressionStatement;
  /** the property's value, or the right-hand side of the assignment */
  valueNode: Expression;
  /** the object literal holding the property */
  hosts?: ObjectExpression;
  /** the value when it is a plain string (a string literal, or a template without substitutions) */
  value?: string;
  line: number;
}

interface WebConfigModel {
  /** the hosts object the browser ends up with, when it is an object literal in the file */
  hosts?: ObjectExpression;
  /** why there is no such object */
  hostsProblem?: { problem: 'no-config' | 'no-hosts' | 'hosts-not-object'; at?: Node };
  /** every definition followed, in file order */
  definitions: Definition[];
  /** the definition the browser ends up with; undefined when none applies */
  effective?: Definition;
  /**
   * The last top-level `config.hosts.<name> = ...;` statement after the
   * config object, when that object has no hosts entry (hosts is built by
   * statements, as in Docker images): a new assignment goes after it.
   */
  lastHostsStatement?: ExpressionStatement;
  /** lines that mention anonymousdomain in code this module does not follow */
  unfollowedLines: number[];
}

function keyName(node: Pick<Property, 'computed' | 'key'>): string | undefined {
  if (node.computed) return undefined;
  if (node.key.type === 'Identifier') return node.key.name;
  if (node.key.type === 'Literal' && typeof node.key.value === 'string') return node.key.value;
  return undefined;
}

/** `config.hosts.anonymousdomain` (or with ['...'] steps) as ['config', 'hosts', 'anonymousdomain']. */
function memberPath(node: Expression | Pattern): string[] | undefined {
  const names: string[] = [];
  let n: Expression | Pattern | { type: 'Super' } = node;
  while (n.type === 'MemberExpression') {
    if (n.optional) return undefined;
    const p = n.property;
    const name = !n.computed && p.type === 'Identifier' ? p.name
      : n.computed && p.type === 'Literal' && typeof p.value === 'string' ? p.value
        : undefined;
    if (name === undefined) return undefined;
    names.unshift(name);
    n = n.object;
  }
  if (n.type !== 'Identifier') return undefined;
  names.unshift(n.name);
  return names;
}

function samePath(path: string[] | undefined, wanted: readonly string[]): boolean {
  return path !== undefined && path.length === wanted.length && path.every((p, i) => p === wanted[i]);
}

function plainString(node: Expression): string | undefined {
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) return node.quasis[0].value.cooked ?? undefined;
  return undefined;
}

function lineOfNode(node: Node): number {
  return node.loc!.start.line;
}

/** Every node of the tree, parents before children. */
function walk(node: unknown, visit: (n: AnyNode) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
    return;
  }
  if (!node || typeof node !== 'object' || typeof (node as { type?: unknown }).type !== 'string') return;
  visit(node as AnyNode);
  for (const [key, value] of Object.entries(node)) {
    if (key !== 'loc' && key !== 'range' && value && typeof value === 'object') walk(value, visit);
  }
}

/**
 * Runs the top-level statements in order, the way the browser does: the last
 * `config = { ... }` literal, then `config.hosts = { ... }` and
 * `config.hosts.anonymousdomain = ...` statements after it; within an object
 * literal the last property of a name wins.
 */
function followWebConfig(parsed: WebConfigText): WebConfigModel {
  const definitions: Definition[] = [];
  const followed = new Set<AnyNode>();
  let hosts: ObjectExpression | undefined;
  let hostsProblem: WebConfigModel['hostsProblem'] = { problem: 'no-config' };
  let effective: Definition | undefined;
  let lastHostsStatement: ExpressionStatement | undefined;

  const takeHosts = (object: ObjectExpression) => {
    hosts = object;
    hostsProblem = undefined;
    effective = undefined;
    for (const property of object.properties) {
      if (property.type !== 'Property' || keyName(property) !== KEY || property.kind !== 'init') continue;
      const value = property.value as Expression;
      const definition: Definition = { kind: 'property', node: property, valueNode: value, hosts: object, value: plainString(value), line: lineOfNode(property) };
      definitions.push(definition);
      followed.add(property);
      effective = definition;
    }
  };

  const takeConfig = (value: Expression) => {
    hosts = undefined;
    effective = undefined;
    lastHostsStatement = undefined;
    if (value.type !== 'ObjectExpression') {
      hostsProblem = { problem: 'no-config', at: value };
      return;
    }
    const property = value.properties
      .filter((p): p is Property => p.type === 'Property' && keyName(p) === 'hosts')
      .at(-1);
    if (!property) hostsProblem = { problem: 'no-hosts', at: value };
    else if (property.kind === 'init' && !property.method && property.value.type === 'ObjectExpression') takeHosts(property.value);
    else hostsProblem = { problem: 'hosts-not-object', at: property };
  };

  for (const statement of parsed.program.body) {
    if (statement.type === 'VariableDeclaration') {
      for (const d of statement.declarations) {
        if (d.id.type === 'Identifier' && d.id.name === 'config' && d.init) takeConfig(d.init);
      }
      continue;
    }
    if (statement.type !== 'ExpressionStatement' || statement.expression.type !== 'AssignmentExpression' || statement.expression.operator !== '=') continue;
    const { left, right } = statement.expression;
    const path = memberPath(left);
    if (path?.length === 3 && path[0] === 'config' && path[1] === 'hosts') lastHostsStatement = statement;
    if (samePath(path, ['config'])) {
      takeConfig(right);
    } else if (samePath(path, ['config', 'hosts'])) {
      lastHostsStatement = undefined;
      if (right.type === 'ObjectExpression') takeHosts(right);
      else {
        hosts = undefined;
        effective = undefined;
        hostsProblem = { problem: 'hosts-not-object', at: statement };
      }
    } else if (samePath(path, ['config', 'hosts', KEY])) {
      const definition: Definition = { kind: 'assignment', node: statement, valueNode: right, value: plainString(right), line: lineOfNode(statement) };
      definitions.push(definition);
      followed.add(left as AnyNode);
      effective = definition;
    }
  }

  const unfollowed = new Set<number>();
  walk(parsed.program, (n) => {
    if (followed.has(n)) return;
    if (n.type === 'Property' && keyName(n) === KEY) unfollowed.add(lineOfNode(n));
    if (n.type === 'MemberExpression' && memberPath(n)?.at(-1) === KEY) unfollowed.add(lineOfNode(n));
  });

  return {
    hosts,
    hostsProblem,
    definitions,
    effective,
    lastHostsStatement: hostsProblem?.problem === 'no-hosts' ? lastHostsStatement : undefined,
    unfollowedLines: [...unfollowed].sort((a, b) => a - b),
  };
}

function notPlainError(parsed: WebConfigText, definition: Definition): WebConfigError {
  const what = definition.kind === 'property' ? 'anonymousdomain in hosts' : 'config.hosts.anonymousdomain';
  return new WebConfigError(
    'anonymousdomain-not-plain',
    `${what} in ${parsed.fileName} (line ${definition.line}) is set from an expression, not a plain string`,
    'This tool only manages the guest domain as a plain string: replace the expression with one, such as \'guest.<domain>\', or delete it, and run again.',
    { line: definition.line, column: definition.node.loc!.start.column + 1 },
  );
}

function noHostsError(parsed: WebConfigText, model: WebConfigModel): WebConfigError {
  const { problem, at } = model.hostsProblem ?? { problem: 'no-config' as const };
  const position = at?.loc ? { line: at.loc.start.line, column: at.loc.start.column + 1 } : undefined;
  const where = position ? ` (line ${position.line})` : '';
  switch (problem) {
    case 'no-hosts':
      return new WebConfigError(
        'no-hosts',
        `the config object in ${parsed.fileName}${where} has no hosts: { ... } entry, so this tool cannot set anonymousdomain in it`,
        `Add the hosts block of Jitsi's stock config (hosts: { domain: '<domain>', muc: 'conference.<domain>' }, see ${STOCK_CONFIG}) and run again.`,
        position,
      );
    case 'hosts-not-object':
      return new WebConfigError(
        'hosts-not-object',
        `hosts in ${parsed.fileName}${where} is not an object literal ({ ... }), so this tool cannot add anonymousdomain to it`,
        'Write hosts as an object literal, as Jitsi\'s stock config does, or add a line `config.hosts.anonymousdomain = \'guest.<domain>\';` after it (this tool then edits that line), and run again.',
        position,
      );
    default:
      return new WebConfigError(
        'no-config',
        `${parsed.fileName} has no \`var config = { ... };\` object literal, so this tool cannot set anonymousdomain in it`,
        `Check that this is Jitsi Meet's web config (/etc/jitsi/meet/<domain>-config.js), or restore it from ${STOCK_CONFIG} (with your domain filled in), and run again.`,
        position,
      );
  }
}

/**
 * The guest domain the web client uses: the value of the `anonymousdomain`
 * that applies last (`hosts` of the config object, then top-level
 * `config.hosts.anonymousdomain = ...` statements after it), or undefined when
 * the file sets none (also when it has no config object or no hosts).
 * Throws WebConfigError when the file is not valid JavaScript, or when that
 * value is an expression rather than a plain string.
 */
export function readAnonymousDomain(text: string, fileName = DEFAULT_FILE_NAME): string | undefined {
  const parsed = parseWebConfig(text, fileName);
  const { effective } = followWebConfig(parsed);
  if (!effective) return undefined;
  if (effective.value === undefined) throw notPlainError(parsed, effective);
  return effective.value;
}

// --- writing -----------------------------------------------------------------

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const SHORT_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\v': '\\v' };

/** A JavaScript string literal for `value` in the given quotes; everything that needs it is escaped. */
export function jsStringLiteral(value: string, quote: "'" | '"' = "'"): string {
  let out = quote;
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === quote) out += '\\' + quote;
    else if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    // Line separators and unpaired surrogates: escaped so the literal reads back the same anywhere.
    else if (code === 0x2028 || code === 0x2029 || (code >= 0xd800 && code <= 0xdfff)) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + quote;
}

function quoteOf(parsed: WebConfigText, node: Expression): "'" | '"' {
  return parsed.text[node.start] === '"' ? '"' : "'";
}

/** Applies edits (ranges into `text`) in one pass. Overlapping edits are a bug in this module and throw an InternalError. */
export function applyWebConfigEdits(text: string, edits: readonly WebConfigEdit[]): string {
  let out = '';
  let cursor = 0;
  for (const e of sortEdits(edits)) {
    if (e.range[0] < cursor) throw new InternalError(`internal error: two edits of the web config overlap at offset ${e.range[0]} (${e.description})`);
    out += text.slice(cursor, e.range[0]) + e.text;
    cursor = e.range[1];
  }
  return out + text.slice(cursor);
}

/** Text order; insertions at the same point keep the order they were made in. */
function sortEdits(edits: readonly WebConfigEdit[]): WebConfigEdit[] {
  return edits.map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.range[0] - b.e.range[0] || a.i - b.i)
    .map(({ e }) => e);
}

/** Position-aware helpers over the original text. */
class Layout {
  private readonly commentAt = new Map<number, Comment>();

  constructor(readonly parsed: WebConfigText) {
    for (const c of parsed.comments) this.commentAt.set(c.start, c);
  }

  get text(): string {
    return this.parsed.text;
  }

  lineStart(pos: number): number {
    return this.text.lastIndexOf('\n', pos - 1) + 1;
  }

  /** The end of the line holding `pos`, before its line break (`\r\n` too). */
  lineEnd(pos: number): number {
    const nl = this.text.indexOf('\n', pos);
    if (nl < 0) return this.text.length;
    return nl > 0 && this.text[nl - 1] === '\r' ? nl - 1 : nl;
  }

  /** Past the line break of the line holding `pos` (the end of the text on the last line). */
  nextLineStart(pos: number): number {
    const nl = this.text.indexOf('\n', pos);
    return nl < 0 ? this.text.length : nl + 1;
  }

  lineIndent(pos: number): string {
    const start = this.lineStart(pos);
    return /^[ \t]*/.exec(this.text.slice(start))![0];
  }

  /** Only whitespace between the start of the line and `pos`. */
  startsLine(pos: number): boolean {
    return this.text.slice(this.lineStart(pos), pos).trim() === '';
  }

  /** Only spaces, tabs and at most a `//` comment from `pos` to the end of its line. */
  restIsBlank(pos: number): boolean {
    let p = pos;
    while (this.text[p] === ' ' || this.text[p] === '\t') p++;
    const end = this.lineEnd(pos);
    if (p >= end) return true;
    return this.commentAt.get(p)?.type === 'Line';
  }

  /** The `,` after a property (comments and whitespace may come between), if there is one. */
  commaAfter(node: Node): Range | undefined {
    let p = node.end;
    for (;;) {
      while (p < this.text.length && /\s/.test(this.text[p])) p++;
      const comment = this.commentAt.get(p);
      if (!comment) break;
      p = comment.end;
    }
    return this.text[p] === ',' ? [p, p + 1] : undefined;
  }

  /** `pos` moved past spaces and tabs. */
  skipBlanks(pos: number): number {
    let p = pos;
    while (this.text[p] === ' ' || this.text[p] === '\t') p++;
    return p;
  }
}

class EditList {
  readonly edits: WebConfigEdit[] = [];
  replace(range: Range, text: string, description: string): void {
    this.edits.push({ range: [range[0], range[1]], text, description });
  }
  insert(pos: number, text: string, description: string): void {
    this.edits.push({ range: [pos, pos], text, description });
  }
  /** Deletions only: overlapping ones become one. */
  mergedDeletions(): WebConfigEdit[] {
    const merged: WebConfigEdit[] = [];
    for (const e of sortEdits(this.edits)) {
      const last = merged.at(-1);
      if (last && e.range[0] < last.range[1]) {
        last.range = [last.range[0], Math.max(last.range[1], e.range[1])];
        last.description += `; ${e.description}`;
      } else merged.push({ ...e, range: [e.range[0], e.range[1]] });
    }
    return merged;
  }
}

/**
 * Computes the edits that make `guestDomain` the web client's guest domain,
 * or, with `guestDomain` undefined, that remove every anonymousdomain the file
 * sets. Throws WebConfigError (a host-state error naming `fileName`) when the
 * file cannot be edited safely, and InternalError when `guestDomain` is not a
 * plain DNS name (callers check it first).
 */
export function editAnonymousDomain(text: string, guestDomain: string | undefined, fileName = DEFAULT_FILE_NAME): WebConfigResult {
  if (guestDomain !== undefined && !DNS_NAME.test(guestDomain)) {
    throw new InternalError(`internal error: the guest domain ${JSON.stringify(guestDomain)} is not a plain DNS name; it must be checked before the web config is edited`);
  }
  const parsed = parseWebConfig(text, fileName);
  const model = followWebConfig(parsed);
  const layout = new Layout(parsed);
  const warnings: string[] = [];
  let edits: WebConfigEdit[];

  if (guestDomain !== undefined) {
    const list = new EditList();
    setGuestDomain(layout, model, list, guestDomain, warnings);
    edits = sortEdits(list.edits);
  } else {
    edits = removeGuestDomain(layout, model);
  }

  if (model.unfollowedLines.length > 0) {
    const lines = model.unfollowedLines.join(', ');
    warnings.push(`${fileName} also mentions anonymousdomain on line${model.unfollowedLines.length > 1 ? 's' : ''} ${lines}, in code this tool does not follow (a block, a function, another object); the guest domain the web client sees may not be the one written here.`);
  }

  const result = applyWebConfigEdits(text, edits);
  verifyGuestDomain(result, guestDomain, fileName);
  return { text: result, edits, warnings };
}

function setGuestDomain(layout: Layout, model: WebConfigModel, edits: EditList, guestDomain: string, warnings: string[]): void {
  const { parsed } = layout;
  const effective = model.effective;
  if (effective) {
    if (effective.value === undefined) throw notPlainError(parsed, effective);
    if (model.definitions.length > 1) {
      warnings.push(`${parsed.fileName} sets anonymousdomain ${model.definitions.length} times (lines ${model.definitions.map((d) => d.line).join(', ')}); the one on line ${effective.line} applies last and is the one this tool manages.`);
    }
    if (effective.value !== guestDomain) {
      const where = effective.kind === 'property' ? 'anonymousdomain' : 'config.hosts.anonymousdomain';
      edits.replace([effective.valueNode.start, effective.valueNode.end], jsStringLiteral(guestDomain, quoteOf(parsed, effective.valueNode)),
        `set ${where} to '${guestDomain}' on line ${effective.line} (was ${JSON.stringify(effective.value)})`);
    }
    return;
  }
  if (model.hosts) {
    insertProperty(layout, model.hosts, edits, guestDomain);
    return;
  }
  const statement = model.lastHostsStatement;
  if (statement && layout.startsLine(statement.start) && layout.restIsBlank(statement.end)) {
    // hosts is built by statements: one more, in the same style.
    const line = `config.hosts.${KEY} = ${jsStringLiteral(guestDomain)};`;
    edits.insert(layout.lineEnd(statement.end), layout.parsed.eol + layout.lineIndent(statement.start) + line,
      `add ${line} after line ${statement.loc!.start.line}`);
    return;
  }
  throw noHostsError(parsed, model);
}

/** The stock `// anonymousdomain: 'guest.example.com',` line directly inside `hosts`, if there is one. */
function stockExample(layout: Layout, hosts: ObjectExpression): Comment | undefined {
  return layout.parsed.comments.find((c) => c.type === 'Line'
    && c.start > hosts.start && c.end < hosts.end
    && /^\s*anonymousdomain\s*:/.test(c.value)
    && layout.startsLine(c.start)
    && !hosts.properties.some((p) => p.start < c.start && c.end <= p.end));
}

function insertProperty(layout: Layout, hosts: ObjectExpression, edits: EditList, guestDomain: string): void {
  const eol = layout.parsed.eol;
  const properties = hosts.properties;
  const closeBrace = hosts.end - 1;
  const literal = jsStringLiteral(guestDomain);
  const property = `${KEY}: ${literal}`;

  // Where the new property goes: after the stock example, else after `domain`, else first.
  let after: number;
  let indent: string | undefined;
  let anchor: string;
  const example = stockExample(layout, hosts);
  const domain = properties.filter((p): p is Property => p.type === 'Property' && keyName(p) === 'domain').at(-1);
  if (example) {
    after = example.end;
    indent = layout.lineIndent(example.start);
    anchor = `after the commented example on line ${example.loc!.start.line}`;
  } else if (domain) {
    after = layout.commaAfter(domain)?.[1] ?? domain.end;
    indent = layout.startsLine(domain.start) ? layout.lineIndent(domain.start) : undefined;
    anchor = `after domain on line ${domain.loc!.start.line}`;
  } else {
    after = hosts.start + 1;
    const first = properties[0];
    if (first) indent = layout.startsLine(first.start) ? layout.lineIndent(first.start) : undefined;
    else {
      const braceIndent = layout.lineIndent(closeBrace);
      indent = braceIndent + (braceIndent.startsWith('\t') ? '\t' : '    ');
    }
    anchor = 'as the first entry';
  }

  const prev = properties.filter((p) => p.end <= after).at(-1);
  const next = properties.find((p) => p.start >= after);
  const prevComma = prev ? layout.commaAfter(prev) : undefined;
  const description = `add ${KEY}: ${literal} to hosts ${anchor}`;
  const lineEnd = layout.lineEnd(after);

  if (indent !== undefined && layout.restIsBlank(after) && lineEnd < closeBrace) {
    // A line of its own. As the new last entry it follows the object's style:
    // a trailing comma only when the entry before it had one.
    const addComma = !next && prev !== undefined && !prevComma;
    if (addComma) edits.insert(prev.end, ',', `add a comma after the last entry of hosts (line ${prev.loc!.start.line}), before the new ${KEY}`);
    edits.insert(lineEnd, eol + indent + property + (addComma ? '' : ','), description);
  } else if (next) {
    // `{ domain: 'x', muc: 'y' }` → `{ domain: 'x', anonymousdomain: 'g', muc: 'y' }`
    edits.insert(next.start, `${property}, `, description);
  } else if (prev && prevComma) {
    edits.insert(prevComma[1], ` ${property},`, description);
  } else if (prev) {
    edits.insert(prev.end, `, ${property}`, description);
  } else {
    edits.replace([hosts.start + 1, closeBrace], ` ${property} `, description);
  }
}

function removeGuestDomain(layout: Layout, model: WebConfigModel): WebConfigEdit[] {
  const edits = new EditList();
  const removed = new Set<Node>(model.definitions.map((d) => d.node));
  for (const definition of model.definitions) {
    if (definition.kind === 'assignment') removeStatement(layout, edits, definition);
    else removeProperty(layout, edits, definition, removed);
  }
  return edits.mergedDeletions();
}

function removeStatement(layout: Layout, edits: EditList, definition: Definition): void {
  const statement = definition.node;
  const description = `remove the config.hosts.anonymousdomain statement on line ${definition.line}`;
  if (layout.startsLine(statement.start) && layout.restIsBlank(statement.end)) {
    edits.replace([layout.lineStart(statement.start), layout.nextLineStart(layout.lineEnd(statement.end))], '', description);
  } else {
    edits.replace([statement.start, layout.skipBlanks(statement.end)], '', description);
  }
}

function removeProperty(layout: Layout, edits: EditList, definition: Definition, removed: Set<Node>): void {
  const property = definition.node as Property;
  const hosts = definition.hosts!;
  const properties: Array<Property | SpreadElement> = hosts.properties;
  const index = properties.indexOf(property);
  const comma = layout.commaAfter(property);
  const description = `remove ${KEY} from hosts (line ${definition.line})`;
  const isLast = index === properties.length - 1;
  /** the nearest entry before this one that is not being removed */
  const survivor = properties.slice(0, index).filter((p) => !removed.has(p)).at(-1);

  const commaOnSameLine = !comma || !layout.text.slice(property.end, comma[0]).includes('\n');
  if (layout.startsLine(property.start) && commaOnSameLine && layout.restIsBlank(comma?.[1] ?? property.end)) {
    // The whole line(s), line break included.
    const end = layout.nextLineStart(layout.lineEnd(comma?.[1] ?? property.end));
    edits.replace([layout.lineStart(property.start), end], '', description);
    if (isLast && !comma) {
      // The object had no trailing comma after its last entry: nor does the new last one.
      const survivorComma = survivor ? layout.commaAfter(survivor) : undefined;
      if (survivor && survivorComma) {
        edits.replace(survivorComma, '', `remove the comma after line ${survivor.loc!.start.line}, now the last entry of hosts`);
      }
    }
    return;
  }
  if (comma) {
    // `anonymousdomain: 'g', ` inside a line: the entry, its comma and the spaces after it.
    edits.replace([property.start, layout.skipBlanks(comma[1])], '', description);
  } else if (survivor) {
    // The last entry, without a comma: the entry before it that stays loses its comma.
    edits.replace([layout.commaAfter(survivor)![0], property.end], '', description);
  } else {
    // The only entry left: `{ anonymousdomain: 'g' }` becomes `{}`.
    let start = property.start;
    while (start > hosts.start + 1 && /[ \t]/.test(layout.text[start - 1])) start--;
    const end = layout.skipBlanks(property.end);
    if (start === hosts.start + 1 && end === hosts.end - 1) edits.replace([start, end], '', description);
    else edits.replace([property.start, property.end], '', description);
  }
}

/**
 * Reads an edited text back and checks it says what was asked. A failure
 * here is a bug in this module, so it throws an InternalError.
 */
function verifyGuestDomain(text: string, guestDomain: string | undefined, fileName: string): void {
  let found: string | undefined;
  try {
    found = readAnonymousDomain(text, fileName);
  } catch (error) {
    if (!(error instanceof WebConfigError)) throw error;
    throw new InternalError(`internal error: the edited web config ${fileName} does not read back: ${error.message}`);
  }
  if (found !== guestDomain) {
    throw new InternalError(`internal error: the edited web config ${fileName} reads back anonymousdomain ${JSON.stringify(found)}, not ${JSON.stringify(guestDomain)}`);
  }
}
