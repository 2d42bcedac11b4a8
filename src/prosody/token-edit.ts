// Switches a Jitsi domain config to token authentication with surgical edits.
//
// Pure: text in, text and the list of edits out. Each edit replaces one range
// of the original text; every other byte stays as it was. The result keeps the
// shape Jitsi's own jitsi-meet-tokens package produces (it rewrites the
// `authentication = ... -- do not delete me` line, turns the commented
// `--app_id="example_app_id"` / `--app_secret="example_app_secret"` lines into
// real ones and uncomments `--"token_verification";`), so Jitsi's package
// scripts keep recognising the file after we have been there.
//
// Running it on its own output gives no edits: every change is decided by
// comparing values, never by "has this line been touched before".
import {
  DomainConfigError,
  findCommentedAssignment,
  findConferenceComponent,
  lastAssignment,
  parseDomainConfig,
  readTokenConfig,
  requirePlainAppSecret,
  requireVirtualHost,
  sectionsNamed,
  type Assignment,
  type CommentLine,
  type DomainConfig,
  type LuaValue,
  type Range,
  type Section,
  type TableField,
  type TableInfo,
} from './domain-config.js';
import { renderProsodyTemplate } from './templates.js';
import { InternalError } from '../errors.js';

export { DomainConfigError } from './domain-config.js';

export interface TokenAuthSettings {
  domain: string;
  appId: string;
  appSecret: string;
  allowEmptyToken: boolean;
  /** written explicitly, always: the plugins' default changed between versions */
  enableDomainVerification: boolean;
  /** undefined = leave whatever is there untouched */
  issuers?: string[];
  audiences?: string[];
  /** token_verification in the conference MUC: the token's room claim must match the room */
  roomCheck: boolean;
  /** token_affiliation in the conference MUC (undefined = leave as is) */
  moderatorFromToken?: boolean;
}

export interface Edit {
  /** [start, end) in the original text; start === end for an insertion */
  range: Range;
  /** replacement text */
  text: string;
  /** what the edit does, for plans and logs; never contains a secret */
  description: string;
}

export interface TokenEditResult {
  text: string;
  /** in text order; empty when the file already is in the target state */
  edits: Edit[];
  /** things left alone that the operator should know about */
  warnings: string[];
}

const TOKEN_VERIFICATION = 'token_verification';
const TOKEN_AFFILIATION = 'token_affiliation';

/** Applies edits (ranges into `text`) in one pass. Overlapping edits are a bug in this module and throw an InternalError. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const ordered = sortEdits(edits);
  let out = '';
  let cursor = 0;
  for (const e of ordered) {
    if (e.range[0] < cursor) throw new InternalError(`internal error: two edits of the domain config overlap at offset ${e.range[0]} (${e.description})`);
    out += text.slice(cursor, e.range[0]) + e.text;
    cursor = e.range[1];
  }
  return out + text.slice(cursor);
}

/** Text order; insertions at the same point keep the order they were made in. */
function sortEdits(edits: readonly Edit[]): Edit[] {
  return edits.map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.range[0] - b.e.range[0] || a.i - b.i)
    .map(({ e }) => e);
}

function sameValue(current: LuaValue | undefined, wanted: string | boolean | readonly string[]): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(current) && current.length === wanted.length && current.every((v, i) => v === wanted[i]);
  }
  return current === wanted;
}

/** Position-aware helpers over the original text. */
class TextLayout {
  /** top-level statements, headers and comments: the spans a line can continue into */
  private readonly spans: Range[];

  constructor(readonly config: DomainConfig) {
    this.spans = [];
    for (const s of config.sections) {
      if (s.headerRange) this.spans.push(s.headerRange);
      this.spans.push(...s.statements);
      for (const c of s.comments) this.spans.push(c.range);
    }
  }

  get text(): string {
    return this.config.text;
  }

  lineStart(pos: number): number {
    return this.text.lastIndexOf('\n', pos - 1) + 1;
  }

  /** The whitespace at the start of the line holding `pos`. */
  lineIndent(pos: number): string {
    const start = this.lineStart(pos);
    let end = start;
    while (this.text[end] === ' ' || this.text[end] === '\t') end++;
    return this.text.slice(start, end);
  }

