// What a token-secured host signs with: read without changing anything or
// taking the lock (token, smoke --url), or worked out from facts read under it
// (smoke through SSH).
import type { Connector } from '../connector/types.js';
import { SettingsError } from '../errors.js';
import { parseFacts, probeScript, type HostFacts } from '../facts/probe.js';
import { chooseDomain, currentTokenState } from '../plan/resolve.js';
import { connectHost, type HostsRequest } from './hosts.js';
import { accessToProve } from '../plan/access.js';
import type { AccessExpectations } from '../smoke/smoke.js';
import type { KeySettings } from '../plan/keys.js';

export interface HostCredentials {
  domain: string;
  appId: string;
  /** undefined on a host that verifies RS256 tokens with public keys */
  appSecret?: string;
  /** where the host's token keys come from */
  keys: KeySettings;
  /** the host makes moderators from the token (token_affiliation) */
  moderatorFromToken: boolean;
  facts: HostFacts;
  /** who else the host lets in without a token, to prove */
  access: AccessExpectations;
}

export async function readHostCredentials(connector: Connector, requestedDomain?: string): Promise<HostCredentials> {
  return hostCredentials(parseFacts((await connector.run(probeScript())).stdout), connector.label, requestedDomain);
}

/** What the host behind `label` signs with, from its facts; refuses a host that does not use tokens. */
export function hostCredentials(facts: HostFacts, label: string, requestedDomain?: string): HostCredentials {
  const chosen = chooseDomain(facts, requestedDomain);
  const current = currentTokenState(chosen, facts);
  if (!current.tokenAuth || !current.appId || (current.keys.mode === 'secret' && !current.appSecret)) {
    throw new SettingsError(`${chosen.domain} on ${label} does not use token authentication yet (no app_id/app_secret)`, 'run jitsi-jwt apply on it first');
  }
  return {
    domain: chosen.domain, appId: current.appId, appSecret: current.keys.mode === 'secret' ? current.appSecret : undefined, keys: current.keys, moderatorFromToken: current.moderatorFromToken, facts,
    access: accessToProve(facts, chosen.config, chosen.domain),
  };
}

/** Connects to the run's one host, reads what it signs with, and closes the connection. */
export async function credentialsOf(hosts: HostsRequest, requestedDomain?: string): Promise<HostCredentials> {
  const [entry] = hosts.entries;
  const connector = await connectHost(entry, hosts.connection, hosts.sudoPassword(entry), hosts.questions);
  try {
    return await readHostCredentials(connector, entry.domain ?? requestedDomain);
  } finally {
    await connector.close();
  }
}
