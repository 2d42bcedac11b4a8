// Who else gets into a token-secured Jitsi domain, as edits of the domain
// config: the identities that join without a token (Jibri's recorder domain,
// Jigasi, guests) in token_verification_allowlist and muc_lobby_whitelist, and
// the guest setup of Jitsi's handbook (a guest VirtualHost, muc_wait_for_host,
// persistent_lobby). Every edit is one the matching removal undoes byte for
// byte, so switching guests off gives back the file as it was.
import {
  DomainConfigError,
  findCommentedAssignment,
  lastAssignment,
  sectionsNamed,
  type Assignment,
  type DomainConfig,
  type Section,
} from './domain-config.js';
import { renderProsodyTemplate } from './templates.js';
import { appendEntries, lineOf, removeField, type Anchor, type EditList, type TextLayout } from './text-edits.js';

/** Entries a string set must hold, and entries it must not. */
export interface SetWish {
  add: readonly string[];
  remove: readonly string[];
}

interface EditContext {
  layout: TextLayout;
  edits: EditList;
  eol: string;
}

const sameEntry = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The string entries of a set option as the file has them (undefined: the option is not set). */
export function readStringSet(sections: readonly Section[], name: string): string[] | undefined {
  const value = lastAssignment(sections, name)?.value;
  return Array.isArray(value) ? value : undefined;
}

/** Inserts option lines after the anchor's line, indented like it. */
function insertLines(ctx: EditContext, anchor: Anchor, rendered: string, description: string): void {
  const lines = rendered.split('\n').map((l) => anchor.indent + l).join(ctx.eol);
  ctx.edits.insert(ctx.layout.lineEndAfter(anchor.pos), ctx.eol + lines, description);
}

/** Removes a statement: its whole line(s) when it stands alone there, else just the statement. */
export function removeStatement(ctx: EditContext, statement: Assignment, description: string): void {
  const { layout, edits } = ctx;
  const text = layout.text;
  const end = layout.lineEndAfter(statement.range[1]);
  const rest = text.slice(statement.range[1], end).trim();
  if (layout.startsLine(statement.range[0]) && (rest === '' || rest === ';')) {
    const start = layout.lineStart(statement.range[0]);
    const nl = text.indexOf('\n', end);
    edits.replace([start, nl < 0 ? text.length : nl + 1], '', description);
  } else {
    edits.replace(statement.range, '', description);
  }
}

/**
 * Makes a string-set option (`name = { "a"; "b" }`) hold `wish.add` and none of
 * `wish.remove`, keeping every other entry and the table's style. A new option
 * goes after `anchor`; a set left empty by removals goes away entirely.
 */
export function editStringSet(ctx: EditContext, where: string, sections: Section[], name: string, wish: SetWish, anchor: () => Anchor): void {
  const { layout } = ctx;
  const existing = lastAssignment(sections, name);
  const current = Array.isArray(existing?.value) ? existing.value : [];
  const add = wish.add.filter((entry, i) => !current.some((c) => sameEntry(c, entry)) && wish.add.findIndex((e) => sameEntry(e, entry)) === i);
  const remove = wish.remove.filter((entry) => current.some((c) => sameEntry(c, entry)) && !wish.add.some((e) => sameEntry(e, entry)));
  if (add.length === 0 && remove.length === 0) return;

  if (!existing) {
    insertLines(ctx, anchor(), renderProsodyTemplate('option', { name, value: add }), `${where}: add ${name} = { ${add.map((e) => `"${e}"`).join(', ')} }`);
    return;
  }
  const table = existing.table;
  if (!table || !Array.isArray(existing.value)) {
    throw new DomainConfigError(
      'option-not-string-table',
      `${name} of ${where} in ${layout.config.fileName} (line ${lineOf(layout.text, existing.range[0])}) is not a table of strings, so this tool cannot add or remove entries`,
      `Write it as a table, e.g. ${name} = { "${[...current, ...add][0] ?? 'example.com'}" }, and run again.`,
    );
  }
  const fieldsLeft = table.fields.filter((f) => !(typeof f.value === 'string' && remove.some((r) => sameEntry(r, f.value as string))));
  const commentsInside = table.commentedEntries.length > 0
    || sections.some((s) => s.comments.some((c) => c.range[0] > table.range[0] && c.range[1] < table.range[1]));
  if (fieldsLeft.length === 0 && add.length === 0 && !commentsInside) {
    removeStatement(ctx, existing, `${where}: remove ${name} (${remove.map((e) => `"${e}"`).join(', ')} was its only entry)`);
    return;
  }
  const tableCtx = { ...ctx, where, sections };
  for (const field of table.fields) {
    if (typeof field.value === 'string' && remove.some((r) => sameEntry(r, field.value as string))) removeField(tableCtx, table, field, field.value, name);
  }
  if (add.length > 0) appendEntries(tableCtx, existing, table, add);
}

