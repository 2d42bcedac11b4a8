// The desired state as the user gave it (flags > environment), validated. What
// the host already has fills the gaps later, in plan/resolve.ts.
import { readFile } from 'node:fs/promises';
import { SettingsError } from '../errors.js';
import { parseList } from './values.js';
import { readPrivateKeys, readPublicKey, validateKid, type PrivateKeyInput, type PublicKeyEntry } from '../token/keys.js';

/**
 * Where a host gets the keys it verifies tokens with. secret: one shared
 * app_secret (HS256). The others are RS256 with public keys by kid: a key
 * server the backend runs, a JWKS document, or keys this tool publishes on the
 * host itself (exactly these, or the host's set with some added and retired).
 */
export type KeySourceWish =
  | { kind: 'secret' }
  | { kind: 'key-server'; url: string }
  | { kind: 'jwks'; url: string }
  | { kind: 'published'; keys: PublicKeyEntry[] }
  | { kind: 'published-change'; add: PublicKeyEntry[]; retire: string[] };

export interface TokenOptions {
  domain?: string;
  appId?: string;
  /** given through --app-secret-file or JITSI_JWT_APP_SECRET, never argv */
  appSecret?: string;
  /** a fresh secret even where the host has one (rotation) */
  newSecret?: boolean;
  allowEmptyToken: boolean;
  issuers?: string[];
  audiences?: string[];
  roomCheck: boolean;
  /** token_affiliation + jicofo enable-auto-owner = false; undefined: leave as is */
  moderatorFromToken?: boolean;
  allowWeakSecret: boolean;
  /** guests wait for a token holder (guest VirtualHost, muc_wait_for_host); undefined: leave as is */
  guests?: boolean;
  /** more domains or bare JIDs that join without a token (token_verification_allowlist) */
  allowWithoutToken?: string[];
  /** leave who joins without a token as it is (rotation changes the secret only) */
  accessUnchanged?: boolean;
  /** where the host's token keys come from; undefined: keep what the host has */
  keySource?: KeySourceWish;
  /** private keys the smoke test signs RS256 tokens with (read locally, never sent) */
  privateKeys?: PrivateKeyInput[];
  /** the kid a private key signs as when it matches no published key (--kid) */
  signingKid?: string;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i;

export function validateDomain(domain: string): string {
  if (!DOMAIN.test(domain)) {
    throw new SettingsError(`"${domain}" is not a valid domain name`, 'give the Jitsi domain as configured in Prosody, e.g. --domain meet.example.com');
  }
  return domain.toLowerCase();
}

export function validateAppId(appId: string): string {
  if (!/^[\x21-\x7e]{1,128}$/.test(appId)) {
    throw new SettingsError(`app_id "${appId}" must be 1 to 128 printable ASCII characters without spaces`, 'e.g. --app-id my_backend');
  }
  return appId;
}

export const MIN_SECRET_LENGTH = 32;

export function validateSecret(secret: string, allowWeak: boolean): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(secret)) {
    throw new SettingsError('the app secret contains control characters (a newline inside it, a tab, ...)', 'use printable characters only; a single trailing newline in a secret file is ignored');
  }
  if (secret.length === 0) throw new SettingsError('the app secret is empty', 'put the secret in the file, or leave it out to generate one');
  if ([...secret].length < MIN_SECRET_LENGTH && !allowWeak) {
    throw new SettingsError(
      `the app secret has ${[...secret].length} characters; HS256 needs at least ${MIN_SECRET_LENGTH}`,
      'use a longer secret (or leave it out to generate a random one), or pass --allow-weak-secret',
    );
  }
  return secret;
}

/** A secret from a file: one trailing newline (as editors and `echo` leave) is not part of it. */
export function secretFromFileContent(content: string): string {
  return content.replace(/\r?\n$/, '');
}

export function listOption(value: string | undefined, source = 'the list'): string[] | undefined {
  return value === undefined ? undefined : parseList(value, source);
}

/** The token settings as flags and the environment give them, before any host fills the gaps. */
export interface TokenFlags {
  domain?: string;
  appId?: string;
  appSecretFile?: string;
  allowEmptyToken?: boolean;
  issuers?: string[];
  audiences?: string[];
  roomCheck?: boolean;
  moderatorFromToken?: boolean;
  allowWeakSecret?: boolean;
  guests?: boolean;
  allowWithoutToken?: string[];
  keyServer?: string;
  jwksUrl?: string;
  publicKey?: string;
  kid?: string;
  sharedSecret?: boolean;
  privateKey?: string[];
}

/**
 * A key server's or JWKS document's URL. Jitsi's plugins append
 * `/<hex>.pem` to a key server's base as written, so a trailing slash is
 * dropped and a query string or fragment refused.
 */
export function validateKeyUrl(text: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SettingsError(`${flag} "${text}" is not a URL`, `give the full address, e.g. ${flag} https://keys.example.com/jitsi`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SettingsError(`${flag} "${text}" is not an http or https URL`, 'Prosody fetches keys over http(s) only');
  }
  if (url.search || url.hash) {
    throw new SettingsError(`${flag} "${text}" has a query string or fragment`, flag === '--key-server' ? "Jitsi's plugins append /<hex>.pem to the base as written, which a query string breaks: give the base path only" : 'give the address without ? or #');
  }
  return flag === '--key-server' ? text.replace(/\/+$/, '') : text;
}

