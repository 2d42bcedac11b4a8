// Pure planning: what the host has (facts) and what the user wants (settings)
// in, the changes still needed out. No I/O. An empty plan means converged.
import { createTwoFilesPatch } from 'diff';
import { LUA_MODULE_PACKAGES, TOKEN_LUA_MODULES, WEB_CONFIG_DIR, type DomainFile, type HostFacts } from '../facts/probe.js';
import { SERVICES } from '../facts/services.js';
import { HostStateError } from '../errors.js';
import { describeInterruption, interruptedRun } from '../facts/run-journal.js';
import { editForTokenAuth } from '../prosody/token-edit.js';
import { setAutoOwner, setJicofoAuthentication } from '../jicofo/jicofo-conf.js';
import { findConferenceComponent, lastAssignment, parseDomainConfig, readTokenConfig, type DomainConfig } from '../prosody/domain-config.js';
import { requireNoTokenOverrides } from '../prosody/overrides.js';
import { configLoad, configuredHttpAddress } from '../prosody/config-files.js';
import { editAnonymousDomain } from '../web/config-js.js';
import { fingerprint } from '../token/keys.js';
import { passwordLogins, planAccess } from './access.js';
import { describeKeys, isCutOver, keyDir, keyFileChanges, keyPublisher, type KeySettings } from './keys.js';
import type { PublicKeySettings } from '../prosody/token-edit.js';

export const JICOFO_CONF = '/etc/jitsi/jicofo/jicofo.conf';
import type { ResolvedSettings } from './resolve.js';
import type { FileChange, LinkChange, Plan } from './changes.js';

const STALE_MARGIN_SECONDS = 0.25;
export const CONFIG_MODE = '640';
export const CONFIG_OWNER = 'root';
export const CONFIG_GROUP = 'prosody';

/** Lua modules Debian ships only for an older Lua than Prosody runs on: linked under /usr/local/share/lua. */
export const PURE_LUA_MODULES = ['basexx', 'inspect'] as const;

function luaVersion(facts: HostFacts): string | undefined {
  return /^lua(5\.\d)$/.exec(facts.prosody.lua ?? '')?.[1];
}

