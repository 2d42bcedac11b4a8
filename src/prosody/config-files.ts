// The files Prosody reads for its configuration, in the order it reads them,
// and what that order decides: which declaration of a host wins, and where
// Prosody's HTTP port listens.
//
// Prosody runs its main config (/etc/prosody/prosody.cfg.lua) as Lua, and each
// `Include "x"` runs file x where the call stands, x relative to the including
// file's directory. A wildcard in x's last part reads that directory in the
// order it lists its entries (lfs.dir: unsorted) and skips names starting with
// a dot. Every file starts in the global section; `VirtualHost "x"` (or
// `Component "x"`) opens x's section again when an earlier file declared it,
// and an option set there replaces the earlier value (core/configmanager.lua,
// Prosody 0.12 and 13). Pure: the probe's files in, the reading out.
import { posix } from 'node:path';
import { prosodyHttpAddress, PROSODY_CONFIG, type ConfigFile, type DomainFile, type HostFacts } from '../facts/probe.js';
import { lineOf, parseDomainConfig, type Assignment, type DomainConfig, type Section } from './domain-config.js';

/** A section (or a file's global part) as Prosody meets it. */
export interface LoadedSection {
  /** the file, as Prosody names it (a link in conf.d stays the link) */
  file: string;
  /** the file to edit: a domain file's link resolved (to conf.avail) */
  shownAs: string;
  config: DomainConfig;
  section: Section;
  /** where Prosody meets it: a larger order comes later and wins */
  order: number;
}

export interface LoadedAssignment extends LoadedSection {
  assignment: Assignment;
}

export interface ConfigLoad {
  /** the files Prosody reads, in the order it starts reading each */
  files: string[];
  /** every section header and each file's global part, in the order Prosody meets them */
  sections: LoadedSection[];
  /** every option set, in the order Prosody sets them */
  assignments: LoadedAssignment[];
}

/** Include loops make Prosody recurse until Lua gives up; the walk stops here instead. */
const MAX_INCLUDE_DEPTH = 16;

/** Readings by host: a run asks several times (the plan, the key publisher, the smoke target). */
const loads = new WeakMap<readonly DomainFile[], { files?: readonly ConfigFile[]; texts: string[]; load: ConfigLoad }>();

/**
 * The files Prosody reads, from the probe's copies of every *.lua file under
 * /etc/prosody, starting at its main config. Without the main config (a probe
 * that did not read it) the domain files alone, in conf.d's order, as the
 * stock `Include "conf.d/*.cfg.lua"` reads them. A file that is not valid Lua
 * is left out: Prosody does not start on it, and the check before every
 * change says so.
 */
export function configLoad(facts: Pick<HostFacts, 'domainFiles' | 'prosodyConfigFiles'>): ConfigLoad {
  const texts = facts.domainFiles.map((f) => f.text);
  const known = loads.get(facts.domainFiles);
  if (known && known.files === facts.prosodyConfigFiles && known.texts.length === texts.length && known.texts.every((t, i) => t === texts[i])) return known.load;
  const load = readLoad(facts.prosodyConfigFiles ?? [], facts.domainFiles);
  loads.set(facts.domainFiles, { files: facts.prosodyConfigFiles, texts, load });
  return load;
}

function readLoad(files: readonly ConfigFile[], domainFiles: readonly DomainFile[]): ConfigLoad {
  const texts = new Map(files.map((f) => [posix.normalize(f.path), f.text]));
  // The domain files' texts are the ones a plan works on.
  for (const f of domainFiles) {
    texts.set(posix.normalize(f.link), f.text);
    if (texts.has(posix.normalize(f.path))) texts.set(posix.normalize(f.path), f.text);
  }
  const order = files.map((f) => posix.normalize(f.path));
  const shown = new Map(domainFiles.map((f) => [posix.normalize(f.link), f.path]));
  const load: ConfigLoad = { files: [], sections: [], assignments: [] };
  let next = 0;
  const reading = new Set<string>();

  const walk = (path: string, depth: number): void => {
    const text = texts.get(path);
    if (text === undefined || reading.has(path) || depth > MAX_INCLUDE_DEPTH) return;
    let config: DomainConfig;
    try {
      config = parseDomainConfig(text, path);
    } catch {
      return;
    }
    load.files.push(path);
    reading.add(path);
    const file = { file: path, shownAs: shown.get(path) ?? path, config };
    // Headers, options and Includes in the order they stand in the file.
    const steps: { at: number; run: () => void }[] = [];
    for (const section of config.sections) {
      steps.push({ at: section.range[0], run: () => load.sections.push({ ...file, section, order: next++ }) });
      for (const assignment of section.assignments) {
        steps.push({ at: assignment.range[0], run: () => load.assignments.push({ ...file, section, assignment, order: next++ }) });
      }
    }
    for (const include of config.includes) {
      steps.push({ at: include.range[0], run: () => included(path, include.file, order).forEach((p) => walk(p, depth + 1)) });
    }
    steps.sort((a, b) => a.at - b.at).forEach((step) => step.run());
    reading.delete(path);
  };

  if (texts.has(PROSODY_CONFIG)) walk(PROSODY_CONFIG, 0);
  else for (const f of domainFiles) walk(posix.normalize(f.link), 0);
  return load;
}

