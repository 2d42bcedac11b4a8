// From typed flags to what the engine takes: which hosts and how to reach
// them (with the questions a terminal may answer), and the token settings.
import { SettingsError } from '../errors.js';
import { hostEntries, sudoPasswords, type HostQuestions, type HostsRequest } from '../run/hosts.js';
import { DEFAULT_CONCURRENCY } from '../settings/defaults.js';
import type { TokenFlags } from '../settings/settings.js';
import { askHidden, canAsk, confirm, oneQuestionAtATime } from './prompt.js';

/** Where and how to connect, and how to print. */
export interface ConnectionFlags {
  local?: boolean;
  identity?: string;
  knownHosts?: string;
  sshConfig?: string;
  acceptNewHostKey?: boolean;
  sudoPasswordStdin?: boolean;
  json?: boolean;
}

/** Options of the commands that work on hosts and tokens. */
export interface CommonFlags extends ConnectionFlags, TokenFlags {
  showSecret?: boolean;
}

/** Options every command that works on several hosts takes. */
export interface FleetFlags extends CommonFlags {
  inventory?: string;
  concurrency?: number;
}

/** All of standard input, as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The first line of standard input, under --sudo-password-stdin. */
export async function readSudoPassword(flags: ConnectionFlags): Promise<string | undefined> {
  if (!flags.sudoPasswordStdin) return undefined;
  const password = (await readStdin()).split(/\r?\n/)[0];
  if (!password) throw new SettingsError('--sudo-password-stdin was given but standard input is empty', 'pipe the password in, e.g. from your secret store');
  return password;
}

/** Host keys and sudo passwords asked on the terminal, one question at a time. */
export const terminalQuestions: HostQuestions = {
  trustHostKey: (fingerprint, host) => oneQuestionAtATime(() => confirm(`${host} is not in known_hosts. Its host key fingerprint is ${fingerprint}.\nTrust it and record it?`)),
  sudoPassword: (target) => oneQuestionAtATime(() => askHidden(`sudo password for ${target}:`)),
};

/** The hosts of a run and how to reach them; questions only at a terminal and without --json. */
export async function hostsRequest(command: string, targets: string[], flags: FleetFlags, questions: HostQuestions | undefined = canAsk() && !flags.json ? terminalQuestions : undefined): Promise<HostsRequest> {
  const entries = await hostEntries(targets, flags, command);
  const shared = await readSudoPassword(flags);
  return {
    entries,
    connection: { local: flags.local, identity: flags.identity, knownHosts: flags.knownHosts, sshConfig: flags.sshConfig, acceptNewHostKey: flags.acceptNewHostKey },
    sudoPassword: sudoPasswords(entries, shared),
    concurrency: flags.concurrency ?? DEFAULT_CONCURRENCY,
    questions,
  };
}
