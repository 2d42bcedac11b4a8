// What stands between a host and working tokens, from what the host showed
// (the probe's facts, the doctor reading) and nothing else. Pure: each finding
// names what is wrong, the evidence (file:line, a log line, a command's
// answer) and the fix, most often the jitsi-jwt command that makes it right.
import { readAutoOwner } from '../jicofo/jicofo-conf.js';
import { LUA_MODULE_PACKAGES, PLUGIN_DIR, TOKEN_LUA_MODULES, WEB_CONFIG_DIR, type DomainFile, type HostFacts, type LuaModule } from '../facts/probe.js';
import { SERVICES } from '../facts/services.js';
import { JOURNAL_FILE, describeInterruption, interruptedRun } from '../facts/run-journal.js';
import { detectServices } from '../plan/access.js';
import { jitsiDomains, type JitsiDomain } from '../plan/resolve.js';
import { lastAssignment, readModulesEnabled, readTokenConfig, sectionsNamed, type Assignment, type DomainConfig, type Section } from '../prosody/domain-config.js';
import { lineOf } from '../prosody/text-edits.js';
import { configLoad, placeOf, redeclaredSections, type LoadedSection } from '../prosody/config-files.js';
import { optionText, overrideError, tokenOverrides } from '../prosody/overrides.js';
import { ALLOWLIST, WAIT_FOR_HOST } from '../prosody/token-edit.js';
import { readAnonymousDomain } from '../web/config-js.js';
import { readStringSet } from '../prosody/access-edit.js';
import type { LogSummary } from './prosody-log.js';
import type { DoctorReading } from './script.js';

export type Severity = 'problem' | 'warning' | 'note';

export type FindingId =
  | 'config-unreadable'
  | 'token-auth-off'
  | 'token-auth-incomplete'
  | 'open-door'
  | 'domain-verification-off'
  | 'room-check-off'
  | 'muc-mapper-missing'
  | 'plugins-missing'
  | 'lua-modules'
  | 'prosody-stale'
  | 'service-down'
  | 'interrupted-run'
  | 'auto-owner'
  | 'moderators-not-from-token'
  | 'jibri-blocked'
  | 'jigasi-blocked'
  | 'jibri-no-host'
  | 'guests-half-configured'
  | 'clock-skew'
  | 'luarocks-leftover'
  | 'shadowing-lua'
  | 'domain-file-not-link'
  | 'duplicate-virtualhost'
  | 'module-load-error';

export interface Finding {
  id: FindingId;
  severity: Severity;
  /** the domain it concerns, where it concerns one */
  domain?: string;
  /** what is wrong, in one sentence */
  title: string;
  evidence: string[];
  fix: string;
}

export interface Diagnosis {
  /** the Jitsi domains looked at */
  domains: string[];
  /** most serious first */
  findings: Finding[];
  /** what was looked at, in plain words */
  checked: string[];
}

export interface DiagnoseInput {
  facts: HostFacts;
  reading: DoctorReading;
  log: LogSummary;
  /** how the fix commands name the host, e.g. deploy@meet.example.com, or --local */
  target: string;
  /** only this Jitsi domain */
  domain?: string;
  /** this machine's clock when the host's was read, seconds since the epoch */
  localNow: number;
}

/** A host clock this far off (seconds) shortens or voids tokens... */
const SKEW_WARNING = 30;
/** ...and this far, refuses them. */
const SKEW_PROBLEM = 300;

const SEVERITY_ORDER: Severity[] = ['problem', 'warning', 'note'];

const iso = (seconds: number) => new Date(Math.round(seconds) * 1000).toISOString().replace('.000Z', 'Z');

/** `file:line  statement` for an assignment. */
function at(file: DomainFile, config: DomainConfig, node: { range: [number, number] } | undefined): string {
  if (!node) return file.path;
  const text = config.text.slice(node.range[0], node.range[1]).split('\n')[0].trim();
  return `${file.path}:${lineOf(config.text, node.range[0])}  ${text}`;
}

/** `file:line  the line` for an offset in a file's text. */
function textLineAt(path: string, text: string, offset: number): string {
  if (offset < 0) return path;
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  return `${path}:${lineOf(text, offset)}  ${text.slice(start, end < 0 ? undefined : end).trim()}`;
}

