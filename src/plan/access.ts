// Who joins a token-secured domain without a token, decided from what the
// host runs: Jibri's recorder domain, Jigasi's account domain, the operator's
// own entries, and guests (who wait for a token holder). Pure: facts and the
// parsed domain config in, the wanted allowlist and lobby whitelist, the guest
// setup and plain-words reasons out.
import { HostStateError, SettingsError } from '../errors.js';
import { findComponent, findConferenceComponent, lastAssignment, parseDomainConfig, readModulesEnabled, sectionsNamed, type DomainConfig } from '../prosody/domain-config.js';
import type { Plan, TokenlessIdentity } from './changes.js';
import type { AccessExpectations } from '../smoke/smoke.js';
import { ALLOWLIST, LOBBY_ROOMS, WAIT_FOR_HOST, PERSISTENT_LOBBY, type GuestSettings } from '../prosody/token-edit.js';
import type { SetWish } from '../prosody/access-edit.js';
import type { HostFacts } from '../facts/probe.js';
import type { ResolvedSettings } from './resolve.js';


export interface AccessPlan {
  /** who gets in without a token once the plan is applied (with room checks) */
  identities: TokenlessIdentity[];
  allowlist?: SetWish;
  lobbyWhitelist?: SetWish;
  guests?: GuestSettings;
  /** the guest domain, when guests are on after the plan */
  guestDomain?: string;
  warnings: string[];
}

const GUEST_PLUGINS = [`mod_${WAIT_FOR_HOST}.lua`, `mod_${PERSISTENT_LOBBY}.lua`, `mod_${LOBBY_ROOMS}.lua`];

const hostOf = (jid: string) => jid.slice(jid.lastIndexOf('@') + 1).toLowerCase();
const userOf = (jid: string) => (jid.includes('@') ? jid.slice(0, jid.lastIndexOf('@')).toLowerCase() : undefined);

function accountsOn(facts: HostFacts, host: string): string[] {
  const found = Object.entries(facts.accounts ?? {}).find(([name]) => name.toLowerCase() === host.toLowerCase());
  return found ? found[1] : [];
}

function enabledVirtualHost(config: DomainConfig, name: string): boolean {
  const sections = sectionsNamed(config, 'virtualhost', name);
  return sections.length > 0 && sections.every((s) => s.enabled);
}

/** Jibri and Jigasi as the host shows them. */
export function detectServices(facts: HostFacts, config: DomainConfig, domain: string): { identities: TokenlessIdentity[]; warnings: string[] } {
  const identities: TokenlessIdentity[] = [];
  const warnings: string[] = [];
  const installed = (pkg: string) => facts.packages[pkg]?.installed === true;

  const recorder = `recorder.${domain}`;
  if (enabledVirtualHost(config, recorder)) {
    const accounts = accountsOn(facts, recorder);
    const who = [
      installed('jibri') ? 'jibri is installed here' : undefined,
      accounts.includes('recorder') ? `account recorder@${recorder}` : undefined,
      accounts.includes('transcriber') ? `Jigasi's transcriber account transcriber@${recorder}` : undefined,
    ].filter(Boolean);
    identities.push({
      kind: 'jibri',
      entry: recorder,
      reason: `Jibri (recording, streaming) logs in on the hidden VirtualHost "${recorder}" of the domain config${who.length ? ` (${who.join('; ')})` : ''}`,
      lobby: true,
    });
  } else if (installed('jibri')) {
    warnings.push(`jibri is installed, but the domain config has no VirtualHost "${recorder}" for it to log in on: recording joins without a token only from a domain in ${ALLOWLIST}; add it with --allow-without-token`);
  }

  const accountHost = `auth.${domain}`;
  const configured = facts.jigasiUser && facts.jigasiUser.includes('@') ? facts.jigasiUser.toLowerCase() : undefined;
  const jigasiHost = configured ? hostOf(configured) : accountHost;
  const evidence = [
    installed('jigasi') ? 'jigasi is installed here' : undefined,
    configured ? `its config logs in as ${configured}` : undefined,
    !configured && accountsOn(facts, accountHost).includes('jigasi') ? `account jigasi@${accountHost}` : undefined,
  ].filter(Boolean);
  if (evidence.length > 0) {
    if (jigasiHost === domain.toLowerCase()) {
      warnings.push(`Jigasi logs in on ${domain} itself (${configured}), where every session needs a token: give it an account on ${accountHost} (as Jitsi's packages do) so it can be let in without one`);
    } else {
      identities.push({
        kind: 'jigasi',
        entry: jigasiHost,
        reason: `Jigasi (SIP dial-in, transcription) logs in on ${jigasiHost} (${evidence.join('; ')}); only the accounts of Jitsi's own components live there`,
        lobby: true,
      });
    }
  }
  return { identities, warnings };
}