  /** Only whitespace between the start of the line and `pos`. */
  startsLine(pos: number): boolean {
    return this.text.slice(this.lineStart(pos), pos).trim() === '';
  }

  /**
   * Where a new line goes after something ending at `pos`: the end of the
   * line, past anything that starts on that line and runs onto the next (a
   * block comment, a multi-line table), before the line break (`\r\n` too).
   */
  lineEndAfter(pos: number, extraSpans: readonly Range[] = []): number {
    let end = pos;
    for (;;) {
      let nl = this.text.indexOf('\n', end);
      if (nl < 0) nl = this.text.length;
      let extended = nl;
      for (const [s, e] of [...this.spans, ...extraSpans]) {
        if (s >= pos && s < nl && e > nl) extended = Math.max(extended, e);
      }
      if (extended === nl) return Math.max(pos, nl > 0 && this.text[nl - 1] === '\r' ? nl - 1 : nl);
      end = extended;
    }
  }

  /** The indentation of a section's option lines (of its first statement), else four spaces. */
  sectionIndent(section: Section): string {
    const first = section.statements[0];
    if (first && this.startsLine(first[0])) return this.lineIndent(first[0]);
    return '    ';
  }
}

/** One more level of indentation, in the style of `indent`. */
function indentUnit(indent: string): string {
  if (indent.startsWith('\t')) return '\t';
  return indent.length > 0 ? indent : '    ';
}

class EditList {
  readonly edits: Edit[] = [];
  replace(range: Range, text: string, description: string): void {
    this.edits.push({ range: [range[0], range[1]], text, description });
  }
  insert(pos: number, text: string, description: string): void {
    this.edits.push({ range: [pos, pos], text, description });
  }
}

/** Where the next option line goes: after the line of `pos`, with `indent`. */
interface Anchor {
  pos: number;
  indent: string;
}

/**
 * Computes the edits that put `text` in the token-authentication state given
 * by `settings`. Throws DomainConfigError (a host-state error naming
 * `fileName`) when the file cannot be edited safely (no VirtualHost for the
 * domain, no conference MUC, an app_secret that is not a plain string, a
 * modules_enabled that is not a table).
 */
