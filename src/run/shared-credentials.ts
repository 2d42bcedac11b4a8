// A fleet signs with one app_id and one app_secret: every shard of a Jitsi
// deployment must accept the same tokens. Decides them from what the user gave
// and what the hosts already have. Pure: the random source is passed in.
import { SettingsError } from '../errors.js';

export interface HostCredentialState {
  name: string;
  appId?: string;
  appSecret?: string;
}

export interface CredentialRequest {
  appId?: string;
  /** from --app-secret-file or JITSI_JWT_APP_SECRET */
  appSecret?: string;
  /** --secret-from: the named host's secret wins */
  secretFrom?: string;
  /** rotate-secret: a new secret even where the hosts share one */
  rotate?: boolean;
}

export interface SharedCredentials {
  appId?: string;
  appSecret: string;
  source: 'kept' | 'given' | 'generated';
  /** the secrets hosts had that differ from the new one: tokens signed with them must be refused afterwards */
  previousSecrets: string[];
}

function groupBy(hosts: HostCredentialState[], key: (host: HostCredentialState) => string | undefined): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const host of hosts) {
    const value = key(host);
    if (value === undefined) continue;
    groups.set(value, [...(groups.get(value) ?? []), host.name]);
  }
  return groups;
}

export function sharedCredentials(hosts: HostCredentialState[], request: CredentialRequest, generateSecret: () => string): SharedCredentials {
  const appIds = groupBy(hosts, (host) => host.appId);
  let appId = request.appId;
  if (appId === undefined && appIds.size > 1) {
    throw new SettingsError(
      `the hosts use different app_ids: ${[...appIds].map(([id, names]) => `"${id}" on ${names.join(', ')}`).join('; ')}`,
      'a fleet signs with one app_id: choose it with --app-id',
    );
  }
  appId ??= [...appIds.keys()][0];

  const secrets = groupBy(hosts, (host) => host.appSecret);
  let appSecret: string;
  let source: SharedCredentials['source'];
  if (request.secretFrom !== undefined) {
    if (request.appSecret !== undefined) throw new SettingsError('--secret-from and a given secret (--app-secret-file or JITSI_JWT_APP_SECRET) both choose the secret', 'keep one of them');
    if (request.rotate) throw new SettingsError('--secret-from keeps a secret, rotate-secret makes a new one', 'drop --secret-from');
    const winner = hosts.find((host) => host.name === request.secretFrom);
    if (!winner) throw new SettingsError(`--secret-from names "${request.secretFrom}", which is not one of the hosts`, `hosts: ${hosts.map((h) => h.name).join(', ')}`);
    if (!winner.appSecret) throw new SettingsError(`${winner.name} has no app_secret to share`, 'name a host that already uses token authentication, or give the secret with --app-secret-file');
    appSecret = winner.appSecret;
    source = 'kept';
  } else if (request.appSecret !== undefined) {
    appSecret = request.appSecret;
    source = secrets.size === 1 && secrets.has(appSecret) && secrets.get(appSecret)!.length === hosts.length ? 'kept' : 'given';
  } else if (request.rotate || secrets.size === 0) {
    appSecret = generateSecret();
    source = 'generated';
  } else if (secrets.size === 1) {
    appSecret = [...secrets.keys()][0];
    source = 'kept';
  } else {
    const groups = [...secrets.values()].map((names) => names.join(', '));
    throw new SettingsError(
      `the hosts have ${secrets.size} different app_secrets (${groups.map((g) => `{${g}}`).join(' vs ')}); a fleet must share one, so every shard accepts the same tokens`,
      'choose which wins with --secret-from HOST, give one with --app-secret-file, or give them all a new one with rotate-secret',
    );
  }
  return { appId, appSecret, source, previousSecrets: [...secrets.keys()].filter((secret) => secret !== appSecret) };
}