/** Whether guests are set up in this config now (the guest VirtualHost and muc_wait_for_host). */
export function guestsEnabled(config: DomainConfig, conference: string | undefined, domain: string): boolean {
  const waiting = conference ? readModulesEnabled(sectionsNamed(config, 'component', conference)).active.includes(WAIT_FOR_HOST) : false;
  return waiting && enabledVirtualHost(config, `guest.${domain}`);
}

export function planAccess(facts: HostFacts, config: DomainConfig, settings: ResolvedSettings, conference: string | undefined): AccessPlan {
  const { domain } = settings;
  const guestDomain = `guest.${domain}`;
  const { identities, warnings } = detectServices(facts, config, domain);

  for (const entry of settings.allowWithoutToken ?? []) {
    if (hostOf(entry) === domain.toLowerCase() && userOf(entry) === undefined) {
      throw new SettingsError(
        `--allow-without-token ${entry} is the domain the tokens are for: every client there would skip the room check`,
        `name the domain or account that should join without a token (e.g. recorder.${domain}, or jigasi@auth.${domain})`,
      );
    }
    const known = identities.find((i) => i.entry === entry);
    if (known) continue;
    identities.push({ kind: 'named', entry, reason: 'named with --allow-without-token', lobby: true });
  }

  const vh = sectionsNamed(config, 'virtualhost', domain);
  const modules = readModulesEnabled(vh).active;
  // A "secure domain" server's guests (password accounts on the domain, anonymous guests on
  // guest.<domain>) keep getting in after the switch: they wait for a token holder.
  let wanted = settings.guests;
  const auth = lastAssignment(vh, 'authentication')?.value;
  if (wanted === undefined && !settings.accessUnchanged && (auth === 'internal_hashed' || auth === 'internal_plain') && enabledVirtualHost(config, guestDomain)) {
    wanted = true;
    warnings.push(`this secure domain's guests log in on ${guestDomain}: they keep getting in, now once a token holder is in the room (muc_wait_for_host); --no-guests shuts them out instead`);
  }
  const guestsOn = wanted ?? guestsEnabled(config, conference, domain);
  let guests: GuestSettings | undefined;
  if (wanted !== undefined) {
    if (wanted) {
      requireGuestPrerequisites(facts, config, domain);
      const moderatorFromToken = settings.moderatorFromToken
        ?? (conference ? readModulesEnabled(sectionsNamed(config, 'component', conference)).active.includes('token_affiliation') : false);
      guests = { domain: guestDomain, enable: true, disableAutoOwners: moderatorFromToken };
    } else {
      guests = { domain: guestDomain, enable: false, disableAutoOwners: false };
    }
  }
  if (guestsOn) {
    identities.push({ kind: 'guests', entry: guestDomain, reason: `guests log in anonymously on ${guestDomain} and wait until a token holder is in the room`, lobby: false });
  }

  if (settings.accessUnchanged) return { identities: settings.roomCheck ? identities : [], guestDomain: guestsOn ? guestDomain : undefined, warnings };
  const add = settings.roomCheck ? identities.map((i) => i.entry) : [];
  const remove = wanted === false ? [guestDomain] : [];
  const lobbyOn = modules.includes(LOBBY_ROOMS) || wanted === true;
  return {
    identities: settings.roomCheck ? identities : [],
    allowlist: add.length > 0 || remove.length > 0 ? { add, remove } : undefined,
    lobbyWhitelist: lobbyOn ? { add: identities.filter((i) => i.lobby).map((i) => i.entry), remove: [] } : undefined,
    guests,
    guestDomain: guestsOn ? guestDomain : undefined,
    warnings,
  };
}