export function editForTokenAuth(text: string, settings: TokenAuthSettings, fileName?: string): TokenEditResult {
  const config = parseDomainConfig(text, fileName);
  const layout = new TextLayout(config);
  const edits = new EditList();
  const warnings: string[] = [];
  const { domain } = settings;
  const eol = config.eol;

  const virtualHost = requireVirtualHost(config, domain);
  const vh = sectionsNamed(config, 'virtualhost', domain);
  const conference = findConferenceComponent(config, domain);
  if (!conference) {
    throw new DomainConfigError(
      'no-conference-component',
      `there is no Component "conference.${domain}" "muc" in ${config.fileName}`,
      'Token room checks live in the conference MUC of a Jitsi domain. Check the domain, or restore the conference component of Jitsi\'s stock file.',
    );
  }
  const conf = sectionsNamed(config, 'component', conference.name!);
  if (!virtualHost.enabled) warnings.push(`VirtualHost "${virtualHost.name}" has enabled = false: it was edited, but Prosody will not serve it.`);

  /** Inserts template output as new lines after the anchor's line, indented like it, in the file's line ending. */
  const insertLines = (anchor: Anchor, rendered: string, description: string) => {
    const lines = rendered.split('\n').map((l) => anchor.indent + l).join(eol);
    edits.insert(layout.lineEndAfter(anchor.pos), eol + lines, description);
  };
  const anchorAt = (a: Assignment | CommentLine): Anchor => ({ pos: a.range[1], indent: layout.lineIndent(a.range[0]) });
  const luaValue = (value: string | boolean | readonly string[]) => renderProsodyTemplate('lua-value', { value });

  // --- the main VirtualHost -------------------------------------------------
  requirePlainAppSecret(config, domain);

  let anchor: Anchor;
  const auth = lastAssignment(vh, 'authentication');
  if (auth) {
    // Only the string literal changes: `authentication = "token" -- do not delete me`
    // keeps the marker comment Jitsi's package scripts look for.
    if (auth.value !== 'token') edits.replace(auth.valueRange, luaValue('token'), `VirtualHost "${domain}": authentication = "token"`);
    anchor = anchorAt(auth);
  } else {
    anchor = { pos: virtualHost.headerRange![1], indent: layout.sectionIndent(virtualHost) };
    insertLines(anchor, renderProsodyTemplate('option', { name: 'authentication', value: 'token' }), `VirtualHost "${domain}": add authentication = "token"`);
  }

  // app_id / app_secret, spelled `app_id="X"` as jitsi-meet-tokens writes them.
  const setCredential = (name: 'app_id' | 'app_secret', value: string) => {
    const shown = name === 'app_secret' ? '(secret hidden)' : JSON.stringify(value);
    const existing = lastAssignment(vh, name);
    if (existing) {
      if (existing.value !== value) edits.replace(existing.valueRange, luaValue(value), `VirtualHost "${domain}": set ${name} ${shown}`);
      anchor = anchorAt(existing);
      return;
    }
    const line = renderProsodyTemplate('token-credential', { name, value });
    const commented = findCommentedAssignment(vh, name);
    if (commented) {
      edits.replace(commented.range, line, `VirtualHost "${domain}": uncomment ${name} and set it ${shown}`);
      anchor = anchorAt(commented);
      return;
    }
    insertLines(anchor, line, `VirtualHost "${domain}": add ${name} ${shown}`);
  };
  setCredential('app_id', settings.appId);
  setCredential('app_secret', settings.appSecret);

  const setOption = (name: string, value: boolean | readonly string[]) => {
    const existing = lastAssignment(vh, name);
    const shown = renderProsodyTemplate('lua-value', { value });
    if (existing) {
      if (!sameValue(existing.value, value)) edits.replace(existing.valueRange, luaValue(value), `VirtualHost "${domain}": ${name} = ${shown}`);
      anchor = anchorAt(existing);
      return;
    }
    insertLines(anchor, renderProsodyTemplate('option', { name, value }), `VirtualHost "${domain}": add ${name} = ${shown}`);
  };
  setOption('allow_empty_token', settings.allowEmptyToken);
  setOption('enable_domain_verification', settings.enableDomainVerification);
  if (settings.issuers) setOption('asap_accepted_issuers', settings.issuers);
  if (settings.audiences) setOption('asap_accepted_audiences', settings.audiences);

  // --- the conference MUC ---------------------------------------------------
  const wanted: ModuleWish[] = [{ module: TOKEN_VERIFICATION, enable: settings.roomCheck, disableBy: 'comment' }];
  // No commented stock line exists for token_affiliation: switching it off removes it.
  if (settings.moderatorFromToken !== undefined) {
    wanted.push({ module: TOKEN_AFFILIATION, enable: settings.moderatorFromToken, disableBy: 'remove' });
  }
  editConferenceModules({ layout, edits, eol, conference, conf, wanted });

  // --- global: mod_token_verification needs muc_mapper_domain_base -----------
  // Older Jitsi files ship `--plugin_paths = { ".../prosody-plugins/" }`, which
  // jitsi-meet-tokens uncommented: without it Prosody cannot find mod_auth_token.
  const pluginPaths = lastAssignment([config.global], 'plugin_paths');
  let mapperAnchor: Anchor | undefined = pluginPaths ? anchorAt(pluginPaths) : undefined;
  if (!pluginPaths) {
    const commented = findCommentedAssignment([config.global], 'plugin_paths', Array.isArray);
    const value = commented?.assignment?.value;
    if (commented && Array.isArray(value)) {
      edits.replace(commented.range, renderProsodyTemplate('option', { name: 'plugin_paths', value }), 'global: uncomment plugin_paths (where Jitsi\'s token plugins are)');
      mapperAnchor = anchorAt(commented);
    } else {
      warnings.push('this file does not set plugin_paths: Jitsi\'s token plugins (/usr/share/jitsi-meet/prosody-plugins/) must be on Prosody\'s plugin path some other way.');
    }
  }

  const mapper = lastAssignment([config.global], 'muc_mapper_domain_base') ?? lastAssignment(conf, 'muc_mapper_domain_base');
  if (mapper) {
    if (typeof mapper.value !== 'string' || mapper.value.toLowerCase() !== domain.toLowerCase()) {
      warnings.push(`muc_mapper_domain_base is ${text.slice(mapper.valueRange[0], mapper.valueRange[1])} on line ${lineOf(text, mapper.range[0])}, not "${domain}"; left as it is. Room checks map rooms with it.`);
    }
  } else {
    const line = renderProsodyTemplate('muc-mapper-domain-base', { domain });
    const description = `global: add muc_mapper_domain_base = "${domain}" (token_verification needs it)`;
    const first = config.global.statements[0];
    if (mapperAnchor) insertLines(mapperAnchor, line, description);
    else if (first) edits.insert(layout.lineStart(first[0]), layout.lineIndent(first[0]) + line + eol, description);
    else edits.insert(layout.lineStart(config.sections[1].range[0]), line + eol + eol, description);
  }

  const result = applyEdits(text, edits.edits);
  if (edits.edits.length > 0) verifyTokenAuth(result, settings);
  return { text: result, edits: sortEdits(edits.edits), warnings };
}