/** `host`: how refusals name the host (e.g. deploy@meet.example.com:22). */
export function planTokenAuth(facts: HostFacts, settings: ResolvedSettings, domainFile: DomainFile, host?: string): Plan {
  const warnings: string[] = [];
  const present = new Set(facts.plugins.present);
  if (!present.has('mod_auth_token.lua')) {
    throw new HostStateError(
      `Jitsi's token plugin (mod_auth_token.lua) is not in ${facts.plugins.dir}`,
      'install or upgrade jitsi-meet-prosody, which ships the token plugins, then run again',
    );
  }
  if (settings.roomCheck && !present.has('mod_token_verification.lua')) {
    throw new HostStateError(`mod_token_verification.lua is not in ${facts.plugins.dir}, so room checks cannot be enabled`, 'upgrade jitsi-meet-prosody, or pass --no-room-check');
  }

  const config = parseDomainConfig(domainFile.text, domainFile.path);
  requireNoTokenOverrides(facts, domainFile, settings.domain, host);
  warnings.push(...startingPointNotes(config, settings.domain, domainFile));
  warnings.push(...sharedGlobalNotes(facts, domainFile, settings.domain));
  const passwordAccounts = passwordLogins(facts, config, settings.domain);
  if (passwordAccounts !== undefined) {
    warnings.push(
      `VirtualHost "${settings.domain}" logs users in with passwords (a "secure domain", ${passwordAccounts} account${passwordAccounts === 1 ? '' : 's'}): ` +
        'with token authentication none of them can log in any more; only tokens (and the identities below) get in',
    );
  }
  const access = planAccess(facts, config, settings, findConferenceComponent(config, settings.domain)?.name);
  warnings.push(...access.warnings);
  const publicKeys = publicKeySettings(facts, settings.keys, settings.domain);
  const edit = editForTokenAuth(domainFile.text, {
    domain: settings.domain,
    appId: settings.appId,
    appSecret: settings.appSecret,
    allowEmptyToken: settings.allowEmptyToken,
    enableDomainVerification: true,
    issuers: settings.issuers,
    audiences: settings.audiences,
    roomCheck: settings.roomCheck,
    moderatorFromToken: settings.moderatorFromToken,
    allowlist: access.allowlist,
    lobbyWhitelist: access.lobbyWhitelist,
    guests: access.guests,
    publicKeys,
  }, domainFile.path);
  warnings.push(...(edit.warnings ?? []));
  const contentChanged = edit.text !== domainFile.text;
  const modeChanged = domainFile.mode !== CONFIG_MODE;
  const ownerChanged = domainFile.owner !== CONFIG_OWNER || domainFile.group !== CONFIG_GROUP;
  const files: FileChange[] = [];
  if (contentChanged || modeChanged || ownerChanged) {
    files.push({
      path: domainFile.path,
      purpose: [
        `token authentication for ${settings.domain}`,
        ...(edit.edits.some((e) => /allowlist|lobby_whitelist/.test(e.description)) ? ['who joins without a token'] : []),
        ...(access.guests && edit.edits.some((e) => /guest|muc_wait_for_host|persistent_lobby/.test(e.description)) ? [access.guests.enable ? 'guests wait for a host' : 'no more guests'] : []),
      ].join('; '),
      before: domainFile.text,
      after: edit.text,
      diff: unifiedDiff(domainFile.path, domainFile.text, edit.text),
      mode: { from: domainFile.mode, to: CONFIG_MODE },
      owner: { from: `${domainFile.owner}:${domainFile.group}`, to: `${CONFIG_OWNER}:${CONFIG_GROUP}` },
    });
  }
  let jicofoChanged = false;
  if (settings.moderatorFromToken) {
    if (!present.has('mod_token_affiliation.lua')) {
      throw new HostStateError(
        `this server's Jitsi plugins have no mod_token_affiliation.lua (older jitsi-meet-prosody), so moderators cannot come from the token`,
        'upgrade jitsi-meet-prosody, or leave out --moderator-from-token',
      );
    }
    if (facts.jicofoConf === undefined) {
      throw new HostStateError(`${JICOFO_CONF} is missing, so Jicofo cannot be told to stop making the first joiner moderator`, 'install jicofo, or leave out --moderator-from-token');
    }
  }
  if (facts.jicofoConf !== undefined) {
    const purposes: string[] = [];
    let after = facts.jicofoConf;
    if (settings.moderatorFromToken) {
      after = setAutoOwner(after, false);
      if (after !== facts.jicofoConf) purposes.push('Jicofo stops making the first joiner moderator (the token decides)');
    }
    // The secure domain guide's login check in Jicofo: with tokens it must be off (Jitsi's handbook).
    const beforeAuth = after;
    after = setJicofoAuthentication(after, false);
    if (after !== beforeAuth) purposes.push("Jicofo's own login check off: with tokens Prosody decides who gets in");
    if (after !== facts.jicofoConf) {
      jicofoChanged = true;
      files.push({ path: JICOFO_CONF, purpose: purposes.join('; '), before: facts.jicofoConf, after, diff: unifiedDiff(JICOFO_CONF, facts.jicofoConf, after) });
    }
  }

  if (access.guests) {
    // The web client learns the guest domain from config.js (anonymousdomain); nothing restarts for it.
    const path = `${WEB_CONFIG_DIR}/${settings.domain}-config.js`;
    const web = facts.webConfigs.find((w) => w.path === path);
    if (web) {
      const after = editAnonymousDomain(web.text, access.guests.enable ? access.guests.domain : undefined, path);
      warnings.push(...after.warnings);
      if (after.text !== web.text) {
        files.push({
          path,
          purpose: access.guests.enable ? `the web client logs guests in on ${access.guests.domain}` : 'the web client no longer offers guest login',
          before: web.text,
          after: after.text,
          diff: unifiedDiff(path, web.text, after.text),
        });
      }
    } else if (access.guests.enable) {
      warnings.push(`there is no ${path} here (the web front end may run elsewhere): set anonymousdomain: '${access.guests.domain}' in the hosts section of its config.js`);
    }
  }

  // jitsi-meet-tokens' answers describe a shared secret; with public keys they are left as they are.
  const debconf = settings.keys.mode === 'secret' ? tokensDebconf(facts, settings.appId, settings.appSecret) : undefined;

  const keyFiles = planKeyFiles(facts, settings);
  files.push(...keyFiles.files);

  const packages = [
    ...new Set(
      TOKEN_LUA_MODULES.filter((m) => !facts.luaModules[m])
        .map((m) => LUA_MODULE_PACKAGES[m])
        .filter((pkg) => !facts.packages[pkg]?.installed),
    ),
  ];

  // Debian packages basexx for Lua <= 5.2 and inspect for <= 5.3 only.
  const version = luaVersion(facts);
  const links: LinkChange[] = [];
  if (version && Number(version.split('.')[1]) >= 3) {
    for (const module of PURE_LUA_MODULES) {
      if (facts.luaModules[module]) continue;
      links.push({
        path: `/usr/local/share/lua/${version}/${module}.lua`,
        module: `${module}.lua`,
        reason: `Debian's ${LUA_MODULE_PACKAGES[module]} has no copy for Lua ${version}, which Prosody runs on`,
      });
    }
  } else if (!version) {
    warnings.push(`could not tell which Lua Prosody runs on (${facts.prosody.lua ?? 'no /usr/bin/prosody'}); Lua modules are checked after install`);
  }

  const restartReasons: string[] = [];
  if (contentChanged) restartReasons.push('the domain config changes (Prosody reads its token options only at start)');
  if (keyFiles.restartReason) restartReasons.push(keyFiles.restartReason);
  if (jicofoChanged) restartReasons.push("jicofo.conf changes");
  if (packages.length > 0 || links.length > 0) restartReasons.push('the token plugins need the new Lua libraries loaded');
  const prosody = facts.services.prosody;
  // Both times are exact to a hundredth of a second (process start, file mtime): a
  // restart always follows the write, and the margin absorbs the clock ticks.
  if (!contentChanged && prosody.startedAt !== undefined && prosody.startedAt + STALE_MARGIN_SECONDS < domainFile.mtime) {
    restartReasons.push('Prosody is still running on a config older than the file (an earlier run did not finish restarting)');
  }
  if (prosody.installed && prosody.processes.length === 0) {
    restartReasons.push('Prosody is not running (apply starts it)');
    warnings.push(prosodyDownNote(facts));
  }
  const interrupted = interruptedRun(facts.runJournal);
  if (interrupted) {
    warnings.push(`${describeInterruption(interrupted)}; its backup of the previous state is ${interrupted.backup}. This run finishes it; \`jitsi-jwt restore\` with --backup ${interrupted.backup.split('/').pop()} puts that state back instead`);
    // The services may have been cut off mid-restart: they restart on the config as it now is, and the smoke test proves it.
    restartReasons.push(`an earlier run was interrupted at its ${interrupted.step} step`);
  }
  // A component that died (jicofo's unit stays "active (exited)" then) restarts on its own when nothing else needs a restart.
  const down = SERVICES.filter((s) => s !== 'prosody' && facts.services[s].installed && facts.services[s].processes.length === 0);
  const restarts = restartReasons.length > 0 ? SERVICES.filter((s) => facts.services[s].installed) : down;
  for (const service of down) restartReasons.push(`${service} is not running`);
  for (const service of SERVICES) {
    if (restarts.length > 0 && !facts.services[service].installed) warnings.push(`${service} is not installed here; it is not restarted`);
  }

  return {
    domain: settings.domain,
    appId: settings.appId,
    secretSource: settings.secretSource,
    configPath: domainFile.path,
    files,
    packages,
    links,
    restarts,
    restartReasons,
    warnings,
    access: { identities: access.identities, guests: access.guestDomain !== undefined },
    ...(passwordAccounts !== undefined ? { passwordAccounts } : {}),
    ...(debconf ? { debconf } : {}),
    // The smoke test makes Prosody fetch new keys: a rollback must make it forget them.
    ...(keyFiles.added.length > 0 && restarts.length === 0 ? { rollbackRestarts: SERVICES.filter((s) => facts.services[s].installed) } : {}),
    keys: keysSummary(settings.previousKeys, settings.keys, publicKeys?.asapKeyServer, keyFiles, settings.domain, readTokenConfig(config, settings.domain).authentication === 'token'),
  };
}

