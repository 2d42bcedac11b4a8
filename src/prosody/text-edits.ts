// The primitives the Prosody config editors share: edits as ranges of the
// original text applied in one pass, a view of the text's lines and
// indentation, and table edits (add, uncomment, remove entries) that keep the
// table's own style.
import {
  DomainConfigError,
  lastAssignment,
  findCommentedAssignment,
  lineOf,
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

export interface Edit {
  /** [start, end) in the original text; start === end for an insertion */
  range: Range;
  /** replacement text */
  text: string;
  /** what the edit does, for plans and logs; never contains a secret */
  description: string;
}

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
export function sortEdits(edits: readonly Edit[]): Edit[] {
  return edits.map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.range[0] - b.e.range[0] || a.i - b.i)
    .map(({ e }) => e);
}

export function sameValue(current: LuaValue | undefined, wanted: string | boolean | readonly string[]): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(current) && current.length === wanted.length && current.every((v, i) => v === wanted[i]);
  }
  return current === wanted;
}

/** Position-aware helpers over the original text. */
export class TextLayout {
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
export function indentUnit(indent: string): string {
  if (indent.startsWith('\t')) return '\t';
  return indent.length > 0 ? indent : '    ';
}

export class EditList {
  readonly edits: Edit[] = [];
  replace(range: Range, text: string, description: string): void {
    this.edits.push({ range: [range[0], range[1]], text, description });
  }
  insert(pos: number, text: string, description: string): void {
    this.edits.push({ range: [pos, pos], text, description });
  }
}

/** Where the next option line goes: after the line of `pos`, with `indent`. */
export interface Anchor {
  pos: number;
  indent: string;
}

export interface ModuleWish {
  module: string;
  enable: boolean;
  /** how an active entry is switched off: back to the stock `--"name";` line, or deleted */
  disableBy: 'comment' | 'remove';
}

export interface ModuleEditContext {
  layout: TextLayout;
  edits: EditList;
  eol: string;
  /** how descriptions name the section, e.g. `Component "conference.x"` */
  where: string;
  /** every section declaring it (Prosody merges them) */
  sections: Section[];
  wanted: ModuleWish[];
}

/** Puts modules in or out of a section's modules_enabled, keeping the table's style. */
export function editModules(ctx: ModuleEditContext): void {
  const { layout, edits, eol, where, sections: conf, wanted } = ctx;
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
        `modules_enabled of ${where} in ${layout.config.fileName} (line ${lineOf(layout.text, modulesEnabled.range[0])}) is not a table literal, so this tool cannot add ${wanted.filter((w) => w.enable).map((w) => `"${w.module}"`).join(', ')} to it`,
        `Write it as a table, e.g. modules_enabled = { "muc_meeting_id"; "${wanted[0].module}"; }, and run again.`,
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
export function ownLine(layout: TextLayout, field: TableField): boolean {
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
  const { edits, where } = ctx;
  const entries = comment.entries!;
  const fieldsAfter = table.fields.some((f) => f.range[0] > comment.range[0]);
  // Keep the comment's own separator (`;` in Jitsi's file); add one only if an entry follows.
  const separator = entries.separator ?? (fieldsAfter ? table.separator ?? ';' : '');
  edits.replace(comment.range, renderProsodyTemplate('table-entry', { module, separator }) + entries.rest,
    `${where}: uncomment "${module}"`);
  // The entry before it must end with a separator for the table to stay valid Lua.
  const before = table.fields.filter((f) => f.range[1] <= comment.range[0]).at(-1);
  if (before && !before.separator) {
    edits.insert(before.range[1], table.separator ?? ';', `${where}: separator before "${module}"`);
  }
}

export function removeField(ctx: Pick<ModuleEditContext, 'layout' | 'edits' | 'where'>, table: TableInfo, field: TableField, module: string, optionName = 'modules_enabled'): void {
  const { layout, edits, where } = ctx;
  const text = layout.text;
  const description = `${where}: remove "${module}" from ${optionName}`;
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

export function appendEntries(ctx: Pick<ModuleEditContext, 'layout' | 'edits' | 'eol' | 'where' | 'sections'>, assignment: Assignment, table: TableInfo, modules: string[]): void {
  const { layout, edits, eol, where } = ctx;
  const description = `${where}: add ${modules.map((m) => `"${m}"`).join(', ')} to ${assignment.name}`;
  const statementIndent = layout.lineIndent(assignment.range[0]);
  const fields = table.fields;

  if (fields.length === 0) {
    const hasComments = table.commentedEntries.length > 0
      || ctx.sections.some((s) => s.comments.some((c) => c.range[0] > table.range[0] && c.range[1] < table.range[1]));
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

export { lineOf };