interface ModuleWish {
  module: string;
  enable: boolean;
  /** how an active entry is switched off: back to the stock `--"name";` line, or deleted */
  disableBy: 'comment' | 'remove';
}

interface ModuleEditContext {
  layout: TextLayout;
  edits: EditList;
  eol: string;
  conference: Section;
  conf: Section[];
  wanted: ModuleWish[];
}

function editConferenceModules(ctx: ModuleEditContext): void {
  const { layout, edits, eol, conference, conf, wanted } = ctx;
  const where = `Component "${conference.name}"`;
  const modulesEnabled = lastAssignment(conf, 'modules_enabled');

  if (!modulesEnabled) {
    const add = wanted.filter((w) => w.enable).map((w) => w.module);
    if (add.length === 0) return;
    // Older Jitsi files carry `--modules_enabled = { "token_verification" }`;
    // jitsi-meet-tokens uncommented it. Do the same when it lists nothing else.
    const commented = findCommentedAssignment(conf, 'modules_enabled', Array.isArray);
    const listed = commented?.assignment?.value;
    if (commented && Array.isArray(listed) && listed.every((m) => add.includes(m))) {
      edits.replace(commented.range, renderProsodyTemplate('option', { name: 'modules_enabled', value: add }),
        `${where}: uncomment modules_enabled = { ${add.map((m) => `"${m}"`).join(', ')} }`);
      return;
    }
    // A whole new option, after the section's last statement.
    const last = conf[conf.length - 1];
    const lastStatement = last.statements[last.statements.length - 1];
    const indent = layout.sectionIndent(last);
    const rendered = renderProsodyTemplate('modules-enabled', { modules: add, unit: indentUnit(indent) });
    const lines = rendered.split('\n').map((l) => indent + l).join(eol);
    edits.insert(layout.lineEndAfter(lastStatement ? lastStatement[1] : last.headerRange![1]), eol + lines,
      `${where}: add modules_enabled = { ${add.map((m) => `"${m}"`).join(', ')} }`);
    return;
  }

  const table = modulesEnabled.table;
  if (!table) {
    if (wanted.some((w) => w.enable)) {
      throw new DomainConfigError(
        'modules-enabled-not-table',
        `modules_enabled of ${where} in ${layout.config.fileName} (line ${lineOf(layout.text, modulesEnabled.range[0])}) is not a table literal, so this tool cannot add "${TOKEN_VERIFICATION}" to it`,
        `Write it as a table, e.g. modules_enabled = { "muc_meeting_id"; "${TOKEN_VERIFICATION}"; }, and run again.`,
      );
    }
    return;
  }

  const append: string[] = [];
  for (const wish of wanted) {
    const active = table.fields.filter((f) => f.key === undefined && f.value === wish.module);
    if (wish.enable) {
      if (active.length > 0) continue;
      const commented = table.commentedEntries.find((c) => c.entries!.values.length === 1 && c.entries!.values[0] === wish.module);
      if (commented) uncommentEntry(ctx, table, commented, wish.module);
      else append.push(wish.module);
    } else {
      for (const field of active) {
        if (wish.disableBy === 'comment' && ownLine(layout, field)) {
          // Back to the stock `--"token_verification";` line.
          const separator = field.separator ? layout.text.slice(field.separator[0], field.separator[1]) : '';
          edits.replace([field.range[0], field.separator?.[1] ?? field.range[1]],
            renderProsodyTemplate('commented-table-entry', { module: wish.module, separator }),
            `${where}: comment out "${wish.module}"`);
        } else {
          removeField(ctx, table, field, wish.module);
        }
      }
    }
  }
  if (append.length > 0) appendEntries(ctx, modulesEnabled, table, append);
}