/** A stopped Prosody has no sockets to go by: the smoke test aims where its config has it listen. */
function prosodyDownNote(facts: HostFacts): string {
  const { address, setting } = configuredHttpAddress(configLoad(facts));
  const where = address ? `at ${address}:5280, where its config has it listen (${setting})` : `at 127.0.0.1:5280: its config names no IPv4 address to reach it at (${setting})`;
  return `Prosody is not running on this host: apply starts it, restarts the services that log in to it after it, and smoke-tests it ${where}`;
}

const KEY_FILE_MODE = '644';

/**
 * The public key files to write and remove. Keys published here are accepted
 * only while the host takes its keys from here: any other key source removes
 * them. Removing or replacing a key needs a restart, since Prosody keeps every
 * key it fetched until then.
 */
function planKeyFiles(facts: HostFacts, settings: ResolvedSettings): { files: FileChange[]; added: string[]; retired: string[]; restartReason?: string } {
  const { domain, keys, previousKeys } = settings;
  const changes = keyFileChanges(facts, domain, keys.mode === 'published' ? keys.keys : []);
  const replaced = changes.add.filter((a) => previousKeys.mode === 'published' && previousKeys.keys.some((k) => k.kid === a.entry.kid));
  const now = new Map((facts.publishedKeys ?? []).map((f) => [f.path, f.text]));
  const owner = `${CONFIG_OWNER}:${CONFIG_GROUP}`;
  const files: FileChange[] = [
    ...changes.add.map(({ path, entry, text }) => {
      const before = now.get(path) ?? '';
      return {
        path,
        purpose: `public key with kid "${entry.kid}" (${fingerprint(entry.pem)}), served at ${keyPublisher(facts, domain).url}/${path.split('/').pop()}`,
        before, after: text, diff: unifiedDiff(path, before, text),
        ...(now.has(path) ? {} : { create: true }),
        mode: { from: KEY_FILE_MODE, to: KEY_FILE_MODE },
        owner: { from: owner, to: owner },
      };
    }),
    ...changes.remove.map(({ path, entry, text }) => ({ path, purpose: `retire the public key with kid "${entry.kid}" (${fingerprint(entry.pem)})`, before: text, after: '', diff: unifiedDiff(path, text, ''), remove: true })),
  ];
  const forgotten = [...changes.remove, ...replaced].map((k) => `"${k.entry.kid}"`);
  return {
    files,
    added: changes.add.map((a) => a.entry.kid),
    retired: changes.remove.map((r) => r.entry.kid),
    ...(forgotten.length > 0 ? { restartReason: `Prosody keeps every public key it fetched in memory until it restarts: ${forgotten.join(', ')} ${forgotten.length === 1 ? 'is' : 'are'} refused only after that` } : {}),
  };
}

