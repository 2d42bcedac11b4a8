// What plan and apply share: connect to the target, hold its lock, read it,
// resolve the settings against it and plan.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Connector, HeldScript } from '../connector/types.js';
import { connectSsh, parseTarget } from '../connector/ssh.js';
import { connectLocal } from '../connector/local.js';
import { LockError, LockHeldError, SettingsError } from '../errors.js';
import { parseFacts, probeScript, type HostFacts } from '../facts/probe.js';
import { planTokenAuth, type Plan } from '../plan/plan.js';
import { chooseDomain, currentTokenState, resolveSettings, type ResolvedSettings } from '../plan/resolve.js';
import { secretFromFileContent, type TokenOptions } from '../settings/settings.js';
import { lockScript, parseLockAnswer } from '../apply/scripts.js';
import { SudoError } from '../connector/errors.js';
import { askHidden, canAsk, confirm, oneQuestionAtATime } from './prompt.js';

/** Options as commander hands them over (flags, with JITSI_JWT_* environment fallbacks). */
export interface CommonFlags {
  local?: boolean;
  domain?: string;
  appId?: string;
  appSecretFile?: string;
  allowEmptyToken?: boolean;
  issuers?: string[];
  audiences?: string[];
  roomCheck?: boolean;
  moderatorFromToken?: boolean;
  allowWeakSecret?: boolean;
  identity?: string;
  knownHosts?: string;
  sshConfig?: string;
  acceptNewHostKey?: boolean;
  sudoPasswordStdin?: boolean;
  showSecret?: boolean;
  json?: boolean;
}

export async function tokenOptions(flags: CommonFlags): Promise<TokenOptions> {
  let appSecret: string | undefined;
  if (flags.appSecretFile) {
    try {
      appSecret = secretFromFileContent(await readFile(flags.appSecretFile, 'utf8'));
    } catch (error) {
      throw new SettingsError(`cannot read the secret file ${flags.appSecretFile}: ${(error as Error).message}`, 'give a readable file with --app-secret-file');
    }
  } else if (process.env.JITSI_JWT_APP_SECRET !== undefined) {
    // Unlike other variables, empty is not "unset": a secret store that filled in nothing must not lead to a new secret.
    if (process.env.JITSI_JWT_APP_SECRET === '') {
      throw new SettingsError('JITSI_JWT_APP_SECRET is set but empty', 'fill it with the secret, or unset it to keep the host\'s secret (or generate one where there is none)');
    }
    appSecret = process.env.JITSI_JWT_APP_SECRET;
  }
  return {
    domain: flags.domain,
    appId: flags.appId,
    appSecret,
    allowEmptyToken: Boolean(flags.allowEmptyToken),
    issuers: flags.issuers,
    audiences: flags.audiences,
    roomCheck: flags.roomCheck !== false,
    moderatorFromToken: flags.moderatorFromToken ? true : undefined,
    allowWeakSecret: Boolean(flags.allowWeakSecret),
  };
}

export async function readSudoPassword(flags: CommonFlags): Promise<string | undefined> {
  if (!flags.sudoPasswordStdin) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  if (!password) throw new SettingsError('--sudo-password-stdin was given but standard input is empty', 'pipe the password in, e.g. from your secret store');
  return password;
}

/** Connects to one host; `sudoPassword` defaults to the first line of stdin under --sudo-password-stdin. */
export async function connect(target: string | undefined, flags: CommonFlags, given?: { sudoPassword?: string }): Promise<Connector> {
  const sudoPassword = given ? given.sudoPassword : await readSudoPassword(flags);
  if (flags.local) {
    if (target) throw new SettingsError(`--local works on this machine; it takes no target (got "${target}")`, 'drop the target, or drop --local');
    return connectLocal({ sudoPassword });
  }
  if (!target) throw new SettingsError('no target given', 'name the server: jitsi-jwt apply [user@]host[:port] (or an alias from ~/.ssh/config), or --local on the server itself');
  const interactive = canAsk() && !flags.json;
  const open = (password: string | undefined) =>
    connectSsh(parseTarget(target), {
      identityFile: flags.identity,
      knownHostsFile: flags.knownHosts,
      sshConfigFile: flags.sshConfig,
      acceptNewHostKey: flags.acceptNewHostKey,
      confirmNewHostKey: interactive
        ? (fingerprint, host) => oneQuestionAtATime(() => confirm(`${host} is not in known_hosts. Its host key fingerprint is ${fingerprint}.\nTrust it and record it?`))
        : undefined,
      sudoPassword: password,
    });
  try {
    return await open(sudoPassword);
  } catch (error) {
    // A sudo that wants a password, at a terminal: ask for it (never echoed) once.
    if (interactive && sudoPassword === undefined && error instanceof SudoError && error.problem === 'password-required') {
      return open(await oneQuestionAtATime(() => askHidden(`sudo password for ${target}: `)));
    }
    throw error;
  }
}

export interface HostCredentials {
  domain: string;
  appId: string;
  appSecret: string;
  /** the host makes moderators from the token (token_affiliation) */
  moderatorFromToken: boolean;
  facts: HostFacts;
}

/** What a token-secured host signs with, read without changing anything (token and smoke). */
export async function readHostCredentials(connector: Connector, requestedDomain?: string): Promise<HostCredentials> {
  const facts = parseFacts((await connector.run(probeScript())).stdout);
  const chosen = chooseDomain(facts, requestedDomain);
  const current = currentTokenState(chosen);
  if (!current.tokenAuth || !current.appId || !current.appSecret) {
    throw new SettingsError(`${chosen.domain} on ${connector.label} does not use token authentication yet (no app_id/app_secret)`, 'run jitsi-jwt apply on it first');
  }
  return { domain: chosen.domain, appId: current.appId, appSecret: current.appSecret, moderatorFromToken: current.moderatorFromToken, facts };
}

export interface OpenHost {
  connector: Connector;
  facts: HostFacts;
  /** releases the host's lock and closes the connection */
  release(): Promise<void>;
}

/** Connects, takes the host's lock and reads the host. The caller must release(). */
export async function openHost(target: string | undefined, flags: CommonFlags): Promise<OpenHost> {
  return lockAndRead(await connect(target, flags));
}

/** Takes a connected host's lock and reads the host; closes the connection on failure. The caller must release(). */
export async function lockAndRead(connector: Connector): Promise<OpenHost> {
  let lock: HeldScript | undefined;
  try {
    const held = await connector.hold(lockScript());
    lock = held;
    const answer = parseLockAnswer(held.firstLine);
    if (answer.state === 'busy') throw new LockHeldError(connector.label, answer);
    if (answer.state === 'error') throw new LockError(connector.label, answer.reason);
    const facts = parseFacts((await connector.run(probeScript())).stdout);
    return {
      connector,
      facts,
      release: async () => {
        await held.release().catch(() => {});
        await connector.close().catch(() => {});
      },
    };
  } catch (error) {
    await lock?.release().catch(() => {});
    await connector.close().catch(() => {});
    throw error;
  }
}

export interface Planned extends OpenHost {
  settings: ResolvedSettings;
  plan: Plan;
}

export function planOn(host: OpenHost, options: TokenOptions, generateSecret: () => string = newSecret): Planned {
  const { settings, domainFile } = resolveSettings(host.facts, options, generateSecret);
  return { ...host, settings, plan: planTokenAuth(host.facts, settings, domainFile) };
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}
