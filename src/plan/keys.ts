// Where a host's token keys come from, and the public key files this tool
// publishes. Pure: facts and wishes in, decisions out.
//
// Jitsi's plugins verify either HS256 tokens with one shared app_secret or,
// once a key source is set (asap_key_server, cache_keys_url), RS256 tokens
// whose public key they look up by the token's kid. One VirtualHost never
// takes both. Keys this tool publishes live in KEY_DIR/<domain>/ as
// <hex(sha256(kid))>.pem and are served by Prosody's own HTTP server
// (mod_http_files on a component of their own) on the address Prosody's
// HTTP port listens on, so the host fetches them from itself.
import { HostStateError, SettingsError } from '../errors.js';
import { KEY_DIR, type HostFacts } from '../facts/probe.js';
import { prosodyHttpTarget } from '../prosody/config-files.js';
import type { TokenConfigReading } from '../prosody/domain-config.js';
import { PUBLISHER_PREFIX, type KeyPublisher } from '../prosody/key-edit.js';
import type { KeySourceWish } from '../settings/settings.js';
import { fingerprint, keyFileName, parsePublishedKeyFile, publishedKeyFile, type PublicKeyEntry } from '../token/keys.js';

export type KeySettings =
  | { mode: 'secret' }
  | { mode: 'key-server'; url: string }
  | { mode: 'jwks'; url: string }
  | { mode: 'published'; keys: PublicKeyEntry[] };

const PROSODY_HTTP_PORT = 5280;

export function keyDir(domain: string): string {
  return `${KEY_DIR}/${domain}`;
}

export function keyPublisher(facts: HostFacts, domain: string): KeyPublisher {
  const address = prosodyHttpTarget(facts, PROSODY_HTTP_PORT);
  const path = `/${PUBLISHER_PREFIX}/${domain}`;
  return { component: `${PUBLISHER_PREFIX}.${domain}`, httpHost: address, dir: keyDir(domain), path, url: `http://${address}:${PROSODY_HTTP_PORT}${path}` };
}

/** True when a key server URL is one of this tool's publishers (any address) for the domain. */
export function isPublisherUrl(url: string, domain: string): boolean {
  return new RegExp(`^http://[^/]+:${PROSODY_HTTP_PORT}/${PUBLISHER_PREFIX}/${domain.replace(/[.]/g, '\\.')}$`, 'i').test(url);
}

/** The keys this tool has published for a domain, as the probe read them (files not written by it are left out). */
export function publishedKeys(facts: HostFacts, domain: string): PublicKeyEntry[] {
  const dir = `${keyDir(domain)}/`;
  return (facts.publishedKeys ?? []).flatMap((file) => {
    if (!file.path.startsWith(dir)) return [];
    const entry = parsePublishedKeyFile(file.text);
    return entry && file.path === dir + keyFileName(entry.kid) ? [entry] : [];
  });
}

/** What a domain's config says about its key source now. */
export function currentKeys(facts: HostFacts, reading: TokenConfigReading, domain: string): KeySettings {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const jwks = text(reading.cacheKeysUrl);
  if (jwks) return { mode: 'jwks', url: jwks };
  const server = text(reading.asapKeyServer);
  if (server) return isPublisherUrl(server, domain) ? { mode: 'published', keys: publishedKeys(facts, domain) } : { mode: 'key-server', url: server };
  return { mode: 'secret' };
}

/** JWKS documents are read only by Jitsi's newest token plugins, which ship token/jwk.lib.lua. */
export function readsJwks(facts: HostFacts): boolean {
  return facts.plugins.present.includes('token/jwk.lib.lua');
}

