// Fills what the user left open from what the host has: which Jitsi domain,
// the app_id and secret already there (a re-run never rotates), or a fresh
// secret. Pure: the random source is passed in.
import type { DomainFile, HostFacts } from '../facts/probe.js';
import { HostStateError, SettingsError } from '../errors.js';
import { validateAppId, validateDomain, validateSecret, type TokenOptions } from '../settings/settings.js';
import { currentKeys, resolveKeys, type KeySettings } from './keys.js';
import { posix } from 'node:path';
import { jitsiDomainCandidates, parseDomainConfig, readTokenConfig, requirePlainAppSecret, type DomainConfig, type LuaValue } from '../prosody/domain-config.js';
import { configLoad } from '../prosody/config-files.js';

export interface ResolvedSettings {
  domain: string;
  appId: string;
  appSecret: string;
  /** shared: another host of the fleet has it */
  secretSource: 'kept' | 'given' | 'generated' | 'shared';
  /** the secret the host had before, if any */
  previousSecret?: string;
  allowEmptyToken: boolean;
  issuers?: string[];
  audiences?: string[];
  roomCheck: boolean;
  moderatorFromToken?: boolean;
  /** undefined: leave the guest setup as it is */
  guests?: boolean;
  allowWithoutToken?: string[];
  accessUnchanged?: boolean;
  /** where the host's token keys come from once applied */
  keys: KeySettings;
  /** where they came from before */
  previousKeys: KeySettings;
}

export interface Resolution {
  settings: ResolvedSettings;
  domainFile: DomainFile;
}

export interface JitsiDomain {
  domain: string;
  file: DomainFile;
  config: DomainConfig;
}

/**
 * The Jitsi domains configured on the host, with the file each lives in. A
 * file that cannot be read is a DomainConfigError (host-state) naming it. A
 * domain found in several files lives in the one Jitsi's package names after
 * it, or else the first Prosody reads; the others declare it again (see
 * prosody/overrides.ts).
 */
export function jitsiDomains(facts: HostFacts): JitsiDomain[] {
  const found = facts.domainFiles.flatMap((file) => {
    const config = parseDomainConfig(file.text, file.path);
    return jitsiDomainCandidates(config).map((domain) => ({ domain, file, config }));
  });
  const read = configLoad(facts).files;
  const readAt = (file: DomainFile) => (read.includes(posix.normalize(file.link)) ? read.indexOf(posix.normalize(file.link)) : read.length + facts.domainFiles.indexOf(file));
  const named = ({ domain, file }: JitsiDomain) => posix.basename(file.link).toLowerCase() === `${domain.toLowerCase()}.cfg.lua`;
  const before = (a: JitsiDomain, b: JitsiDomain) => (named(a) !== named(b) ? named(a) : readAt(a.file) < readAt(b.file));
  return found.filter((d) => !found.some((other) => other !== d && other.domain.toLowerCase() === d.domain.toLowerCase() && before(other, d)));
}

export interface CurrentTokenState {
  tokenAuth: boolean;
  appId?: string;
  appSecret?: string;
  allowEmptyToken: boolean;
  roomCheck: boolean;
  moderatorFromToken: boolean;
  issuers?: string[];
  audiences?: string[];
  keys: KeySettings;
}

/**
 * What a domain's config says about token authentication now. An app_secret
 * set from an expression is refused here (host-state, naming the file): this
 * tool can neither keep nor share a secret it cannot read.
 */
export function currentTokenState({ config, domain }: JitsiDomain, facts: HostFacts): CurrentTokenState {
  requirePlainAppSecret(config, domain);
  const reading = readTokenConfig(config, domain);
  const active = reading.conferenceModules?.active ?? [];
  const list = (value: LuaValue | undefined) => (Array.isArray(value) ? value : undefined);
  return {
    tokenAuth: reading.authentication === 'token',
    appId: plainString(reading.appId),
    appSecret: plainString(reading.appSecret),
    allowEmptyToken: reading.allowEmptyToken === true,
    roomCheck: active.includes('token_verification'),
    moderatorFromToken: active.includes('token_affiliation'),
    issuers: list(reading.asapAcceptedIssuers),
    audiences: list(reading.asapAcceptedAudiences),
    keys: currentKeys(facts, reading, domain),
  };
}

function plainString(value: LuaValue | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The Jitsi domain to work on: the one asked for, or the only one the host has. */
export function chooseDomain(facts: HostFacts, requested?: string): JitsiDomain {
  if (!facts.packages.prosody?.installed && facts.domainFiles.length === 0) {
    throw new HostStateError('Prosody is not installed on this host', 'install Jitsi Meet (jitsi-meet-prosody) first, then run again');
  }
  const candidates = jitsiDomains(facts);
  if (candidates.length === 0) {
    throw new HostStateError(
      'no Jitsi domain config found in /etc/prosody/conf.d/ (a VirtualHost with a conference MUC)',
      'is jitsi-meet-prosody installed? Jitsi writes /etc/prosody/conf.avail/<domain>.cfg.lua and links it from conf.d/',
    );
  }
  if (requested) {
    const domain = validateDomain(requested);
    const match = candidates.find((c) => c.domain === domain);
    if (!match) {
      throw new SettingsError(`this host has no Jitsi domain "${domain}"`, `domains found: ${candidates.map((c) => c.domain).join(', ')}`);
    }
    return match;
  }
  if (candidates.length > 1) {
    throw new SettingsError(
      `this host serves several Jitsi domains: ${candidates.map((c) => `${c.domain} (${c.file.path})`).join(', ')}`,
      'choose one with --domain',
    );
  }
  return candidates[0];
}

export function resolveSettings(facts: HostFacts, options: TokenOptions, generateSecret: () => string): Resolution {
  const chosen = chooseDomain(facts, options.domain);
  const current = currentTokenState(chosen, facts);
  const keys = resolveKeys(facts, current.keys, options.keySource, chosen.domain);

  const appIdText = options.appId ?? current.appId;
  if (!appIdText) {
    throw new SettingsError(`${chosen.domain} has no app_id yet`, 'give one with --app-id (the iss your backend signs tokens with), e.g. --app-id my_backend');
  }
  const appId = validateAppId(appIdText);

  let appSecret: string;
  let secretSource: ResolvedSettings['secretSource'];
  if (options.newSecret) {
    appSecret = generateSecret();
    secretSource = 'generated';
  } else if (options.appSecret !== undefined) {
    appSecret = validateSecret(options.appSecret, options.allowWeakSecret);
    secretSource = current.appSecret === appSecret ? 'kept' : 'given';
  } else if (current.appSecret) {
    appSecret = current.appSecret;
    secretSource = 'kept';
  } else {
    appSecret = generateSecret();
    secretSource = 'generated';
  }

  return {
    domainFile: chosen.file,
    settings: {
      domain: chosen.domain,
      appId,
      appSecret,
      secretSource,
      previousSecret: current.appSecret,
      allowEmptyToken: options.allowEmptyToken,
      issuers: options.issuers,
      audiences: options.audiences,
      roomCheck: options.roomCheck,
      moderatorFromToken: options.moderatorFromToken,
      guests: options.guests,
      allowWithoutToken: options.allowWithoutToken ?? [],
      accessUnchanged: options.accessUnchanged,
      keys,
      previousKeys: current.keys,
    },
  };
}