/** The token-edit settings of a key source: none for a shared secret; the publishing component for keys on the host (and as the fallback of a JWKS document). */
function publicKeySettings(facts: HostFacts, keys: KeySettings, domain: string): PublicKeySettings | undefined {
  switch (keys.mode) {
    case 'secret':
      return undefined;
    case 'key-server':
      return { asapKeyServer: keys.url };
    case 'jwks': {
      // Kids missing from the document are then looked up on the host itself, which answers 404: a clean refusal.
      const publisher = keyPublisher(facts, domain);
      return { asapKeyServer: publisher.url, cacheKeysUrl: keys.url, publisher };
    }
    case 'published': {
      const publisher = keyPublisher(facts, domain);
      return { asapKeyServer: publisher.url, publisher };
    }
  }
}

/** `hadTokens`: the host took tokens before, so a change of key kind cuts those tokens off. */
function keysSummary(from: KeySettings, to: KeySettings, keyServer: string | undefined, { added, retired }: { added: string[]; retired: string[] }, domain: string, hadTokens: boolean): Plan['keys'] {
  return {
    mode: to.mode,
    description: describeKeys(to),
    ...(keyServer ? { keyServer } : {}),
    ...(to.mode === 'jwks' ? { jwksUrl: to.url } : {}),
    ...(to.mode === 'published' ? { kids: to.keys.map((k) => k.kid), dir: keyDir(domain) } : {}),
    ...(added.length > 0 ? { added } : {}),
    ...(retired.length > 0 ? { retired } : {}),
    ...(hadTokens && isCutOver(from, to) ? { cutOver: { from: describeKeys(from), to: describeKeys(to) } } : {}),
  };
}