/** Where a line sets `name` to `value` (not in a // comment); -1 when none does. */
function settingLine(text: string, name: string, value: string): number {
  let offset = 0;
  for (const line of text.split('\n')) {
    if (line.includes(name) && line.includes(value) && !line.trimStart().startsWith('//')) return offset;
    offset += line.length + 1;
  }
  return -1;
}

function sectionAt(file: DomainFile, config: DomainConfig, section: Section): string {
  return at(file, config, section.headerRange ? { range: section.headerRange } : undefined);
}

export function diagnose(input: DiagnoseInput): Diagnosis {
  const { facts, target } = input;
  const findings: Finding[] = [];
  const add = (finding: Finding) => findings.push(finding);
  const apply = (flags = '') => `jitsi-jwt apply ${target}${flags}`;
  const checked: string[] = [];

  let domains: JitsiDomain[] = [];
  try {
    domains = jitsiDomains(facts);
  } catch (error) {
    add({ id: 'config-unreadable', severity: 'problem', title: (error as Error).message, evidence: [], fix: (error as { hint?: string }).hint ?? 'fix the file so Prosody can read it' });
  }
  if (input.domain) domains = domains.filter((d) => d.domain.toLowerCase() === input.domain!.toLowerCase());
  checked.push(`the domain config${facts.domainFiles.length === 1 ? '' : 's'} in /etc/prosody/conf.d (${facts.domainFiles.map((f) => f.path).join(', ') || 'none'})`);

  for (const jitsi of domains) tokenChecks(jitsi, input, add, apply);
  if (domains.length > 0) checked.push('token authentication, room checks and moderators of ' + domains.map((d) => d.domain).join(', '), "Jibri's and Jigasi's access, guests");

  pluginChecks(facts, domains.some((d) => readTokenConfig(d.config, d.domain).authentication === 'token'), add, apply);
  checked.push(`Jitsi's token plugins in ${PLUGIN_DIR}`, `the Lua modules they load (${TOKEN_LUA_MODULES.join(', ')}), with Prosody's Lua as the prosody user`);

  interruptionCheck(facts, add, apply);
  serviceChecks(facts, add);
  checked.push(`the services (${SERVICES.join(', ')}) and whether Prosody runs on the current config`);

  clockCheck(input, add);
  checked.push("the host's clock");

  leftoverChecks(input, domains, add);
  checked.push(`leftovers of older installs (luarocks, /usr/local Lua modules, conf.d files), and hosts declared again in the ${configLoad(facts).files.length} file(s) Prosody reads for its config`);

  logChecks(input, add);
  checked.push(`Prosody's log since ${iso(input.log.since)} (${input.log.linesRead} token line${input.log.linesRead === 1 ? '' : 's'} in ${input.reading.logFiles.join(', ') || 'no readable log'})`);

  findings.sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
  return { domains: domains.map((d) => d.domain), findings, checked };
}

type Add = (finding: Finding) => void;
type ApplyCommand = (flags?: string) => string;

