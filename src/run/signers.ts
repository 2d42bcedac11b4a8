// Which private key signs as which kid in a smoke test of an RS256 host. A
// key that matches one of the host's published public keys takes that key's
// kid; otherwise it signs as the kid given with --kid. A key whose public
// half the run just retired proves the retirement: its tokens must be refused.
import { SettingsError } from '../errors.js';
import type { KeySettings } from '../plan/keys.js';
import { fingerprint, type PrivateKeyInput, type SigningKey } from '../token/keys.js';
import type { SmokeExpectations } from '../smoke/smoke.js';

/**
 * The smoke test's view of an RS256 host: who signs as which kid, which kids
 * the host is known to accept, which retired keys must be refused. undefined
 * for a host on a shared secret.
 */
export function publicKeyExpectations(keys: KeySettings, previous: KeySettings | undefined, inputs: readonly PrivateKeyInput[], kid: string | undefined, host: string): SmokeExpectations['publicKeys'] {
  if (keys.mode === 'secret') return undefined;
  const accepted = keys.mode === 'published' ? keys.keys : [];
  // A retired key is one the published set lost; a host whose keys now come from elsewhere may still accept it from there.
  const before = previous?.mode === 'published' && keys.mode === 'published' ? previous.keys : [];
  const signers: SigningKey[] = [];
  const retired: SigningKey[] = [];
  for (const input of inputs) {
    const print = fingerprint(input.key);
    const match = accepted.find((k) => fingerprint(k.pem) === print);
    if (match) {
      signers.push({ kid: match.kid, key: input.key });
      continue;
    }
    const gone = before.find((k) => fingerprint(k.pem) === print);
    if (gone) {
      retired.push({ kid: gone.kid, key: input.key });
      continue;
    }
    if (keys.mode === 'published') {
      throw new SettingsError(
        `the private key in ${input.file} (${print}) belongs to none of the public keys ${host} publishes (${accepted.map((k) => `"${k.kid}" ${fingerprint(k.pem)}`).join(', ')})`,
        'give the private key of one of them, or leave --private-key out to prove refusals only',
      );
    }
    const as = input.kid ?? kid;
    if (as === undefined) {
      throw new SettingsError(`which kid does the private key in ${input.file} sign as?`, 'give it with --kid (the key id your backend puts in the token header), or as --private-key KID=FILE');
    }
    signers.push({ kid: as, key: input.key });
  }
  // Hosts whose keys are published elsewhere: the kid given is one the host should know.
  const knownKids = accepted.length > 0 ? accepted.map((k) => k.kid) : [...new Set([...signers.map((s) => s.kid), ...(kid !== undefined ? [kid] : [])])];
  return { signers, knownKids, ...(retired.length > 0 ? { retired } : {}) };
}