/** Sets a boolean option of a section (true/false), or removes it (undefined), after `anchor` when new. */
export function editBooleanOption(ctx: EditContext, where: string, sections: Section[], name: string, value: boolean | undefined, anchor: () => Anchor): void {
  const existing = lastAssignment(sections, name);
  if (value === undefined) {
    if (existing) removeStatement(ctx, existing, `${where}: remove ${name}`);
    return;
  }
  if (existing) {
    if (existing.value !== value) ctx.edits.replace(existing.valueRange, renderProsodyTemplate('lua-value', { value }), `${where}: ${name} = ${value}`);
    return;
  }
  insertLines(ctx, anchor(), renderProsodyTemplate('option', { name, value }), `${where}: add ${name} = ${value}`);
}

/** Where a new option of a section goes: after the statement `after` names, else after the section's last statement. */
export function anchorIn(layout: TextLayout, sections: Section[], ...after: string[]): Anchor {
  for (const name of after) {
    const found = lastAssignment(sections, name) ?? findCommentedAssignment(sections, name, Array.isArray);
    if (found) return { pos: found.range[1], indent: layout.lineIndent(found.range[0]) };
  }
  const last = sections[sections.length - 1];
  const statement = last.statements[last.statements.length - 1];
  return statement
    ? { pos: statement[1], indent: layout.lineIndent(statement[0]) }
    : { pos: last.headerRange![1], indent: layout.sectionIndent(last) };
}

/**
 * The guest VirtualHost of Jitsi's handbook: added at the end of the file when
 * missing (or switched to anonymous login when it has another authentication),
 * removed with the blank line before it when guests are switched off.
 */
export function editGuestHost(ctx: EditContext, config: DomainConfig, guestDomain: string, enable: boolean): void {
  const { layout, edits, eol } = ctx;
  const text = layout.text;
  const sections = sectionsNamed(config, 'virtualhost', guestDomain);
  const where = `VirtualHost "${guestDomain}"`;
  if (enable) {
    if (sections.length === 0) {
      const block = renderProsodyTemplate('guest-virtualhost', { domain: guestDomain }).split('\n').join(eol);
      const ending = text.length === 0 || text.endsWith('\n') ? '' : eol;
      edits.insert(text.length, `${ending}${eol}${block}${eol}`, `add ${where} (guests log in anonymously there and wait for a host)`);
      return;
    }
    const auth = lastAssignment(sections, 'authentication');
    if (!auth) {
      insertLines(ctx, { pos: sections[0].headerRange![1], indent: layout.sectionIndent(sections[0]) },
        renderProsodyTemplate('option', { name: 'authentication', value: 'jitsi-anonymous' }), `${where}: add authentication = "jitsi-anonymous"`);
    } else if (auth.value !== 'jitsi-anonymous' && auth.value !== 'anonymous') {
      edits.replace(auth.valueRange, renderProsodyTemplate('lua-value', { value: 'jitsi-anonymous' }), `${where}: authentication = "jitsi-anonymous" (guests log in anonymously)`);
    }
    return;
  }
  for (const section of sections) removeSection(ctx, section, `remove ${where} (guests are switched off)`);
}

/**
 * Removes a section: from its header's line (and the comment lines right
 * above it, when `withLeadingComments`) to the end of its last statement's
 * line, with one blank line before it.
 */
export function removeSection(ctx: EditContext, section: Section, description: string, withLeadingComments = false): void {
  const { layout, edits } = ctx;
  const text = layout.text;
  let start = layout.lineStart(section.headerRange![0]);
  if (withLeadingComments) {
    for (;;) {
      const before = text.slice(0, start);
      const comment = /(?:^|\n)([ \t]*--[^\n]*\n)$/.exec(before);
      if (!comment || start === 0) break;
      start -= comment[1].length;
    }
  }
  const last = section.statements[section.statements.length - 1] ?? section.headerRange!;
  const lineEnd = layout.lineEndAfter(last[1]);
  const nl = text.indexOf('\n', lineEnd);
  const end = nl < 0 ? text.length : nl + 1;
  const before = text.slice(0, start);
  const blank = /(?:^|\n)([ \t]*\r?\n)$/.exec(before);
  if (blank) start -= blank[1].length;
  edits.replace([start, end], '', description);
}