function tokenChecks({ domain, file, config }: JitsiDomain, input: DiagnoseInput, add: Add, apply: ApplyCommand): void {
  const { facts } = input;
  const reading = readTokenConfig(config, domain);
  const vh = sectionsNamed(config, 'virtualhost', domain);
  const assignment = (name: string): Assignment | undefined => lastAssignment(vh, name);
  const where = (name: string) => at(file, config, assignment(name));

  if (reading.authentication !== 'token') {
    add({
      id: 'token-auth-off',
      severity: 'problem',
      domain,
      title: `${domain} does not use token authentication (authentication is ${reading.authentication === undefined ? 'not set: Prosody logs users in with passwords' : JSON.stringify(reading.authentication)})`,
      evidence: [reading.authentication === undefined ? sectionAt(file, config, reading.virtualHost) : where('authentication')],
      fix: apply(),
    });
    return;
  }
  const keyServer = reading.asapKeyServer ?? reading.cacheKeysUrl;
  const missing = [
    typeof reading.appId === 'string' && reading.appId !== '' ? undefined : 'app_id',
    keyServer || (reading.appSecret !== undefined && reading.appSecret !== '') ? undefined : 'app_secret',
  ].filter(Boolean);
  if (missing.length > 0) {
    add({
      id: 'token-auth-incomplete',
      severity: 'problem',
      domain,
      title: `${domain} has authentication = "token" but no ${missing.join(' and ')}: Prosody cannot load token authentication and every login fails`,
      evidence: [where('authentication')],
      fix: apply(),
    });
  }
  if (reading.allowEmptyToken === true) {
    add({ id: 'open-door', severity: 'problem', domain, title: `allow_empty_token = true: clients without any token get into ${domain}`, evidence: [where('allow_empty_token')], fix: apply() });
  }
  if (reading.enableDomainVerification === false) {
    add({
      id: 'domain-verification-off',
      severity: 'warning',
      domain,
      title: "enable_domain_verification = false: a token's sub is not checked, and a client without a room claim passes the room check",
      evidence: [where('enable_domain_verification')],
      fix: apply(),
    });
  }
  const conferenceModules = reading.conferenceModules?.active ?? [];
  const roomCheck = conferenceModules.includes('token_verification');
  if (reading.conference && !roomCheck) {
    add({
      id: 'room-check-off',
      severity: 'warning',
      domain,
      title: `token_verification is not enabled on ${reading.conference.name}: tokens are checked at login only, so a token for one room opens every room`,
      evidence: [sectionAt(file, config, reading.conference)],
      fix: apply(),
    });
  }
  if (reading.mucMapperDomainBase === undefined) {
    add({
      id: 'muc-mapper-missing',
      severity: 'problem',
      domain,
      title: "muc_mapper_domain_base is not set: room checks cannot tell which domain a room belongs to and refuse the joins",
      evidence: [file.path],
      fix: apply(),
    });
  }

  moderatorChecks(domain, facts, conferenceModules, add, apply);
  if (roomCheck) accessChecks({ domain, file, config }, reading.conference!, facts, add, apply);
  guestChecks({ domain, file, config }, reading.conference, roomCheck, facts, add, apply);
}

function moderatorChecks(domain: string, facts: HostFacts, conferenceModules: string[], add: Add, apply: ApplyCommand): void {
  if (!conferenceModules.includes('token_affiliation')) {
    add({
      id: 'moderators-not-from-token',
      severity: 'note',
      domain,
      title: "moderator rights do not come from the token (token_affiliation is off): Jicofo makes the first to join a room its moderator, whatever the token says",
      evidence: [],
      fix: apply(' --moderator-from-token'),
    });
    return;
  }
  const autoOwner = facts.jicofoConf === undefined ? undefined : readAutoOwner(facts.jicofoConf);
  if (facts.jicofoConf !== undefined && autoOwner !== false) {
    add({
      id: 'auto-owner',
      severity: 'warning',
      domain,
      title: "Jicofo's enable-auto-owner is on while token_affiliation decides: the first to join each room becomes moderator even when the token says member",
      evidence: [autoOwner === true ? `/etc/jitsi/jicofo/jicofo.conf  enable-auto-owner = true` : '/etc/jitsi/jicofo/jicofo.conf does not set enable-auto-owner (Jicofo\'s default is true)'],
      fix: apply(' --moderator-from-token'),
    });
  }
}

function accessChecks({ domain, file, config }: JitsiDomain, conference: Section, facts: HostFacts, add: Add, apply: ApplyCommand): void {
  const conf = sectionsNamed(config, 'component', conference.name!);
  const listed = (readStringSet(conf, ALLOWLIST) ?? []).map((e) => e.toLowerCase());
  const allowlistAt = lastAssignment(conf, ALLOWLIST);
  const { identities, warnings } = detectServices(facts, config, domain);
  for (const identity of identities) {
    if (listed.includes(identity.entry.toLowerCase())) continue;
    const what = identity.kind === 'jibri' ? 'recording and live streaming' : 'SIP dial-in and transcription';
    add({
      id: identity.kind === 'jibri' ? 'jibri-blocked' : 'jigasi-blocked',
      severity: 'problem',
      domain,
      title: `${identity.kind === 'jibri' ? 'Jibri' : 'Jigasi'} cannot join rooms: ${identity.entry} is not in ${ALLOWLIST}, so the room check refuses it (no token) and ${what} fail`,
      evidence: [identity.reason, allowlistAt ? at(file, config, allowlistAt) : `${sectionAt(file, config, conference)}  (no ${ALLOWLIST})`],
      fix: apply(),
    });
  }
  for (const warning of warnings.filter((w) => w.startsWith('jibri'))) {
    add({ id: 'jibri-no-host', severity: 'warning', domain, title: warning, evidence: [`package jibri ${facts.packages.jibri?.version ?? ''}`.trim()], fix: apply(' --allow-without-token DOMAIN') });
  }
}