/** The field stands alone on its line: nothing before it, only its separator and a line comment after. */
function ownLine(layout: TextLayout, field: TableField): boolean {
  if (!layout.startsLine(field.range[0])) return false;
  const after = field.separator?.[1] ?? field.range[1];
  const lineEnd = layout.text.indexOf('\n', after);
  const rest = layout.text.slice(after, lineEnd < 0 ? layout.text.length : lineEnd);
  const trimmed = rest.trim();
  if (trimmed === '') return true;
  if (!trimmed.startsWith('--')) return false;
  // A trailing block comment may run onto later lines: not a line of its own then.
  const commentStart = after + rest.indexOf('--');
  const comment = layout.config.sections.flatMap((s) => s.comments).find((c) => c.range[0] === commentStart);
  return comment !== undefined && !comment.block;
}

function uncommentEntry(ctx: ModuleEditContext, table: TableInfo, comment: CommentLine, module: string): void {
  const { edits, conference } = ctx;
  const entries = comment.entries!;
  const fieldsAfter = table.fields.some((f) => f.range[0] > comment.range[0]);
  // Keep the comment's own separator (`;` in Jitsi's file); add one only if an entry follows.
  const separator = entries.separator ?? (fieldsAfter ? table.separator ?? ';' : '');
  edits.replace(comment.range, renderProsodyTemplate('table-entry', { module, separator }) + entries.rest,
    `Component "${conference.name}": uncomment "${module}"`);
  // The entry before it must end with a separator for the table to stay valid Lua.
  const before = table.fields.filter((f) => f.range[1] <= comment.range[0]).at(-1);
  if (before && !before.separator) {
    edits.insert(before.range[1], table.separator ?? ';', `Component "${conference.name}": separator before "${module}"`);
  }
}

function removeField(ctx: ModuleEditContext, table: TableInfo, field: TableField, module: string): void {
  const { layout, edits, conference } = ctx;
  const text = layout.text;
  const description = `Component "${conference.name}": remove "${module}"`;
  if (ownLine(layout, field)) {
    // Delete the whole line, line break included.
    const start = layout.lineStart(field.range[0]);
    const nl = text.indexOf('\n', field.range[1]);
    edits.replace([start, nl < 0 ? text.length : nl + 1], '', description);
    return;
  }
  const index = table.fields.indexOf(field);
  if (field.separator) {
    // `"x", ` inside a line: the entry, its separator and the spaces after it.
    let end = field.separator[1];
    while (text[end] === ' ' || text[end] === '\t') end++;
    edits.replace([field.range[0], end], '', description);
  } else if (index > 0) {
    // The last entry, without a separator: take the previous entry's separator with it.
    const previous = table.fields[index - 1];
    edits.replace([previous.separator?.[0] ?? previous.range[1], field.range[1]], '', description);
  } else {
    // The only entry: `{ "x" }` becomes `{ }`.
    let start = field.range[0];
    while (start > table.range[0] + 1 && (text[start - 1] === ' ' || text[start - 1] === '\t')) start--;
    edits.replace([start, field.range[1]], '', description);
  }
}

