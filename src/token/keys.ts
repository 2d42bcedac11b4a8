// RSA keys for RS256 tokens: public keys a host accepts (by key id, `kid`)
// and private keys the smoke test signs with. Jitsi's plugins fetch a kid's
// key from `<asap_key_server>/<hex(sha256(kid))>.pem` and read it with
// luaossl, which takes an SPKI `BEGIN PUBLIC KEY` PEM: every public key this
// tool publishes is normalised to that form. Private keys are read here and
// never leave this process.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SettingsError } from '../errors.js';

/** Jitsi verifies RS256 with keys of at least this size in practice; smaller RSA keys are refused here. */
export const MIN_RSA_BITS = 2048;

/** A public key a host accepts, under its key id. */
export interface PublicKeyEntry {
  kid: string;
  /** SPKI PEM (`-----BEGIN PUBLIC KEY-----`), ending in a newline */
  pem: string;
}

/** A private key to sign tokens with, under the key id its tokens name. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
}

const KID = /^[\x21-\x7e]{1,200}$/;

/** A key id: printable ASCII without spaces (it names a file on key servers, through its hash). */
export function validateKid(kid: string, source = '--kid'): string {
  if (!KID.test(kid)) {
    throw new SettingsError(`${source} "${kid}" must be 1 to 200 printable ASCII characters without spaces`, 'e.g. --kid jitsi-2026-11 (a new one for every new key: Prosody keeps a kid\'s key until it restarts)');
  }
  return kid;
}

/** The file name Jitsi's plugins fetch a kid's key as: lower-case hex of sha256(kid), then `.pem`. */
export function keyFileName(kid: string): string {
  return `${createHash('sha256').update(kid, 'utf8').digest('hex')}.pem`;
}

/** `SHA256:` and the unpadded base64 of the hash of the key's DER SPKI form, as ssh-keygen shows key fingerprints. */
export function fingerprint(key: KeyObject | string): string {
  const object = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  const der = object.export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`;
}

function checkRsa(key: KeyObject, file: string, what: string): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new SettingsError(`${file} holds a ${key.asymmetricKeyType ?? 'non-RSA'} ${what}; Jitsi's token plugins verify RS256 only (an RSA key)`, 'make an RSA key, e.g. openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out jitsi.key');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new SettingsError(`${file} holds a ${bits}-bit RSA ${what}; at least ${MIN_RSA_BITS} bits are needed`, 'make a new key of 3072 bits: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out jitsi.key');
  }
}

/** A public key from text: SPKI or PKCS#1 PEM, an X.509 certificate, or a private key (its public half). */
export function parsePublicKey(text: string, file: string): string {
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch {
    throw new SettingsError(`${file} holds no public key Node can read (PEM "BEGIN PUBLIC KEY", "BEGIN RSA PUBLIC KEY" or a certificate)`, 'export it with: openssl pkey -in jitsi.key -pubout -out jitsi.pub');
  }
  checkRsa(key, file, 'public key');
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export async function readPublicKey(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SettingsError(`cannot read the public key file ${file}: ${(error as Error).message}`, 'give a readable PEM file with --public-key');
  }
  return parsePublicKey(text, file);
}

/** A private key file; its content never goes anywhere but the signer. Encrypted keys are refused (there is no prompt for them). */
export async function readPrivateKey(file: string): Promise<KeyObject> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (error) {
    throw new SettingsError(`cannot read the private key file ${file}: ${(error as Error).message}`, 'give a readable PEM file with --private-key');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (error) {
    const encrypted = /passphrase/i.test((error as Error).message);
    throw new SettingsError(
      encrypted ? `${file} is an encrypted private key` : `${file} holds no private key Node can read`,
      encrypted ? 'give an unencrypted copy, e.g. openssl pkey -in jitsi.key -out plain.key (mode 0600), and remove it afterwards' : 'give the PEM private key your backend signs tokens with',
    );
  }
  checkRsa(key, file, 'private key');
  return key;
}

/** A private key given on the command line, with the kid it signs as when the command line says (KID=FILE). */
export interface PrivateKeyInput {
  file: string;
  key: KeyObject;
  kid?: string;
}

/** FILE, or KID=FILE when no file is named that whole value. */
export async function readPrivateKeys(values: readonly string[] | undefined): Promise<PrivateKeyInput[]> {
  return Promise.all(
    (values ?? []).map(async (value) => {
      const split = /^([\x21-\x3c\x3e-\x7e]{1,200})=(.+)$/.exec(value);
      if (split && !existsSync(value)) return { file: split[2], kid: validateKid(split[1], '--private-key KID=FILE:'), key: await readPrivateKey(split[2]) };
      return { file: value, key: await readPrivateKey(value) };
    }),
  );
}

const HEADER = /^# jitsi-jwt public key, kid: (\S+)\r?\n/;

/** A published key file: a comment line naming the kid (OpenSSL skips text before the PEM), then the SPKI PEM. */
export function publishedKeyFile(entry: PublicKeyEntry): string {
  return `# jitsi-jwt public key, kid: ${entry.kid}\n${entry.pem}`;
}

/** Reads a published key file back; undefined when it is not one this tool wrote. */
export function parsePublishedKeyFile(text: string): PublicKeyEntry | undefined {
  const match = HEADER.exec(text);
  if (!match) return undefined;
  return { kid: match[1], pem: text.slice(match[0].length) };
}

/** A throwaway RSA key (the smoke test's "another key"). */
export function throwawayKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS }).privateKey;
}

/** The public half of a private key, as SPKI PEM. */
export function publicPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}