function guestChecks({ domain, file, config }: JitsiDomain, conference: Section | undefined, roomCheck: boolean, facts: HostFacts, add: Add, apply: ApplyCommand): void {
  const webPath = `${WEB_CONFIG_DIR}/${domain}-config.js`;
  const web = facts.webConfigs.find((w) => w.path === webPath);
  let anonymous: string | undefined;
  try {
    anonymous = web ? readAnonymousDomain(web.text, web.path) : undefined;
  } catch {
    anonymous = undefined;
  }
  const guestDomain = anonymous ?? `guest.${domain}`;
  const guestHost = sectionsNamed(config, 'virtualhost', guestDomain).filter((s) => s.enabled);
  const half = (title: string, severity: Severity, evidence: string[]) =>
    add({ id: 'guests-half-configured', severity, domain, title, evidence, fix: `${apply(' --guests')}  (or ${apply(' --no-guests')} to end guest access)` });
  const webLine = web && anonymous ? textLineAt(web.path, web.text, settingLine(web.text, 'anonymousdomain', anonymous)) : webPath;

  if (anonymous && guestHost.length === 0) {
    half(`the web client sends guests to ${anonymous}, but Prosody has no VirtualHost "${anonymous}": guests cannot log in`, 'problem', [webLine]);
    return;
  }
  if (!anonymous && guestHost.length > 0 && web) {
    half(`VirtualHost "${guestDomain}" is there, but ${webPath} sets no anonymousdomain: the web client never logs guests in there`, 'warning', [sectionAt(file, config, guestHost[0])]);
    return;
  }
  if (!anonymous || guestHost.length === 0 || !conference || !roomCheck) return;
  const conf = sectionsNamed(config, 'component', conference.name!);
  if (!(readStringSet(conf, ALLOWLIST) ?? []).some((e) => e.toLowerCase() === guestDomain.toLowerCase())) {
    half(`guests log in on ${guestDomain}, but it is not in ${ALLOWLIST}: the room check refuses every guest`, 'problem', [webLine, sectionAt(file, config, guestHost[0])]);
  }
  if (!readModulesEnabled(conf).active.includes(WAIT_FOR_HOST)) {
    half(`guests log in on ${guestDomain} without ${WAIT_FOR_HOST}: they do not wait for a token holder`, 'warning', [webLine, sectionAt(file, config, conference)]);
  }
}

function pluginChecks(facts: HostFacts, tokensOn: boolean, add: Add, apply: ApplyCommand): void {
  const present = new Set(facts.plugins.present);
  const missing = ['mod_auth_token.lua', 'mod_token_verification.lua', 'token'].filter((p) => !present.has(p));
  if (missing.length > 0) {
    add({
      id: 'plugins-missing',
      severity: 'problem',
      title: `Jitsi's token plugins are missing from ${PLUGIN_DIR}: ${missing.join(', ')}`,
      evidence: [facts.packages['jitsi-meet-prosody']?.installed ? `jitsi-meet-prosody ${facts.packages['jitsi-meet-prosody'].version ?? ''} is installed` : 'jitsi-meet-prosody is not installed'],
      fix: 'install (or reinstall) jitsi-meet-prosody: apt-get install --reinstall jitsi-meet-prosody',
    });
  }
  const failing = TOKEN_LUA_MODULES.filter((m) => !facts.luaModules[m]);
  if (failing.length === 0) return;
  const errors = facts.luaErrors ?? {};
  add({
    id: 'lua-modules',
    // Before the switch to tokens, the libraries are merely not installed yet.
    severity: tokensOn ? 'problem' : 'note',
    title: `the token plugins cannot load: Prosody's Lua${facts.prosody.lua ? ` (${facts.prosody.lua})` : ''} does not find ${failing.join(', ')}`,
    evidence: failing.map((m) => `require "${m}" as the prosody user: ${errors[m]?.replace(/:$/, '') ?? 'fails'}`),
    fix: `${apply()}  (installs ${[...new Set(failing.map((m) => LUA_MODULE_PACKAGES[m as LuaModule]))].join(', ')} and links them for Prosody's Lua)`,
  });
}