/** The private keys a smoke test signs with (--private-key), and the kid they sign as (--kid). */
export async function readSigningOptions(flags: Pick<TokenFlags, 'privateKey' | 'kid'>): Promise<Pick<TokenOptions, 'privateKeys' | 'signingKid'>> {
  const privateKeys = await readPrivateKeys(flags.privateKey);
  return { ...(privateKeys.length > 0 ? { privateKeys } : {}), ...(flags.kid !== undefined ? { signingKid: validateKid(flags.kid) } : {}) };
}

/** --key-server, --jwks-url, --public-key/--kid or --shared-secret: at most one of them. */
export async function readKeySource(flags: TokenFlags): Promise<KeySourceWish | undefined> {
  const given = [
    flags.keyServer !== undefined ? '--key-server' : undefined,
    flags.jwksUrl !== undefined ? '--jwks-url' : undefined,
    flags.publicKey !== undefined ? '--public-key' : undefined,
    flags.sharedSecret ? '--shared-secret' : undefined,
  ].filter((f): f is string => f !== undefined);
  if (given.length > 1) throw new SettingsError(`${given.join(' and ')} each choose where the host's token keys come from`, 'keep one of them');
  if (flags.publicKey !== undefined && flags.kid === undefined) {
    throw new SettingsError('--public-key needs --kid: the key id your backend puts in the tokens it signs with that key', 'e.g. --public-key jitsi.pub --kid jitsi-2026-11');
  }
  if (flags.keyServer !== undefined) return { kind: 'key-server', url: validateKeyUrl(flags.keyServer, '--key-server') };
  if (flags.jwksUrl !== undefined) return { kind: 'jwks', url: validateKeyUrl(flags.jwksUrl, '--jwks-url') };
  if (flags.publicKey !== undefined) return { kind: 'published', keys: [{ kid: validateKid(flags.kid!), pem: await readPublicKey(flags.publicKey) }] };
  if (flags.sharedSecret) return { kind: 'secret' };
  return undefined;
}

/** Reads the desired token settings: flags (already typed), the secret from --app-secret-file or JITSI_JWT_APP_SECRET. */
export async function readTokenOptions(flags: TokenFlags, env: NodeJS.ProcessEnv = process.env): Promise<TokenOptions> {
  let appSecret: string | undefined;
  if (flags.appSecretFile) {
    try {
      appSecret = secretFromFileContent(await readFile(flags.appSecretFile, 'utf8'));
    } catch (error) {
      throw new SettingsError(`cannot read the secret file ${flags.appSecretFile}: ${(error as Error).message}`, 'give a readable file with --app-secret-file');
    }
  } else if (env.JITSI_JWT_APP_SECRET !== undefined) {
    // Unlike other variables, empty is not "unset": a secret store that filled in nothing must not lead to a new secret.
    if (env.JITSI_JWT_APP_SECRET === '') {
      throw new SettingsError('JITSI_JWT_APP_SECRET is set but empty', "fill it with the secret, or unset it to keep the host's secret (or generate one where there is none)");
    }
    appSecret = env.JITSI_JWT_APP_SECRET;
  }
  const keySource = await readKeySource(flags);
  if (appSecret !== undefined && keySource && keySource.kind !== 'secret') {
    throw new SettingsError(
      `an app secret was given (${flags.appSecretFile ? '--app-secret-file' : 'JITSI_JWT_APP_SECRET'}), but public-key tokens (RS256) use no app_secret`,
      flags.appSecretFile ? 'drop --app-secret-file' : 'unset JITSI_JWT_APP_SECRET',
    );
  }
  return {
    domain: flags.domain,
    appId: flags.appId,
    appSecret,
    keySource,
    ...(await readSigningOptions(flags)),
    allowEmptyToken: Boolean(flags.allowEmptyToken),
    issuers: flags.issuers,
    audiences: flags.audiences,
    roomCheck: flags.roomCheck !== false,
    moderatorFromToken: flags.moderatorFromToken ? true : undefined,
    allowWeakSecret: Boolean(flags.allowWeakSecret),
    guests: flags.guests,
    allowWithoutToken: flags.allowWithoutToken?.map(validateAllowEntry),
  };
}

const JID_USER = /^[^\s@/"&'<>:]{1,1023}$/;

/** A domain or a bare JID (user@domain) that may join without a token; lower-cased. */
export function validateAllowEntry(entry: string): string {
  const at = entry.lastIndexOf('@');
  const user = at >= 0 ? entry.slice(0, at) : undefined;
  const host = at >= 0 ? entry.slice(at + 1) : entry;
  if (entry.includes('/') || (user !== undefined && !JID_USER.test(user)) || !DOMAIN.test(host)) {
    throw new SettingsError(
      `--allow-without-token "${entry}" is neither a domain nor a bare JID`,
      'give a domain (recorder.meet.example.com) or an account without resource (jigasi@auth.meet.example.com)',
    );
  }
  return user === undefined ? host.toLowerCase() : `${user}@${host.toLowerCase()}`;
}
