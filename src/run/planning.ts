// Planning a run: each host's token state read, the app_id and secret every
// host will share decided (kept, given, generated, or one host's), and each
// host planned. Nothing here touches a host.
import { randomBytes } from 'node:crypto';
import { HostStateError, SettingsError } from '../errors.js';
import { planTokenAuth } from '../plan/plan.js';
import { isEmpty, type Plan } from '../plan/changes.js';
import { chooseDomain, currentTokenState, resolveSettings, type CurrentTokenState, type ResolvedSettings } from '../plan/resolve.js';
import type { TokenOptions } from '../settings/settings.js';
import type { OpenHost } from './hosts.js';
import { fail, type Member } from './results.js';
import { sharedCredentials, type HostCredentialState, type SharedCredentials } from './shared-credentials.js';

export interface Planned extends OpenHost {
  settings: ResolvedSettings;
  plan: Plan;
}

export interface Planning {
  members: Member<OpenHost>[];
  /** the hosts that could be planned */
  planned: Member<Planned>[];
  /** every host, planned: present only when the run can go on */
  ready?: Member<Planned>[];
  shared?: SharedCredentials;
  /** why the run cannot go on as a whole (the hosts cannot share one app_id and secret); nothing was changed */
  runError?: unknown;
}

export interface PlanRequest {
  /** a fresh secret for every host, changing nothing else */
  rotate: boolean;
  /** hosts disagree on app_secret: this host's wins */
  secretFrom?: string;
  /** rotate-key: the published keys change, nothing else */
  keysOnly?: boolean;
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function planOn(host: OpenHost, options: TokenOptions, generateSecret: () => string = newSecret): Planned {
  const { settings, domainFile } = resolveSettings(host.facts, options, generateSecret);
  return { ...host, settings, plan: planTokenAuth(host.facts, settings, domainFile, host.connector.label) };
}

/** Reads each open host's token state, decides the shared app_id and secret, and plans every host. */
export function planHosts(members: Member<OpenHost>[], options: TokenOptions, request: PlanRequest): Planning {
  const currents = new Map<Member<OpenHost>, CurrentTokenState>();
  const states: HostCredentialState[] = [];
  for (const m of members) {
    if (!m.host) continue;
    try {
      const chosen = chooseDomain(m.host.facts, m.entry.domain ?? options.domain);
      const current = currentTokenState(chosen, m.host.facts);
      m.result.domain = chosen.domain;
      if (request.rotate && current.keys.mode !== 'secret') {
        throw new HostStateError(`${chosen.domain} on ${m.host.connector.label} verifies RS256 tokens with public keys, not a shared app_secret`, 'rotate its keys instead: jitsi-jwt rotate-key --add-public-key FILE --kid ID, later --retire-kid OLD');
      }
      if (request.rotate && (!current.tokenAuth || !current.appSecret)) {
        throw new HostStateError(`${chosen.domain} on ${m.host.connector.label} does not use token authentication yet, so it has no secret to rotate`, 'run jitsi-jwt apply on it first');
      }
      currents.set(m, current);
      states.push({ name: m.entry.name, appId: current.appId, appSecret: current.appSecret });
    } catch (error) {
      fail(m, error);
    }
  }
  if (members.some((m) => m.result.error)) return { members, planned: [] };
  let shared: SharedCredentials;
  try {
    // A fresh secret where asked for (setup's "generate"), also on hosts that have one.
    shared = sharedCredentials(states, { appId: options.appId, appSecret: options.appSecret, secretFrom: request.secretFrom, rotate: request.rotate || options.newSecret === true }, newSecret);
  } catch (error) {
    return { members, planned: [], runError: error };
  }
  const planned: Member<Planned>[] = [];
  for (const m of members) {
    const current = currents.get(m)!;
    // A host on public keys once planned uses no secret: the fleet's is not written there.
    const onKeys = options.keySource ? options.keySource.kind !== 'secret' : current.keys.mode !== 'secret';
    if (onKeys && options.appSecret !== undefined) {
      fail(m, new SettingsError(
        `${m.result.domain} on ${m.host!.connector.label} verifies RS256 tokens with public keys, so an app secret has no place there`,
        'drop the secret (--app-secret-file, JITSI_JWT_APP_SECRET), or switch the host back to one shared secret with --shared-secret',
      ));
      continue;
    }
    const hostOptions: TokenOptions = {
      ...options,
      domain: m.entry.domain ?? options.domain,
      appId: shared.appId,
      appSecret: shared.source === 'generated' ? undefined : shared.appSecret,
      newSecret: shared.source === 'generated',
      // A secret the hosts already share was accepted when it was set.
      allowWeakSecret: options.allowWeakSecret || shared.source === 'kept',
      ...(onKeys ? { appSecret: undefined, newSecret: false } : {}),
      // Rotation changes the secret (or the keys) and nothing else.
      ...(request.rotate || request.keysOnly
        ? { allowEmptyToken: current.allowEmptyToken, roomCheck: current.roomCheck, moderatorFromToken: undefined, issuers: current.issuers, audiences: current.audiences, guests: undefined, allowWithoutToken: [], accessUnchanged: true }
        : {}),
    };
    try {
      const host = planOn(m.host!, hostOptions, () => shared.appSecret);
      if (shared.source === 'kept' && host.settings.secretSource === 'given') host.settings.secretSource = host.plan.secretSource = 'shared';
      m.result.plan = host.plan;
      m.result.status = isEmpty(host.plan) ? 'converged' : 'pending';
      planned.push({ ...m, host });
    } catch (error) {
      fail(m, error);
    }
  }
  return members.some((m) => m.result.error) ? { members, planned, shared } : { members, planned, ready: planned, shared };
}