/** The files `Include "<file>"` in `from` reads, in Prosody's order, among the files the probe listed. */
function included(from: string, file: string, listed: readonly string[]): string[] {
  const path = posix.normalize(file.startsWith('/') ? file : `${posix.dirname(from)}/${file}`);
  if (!/[*?]/.test(file)) return [path];
  const dir = posix.dirname(path);
  const glob = posix.basename(path);
  if (/[*?]/.test(dir)) return []; // Prosody takes a wildcard in the last part only
  const pattern = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return listed.filter((p) => posix.dirname(p) === dir && !posix.basename(p).startsWith('.') && pattern.test(posix.basename(p)));
}

/** The global option `name` as Prosody ends up with it: the last one set. */
export function globalOption(load: ConfigLoad, name: string): LoadedAssignment | undefined {
  return load.assignments.filter((a) => a.section.kind === 'global' && a.assignment.name === name).pop();
}

/** `file:line` of an assignment or section header. */
export function placeOf(item: LoadedSection, range: [number, number]): string {
  return `${item.shownAs}:${lineOf(item.config.text, range[0])}`;
}

/** Where Prosody's HTTP port listens by its config, and which setting says so. */
export interface ConfiguredAddress {
  /** an address to reach it from the host itself; undefined when no IPv4 address can be told */
  address?: string;
  /** e.g. `http_interfaces at /etc/prosody/prosody.cfg.lua:4`, or Prosody's default */
  setting: string;
}

/** In the order Prosody's portmanager looks for them (the HTTP service is not a private one). */
const HTTP_INTERFACE_OPTIONS = ['http_interfaces', 'http_interface', 'interfaces', 'interface'];

export function configuredHttpAddress(load: ConfigLoad): ConfiguredAddress {
  for (const name of HTTP_INTERFACE_OPTIONS) {
    const found = globalOption(load, name);
    if (!found) continue;
    const value = found.assignment.value;
    const setting = `${name} at ${placeOf(found, found.assignment.range)}`;
    const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    // "*" is every IPv4 interface, loopback among them.
    if (list.includes('*') || list.includes('0.0.0.0')) return { address: '127.0.0.1', setting };
    return { address: list.find((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a)), setting };
  }
  const ipv4 = globalOption(load, 'use_ipv4')?.assignment.value !== false;
  return { address: ipv4 ? '127.0.0.1' : undefined, setting: "Prosody's default, every interface" };
}

/**
 * Where to reach Prosody's HTTP port from the host itself: where it listens,
 * or where its config has it listen once it starts (it is not running, or
 * not on that port), or else loopback.
 */
export function prosodyHttpTarget(facts: Pick<HostFacts, 'listening' | 'domainFiles' | 'prosodyConfigFiles'>, port = 5280): string {
  return prosodyHttpAddress(facts, port) ?? configuredHttpAddress(configLoad(facts)).address ?? '127.0.0.1';
}

/** A host or component declared more than once, each declaration in Prosody's order. */
export interface Redeclaration {
  kind: 'virtualhost' | 'component';
  /** as the first declaration spells it */
  name: string;
  declarations: LoadedSection[];
}

/**
 * Hosts and components declared again after their first declaration, where
 * a later declaration sets options: those replace the earlier ones. Debian's
 * stock `VirtualHost "localhost"`, in prosody.cfg.lua and in conf.d, sets
 * nothing the second time and is left out.
 */
export function redeclaredSections(load: ConfigLoad): Redeclaration[] {
  const byName = new Map<string, Redeclaration>();
  for (const item of load.sections) {
    const { kind, name } = item.section;
    if (kind === 'global' || name === undefined) continue;
    const key = `${kind} ${name.toLowerCase()}`;
    const entry = byName.get(key) ?? { kind, name, declarations: [] };
    entry.declarations.push(item);
    byName.set(key, entry);
  }
  return [...byName.values()].filter((r) => r.declarations.slice(1).some((d) => d.section.assignments.length > 0));
}

/** The options a section sets, as Prosody meets them. */
export function assignmentsIn(load: ConfigLoad, item: LoadedSection): LoadedAssignment[] {
  return load.assignments.filter((a) => a.section === item.section);
}
