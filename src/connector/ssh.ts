// The SSH connector: one ssh2 connection per host for the whole run, every
// script on its own exec channel, host keys checked against known_hosts the
// way OpenSSH does, and root through sudo when the login user is not root.
import { constants as osConstants, homedir, userInfo } from 'node:os';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware, ClientChannel, ConnectConfig, ParsedKey } from 'ssh2';
import { SettingsError } from '../errors.js';
import { establishElevation, elevatedArgv, elevatedInput, type Elevation } from './elevation.js';
import {
  AuthenticationError,
  ConnectionLostError,
  HostKeyChangedError,
  HostKeyUnknownError,
  HostUnreachableError,
  ScriptExitedError,
  TunnelError,
} from './errors.js';
import { resolveHostConfig, type HostConfig } from './host-config.js';
import { checkHostKey, fingerprint, hostKeyAlgorithms, knownHostsLine, knownHostsName, knownKeyTypes, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';
import { formatHostPort, parseTarget, type SshTarget } from './target.js';
import type { Connector, ExecResult, HeldScript } from './types.js';

export { parseTarget, type SshTarget };

const { Client, utils } = ssh2;
type Client = InstanceType<typeof ssh2.Client>;

export interface SshOptions {
  /** --identity */
  identityFile?: string;
  /** --known-hosts (default ~/.ssh/known_hosts) */
  knownHostsFile?: string;
  /** unknown host: add to known_hosts and continue */
  acceptNewHostKey?: boolean;
  /** interactive yes/no for unknown keys (setup) */
  confirmNewHostKey?: (fingerprint: string, host: string) => Promise<boolean>;
  /** for users whose sudo needs a password */
  sudoPassword?: string;
  /** default ~/.ssh/config */
  sshConfigFile?: string;
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** A jump host may itself be reached through a jump host, up to this depth. */
const MAX_JUMPS = 4;
const RELEASE_GRACE_MS = 10_000;

export async function connectSsh(target: SshTarget, options: SshOptions): Promise<Connector> {
  const home = homedir();
  const configText = await readSshConfig(options.sshConfigFile, home);
  const env = { home, localUser: userInfo().username };
  const config = resolveHostConfig(target, configText, env);
  const opened = await openClient(config, options, { configText, env, depth: 0 });
  const connector = new SshConnector(opened.client, config, opened.jumps);
  try {
    await connector.elevate(options.sudoPassword);
  } catch (error) {
    await connector.close();
    throw error;
  }
  return connector;
}

async function readSshConfig(file: string | undefined, home: string): Promise<string> {
  try {
    return await readFile(file ?? path.join(home, '.ssh', 'config'), 'utf8');
  } catch (error) {
    if (file === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new SettingsError(`cannot read the ssh configuration ${file}: ${(error as Error).message}`, 'give a readable file with --ssh-config');
  }
}

interface Resolution {
  configText: string;
  env: { home: string; localUser: string };
  depth: number;
}

interface OpenedClient {
  client: Client;
  /** Jump host connections this one runs through, nearest last. */
  jumps: Client[];
}

async function openClient(config: HostConfig, options: SshOptions, resolution: Resolution): Promise<OpenedClient> {
  const where = `${config.user}@${formatHostPort(config.host, config.port)}`;
  let jumps: Client[] = [];
  let sock: Duplex | undefined;
  if (config.proxyJump) {
    if (resolution.depth >= MAX_JUMPS) throw new SettingsError(`ProxyJump for ${config.alias} goes through more than ${MAX_JUMPS} jump hosts`, 'check ~/.ssh/config for a ProxyJump loop');
    const jumpConfig = resolveHostConfig(config.proxyJump, resolution.configText, resolution.env);
    // The jump host gets its own config, keys and host key check; only the target's sudo matters.
    const jump = await openClient(jumpConfig, { ...options, sudoPassword: undefined }, { ...resolution, depth: resolution.depth + 1 });
    jumps = [...jump.jumps, jump.client];
    try {
      sock = await forwardOut(jump.client, config.host, config.port);
    } catch (error) {
      for (const j of jumps) j.end();
      const via = `${jumpConfig.user}@${formatHostPort(jumpConfig.host, jumpConfig.port)}`;
      throw new HostUnreachableError(formatHostPort(config.host, config.port), `the jump host ${via} could not connect to it (${(error as Error).message})`);
    }
  }
  try {
    return { client: await handshake(config, options, where, sock), jumps };
  } catch (error) {
    for (const j of jumps) j.end();
    throw error;
  }
}

function forwardOut(client: Client, host: string, port: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    try {
      client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => (error ? reject(error) : resolve(channel)));
    } catch (error) {
      reject(error as Error);
    }
  });
}