function interruptionCheck(facts: HostFacts, add: Add, apply: () => string): void {
  const journal = interruptedRun(facts.runJournal);
  if (!journal) return;
  add({
    id: 'interrupted-run',
    severity: 'problem',
    title: `${describeInterruption(journal)}: the host may be between its old and its new state${journal.newSecret ? ', on an app_secret nobody received' : ''}`,
    evidence: [`${JOURNAL_FILE}: step ${journal.step}, backup ${journal.backup}`],
    fix: `finish it: ${apply()}${journal.newSecret ? ' --secret-out FILE (hands out the secret the host has)' : ''}; or put the previous state back: jitsi-jwt restore HOST --backup ${journal.backup.split('/').pop()}`,
  });
}

function serviceChecks(facts: HostFacts, add: Add): void {
  const restart = (services: string) => (facts.init === 'systemd' ? `systemctl restart ${services}` : services.split(' ').map((s) => `service ${s} restart`).join('; '));
  for (const name of SERVICES) {
    const state = facts.services[name];
    if (!state.installed || state.processes.length > 0) continue;
    add({
      id: 'service-down',
      severity: 'problem',
      title: `${name} is not running`,
      evidence: [facts.init === 'systemd' ? `no live process in the cgroup of ${name}.service (a unit can say "active (exited)" with its daemon gone)` : `no live process of ${name}'s pidfile`],
      // systemctl start does nothing to a unit that still counts as active with its daemon gone.
      fix: `restart it (${facts.init === 'systemd' ? `systemctl restart ${name}` : `service ${name} restart`}) and read its log if it stops again`,
    });
  }
  const started = facts.services.prosody.startedAt;
  if (started === undefined) return;
  const changed = facts.domainFiles.filter((f) => f.mtime > started + 1);
  if (changed.length === 0) return;
  add({
    id: 'prosody-stale',
    severity: 'problem',
    title: 'Prosody runs on an older config: the domain config changed after it started, and Prosody reads app_secret and the token options only at start',
    evidence: [`Prosody running since ${iso(started)}`, ...changed.map((f) => `${f.path} changed at ${iso(f.mtime)}`)],
    fix: `${restart('prosody jicofo jitsi-videobridge2')} (Prosody first)`,
  });
}

function clockCheck(input: DiagnoseInput, add: Add): void {
  const clock = input.facts.clock;
  if (!clock) return;
  const skew = clock.now - input.localNow;
  if (Math.abs(skew) < SKEW_WARNING) return;
  add({
    id: 'clock-skew',
    severity: Math.abs(skew) >= SKEW_PROBLEM ? 'problem' : 'warning',
    title: `the host's clock is ${Math.round(Math.abs(skew))} s ${skew > 0 ? 'ahead of' : 'behind'} this machine's: Prosody checks a token's exp and nbf against the host's clock, so tokens ${skew > 0 ? 'expire early there' : 'are not valid yet there'}`,
    evidence: [`host: ${iso(clock.now)}, here: ${iso(input.localNow)}`],
    fix: 'keep the host\'s clock in sync (systemd-timesyncd or chrony), or this machine\'s if it is the one that is off',
  });
}

