// Opening the hosts of a run: which hosts (TARGETs, an inventory, --local),
// connect (SSH or local, asking a person only through the questions passed
// in), take each host's lock, read it with the probe. One connection per host
// for the whole run; its round trips are counted.
import { readFile } from 'node:fs/promises';
import { HELD_MARK, lockScript, parseLockAnswer } from '../apply/scripts.js';
import { SudoError } from '../connector/errors.js';
import { connectSsh, parseTarget } from '../connector/ssh.js';
import type { Connector, HeldScript } from '../connector/types.js';
import { LockError, LockHeldError, SettingsError } from '../errors.js';
import { parseFacts, probeScript, type HostFacts } from '../facts/probe.js';
import type { ShellScript } from '../shell/script.js';
import { fleetEntries, parseInventory, type HostEntry } from './inventory.js';
import { countRoundTrips, fail, mapLimit, newMember, seconds, type CountedConnector, type Member } from './results.js';

/** How to reach the hosts: the connection flags. */
export interface ConnectionSettings {
  /** this machine, no SSH */
  local?: boolean;
  identity?: string;
  knownHosts?: string;
  sshConfig?: string;
  acceptNewHostKey?: boolean;
}

/** What a run may ask a person while connecting; without them it never asks. */
export interface HostQuestions {
  /** an unknown host key: trust and record it? */
  trustHostKey(fingerprint: string, host: string): Promise<boolean>;
  /** sudo on this target wants a password (asked once, never echoed) */
  sudoPassword(target: string): Promise<string>;
}

/** The run's hosts, from TARGETs, an inventory file, or --local. */
export async function hostEntries(targets: string[], source: { inventory?: string; local?: boolean }, command: string): Promise<HostEntry[]> {
  if (source.local) {
    if (targets.length > 0 || source.inventory) {
      throw new SettingsError(`--local works on this machine; it takes no target or inventory (got "${[...targets, source.inventory].filter(Boolean).join(' ')}")`, 'drop the targets, or drop --local');
    }
    return [{ name: 'local', target: '' }];
  }
  let inventory: HostEntry[] = [];
  if (source.inventory) {
    let text: string;
    try {
      text = await readFile(source.inventory, 'utf8');
    } catch (error) {
      throw new SettingsError(`cannot read the inventory ${source.inventory}: ${(error as Error).message}`, 'give a readable YAML file with --inventory');
    }
    inventory = await parseInventory(text, source.inventory);
  }
  const entries = fleetEntries(targets, inventory);
  if (entries.length === 0) {
    throw new SettingsError('no target given', `name the server: jitsi-jwt ${command} [user@]host[:port] (or an alias from ~/.ssh/config), several of them, --inventory FILE, or --local on the server itself`);
  }
  return entries;
}

/**
 * Each host's sudo password: its inventory's sudo_password_env, or the one
 * given for the run (--sudo-password-stdin). Refuses, before connecting, hosts
 * that need one and have none.
 */
export function sudoPasswords(entries: HostEntry[], shared: string | undefined, env: NodeJS.ProcessEnv = process.env): (entry: HostEntry) => string | undefined {
  for (const entry of entries) {
    if (entry.sudoPasswordEnv && !env[entry.sudoPasswordEnv]) {
      throw new SettingsError(`${entry.name}: sudo_password_env names ${entry.sudoPasswordEnv}, which is not set or empty`, `export ${entry.sudoPasswordEnv} with that host's sudo password`);
    }
    if (entry.sudo === 'password' && !entry.sudoPasswordEnv && shared === undefined) {
      throw new SettingsError(`${entry.name} needs a sudo password (sudo: password in the inventory)`, 'pipe it in with --sudo-password-stdin, or name a variable with sudo_password_env');
    }
  }
  return (entry) => (entry.sudoPasswordEnv ? env[entry.sudoPasswordEnv] : shared);
}