async function handshake(config: HostConfig, options: SshOptions, where: string, sock: Duplex | undefined): Promise<Client> {
  const knownHosts = await loadKnownHosts(config, options);
  const hostName = knownHostsName(config.hostKeyAlias ?? config.host, config.port);
  const knownTypes = knownKeyTypes(knownHosts.entries, hostName);
  const auth = await authMethods(config, options);
  const timeoutMs = options.connectTimeoutMs ?? config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const address = formatHostPort(config.host, config.port);

  const client = new Client();
  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    /** Set when we refuse the host key: it explains the handshake failure that follows. */
    let refusal: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    const startTimer = () => {
      timer = setTimeout(() => fail(new HostUnreachableError(address, `no SSH session within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.destroy();
      reject(refusal ?? error);
    };

    const verifyHostKey = async (key: Buffer): Promise<boolean> => {
      const check = checkHostKey(knownHosts.entries, hostName, key);
      switch (check.status) {
        case 'known':
          return true;
        case 'changed':
          throw new HostKeyChangedError(hostName, check.expected, key);
        case 'revoked':
          throw new HostKeyChangedError(hostName, [check.entry], key, true);
        case 'unknown': {
          let accept = Boolean(options.acceptNewHostKey || config.acceptNewHostKey);
          let declined = false;
          if (!accept && options.confirmNewHostKey) {
            // A person may take longer than the connect timeout to answer.
            clearTimeout(timer);
            accept = await options.confirmNewHostKey(fingerprint(key), hostName);
            declined = !accept;
            if (!settled) startTimer();
          }
          if (!accept) throw new HostKeyUnknownError(hostName, knownHosts.writeTo, key, declined);
          await addKnownHost(knownHosts.writeTo, knownHostsLine(hostName, key));
          return true;
        }
      }
    };

    client.on('ready', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      if (error.level === 'client-authentication') fail(new AuthenticationError(address, config.user, auth.tried, auth.notes));
      else fail(new HostUnreachableError(address, describeNetworkError(error)));
    });
    client.on('close', () => fail(new HostUnreachableError(address, 'the server closed the connection during the SSH handshake')));

    const connectConfig: ConnectConfig = {
      username: config.user,
      readyTimeout: 0, // our own timer, which pauses while a person confirms a host key
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      ...(sock ? { sock } : { host: config.host, port: config.port }),
      ...(knownTypes.length > 0 ? { algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        verifyHostKey(key).then(verify, (error: Error) => {
          refusal = error;
          verify(false);
        });
      },
      authHandler: auth.next,
    };
    startTimer();
    try {
      client.connect(connectConfig);
    } catch (error) {
      fail(new HostUnreachableError(address, (error as Error).message));
    }
  });
}

function describeNetworkError(error: Error & { level?: string; code?: string }): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on that port)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'ECONNRESET':
      return 'the server reset the connection';
    default:
      return error.level === 'client-socket' ? error.message : `the SSH handshake failed: ${error.message}`;
  }
}

interface KnownHosts {
  entries: KnownHostEntry[];
  /** Where a newly accepted key is written. */
  writeTo: string;
}

async function loadKnownHosts(config: HostConfig, options: SshOptions): Promise<KnownHosts> {
  const home = homedir();
  const userFiles = options.knownHostsFile
    ? [options.knownHostsFile]
    : (config.userKnownHostsFiles ?? [path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'known_hosts2')]);
  const globalFiles = config.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];
  const entries: KnownHostEntry[] = [];
  for (const file of [...userFiles, ...globalFiles]) {
    try {
      entries.push(...parseKnownHosts(await readFile(file, 'utf8'), file));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new SettingsError(`cannot read the known hosts file ${file}: ${(error as Error).message}`);
    }
  }
  return { entries, writeTo: userFiles[0] };
}

async function addKnownHost(file: string, line: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const existing = await readFile(file, 'utf8').catch(() => '');
    const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
    await appendFile(file, `${separator}${line}\n`, { mode: 0o600 });
  } catch (error) {
    throw new SettingsError(`cannot add the host key to ${file}: ${(error as Error).message}`, 'give a writable file with --known-hosts');
  }
}

interface AuthPlan {
  next: AuthHandlerMiddleware;
  /** What was offered so far, for the error message. */
  tried: string[];
  notes: string[];
}

/** Agent first (unless IdentitiesOnly), then each identity file, as OpenSSH orders them. */
async function authMethods(config: HostConfig, options: SshOptions): Promise<AuthPlan> {
  const username = config.user;
  const methods: { label: string; method: AnyAuthMethod }[] = [];
  const notes: string[] = [];
  const agent = process.env.SSH_AUTH_SOCK;

  const explicit = [...(options.identityFile ? [options.identityFile] : []), ...config.identityFiles];
  const candidates = explicit.length > 0 ? explicit : DEFAULT_IDENTITIES.map((name) => path.join(homedir(), '.ssh', name));
  const keys: { file: string; key: ParsedKey }[] = [];
  const encrypted: string[] = [];
  for (const file of [...new Set(candidates)]) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (error) {
      if (file === options.identityFile) throw new SettingsError(`cannot read the identity file ${file}: ${(error as Error).message}`, 'give the private key file with --identity');
      continue; // OpenSSH also skips configured or default identities that do not exist
    }
    const parsed = utils.parseKey(data);
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
    if (key instanceof Error) {
      if (/encrypted|passphrase/i.test(key.message)) encrypted.push(file);
      else notes.push(`${file} is not a private key ssh2 can read (${key.message}).`);
      continue;
    }
    if (!key.isPrivateKey()) {
      notes.push(`${file} holds no private key.`);
      continue;
    }
    keys.push({ file, key });
  }

  const useAgent = agent !== undefined && agent !== '' && !(config.identitiesOnly && keys.length > 0);
  if (useAgent) methods.push({ label: 'ssh-agent', method: { type: 'agent', username, agent } });
  for (const { file, key } of keys) methods.push({ label: `key ${file}`, method: { type: 'publickey', username, key } });
  if (encrypted.length > 0) {
    notes.push(
      useAgent
        ? `Passphrase-protected keys are used only through ssh-agent; skipped ${encrypted.join(', ')} (ssh-add them if the agent lacks them).`
        : `${encrypted.join(', ')} ${encrypted.length > 1 ? 'are' : 'is'} protected by a passphrase, which this tool does not ask for: start ssh-agent and ssh-add ${encrypted.length > 1 ? 'them' : 'it'}.`,
    );
  }
  if (!useAgent && keys.length === 0 && encrypted.length === 0) {
    notes.push(`No ssh-agent (SSH_AUTH_SOCK is not set) and none of ${candidates.join(', ')} exists.`);
  }

  const tried: string[] = [];
  let index = 0;
  return {
    tried,
    notes,
    next: (_methodsLeft, _partialSuccess, callback) => {
      const next = methods[index++];
      // ssh2 takes false for "nothing left to try"; its typings leave that out.
      if (!next) return (callback as unknown as (method: false) => void)(false);
      tried.push(next.label);
      callback(next.method);
    },
  };
}

class SshConnector implements Connector {
  readonly label: string;
  private elevation: Elevation = { kind: 'root' };
  private lost?: ConnectionLostError;
  private closing = false;
  /** Settles whatever is in flight when the connection goes. */
  private readonly onLost = new Set<(error: ConnectionLostError) => void>();
  private readonly closed: Promise<void>;

  constructor(
    private readonly client: Client,
    private readonly config: HostConfig,
    private readonly jumps: Client[],
  ) {
    this.label = `${config.user}@${formatHostPort(config.host, config.port)}`;
    let lastError = '';
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    client.on('error', (error: Error) => {
      lastError = error.message;
    });
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        this.markLost(lastError || 'the server closed the connection');
        resolve();
      });
    });
    client.on('end', () => this.markLost(lastError || 'the server closed the connection'));
  }

  private markLost(reason: string): void {
    if (this.lost) return;
    this.lost = new ConnectionLostError(this.label, this.closing ? 'it was closed' : reason);
    for (const settle of [...this.onLost]) settle(this.lost);
    this.onLost.clear();
  }

  async elevate(password: string | undefined): Promise<void> {
    this.elevation = await establishElevation(
      (argv, input) => this.collect(argv, input),
      { host: formatHostPort(this.config.host, this.config.port), user: this.config.user },
      password,
    );
  }

  run(script: string, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.collect(elevatedArgv(this.elevation), elevatedInput(this.elevation, script), options.timeoutMs);
  }

  private async openExec(argv: string[]): Promise<ClientChannel> {
    if (this.lost) throw this.lost;
    return new Promise((resolve, reject) => {
      const lost = (error: ConnectionLostError) => reject(error);
      this.onLost.add(lost);
      try {
        this.client.exec(argv.map(shellWord).join(' '), (error, channel) => {
          this.onLost.delete(lost);
          if (error) reject(this.lost ?? new ConnectionLostError(this.label, `the server would not open a session: ${error.message}`));
          else resolve(channel);
        });
      } catch (error) {
        this.onLost.delete(lost);
        reject(this.lost ?? new ConnectionLostError(this.label, (error as Error).message));
      }
    });
  }

  private async collect(argv: string[], input: string, timeoutMs?: number): Promise<ExecResult> {
    const channel = await this.openExec(argv);
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const result = (): ExecResult => ({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), code: code ?? 255 });
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onLost.delete(lost);
        settle();
      };
      const lost = (error: ConnectionLostError) => finish(() => (code === undefined ? reject(error) : resolve(result())));
      this.onLost.add(lost);

      channel.on('data', (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      channel.on('exit', (exitCode: number | null, signal?: string) => {
        code = exitCode ?? signalExitCode(signal);
      });
      channel.on('close', () => {
        // A channel torn down with the connection closes before we hear of the loss.
        setImmediate(() => {
          if (code === undefined && this.lost) return lost(this.lost);
          if (code === undefined) stderr.push(Buffer.from('\n[the channel closed without an exit status]\n'));
          finish(() => resolve(result()));
        });
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          stderr.push(Buffer.from(`\n[timed out after ${Math.round(timeoutMs / 1000)} s]\n`));
          code = 124;
          try {
            channel.signal('TERM');
            channel.close();
          } catch {
            /* already gone */
          }
          finish(() => resolve(result()));
        }, timeoutMs);
      }
      channel.end(input);
    });
  }

  async hold(script: string): Promise<HeldScript> {
    const channel = await this.openExec(elevatedArgv(this.elevation));
    const exited = new Promise<void>((resolve) => channel.once('close', () => resolve()));
    const release = async () => {
      if (this.lost) return;
      channel.end();
      const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), RELEASE_GRACE_MS).unref());
      if ((await Promise.race([exited, this.closed, grace])) === 'late') channel.close();
    };
    const firstLine = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      let code: number | undefined;
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        this.onLost.delete(lost);
        settle();
      };
      const lost = (error: ConnectionLostError) => finish(() => reject(error));
      this.onLost.add(lost);
      channel.on('data', (chunk: Buffer) => {
        if (settled) return; // keep draining so the script never blocks on a full pipe
        stdout += chunk.toString('utf8');
        const newline = stdout.indexOf('\n');
        if (newline >= 0) finish(() => resolve(stdout.slice(0, newline).replace(/\r$/, '')));
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        if (!settled) stderr += chunk.toString('utf8');
      });
      channel.on('exit', (exitCode: number | null, signal?: string) => {
        code = exitCode ?? signalExitCode(signal);
      });
      channel.on('close', () => {
        setImmediate(() => {
          if (code === undefined && this.lost) return lost(this.lost);
          if (stdout !== '') finish(() => resolve(stdout));
          else finish(() => reject(new ScriptExitedError(this.label, code ?? 255, stderr)));
        });
      });
      channel.write(elevatedInput(this.elevation, script));
    });
    return { firstLine, release };
  }

  async openTunnel(host: string, port: number): Promise<Duplex> {
    if (this.lost) throw this.lost;
    const destination = formatHostPort(host, port);
    return new Promise((resolve, reject) => {
      const lost = (error: ConnectionLostError) => reject(error);
      this.onLost.add(lost);
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
          this.onLost.delete(lost);
          if (error) reject(this.lost ?? new TunnelError(this.label, destination, error.message.replace(/^\(SSH\) /, '')));
          else resolve(channel);
        });
      } catch (error) {
        this.onLost.delete(lost);
        reject(this.lost ?? new TunnelError(this.label, destination, (error as Error).message));
      }
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (!this.lost) {
      this.client.end();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([this.closed, grace]);
      this.client.destroy();
    }
    for (const jump of [...this.jumps].reverse()) jump.end();
  }
}

function signalExitCode(signal: string | undefined): number {
  const number = signal ? (osConstants.signals as Record<string, number>)[`SIG${signal}`] : undefined;
  return number ? 128 + number : 255;
}

/** One argv word for the remote login shell. Only our own constant words go through here, never secrets. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