/** The key source a host ends up with: the wish applied to what it has. */
export function resolveKeys(facts: HostFacts, current: KeySettings, wish: KeySourceWish | undefined, domain: string): KeySettings {
  if (!wish) return current;
  switch (wish.kind) {
    case 'secret':
      return { mode: 'secret' };
    case 'key-server':
      return { mode: 'key-server', url: wish.url };
    case 'jwks':
      if (!readsJwks(facts)) {
        throw new HostStateError(
          `this server's Jitsi token plugins cannot read a JWKS document (there is no token/jwk.lib.lua in ${facts.plugins.dir}; JWKS came with Jitsi's 2026 plugins)`,
          'upgrade jitsi-meet-prosody, or publish the keys as <hex(sha256(kid))>.pem files and use --key-server, or give the public key with --public-key and --kid',
        );
      }
      return { mode: 'jwks', url: wish.url };
    case 'published':
      return { mode: 'published', keys: wish.keys };
    case 'published-change': {
      if (current.mode !== 'published') {
        throw new HostStateError(
          current.mode === 'secret'
            ? `${domain} verifies tokens with a shared app_secret, not with public keys this tool published`
            : `${domain} takes its keys from ${current.mode === 'jwks' ? 'a JWKS document' : 'a key server'} (${current.url}); this tool does not own those keys`,
          current.mode === 'secret'
            ? 'switch it to public keys first: jitsi-jwt apply --public-key FILE --kid ID'
            : 'rotate them where they are published; jitsi-jwt smoke --private-key FILE --kid ID proves which kids the host accepts',
        );
      }
      for (const kid of wish.retire) {
        if (!current.keys.some((k) => k.kid === kid)) {
          throw new SettingsError(`${domain} has no published key with kid "${kid}"`, `its kids: ${current.keys.map((k) => k.kid).join(', ') || 'none'}`);
        }
      }
      const kept = current.keys.filter((k) => !wish.retire.includes(k.kid));
      const added = wish.add.filter((k) => !kept.some((c) => c.kid === k.kid && c.pem === k.pem));
      for (const key of added) {
        if (kept.some((c) => c.kid === key.kid)) {
          throw new SettingsError(
            `${domain} already accepts another key under kid "${key.kid}"`,
            'a kid names one key for good: Prosody keeps a fetched key until it restarts. Give the new key a new kid',
          );
        }
      }
      const keys = [...kept, ...added];
      if (keys.length === 0) {
        throw new SettingsError(`retiring ${wish.retire.map((k) => `"${k}"`).join(', ')} would leave ${domain} no key: every token would be refused`, 'add the new key first (rotate-key --add-public-key FILE --kid ID), then retire the old one');
      }
      return { mode: 'published', keys };
    }
  }
}

/** One line for a key source, as plans show it. */
export function describeKeys(keys: KeySettings): string {
  switch (keys.mode) {
    case 'secret':
      return 'HS256 tokens signed with the shared app_secret';
    case 'key-server':
      return `RS256 tokens, public keys fetched by kid from ${keys.url}`;
    case 'jwks':
      return `RS256 tokens, public keys from the JWKS document ${keys.url}`;
    case 'published':
      return `RS256 tokens, public keys published on the host: ${keys.keys.map((k) => `kid "${k.kid}" (${fingerprint(k.pem)})`).join(', ') || 'none'}`;
  }
}

/** From shared secret to public keys, or back: every token signed the old way is refused from the restart on. */
export function isCutOver(from: KeySettings, to: KeySettings): boolean {
  return (from.mode === 'secret') !== (to.mode === 'secret');
}

/** The key files to write and remove so that KEY_DIR/<domain>/ holds exactly `wanted`. */
export function keyFileChanges(facts: HostFacts, domain: string, wanted: PublicKeyEntry[]): { add: { path: string; entry: PublicKeyEntry; text: string }[]; remove: { path: string; entry: PublicKeyEntry; text: string }[] } {
  const dir = keyDir(domain);
  const current = publishedKeys(facts, domain);
  const add = wanted
    .filter((w) => !current.some((c) => c.kid === w.kid && c.pem === w.pem))
    .map((entry) => ({ path: `${dir}/${keyFileName(entry.kid)}`, entry, text: publishedKeyFile(entry) }));
  const remove = current
    .filter((c) => !wanted.some((w) => w.kid === c.kid && w.pem === c.pem))
    .filter((c) => !add.some((a) => a.entry.kid === c.kid))
    .map((entry) => ({ path: `${dir}/${keyFileName(entry.kid)}`, entry, text: publishedKeyFile(entry) }));
  return { add, remove };
}