/** Connects to one host of the run. */
export async function connectHost(entry: HostEntry, settings: ConnectionSettings, sudoPassword: string | undefined, questions?: HostQuestions): Promise<Connector> {
  // execa, which the local connector runs scripts with, is loaded only for --local.
  if (settings.local) return (await import('../connector/local.js')).connectLocal({ sudoPassword });
  const open = (password: string | undefined) =>
    connectSsh(parseTarget(entry.target), {
      identityFile: entry.identity ?? settings.identity,
      knownHostsFile: settings.knownHosts,
      sshConfigFile: settings.sshConfig,
      acceptNewHostKey: settings.acceptNewHostKey,
      confirmNewHostKey: questions && ((fingerprint, host) => questions.trustHostKey(fingerprint, host)),
      sudoPassword: password,
    });
  try {
    return await open(sudoPassword);
  } catch (error) {
    // A sudo that wants a password, with someone to ask: ask once.
    if (questions && sudoPassword === undefined && error instanceof SudoError && error.problem === 'password-required') {
      return open(await questions.sudoPassword(entry.target));
    }
    throw error;
  }
}

export interface OpenHost {
  connector: Connector;
  facts: HostFacts;
  /** releases the host's lock and closes the connection */
  release(): Promise<void>;
}

/**
 * Takes the host's lock and runs `whileHeld` under it, in one round trip;
 * resolves with what that printed, the lock still held until release().
 * Refuses a held lock (LockHeldError) or one that cannot be taken (LockError).
 */
export async function takeLock(connector: Connector, whileHeld: ShellScript): Promise<HeldScript> {
  const held = await connector.hold(lockScript(whileHeld), { until: HELD_MARK });
  const answer = parseLockAnswer(held.firstLine);
  if (answer.state === 'locked') return held;
  await held.release().catch(() => {});
  throw answer.state === 'busy' ? new LockHeldError(connector.label, answer) : new LockError(connector.label, answer.reason);
}

/** Takes a connected host's lock and reads the host under it; closes the connection on failure. The caller must release(). */
export async function lockAndRead(connector: Connector): Promise<OpenHost> {
  let held: HeldScript | undefined;
  try {
    held = await takeLock(connector, probeScript());
    const lock = held;
    return {
      connector,
      facts: parseFacts(lock.output),
      release: async () => {
        await lock.release().catch(() => {});
        await connector.close().catch(() => {});
      },
    };
  } catch (error) {
    await held?.release().catch(() => {});
    await connector.close().catch(() => {});
    throw error;
  }
}

/** Connects to every host (at most `concurrency` at once) and opens each with `open`; failures land in the host's result. */
export async function openMembers<Host>(
  entries: HostEntry[],
  concurrency: number,
  connect: (entry: HostEntry) => Promise<Connector>,
  open: (connector: CountedConnector, entry: HostEntry) => Promise<Host>,
): Promise<Member<Host>[]> {
  const members = entries.map((entry) => newMember<Host>(entry));
  await mapLimit(members, concurrency, async (member) => {
    try {
      const t0 = performance.now();
      member.connector = countRoundTrips(await connect(member.entry));
      const t1 = performance.now();
      member.result.timings.connectSeconds = seconds(t1 - t0);
      member.host = await open(member.connector, member.entry);
      member.result.timings.readSeconds = seconds(performance.now() - t1);
    } catch (error) {
      fail(member, error);
    }
  });
  return members;
}


export interface HostsRequest {
  entries: HostEntry[];
  connection: ConnectionSettings;
  /** the password for sudo on each host, where one is needed */
  sudoPassword: (entry: HostEntry) => string | undefined;
  concurrency: number;
  questions?: HostQuestions;
}

/** Opens every host of the run for a change: connect, lock, read. Each failure lands in its host's result. */
export function openHosts(request: HostsRequest): Promise<Member<OpenHost>[]> {
  return openMembers<OpenHost>(
    request.entries,
    request.concurrency,
    (entry) => connectHost(entry, request.connection, request.sudoPassword(entry), request.questions),
    (connector) => lockAndRead(connector),
  );
}

/** Closes every host of the run (releasing its lock first, where it holds one). */
export async function closeHosts(members: Member<{ release(): Promise<void> } | { connector: Connector }>[]): Promise<void> {
  await Promise.all(
    members.map(async (m) => {
      if (m.host && 'release' in m.host) await m.host.release();
      else await m.connector?.close().catch(() => {});
    }),
  );
}