function appendEntries(ctx: ModuleEditContext, assignment: Assignment, table: TableInfo, modules: string[]): void {
  const { layout, edits, eol, conference } = ctx;
  const description = `Component "${conference.name}": add ${modules.map((m) => `"${m}"`).join(', ')} to modules_enabled`;
  const statementIndent = layout.lineIndent(assignment.range[0]);
  const fields = table.fields;

  if (fields.length === 0) {
    const hasComments = table.commentedEntries.length > 0
      || ctx.conf.some((s) => s.comments.some((c) => c.range[0] > table.range[0] && c.range[1] < table.range[1]));
    if (!hasComments) {
      // `{}` or `{ }`: write the table out in Jitsi's multi-line style.
      const rendered = renderProsodyTemplate('string-table', { values: modules, unit: indentUnit(statementIndent) });
      edits.replace(table.range, rendered.split('\n').map((l, i) => (i === 0 ? l : statementIndent + l)).join(eol), description);
    } else {
      // Only comments inside: new lines right after the opening brace.
      const indent = statementIndent + indentUnit(statementIndent);
      const lines = modules.map((module) => indent + renderProsodyTemplate('table-entry', { module, separator: ';' }));
      edits.insert(layout.lineEndAfter(table.range[0] + 1), eol + lines.join(eol), description);
    }
    return;
  }

  const last = fields[fields.length - 1];
  const closeBrace = table.range[1] - 1;
  const multiLine = layout.lineStart(closeBrace) !== layout.lineStart(last.range[1]);
  const separator = table.separator ?? (multiLine ? ';' : ',');
  if (multiLine) {
    // One entry per line, like the entries above; keep the "trailing separator or not" style.
    const indent = layout.lineIndent(last.range[0]);
    if (!last.separator) edits.insert(last.range[1], separator, description);
    const lines = modules.map((module, i) => indent + renderProsodyTemplate('table-entry', {
      module,
      separator: last.separator || i < modules.length - 1 ? separator : '',
    }));
    const after = last.separator?.[1] ?? last.range[1];
    edits.insert(layout.lineEndAfter(after, fields.map((f) => f.range)), eol + lines.join(eol), description);
  } else if (last.separator) {
    // `{ "a"; "b"; }` → `{ "a"; "b"; "x"; }`
    const added = modules.map((module) => ' ' + renderProsodyTemplate('table-entry', { module, separator })).join('');
    edits.insert(last.separator[1], added, description);
  } else {
    // `{ "a", "b" }` → `{ "a", "b", "x" }`
    const added = modules.map((module) => `${separator} ` + renderProsodyTemplate('table-entry', { module, separator: '' })).join('');
    edits.insert(last.range[1], added, description);
  }
}

function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Reads an edited text back and checks it says what the settings say. A
 * failure here is a bug in this module, so it throws an InternalError (which
 * never includes the secret).
 */
export function verifyTokenAuth(text: string, settings: TokenAuthSettings): void {
  const problems = tokenAuthProblems(text, settings);
  if (problems.length > 0) throw new InternalError(`internal error: the edited domain config does not read back as intended: ${problems.join('; ')}`);
}

/** What differs between the file and the target state; empty when converged. */
export function tokenAuthProblems(text: string, settings: TokenAuthSettings): string[] {
  const reading = readTokenConfig(parseDomainConfig(text), settings.domain);
  const problems: string[] = [];
  const check = (what: string, ok: boolean) => { if (!ok) problems.push(what); };
  check('authentication is not "token"', reading.authentication === 'token');
  check('app_id differs', reading.appId === settings.appId);
  check('app_secret differs', reading.appSecret === settings.appSecret);
  check('allow_empty_token differs', reading.allowEmptyToken === settings.allowEmptyToken);
  check('enable_domain_verification differs', reading.enableDomainVerification === settings.enableDomainVerification);
  if (settings.issuers) check('asap_accepted_issuers differs', sameValue(reading.asapAcceptedIssuers, settings.issuers));
  if (settings.audiences) check('asap_accepted_audiences differs', sameValue(reading.asapAcceptedAudiences, settings.audiences));
  const active = reading.conferenceModules?.active ?? [];
  check(`${TOKEN_VERIFICATION} is ${settings.roomCheck ? 'not ' : ''}enabled`, active.includes(TOKEN_VERIFICATION) === settings.roomCheck);
  if (settings.moderatorFromToken !== undefined) {
    check(`${TOKEN_AFFILIATION} is ${settings.moderatorFromToken ? 'not ' : ''}enabled`, active.includes(TOKEN_AFFILIATION) === settings.moderatorFromToken);
  }
  check('muc_mapper_domain_base is not set', reading.mucMapperDomainBase !== undefined);
  return problems;
}
