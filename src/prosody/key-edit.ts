// The component that publishes a domain's public keys (mod_http_files on
// Prosody's own HTTP port), as edits of the domain config: added at the end
// of the file with the comment that says what it is, kept in step with the
// address Prosody listens on, removed with that comment when the domain no
// longer takes keys from it.
import { lastAssignment, sectionsNamed, type DomainConfig } from './domain-config.js';
import { removeSection } from './access-edit.js';
import { renderProsodyTemplate } from './templates.js';
import type { EditList, TextLayout } from './text-edits.js';

export const PUBLISHER_PREFIX = 'jitsi-jwt-keys';

/** The component that serves a domain's published keys, and where Prosody fetches them. */
export interface KeyPublisher {
  /** Component "jitsi-jwt-keys.<domain>" "http_files" */
  component: string;
  /** the HTTP host its files are served for: the address in the URL */
  httpHost: string;
  dir: string;
  /** URL path prefix */
  path: string;
  /** the base URL, as asap_key_server */
  url: string;
}

interface EditContext {
  layout: TextLayout;
  edits: EditList;
  eol: string;
}

export function publisherComponent(domain: string): string {
  return `${PUBLISHER_PREFIX}.${domain}`;
}

export function editKeyPublisher(ctx: EditContext, config: DomainConfig, domain: string, publisher: KeyPublisher | undefined): void {
  const { layout, edits, eol } = ctx;
  const text = layout.text;
  const name = publisherComponent(domain);
  const sections = sectionsNamed(config, 'component', name);
  const where = `Component "${name}"`;
  if (!publisher) {
    for (const section of sections) removeSection(ctx, section, `remove ${where} (no more public keys published on the host)`, true);
    return;
  }
  if (sections.length === 0) {
    const block = renderProsodyTemplate('key-publisher', { ...publisher }).split('\n').join(eol);
    const ending = text.length === 0 || text.endsWith('\n') ? '' : eol;
    edits.insert(text.length, `${ending}${eol}${block}${eol}`, `add ${where}: Prosody serves the published public keys at ${publisher.url}`);
    return;
  }
  const wanted: [string, string][] = [['http_host', publisher.httpHost], ['http_files_dir', publisher.dir]];
  for (const [option, value] of wanted) {
    const existing = lastAssignment(sections, option);
    if (existing && existing.value !== value) {
      edits.replace(existing.valueRange, renderProsodyTemplate('lua-value', { value }), `${where}: ${option} = "${value}"`);
    } else if (!existing) {
      const header = sections[0].headerRange!;
      edits.insert(layout.lineEndAfter(header[1]), `${eol}${layout.sectionIndent(sections[0])}    ${renderProsodyTemplate('option', { name: option, value })}`, `${where}: add ${option} = "${value}"`);
    }
  }
}