export function unifiedDiff(path: string, before: string, after: string): string {
  return before === after ? '' : createTwoFilesPatch(path, path, before, after, '', '', { context: 3 });
}

/**
 * What the run starts from, where it is not Jitsi's stock shape or a finished
 * token setup: a domain file that is not the link Jitsi's package makes, token
 * options someone set by hand and left half done (the run completes them).
 */
export function startingPointNotes(config: DomainConfig, domain: string, file: DomainFile): string[] {
  const notes: string[] = [];
  if (file.link === file.path && file.link.startsWith('/etc/prosody/conf.d/')) {
    notes.push(`${file.link} is a plain file, not a link to /etc/prosody/conf.avail/ as Jitsi's package makes it: this run edits it where it is (a copy in conf.avail/, if any, is not what Prosody reads)`);
  }
  const reading = readTokenConfig(config, domain);
  const modules = reading.conferenceModules?.active ?? [];
  const started = reading.authentication === 'token' || reading.appId !== undefined || reading.appSecret !== undefined || modules.includes('token_verification');
  if (!started) return notes;
  const missing = [
    reading.authentication !== 'token' ? 'authentication is not "token"' : undefined,
    reading.appId === undefined ? 'no app_id' : undefined,
    reading.appSecret === undefined && reading.asapKeyServer === undefined && reading.cacheKeysUrl === undefined ? 'no app_secret' : undefined,
    modules.includes('token_verification') && reading.mucMapperDomainBase === undefined ? 'token_verification without muc_mapper_domain_base (it refuses every join then)' : undefined,
    reading.pluginPaths === undefined ? 'no plugin_paths (Prosody does not find the token plugins)' : undefined,
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0) notes.push(`token authentication was half set up by hand: ${missing.join('; ')}. This run completes it.`);
  return notes;
}

/**
 * Prosody's global options are one set for every file it includes: another
 * Jitsi domain's file that sets muc_mapper_domain_base overrides this one's
 * (the file read last wins), and the plugins that read it act for that domain.
 */
function sharedGlobalNotes(facts: HostFacts, domainFile: DomainFile, domain: string): string[] {
  const others = facts.domainFiles.filter((f) => f.path !== domainFile.path).flatMap((f) => {
    try {
      const value = lastAssignment([parseDomainConfig(f.text, f.path).global], 'muc_mapper_domain_base')?.value;
      return typeof value === 'string' && value.toLowerCase() !== domain.toLowerCase() ? [`${f.link} sets it to "${value}"`] : [];
    } catch {
      return [];
    }
  });
  if (others.length === 0) return [];
  return [
    `muc_mapper_domain_base is a global option shared by every file Prosody reads, and ${others.join(', ')}: the file read last wins, ` +
      `and what depends on it (guests waiting for a host, the MUC domain mapper) then acts for that domain, not ${domain}`,
  ];
}

/** jitsi-meet-tokens finds its edits by its debconf answers (and removes them by them): what to set so they match. */
export function tokensDebconf(facts: HostFacts, appId: string, appSecret: string): Plan['debconf'] {
  if (!facts.packages['jitsi-meet-tokens']?.installed) return undefined;
  const wanted = [
    { question: 'jitsi-meet-tokens/appid', type: 'string' as const, value: appId, now: facts.tokensDebconf?.appId },
    { question: 'jitsi-meet-tokens/appsecret', type: 'password' as const, value: appSecret, now: facts.tokensDebconf?.appSecret },
  ];
  const selections = wanted.filter((w) => w.now !== w.value).map(({ question, type, value }) => ({ question, type, value }));
  if (selections.length === 0) return undefined;
  return {
    package: 'jitsi-meet-tokens',
    selections,
    reason: "removing jitsi-meet-tokens later undoes its edits by these answers, and no old secret stays in debconf's database",
  };
}