function leftoverChecks(input: DiagnoseInput, domains: JitsiDomain[], add: Add): void {
  const { facts, reading } = input;
  if (reading.luarocksJwt.length > 0) {
    add({
      id: 'luarocks-leftover',
      severity: 'warning',
      title: "luarocks' luajwtjitsi is installed: the token plugins ship their own copy, and the old rock can shadow it after an upgrade",
      evidence: reading.luarocksJwt,
      fix: 'luarocks remove luajwtjitsi',
    });
  }
  if (reading.localLua.length > 0) {
    add({
      id: 'shadowing-lua',
      severity: 'warning',
      title: "Lua modules under /usr/local are found before Debian's packages: Prosody loads these copies, whatever version apt installs",
      evidence: reading.localLua,
      fix: `remove them (luarocks remove NAME, or rm ${reading.localLua.join(' ')}); jitsi-jwt apply ${input.target} installs Debian's packages where they are missing`,
    });
  }
  // Only the files of Jitsi's domains are links jitsi-meet-prosody made; an operator's own conf.d file is just a file.
  for (const file of new Set(domains.map((d) => d.file))) {
    if (file.link !== file.path) continue;
    add({
      id: 'domain-file-not-link',
      severity: 'warning',
      title: `${file.link} is a file, not the link to /etc/prosody/conf.avail/ that jitsi-meet-prosody made: package upgrades change the file in conf.avail, which Prosody does not read`,
      evidence: [`${file.link} (a regular file)`],
      fix: `keep one copy: move it to /etc/prosody/conf.avail/ and link it back (ln -s /etc/prosody/conf.avail/${file.link.split('/').pop()} ${file.link})`,
    });
  }
  // Named as a run names it: the target, or "local" on this machine.
  redeclarationChecks(facts, domains, input.target === '--local' ? 'local' : input.target, add);
}

/**
 * Hosts and components declared again in the files Prosody reads: a problem
 * where a later declaration replaces what jitsi-jwt writes for a Jitsi domain
 * (plan and apply refuse the host with the same text), a warning otherwise.
 */
function redeclarationChecks(facts: HostFacts, domains: JitsiDomain[], target: string, add: Add): void {
  const load = configLoad(facts);
  const redeclared = redeclaredSections(load);
  const header = (d: LoadedSection) => `${placeOf(d, d.section.headerRange!)}  ${d.config.text.slice(...d.section.headerRange!).trim()}`;
  const reported = new Set<LoadedSection>();
  for (const { file, domain } of domains) {
    const found = tokenOverrides(load, file, domain);
    if (found.length === 0) continue;
    const error = overrideError(found, file, target);
    const declarations = redeclared.filter((r) => found.some((f) => r.declarations.includes(f.declaration))).flatMap((r) => r.declarations);
    declarations.forEach((d) => reported.add(d));
    add({
      id: 'duplicate-virtualhost',
      severity: 'problem',
      domain,
      title: error.message,
      evidence: [...declarations.map(header), ...found.flatMap((f) => f.options).map((a) => `${placeOf(a, a.assignment.range)}  ${optionText(a)}`)],
      fix: error.hint,
    });
  }
  for (const { kind, name, declarations } of redeclared) {
    if (declarations.some((d) => reported.has(d))) continue;
    add({
      id: 'duplicate-virtualhost',
      severity: 'warning',
      title: `${kind === 'virtualhost' ? 'VirtualHost' : 'Component'} "${name}" is declared ${declarations.length} times: Prosody merges them, and the later one's options win`,
      evidence: declarations.map(header),
      fix: 'keep one declaration and move its options there',
    });
  }
}

function logChecks(input: DiagnoseInput, add: Add): void {
  // The log has whole seconds; the start time hundredths: a load error in Prosody's first second counts.
  const started = Math.floor(input.facts.services.prosody.startedAt ?? 0);
  for (const group of input.log.groups) {
    if (group.kind !== 'module-load' || group.last < started) continue;
    add({
      id: 'module-load-error',
      severity: 'problem',
      title: `Prosody could not load ${group.module ? `the module ${group.module}` : 'a module'} since it last started (${group.count} time${group.count === 1 ? '' : 's'})`,
      evidence: [`${iso(group.last)}  ${group.sample}`],
      fix: `jitsi-jwt apply ${input.target} when it is a token module whose Lua libraries are missing; otherwise the module's own package`,
    });
  }
}
