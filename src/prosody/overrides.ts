// A file Prosody reads after the domain config that declares the domain's
// VirtualHost (or its conference MUC) again and sets what jitsi-jwt writes
// there replaces it: token authentication would not take effect however the
// domain config is edited. plan and apply refuse such a host before changing
// anything, and doctor reports it, with one text.
import { posix } from 'node:path';
import type { DomainFile, HostFacts } from '../facts/probe.js';
import { assignmentsIn, configLoad, placeOf, type ConfigLoad, type LoadedAssignment, type LoadedSection } from './config-files.js';
import { DomainConfigError, findConferenceComponent, lineOf, parseDomainConfig, sameName } from './domain-config.js';
import { TOKEN_OPTIONS } from './token-edit.js';

export interface TokenOverride {
  /** e.g. VirtualHost "meet.example.com" */
  where: string;
  /** the later declaration */
  declaration: LoadedSection;
  /** what it sets of what jitsi-jwt writes */
  options: LoadedAssignment[];
}

/** The later declarations of the domain's VirtualHost and conference MUC that set what jitsi-jwt writes in the domain config. */
export function tokenOverrides(load: ConfigLoad, domainFile: DomainFile, domain: string): TokenOverride[] {
  const file = posix.normalize(domainFile.link);
  const own = [...load.sections, ...load.assignments].filter((item) => item.file === file);
  if (own.length === 0) return [];
  const end = Math.max(...own.map((item) => item.order));
  const conference = findConferenceComponent(parseDomainConfig(domainFile.text, domainFile.path), domain);
  const targets = [
    { kind: 'virtualhost', name: domain, options: TOKEN_OPTIONS.virtualHost as readonly string[], where: `VirtualHost "${domain}"` },
    ...(conference ? [{ kind: 'component', name: conference.name!, options: TOKEN_OPTIONS.conference as readonly string[], where: `Component "${conference.name}"` }] : []),
  ];
  const overrides: TokenOverride[] = [];
  for (const target of targets) {
    for (const declaration of load.sections) {
      const { section } = declaration;
      if (declaration.order <= end || declaration.file === file || section.kind !== target.kind || !sameName(section.name, target.name)) continue;
      const options = assignmentsIn(load, declaration).filter((a) => target.options.includes(a.assignment.name));
      if (options.length > 0) overrides.push({ where: target.where, declaration, options });
    }
  }
  return overrides;
}

/** `authentication = "jitsi-anonymous"`, or the name alone for a long value or a secret's, which is never shown. */
export function optionText(a: LoadedAssignment): string {
  const { name, valueRange } = a.assignment;
  const value = a.config.text.slice(valueRange[0], valueRange[1]);
  if (/secret|password|passwd|credential/i.test(name) || value.includes('\n') || value.length > 60) return name;
  return `${name} = ${value}`;
}

const withLine = (a: LoadedAssignment) => `${optionText(a)} (line ${lineOf(a.config.text, a.assignment.range[0])})`;

/** The refusal: each later declaration, what it sets, and what to do; `host` names the host. */
export function overrideError(overrides: TokenOverride[], domainFile: DomainFile, host?: string): DomainConfigError {
  const on = host ? ` on ${host}` : '';
  const declared = overrides.map((o) => `${o.where} is declared again at ${placeOf(o.declaration, o.declaration.section.headerRange!)}${on}, which Prosody reads after the domain config ${domainFile.path}, and sets ${o.options.map(withLine).join(', ')} there`);
  const files = [...new Set(overrides.map((o) => o.declaration.shownAs))];
  const first = overrides[0].declaration;
  return new DomainConfigError(
    'overridden-elsewhere',
    `${declared.join('; ')}: that replaces what jitsi-jwt writes in the domain config, so token authentication would not take effect`,
    `remove the duplicate declaration from ${files.join(' and ')}, or move its settings into ${domainFile.path} (the domain config); then run again`,
    { line: lineOf(first.config.text, first.section.headerRange![0]), column: 1 },
  );
}

/** Refuses a domain whose token settings another file replaces (see tokenOverrides). */
export function requireNoTokenOverrides(facts: Pick<HostFacts, 'domainFiles' | 'prosodyConfigFiles'>, domainFile: DomainFile, domain: string, host?: string): void {
  const overrides = tokenOverrides(configLoad(facts), domainFile, domain);
  if (overrides.length > 0) throw overrideError(overrides, domainFile, host);
}