/** What muc_wait_for_host needs: Jitsi's plugins for it, and the lobby the guests wait in. */
function requireGuestPrerequisites(facts: HostFacts, config: DomainConfig, domain: string): void {
  const present = new Set(facts.plugins.present);
  const missing = GUEST_PLUGINS.filter((p) => !present.has(p));
  if (missing.length > 0) {
    throw new HostStateError(
      `this server's Jitsi plugins lack ${missing.join(', ')} (in ${facts.plugins.dir}), which guests waiting for a host need`,
      'upgrade jitsi-meet-prosody to a release with muc_wait_for_host and persistent_lobby, or leave out --guests',
    );
  }
  // persistent_lobby reads lobby_muc; muc_wait_for_host looks for lobby.<muc_mapper_domain_base> itself.
  const vh = sectionsNamed(config, 'virtualhost', domain);
  const lobby = lastAssignment(vh, 'lobby_muc')?.value;
  const expected = `lobby.${domain}`;
  const problem = typeof lobby !== 'string'
    ? 'has no lobby_muc'
    : lobby.toLowerCase() !== expected
      ? `has lobby_muc = "${lobby}", but muc_wait_for_host only uses "${expected}"`
      : !findComponent(config, expected, 'muc') ? `has no Component "${expected}" "muc"` : undefined;
  if (problem) {
    throw new HostStateError(
      `guests wait in a lobby, but VirtualHost "${domain}" ${problem} in ${config.fileName}`,
      `restore the lobby of Jitsi's stock file (lobby_muc = "${expected}" and its Component "${expected}" "muc"), or leave out --guests`,
    );
  }
}

/** A VirtualHost whose accounts log in with a password (Prosody's default authentication is internal_hashed). */
function passwordHost(config: DomainConfig, name: string): boolean {
  const sections = sectionsNamed(config, 'virtualhost', name);
  if (sections.length === 0 || !sections.every((s) => s.enabled)) return false;
  const auth = lastAssignment(sections, 'authentication')?.value ?? 'internal_hashed';
  return auth === 'internal_hashed' || auth === 'internal_plain';
}

/**
 * What the smoke test proves beyond tokens on a domain configured as `config`
 * says: Jibri's and Jigasi's domains let an account of theirs in without a
 * token (an account made for the test), and guests wait for a host.
 */
export function accessToProve(facts: HostFacts, config: DomainConfig, domain: string): AccessExpectations {
  const conference = findConferenceComponent(config, domain);
  const services = detectServices(facts, config, domain).identities
    .filter((i) => !i.entry.includes('@') && passwordHost(config, i.entry))
    .map((i) => ({ name: i.kind === 'jibri' ? 'jibri account' as const : 'jigasi account' as const, domain: i.entry }));
  const guests = guestsEnabled(config, conference?.name, domain);
  const passwords = Object.entries(facts.accountCounts ?? {}).some(([host, n]) => host.toLowerCase() === domain.toLowerCase() && n > 0);
  return {
    ...(services.length > 0 ? { serviceAccounts: services } : {}),
    ...(guests ? { guestDomain: `guest.${domain}` } : {}),
    ...(passwords ? { passwordAccounts: true } : {}),
  };
}

/** accessToProve on the domain config as the plan leaves it. */
export function accessAfterPlan(facts: HostFacts, plan: Plan): AccessExpectations {
  const text = plan.files.find((f) => f.path === plan.configPath)?.after ?? facts.domainFiles.find((d) => d.path === plan.configPath)?.text;
  return text === undefined ? {} : accessToProve(facts, parseDomainConfig(text, plan.configPath), plan.domain);
}

/** The number of password accounts of a domain that logs users in with passwords (a "secure domain"); undefined when it does not. */
export function passwordLogins(facts: HostFacts, config: DomainConfig, domain: string): number | undefined {
  const auth = lastAssignment(sectionsNamed(config, 'virtualhost', domain), 'authentication')?.value;
  if (auth !== 'internal_hashed' && auth !== 'internal_plain') return undefined;
  const entry = Object.entries(facts.accountCounts ?? {}).find(([host]) => host.toLowerCase() === domain.toLowerCase());
  return entry ? entry[1] : 0;
}
