// OpenSSH known_hosts files: parsing, matching a presented host key, and the
// lines and fingerprints OpenSSH itself would write and show. Pure.
import { createHash, createHmac } from 'node:crypto';

export interface KnownHostEntry {
  file: string;
  /** 1-based line number in `file` */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Comma-separated host patterns as written (a hashed entry has a single `|1|salt|hash`). */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const name = fields.shift()!;
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else return; // unknown marker: OpenSSH skips the line too
    }
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return;
    entries.push({ file, line: index + 1, ...(marker ? { marker } : {}), hosts, keyType, key: Buffer.from(base64, 'base64') });
  });
  return entries;
}

/** The name a host is filed under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether an entry's host field names `name` (see sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"). */
export function entryMatchesHost(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    const expected = Buffer.from(hash, 'base64');
    const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return expected.length === actual.length && expected.equals(actual);
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

function globMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i').test(name);
}

export type HostKeyCheck =
  | { status: 'known'; entry: KnownHostEntry }
  /** Entries of the presented key's type exist, none with this key. */
  | { status: 'changed'; expected: KnownHostEntry[] }
  | { status: 'revoked'; entry: KnownHostEntry }
  /** No entry of the presented key's type; `otherTypes` are the types that are known. */
  | { status: 'unknown'; otherTypes: string[] };

export function checkHostKey(entries: KnownHostEntry[], name: string, key: Buffer): HostKeyCheck {
  const keyType = keyTypeOf(key);
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && entryMatchesHost(e.hosts, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.keyType === keyType && e.key.equals(key));
  if (same) return { status: 'known', entry: same };
  const expected = plain.filter((e) => e.keyType === keyType);
  if (expected.length > 0) return { status: 'changed', expected };
  return { status: 'unknown', otherTypes: [...new Set(plain.map((e) => e.keyType))] };
}

/** The key types known for `name`, in file order: the server is asked for these first, as OpenSSH does. */
export function knownKeyTypes(entries: KnownHostEntry[], name: string): string[] {
  const types = entries.filter((e) => e.marker === undefined && entryMatchesHost(e.hosts, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

const DEFAULT_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** Host key algorithms to offer, those of already known key types first. */
export function hostKeyAlgorithms(knownTypes: string[]): string[] {
  const preferred = knownTypes.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]));
  const supported = new Set([...DEFAULT_HOST_KEY_ALGORITHMS, 'ssh-dss']);
  return [...new Set([...preferred.filter((a) => supported.has(a)), ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  if (length > key.length - 4 || length > 64) return 'unknown';
  return key.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:…` as OpenSSH prints it (base64 without padding). */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function knownHostsLine(name: string, key: Buffer): string {
  return `${name} ${keyTypeOf(key)} ${key.toString('base64')}`;
}
